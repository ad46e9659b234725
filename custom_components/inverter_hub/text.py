"""Texts: settings written as one piece of text (a slot's start and end together)."""

from __future__ import annotations

from homeassistant.components.text import TextEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import InverterConfigEntry
from .entity import InverterEntity, add_entities_for

PARALLEL_UPDATES = 1


class InverterText(InverterEntity, TextEntity):
    """A setting whose value is text, validated whole by the device's description."""

    @property
    def native_value(self) -> str | None:
        """Return the text the device holds."""
        value = self.point_value
        return value if isinstance(value, str) else None

    async def async_set_value(self, value: str) -> None:
        """Write new text."""
        await self.write(value)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: InverterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a text entity for every text setting."""
    add_entities_for(entry, async_add_entities, Platform.TEXT, InverterText)
