"""A Modbus device profile: where each value lives and how to turn registers into values."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
import math
from pathlib import Path
import re
from typing import Literal

from ..errors import NotWritableError, UnknownPointError, ValidationError
from ..model import Point, Value
from ..transport.serial import SerialSettings
from ..validate import validate
from .codec import (
    RegisterType,
    WordOrder,
    number_to_registers,
    registers_to_number,
    registers_to_text,
    text_to_registers,
)
from .planner import Span


class Access(StrEnum):
    """Which register table a value is read from."""

    INPUT = "input"
    HOLDING = "holding"

    @property
    def function_code(self) -> int:
        """Return the Modbus function that reads this table (FC04 or FC03)."""
        return 4 if self is Access.INPUT else 3


class WriteFunction(StrEnum):
    """How a setting is written."""

    FC06 = "fc06"
    FC16 = "fc16"


@dataclass(frozen=True, kw_only=True, slots=True)
class Register:
    """Where a value is stored: table, first register, type, register count, word order."""

    access: Access
    address: int
    type: RegisterType
    count: int
    word_order: WordOrder = WordOrder.BIG

    @property
    def end(self) -> int:
        """Return the address just past the last register."""
        return self.address + self.count

    def raw(self, registers: Sequence[int]) -> int | float | str:
        """Return the raw number or text in `registers` (exactly `count` of them)."""
        if len(registers) != self.count:
            raise ValueError(f"expected {self.count} registers, got {len(registers)}")
        if self.type is RegisterType.ASCII:
            return registers_to_text(registers)
        return registers_to_number(registers, self.type, self.word_order)

    def pack(self, raw: int | float | str) -> list[int]:
        """Return the registers that store a raw number or text."""
        if self.type is RegisterType.ASCII:
            return text_to_registers(str(raw), self.count)
        if isinstance(raw, str):
            raise TypeError(f"{self.type} holds numbers, not text")
        return number_to_registers(raw, self.type, self.word_order)


def _decimal(number: float) -> Decimal:
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


class TimeFormat(StrEnum):
    """How a whole number holds a time of day."""

    # The decimal number HHMM (GivEnergy's time slots: 04:30 is 430).
    HHMM = "hhmm"
    # The hour in the high byte, the minute in the low byte (Growatt's time periods).
    HOUR_MINUTE = "hour_minute"

    def to_time(self, raw: int) -> time | None:
        """Return the time of day `raw` holds; None when it holds none."""
        hours, minutes = divmod(raw, 100) if self is TimeFormat.HHMM else divmod(raw, 256)
        if not (0 <= hours < 24 and 0 <= minutes < 60):
            return None
        return time(hours, minutes)

    def to_raw(self, value: time) -> int:
        """Return the whole number that holds a time of day."""
        return value.hour * (100 if self is TimeFormat.HHMM else 256) + value.minute


FULL_MASK = 0xFFFF


@dataclass(frozen=True, kw_only=True, slots=True)
class RegisterWrite:
    """One holding register set to one raw value: a step of a write.

    A `mask` other than every bit sets only those bits: the client reads the register and
    keeps the others as they are.
    """

    address: int
    value: int
    mask: int = FULL_MASK

    def onto(self, held: int) -> int:
        """Return the whole register value this step leaves in a register holding `held`."""
        return (held & ~self.mask & FULL_MASK) | (self.value & self.mask)


def merge_writes(steps: Sequence[RegisterWrite]) -> tuple[RegisterWrite, ...]:
    """Return the steps with the ones that set bits of the same register made one step."""
    merged: dict[int, RegisterWrite] = {}
    for step in steps:
        known = merged.get(step.address)
        merged[step.address] = (
            step
            if known is None
            else RegisterWrite(
                address=step.address, value=step.onto(known.value), mask=known.mask | step.mask
            )
        )
    return tuple(merged.values())


@dataclass(frozen=True, kw_only=True, slots=True)
class RegisterPoint:
    """A profile's reading or setting: the Point it produces and the register behind it.

    `options` make an enum (raw code -> option), `bit` a boolean reading of one bit,
    `bits` (lowest, highest) a value kept in those bits of one register alongside others,
    `on_value`/`off_value` an on/off setting stored as two raw values, and `time_format` a
    time of day stored as a whole number.
    """

    point: Point
    register: Register
    scale: float = 1
    offset: float = 0
    options: Mapping[int, str] = field(default_factory=dict)
    bit: int | None = None
    bits: tuple[int, int] | None = None
    on_value: int | float | None = None
    off_value: int | float | None = None
    time_format: TimeFormat | None = None
    write: WriteFunction | None = None

    @property
    def key(self) -> str:
        """Return the point key."""
        return self.point.key

    @property
    def switch(self) -> bool:
        """Return whether the value is on/off, stored as `on_value` or `off_value`."""
        return self.on_value is not None

    @property
    def mask(self) -> int:
        """Return the bits of its register a bit-field value occupies (every bit otherwise)."""
        if self.bits is None:
            return FULL_MASK
        low, high = self.bits
        return ((1 << (high - low + 1)) - 1) << low

    def decode(self, registers: Sequence[int]) -> Value | None:
        """Return the value in `registers`; None when the device holds no valid value."""
        raw = self.register.raw(registers)
        if isinstance(raw, str):
            return raw
        if self.bits is not None:
            raw = (int(raw) & self.mask) >> self.bits[0]
        if self.time_format is not None:
            # Devices keep 0 or an impossible time such as 60 for "no slot"; 60 is no time.
            return self.time_format.to_time(int(raw)) if isinstance(raw, int) else None
        if self.bit is not None:
            unsigned = int(raw) & ((1 << (16 * self.register.count)) - 1)
            return bool(unsigned >> self.bit & 1)
        if self.switch:
            # Anything but the two documented values is an unknown state, not "off".
            return True if raw == self.on_value else False if raw == self.off_value else None
        if self.options:
            # Eastron keeps codes as floats: 2.0 is code 2, while 2.5 or NaN is no code at all.
            if isinstance(raw, float) and not raw.is_integer():
                return None
            # An undocumented state is not published rather than guessed.
            return self.options.get(int(raw))
        if isinstance(raw, float) and not math.isfinite(raw):
            return None
        if self.scale == 1 and self.offset == 0:
            return raw
        # Decimal arithmetic keeps 2299 * 0.1 at 229.9 instead of 229.90000000000003.
        value = _decimal(raw) * _decimal(self.scale) + _decimal(self.offset)
        if self.register.type.integer and value == value.to_integral_value():
            return int(value)
        return float(value)

    def encode(self, value: Value) -> list[int]:
        """Return the registers that store `value` (an already validated setting).

        A bit-field value comes back in its bits, the register's other bits zero.
        """
        words = self._encode(value)
        if self.bits is None:
            return words
        field = words[0] & (self.mask >> self.bits[0])
        if field != words[0]:
            raise ValidationError(f"{self.key}: {value!r} does not fit its bits", key=self.key)
        return [field << self.bits[0]]

    def _encode(self, value: Value) -> list[int]:
        if self.bit is not None:
            raise ValidationError(
                f"{self.key} is one bit of a register and cannot be written", key=self.key
            )
        if self.register.type is RegisterType.ASCII:
            if not isinstance(value, str):
                raise ValidationError(f"{self.key} needs text, got {value!r}", key=self.key)
            try:
                return self.register.pack(value)
            except (ValueError, UnicodeEncodeError) as err:
                raise ValidationError(f"{self.key}: {err}", key=self.key) from err
        if self.time_format is not None:
            if not isinstance(value, time):
                raise ValidationError(
                    f"{self.key} needs a time of day, got {value!r}", key=self.key
                )
            return self.register.pack(self.time_format.to_raw(value))
        if self.switch:
            if not isinstance(value, bool):
                raise ValidationError(f"{self.key} needs on or off, got {value!r}", key=self.key)
            stored = self.on_value if value else self.off_value
            assert stored is not None  # the loader gives a switch both values
            return self.register.pack(stored)
        if self.options:
            for raw_option, option in self.options.items():
                if option == value:
                    return self.register.pack(raw_option)
            raise ValidationError(
                f"{self.key} must be one of {', '.join(self.options.values())}, got {value!r}",
                key=self.key,
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"{self.key} needs a number, got {value!r}", key=self.key)
        raw = (_decimal(value) - _decimal(self.offset)) / _decimal(self.scale)
        try:
            if self.register.type.integer:
                return self.register.pack(int(raw.quantize(Decimal(1), ROUND_HALF_EVEN)))
            return self.register.pack(float(raw))
        except (ValueError, OverflowError) as err:
            raise ValidationError(f"{self.key}: {err}", key=self.key) from err

    def writes(self, value: Value) -> tuple[RegisterWrite, ...]:
        """Return the register steps that store `value`, one per register."""
        return tuple(
            RegisterWrite(address=self.register.address + index, value=word, mask=self.mask)
            for index, word in enumerate(self.encode(value))
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class DerivedPoint:
    """A reading computed from two others after they are read: `first - second` or their sum."""

    point: Point
    first: str
    second: str
    operation: Literal["difference", "sum"] = "difference"

    @property
    def key(self) -> str:
        """Return the point key."""
        return self.point.key

    @property
    def inputs(self) -> tuple[str, str]:
        """Return the keys of the readings this value is computed from."""
        return self.first, self.second

    def compute(self, values: Mapping[str, Value | None]) -> Value | None:
        """Return the value from the inputs' values; None unless both were read as numbers."""
        left, right = values.get(self.first), values.get(self.second)
        if (
            isinstance(left, bool)
            or isinstance(right, bool)
            or not isinstance(left, int | float)
            or not isinstance(right, int | float)
        ):
            return None
        # Decimal keeps 229.9 - 12.3 at 217.6 rather than 217.60000000000002.
        if self.operation == "sum":
            result = _decimal(left) + _decimal(right)
        else:
            result = _decimal(left) - _decimal(right)
        if isinstance(left, int) and isinstance(right, int):
            return int(result)
        return float(result)


@dataclass(frozen=True, kw_only=True, slots=True)
class ModeOption:
    """What choosing one option of a mode writes, and which register values read as it."""

    writes: tuple[RegisterWrite, ...]
    match: Mapping[int, int]


@dataclass(frozen=True, kw_only=True, slots=True)
class ModeSetting:
    """A select whose options each set several holding registers (a battery mode).

    A device reads as the first option, in order, whose `match` registers all hold their
    values; none matching is an unknown state, not published.
    """

    point: Point
    options: Mapping[str, ModeOption]

    @property
    def key(self) -> str:
        """Return the point key."""
        return self.point.key

    @property
    def registers(self) -> tuple[int, ...]:
        """Return the holding registers that tell the options apart."""
        return tuple(
            sorted({address for option in self.options.values() for address in option.match})
        )

    def decode(self, registers: Mapping[int, int]) -> str | None:
        """Return the option the registers read as, or None."""
        for name, option in self.options.items():
            if all(registers.get(address) == raw for address, raw in option.match.items()):
                return name
        return None

    def writes(self, value: Value) -> tuple[RegisterWrite, ...]:
        """Return the steps that set an option, in the order they are written."""
        option = self.options.get(value) if isinstance(value, str) else None
        if option is None:
            raise ValidationError(
                f"{self.key} must be one of {', '.join(self.options)}, got {value!r}",
                key=self.key,
            )
        return option.writes


_CLOCK_TEXT = re.compile(r"\d{2}:\d{2}")


@dataclass(frozen=True, kw_only=True, slots=True)
class CompositeSetting:
    """Time settings written as one unit (a slot's start and end): "04:30-07:00".

    The value is the parts' times as HH:MM joined by `separator`; a write is validated whole
    before any part is sent.
    """

    point: Point
    parts: tuple[str, ...]
    separator: str = "-"

    @property
    def key(self) -> str:
        """Return the point key."""
        return self.point.key

    def join(self, values: Sequence[Value | None]) -> str | None:
        """Return the value of the parts' values; None unless every part is a time."""
        if not all(isinstance(value, time) for value in values):
            return None
        return self.separator.join(f"{value:%H:%M}" for value in values if isinstance(value, time))

    def split(self, value: Value) -> list[str]:
        """Return the text of each part, refusing anything but HH:MM parts."""
        pieces = str(value).split(self.separator)
        if len(pieces) != len(self.parts) or not all(
            _CLOCK_TEXT.fullmatch(piece) for piece in pieces
        ):
            example = self.separator.join(["HH:MM"] * len(self.parts))
            raise ValidationError(f"{self.key} needs {example}, got {value!r}", key=self.key)
        return pieces


@dataclass(frozen=True, kw_only=True, slots=True)
class ActionPoint:
    """An action: fixed values into holding registers, or the local time into a clock.

    A clock is six registers from `clock_address`: year minus `year_offset`, month, day,
    hour, minute, second.
    """

    point: Point
    writes: tuple[RegisterWrite, ...] = ()
    clock_address: int | None = None
    year_offset: int = 0

    @property
    def key(self) -> str:
        """Return the point key."""
        return self.point.key

    def steps(self, now: datetime) -> tuple[RegisterWrite, ...]:
        """Return the writes that perform the action at local time `now`."""
        if self.clock_address is None:
            return self.writes
        fields = (now.year - self.year_offset, now.month, now.day, now.hour, now.minute, now.second)
        return tuple(
            RegisterWrite(address=self.clock_address + index, value=field)
            for index, field in enumerate(fields)
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class IdentifyRule:
    """One condition a device must meet to be recognised as a profile's model."""

    register: Register
    equals: tuple[int | float | str, ...] = ()

    def matches(self, registers: Sequence[int]) -> bool:
        """Return whether the registers read satisfy the rule (any answer does without `equals`)."""
        if not self.equals:
            return True
        raw = self.register.raw(registers)
        return any(raw == expected for expected in self.equals)


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkRules:
    """The wire rules of a device: serial line, timing and what one read may ask for."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    gap: float = 0.05
    timeout: float = 1.0
    max_registers: int = 125
    even_alignment: bool = False
    alignment: int = 1
    # Banks of `alignment` registers start at this register plus a multiple of `alignment`.
    alignment_base: int = 0
    word_order: WordOrder = WordOrder.BIG

    @property
    def serial(self) -> SerialSettings:
        """Return the serial line settings for a port to this device."""
        return SerialSettings(
            baudrate=self.baudrate,
            bytesize=self.bytesize,
            parity=self.parity,
            stopbits=self.stopbits,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Profile:
    """Everything the Modbus engine knows about one device model."""

    id: str
    manufacturer: str
    model: str
    priority: int = 0
    link: LinkRules = field(default_factory=LinkRules)
    identify: tuple[IdentifyRule, ...] = ()
    barriers: Mapping[Access, tuple[int, ...]] = field(default_factory=dict)
    info: Mapping[str, Register] = field(default_factory=dict)
    points: tuple[RegisterPoint, ...] = ()
    settings: tuple[RegisterPoint, ...] = ()
    derived: tuple[DerivedPoint, ...] = ()
    modes: tuple[ModeSetting, ...] = ()
    composites: tuple[CompositeSetting, ...] = ()
    actions: tuple[ActionPoint, ...] = ()
    source: Path | None = None
    _by_key: dict[str, RegisterPoint] = field(init=False, repr=False, compare=False)
    _derived_by_key: dict[str, DerivedPoint] = field(init=False, repr=False, compare=False)
    _modes: dict[str, ModeSetting] = field(init=False, repr=False, compare=False)
    _composites: dict[str, CompositeSetting] = field(init=False, repr=False, compare=False)
    _actions: dict[str, ActionPoint] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index every kind of point by key."""
        by_key = {register_point.key: register_point for register_point in self.register_points}
        object.__setattr__(self, "_by_key", by_key)
        object.__setattr__(self, "_derived_by_key", {item.key: item for item in self.derived})
        object.__setattr__(self, "_modes", {item.key: item for item in self.modes})
        object.__setattr__(self, "_composites", {item.key: item for item in self.composites})
        object.__setattr__(self, "_actions", {item.key: item for item in self.actions})

    @property
    def register_points(self) -> tuple[RegisterPoint, ...]:
        """Return the readings, then the settings."""
        return self.points + self.settings

    def register_point(self, key: str) -> RegisterPoint | None:
        """Return the reading or setting of `key`."""
        return self._by_key.get(key)

    def derived_point(self, key: str) -> DerivedPoint | None:
        """Return the derived reading of `key`."""
        return self._derived_by_key.get(key)

    def catalogue(self) -> tuple[Point, ...]:
        """Return the points a device of this profile has.

        Readings, settings and derived readings, then modes, composite settings and actions.
        """
        return tuple(
            item.point
            for group in (
                self.register_points,
                self.derived,
                self.modes,
                self.composites,
                self.actions,
            )
            for item in group
        )

    def spans(self, keys: Collection[str]) -> dict[Access, list[Span]]:
        """Return, per table, the registers to read for these points (unknown keys add none)."""
        spans: dict[Access, set[Span]] = {}

        def need(register: Register) -> None:
            spans.setdefault(register.access, set()).add(Span(register.address, register.count))

        for key in keys:
            for name in self._inputs(key):
                if (register_point := self._by_key.get(name)) is not None:
                    need(register_point.register)
            if (mode := self._modes.get(key)) is not None:
                for address in mode.registers:
                    need(
                        Register(
                            access=Access.HOLDING, address=address, type=RegisterType.U16, count=1
                        )
                    )
        return {access: sorted(found) for access, found in spans.items()}

    def _inputs(self, key: str) -> tuple[str, ...]:
        """Return the register points a point is decoded from (itself, a sum's terms, parts)."""
        if (derived := self._derived_by_key.get(key)) is not None:
            return derived.inputs
        if (composite := self._composites.get(key)) is not None:
            return composite.parts
        return (key,)

    def values(
        self, keys: Collection[str], registers: Mapping[tuple[Access, int], int]
    ) -> dict[str, Value]:
        """Return the values of these points from raw registers read for them.

        A point whose registers are missing, or that hold no valid value, is left out.
        """

        def plain(key: str) -> Value | None:
            register_point = self._by_key.get(key)
            if register_point is None:
                return None
            register = register_point.register
            words = [
                registers.get((register.access, register.address + i))
                for i in range(register.count)
            ]
            if any(word is None for word in words):
                return None
            return register_point.decode([word for word in words if word is not None])

        found: dict[str, Value] = {}
        for key in keys:
            value: Value | None
            if (derived := self._derived_by_key.get(key)) is not None:
                value = derived.compute({name: plain(name) for name in derived.inputs})
            elif (composite := self._composites.get(key)) is not None:
                value = composite.join([plain(name) for name in composite.parts])
            elif (mode := self._modes.get(key)) is not None:
                held = {
                    address: word
                    for address in mode.registers
                    if (word := registers.get((Access.HOLDING, address))) is not None
                }
                value = mode.decode(held)
            else:
                value = plain(key)
            if value is not None:
                found[key] = value
        return found

    def write_plan(self, key: str, value: Value, *, now: datetime) -> tuple[RegisterWrite, ...]:
        """Return the register steps, in order, that write a validated setting or action."""
        if (register_point := self._by_key.get(key)) is not None:
            if register_point.write is None:
                raise NotWritableError(f"{key} is a reading, not a setting", key=key)
            return register_point.writes(value)
        if (mode := self._modes.get(key)) is not None:
            return mode.writes(value)
        if (composite := self._composites.get(key)) is not None:
            parts = [self._by_key[name] for name in composite.parts]
            pieces = composite.split(value)
            # Every part is checked before any is written: the unit is all or nothing.
            checked = [
                validate(part.point, piece) for part, piece in zip(parts, pieces, strict=True)
            ]
            return merge_writes(
                [
                    step
                    for part, part_value in zip(parts, checked, strict=True)
                    for step in part.writes(part_value)
                ]
            )
        if (action := self._actions.get(key)) is not None:
            return action.steps(now)
        if key in self._derived_by_key:
            raise NotWritableError(f"{key} is computed, not a setting", key=key)
        raise UnknownPointError(f"{self.id} has no point {key!r}", key=key)

    def barriers_for(self, access: Access) -> tuple[int, ...]:
        """Return the addresses no read of `access` may span."""
        return self.barriers.get(access, ())
