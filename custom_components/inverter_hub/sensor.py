"""Sensors: every reading that is a number, an enum or text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, Platform, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import InverterConfigEntry, InverterCoordinator
from .entity import InverterEntity, add_entities_for, primary_serial
from .inverterlib.model import Point, ValueType
from .inverterlib.session import LinkHealth

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


@dataclass(frozen=True, kw_only=True)
class HealthDescription(SensorEntityDescription):
    """A figure of the link's health."""

    value: Callable[[LinkHealth], datetime | float | int | None]


HEALTH = (
    HealthDescription(
        key="last_success",
        translation_key="last_success",
        device_class=SensorDeviceClass.TIMESTAMP,
        value=lambda health: health.last_success,
    ),
    HealthDescription(
        key="poll_duration",
        translation_key="poll_duration",
        device_class=SensorDeviceClass.DURATION,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_display_precision=2,
        entity_registry_enabled_default=False,
        value=lambda health: health.poll_duration,
    ),
    HealthDescription(
        key="round_trip",
        translation_key="round_trip",
        device_class=SensorDeviceClass.DURATION,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        value=lambda health: None if health.round_trip is None else health.round_trip * 1000,
    ),
    HealthDescription(
        key="link_errors",
        translation_key="link_errors",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_registry_enabled_default=False,
        value=lambda health: health.errors,
    ),
)


class LinkHealthSensor(CoordinatorEntity[InverterCoordinator], SensorEntity):
    """How the entry's link is doing: polls, their duration, round trips and errors."""

    _attr_has_entity_name = True
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    entity_description: HealthDescription

    def __init__(
        self, coordinator: InverterCoordinator, serial_number: str, description: HealthDescription
    ) -> None:
        """Put the sensor on the entry's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{serial_number}_{description.key}"
        self._attr_device_info = coordinator.device_info(
            coordinator.devices[serial_number].identity
        )

    @property
    def available(self) -> bool:
        """Return True: these figures matter most while the link fails."""
        return True

    @property
    def native_value(self) -> datetime | float | int | None:
        """Return the figure."""
        return self.entity_description.value(self.coordinator.session.health)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: InverterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every numeric, enum or text reading, and the link's health."""
    add_entities_for(entry, async_add_entities, Platform.SENSOR, InverterSensor)
    if (serial := primary_serial(entry)) is not None:
        async_add_entities(
            LinkHealthSensor(entry.runtime_data, serial, description) for description in HEALTH
        )
