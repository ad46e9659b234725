"""The data model every family shares: points, identities and snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from enum import StrEnum

type Value = float | int | bool | str | time


class PointKind(StrEnum):
    """What a point is to the user."""

    READING = "reading"
    SETTING = "setting"
    ACTION = "action"


class ValueType(StrEnum):
    """How a point's value is typed."""

    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    ENUM = "enum"
    TIME = "time"
    TEXT = "text"


class PollGroup(StrEnum):
    """How often a point is read."""

    LIVE = "live"
    SLOW = "slow"
    STATIC = "static"


class Category(StrEnum):
    """Where a point belongs on the device page (maps to Home Assistant's entity category)."""

    PRIMARY = "primary"
    CONFIG = "config"
    DIAGNOSTIC = "diagnostic"


@dataclass(frozen=True, kw_only=True, slots=True)
class Point:
    """One reading, setting or action of a device."""

    key: str
    name: str
    kind: PointKind = PointKind.READING
    value_type: ValueType = ValueType.FLOAT
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    options: tuple[str, ...] = ()
    option_labels: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[float, ...] = ()
    group: PollGroup = PollGroup.LIVE
    plausible: tuple[float, float] | None = None
    spike: float | None = None
    # For counters: the largest believable rise in an hour (from the device's rating).
    max_rise_per_hour: float | None = None
    # For counters: starts again from zero every day (a device's "today" energy).
    daily: bool = False
    # For values computed from others: those others, which must all pass the quality checks.
    derived_from: tuple[str, ...] = ()
    precision: int | None = None
    category: Category = Category.PRIMARY
    enabled_by_default: bool = True
    expert: bool = False
    icon: str | None = None

    @property
    def numeric(self) -> bool:
        """Return whether the value is a number."""
        return self.value_type in (ValueType.FLOAT, ValueType.INT)

    def option_label(self, option: str) -> str:
        """Return the English label of an enum option."""
        if self.option_labels:
            return self.option_labels[self.options.index(option)]
        return option.replace("_", " ").capitalize()

    @property
    def total_increasing(self) -> bool:
        """Return whether the value is a counter that only grows."""
        return self.state_class == "total_increasing"


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceIdentity:
    """Who a device on a link is; `serial_number` is the stable identity."""

    serial_number: str
    family: str
    model: str
    manufacturer: str
    address: str = ""
    firmware: str | None = None
    parent_serial: str | None = None
    # The device description it was matched to (a Modbus profile id), where the family has them.
    profile: str | None = None
    # False for a device known from its stored identity that did not answer at start.
    reachable: bool = True
    # Facts for diagnostics only; no layer acts on them.
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """Return a short human name for the device."""
        return f"{self.model} {self.serial_number}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    """The values of one device read in one cycle, keyed by point key."""

    device: DeviceIdentity
    values: Mapping[str, Value]
    taken: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_json(self) -> dict[str, object]:
        """Return the values as JSON-ready data (times as HH:MM)."""
        return {key: json_value(value) for key, value in sorted(self.values.items())}


def json_value(value: Value | None) -> float | int | bool | str | None:
    """Return a value as JSON-ready data (a time of day as HH:MM)."""
    return value.strftime("%H:%M") if isinstance(value, time) else value
