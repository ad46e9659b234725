"""Energy totals integrated from power, for devices that report a power but no counter."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .model import Point, Value

# Readings further apart than this are a gap (an outage, a restart): no energy is invented for
# the time between them.
MAX_GAP_SECONDS = 600.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Integral:
    """An energy total made of one sign of a power (W): +1 its positive part, -1 its negative."""

    key: str
    name: str
    source: str
    sign: int


# Home Assistant's signs (ARCHITECTURE.md): battery_power > 0 discharges, grid_power > 0 imports.
INTEGRALS = (
    Integral(
        key="battery_discharge_energy",
        name="Battery discharge energy",
        source="battery_power",
        sign=1,
    ),
    Integral(
        key="battery_charge_energy", name="Battery charge energy", source="battery_power", sign=-1
    ),
    Integral(key="grid_import_energy", name="Grid import energy", source="grid_power", sign=1),
    Integral(key="grid_export_energy", name="Grid export energy", source="grid_power", sign=-1),
)


def integral_point(integral: Integral) -> Point:
    """Return the energy point a session adds for an integral."""
    return Point(
        key=integral.key,
        name=integral.name,
        unit="kWh",
        device_class="energy",
        state_class="total_increasing",
        precision=3,
        icon="mdi:sigma",
    )


def integrals_for(points: Mapping[str, Point]) -> list[Integral]:
    """Return the integrals a catalogue needs: a power in W, and no counter of that name."""
    return [
        integral
        for integral in INTEGRALS
        if integral.key not in points
        and (source := points.get(integral.source)) is not None
        and source.unit == "W"
    ]


def shipped_integral_points() -> Iterable[Point]:
    """Yield every point an integral can add (for translations)."""
    return (integral_point(integral) for integral in INTEGRALS)


class EnergyIntegrator:
    """Add up one device's energy from the power readings that passed the quality filter."""

    def __init__(self, integrals: Iterable[Integral], totals: Mapping[str, float]) -> None:
        """Start from the totals kept from before (kWh by key)."""
        self.integrals = tuple(integrals)
        self.totals = {
            integral.key: float(totals.get(integral.key, 0.0)) for integral in self.integrals
        }
        self._last: dict[str, tuple[float, float]] = {}

    @property
    def sources(self) -> set[str]:
        """Return the power keys the integrals are made of."""
        return {integral.source for integral in self.integrals}

    def add(self, accepted: Mapping[str, Value], now: float) -> dict[str, float]:
        """Take this cycle's accepted powers read at `now` (s); return the totals that grew."""
        grown: dict[str, float] = {}
        for source in self.sources:
            power = accepted.get(source)
            if isinstance(power, bool) or not isinstance(power, int | float):
                continue
            last = self._last.get(source)
            self._last[source] = (now, float(power))
            if last is None or not 0 < now - last[0] <= MAX_GAP_SECONDS:
                continue
            for integral in self.integrals:
                if integral.source != source:
                    continue
                watt_seconds = _one_way(
                    integral.sign * last[1], integral.sign * float(power), now - last[0]
                )
                kwh = watt_seconds / 3_600_000
                if kwh > 0:
                    self.totals[integral.key] += kwh
                    grown[integral.key] = self.totals[integral.key]
        return grown


def _one_way(start: float, end: float, seconds: float) -> float:
    """Return the energy (W s) of the positive part of a power that moved linearly."""
    if start >= 0 and end >= 0:
        return (start + end) / 2 * seconds
    if start <= 0 and end <= 0:
        return 0.0
    # The power crossed zero: only the triangle on the positive side counts.
    high, low = max(start, end), min(start, end)
    return high / 2 * seconds * high / (high - low)
