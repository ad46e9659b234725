"""Check and coerce a value against its point before anything is sent."""

from __future__ import annotations

from datetime import time
import math

from .errors import NotWritableError, ValidationError
from .model import Point, PointKind, Value, ValueType

_TRUE = {"1", "true", "on", "yes", "enable", "enabled"}
_FALSE = {"0", "false", "off", "no", "disable", "disabled"}
_TRIGGERS = {"", "press"}


def _number(point: Point, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError(f"{point.key} needs a number, got {value!r}", key=point.key)
    try:
        number = float(value)
    except ValueError as err:
        raise ValidationError(f"{point.key} needs a number, got {value!r}", key=point.key) from err
    if not math.isfinite(number):
        raise ValidationError(f"{point.key} needs a finite number", key=point.key)
    if (point.minimum is not None and number < point.minimum) or (
        point.maximum is not None and number > point.maximum
    ):
        raise ValidationError(
            f"{point.key} must be between {point.minimum} and {point.maximum}, got {number:g}",
            key=point.key,
        )
    if point.choices:
        if not any(abs(number - choice) < 1e-6 for choice in point.choices):
            allowed = ", ".join(f"{choice:g}" for choice in point.choices)
            raise ValidationError(
                f"{point.key} must be one of {allowed}, got {number:g}", key=point.key
            )
        return number
    if point.step:
        base = point.minimum or 0.0
        steps = (number - base) / point.step
        if abs(steps - round(steps)) > 1e-6:
            raise ValidationError(
                f"{point.key} must be a multiple of {point.step:g} from {base:g}, got {number:g}",
                key=point.key,
            )
    return number


def _time(point: Point, value: object) -> time:
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, str):
        try:
            return time.fromisoformat(value).replace(second=0, microsecond=0)
        except ValueError:
            pass
    raise ValidationError(f"{point.key} needs a time of day HH:MM, got {value!r}", key=point.key)


def _bool(point: Point, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValidationError(f"{point.key} needs on or off, got {value!r}", key=point.key)


def validate(point: Point, value: object) -> Value:
    """Return `value` coerced to the point's type, or raise ValidationError."""
    if point.kind is PointKind.READING:
        raise NotWritableError(f"{point.key} is a reading, not a setting", key=point.key)
    if point.kind is PointKind.ACTION:
        # An action takes no value or only its trigger, so `reset 0` can never mean "go".
        if value is None or value is True or str(value).strip().lower() in _TRIGGERS:
            return True
        raise ValidationError(
            f"{point.key} is an action; it takes no value (or 'press'), got {value!r}",
            key=point.key,
        )
    match point.value_type:
        case ValueType.FLOAT:
            return _number(point, value)
        case ValueType.INT:
            number = _number(point, value)
            if number != int(number):
                raise ValidationError(f"{point.key} needs a whole number", key=point.key)
            return int(number)
        case ValueType.BOOL:
            return _bool(point, value)
        case ValueType.ENUM:
            if value not in point.options:
                raise ValidationError(
                    f"{point.key} must be one of {', '.join(point.options)}, got {value!r}",
                    key=point.key,
                )
            return str(value)
        case ValueType.TIME:
            return _time(point, value)
    if not isinstance(value, str):
        raise ValidationError(f"{point.key} needs text, got {value!r}", key=point.key)
    return value


def same_value(point: Point, left: Value | None, right: Value | None) -> bool:
    """Return whether two values of a point are equal as the device stores them."""
    if left is None or right is None:
        return left is right
    if (
        point.numeric
        and not isinstance(left, bool | str | time)
        and not isinstance(right, bool | str | time)
    ):
        tolerance = (point.step or 0.0) / 2 if point.step else 1e-6 * max(1.0, abs(float(left)))
        return abs(float(left) - float(right)) <= max(tolerance, 1e-9)
    return left == right
