"""Sensors: every reading that is a number, an enum or text."""

from __future__ import annotations

from datetime import time

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import InverterConfigEntry, InverterCoordinator
from .entity import InverterEntity, add_entities_for
from .inverterlib.model import Point, ValueType

PARALLEL_UPDATES = 0


def _enum_or_none[E: (SensorDeviceClass, SensorStateClass)](
    kind: type[E], text: str | None
) -> E | None:
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        return None


class InverterSensor(InverterEntity, SensorEntity):
    """A reading of a device."""

    def __init__(self, coordinator: InverterCoordinator, serial_number: str, point: Point) -> None:
        """Describe the sensor from its point."""
        super().__init__(coordinator, serial_number, point)
        if point.value_type is ValueType.ENUM:
            self._attr_device_class = SensorDeviceClass.ENUM
            self._attr_options = list(point.options)
            return
        self._attr_device_class = _enum_or_none(SensorDeviceClass, point.device_class)
        self._attr_state_class = _enum_or_none(SensorStateClass, point.state_class)
        self._attr_native_unit_of_measurement = point.unit
        self._attr_suggested_display_precision = point.precision

    @property
    def native_value(self) -> str | int | float | None:
        """Return the reading."""
        value = self.point_value
        if isinstance(value, time):
            return value.strftime("%H:%M")
        return value


async def async_setup_entry(
    hass: HomeAssistant,
    entry: InverterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every numeric, enum or text reading."""
    add_entities_for(entry, async_add_entities, Platform.SENSOR, InverterSensor)
