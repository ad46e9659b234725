"""Find the output values an Xtender reports far from what its parallel peers report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import statistics

from .codec import Raw

# The phase an Xtender runs on (an info of each unit); only units on one phase are compared.
PHASE_INFO = 3089
AC_OUTPUT_CURRENT = 3022
# The outputs units in parallel on one phase share: current (A), active power (kW) and
# apparent power (kVA).
SHARED = frozenset({AC_OUTPUT_CURRENT, 3136, 3139})
# Parallel Xtenders share a phase's load evenly, but a master may carry a light load alone
# while its peers stand by (parameter 1547). So a value strays only when it lies further from
# the median of its peers than 3 times that median and than what one Xtender delivers alone:
# 10 kVA, above the 30-minute rating of the biggest model (8 kVA, XTH 8000-48).
STRAY_RATIO = 3.0
LONE_UNIT_VA = 10_000.0

# An info of a unit: (unit address, info number).
InfoItem = tuple[int, int]


@dataclass(frozen=True, kw_only=True, slots=True)
class Peer:
    """An Xtender as its phase peers see it."""

    address: int
    phase: float
    # The nominal output voltage, which turns the floor in VA into amperes.
    volts: float


def floor(number: int, volts: float) -> float:
    """Return the least distance from the peers' median that makes a value stray."""
    if number == AC_OUTPUT_CURRENT:
        return LONE_UNIT_VA / volts
    return LONE_UNIT_VA / 1000.0


def peer_items(items: Iterable[InfoItem], peers: Mapping[int, Peer]) -> set[InfoItem]:
    """Return the same shared infos of the other units on each item's phase."""
    found: set[InfoItem] = set()
    for address, number in items:
        unit = peers.get(address)
        if number not in SHARED or unit is None:
            continue
        found.update(
            (other.address, number)
            for other in peers.values()
            if other.phase == unit.phase and other.address != address
        )
    return found


def strays(
    items: Iterable[InfoItem], values: Mapping[InfoItem, Raw], peers: Mapping[int, Peer]
) -> dict[InfoItem, float]:
    """Return the items whose value strays from their peers' values, with the peers' median."""
    found: dict[InfoItem, float] = {}
    for item in items:
        address, number = item
        value = _number(values.get(item))
        if value is None:
            continue
        others = [
            peer
            for other in peer_items([item], peers)
            if (peer := _number(values.get(other))) is not None
        ]
        if not others:
            continue
        middle = statistics.median(others)
        tolerance = max(STRAY_RATIO * abs(middle), floor(number, peers[address].volts))
        if abs(value - middle) > tolerance:
            found[item] = middle
    return found


def _number(raw: Raw | None) -> float | None:
    return None if raw is None or isinstance(raw, str) else float(raw)
