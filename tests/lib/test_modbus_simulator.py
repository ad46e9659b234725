"""The simulated Modbus devices: believable values, device rules, faults and traffic counters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from benchmarks.modbus import measure, run as run_benchmark
from inverterlib.errors import DeviceRefusedError, LinkTimeoutError
from inverterlib.modbus.client import ModbusClient, UnitConfig
from inverterlib.modbus.planner import (
    MBAP_COST,
    RTU_COST,
    Block,
    CostModel,
)
from inverterlib.modbus.profile import Access
from inverterlib.modbus.registry import ProfileRegistry
from inverterlib.modbus.wire import Framing
from inverterlib.model import PollGroup
from inverterlib.transport import TcpLink, UdpLink
from simulators.modbus import ModbusSimulator, parse_args, serve

FIXTURES = Path(__file__).parent / "fixtures" / "modbus"


@pytest.fixture(name="registry", scope="module")
def registry_fixture() -> ProfileRegistry:
    return ProfileRegistry.load([FIXTURES])


def test_values_start_believable(registry: ProfileRegistry) -> None:
    simulator = ModbusSimulator(
        {1: "sdm630", 2: "growatt_tlxh", 3: "demo_inverter", 4: "sdm120"}, registry=registry
    )
    meter, hybrid, demo, small = (simulator.unit(unit) for unit in (1, 2, 3, 4))
    assert meter.value("grid_voltage_l1") == pytest.approx(230.0)
    assert meter.value("grid_frequency") == pytest.approx(50.0)
    assert hybrid.value("battery_voltage") == pytest.approx(52.0)
    assert hybrid.value("pv1_voltage") == pytest.approx(320.0)
    assert hybrid.value("battery_soc") == 65
    assert demo.value("device_mode") == 1
    assert demo.value("standby_pv_low") is False
    assert demo.value("device_name") == "SIM03DEV"
    # A switch starts on; a derived value is computed from the registers behind it.
    assert hybrid.value("inverter_enabled") is True
    hybrid.set_value("battery_discharge_power", 200)
    hybrid.set_value("battery_charge_power", 50)
    assert hybrid.value("battery_power") == pytest.approx(150)
    hybrid.set_value("ac_charge", False)
    assert hybrid.value("ac_charge") is False
    hybrid.set_value("ac_charge", 7)
    assert hybrid.value("ac_charge") == 7
    # Settings start inside their limits.
    for unit in (meter, hybrid, demo, small):
        for setting in unit.profile.settings:
            value = unit.value(setting.key)
            point = setting.point
            if point.minimum is not None and not isinstance(value, str):
                assert point.minimum <= value <= (point.maximum or value), setting.key
    with pytest.raises(KeyError):
        demo.value("ghost")
    with pytest.raises(KeyError):
        demo.set_value("ghost", 1)


def test_values_move_like_a_live_device(registry: ProfileRegistry) -> None:
    simulator = ModbusSimulator({1: "sdm630"}, registry=registry, seed=7)
    meter = simulator.unit(1)
    energy: list[float] = []
    voltages: set[float] = set()
    powers: set[float] = set()
    for _ in range(20):
        assert meter.read(Access.INPUT, 0, 2) != []
        energy.append(float(meter.value("grid_import_energy")))
        voltages.add(float(meter.value("grid_voltage_l1")))
        powers.add(float(meter.value("grid_power_l1")))
    assert energy == sorted(energy)
    assert energy[-1] > energy[0]
    assert len(voltages) > 1
    assert all(225 < voltage < 235 for voltage in voltages)
    assert len(powers) > 1
    frozen = ModbusSimulator({1: "sdm630"}, registry=registry, moving=False).unit(1)
    before = frozen.value("grid_import_energy")
    frozen.read(Access.INPUT, 0, 2)
    assert frozen.value("grid_import_energy") == before


def test_device_rules_are_enforced(registry: ProfileRegistry) -> None:
    simulator = ModbusSimulator({1: "sdm630", 2: "growatt_min"}, registry=registry)
    meter, inverter = simulator.unit(1), simulator.unit(2)
    assert meter.read(Access.INPUT, 0, 62) == 3  # more than 60 registers: illegal value
    assert meter.read(Access.INPUT, 1, 2) == 2  # odd start: illegal address
    assert meter.read(Access.INPUT, 0, 3) == 2  # odd count
    assert inverter.read(Access.INPUT, 3120, 10) == 2  # across the 3125 block boundary
    assert inverter.read(Access.INPUT, 3000, 125) != 2
    assert inverter.write(3, [101]) == 3  # above the setting's maximum
    assert inverter.write(0, [7]) == 3  # not one of the options
    assert inverter.write(1, [1]) == 2  # no setting there
    assert inverter.write(3, [50]) is None
    assert inverter.value("export_limit") == 50
    inverter.refuse(2, access=Access.INPUT, addresses=range(3010, 3012))
    assert inverter.read(Access.INPUT, 3000, 10) != 2
    assert inverter.read(Access.INPUT, 3000, 11) == 2
    assert inverter.read(Access.HOLDING, 3000, 20) != 2
    inverter.refuse(6)
    assert inverter.read(Access.HOLDING, 0, 1) == 6
    assert inverter.write(3, [50]) == 6
    inverter.accept()
    assert inverter.read(Access.INPUT, 3000, 11) != 2
    assert simulator._context.device_ids() == [1, 2]


async def test_counters_match_the_cost_model(
    registry: ProfileRegistry, socket_enabled: None
) -> None:
    simulator = ModbusSimulator({1: "sdm630"}, registry=registry, moving=False)
    try:
        transports: list[tuple[Callable[[], Awaitable[int]], Framing, CostModel]] = [
            (simulator.serve_tcp, "socket", MBAP_COST),
            (simulator.serve_rtu_over_tcp, "rtu", RTU_COST),
        ]
        for serve_on, framing, cost in transports:
            link = TcpLink("127.0.0.1", await serve_on(), timeout=0.5)
            client = ModbusClient(link, framing=framing, registry=registry)
            simulator.reset_counters()
            await client.read_registers(1, Access.INPUT, 0, 10)
            counters = simulator.counters(1)
            assert (counters.requests, counters.replies, counters.exceptions) == (1, 1, 0)
            assert (counters.bytes_in, counters.bytes_out) == (
                cost.request_bytes,
                cost.reply_bytes + 20,
            )
            assert counters.bytes == cost.cost(Block(0, 10))
            assert link.bytes_out == cost.request_bytes
            with pytest.raises(DeviceRefusedError):
                await client.read_registers(1, Access.INPUT, 1, 2)
            assert counters.exceptions == 1
            # An exception reply is as long as the overhead of a normal one.
            assert counters.bytes_out == 2 * cost.reply_bytes + 20
            await client.close()
    finally:
        await simulator.stop()


async def test_unknown_and_sleeping_units_stay_silent(
    registry: ProfileRegistry, socket_enabled: None
) -> None:
    simulator = ModbusSimulator({1: "sdm630"}, registry=registry, moving=False)
    link = UdpLink("127.0.0.1", await simulator.serve_udp(), timeout=0.2)
    client = ModbusClient(link, framing="socket", units=[UnitConfig(unit=9)], registry=registry)
    try:
        with pytest.raises(LinkTimeoutError):
            await client.read_registers(9, Access.INPUT, 0, 2)
        simulator.unit(1).sleep()
        with pytest.raises(LinkTimeoutError):
            await client.read_registers(1, Access.INPUT, 0, 2)
        assert simulator.counters(1).requests == 1
        assert simulator.counters(1).replies == 0
        simulator.unit(1).wake()
        assert len(await client.read_registers(1, Access.INPUT, 0, 2)) == 2
    finally:
        await client.close()
        await simulator.stop()


def test_command_line_needs_a_transport(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--unit", "1=sdm630"])
    assert "give at least one of" in capsys.readouterr().err


async def test_command_line_serves_every_transport(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], socket_enabled: None
) -> None:
    args = parse_args(
        [
            "--tcp",
            "127.0.0.1:0",
            "--udp",
            "127.0.0.1:0",
            "--rtu-over-tcp",
            ":0",
            "--pty",
            str(tmp_path / "ttyMODBUS"),
            "--unit",
            "1=sdm630",
            "--unit",
            "2=demo_inverter",
            "--profile-dir",
            str(FIXTURES),
        ]
    )
    stop = asyncio.Event()
    stop.set()
    await serve(args, stop)
    output = capsys.readouterr().out
    assert "Modbus TCP on port" in output
    assert "Modbus UDP on port" in output
    assert "RTU over TCP on port" in output
    assert f"Modbus RTU on {tmp_path / 'ttyMODBUS'}" in output
    assert "unit 2: Demo Inverter 5K" in output
    assert (tmp_path / "ttyMODBUS").is_symlink()


async def test_benchmark_reads_every_shipped_profile_optimally(socket_enabled: None) -> None:
    report, _ = await run_benchmark(["socket"])
    assert "ours is not the optimum" not in report
    shipped = ProfileRegistry.load()
    for profile in shipped.all():
        assert f"| {profile.id} |" in report
    growatt = shipped.get("growatt_min")
    row = await measure(growatt, shipped, "rtu")
    assert row.ours == row.optimal
    # One read per register-backed point; grid_power is computed from two of them.
    assert row.per_point.requests == len(growatt.register_points) == row.points - 1
    assert row.ours.requests * 10 <= row.per_point.requests
    # 9600 baud 8N1 and 850 ms between requests: a refresh's time is mostly gaps.
    assert row.bus.cost.gap_bytes == 816
    assert row.ours.seconds(row.bus) == pytest.approx(
        row.ours.bytes / 960 + 0.85 * row.ours.requests
    )
    assert row.ours.cost(row.bus) == row.ours.bytes + 816 * row.ours.requests
    live = await measure(growatt, shipped, "rtu", PollGroup.LIVE)
    # The live values all sit in input block 3000-3124: one read.
    assert live.ours.requests == 1
    sdm630 = await measure(shipped.get("sdm630"), shipped, "socket")
    assert sdm630.ours.requests * 10 <= sdm630.per_point.requests
