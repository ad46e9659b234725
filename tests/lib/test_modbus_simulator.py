"""The simulated Modbus devices: believable values, device rules, faults and traffic counters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import math
from pathlib import Path

from inverterlib.errors import DeviceRefusedError, LinkError, LinkTimeoutError
from inverterlib.family import KnownDevice
from inverterlib.modbus.client import ModbusClient
from inverterlib.modbus.loader import parse_profile
from inverterlib.modbus.planner import (
    MBAP_COST,
    RTU_COST,
    Block,
    CostModel,
)
from inverterlib.modbus.profile import Access
from inverterlib.modbus.registry import ProfileRegistry
from inverterlib.modbus.wire import Framing, mbap_frame, rtu_frame
from inverterlib.model import DeviceIdentity, PollGroup
from inverterlib.transport import TcpLink, UdpLink
import pytest

from benchmarks.modbus import measure, run as run_benchmark
from simulators import modbus as simulator_module
from simulators.modbus import ModbusSimulator, parse_args, serve
from simulators.modbus_line import Fault, FaultPlan, damage, frame_size, pieces
from simulators.modbus_physics import DAY, JOULES_PER_KWH, TICK, PvInverter

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
    assert meter.write(10, [0x40E0, 0]) == 3  # system type 7.0: no such wiring
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
    client = ModbusClient(link, framing="socket", units=[KnownDevice(address=9)], registry=registry)
    try:
        with pytest.raises(LinkTimeoutError):
            await client.read_registers(9, Access.INPUT, 0, 2)
        simulator.unit(1).sleep()
        with pytest.raises(LinkTimeoutError):
            await client.read_registers(1, Access.INPUT, 0, 2)
        # Silence is asked once more before the client gives up.
        assert simulator.counters(1).requests == 2
        assert simulator.counters(1).replies == 0
        simulator.unit(1).wake()
        assert len(await client.read_registers(1, Access.INPUT, 0, 2)) == 2
    finally:
        await client.close()
        await simulator.stop()


def test_the_command_line_ends_quietly_on_an_interrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(simulator_module, "serve", interrupted)
    simulator_module.main(["--tcp", "127.0.0.1:0"])


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


# Physics ----------------------------------------------------------------------------------


async def read_all(
    registry: ProfileRegistry, profile: str
) -> tuple[ModbusSimulator, ModbusClient, DeviceIdentity]:
    """Serve one unit of `profile` on TCP after some time passed; return it, a client, its id.

    The unit does not move while it is read, so values from different reads belong together.
    """
    simulator = ModbusSimulator({1: profile}, registry=registry, moving=False)
    for _ in range(5):
        simulator.unit(1).step()
    link = TcpLink("127.0.0.1", await simulator.serve_tcp(), timeout=2.0)
    client = ModbusClient(
        link,
        framing="socket",
        units=[KnownDevice(address=1, profile=profile)],
        registry=registry,
    )
    (device,) = await client.identify()
    return simulator, client, device


def number(value: object) -> float:
    """Return a reading as a float, failing on anything but a number."""
    assert isinstance(value, int | float), value
    return float(value)


async def test_a_three_phase_meter_obeys_physics_through_the_client(
    registry: ProfileRegistry, socket_enabled: None
) -> None:
    simulator, client, meter = await read_all(registry, "sdm630")
    try:
        values = await client.read(meter, [point.key for point in client.catalogue(meter)])
    finally:
        await client.close()
        await simulator.stop()
    phases = (1, 2, 3)

    def each(key: str) -> list[float]:
        return [number(values[f"{key}_l{phase}"]) for phase in phases]

    volts, amps, watts = each("grid_voltage"), each("grid_current"), each("grid_power")
    factors, apparent = each("grid_power_factor"), each("grid_apparent_power")
    for phase in range(3):
        assert apparent[phase] == pytest.approx(volts[phase] * amps[phase], rel=1e-4)
        assert watts[phase] == pytest.approx(apparent[phase] * factors[phase], rel=1e-4)
    # Totals are sums, averages are means.
    assert values["grid_power"] == pytest.approx(sum(watts), rel=1e-5)
    assert values["grid_apparent_power"] == pytest.approx(sum(apparent), rel=1e-5)
    assert values["grid_reactive_power"] == pytest.approx(
        sum(each("grid_reactive_power")), rel=1e-5
    )
    assert values["grid_current_sum"] == pytest.approx(sum(amps), rel=1e-5)
    assert values["grid_voltage_average"] == pytest.approx(sum(volts) / 3, rel=1e-5)
    # Line to line: the phasor difference, sqrt(3) times the phase voltage on a balanced grid.
    assert values["grid_voltage_l1_l2"] == pytest.approx(
        math.sqrt(volts[0] ** 2 + volts[1] ** 2 + volts[0] * volts[1]), rel=1e-5
    )
    assert values["grid_voltage_line_average"] == pytest.approx(
        math.sqrt(3) * number(values["grid_voltage_average"]), rel=2e-3
    )
    # Energy: totals are sums of the phases, and import plus export.
    assert values["grid_import_energy"] == pytest.approx(sum(each("grid_import_energy")), rel=1e-5)
    assert values["total_active_energy"] == pytest.approx(
        number(values["grid_import_energy"]) + number(values["grid_export_energy"]), rel=1e-5
    )
    assert values["system_type"] == "three_phase_4_wire"


async def test_a_single_phase_meter_obeys_physics(registry: ProfileRegistry) -> None:
    meter = ModbusSimulator({1: "sdm120"}, registry=registry).unit(1)
    for _ in range(3):
        meter.step()
    volts, amps = number(meter.value("grid_voltage")), number(meter.value("grid_current"))
    assert meter.value("grid_apparent_power") == pytest.approx(volts * amps, rel=1e-4)
    assert meter.value("total_active_energy") == pytest.approx(
        number(meter.value("grid_import_energy")) + number(meter.value("grid_export_energy")),
        rel=1e-5,
    )


@pytest.mark.parametrize("profile", ["growatt_min", "growatt_tlxh", "growatt_tlx_legacy"])
async def test_an_inverter_obeys_physics_through_the_client(
    registry: ProfileRegistry, profile: str, socket_enabled: None
) -> None:
    simulator, client, inverter = await read_all(registry, profile)
    try:
        values = await client.read(inverter, [point.key for point in client.catalogue(inverter)])
    finally:
        await client.close()
        await simulator.stop()

    def reading(key: str) -> float:
        return number(values[key])

    strings = range(1, 5)
    for string in strings:
        assert reading(f"pv{string}_power") == pytest.approx(
            reading(f"pv{string}_voltage") * reading(f"pv{string}_current"), abs=0.1
        )
    assert reading("pv_power") == pytest.approx(
        sum(reading(f"pv{string}_power") for string in strings), abs=0.1
    )
    assert 0 < reading("ac_output_power") < reading("pv_power")
    # Daily counters hold what the day made so far: less than a lifetime, far from 500 kWh.
    for key in [key for key in values if key.endswith("_energy_today")]:
        total = key.removesuffix("_today")
        assert reading(key) < 100, key
        if total in values:
            assert reading(key) <= reading(total), key
    assert reading("pv1_energy_today") > 1
    pv_strings = [key for key in (f"pv{string}_energy" for string in strings) if key in values]
    assert reading("pv_energy") == pytest.approx(sum(reading(key) for key in pv_strings), abs=0.3)
    if "grid_power" in values:
        assert reading("grid_power") == pytest.approx(
            reading("load_power") - reading("ac_output_power"), abs=0.3
        )
    if "battery_power" in values:
        assert reading("battery_power") == pytest.approx(
            reading("battery_discharge_power") - reading("battery_charge_power"), abs=0.2
        )
        assert reading("battery_voltage") * reading("battery_current") == pytest.approx(
            reading("battery_power"), rel=0.01
        )


def test_todays_energy_grows_with_the_days_power(registry: ProfileRegistry) -> None:
    inverter = ModbusSimulator({1: "growatt_min"}, registry=registry).unit(1)
    model = inverter.model
    assert isinstance(model, PvInverter)
    before = number(inverter.value("pv_energy_today"))
    made = 0.0
    for _ in range(240):  # two simulated hours
        inverter.step()
        made += model.pv_power * TICK / JOULES_PER_KWH
    assert made > 1
    # The counter holds tenths of a kWh.
    assert number(inverter.value("pv_energy_today")) - before == pytest.approx(made, abs=0.2)


def test_midnight_restarts_the_days_counters(registry: ProfileRegistry) -> None:
    inverter = ModbusSimulator({1: "growatt_tlxh"}, registry=registry).unit(1)
    model = inverter.model
    assert isinstance(model, PvInverter)
    lifetime = number(inverter.value("load_energy"))
    model.clock = DAY - TICK / 2
    inverter.step()
    assert model.clock == TICK / 2
    assert inverter.value("load_energy_today") == 0
    assert inverter.value("pv_energy_today") == 0
    # Nothing shines at night: the battery carries the house.
    assert inverter.value("pv_power") == 0
    assert inverter.value("device_mode") == 1
    assert number(inverter.value("battery_discharge_power")) > 0
    assert number(inverter.value("load_energy")) >= lifetime


def test_a_device_no_model_covers_keeps_its_typical_values(registry: ProfileRegistry) -> None:
    profile = parse_profile(
        {
            "id": "gauge",
            "manufacturer": "Acme",
            "model": "Gauge",
            "points": [
                {
                    "key": "tank_level",
                    "name": "Tank level",
                    "access": "input",
                    "address": 0,
                    "type": "u16",
                    "unit": "%",
                    "device_class": "battery",
                },
            ],
        },
        "inline",
    )
    gauge = ModbusSimulator({1: profile}, registry=registry).unit(1)
    assert gauge.model is None
    gauge.read(Access.INPUT, 0, 1)
    assert gauge.value("tank_level") == 65


# The faulty line --------------------------------------------------------------------------

RTU_REPLY = rtu_frame(1, bytes.fromhex("030400e60102"))
MBAP_REPLY = mbap_frame(0x1234, 1, bytes.fromhex("030400e60102"))


def test_the_fault_plan_hits_replies_in_order() -> None:
    plan = FaultPlan()
    assert plan.next() is None
    plan.inject(Fault.GARBAGE, 2)
    plan.inject(Fault.LATE)
    assert [plan.next() for _ in range(4)] == [Fault.GARBAGE, Fault.GARBAGE, Fault.LATE, Fault.LATE]
    plan.clear()
    assert plan.next() is None
    plan.inject(Fault.EVERY_OTHER)
    faults = [plan.next() for _ in range(4)]
    assert sorted(faults, key=str) == [None, None, Fault.SILENCE, Fault.SILENCE]
    assert faults[0] != faults[1]


def test_replies_are_cut_into_frames() -> None:
    assert frame_size(RTU_REPLY, "rtu") == len(RTU_REPLY) == 9
    assert frame_size(RTU_REPLY[:2], "rtu") is None
    assert frame_size(rtu_frame(1, bytes.fromhex("8402")), "rtu") == 5
    assert frame_size(rtu_frame(1, bytes.fromhex("0600030028")), "rtu") == 8
    assert frame_size(MBAP_REPLY, "socket") == len(MBAP_REPLY) == 13
    assert frame_size(MBAP_REPLY[:5], "socket") is None


def test_each_fault_damages_a_reply_its_own_way() -> None:
    plan = FaultPlan()

    def damaged(fault: Fault | None, frame: bytes, framing: Framing) -> bytes:
        return damage(frame, fault, framing, plan)

    framings: list[tuple[bytes, Framing]] = [(RTU_REPLY, "rtu"), (MBAP_REPLY, "socket")]
    for frame, framing in framings:
        assert damaged(None, frame, framing) == frame
        assert damaged(Fault.SILENCE, frame, framing) == b""
        garbage = damaged(Fault.GARBAGE, frame, framing)
        assert len(garbage) == len(frame)
        assert garbage != frame
        assert damaged(Fault.TRUNCATED, frame, framing) == frame[:-3]
        # Faults that change nothing of a reply's bytes.
        for fault in (Fault.FRAGMENTED, Fault.LATE, Fault.SLOW, Fault.CLOSE_AFTER_REPLY):
            assert damaged(fault, frame, framing) == frame
    bad_crc = damaged(Fault.BAD_CRC, RTU_REPLY, "rtu")
    assert bad_crc[:-1] == RTU_REPLY[:-1]
    assert bad_crc != RTU_REPLY
    assert damaged(Fault.BAD_CRC, MBAP_REPLY, "socket") == MBAP_REPLY
    # Another unit's reply with a valid CRC, and another transaction's.
    assert damaged(Fault.WRONG_UNIT, RTU_REPLY, "rtu") == rtu_frame(2, RTU_REPLY[1:-2])
    assert damaged(Fault.WRONG_UNIT, MBAP_REPLY, "socket") == mbap_frame(0x1234, 2, MBAP_REPLY[7:])
    assert damaged(Fault.WRONG_TRANSACTION, MBAP_REPLY, "socket")[:2] == b"\x13\x34"
    assert damaged(Fault.WRONG_TRANSACTION, RTU_REPLY, "rtu") == RTU_REPLY


def test_each_fault_paces_a_reply_its_own_way() -> None:
    plan = FaultPlan(late_delay=0.7, byte_delay=0.01)
    assert pieces(b"", Fault.LATE, plan) == []
    assert pieces(RTU_REPLY, None, plan) == [(0.0, RTU_REPLY)]
    assert pieces(RTU_REPLY, Fault.LATE, plan) == [(0.7, RTU_REPLY)]
    slow = pieces(RTU_REPLY, Fault.SLOW, plan)
    assert slow == [(0.01, RTU_REPLY[i : i + 1]) for i in range(len(RTU_REPLY))]
    fragments = pieces(RTU_REPLY, Fault.FRAGMENTED, plan)
    assert len(fragments) == 3
    assert b"".join(chunk for _, chunk in fragments) == RTU_REPLY
    assert [pause for pause, _ in fragments] == [0.0, 0.02, 0.02]


async def test_udp_clients_are_answered_each_on_its_own(
    registry: ProfileRegistry, socket_enabled: None
) -> None:
    simulator = ModbusSimulator({1: "sdm630"}, registry=registry, moving=False)
    port = await simulator.serve_udp()
    clients = [
        ModbusClient(UdpLink("127.0.0.1", port, timeout=2.0), framing="socket", registry=registry)
        for _ in range(2)
    ]
    try:
        # One after the other: pymodbus's UDP server answers one request at a time.
        for _ in range(2):
            for client, address in zip(clients, (0, 6), strict=True):
                registers = await client.read_registers(1, Access.INPUT, address, 6)
                assert registers == simulator.unit(1).read(Access.INPUT, address, 6)
    finally:
        for client in clients:
            await client.close()
        await simulator.stop()


async def test_writes_are_acknowledged_by_their_echo(
    registry: ProfileRegistry, socket_enabled: None
) -> None:
    simulator = ModbusSimulator({2: "growatt_min"}, registry=registry, moving=False)
    link = TcpLink("127.0.0.1", await simulator.serve_rtu_over_tcp(), timeout=2.0)
    client = ModbusClient(link, framing="rtu", registry=registry)
    try:
        await client.write_registers(2, 3, [40], single=True)
        await client.write_registers(2, 4, [55])
        assert simulator.unit(2).banks[Access.HOLDING][3] == 40
        assert await client.read_registers(2, Access.HOLDING, 3, 2) == [40, 55]
    finally:
        await client.close()
        await simulator.stop()


async def test_stopping_drops_connected_clients(
    registry: ProfileRegistry, socket_enabled: None
) -> None:
    simulator = ModbusSimulator({1: "sdm630"}, registry=registry, moving=False)
    link = TcpLink("127.0.0.1", await simulator.serve_tcp(), timeout=2.0)
    client = ModbusClient(link, framing="socket", registry=registry)
    try:
        assert len(await client.read_registers(1, Access.INPUT, 0, 2)) == 2
        simulator.inject(Fault.LATE)
        pending = asyncio.ensure_future(client.read_registers(1, Access.INPUT, 0, 2))
        await asyncio.sleep(0.05)
    finally:
        await simulator.stop()
    with pytest.raises(LinkError):
        await pending
    await client.close()
