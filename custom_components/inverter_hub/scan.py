"""Probe a link or scan a Modbus bus for the config flow."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.core import HomeAssistant

from .inverterlib.modbus.client import ModbusClient
from .inverterlib.model import DeviceIdentity
from .link import async_create_client


@dataclass(frozen=True, kw_only=True, slots=True)
class FoundUnit:
    """A Modbus unit that answered a scan, with its detected profile."""

    unit: int
    profile: str
    identity: DeviceIdentity


async def async_probe(hass: HomeAssistant, data: Mapping[str, Any]) -> list[DeviceIdentity]:
    """Connect, identify the devices on the link, and disconnect."""
    client = await async_create_client(hass, data)
    try:
        await client.connect()
        return await client.identify()
    finally:
        await client.close()


async def async_scan(
    hass: HomeAssistant, data: Mapping[str, Any], units: Iterable[int]
) -> list[FoundUnit]:
    """Return the units of a Modbus bus that answer, with their profiles."""
    client = await async_create_client(hass, data)
    if not isinstance(client, ModbusClient):
        raise TypeError("only Modbus links can be scanned")
    try:
        await client.connect()
        found = await client.scan(units)
    finally:
        await client.close()
    return [
        FoundUnit(unit=unit.unit, profile=unit.profile_id, identity=unit.identity) for unit in found
    ]
