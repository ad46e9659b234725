"""Decide whether a device's state changed enough to publish it again."""

from __future__ import annotations

from collections.abc import Mapping

from ..model import Point, Value


def moved(point: Point | None, published: Value, current: Value) -> bool:
    """Return whether a value left the deadband around the published one.

    The deadband is half a unit of the point's last shown digit: noise below what a display
    shows is not news, and the published value never strays a whole digit from the truth.
    """
    if (
        point is not None
        and point.precision is not None
        and isinstance(current, int | float)
        and isinstance(published, int | float)
        and not isinstance(current, bool)
        and not isinstance(published, bool)
    ):
        # A hair below half a digit, so 52.15 -> 52.10 is not lost to binary rounding.
        return abs(current - published) >= 0.5 * 10.0**-point.precision - 1e-9
    return current != published


def changed(
    points: Mapping[str, Point], published: Mapping[str, Value], current: Mapping[str, Value]
) -> bool:
    """Return whether any value moved out of its deadband since the published state.

    Comparing with what was published, not with the last read, lets a slow drift show once
    it adds up.
    """
    if published.keys() != current.keys():
        return True
    return any(moved(points.get(key), published[key], value) for key, value in current.items())
