"""Selects: settings with a fixed list of choices."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import InverterConfigEntry, InverterCoordinator
from .entity import InverterEntity, add_entities_for
from .inverterlib.model import Point

PARALLEL_UPDATES = 1


class InverterSelect(InverterEntity, SelectEntity):
    """A setting chosen from options."""

    def __init__(self, coordinator: InverterCoordinator, serial_number: str, point: Point) -> None:
        """Describe the select from its point."""
        super().__init__(coordinator, serial_number, point)
        self._attr_options = list(point.options)

    @property
    def current_option(self) -> str | None:
        """Return the option the device holds."""
        value = self.point_value
        return value if isinstance(value, str) else None

    async def async_select_option(self, option: str) -> None:
        """Write the chosen option."""
        await self.write(option)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: InverterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a select for every enum setting."""
    add_entities_for(entry, async_add_entities, Platform.SELECT, InverterSelect)
