"""What differs between the Home Assistant versions the tests run on (2025.4 and the newest)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any
from unittest.mock import patch

from homeassistant.components import sensor
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.syrupy import (
    HomeAssistantSnapshotExtension,
    HomeAssistantSnapshotSerializer,
)
from syrupy.types import SerializableData

# Entity registry fields only newer Home Assistant has: the snapshots hold what every version has.
NEWER_ENTRY_FIELDS = ("object_id_base", "suggested_object_id")


def _shared_aliases(aliases: Any) -> Any:
    """Return the aliases as the set older Home Assistant keeps."""
    # Newer Home Assistant keeps them ordered, led by None for the entity's own name.
    if isinstance(aliases, list) and aliases[:1] == [None]:
        return set(aliases[1:])
    return aliases


def _is_str_enum(key: object) -> bool:
    """Return whether the key is a string enum member."""
    return isinstance(key, str) and isinstance(key, Enum)


class SharedSnapshotSerializer(HomeAssistantSnapshotSerializer):
    """Serialise states and registry entries the same way on every Home Assistant version."""

    @classmethod
    def _serialize(cls, data: SerializableData, **kwargs: Any) -> str:
        """Key attributes and capabilities by plain strings, as older Home Assistant does."""
        # Newer Home Assistant keys them by StrEnum members, which serialise as their repr.
        if isinstance(data, dict) and any(_is_str_enum(key) for key in data):
            data = type(data)(
                (key.value if _is_str_enum(key) else key, value) for key, value in data.items()
            )
        return super()._serialize(data, **kwargs)

    @classmethod
    def _serializable_entity_registry_entry(cls, data: er.RegistryEntry) -> SerializableData:
        """Return the entry in the form every Home Assistant version shares."""
        serialized = super()._serializable_entity_registry_entry(data)
        for field in NEWER_ENTRY_FIELDS:
            serialized.pop(field, None)
        serialized["aliases"] = _shared_aliases(serialized["aliases"])
        return serialized


class SharedSnapshotExtension(HomeAssistantSnapshotExtension):
    """Home Assistant's snapshot format, one file for every version the tests run on."""

    serializer_class = SharedSnapshotSerializer


@contextmanager
def only_suggested_display_precision() -> Iterator[None]:
    """Keep the registry to the display precisions the entities suggest, as older versions do."""
    # Newer Home Assistant also stores one inferred from the device class (UNITS_PRECISION).
    if hasattr(sensor, "UNITS_PRECISION"):
        with patch.object(sensor, "UNITS_PRECISION", {}):
            yield
    else:
        yield


def device_by_identifier(
    registry: dr.DeviceRegistry, entry_id: str, identifier: tuple[str, str]
) -> dr.DeviceEntry | None:
    """Return the entry's device with this identifier."""
    # Newer Home Assistant refuses async_get_device: identifiers are unique per entry only.
    lookup = getattr(registry, "async_get_device_by_identifier", None)
    if lookup is not None:
        device: dr.DeviceEntry | None = lookup(identifier, entry_id)
        return device
    return registry.async_get_device(identifiers={identifier})
