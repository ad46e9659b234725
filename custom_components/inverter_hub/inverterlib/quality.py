"""Data-quality rules: implausible values, unconfirmed spikes and falling counters are held back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
import time

from .model import Point, PointKind, Value

# A counter that reads near zero this many times in a row was reset on the device; accept it.
COUNTER_RESET_CONFIRMATIONS = 3
# A lower reading is a reset only near zero: at most 1 % of the last value, or one unit.
RESET_FRACTION = 0.01
# Without a rating of its own, an energy counter of a home device cannot grow faster than this
# many units an hour (100 kWh in an hour is 100 kW: above any home inverter or meter here).
DEFAULT_ENERGY_RISE_PER_HOUR = 100.0
# A rise is compared with the time since the last good value, plus this much (s), so a counter
# read twice within a second is not refused for rounding.
RISE_SLACK_SECONDS = 60.0


class Rejection(StrEnum):
    """Why a value was not published."""

    IMPLAUSIBLE = "implausible"
    SPIKE = "spike"
    COUNTER_DECREASE = "counter_decrease"
    COUNTER_JUMP = "counter_jump"
    INPUT_REFUSED = "input_refused"


class QualityFilter:
    """Hold back suspicious readings of one device; the last good value stays."""

    def __init__(
        self, points: Mapping[str, Point], clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Filter against these points."""
        self._points = points
        self._clock = clock
        self.good: dict[str, Value] = {}
        self.rejected: dict[str, Rejection] = {}
        self._pending: dict[str, tuple[float, int]] = {}
        self._good_at: dict[str, float] = {}

    def apply(self, values: Mapping[str, Value]) -> dict[str, Value]:
        """Return the values that pass; remember why the others did not."""
        passed: dict[str, Value] = {}
        # Values computed from others last: none exists unless all its inputs passed this read.
        for key in sorted(values, key=lambda key: bool(self._inputs(key))):
            value = values[key]
            point = self._points.get(key)
            reason = None if point is None else self._check(point, value)
            if reason is None and any(
                name not in passed for name in self._inputs(key) if name in values
            ):
                reason = Rejection.INPUT_REFUSED
            if reason is None:
                self._pending.pop(key, None)
                self.rejected.pop(key, None)
                self.good[key] = value
                self._good_at[key] = self._clock()
                passed[key] = value
            else:
                self.rejected[key] = reason
        return passed

    def _inputs(self, key: str) -> tuple[str, ...]:
        point = self._points.get(key)
        return () if point is None else point.derived_from

    def _check(self, point: Point, value: Value) -> Rejection | None:
        if point.kind is not PointKind.READING or not point.numeric:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if point.plausible is not None and not point.plausible[0] <= value <= point.plausible[1]:
            return Rejection.IMPLAUSIBLE
        last = self.good.get(point.key)
        if not isinstance(last, int | float) or isinstance(last, bool):
            return None
        if point.total_increasing and value < last:
            if point.daily and value <= max(1.0, abs(last) * RESET_FRACTION):
                # A new day: a "today" counter starts again near zero, as it should.
                return None
            if value > max(1.0, abs(last) * RESET_FRACTION):
                # A small dip (900 -> 899.9) is a misread, never a reset: hold it back for good.
                return Rejection.COUNTER_DECREASE
            return self._confirm(
                point,
                value,
                Rejection.COUNTER_DECREASE,
                needed=COUNTER_RESET_CONFIRMATIONS,
                tolerance=float("inf"),
            )
        if point.total_increasing and value - last > self._largest_rise(point):
            return self._confirm(
                point,
                value,
                Rejection.COUNTER_JUMP,
                needed=COUNTER_RESET_CONFIRMATIONS,
                tolerance=self._largest_rise(point),
            )
        if point.spike is not None and abs(value - last) > point.spike:
            return self._confirm(point, value, Rejection.SPIKE, needed=2, tolerance=point.spike)
        return None

    def _largest_rise(self, point: Point) -> float:
        """Return how far the counter may have grown since its last good value."""
        per_hour = point.max_rise_per_hour
        if per_hour is None:
            if point.unit not in ("kWh", "Wh"):
                return float("inf")
            per_hour = DEFAULT_ENERGY_RISE_PER_HOUR * (1000 if point.unit == "Wh" else 1)
        elapsed = self._clock() - self._good_at.get(point.key, self._clock())
        return per_hour * (elapsed + RISE_SLACK_SECONDS) / 3600

    def _confirm(
        self, point: Point, value: float, reason: Rejection, *, needed: int, tolerance: float
    ) -> Rejection | None:
        """Accept a jump only when it persists for `needed` reads in a row."""
        if reason is Rejection.COUNTER_DECREASE and value == 0:
            # Devices asleep or rebooting report 0; a real reset never reads exactly 0 for long
            # enough to matter, and dropping an energy total to 0 corrupts long-term statistics.
            return reason
        seen_value, seen_count = self._pending.get(point.key, (value, 0))
        count = seen_count + 1 if abs(value - seen_value) <= tolerance else 1
        if count >= needed:
            self._pending.pop(point.key, None)
            return None
        self._pending[point.key] = (value, count)
        return reason
