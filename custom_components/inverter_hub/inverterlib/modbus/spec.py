"""The Modbus family as the registry describes it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ..client import InverterClient
from ..family import ClientOptions, FamilySpec, LinkDefaults
from ..model import Point
from ..transport.url import LinkSpec, open_link
from .client import FAMILY, ModbusClient, serial_bytes_per_second
from .registry import ProfileRegistry
from .wire import Framing


def build(spec: LinkSpec, options: ClientOptions) -> InverterClient:
    """Return an unconnected Modbus client for the units of the bus (reads profile files)."""
    SPEC.check_link(spec)
    registry = ProfileRegistry.load(options.profile_dirs, skip_invalid=True)
    profiles = [registry.get(device.profile) for device in options.devices if device.profile]
    rules = registry.link_rules(profiles)
    serial = rules.serial
    if options.baudrate is not None:
        serial = replace(serial, baudrate=options.baudrate)
    link = open_link(spec, serial=serial, gap=rules.gap, timeout=rules.timeout)
    framing: Framing = "rtu" if spec.kind in ("serial", "rtu-over-tcp") else "socket"
    # Behind a serial-to-TCP gateway the RS-485 line, not the network, sets the pace.
    line_rate = serial_bytes_per_second(serial) if spec.kind == "rtu-over-tcp" else None
    return ModbusClient(
        link, framing=framing, units=options.devices, registry=registry, line_rate=line_rate
    )


def points() -> Iterator[Point]:
    """Yield every point of every shipped profile."""
    for profile in ProfileRegistry.load(()).all():
        yield from profile.catalogue()


SPEC = FamilySpec(
    id=FAMILY,
    title="Modbus meters and inverters",
    links=(
        LinkDefaults(kind="serial", baudrate=9600),
        LinkDefaults(kind="tcp", port=502),
        LinkDefaults(kind="udp", port=502),
        LinkDefaults(kind="rtu-over-tcp", port=502),
    ),
    build=build,
    points=points,
    scan_range=(1, 10),
)
