"""Service actions for what does not fit an entity: raw commands and raw registers (expert)."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util.json import JsonValueType
import voluptuous as vol

from .const import DOMAIN
from .coordinator import InverterConfigEntry, InverterCoordinator, translate_error
from .inverterlib.errors import InverterError, UnsupportedError
from .inverterlib.model import json_value

ATTR_CONFIG_ENTRY = "config_entry_id"
ATTR_COMMAND = "command"
ATTR_UNIT = "unit"
ATTR_ACCESS = "access"
ATTR_ADDRESS = "address"
ATTR_COUNT = "count"
ATTR_VALUES = "values"
ATTR_DEVICE = "serial_number"
ATTR_KEY = "key"
ATTR_VALUE = "value"

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
        **_ENTRY,
        vol.Required(ATTR_DEVICE): cv.string,
        vol.Required(ATTR_KEY): cv.string,
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


def _method(coordinator: InverterCoordinator, name: str) -> Any:
    """Return a family-specific client method, or explain that this link has none."""
    method = getattr(coordinator.client, name, None)
    if method is None:
        raise translate_error(
            UnsupportedError(f"{coordinator.client.family} links do not support {name}")
        )
    return method


async def _raw_command(call: ServiceCall) -> ServiceResponse:
    coordinator = _coordinator(call.hass, call)
    coordinator.require_expert()
    command = _method(coordinator, "raw_command")
    try:
        reply: str = await command(call.data[ATTR_COMMAND])
    except InverterError as err:
        raise translate_error(err) from err
    return {"reply": reply}


async def _read_registers(call: ServiceCall) -> ServiceResponse:
    coordinator = _coordinator(call.hass, call)
    coordinator.require_expert()
    read = _method(coordinator, "read_registers")
    try:
        registers: list[JsonValueType] = await read(
            call.data[ATTR_UNIT],
            call.data[ATTR_ACCESS],
            call.data[ATTR_ADDRESS],
            call.data[ATTR_COUNT],
        )
    except InverterError as err:
        raise translate_error(err) from err
    return {"registers": [*registers]}


async def _write_registers(call: ServiceCall) -> None:
    coordinator = _coordinator(call.hass, call)
    coordinator.require_expert()
    write = _method(coordinator, "write_registers")
    try:
        await write(call.data[ATTR_UNIT], call.data[ATTR_ADDRESS], call.data[ATTR_VALUES])
    except InverterError as err:
        raise translate_error(err) from err


async def _write_setting(call: ServiceCall) -> ServiceResponse:
    coordinator = _coordinator(call.hass, call)
    record = await coordinator.async_write(
        call.data[ATTR_DEVICE], call.data[ATTR_KEY], call.data[ATTR_VALUE], source="service"
    )
    return {
        "outcome": record.outcome.value,
        "old": json_value(record.old),
        "new": json_value(record.new),
    }


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
