"""A Modbus device profile: where each value lives and how to turn registers into values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
import math
from pathlib import Path

from ..errors import ValidationError
from ..model import Point, Value
from ..transport.serial import SerialSettings
from .codec import (
    RegisterType,
    WordOrder,
    number_to_registers,
    registers_to_number,
    registers_to_text,
    text_to_registers,
)


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


@dataclass(frozen=True, kw_only=True, slots=True)
class RegisterPoint:
    """A profile's reading or setting: the Point it produces and the register behind it.

    `options` make an enum (raw code -> option), `bit` a boolean reading of one bit, and
    `on_value`/`off_value` an on/off setting stored as two raw values.
    """

    point: Point
    register: Register
    scale: float = 1
    offset: float = 0
    options: Mapping[int, str] = field(default_factory=dict)
    bit: int | None = None
    on_value: int | float | None = None
    off_value: int | float | None = None
    write: WriteFunction | None = None

    @property
    def key(self) -> str:
        """Return the point key."""
        return self.point.key

    @property
    def switch(self) -> bool:
        """Return whether the value is on/off, stored as `on_value` or `off_value`."""
        return self.on_value is not None

    def decode(self, registers: Sequence[int]) -> Value | None:
        """Return the value in `registers`; None when the device holds no valid value."""
        raw = self.register.raw(registers)
        if isinstance(raw, str):
            return raw
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
        """Return the registers that store `value` (an already validated setting)."""
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


@dataclass(frozen=True, kw_only=True, slots=True)
class DerivedPoint:
    """A reading computed from two others after they are read: `minuend - subtrahend`."""

    point: Point
    minuend: str
    subtrahend: str

    @property
    def key(self) -> str:
        """Return the point key."""
        return self.point.key

    @property
    def inputs(self) -> tuple[str, str]:
        """Return the keys of the readings this value is computed from."""
        return self.minuend, self.subtrahend

    def compute(self, values: Mapping[str, Value]) -> Value | None:
        """Return the value from the inputs' values; None unless both were read as numbers."""
        left, right = values.get(self.minuend), values.get(self.subtrahend)
        if (
            isinstance(left, bool)
            or isinstance(right, bool)
            or not isinstance(left, int | float)
            or not isinstance(right, int | float)
        ):
            return None
        # Decimal keeps 229.9 - 12.3 at 217.6 rather than 217.60000000000002.
        difference = _decimal(left) - _decimal(right)
        if isinstance(left, int) and isinstance(right, int):
            return int(difference)
        return float(difference)


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
    source: Path | None = None
    _by_key: dict[str, RegisterPoint] = field(init=False, repr=False, compare=False)
    _derived_by_key: dict[str, DerivedPoint] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the readings, settings and derived readings by key."""
        by_key = {register_point.key: register_point for register_point in self.register_points}
        object.__setattr__(self, "_by_key", by_key)
        object.__setattr__(self, "_derived_by_key", {item.key: item for item in self.derived})

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
        """Return the points a device of this profile has: readings, settings, derived."""
        return tuple(register_point.point for register_point in self.register_points) + tuple(
            derived.point for derived in self.derived
        )

    def barriers_for(self, access: Access) -> tuple[int, ...]:
        """Return the addresses no read of `access` may span."""
        return self.barriers.get(access, ())
