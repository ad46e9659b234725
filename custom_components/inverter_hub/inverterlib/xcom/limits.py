"""The device's own minimum and maximum of numeric parameters, and the points that carry them.

A unit reports each parameter's range in its min and max properties (protocols.md 3.3); a
model's range can be narrower than the appendix's, which spans every model. Units of one kind,
voltage class and firmware share their ranges, so one unit's answers serve its siblings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
import math

from ..errors import ValidationError
from ..model import Point, PointKind
from .catalogue import Binding
from .codec import Raw
from .objects import Level

# A range as the device reports it: (minimum, maximum).
type Range = tuple[float, float]
# Whose range it is: (profile, firmware, parameter number); the Xcom's own profile is "xcom".
type RangeKey = tuple[str, str | None, int]


def bounded(binding: Binding) -> bool:
    """Return whether a point is a numeric setting whose range the device knows."""
    point = binding.point
    return point.kind is PointKind.SETTING and point.numeric and binding.datapoint.parameter


def read_at_setup(binding: Binding, *, expert: bool = False) -> bool:
    """Return whether a range is read at setup: exposed settings (others at their first write).

    Basic settings are exposed always, expert ones in expert mode.
    """
    exposed = (Level.BASIC, Level.EXPERT) if expert else (Level.BASIC,)
    return bounded(binding) and binding.datapoint.level in exposed


def usable(minimum: Raw | None, maximum: Raw | None) -> Range | None:
    """Return a reported range, or None where it is no range (missing, NaN, upside down)."""
    if minimum is None or maximum is None:
        return None
    if isinstance(minimum, str) or isinstance(maximum, str):
        return None
    low, high = float(minimum), float(maximum)
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        return None
    return low, high


def narrowest(ranges: Iterable[Range | None]) -> Range | None:
    """Return the range every unit accepts (None: no unit reported one, or they share none)."""
    known = [found for found in ranges if found is not None]
    if not known:
        return None
    low, high = max(low for low, _ in known), min(high for _, high in known)
    return (low, high) if low <= high else None


def limited(point: Point, found: Range) -> Point:
    """Return the point with the device's range; the step stays where it still fits."""
    low, high = found
    step = point.step
    if step and point.minimum is not None:
        steps = (low - point.minimum) / step
        if abs(steps - round(steps)) > 1e-6:
            step = None
    return replace(point, minimum=low, maximum=high, step=step)


def check(point: Point, raw: Raw, found: Range, where: str) -> None:
    """Refuse a wire value outside the device's range, naming the range and the unit."""
    if isinstance(raw, bool | str):
        return
    low, high = found
    value = float(raw)
    # A float parameter is stored as 16-bit fixed point: allow for its rounding.
    slack = 1e-6 * max(1.0, abs(value))
    if low - slack <= value <= high + slack:
        return
    raise ValidationError(
        f"{point.key} must be between {low:g} and {high:g} on {where} "
        f"(the device's own limits), got {value:g}",
        key=point.key,
    )
