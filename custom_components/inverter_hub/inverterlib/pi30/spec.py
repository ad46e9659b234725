"""The PI30 family as the registry describes it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ..client import InverterClient
from ..family import ClientOptions, FamilySpec, LinkDefaults
from ..model import Point
from ..transport.hid import PI30_PRODUCT_ID, PI30_VENDOR_ID
from ..transport.url import LinkSpec, open_link
from .client import FAMILY, GAP, SERIAL_SETTINGS, TIMEOUT, Pi30Client
from .readings import READINGS
from .settings import SETTINGS


def build(spec: LinkSpec, options: ClientOptions) -> InverterClient:
    """Return an unconnected PI30 client on the link."""
    SPEC.check_link(spec)
    serial = SERIAL_SETTINGS
    if options.baudrate is not None:
        serial = replace(serial, baudrate=options.baudrate)
    return Pi30Client(open_link(spec, serial=serial, gap=GAP, timeout=TIMEOUT))


def points() -> Iterator[Point]:
    """Yield every point a PI30 inverter can have."""
    yield from READINGS.values()
    yield from SETTINGS.values()


SPEC = FamilySpec(
    id=FAMILY,
    title="Voltronic / Axpert (PI30)",
    links=(
        LinkDefaults(kind="serial", baudrate=SERIAL_SETTINGS.baudrate),
        LinkDefaults(kind="hid"),
        # Serial-to-Wi-Fi/Ethernet adapters sold for these inverters listen here by default.
        LinkDefaults(kind="tcp", port=8899),
    ),
    build=build,
    points=points,
    usb_ids=((PI30_VENDOR_ID, PI30_PRODUCT_ID),),
)
