"""The records of Studer's published object table: user infos and parameters."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Level(IntEnum):
    """The user level a parameter belongs to (the QSP level property on the wire)."""

    VIEW_ONLY = 0x00
    BASIC = 0x10
    EXPERT = 0x20
    INSTALLER = 0x30
    QSP = 0x40


class Format(StrEnum):
    """How an object's value is laid out on the wire."""

    BOOL = "bool"
    FORMAT = "format"
    SHORT_ENUM = "short_enum"
    LONG_ENUM = "long_enum"
    ERROR = "error"
    INT32 = "int32"
    FLOAT = "float"
    STRING = "string"


@dataclass(frozen=True, kw_only=True, slots=True)
class Datapoint:
    """One user info or parameter as Studer's appendix lists it."""

    number: int
    key: str
    name: str
    format: Format
    parameter: bool
    level: Level = Level.VIEW_ONLY
    unit: str | None = None
    default: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    options: tuple[tuple[int, str], ...] = ()
    signal: bool = False
    bitfield: bool = False
    time_of_day: bool = False

    @property
    def writable(self) -> bool:
        """Return whether a user may change it (basic and expert parameters only)."""
        return self.parameter and self.level in (Level.BASIC, Level.EXPERT)
