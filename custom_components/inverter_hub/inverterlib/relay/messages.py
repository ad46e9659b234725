"""The JSON bodies the relay publishes: state, model and command results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
import json

from ..model import DeviceIdentity, Point, Value, json_value

type Json = dict[str, object]

STATE_TIME = "time"
"""The key of the read time in a state body; no point may use it."""


def encode(body: Json) -> bytes:
    """Return a body as compact UTF-8 JSON."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def shown(point: Point | None, value: Value) -> Value:
    """Return a value as published: a float rounded to its point's precision."""
    if point is not None and point.precision is not None and isinstance(value, float):
        return round(value, point.precision)
    return value


def state_body(points: Mapping[str, Point], values: Mapping[str, Value], taken: datetime) -> Json:
    """Return a device's state: each point key with its value, and the time it was read."""
    body: Json = {key: json_value(shown(points.get(key), values[key])) for key in sorted(values)}
    body[STATE_TIME] = taken.isoformat()
    return body


def point_body(point: Point, *, writable: bool) -> Json:
    """Return what a consumer needs to show and set a point without knowing the family."""
    return {
        "key": point.key,
        "name": point.name,
        "kind": point.kind.value,
        "type": point.value_type.value,
        "unit": point.unit,
        "options": list(point.options),
        "min": point.minimum,
        "max": point.maximum,
        "step": point.step,
        "precision": point.precision,
        "device_class": point.device_class,
        "state_class": point.state_class,
        "writable": writable,
    }


def model_body(device: DeviceIdentity, points: Iterable[tuple[Point, bool]]) -> Json:
    """Return a device's catalogue: who it is and each point with whether the relay sets it."""
    return {
        "serial_number": device.serial_number,
        "family": device.family,
        "model": device.model,
        "manufacturer": device.manufacturer,
        "firmware": device.firmware,
        "points": [point_body(point, writable=writable) for point, writable in points],
    }


def error_body(code: str, message: str) -> Json:
    """Return the error part of a result."""
    return {"code": code, "message": message}


def key_result(
    key: str,
    outcome: str,
    *,
    old: object = None,
    new: object = None,
    error: Json | None = None,
) -> Json:
    """Return the result of one key of a command."""
    return {
        "key": key,
        "ok": error is None,
        "outcome": outcome,
        "old": old,
        "new": new,
        "error": error,
    }


def command_result(command_id: object, results: list[Json], *, partial: bool) -> Json:
    """Return the answer to a command: one key's result, or each key's for a partial model."""
    if not partial:
        return {"id": command_id, **results[0]}
    first_error = next((result["error"] for result in results if result["error"]), None)
    return {
        "id": command_id,
        "ok": first_error is None,
        "error": first_error,
        "settings": {
            str(result["key"]): {name: item for name, item in result.items() if name != "key"}
            for result in results
        },
    }


def refusal(command_id: object, code: str, message: str) -> Json:
    """Return the answer to a command refused as a whole: nothing was sent."""
    return {
        "id": command_id,
        "ok": False,
        "outcome": "refused",
        "old": None,
        "new": None,
        "error": error_body(code, message),
    }
