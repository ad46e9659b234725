"""The registry of families: the one place outside a family's package that names them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from types import MappingProxyType

from .client import InverterClient
from .energy import shipped_integral_points
from .errors import UnsupportedError
from .family import NETWORK_KINDS, ClientOptions, FamilySpec
from .givenergy.spec import SPEC as GIVENERGY
from .modbus.spec import SPEC as MODBUS
from .model import Point
from .pi30.spec import SPEC as PI30
from .transport.url import parse_link
from .xcom.spec import SPEC as XCOM

FAMILIES: Mapping[str, FamilySpec] = MappingProxyType(
    {spec.id: spec for spec in (PI30, MODBUS, GIVENERGY, XCOM)}
)


def family(family_id: str) -> FamilySpec:
    """Return the description of a family, or raise UnsupportedError naming the known ones."""
    try:
        return FAMILIES[family_id]
    except KeyError:
        raise UnsupportedError(
            f"unknown family {family_id!r}; known: {', '.join(FAMILIES)}"
        ) from None


def create_client(
    family_id: str, link: str, options: ClientOptions | None = None
) -> InverterClient:
    """Return an unconnected client for a family on the link written as `link`.

    A network link without a port gets the family's usual one (8899 for a GivEnergy dongle).
    """
    spec = family(family_id)
    where = parse_link(link)
    if where.port is None and where.kind in NETWORK_KINDS:
        # A kind the family lacks has no port; its build refuses the kind itself.
        where = replace(where, port=spec.defaults(where.kind).port)
    return spec.build(where, options or ClientOptions())


def shipped_points() -> Iterator[Point]:
    """Yield every point any family can produce, and the totals a session adds (translations)."""
    for spec in FAMILIES.values():
        yield from spec.points()
    yield from shipped_integral_points()
