"""Data-quality rules: implausible values, unconfirmed spikes and falling counters are held back."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from .model import Point, PointKind, Value

# A counter that reads lower this many times in a row was reset on the device; accept it.
COUNTER_RESET_CONFIRMATIONS = 3


class Rejection(StrEnum):
    """Why a value was not published."""

    IMPLAUSIBLE = "implausible"
    SPIKE = "spike"
    COUNTER_DECREASE = "counter_decrease"


class QualityFilter:
    """Hold back suspicious readings of one device; the last good value stays."""

    def __init__(self, points: Mapping[str, Point]) -> None:
        """Filter against these points."""
        self._points = points
        self.good: dict[str, Value] = {}
        self.rejected: dict[str, Rejection] = {}
        self._pending: dict[str, tuple[float, int]] = {}

    def apply(self, values: Mapping[str, Value]) -> dict[str, Value]:
        """Return the values that pass; remember why the others did not."""
        passed: dict[str, Value] = {}
        for key, value in values.items():
            point = self._points.get(key)
            reason = None if point is None else self._check(point, value)
            if reason is None:
                self._pending.pop(key, None)
                self.rejected.pop(key, None)
                self.good[key] = value
                passed[key] = value
            else:
                self.rejected[key] = reason
        return passed

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
            return self._confirm(
                point,
                value,
                Rejection.COUNTER_DECREASE,
                needed=COUNTER_RESET_CONFIRMATIONS,
                tolerance=float("inf"),
            )
        if point.spike is not None and abs(value - last) > point.spike:
            return self._confirm(point, value, Rejection.SPIKE, needed=2, tolerance=point.spike)
        return None

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
