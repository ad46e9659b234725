"""Service actions: settings by entity or device, forced modes for a while, raw access (expert)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_ID, ATTR_ENTITY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.util.json import JsonValueType
import voluptuous as vol

from .const import DOMAIN
from .coordinator import InverterConfigEntry, InverterCoordinator, translate_error
from .inverterlib.capabilities import RawCommands, RawRegisters
from .inverterlib.errors import InverterError, UnsupportedError
from .inverterlib.families import family
from .overrides import changes

ATTR_CONFIG_ENTRY = "config_entry_id"
ATTR_COMMAND = "command"
ATTR_UNIT = "unit"
ATTR_ACCESS = "access"
ATTR_ADDRESS = "address"
ATTR_COUNT = "count"
ATTR_VALUES = "values"
ATTR_KEY = "key"
ATTR_VALUE = "value"
ATTR_SETTINGS = "settings"
ATTR_MODE = "mode"
ATTR_MINUTES = "minutes"

_ENTRY: dict[vol.Marker, Any] = {vol.Required(ATTR_CONFIG_ENTRY): cv.string}

RAW_COMMAND_SCHEMA = vol.Schema(
    {**_ENTRY, vol.Required(ATTR_COMMAND): vol.All(cv.string, vol.Length(min=1, max=64))}
)
READ_REGISTERS_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_UNIT): vol.All(vol.Coerce(int), vol.Range(min=0, max=247)),
        vol.Required(ATTR_ACCESS): vol.In(["holding", "input"]),
        vol.Required(ATTR_ADDRESS): vol.All(vol.Coerce(int), vol.Range(min=0, max=65535)),
        vol.Optional(ATTR_COUNT, default=1): vol.All(vol.Coerce(int), vol.Range(min=1, max=125)),
    }
)
WRITE_REGISTERS_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_UNIT): vol.All(vol.Coerce(int), vol.Range(min=0, max=247)),
        vol.Required(ATTR_ADDRESS): vol.All(vol.Coerce(int), vol.Range(min=0, max=65535)),
        vol.Required(ATTR_VALUES): vol.All(
            cv.ensure_list,
            vol.Length(min=1, max=123),
            [vol.All(vol.Coerce(int), vol.Range(min=0, max=65535))],
        ),
    }
)
WRITE_SETTING_SCHEMA = vol.Schema(
    {
        vol.Exclusive(ATTR_ENTITY_ID, "target"): cv.entity_id,
        vol.Exclusive(ATTR_DEVICE_ID, "target"): cv.string,
        vol.Optional(ATTR_KEY): cv.string,
        vol.Required(ATTR_VALUE): vol.Any(str, int, float, bool),
    }
)


def _coordinator(hass: HomeAssistant, call: ServiceCall) -> InverterCoordinator:
    """Return the coordinator of the entry a call names, loaded."""
    entry_id: str = call.data[ATTR_CONFIG_ENTRY]
    entry: InverterConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_entry",
            translation_placeholders={"entry": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"entry": entry.title},
        )
    return entry.runtime_data


def _unsupported(coordinator: InverterCoordinator, what: str) -> HomeAssistantError:
    family = coordinator.session.client.family
    return translate_error(UnsupportedError(f"{family} links do not support {what}"))


def _raw_commands(coordinator: InverterCoordinator) -> RawCommands:
    """Return the client if it takes raw commands, or explain that it does not."""
    if isinstance(client := coordinator.session.client, RawCommands):
        return client
    raise _unsupported(coordinator, "raw commands")


def _raw_registers(coordinator: InverterCoordinator) -> RawRegisters:
    """Return the client if it has raw registers, or explain that it has none."""
    if isinstance(client := coordinator.session.client, RawRegisters):
        return client
    raise _unsupported(coordinator, "register access")


async def _raw_command(call: ServiceCall) -> ServiceResponse:
    coordinator = _coordinator(call.hass, call)
    coordinator.require_expert()
    client = _raw_commands(coordinator)
    try:
        reply = await client.raw_command(call.data[ATTR_COMMAND])
    except InverterError as err:
        raise translate_error(err) from err
    return {"reply": reply}


async def _read_registers(call: ServiceCall) -> ServiceResponse:
    coordinator = _coordinator(call.hass, call)
    coordinator.require_expert()
    client = _raw_registers(coordinator)
    try:
        registers: list[JsonValueType] = [
            *await client.read_registers(
                call.data[ATTR_UNIT],
                call.data[ATTR_ACCESS],
                call.data[ATTR_ADDRESS],
                call.data[ATTR_COUNT],
            )
        ]
    except InverterError as err:
        raise translate_error(err) from err
    return {"registers": registers}


async def _write_registers(call: ServiceCall) -> None:
    coordinator = _coordinator(call.hass, call)
    coordinator.require_expert()
    client = _raw_registers(coordinator)
    try:
        await client.write_registers(
            call.data[ATTR_UNIT], call.data[ATTR_ADDRESS], call.data[ATTR_VALUES]
        )
    except InverterError as err:
        raise translate_error(err) from err


def _loaded(hass: HomeAssistant, entry_id: str | None) -> InverterCoordinator | None:
    entry: InverterConfigEntry | None = (
        hass.config_entries.async_get_entry(entry_id) if entry_id else None
    )
    if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
        return None
    return entry.runtime_data


def _setting_target(call: ServiceCall) -> tuple[InverterCoordinator, str, str, str]:
    """Return the coordinator, serial number, key and a name for the setting a call targets."""
    hass = call.hass
    entity_id: str | None = call.data.get(ATTR_ENTITY_ID)
    if entity_id:
        registered = er.async_get(hass).async_get(entity_id)
        coordinator = _loaded(hass, registered.config_entry_id if registered else None)
        if registered is not None and coordinator is not None:
            for serial, state in coordinator.devices.items():
                for point_key in state.points:
                    if registered.unique_id == f"{serial}_{point_key}":
                        return coordinator, serial, point_key, entity_id
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_entity",
            translation_placeholders={"entity": entity_id},
        )
    key = call.data.get(ATTR_KEY)
    if call.data.get(ATTR_DEVICE_ID) is None or key is None:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_setting_target")
    coordinator, serial, device_name = _device_target(call)
    return coordinator, serial, key, f"{device_name} {key}"


def _device_target(call: ServiceCall) -> tuple[InverterCoordinator, str, str]:
    """Return the coordinator, serial number and name of the device a call names."""
    hass = call.hass
    device_id = call.data.get(ATTR_DEVICE_ID)
    device = dr.async_get(hass).async_get(device_id) if device_id else None
    if device is None:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_setting_target")
    for entry_id in device.config_entries:
        if (coordinator := _loaded(hass, entry_id)) is None:
            continue
        for domain, serial in device.identifiers:
            if domain == DOMAIN and serial in coordinator.devices:
                return coordinator, serial, device.name_by_user or device.name or serial
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_device",
        translation_placeholders={"device": device.name or device_id or ""},
    )


async def _write_settings(call: ServiceCall) -> ServiceResponse:
    coordinator, serial, _name = _device_target(call)
    try:
        records = await coordinator.session.write_many(
            serial, call.data[ATTR_SETTINGS], source="service"
        )
    except InverterError as err:
        raise translate_error(err) from err
    coordinator.async_update_listeners()
    return {"changed": changes(records)}


def _recipe(
    coordinator: InverterCoordinator, serial: str, name: str, mode: str
) -> Mapping[str, object]:
    """Return the settings a family writes for a forced mode, if this device has them all."""
    recipes = family(coordinator.session.client.family).recipes
    if mode not in recipes:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_mode",
            translation_placeholders={"mode": mode, "modes": ", ".join(recipes) or "none"},
        )
    # A read-only model of the family (a three-phase unit, a plant controller) has none.
    if missing := [key for key in recipes[mode] if key not in coordinator.devices[serial].points]:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="mode_unsupported",
            translation_placeholders={"device": name, "mode": mode, "settings": ", ".join(missing)},
        )
    return recipes[mode]


async def _force(call: ServiceCall) -> ServiceResponse:
    coordinator, serial, name = _device_target(call)
    settings = call.data.get(ATTR_SETTINGS) or _recipe(
        coordinator, serial, name, call.data.get(ATTR_MODE, "")
    )
    try:
        result = await coordinator.overrides.async_apply(serial, settings, call.data[ATTR_MINUTES])
    except InverterError as err:
        raise translate_error(err) from err
    coordinator.async_update_listeners()
    return result


async def _cancel_force(call: ServiceCall) -> ServiceResponse:
    coordinator, serial, _name = _device_target(call)
    try:
        result = await coordinator.overrides.async_restore(serial)
    except InverterError as err:
        raise translate_error(err) from err
    coordinator.async_update_listeners()
    return result


async def _write_setting(call: ServiceCall) -> ServiceResponse:
    coordinator, serial, key, name = _setting_target(call)
    try:
        record = await coordinator.session.write(
            serial, key, call.data[ATTR_VALUE], source="service"
        )
    except InverterError as err:
        # The user named an entity, not a key: say which entity the message is about.
        err.placeholders["detail"] = f"{name}: {err}"
        raise translate_error(err) from err
    coordinator.async_update_listeners()
    written = record.as_json()
    return {key: written[key] for key in ("outcome", "old", "new")}


_SETTINGS = vol.All(dict, vol.Length(min=1, max=32))
WRITE_SETTINGS_SCHEMA = vol.Schema(
    {vol.Required(ATTR_DEVICE_ID): cv.string, vol.Required(ATTR_SETTINGS): _SETTINGS}
)
FORCE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Exclusive(ATTR_MODE, "what"): cv.string,
        vol.Exclusive(ATTR_SETTINGS, "what"): _SETTINGS,
        vol.Required(ATTR_MINUTES): vol.All(vol.Coerce(int), vol.Range(min=1, max=1440)),
    }
)
CANCEL_FORCE_SCHEMA = vol.Schema({vol.Required(ATTR_DEVICE_ID): cv.string})


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the service actions once for the integration."""
    hass.services.async_register(
        DOMAIN, "raw_command", _raw_command, RAW_COMMAND_SCHEMA, SupportsResponse.ONLY
    )
    hass.services.async_register(
        DOMAIN, "read_registers", _read_registers, READ_REGISTERS_SCHEMA, SupportsResponse.ONLY
    )
    hass.services.async_register(
        DOMAIN, "write_registers", _write_registers, WRITE_REGISTERS_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, "write_setting", _write_setting, WRITE_SETTING_SCHEMA, SupportsResponse.OPTIONAL
    )
    hass.services.async_register(
        DOMAIN, "write_settings", _write_settings, WRITE_SETTINGS_SCHEMA, SupportsResponse.OPTIONAL
    )
    hass.services.async_register(DOMAIN, "force", _force, FORCE_SCHEMA, SupportsResponse.OPTIONAL)
    hass.services.async_register(
        DOMAIN, "cancel_force", _cancel_force, CANCEL_FORCE_SCHEMA, SupportsResponse.OPTIONAL
    )
