"""The Studer Xcom family as the registry describes it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ..client import InverterClient
from ..family import ClientOptions, FamilyOption, FamilySpec, LinkDefaults
from ..model import Point
from ..transport.url import LinkSpec, open_link
from .catalogue import system_catalogue, unit_catalogue
from .client import FAMILY, GAP, SERIAL_SETTINGS, WATCHDOG_DELAY, XcomClient
from .kinds import BMS, UNIT_KINDS, XTENDER
from .wire import TIMEOUT

# Parameters go to RAM unless the user accepts the wear of flash writes (about 1000 a cell).
WRITE_TO_FLASH = FamilyOption(key="write_to_flash")
# The units' SCOM watchdogs are installer parameters: switched on only with the user's consent,
# they make the units fall back to their saved settings when the link stops.
SCOM_WATCHDOG = FamilyOption(key="scom_watchdog", expert=True)


def build(spec: LinkSpec, options: ClientOptions) -> InverterClient:
    """Return an unconnected Xcom client on the link (parameters written to RAM by default)."""
    SPEC.check_link(spec)
    serial = SERIAL_SETTINGS
    if options.baudrate is not None:
        serial = replace(serial, baudrate=options.baudrate)
    link = open_link(spec, serial=serial, gap=GAP, timeout=TIMEOUT)
    watchdog = WATCHDOG_DELAY if options.switch(SCOM_WATCHDOG) else None
    return XcomClient(
        link, flash=options.switch(WRITE_TO_FLASH), watchdog=watchdog, expert=options.expert
    )


def points() -> Iterator[Point]:
    """Yield every point a Studer unit or system can have."""
    for kind in (*UNIT_KINDS, BMS):
        yield from unit_catalogue(kind).points
    yield from unit_catalogue(XTENDER, volts_120=True).points
    yield from system_catalogue(frozenset(kind.id for kind in UNIT_KINDS)).points


SPEC = FamilySpec(
    id=FAMILY,
    title="Studer Innotec Xcom (Xtender, VarioTrack, VarioString, BSP)",
    links=(
        LinkDefaults(kind="serial", baudrate=SERIAL_SETTINGS.baudrate),
        # Xcom-LAN's serial-to-LAN bridge carries the same frames on port 4001 (protocols.md 3.1).
        LinkDefaults(kind="tcp", port=4001),
        LinkDefaults(kind="udp", port=4001),
    ),
    build=build,
    points=points,
    # identify finds every unit behind the Xcom itself; rescans ask the protocol's addresses.
    rescan_addresses=tuple(address for kind in UNIT_KINDS for address in kind.addresses),
    options=(WRITE_TO_FLASH, SCOM_WATCHDOG),
    baudrates=(38400, 57600, 115200),
)
