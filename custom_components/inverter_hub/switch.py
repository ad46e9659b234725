"""Switches: on/off settings."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import InverterConfigEntry
from .entity import InverterEntity, add_entities_for

PARALLEL_UPDATES = 1


class InverterSwitch(InverterEntity, SwitchEntity):
    """An on/off setting."""

    @property
    def is_on(self) -> bool | None:
        """Return whether the setting is on."""
        value = self.point_value
        return value if isinstance(value, bool) else None

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Turn the setting on."""
        await self.write(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Turn the setting off."""
        await self.write(False)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: InverterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch for every boolean setting."""
    add_entities_for(entry, async_add_entities, Platform.SWITCH, InverterSwitch)
