"""The one write path: validate, skip if unchanged, send, read back, record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from .client import InverterClient
from .errors import ReadBackMismatchError, UnknownPointError
from .model import DeviceIdentity, Point, PointKind, Value, json_value
from .validate import same_value, validate


class Outcome(StrEnum):
    """How a write ended."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteRecord:
    """One write, kept for diagnostics."""

    serial_number: str
    key: str
    old: Value | None
    new: Value | None
    outcome: Outcome
    error: str | None = None
    source: str = ""
    when: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_json(self) -> dict[str, str | float | int | bool | None]:
        """Return the record as JSON-ready data, the one form every layer shows."""
        return {
            "when": self.when.isoformat(),
            "serial_number": self.serial_number,
            "key": self.key,
            "old": json_value(self.old),
            "new": json_value(self.new),
            "outcome": self.outcome.value,
            "error": self.error,
            "source": self.source,
        }


def find_point(points: Mapping[str, Point], key: str) -> Point:
    """Return the point of `key`, or raise UnknownPointError."""
    try:
        return points[key]
    except KeyError:
        raise UnknownPointError(f"the device has no point {key!r}", key=key) from None


async def write_setting(
    client: InverterClient,
    device: DeviceIdentity,
    point: Point,
    raw_value: object,
    *,
    source: str = "",
) -> WriteRecord:
    """Write one setting or action through validation and read-back."""
    value = validate(point, raw_value)
    old: Value | None = None
    if point.kind is PointKind.SETTING:
        old = (await client.read(device, [point.key])).get(point.key)
        if same_value(point, old, value):
            return WriteRecord(
                serial_number=device.serial_number,
                key=point.key,
                old=old,
                new=value,
                outcome=Outcome.UNCHANGED,
                source=source,
            )
    await client.write(device, point, value)
    if point.kind is PointKind.SETTING:
        after = (await client.read(device, [point.key])).get(point.key)
        if not same_value(point, after, value):
            raise ReadBackMismatchError(
                f"{point.key} was accepted but reads back {after!r} instead of {value!r}",
                key=point.key,
                expected=str(value),
                actual=str(after),
            )
    return WriteRecord(
        serial_number=device.serial_number,
        key=point.key,
        old=old,
        new=value,
        outcome=Outcome.APPLIED,
        source=source,
    )
