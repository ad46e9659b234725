"""What one device speaks: the points its replies carry, learned once, and how to decode them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from ..model import Category, Point, PointKind, Value
from . import enums
from .catalogue import DERIVED, FLAG_LETTERS, Action, Derived, Field, Query
from .codec import field_at
from .parse import decimal, flag, integer
from .readings import READINGS
from .settings import SETTINGS, Encoder, unknown_flag

# Settings whose volt ranges are written for a 48 V bank and scale with the bank's rating.
_BATTERY_VOLT_SETTINGS = (
    "battery_recharge_voltage",
    "battery_redischarge_voltage",
    "battery_under_voltage",
    "battery_bulk_voltage",
    "battery_float_voltage",
    "equalization_voltage",
)
# Low-voltage models (110-127 V output) report a rating below this.
_LV_OUTPUT_LIMIT = 160


@dataclass(frozen=True, kw_only=True, slots=True)
class Layout:
    """The points of one device and where each comes from."""

    points: Mapping[str, Point]
    fields: Mapping[str, tuple[Query, Field]]
    derived: Mapping[str, Derived]
    setters: Mapping[str, Encoder]
    shapes: Mapping[str, int]

    def fits(self, query: Query, payload: str) -> bool:
        """Return whether a reply has the learned shape and every field it feeds reads."""
        # A reply of another shape, or with a field out of format, answers some other request
        # (a late reply after a timeout) or was mangled: nothing in it is trusted. Fields the
        # unit did not fill when learned are no points here and are not checked.
        if query.shape(payload) != self.shapes.get(query.command):
            return False
        fields = query.split(payload)
        return all(
            (text := field_at(fields, field.index)) is None or field.parse(text) is not None
            for owner, field in self.fields.values()
            if owner.command == query.command
        )

    def _closure(self, keys: Iterable[str]) -> set[str]:
        wanted: set[str] = set()
        pending = [key for key in keys if key in self.points]
        while pending:
            key = pending.pop()
            if key in wanted:
                continue
            wanted.add(key)
            if (rule := self.derived.get(key)) is not None:
                pending.extend(k for k in rule.inputs + rule.optional if k in self.points)
        return wanted

    def queries_for(self, keys: Iterable[str]) -> list[Query]:
        """Return the queries that answer `keys`, each once, in table order."""
        wanted = self._closure(keys)
        queries: dict[str, Query] = {}
        for key, (query, _) in self.fields.items():
            if key in wanted:
                queries.setdefault(query.command, query)
        return list(queries.values())

    def decode(self, replies: Mapping[str, str], keys: Collection[str]) -> dict[str, Value]:
        """Return the values of `keys` from reply payloads, computing derived points."""
        wanted = self._closure(keys)
        split = {
            query.command: query.split(replies[query.command])
            for query, _ in self.fields.values()
            if query.command in replies
        }
        values: dict[str, Value] = {}
        for key, (query, field) in self.fields.items():
            fields = split.get(query.command)
            if key not in wanted or fields is None:
                continue
            text = field_at(fields, field.index)
            if text is not None and (value := field.parse(text)) is not None:
                values[key] = value
        for key, rule in self.derived.items():
            if (
                key in wanted
                and all(name in values for name in rule.inputs)
                and (value := rule.compute(values)) is not None
            ):
                values[key] = value
        return {key: value for key, value in values.items() if key in keys}


def build_layout(
    queries: Iterable[Query],
    replies: Mapping[str, str],
    setters: Mapping[str, Encoder],
    *,
    actions: Iterable[Action] = (),
) -> Layout:
    """Return the layout of a device from the payloads its supported queries gave once."""
    fields: dict[str, tuple[Query, Field]] = {}
    points: dict[str, Point] = {}
    own_setters = dict(setters)
    seen: dict[str, list[str]] = {}
    shapes: dict[str, int] = {}
    for query in queries:
        payload = replies.get(query.command)
        if payload is None:
            continue
        reply = seen[query.command] = query.split(payload)
        shapes[query.command] = query.shape(payload)
        for field in query.fields:
            if field.key not in fields and _answers(field, reply):
                fields[field.key] = (query, field)
                points[field.key] = replace(_point(field.key), group=query.group)
        if query.command == "QFLAG":
            _add_unknown_flags(query, reply, fields, points, own_setters)
    derived: dict[str, Derived] = {}
    for rule in DERIVED:
        if rule.key not in points and all(name in points for name in rule.inputs):
            derived[rule.key] = rule
            points[rule.key] = replace(
                _point(rule.key),
                group=points[rule.inputs[0]].group,
                derived_from=tuple(k for k in rule.inputs + rule.optional if k in points),
            )
    for action in actions:
        if not action.requires or any(command in seen for command in action.requires):
            points[action.key] = _point(action.key)
    points = {key: _writable_or_reading(point, own_setters) for key, point in points.items()}
    return Layout(
        points=_adapt(points, seen),
        fields=fields,
        derived=derived,
        setters={key: own_setters[key] for key in points if key in own_setters},
        shapes=shapes,
    )


def _answers(field: Field, reply: list[str]) -> bool:
    """Return whether a reply carries a readable value for the field (not `-`, not zeros)."""
    if not field.fits(len(reply)):
        return False
    text = field_at(reply, field.index)
    return text is not None and field.parse(text) is not None


def _point(key: str) -> Point:
    return READINGS.get(key) or SETTINGS[key]


def _add_unknown_flags(
    query: Query,
    reply: list[str],
    fields: dict[str, tuple[Query, Field]],
    points: dict[str, Point],
    setters: dict[str, Encoder],
) -> None:
    """Offer every QFLAG letter the table does not name as a generic expert switch."""
    known = {field.index for field in query.fields}
    for index, state in enumerate(reply):
        if state and index not in known:
            point, encoder = unknown_flag(FLAG_LETTERS[index])
            fields[point.key] = (query, Field(key=point.key, index=index, parse=flag))
            points[point.key] = replace(point, group=query.group)
            setters[point.key] = encoder


def _writable_or_reading(point: Point, setters: Mapping[str, Encoder]) -> Point:
    """Show a setting this device has no setter for as a diagnostic reading."""
    if point.kind is PointKind.READING or point.key in setters:
        return point
    return replace(
        point,
        kind=PointKind.READING,
        category=Category.DIAGNOSTIC,
        minimum=None,
        maximum=None,
        step=None,
        choices=(),
    )


def _adapt(points: dict[str, Point], seen: Mapping[str, list[str]]) -> dict[str, Point]:
    """Fit ranges and choices to what this model reported about itself."""
    for command, key in (
        ("QMCHGCR", "max_charging_current"),
        ("QMUCHGCR", "max_ac_charging_current"),
    ):
        currents = sorted({n for text in seen.get(command, []) if (n := integer(text)) is not None})
        if key in points and currents and points[key].kind is PointKind.SETTING:
            points[key] = replace(
                points[key],
                choices=tuple(float(n) for n in currents),
                minimum=float(currents[0]),
                maximum=float(currents[-1]),
            )
    ratings = seen.get("QPIRI", [])
    battery = decimal(ratings[7]) if len(ratings) > 7 else None
    if battery in (12.0, 24.0):
        for key in _BATTERY_VOLT_SETTINGS:
            if key in points and points[key].kind is PointKind.SETTING:
                points[key] = _scale_volts(points[key], battery / 48)
    output = decimal(ratings[2]) if len(ratings) > 2 else None
    if output is not None and "output_voltage" in points:
        voltages = enums.OUTPUT_VOLTAGE_LV if output < _LV_OUTPUT_LIMIT else enums.OUTPUT_VOLTAGE_HV
        points["output_voltage"] = replace(
            points["output_voltage"], options=voltages.options, option_labels=voltages.labels
        )
    return points


def _scale_volts(point: Point, factor: float) -> Point:
    step = (point.step or 0.1) * factor
    # 12 V units take settings in 0.1 V steps (11.3, 11.5, 11.8 ...), not quarter volts.
    if round(step * 10) != step * 10:
        step = 0.1
    return replace(
        point,
        minimum=None if point.minimum is None else round(point.minimum * factor, 1),
        maximum=None if point.maximum is None else round(point.maximum * factor, 1),
        step=round(step, 2),
        choices=tuple(round(choice * factor, 1) for choice in point.choices),
    )
