"""Turn PI30 field text into typed values; anything unreadable becomes None."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import math
import re

from ..model import Value

type Parser = Callable[[str], Value | None]

# What the firmware prints: ASCII digits with an optional minus and decimal part. Python's float
# also takes `nan`, `inf`, `1e999`, `1_0` and surrounding blanks, none of which a unit sends.
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def decimal(text: str) -> float | None:
    """Return a field as a finite float (`057.50`, `0005`, `52.1`)."""
    if _NUMBER.fullmatch(text) is None:
        return None
    return finite(float(text))


def finite(number: float) -> float | None:
    """Return a number unless it is infinite or not a number (400 digits overflow a float)."""
    return number if math.isfinite(number) else None


def integer(text: str) -> int | None:
    """Return a field as an int; a decimal field is rounded (`0012` or `12.0`)."""
    number = decimal(text)
    return None if number is None else round(number)


def text(field: str) -> str:
    """Return a field as text."""
    return field


def scaled(factor: float, *, digits: int = 3) -> Parser:
    """Return a parser that multiplies a number by `factor` (e.g. Wh to kWh)."""

    def parse(field: str) -> float | None:
        number = decimal(field)
        return None if number is None else finite(round(number * factor, digits))

    return parse


def scaled_int(factor: int) -> Parser:
    """Return a parser that multiplies an integer by `factor` (e.g. 10 mV steps to mV)."""

    def parse(field: str) -> int | None:
        number = integer(field)
        return None if number is None else number * factor

    return parse


def bit(position: int) -> Parser:
    """Return a parser for one character of a bit string, counted from the left."""

    def parse(field: str) -> bool | None:
        if position >= len(field) or field[position] not in "01":
            return None
        return field[position] == "1"

    return parse


def flag(field: str) -> bool | None:
    """Return a QFLAG letter state: "1" enabled, "0" disabled."""
    return {"1": True, "0": False}.get(field)


def firmware(field: str) -> str | None:
    """Return a firmware version from `VERFW:00072.70`; all zeros means not reported."""
    version = field.partition(":")[2] or field
    if not version.replace("0", "").replace(".", ""):
        return None
    return version


def clock(field: str) -> str | None:
    """Return a `YYYYMMDDHHMMSS` device clock as `YYYY-MM-DD HH:MM:SS`."""
    if len(field) != 14 or not field.isdigit():
        return None
    return f"{field[0:4]}-{field[4:6]}-{field[6:8]} {field[8:10]}:{field[10:12]}:{field[12:14]}"


def serial_from_sid(payload: str) -> str:
    """Return the serial of a QSID reply: two digits of length, then zero padded digits."""
    if len(payload) < 2 or not payload[:2].isdigit():
        return ""
    return payload[2 : 2 + int(payload[:2])]


@dataclass(frozen=True, slots=True)
class Enumeration:
    """The codes of one PI30 enum field, their snake_case options and English labels."""

    entries: tuple[tuple[int | str, str, str], ...]

    @property
    def options(self) -> tuple[str, ...]:
        """Return the options in code order."""
        return tuple(option for _, option, _ in self.entries)

    @property
    def labels(self) -> tuple[str, ...]:
        """Return the English labels in option order."""
        return tuple(label for _, _, label in self.entries)

    def parse(self, field: str) -> str | None:
        """Return the option of a code; numeric codes match whatever their zero padding."""
        wanted: int | str = field
        number = decimal(field)
        if number is not None and number.is_integer():
            wanted = int(number)
        for code, option, _ in self.entries:
            if code == wanted:
                return option
        return None

    def code(self, option: str) -> int | str:
        """Return the code of an option."""
        for code, known, _ in self.entries:
            if known == option:
                return code
        raise KeyError(option)


def numbered(*entries: tuple[str, str], start: int = 0) -> Enumeration:
    """Return an enumeration whose codes count up from `start`."""
    return Enumeration(
        tuple((start + n, option, label) for n, (option, label) in enumerate(entries))
    )
