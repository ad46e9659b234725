"""Build the right client for a family and a link written as text."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from .client import InverterClient
from .errors import UnsupportedError
from .modbus.client import ModbusClient, UnitConfig, serial_bytes_per_second
from .modbus.registry import ProfileRegistry
from .model import Point
from .pi30 import client as pi30_client
from .pi30.readings import READINGS
from .pi30.settings import SETTINGS
from .transport.serial import SerialSettings
from .transport.url import LinkSpec, open_link, parse_link

PI30 = "pi30"
MODBUS = "modbus"


@dataclass(frozen=True, kw_only=True, slots=True)
class ModbusUnit:
    """One Modbus unit on a bus and its profile (None = detect)."""

    unit: int
    profile: str | None = None
    serial: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ClientOptions:
    """What a user may set about a link beyond its address."""

    baudrate: int | None = None
    units: Sequence[ModbusUnit] = ()
    profile_dirs: Sequence[Path] = ()


def _serial(settings: SerialSettings, baudrate: int | None) -> SerialSettings:
    return settings if baudrate is None else replace(settings, baudrate=baudrate)


def _pi30(spec: LinkSpec, options: ClientOptions) -> InverterClient:
    if spec.kind in ("udp", "rtu-over-tcp"):
        raise UnsupportedError(f"PI30 does not run over {spec.kind}")
    link = open_link(
        spec,
        serial=_serial(pi30_client.SERIAL_SETTINGS, options.baudrate),
        gap=pi30_client.GAP,
        timeout=pi30_client.TIMEOUT,
    )
    return pi30_client.Pi30Client(link)


def _modbus(spec: LinkSpec, options: ClientOptions) -> InverterClient:
    if spec.kind == "hid":
        raise UnsupportedError("Modbus does not run over USB-HID")
    registry = ProfileRegistry.load(options.profile_dirs, skip_invalid=True)
    units = [
        UnitConfig(unit=unit.unit, profile=unit.profile, serial=unit.serial)
        for unit in options.units
    ]
    profiles = [registry.get(unit.profile) for unit in options.units if unit.profile]
    link_rules = registry.link_rules(profiles)
    serial = _serial(link_rules.serial, options.baudrate)
    link = open_link(
        spec,
        serial=serial,
        gap=link_rules.gap,
        timeout=link_rules.timeout,
    )
    framing: Literal["rtu", "socket"] = (
        "rtu" if spec.kind in ("serial", "rtu-over-tcp") else "socket"
    )
    # Behind a serial-to-TCP gateway the RS-485 line, not the network, sets the pace.
    line_rate = serial_bytes_per_second(serial) if spec.kind == "rtu-over-tcp" else None
    return ModbusClient(link, framing=framing, units=units, registry=registry, line_rate=line_rate)


_BUILDERS = {PI30: _pi30, MODBUS: _modbus}


def create_client(family: str, link: str, options: ClientOptions | None = None) -> InverterClient:
    """Return an unconnected client for `family` on the link written as `link`."""
    try:
        builder = _BUILDERS[family]
    except KeyError:
        raise UnsupportedError(
            f"unknown family {family!r}; known: {', '.join(_BUILDERS)}"
        ) from None
    return builder(parse_link(link), options or ClientOptions())


def shipped_points() -> Iterator[Point]:
    """Yield every point any shipped catalogue or profile can produce (for translations)."""
    yield from READINGS.values()
    yield from SETTINGS.values()
    for profile in ProfileRegistry.load(()).all():
        yield from profile.catalogue()


def families() -> Mapping[str, str]:
    """Return the families this library speaks, with a title each."""
    return {PI30: "Voltronic / Axpert (PI30)", MODBUS: "Modbus meters and inverters"}
