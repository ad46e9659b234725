"""Read a profile file and check every field, naming the file and field of any mistake."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
import re
from typing import Any, Literal, NoReturn

import yaml

from ..errors import ProfileError
from ..model import Category, Point, PointKind, PollGroup, ValueType
from .codec import RegisterType, WordOrder
from .profile import (
    Access,
    ActionPoint,
    CompositeSetting,
    DerivedPoint,
    IdentifyRule,
    LinkRules,
    ModeOption,
    ModeSetting,
    Profile,
    Register,
    RegisterPoint,
    RegisterWrite,
    TimeFormat,
    WriteFunction,
)

_SNAKE = re.compile(r"[a-z0-9_]+")
_STATE_CLASSES = ("measurement", "total", "total_increasing")
# Home Assistant's sensor, number and binary sensor device classes (2025.4, and reactive_energy
# from later releases); a profile with another one would give an entity Home Assistant refuses.
_DEVICE_CLASSES = frozenset(
    [
        "apparent_power",
        "aqi",
        "area",
        "atmospheric_pressure",
        "battery",
        "battery_charging",
        "blood_glucose_concentration",
        "carbon_dioxide",
        "carbon_monoxide",
        "cold",
        "conductivity",
        "connectivity",
        "current",
        "data_rate",
        "data_size",
        "date",
        "distance",
        "door",
        "duration",
        "energy",
        "energy_distance",
        "energy_storage",
        "enum",
        "frequency",
        "garage_door",
        "gas",
        "heat",
        "humidity",
        "illuminance",
        "irradiance",
        "light",
        "lock",
        "moisture",
        "monetary",
        "motion",
        "moving",
        "nitrogen_dioxide",
        "nitrogen_monoxide",
        "nitrous_oxide",
        "occupancy",
        "opening",
        "ozone",
        "ph",
        "plug",
        "pm1",
        "pm10",
        "pm25",
        "power",
        "power_factor",
        "precipitation",
        "precipitation_intensity",
        "presence",
        "pressure",
        "problem",
        "reactive_energy",
        "reactive_power",
        "running",
        "safety",
        "signal_strength",
        "smoke",
        "sound",
        "sound_pressure",
        "speed",
        "sulphur_dioxide",
        "tamper",
        "temperature",
        "timestamp",
        "update",
        "vibration",
        "volatile_organic_compounds",
        "volatile_organic_compounds_parts",
        "voltage",
        "volume",
        "volume_flow_rate",
        "volume_storage",
        "water",
        "weight",
        "wind_direction",
        "wind_speed",
        "window",
    ]
)
_PARITIES = ("N", "E", "O")
_MISSING = object()

_REGISTER_FIELDS = ("access", "address", "type", "count", "word_order")
_ENTITY_FIELDS = (
    "key",
    "name",
    "scale",
    "offset",
    "unit",
    "device_class",
    "state_class",
    "daily",
    "group",
    "precision",
    "enabled_by_default",
    "category",
    "options",
    "option_labels",
    "icon",
    "expert",
)
_POINT_FIELDS = (
    *_REGISTER_FIELDS,
    *_ENTITY_FIELDS,
    "bit",
    "bits",
    "time",
    "plausible",
    "spike",
)
_SETTING_FIELDS = (
    *_REGISTER_FIELDS,
    *_ENTITY_FIELDS,
    "bits",
    "time",
    "minimum",
    "maximum",
    "step",
    "choices",
    "switch",
    "on_value",
    "off_value",
    "write",
)
_DERIVED_FIELDS = (
    "key",
    "name",
    "difference",
    "sum",
    "unit",
    "device_class",
    "state_class",
    "daily",
    "group",
    "plausible",
    "spike",
    "precision",
    "enabled_by_default",
    "category",
    "icon",
    "expert",
)
_CHOICE_FIELDS = ("key", "name", "group", "enabled_by_default", "category", "expert", "icon")
_MODE_FIELDS = (*_CHOICE_FIELDS, "options", "option_labels")
_COMPOSITE_FIELDS = (*_CHOICE_FIELDS, "parts")
_ACTION_FIELDS = ("key", "name", "enabled_by_default", "expert", "icon", "writes", "clock")


class _Fields:
    """One YAML mapping being read; every field taken is ticked off, the rest are mistakes."""

    def __init__(self, data: object, file: str, path: str, allowed: tuple[str, ...]) -> None:
        self.file = file
        self.path = path
        if not isinstance(data, Mapping):
            self.fail(None, f"must be a mapping, got {_show(data)}")
        self._data: Mapping[object, object] = data
        for name in data:
            if name not in allowed:
                self.fail(str(name), f"unknown field (allowed: {', '.join(allowed)})")

    def where(self, name: str | None) -> str:
        """Return the dotted path of a field."""
        if name is None:
            return self.path or "(top level)"
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str | None, message: str) -> NoReturn:
        """Raise a ProfileError naming the file and the field."""
        raise ProfileError(f"{self.file}: {self.where(name)}: {message}", file=self.file)

    def has(self, name: str) -> bool:
        """Return whether the field is present."""
        return name in self._data

    def raw(self, name: str, *, required: bool = False) -> object:
        """Return a field's value as written, or _MISSING."""
        if name not in self._data:
            if required:
                self.fail(name, "is required")
            return _MISSING
        return self._data[name]

    def nested(self, name: str, allowed: tuple[str, ...]) -> _Fields | None:
        """Return a nested mapping, or None when absent."""
        value = self.raw(name)
        if value is _MISSING:
            return None
        return _Fields(value, self.file, self.where(name), allowed)

    def items(self, name: str) -> Iterator[tuple[str, object]]:
        """Yield `(path, item)` for each item of a list field."""
        value = self.raw(name)
        if value is _MISSING or value is None:
            return
        if not isinstance(value, list):
            self.fail(name, f"must be a list, got {_show(value)}")
        for index, item in enumerate(value):
            yield f"{self.where(name)}[{index}]", item

    def text(self, name: str, *, required: bool = False, default: str | None = None) -> str | None:
        """Return a non-empty string field."""
        value = self.raw(name, required=required)
        if value is _MISSING:
            return default
        if not isinstance(value, str) or not value.strip():
            self.fail(name, f"must be non-empty text, got {_show(value)}")
        return value

    def snake(self, name: str) -> str:
        """Return a required snake_case identifier."""
        value = self.text(name, required=True)
        assert value is not None
        if not _SNAKE.fullmatch(value):
            self.fail(name, f"{value!r} is not snake_case ([a-z0-9_]+)")
        return value

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        default: int | None = None,
        low: int | None = None,
        high: int | None = None,
    ) -> int | None:
        """Return a whole-number field within bounds."""
        value = self.raw(name, required=required)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"must be a whole number, got {_show(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(name, f"{value} is not between {low} and {high}")
        return value

    def number(self, name: str, *, default: float | None = None) -> float | None:
        """Return a numeric field."""
        value = self.raw(name)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(name, f"must be a number, got {_show(value)}")
        return value

    def positive(self, name: str, default: float) -> float:
        """Return a number greater than zero."""
        value = self.number(name, default=default)
        assert value is not None
        if value <= 0:
            self.fail(name, f"must be greater than 0, got {value}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        """Return a true/false field."""
        value = self.raw(name)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.fail(name, f"must be true or false, got {_show(value)}")
        return value

    def choice[E: StrEnum](self, name: str, kind: type[E], default: E | None = None) -> E:
        """Return a field that must be one of an enum's values."""
        value = self.raw(name, required=default is None)
        if value is _MISSING:
            assert default is not None
            return default
        members = {member.value: member for member in kind}
        if not isinstance(value, str) or value not in members:
            self.fail(name, f"{_show(value)} is not one of {', '.join(members)}")
        return members[value]

    def pair(self, name: str) -> tuple[float, float] | None:
        """Return a `[low, high]` field."""
        value = self.raw(name)
        if value is _MISSING:
            return None
        if (
            not isinstance(value, list)
            or len(value) != 2
            or any(isinstance(item, bool) or not isinstance(item, int | float) for item in value)
            or value[0] >= value[1]
        ):
            self.fail(name, f"must be [low, high] with low < high, got {_show(value)}")
        return float(value[0]), float(value[1])


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "nothing"
    return f"{value!r} ({type(value).__name__})"


def _register(
    fields: _Fields, rules: LinkRules, barriers: Mapping[Access, tuple[int, ...]]
) -> Register:
    """Read access, address, type, count and word order, and check the value can be read."""
    access = fields.choice("access", Access)
    address = fields.integer("address", required=True, low=0, high=0xFFFF)
    assert address is not None
    kind = fields.choice("type", RegisterType)
    if kind is RegisterType.ASCII:
        count = fields.integer("count", required=True, low=1, high=125)
    else:
        count = fields.integer("count", default=kind.width)
        if count != kind.width:
            fields.fail("count", f"{kind} always takes {kind.width} registers, not {count}")
    assert count is not None
    word_order = fields.choice("word_order", WordOrder, rules.word_order)
    if address + count > 0x10000:
        fields.fail("address", f"{address} + {count} registers runs past the last register")
    start, end = address, address + count
    if rules.even_alignment:
        start, end = start - start % 2, end + end % 2
    if end - start > rules.max_registers:
        fields.fail("count", f"{end - start} registers exceed link.max_registers")
    if (address - rules.alignment_base) % rules.alignment + count > rules.max_registers:
        fields.fail(
            "address",
            f"{address} + {count} registers cross a bank of {rules.alignment} (link.alignment)",
        )
    for barrier in barriers.get(access, ()):
        if start < barrier < end:
            fields.fail("address", f"the value spans barrier {barrier:#06x}")
    return Register(access=access, address=address, type=kind, count=count, word_order=word_order)


def _options(fields: _Fields, kind: RegisterType) -> dict[int, str]:
    value = fields.raw("options")
    if value is _MISSING:
        return {}
    if kind is RegisterType.ASCII:
        fields.fail("options", "an ascii value is text and cannot be an enum")
    if not isinstance(value, Mapping) or not value:
        fields.fail("options", f"must map raw values to option names, got {_show(value)}")
    options: dict[int, str] = {}
    for raw, option in value.items():
        if isinstance(raw, bool) or not isinstance(raw, int):
            fields.fail("options", f"raw value {_show(raw)} is not a whole number")
        if not isinstance(option, str) or not _SNAKE.fullmatch(option):
            fields.fail("options", f"option {_show(option)} of {raw} is not snake_case")
        if option in options.values():
            fields.fail("options", f"option {option!r} appears twice")
        options[raw] = option
    return dict(sorted(options.items()))


def _option_labels(fields: _Fields, options: Mapping[int, str]) -> tuple[str, ...]:
    """Return an English label per option (given ones, else the option name made readable)."""
    value = fields.raw("option_labels")
    if value is _MISSING:
        return ()
    if not options:
        fields.fail("option_labels", "only a value with `options` takes option labels")
    if not isinstance(value, Mapping) or not value:
        fields.fail("option_labels", f"must map raw values to labels, got {_show(value)}")
    for raw, label in value.items():
        if isinstance(raw, bool) or raw not in options:
            fields.fail("option_labels", f"{_show(raw)} is not one of the raw values in `options`")
        if not isinstance(label, str) or not label.strip():
            fields.fail("option_labels", f"the label of {raw} must be non-empty text")
    return tuple(
        value.get(raw, option.replace("_", " ").capitalize()) for raw, option in options.items()
    )


def _switch_value(fields: _Fields, name: str, default: int, kind: RegisterType) -> int | float:
    """Return the raw on or off value of a switch, checked to fit the register type."""
    value = fields.number(name, default=default)
    assert value is not None
    if kind.integer:
        low, high = kind.limits
        if not float(value).is_integer() or not low <= value <= high:
            fields.fail(name, f"{value} is not a whole {kind} value ({low}..{high})")
        return int(value)
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class _Entity:
    """What readings and settings share, read from one item."""

    scale: float
    offset: float
    options: dict[int, str]
    bit: int | None
    bits: tuple[int, int] | None
    on_value: int | float | None
    off_value: int | float | None
    time_format: TimeFormat | None
    point_fields: dict[str, Any]


def _entity(fields: _Fields, register: Register, *, kind: PointKind) -> _Entity:
    """Read the fields every reading and setting has."""
    key = fields.snake("key")
    name = fields.text("name", required=True)
    if register.type is RegisterType.ASCII:
        for unusable in ("scale", "offset"):
            if fields.has(unusable):
                fields.fail(unusable, "ascii values are text and take no scale or offset")
    scale = fields.number("scale", default=1)
    offset = fields.number("offset", default=0)
    assert scale is not None
    assert offset is not None
    if scale == 0:
        fields.fail("scale", "must not be 0")
    options = _options(fields, register.type)
    bit = None
    if fields.has("bit"):
        if not register.type.integer:
            fields.fail("bit", f"a bit is read from a whole-number register, not {register.type}")
        if options:
            fields.fail("bit", "a value is either a bit or an enum, not both")
        bit = fields.integer("bit", low=0, high=16 * register.count - 1)
    bits = _bits(fields, register, bit)
    on_value = off_value = None
    if fields.flag("switch", False):
        if register.type is RegisterType.ASCII:
            fields.fail("switch", "an ascii value is text and cannot be a switch")
        if options:
            fields.fail("switch", "a setting is either a switch or has options, not both")
        for unusable in ("scale", "offset"):
            if fields.has(unusable):
                fields.fail(unusable, "a switch writes raw on/off values; it takes no " + unusable)
        on_value = _switch_value(fields, "on_value", 1, register.type)
        off_value = _switch_value(fields, "off_value", 0, register.type)
        if on_value == off_value:
            fields.fail("off_value", f"must differ from on_value ({on_value})")
    else:
        for only_for_switches in ("on_value", "off_value"):
            if fields.has(only_for_switches):
                fields.fail(only_for_switches, "only a setting with `switch: true` takes it")
    time_format = _time_format(fields, register, (options, bit, on_value))
    state_class = _state_class(fields)
    if time_format is not None:
        value_type = ValueType.TIME
    elif options:
        value_type = ValueType.ENUM
    elif bit is not None or on_value is not None:
        value_type = ValueType.BOOL
    elif register.type is RegisterType.ASCII:
        value_type = ValueType.TEXT
    elif register.type.integer and float(scale).is_integer() and float(offset).is_integer():
        value_type = ValueType.INT
    else:
        value_type = ValueType.FLOAT
    setting = kind is PointKind.SETTING
    point_fields: dict[str, Any] = {
        "key": key,
        "name": name,
        "kind": kind,
        "value_type": value_type,
        "unit": fields.text("unit"),
        "device_class": _device_class(fields),
        "state_class": state_class,
        "daily": fields.flag("daily", False),
        "options": tuple(options.values()),
        "option_labels": _option_labels(fields, options),
        "group": fields.choice("group", PollGroup, PollGroup.SLOW if setting else PollGroup.LIVE),
        "precision": fields.integer("precision", low=0, high=10),
        "enabled_by_default": fields.flag("enabled_by_default", True),
        "category": fields.choice(
            "category", Category, Category.CONFIG if setting else Category.PRIMARY
        ),
        "expert": fields.flag("expert", False),
        "icon": fields.text("icon"),
    }
    return _Entity(
        scale=scale,
        offset=offset,
        options=options,
        bit=bit,
        bits=bits,
        on_value=on_value,
        off_value=off_value,
        time_format=time_format,
        point_fields=point_fields,
    )


def _state_class(fields: _Fields) -> str | None:
    """Return a point's state class, refusing one Home Assistant does not have."""
    state_class = fields.text("state_class")
    if state_class is not None and state_class not in _STATE_CLASSES:
        fields.fail("state_class", f"{state_class!r} is not one of {', '.join(_STATE_CLASSES)}")
    return state_class


def _device_class(fields: _Fields) -> str | None:
    """Return a point's device class, refusing one Home Assistant does not have."""
    device_class = fields.text("device_class")
    if device_class is not None and device_class not in _DEVICE_CLASSES:
        fields.fail("device_class", f"{device_class!r} is not a Home Assistant device class")
    return device_class


def _bits(fields: _Fields, register: Register, bit: int | None) -> tuple[int, int] | None:
    """Return the bits (lowest, highest) of one register a value keeps to (`bits: [0, 12]`)."""
    value = fields.raw("bits")
    if value is _MISSING:
        return None
    if register.type is not RegisterType.U16:
        fields.fail("bits", f"bit fields are parts of one u16 register, not {register.type}")
    if bit is not None:
        fields.fail("bits", "give `bit` for a one-bit reading or `bits`, not both")
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(item, int) and not isinstance(item, bool) for item in value)
        or not 0 <= value[0] <= value[1] <= 15
    ):
        fields.fail("bits", f"must be [lowest, highest] bits within 0..15, got {_show(value)}")
    for unusable in ("scale", "offset"):
        if fields.has(unusable):
            fields.fail(unusable, "a bit field holds a raw code; it takes no " + unusable)
    return value[0], value[1]


def _time_format(
    fields: _Fields, register: Register, others: tuple[dict[int, str], int | None, object]
) -> TimeFormat | None:
    """Return how the value holds a time of day (`time: hhmm`), if it is one."""
    value = fields.raw("time")
    if value is _MISSING:
        return None
    formats = [item.value for item in TimeFormat]
    if value not in formats:
        fields.fail("time", f"{_show(value)} is not one of {', '.join(formats)}")
    if not register.type.integer:
        fields.fail("time", f"a time is stored in a whole-number register, not {register.type}")
    options, bit, on_value = others
    if options or bit is not None or on_value is not None:
        fields.fail("time", "a time cannot also be an enum, a bit or a switch")
    for unusable in ("scale", "offset"):
        if fields.has(unusable):
            fields.fail(unusable, "a time takes no " + unusable)
    return TimeFormat(value)


def _reading(fields: _Fields, register: Register) -> RegisterPoint:
    entity = _entity(fields, register, kind=PointKind.READING)
    point = Point(
        **entity.point_fields, plausible=fields.pair("plausible"), spike=fields.number("spike")
    )
    return RegisterPoint(
        point=point,
        register=register,
        scale=entity.scale,
        offset=entity.offset,
        options=entity.options,
        bit=entity.bit,
        bits=entity.bits,
        time_format=entity.time_format,
    )


def _scaled(raw: int, entity: _Entity) -> float:
    return float(Decimal(raw) * Decimal(repr(entity.scale)) + Decimal(repr(entity.offset)))


def _setting(fields: _Fields, register: Register) -> RegisterPoint:
    if register.access is not Access.HOLDING:
        fields.fail("access", "settings are holding registers")
    entity = _entity(fields, register, kind=PointKind.SETTING)
    default_write = WriteFunction.FC06 if register.count == 1 else WriteFunction.FC16
    write = fields.choice("write", WriteFunction, default_write)
    if write is WriteFunction.FC06 and register.count != 1:
        fields.fail("write", f"fc06 writes one register; this value takes {register.count}")
    minimum = fields.number("minimum")
    maximum = fields.number("maximum")
    step = fields.number("step")
    choices = _choices(fields)
    if entity.point_fields["value_type"] not in (ValueType.INT, ValueType.FLOAT):
        for unusable in ("minimum", "maximum", "step", "choices"):
            if fields.has(unusable):
                fields.fail(
                    unusable, "only number settings take a minimum, maximum, step or choices"
                )
    elif register.type.integer:
        # Without limits the type's own range keeps an out-of-range number from being sent.
        ends = sorted(_scaled(raw, entity) for raw in register.type.limits)
        minimum = ends[0] if minimum is None else minimum
        maximum = ends[1] if maximum is None else maximum
        step = abs(entity.scale) if step is None else step
    if minimum is not None and maximum is not None and minimum > maximum:
        fields.fail("minimum", f"{minimum} is above maximum {maximum}")
    if step is not None and step <= 0:
        fields.fail("step", f"must be greater than 0, got {step}")
    for choice in choices:
        if (minimum is not None and choice < minimum) or (maximum is not None and choice > maximum):
            fields.fail("choices", f"{choice:g} is outside minimum {minimum} .. maximum {maximum}")
    point = Point(
        **entity.point_fields, minimum=minimum, maximum=maximum, step=step, choices=choices
    )
    return RegisterPoint(
        point=point,
        register=register,
        scale=entity.scale,
        offset=entity.offset,
        options=entity.options,
        on_value=entity.on_value,
        off_value=entity.off_value,
        bits=entity.bits,
        time_format=entity.time_format,
        write=write,
    )


def _choices(fields: _Fields) -> tuple[float, ...]:
    """Return the only values a number setting takes (none: any value in range and step)."""
    value = fields.raw("choices")
    if value is _MISSING:
        return ()
    if (
        not isinstance(value, list)
        or not value
        or any(isinstance(item, bool) or not isinstance(item, int | float) for item in value)
        or len(set(value)) != len(value)
    ):
        fields.fail("choices", f"must be a list of distinct numbers, got {_show(value)}")
    return tuple(sorted(float(item) for item in value))


def _derived(fields: _Fields, readings: Mapping[str, RegisterPoint]) -> DerivedPoint:
    """Read a reading computed from two others: `difference: [a, b]` or `sum: [a, b]`."""
    key = fields.snake("key")
    name = fields.text("name", required=True)
    if fields.has("difference") == fields.has("sum"):
        fields.fail(None, "give exactly one of `difference: [a, b]` or `sum: [a, b]`")
    operation: Literal["difference", "sum"] = "sum" if fields.has("sum") else "difference"
    inputs = fields.raw(operation, required=True)
    if (
        not isinstance(inputs, list)
        or len(inputs) != 2
        or not all(isinstance(item, str) for item in inputs)
        or inputs[0] == inputs[1]
    ):
        fields.fail(operation, f"must be two different reading keys, got {_show(inputs)}")
    value_types = []
    for item in inputs:
        reading = readings.get(item)
        if reading is None:
            fields.fail(operation, f"{item!r} is not a reading of this profile")
        if not reading.point.numeric:
            fields.fail(operation, f"{item!r} is not a number")
        value_types.append(reading.point.value_type)
    state_class = _state_class(fields)
    integer = all(value_type is ValueType.INT for value_type in value_types)
    point = Point(
        key=key,
        name=name or "",
        kind=PointKind.READING,
        value_type=ValueType.INT if integer else ValueType.FLOAT,
        unit=fields.text("unit"),
        device_class=_device_class(fields),
        state_class=state_class,
        daily=fields.flag("daily", False),
        derived_from=(inputs[0], inputs[1]),
        group=fields.choice("group", PollGroup, PollGroup.LIVE),
        plausible=fields.pair("plausible"),
        spike=fields.number("spike"),
        precision=fields.integer("precision", low=0, high=10),
        enabled_by_default=fields.flag("enabled_by_default", True),
        category=fields.choice("category", Category, Category.PRIMARY),
        expert=fields.flag("expert", False),
        icon=fields.text("icon"),
    )
    return DerivedPoint(point=point, first=inputs[0], second=inputs[1], operation=operation)


def _holding_values(fields: _Fields, name: str) -> tuple[RegisterWrite, ...]:
    """Return a non-empty `{address: raw}` mapping of holding registers, in written order."""
    value = fields.raw(name, required=True)
    if not isinstance(value, Mapping) or not value:
        fields.fail(name, f"must map register addresses to raw values, got {_show(value)}")
    steps = []
    for address, raw in value.items():
        for number in (address, raw):
            if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 0xFFFF:
                fields.fail(name, f"{_show(number)} is not a 16-bit register address or value")
        steps.append(RegisterWrite(address=address, value=raw))
    return tuple(steps)


def _choice_point(fields: _Fields, kind: PointKind, value_type: ValueType, **extra: Any) -> Point:
    """Return the point of a mode, composite setting or action from its common fields."""
    expert = fields.flag("expert", False)
    return Point(
        key=fields.snake("key"),
        name=fields.text("name", required=True) or "",
        kind=kind,
        value_type=value_type,
        group=fields.choice("group", PollGroup, PollGroup.SLOW),
        # An expert action stays hidden until someone turns it on, as PI30's do.
        enabled_by_default=fields.flag(
            "enabled_by_default", kind is PointKind.SETTING or not expert
        ),
        category=fields.choice("category", Category, Category.CONFIG),
        expert=expert,
        icon=fields.text("icon"),
        **extra,
    )


def _mode(fields: _Fields) -> ModeSetting:
    """Read a select whose options each write several holding registers."""
    raw_options = fields.raw("options", required=True)
    if not isinstance(raw_options, Mapping) or len(raw_options) < 2:
        fields.fail(
            "options", f"must map two or more option names to writes, got {_show(raw_options)}"
        )
    options: dict[str, ModeOption] = {}
    for name, spec in raw_options.items():
        if not isinstance(name, str) or not _SNAKE.fullmatch(name):
            fields.fail("options", f"option {_show(name)} is not snake_case")
        option = _Fields(spec, fields.file, fields.where(f"options.{name}"), ("write", "match"))
        writes = _holding_values(option, "write")
        written = {step.address: step.value for step in writes}
        if option.has("match"):
            match = {step.address: step.value for step in _holding_values(option, "match")}
        else:
            match = written
        if any(written.get(address) != raw for address, raw in match.items()):
            option.fail("match", "every matched register must be written with that value")
        for earlier, known in options.items():
            # After writing this option the device must read as it, not as an earlier one.
            if all(written.get(address) == raw for address, raw in known.match.items()):
                option.fail("write", f"the registers written read back as option {earlier!r}")
        options[name] = ModeOption(writes=writes, match=match)
    labels = fields.raw("option_labels")
    option_labels: tuple[str, ...] = ()
    if labels is not _MISSING:
        if not isinstance(labels, Mapping) or any(
            option not in options or not isinstance(label, str) or not label.strip()
            for option, label in labels.items()
        ):
            fields.fail("option_labels", "must map option names to non-empty labels")
        option_labels = tuple(
            labels.get(option, option.replace("_", " ").capitalize()) for option in options
        )
    point = _choice_point(
        fields,
        PointKind.SETTING,
        ValueType.ENUM,
        options=tuple(options),
        option_labels=option_labels,
    )
    return ModeSetting(point=point, options=options)


def _composite(fields: _Fields, settings: Mapping[str, RegisterPoint]) -> CompositeSetting:
    """Read time settings written as one unit: `parts: [start_key, end_key]`."""
    parts = fields.raw("parts", required=True)
    if (
        not isinstance(parts, list)
        or len(parts) < 2
        or not all(isinstance(part, str) for part in parts)
        or len(set(parts)) != len(parts)
    ):
        fields.fail("parts", f"must be two or more different setting keys, got {_show(parts)}")
    for part in parts:
        setting = settings.get(part)
        if setting is None:
            fields.fail("parts", f"{part!r} is not a setting of this profile")
        if setting.time_format is None:
            fields.fail("parts", f"{part!r} is not a time setting (`time:`)")
    point = _choice_point(fields, PointKind.SETTING, ValueType.TEXT)
    return CompositeSetting(point=point, parts=tuple(parts))


def _action(fields: _Fields) -> ActionPoint:
    """Read an action: `writes: {address: raw}` or `clock: {address, year_offset}`."""
    point = _choice_point(fields, PointKind.ACTION, ValueType.BOOL)
    if fields.has("writes") == fields.has("clock"):
        fields.fail(None, "give exactly one of `writes: {address: value}` or `clock: {...}`")
    clock = fields.nested("clock", ("address", "year_offset"))
    if clock is None:
        return ActionPoint(point=point, writes=_holding_values(fields, "writes"))
    address = clock.integer("address", required=True, low=0, high=0xFFFF - 5)
    year_offset = clock.integer("year_offset", default=0, low=0, high=9999)
    assert address is not None
    assert year_offset is not None
    return ActionPoint(point=point, clock_address=address, year_offset=year_offset)


def _link(fields: _Fields | None) -> LinkRules:
    if fields is None:
        return LinkRules()
    defaults = LinkRules()
    serial = fields.nested("serial", ("baudrate", "bytesize", "parity", "stopbits"))
    baudrate, bytesize, parity, stopbits = (
        defaults.baudrate,
        defaults.bytesize,
        defaults.parity,
        defaults.stopbits,
    )
    if serial is not None:
        baudrate = serial.integer("baudrate", default=baudrate, low=300, high=4_000_000) or baudrate
        bytesize = serial.integer("bytesize", default=bytesize, low=7, high=8) or bytesize
        parity = serial.text("parity", default=parity) or parity
        if parity not in _PARITIES:
            serial.fail("parity", f"{parity!r} is not one of {', '.join(_PARITIES)}")
        stopbits = serial.number("stopbits", default=stopbits) or stopbits
        if stopbits not in (1, 2):
            serial.fail("stopbits", f"must be 1 or 2, got {stopbits}")
    gap = fields.number("gap", default=defaults.gap)
    assert gap is not None
    if gap < 0:
        fields.fail("gap", f"must not be negative, got {gap}")
    max_registers = fields.integer("max_registers", default=125, low=1, high=125) or 125
    return LinkRules(
        baudrate=baudrate,
        bytesize=bytesize,
        parity=parity,
        stopbits=stopbits,
        gap=gap,
        timeout=fields.positive("timeout", defaults.timeout),
        max_registers=max_registers,
        even_alignment=fields.flag("even_alignment", defaults.even_alignment),
        alignment=fields.integer("alignment", default=1, low=1, high=max_registers) or 1,
        alignment_base=fields.integer("alignment_base", default=0, low=0, high=0xFFFF) or 0,
        word_order=fields.choice("word_order", WordOrder, defaults.word_order),
    )


def _barriers(fields: _Fields | None) -> dict[Access, tuple[int, ...]]:
    if fields is None:
        return {}
    barriers: dict[Access, tuple[int, ...]] = {}
    for access in Access:
        addresses: list[int] = []
        for path, item in fields.items(access.value):
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 0xFFFF:
                raise ProfileError(
                    f"{fields.file}: {path}: {_show(item)} is not an address", file=fields.file
                )
            addresses.append(item)
        barriers[access] = tuple(sorted(set(addresses)))
    return barriers


def _identify_rule(
    fields: _Fields, rules: LinkRules, barriers: Mapping[Access, tuple[int, ...]]
) -> IdentifyRule:
    register = _register(fields, rules, barriers)
    has_equals, has_answers = fields.has("equals"), fields.has("answers")
    if has_equals == has_answers:
        fields.fail(None, "give exactly one of `equals: [...]` or `answers: true`")
    if has_answers:
        if fields.raw("answers") is not True:
            fields.fail("answers", "must be true")
        return IdentifyRule(register=register)
    expected = fields.raw("equals")
    if not isinstance(expected, list) or not expected:
        fields.fail("equals", f"must be a non-empty list, got {_show(expected)}")
    wanted: type | tuple[type, ...] = str if register.type is RegisterType.ASCII else (int, float)
    for item in expected:
        if isinstance(item, bool) or not isinstance(item, wanted):
            fields.fail("equals", f"{_show(item)} cannot be a {register.type} value")
    return IdentifyRule(register=register, equals=tuple(expected))


def parse_profile(data: object, file: str, source: Path | None = None) -> Profile:
    """Return the profile described by already parsed YAML data."""
    top = _Fields(
        data,
        file,
        "",
        (
            "id",
            "manufacturer",
            "model",
            "priority",
            "notes",
            "link",
            "identify",
            "barriers",
            "info",
            "points",
            "settings",
            "derived",
            "modes",
            "composites",
            "actions",
        ),
    )
    profile_id = top.snake("id")
    if source is not None and source.stem != profile_id:
        top.fail("id", f"{profile_id!r} must match the file name {source.name!r}")
    top.text("notes")
    link = _link(
        top.nested(
            "link",
            (
                "serial",
                "gap",
                "timeout",
                "max_registers",
                "even_alignment",
                "alignment",
                "alignment_base",
                "word_order",
            ),
        )
    )
    barriers = _barriers(top.nested("barriers", tuple(access.value for access in Access)))

    def each(
        name: str, allowed: tuple[str, ...], build: Callable[[_Fields], object]
    ) -> list[object]:
        return [build(_Fields(item, file, path, allowed)) for path, item in top.items(name)]

    identify = each(
        "identify",
        (*_REGISTER_FIELDS, "equals", "answers"),
        lambda fields: _identify_rule(fields, link, barriers),
    )
    info: dict[str, Register] = {}
    info_fields = top.raw("info")
    if info_fields is not _MISSING and info_fields is not None:
        if not isinstance(info_fields, Mapping):
            top.fail("info", f"must be a mapping, got {_show(info_fields)}")
        for name, spec in info_fields.items():
            if not isinstance(name, str) or not _SNAKE.fullmatch(name):
                top.fail("info", f"{_show(name)} is not a snake_case name")
            info[name] = _register(
                _Fields(spec, file, f"info.{name}", _REGISTER_FIELDS), link, barriers
            )
    points = each(
        "points", _POINT_FIELDS, lambda fields: _reading(fields, _register(fields, link, barriers))
    )
    settings = each(
        "settings",
        _SETTING_FIELDS,
        lambda fields: _setting(fields, _register(fields, link, barriers)),
    )
    readings = {item.key: item for item in points if isinstance(item, RegisterPoint)}
    derived = each("derived", _DERIVED_FIELDS, lambda fields: _derived(fields, readings))
    setting_points = {item.key: item for item in settings if isinstance(item, RegisterPoint)}
    modes = each("modes", _MODE_FIELDS, _mode)
    composites = each(
        "composites", _COMPOSITE_FIELDS, lambda fields: _composite(fields, setting_points)
    )
    actions = each("actions", _ACTION_FIELDS, _action)
    seen: set[str] = set()
    for group_name, group in (
        ("points", points),
        ("settings", settings),
        ("derived", derived),
        ("modes", modes),
        ("composites", composites),
        ("actions", actions),
    ):
        for index, item in enumerate(group):
            assert isinstance(
                item, RegisterPoint | DerivedPoint | ModeSetting | CompositeSetting | ActionPoint
            )
            if item.key in seen:
                top.fail(f"{group_name}[{index}].key", f"{item.key!r} is used twice")
            seen.add(item.key)
    return Profile(
        id=profile_id,
        manufacturer=top.text("manufacturer", required=True) or "",
        model=top.text("model", required=True) or "",
        priority=top.integer("priority", default=0) or 0,
        link=link,
        identify=tuple(rule for rule in identify if isinstance(rule, IdentifyRule)),
        barriers=barriers,
        info=info,
        points=tuple(item for item in points if isinstance(item, RegisterPoint)),
        settings=tuple(item for item in settings if isinstance(item, RegisterPoint)),
        derived=tuple(item for item in derived if isinstance(item, DerivedPoint)),
        modes=tuple(item for item in modes if isinstance(item, ModeSetting)),
        composites=tuple(item for item in composites if isinstance(item, CompositeSetting)),
        actions=tuple(item for item in actions if isinstance(item, ActionPoint)),
        source=source,
    )


def load_profile(path: Path) -> Profile:
    """Read and check one profile file (blocking: run it in an executor from async code)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ProfileError(f"{path.name}: cannot read: {err}", file=path.name) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ProfileError(f"{path.name}: not valid YAML: {err}", file=path.name) from err
    return parse_profile(data, path.name, path)
