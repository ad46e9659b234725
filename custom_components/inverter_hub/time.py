"""Times: settings that are a time of day (charge and discharge slots)."""

from __future__ import annotations

from datetime import time

from homeassistant.components.time import TimeEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import InverterConfigEntry
from .entity import InverterEntity, add_entities_for

PARALLEL_UPDATES = 1


class InverterTime(InverterEntity, TimeEntity):
    """A time-of-day setting."""

    @property
    def native_value(self) -> time | None:
        """Return the time the device holds."""
        value = self.point_value
        return value if isinstance(value, time) else None

    async def async_set_value(self, value: time) -> None:
        """Write a new time."""
        await self.write(value)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: InverterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a time entity for every time-of-day setting."""
    add_entities_for(entry, async_add_entities, Platform.TIME, InverterTime)
