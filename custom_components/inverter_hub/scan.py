"""Probe a link, or scan it for devices, for the config flow."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from homeassistant.core import HomeAssistant

from .inverterlib.capabilities import Scanning
from .inverterlib.errors import UnsupportedError
from .inverterlib.model import DeviceIdentity
from .link import async_create_client


async def async_probe(hass: HomeAssistant, data: Mapping[str, Any]) -> list[DeviceIdentity]:
    """Connect, identify the devices on the link, and disconnect."""
    client = await async_create_client(hass, data)
    try:
        await client.connect()
        return await client.identify()
    finally:
        await client.close()


async def async_scan(
    hass: HomeAssistant, data: Mapping[str, Any], addresses: Iterable[int]
) -> list[DeviceIdentity]:
    """Return the devices at these addresses of the link that answer."""
    client = await async_create_client(hass, data)
    if not isinstance(client, Scanning):
        raise UnsupportedError(f"{client.family} links cannot be scanned")
    try:
        await client.connect()
        return await client.scan(addresses)
    finally:
        await client.close()
