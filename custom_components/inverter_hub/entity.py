"""The base entity: one point of one device, named and typed from the point catalogue."""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.const import EntityCategory, Platform
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import InverterConfigEntry, InverterCoordinator
from .inverterlib.model import Category, Point, PointKind, Value, ValueType

_CATEGORIES = {
    Category.PRIMARY: None,
    Category.CONFIG: EntityCategory.CONFIG,
    Category.DIAGNOSTIC: EntityCategory.DIAGNOSTIC,
}


def platform_of(point: Point) -> Platform:
    """Return the platform that shows a point."""
    if point.kind is PointKind.ACTION:
        return Platform.BUTTON
    if point.kind is PointKind.READING:
        return Platform.BINARY_SENSOR if point.value_type is ValueType.BOOL else Platform.SENSOR
    return {
        ValueType.ENUM: Platform.SELECT,
        ValueType.BOOL: Platform.SWITCH,
        ValueType.TIME: Platform.TIME,
        ValueType.TEXT: Platform.TEXT,
    }.get(point.value_type, Platform.NUMBER)


class InverterEntity(CoordinatorEntity[InverterCoordinator]):
    """An entity showing one point of one device."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: InverterCoordinator, serial_number: str, point: Point) -> None:
        """Bind the entity to its device and point."""
        super().__init__(coordinator, context=(serial_number, point.key))
        self.serial_number = serial_number
        self.point = point
        self._attr_unique_id = f"{serial_number}_{point.key}"
        self._attr_device_info = coordinator.device_info(
            coordinator.devices[serial_number].identity
        )
        self._attr_translation_key = point.key
        if f"{platform_of(point)}.{point.key}" not in coordinator.translated_keys:
            # Points of a user's own Modbus profile have no shipped translation or icon.
            self._attr_name = point.name
            self._attr_icon = point.icon
        self._attr_entity_category = _CATEGORIES[point.category]
        self._attr_entity_registry_enabled_default = point.enabled_by_default

    @property
    def point_value(self) -> Value | None:
        """Return the point's last good value."""
        return self.coordinator.devices[self.serial_number].values.get(self.point.key)

    @property
    def available(self) -> bool:
        """Return whether the device answers; energy totals keep their last value meanwhile."""
        if not super().available:
            return False
        state = self.coordinator.devices[self.serial_number]
        if state.available:
            return True
        return self.point.total_increasing and self.point_value is not None

    async def write(self, value: object) -> None:
        """Send a new value through the write pipeline."""
        await self.coordinator.async_write(
            self.serial_number, self.point.key, value, source="entity"
        )


def add_entities_for(
    entry: InverterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    platform: Platform,
    factory: Callable[[InverterCoordinator, str, Point], Entity],
) -> None:
    """Add an entity of this platform for every visible point of every device, now and later."""
    coordinator = entry.runtime_data

    def entities_of(serial: str) -> list[Entity]:
        return [
            factory(coordinator, serial, point)
            for point in coordinator.session.visible_points(serial)
            if platform_of(point) is platform
        ]

    async_add_entities([entity for serial in coordinator.devices for entity in entities_of(serial)])
    coordinator.on_device_added(
        lambda identity: async_add_entities(entities_of(identity.serial_number))
    )


def primary_serial(entry: InverterConfigEntry) -> str | None:
    """Return the device that carries the entry's own entities: the entry's, else the first."""
    devices = entry.runtime_data.devices
    if entry.unique_id in devices:
        return entry.unique_id
    return next(iter(devices), None)
