"""Buttons: one-shot actions such as syncing the clock."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .coordinator import InverterConfigEntry
from .entity import InverterEntity, add_entities_for

PARALLEL_UPDATES = 1


class InverterButton(InverterEntity, ButtonEntity):
    """An action of a device."""

    async def async_press(self) -> None:
        """Run the action."""
        await self.write(True)


async def async_setup_entry(
    hass: HomeAssistant, entry: InverterConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add a button for every action."""
    add_entities_for(entry, async_add_entities, Platform.BUTTON, InverterButton)
