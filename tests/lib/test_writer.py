"""The shared write pipeline: validate, skip unchanged, send, read back."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from inverterlib.client import InverterClient
from inverterlib.errors import (
    DeviceRefusedError,
    ReadBackMismatchError,
    UnknownPointError,
    ValidationError,
)
from inverterlib.model import (
    DeviceIdentity,
    Point,
    PointKind,
    Value,
)
from inverterlib.writer import Outcome, find_point, write_setting
import pytest

from .links import MemoryLink

FLOAT = Point(
    key="float_voltage", name="Float", kind=PointKind.SETTING, minimum=48, maximum=58.4, step=0.1
)
SYNC = Point(key="sync_clock", name="Sync clock", kind=PointKind.ACTION)
DEVICE = DeviceIdentity(serial_number="1", family="test", model="M", manufacturer="X")


class FakeClient(InverterClient):
    """A device holding settings in a dict, optionally refusing or ignoring writes."""

    family = "test"

    def __init__(self, *, refuse: bool = False, ignore: bool = False) -> None:
        super().__init__(MemoryLink())
        self.values: dict[str, Value] = {"float_voltage": 54.0}
        self.sent: list[tuple[str, Value]] = []
        self.refuse = refuse
        self.ignore = ignore

    async def identify(self) -> list[DeviceIdentity]:
        return [DEVICE]

    def catalogue(self, device: DeviceIdentity) -> Sequence[Point]:
        return [FLOAT, SYNC]

    async def read(self, device: DeviceIdentity, keys: Collection[str]) -> dict[str, Value]:
        return {key: self.values[key] for key in keys if key in self.values}

    async def write(self, device: DeviceIdentity, point: Point, value: Value) -> None:
        self.sent.append((point.key, value))
        if self.refuse:
            raise DeviceRefusedError("NAK")
        if not self.ignore:
            self.values[point.key] = value


async def test_write_applies_and_reads_back() -> None:
    client = FakeClient()
    record = await write_setting(client, DEVICE, FLOAT, "56.4", source="test")
    assert record.outcome is Outcome.APPLIED
    assert (record.old, record.new) == (54.0, pytest.approx(56.4))
    assert client.sent == [("float_voltage", pytest.approx(56.4))]
    assert client.values["float_voltage"] == pytest.approx(56.4)


async def test_unchanged_value_is_not_sent() -> None:
    client = FakeClient()
    record = await write_setting(client, DEVICE, FLOAT, 54.0)
    assert record.outcome is Outcome.UNCHANGED
    assert client.sent == []


async def test_invalid_value_sends_nothing() -> None:
    client = FakeClient()
    with pytest.raises(ValidationError):
        await write_setting(client, DEVICE, FLOAT, 70)
    assert client.sent == []


async def test_refusal_propagates() -> None:
    client = FakeClient(refuse=True)
    with pytest.raises(DeviceRefusedError):
        await write_setting(client, DEVICE, FLOAT, 55.0)


async def test_read_back_mismatch_raises() -> None:
    client = FakeClient(ignore=True)
    with pytest.raises(ReadBackMismatchError) as info:
        await write_setting(client, DEVICE, FLOAT, 55.0)
    assert info.value.placeholders["expected"] == "55.0"
    assert info.value.placeholders["actual"] == "54.0"


async def test_actions_are_sent_without_read_back() -> None:
    client = FakeClient()
    record = await write_setting(client, DEVICE, SYNC, None)
    assert record.outcome is Outcome.APPLIED
    assert client.sent == [("sync_clock", True)]


def test_find_point() -> None:
    points = {FLOAT.key: FLOAT}
    assert find_point(points, "float_voltage") is FLOAT
    with pytest.raises(UnknownPointError, match="no point 'nope'"):
        find_point(points, "nope")
