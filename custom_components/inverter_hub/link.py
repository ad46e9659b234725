"""Build the session an entry describes: its family's client on its link, with its options."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .const import (
    CONF_BAUDRATE,
    CONF_DEVICES,
    CONF_EXPERT,
    CONF_FAMILY,
    CONF_LINK,
    CONF_PROBE_INTERVAL,
    CONF_RESCAN,
    CONF_RESCAN_INTERVAL,
    CONF_SCAN_INTERVAL,
    CONF_SCAN_RANGE,
    CONF_SLOW_INTERVAL,
    DEFAULT_PROBE_INTERVAL,
    DEFAULT_RESCAN_INTERVAL_S,
    DEFAULT_SCAN_INTERVAL_S,
    DEFAULT_SLOW_INTERVAL_S,
    DOMAIN,
)
from .coordinator import totals_store, write_log_of
from .inverterlib.client import InverterClient
from .inverterlib.families import create_client, family
from .inverterlib.family import ClientOptions, KnownDevice
from .inverterlib.session import LinkSession, SessionSettings


def user_profile_dir(hass: HomeAssistant) -> Path:
    """Return where a user keeps their own device profiles."""
    return Path(hass.config.path(DOMAIN, "profiles"))


def known_devices(data: Mapping[str, Any]) -> tuple[KnownDevice, ...]:
    """Return the devices an entry's data lists."""
    return tuple(KnownDevice(**device) for device in data.get(CONF_DEVICES, ()))


def device_data(device: KnownDevice) -> dict[str, Any]:
    """Return a known device as an entry stores it."""
    return {"address": device.address, "profile": device.profile, "serial": device.serial}


def client_options(
    hass: HomeAssistant, data: Mapping[str, Any], options: Mapping[str, Any] | None = None
) -> ClientOptions:
    """Return the client options stored in an entry's data and options."""
    spec = family(data[CONF_FAMILY])
    chosen = options or {}
    return ClientOptions(
        baudrate=data.get(CONF_BAUDRATE),
        devices=known_devices(data),
        profile_dirs=(user_profile_dir(hass),),
        switches={
            option.key: chosen[option.key] for option in spec.options if option.key in chosen
        },
        expert=chosen.get(CONF_EXPERT, False),
    )


async def async_create_client(
    hass: HomeAssistant, data: Mapping[str, Any], options: Mapping[str, Any] | None = None
) -> InverterClient:
    """Return an unconnected client for an entry (profile files are read in the executor)."""
    return await hass.async_add_executor_job(
        create_client, data[CONF_FAMILY], data[CONF_LINK], client_options(hass, data, options)
    )


def session_settings(entry: ConfigEntry[Any]) -> SessionSettings:
    """Return how an entry's options ask the session to poll."""
    options = entry.options
    spec = family(entry.data[CONF_FAMILY])
    scan_range = entry.data.get(CONF_SCAN_RANGE) or spec.scan_range
    addresses = (
        spec.rescan_addresses
        if scan_range is None
        else tuple(range(scan_range[0], scan_range[1] + 1))
    )
    return SessionSettings(
        scan_interval=options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL_S),
        slow_interval=options.get(CONF_SLOW_INTERVAL, DEFAULT_SLOW_INTERVAL_S),
        backoff_cap=options.get(CONF_PROBE_INTERVAL, DEFAULT_PROBE_INTERVAL),
        expert=options.get(CONF_EXPERT, False),
        scan_addresses=addresses,
        rescan_interval=(
            options.get(CONF_RESCAN_INTERVAL, DEFAULT_RESCAN_INTERVAL_S)
            if options.get(CONF_RESCAN, False)
            else None
        ),
    )


async def async_create_session(hass: HomeAssistant, entry: ConfigEntry[Any]) -> LinkSession:
    """Return an unstarted session for an entry; its write log and energy totals outlive it."""
    client = await async_create_client(hass, entry.data, entry.options)
    return LinkSession(
        client,
        session_settings(entry),
        write_log=write_log_of(hass, entry.entry_id),
        energy_totals=await totals_store(hass, entry.entry_id).async_load() or {},
    )
