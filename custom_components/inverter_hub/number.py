"""Numbers: settings that are voltages, currents, percentages and times."""

from __future__ import annotations

from itertools import pairwise

from homeassistant.components.number import NumberDeviceClass, NumberEntity, NumberMode
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import InverterConfigEntry, InverterCoordinator
from .entity import InverterEntity, add_entities_for
from .inverterlib.model import Point

PARALLEL_UPDATES = 1


class InverterNumber(InverterEntity, NumberEntity):
    """A numeric setting."""

    _attr_mode = NumberMode.BOX

    def __init__(self, coordinator: InverterCoordinator, serial_number: str, point: Point) -> None:
        """Describe the number from its point."""
        super().__init__(coordinator, serial_number, point)
        choices = sorted(point.choices)
        minimum = choices[0] if choices else point.minimum
        maximum = choices[-1] if choices else point.maximum
        if minimum is not None:
            self._attr_native_min_value = minimum
        if maximum is not None:
            self._attr_native_max_value = maximum
        steps = [b - a for a, b in pairwise(choices)]
        step = min(steps) if steps else point.step
        if step:
            self._attr_native_step = step
        self._attr_native_unit_of_measurement = point.unit
        if point.device_class in set(NumberDeviceClass):
            self._attr_device_class = NumberDeviceClass(point.device_class)

    @property
    def native_value(self) -> float | None:
        """Return the value the device holds."""
        value = self.point_value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return value

    async def async_set_native_value(self, value: float) -> None:
        """Write a new value."""
        await self.write(value)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: InverterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a number for every numeric setting."""
    add_entities_for(entry, async_add_entities, Platform.NUMBER, InverterNumber)
