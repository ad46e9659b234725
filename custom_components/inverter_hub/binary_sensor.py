"""Binary sensors: status bits, warnings and faults."""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import InverterConfigEntry, InverterCoordinator
from .entity import InverterEntity, add_entities_for
from .inverterlib.model import Point

PARALLEL_UPDATES = 0


class InverterBinarySensor(InverterEntity, BinarySensorEntity):
    """A yes/no reading of a device."""

    def __init__(self, coordinator: InverterCoordinator, serial_number: str, point: Point) -> None:
        """Describe the binary sensor from its point."""
        super().__init__(coordinator, serial_number, point)
        if point.device_class in set(BinarySensorDeviceClass):
            self._attr_device_class = BinarySensorDeviceClass(point.device_class)

    @property
    def is_on(self) -> bool | None:
        """Return the reading."""
        value = self.point_value
        return value if isinstance(value, bool) else None


async def async_setup_entry(
    hass: HomeAssistant,
    entry: InverterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a binary sensor for every boolean reading."""
    add_entities_for(entry, async_add_entities, Platform.BINARY_SENSOR, InverterBinarySensor)
