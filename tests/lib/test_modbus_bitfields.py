"""Bit-field settings, composites and actions on Modbus devices: Growatt TL-XH time periods."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, time
from typing import Any

from inverterlib.errors import DeviceRefusedError, ProfileError, ValidationError
from inverterlib.family import KnownDevice
from inverterlib.modbus.client import ModbusClient
from inverterlib.modbus.loader import parse_profile
from inverterlib.modbus.profile import Access, RegisterWrite, TimeFormat, merge_writes
from inverterlib.modbus.registry import ProfileRegistry
from inverterlib.model import DeviceIdentity, Point
from inverterlib.transport import TcpLink
from inverterlib.writer import Outcome, write_setting
import pytest

from simulators.modbus import ILLEGAL_VALUE, ModbusSimulator

UNIT = 2
# Growatt V1.24 (protocols.md 4.3): period 1 is holding 3038 (start) and 3039 (end).
START, END = 3038, 3039
ENABLE, BATTERY_FIRST = 1 << 15, 1 << 13


def packed(**fields: Any) -> Any:
    """Return a small profile holding one register of packed fields."""
    settings = [
        {"key": key, "name": key, "access": "holding", "address": 10, "type": "u16", **item}
        for key, item in fields.items()
    ]
    return parse_profile(
        {"id": "t", "manufacturer": "T", "model": "T", "settings": settings}, "t.yaml"
    )


def test_fields_decode_from_their_bits_only() -> None:
    profile = packed(
        start={"bits": [0, 12], "time": "hour_minute"},
        priority={"bits": [13, 14], "options": {0: "load", 1: "battery", 2: "grid"}},
        on={"bits": [15, 15], "switch": True},
    )
    word = ENABLE | BATTERY_FIRST | 5 << 8 | 45
    registers = {(Access.HOLDING, 10): word}
    assert profile.values(["start", "priority", "on"], registers) == {
        "start": time(5, 45),
        "priority": "battery",
        "on": True,
    }
    # An impossible time (minute 60) or an undocumented code is not published.
    assert profile.values(["start", "priority"], {(Access.HOLDING, 10): 3 << 13 | 60}) == {}


def test_a_field_writes_only_its_bits() -> None:
    profile = packed(
        start={"bits": [0, 12], "time": "hour_minute"},
        on={"bits": [15, 15], "switch": True},
    )
    now = datetime(2025, 1, 1)
    assert profile.write_plan("start", time(23, 59), now=now) == (
        RegisterWrite(address=10, value=23 << 8 | 59, mask=0x1FFF),
    )
    (step,) = profile.write_plan("on", False, now=now)
    assert step.mask == ENABLE
    assert step.onto(0xFFFF) == 0x7FFF
    assert step.onto(0x0102) == 0x0102


def test_steps_on_one_register_merge_into_one() -> None:
    steps = [
        RegisterWrite(address=5, value=0x0100, mask=0x1FFF),
        RegisterWrite(address=6, value=7),
        RegisterWrite(address=5, value=ENABLE, mask=ENABLE),
    ]
    assert merge_writes(steps) == (
        RegisterWrite(address=5, value=ENABLE | 0x0100, mask=0x9FFF),
        RegisterWrite(address=6, value=7),
    )


def test_time_formats_round_trip() -> None:
    assert TimeFormat.HOUR_MINUTE.to_raw(time(4, 30)) == 0x041E
    assert TimeFormat.HOUR_MINUTE.to_time(0x041E) == time(4, 30)
    assert TimeFormat.HOUR_MINUTE.to_time(24 << 8) is None
    assert TimeFormat.HHMM.to_time(TimeFormat.HHMM.to_raw(time(4, 30))) == time(4, 30)


def test_a_value_too_wide_for_its_bits_is_refused() -> None:
    profile = packed(level={"bits": [0, 2], "minimum": 0, "maximum": 100})
    with pytest.raises(ValidationError, match="does not fit its bits"):
        profile.write_plan("level", 9, now=datetime(2025, 1, 1))
    assert profile.write_plan("level", 5, now=datetime(2025, 1, 1))[0].value == 5


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"bits": [0, 12], "type": "u32"}, "parts of one u16 register"),
        ({"bits": [3, 2]}, r"must be \[lowest, highest\]"),
        ({"bits": [0, 16]}, r"must be \[lowest, highest\]"),
        ({"bits": [0, True]}, r"must be \[lowest, highest\]"),
        ({"bits": "0-12"}, r"must be \[lowest, highest\]"),
        ({"bits": [0, 3], "scale": 0.1}, "takes no scale"),
    ],
)
def test_bad_bit_fields_name_the_field(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        packed(x=item)


def test_bit_and_bits_together_are_refused() -> None:
    point = {"key": "x", "name": "X", "access": "input", "address": 1, "type": "u16"}
    data = {
        "id": "t",
        "manufacturer": "T",
        "model": "T",
        "points": [{**point, "bit": 3, "bits": [0, 3]}],
    }
    with pytest.raises(ProfileError, match="not both"):
        parse_profile(data, "t.yaml")


# Against the simulated TL-XH --------------------------------------------------------------


@pytest.fixture(name="simulator")
async def simulator_fixture() -> AsyncIterator[ModbusSimulator]:
    simulator = ModbusSimulator({UNIT: "growatt_tlxh"}, moving=False)
    yield simulator
    await simulator.stop()


@pytest.fixture(name="client")
async def client_fixture(
    simulator: ModbusSimulator, socket_enabled: None
) -> AsyncIterator[ModbusClient]:
    link = TcpLink("127.0.0.1", await simulator.serve_tcp(), timeout=1.0)
    client = ModbusClient(
        link,
        framing="socket",
        units=[KnownDevice(address=UNIT, profile="growatt_tlxh")],
        registry=ProfileRegistry.load(),
    )
    await client.connect()
    yield client
    await client.close()


async def _inverter(client: ModbusClient) -> tuple[DeviceIdentity, dict[str, Point]]:
    (inverter,) = await client.identify()
    return inverter, {point.key: point for point in client.catalogue(inverter)}


async def test_a_period_is_set_field_by_field_keeping_the_other_bits(
    client: ModbusClient, simulator: ModbusSimulator
) -> None:
    inverter, points = await _inverter(client)
    record = await write_setting(
        client, inverter, points["time_period_1_priority"], "battery_first"
    )
    assert record.outcome is Outcome.APPLIED
    await write_setting(client, inverter, points["time_period_1_enabled"], True)
    record = await write_setting(client, inverter, points["time_period_1"], "01:30-05:00")
    assert (record.old, record.new, record.outcome) == (
        "00:00-00:00",
        "01:30-05:00",
        Outcome.APPLIED,
    )
    assert await client.read_registers(UNIT, "holding", START, 2) == [
        ENABLE | BATTERY_FIRST | 1 << 8 | 30,
        5 << 8,
    ]
    await write_setting(client, inverter, points["time_period_1_start"], "02:15")
    await write_setting(client, inverter, points["time_period_1_priority"], "grid_first")
    assert await client.read_registers(UNIT, "holding", START, 1) == [
        ENABLE | 2 << 13 | 2 << 8 | 15
    ]
    values = await client.read(
        inverter, ["time_period_1", "time_period_1_priority", "time_period_1_enabled"]
    )
    assert values == {
        "time_period_1": "02:15-05:00",
        "time_period_1_priority": "grid_first",
        "time_period_1_enabled": True,
    }
    # Periods 5 to 9 live in the second block (3050-3059).
    await write_setting(client, inverter, points["time_period_9"], "22:00-23:59")
    assert await client.read_registers(UNIT, "holding", 3058, 2) == [22 << 8, 23 << 8 | 59]


async def test_the_device_refuses_an_impossible_time(
    client: ModbusClient, simulator: ModbusSimulator
) -> None:
    await client.identify()
    with pytest.raises(DeviceRefusedError, match="ILLEGAL_DATA_VALUE"):
        await client.write_registers(UNIT, START, [24 << 8], single=True)
    with pytest.raises(DeviceRefusedError, match="ILLEGAL_DATA_VALUE"):
        await client.write_registers(UNIT, START, [3 << 13], single=True)
    assert await client.read_registers(UNIT, "holding", START, 1) == [0]


async def test_a_period_half_written_is_put_back(
    client: ModbusClient, simulator: ModbusSimulator
) -> None:
    inverter, points = await _inverter(client)
    await write_setting(client, inverter, points["time_period_1_enabled"], True)
    simulator.unit(UNIT).refuse(ILLEGAL_VALUE, access=Access.HOLDING, addresses=range(END, END + 1))
    with pytest.raises(DeviceRefusedError):
        await write_setting(client, inverter, points["time_period_1"], "01:30-05:00")
    simulator.unit(UNIT).accept()
    # The start was written, then restored with its enable bit: nothing half-applied remains.
    assert await client.read_registers(UNIT, "holding", START, 2) == [ENABLE, 0]


async def test_the_clock_is_set_in_one_write(
    client: ModbusClient, simulator: ModbusSimulator
) -> None:
    inverter, points = await _inverter(client)
    before = simulator.counters(UNIT).requests
    record = await write_setting(client, inverter, points["sync_clock"], None)
    assert record.outcome is Outcome.APPLIED
    assert simulator.counters(UNIT).requests - before == 1
    assert simulator.unit(UNIT).actions_run == 1
    year, month, day, hour, minute, second = await client.read_registers(UNIT, "holding", 45, 6)
    now = datetime.now()
    assert abs(year - now.year) <= 1
    assert 1 <= month <= 12
    assert 1 <= day <= 31
    assert (hour, minute, second) < (24, 60, 60)


async def test_the_device_refuses_an_impossible_clock(
    client: ModbusClient, simulator: ModbusSimulator
) -> None:
    await client.identify()
    with pytest.raises(DeviceRefusedError, match="ILLEGAL_DATA_VALUE"):
        await client.write_registers(UNIT, 45, [2025, 13, 1, 0, 0, 0])
    with pytest.raises(DeviceRefusedError, match="ILLEGAL_DATA_VALUE"):
        await client.write_registers(UNIT, 45, [2025, 1, 1, 0, 60, 0])
    assert simulator.unit(UNIT).actions_run == 0
