"""Build the library client an entry's data describes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant

from .const import CONF_BAUDRATE, CONF_FAMILY, CONF_LINK, CONF_SERIALS, CONF_UNITS, DOMAIN
from .inverterlib.client import InverterClient
from .inverterlib.families import ClientOptions, ModbusUnit, create_client


def user_profile_dir(hass: HomeAssistant) -> Path:
    """Return where a user keeps their own Modbus profiles."""
    return Path(hass.config.path(DOMAIN, "profiles"))


def client_options(hass: HomeAssistant, data: Mapping[str, Any]) -> ClientOptions:
    """Return the client options stored in an entry's data."""
    units = data.get(CONF_UNITS, ())
    # Serial numbers are stored in unit order; entries from before a scan have none.
    serials = data.get(CONF_SERIALS, ())
    return ClientOptions(
        baudrate=data.get(CONF_BAUDRATE),
        units=tuple(
            ModbusUnit(
                unit=unit["unit"],
                profile=unit.get("profile"),
                serial=serials[index] if index < len(serials) else None,
            )
            for index, unit in enumerate(units)
        ),
        profile_dirs=(user_profile_dir(hass),),
    )


async def async_create_client(hass: HomeAssistant, data: Mapping[str, Any]) -> InverterClient:
    """Return an unconnected client for entry data (profile files are read in the executor)."""
    options = client_options(hass, data)
    return await hass.async_add_executor_job(
        create_client, data[CONF_FAMILY], data[CONF_LINK], options
    )
