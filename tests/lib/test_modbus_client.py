"""The Modbus client against simulated devices over TCP, UDP, RTU on a pty and RTU over TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
import logging
from pathlib import Path

from inverterlib.errors import (
    DeviceRefusedError,
    FrameError,
    LinkError,
    LinkTimeoutError,
    NotWritableError,
    ProfileError,
    UnknownPointError,
    UnsupportedError,
)
from inverterlib.family import KnownDevice
from inverterlib.modbus.client import (
    ModbusClient,
)
from inverterlib.modbus.planner import (
    MBAP_COST,
    RTU_COST,
    ReadRules,
    Span,
    plan_reads,
)
from inverterlib.modbus.profile import Access
from inverterlib.modbus.registry import ProfileRegistry
from inverterlib.modbus.wire import Framing
from inverterlib.model import DeviceIdentity, Point, PointKind
from inverterlib.transport import (
    Link,
    SerialLink,
    SerialSettings,
    TcpLink,
    UdpLink,
)
from inverterlib.writer import Outcome, write_setting
import pytest

from simulators.modbus import ModbusSimulator

from .links import ScriptedLink
from .test_modbus_shim import mbap_reply

FIXTURES = Path(__file__).parent / "fixtures" / "modbus"
TRANSPORTS = ["tcp", "udp", "rtu_over_tcp", "pty"]
# Generous for a loaded machine; only the sleeping-unit tests wait for it to run out.
TIMEOUT = 0.5


@pytest.fixture(name="registry", scope="module")
def registry_fixture() -> ProfileRegistry:
    return ProfileRegistry.load([FIXTURES])


@pytest.fixture(name="simulator")
async def simulator_fixture(registry: ProfileRegistry) -> AsyncIterator[ModbusSimulator]:
    simulator = ModbusSimulator({1: "sdm630", 2: "growatt_min"}, registry=registry, moving=False)
    yield simulator
    await simulator.stop()


async def open_client(
    simulator: ModbusSimulator,
    transport: str,
    registry: ProfileRegistry,
    units: list[KnownDevice] | None = None,
) -> ModbusClient:
    link: Link
    if transport == "tcp":
        link = TcpLink("127.0.0.1", await simulator.serve_tcp(), timeout=TIMEOUT)
    elif transport == "udp":
        link = UdpLink("127.0.0.1", await simulator.serve_udp(), timeout=TIMEOUT)
    elif transport == "rtu_over_tcp":
        link = TcpLink("127.0.0.1", await simulator.serve_rtu_over_tcp(), timeout=TIMEOUT)
    else:
        path = await simulator.serve_pty()
        link = SerialLink(path, settings=SerialSettings(baudrate=9600), timeout=TIMEOUT)
    framing: Framing = "socket" if transport in ("tcp", "udp") else "rtu"
    units = units if units is not None else [KnownDevice(address=1), KnownDevice(address=2)]
    client = ModbusClient(link, framing=framing, units=units, registry=registry, probe_timeout=0.2)
    await client.connect()
    return client


@pytest.fixture(name="client", params=TRANSPORTS)
async def client_fixture(
    request: pytest.FixtureRequest,
    simulator: ModbusSimulator,
    registry: ProfileRegistry,
    socket_enabled: None,
) -> AsyncIterator[ModbusClient]:
    client = await open_client(simulator, request.param, registry)
    yield client
    await client.close()


def expected(simulator: ModbusSimulator, device: DeviceIdentity, key: str) -> object:
    """Return what the simulated device holds for a point, as the client should decode it."""
    unit = simulator.unit(int(device.address))
    value = unit.value(key)
    register_point = unit.profile.register_point(key)
    if register_point is not None and register_point.options:
        return register_point.options.get(int(value))
    return value


async def test_scan_finds_the_units_and_their_profiles(
    client: ModbusClient, simulator: ModbusSimulator
) -> None:
    found = await client.scan([3, 1, 2])
    assert [(f.address, f.profile) for f in found] == [("1", "sdm630"), ("2", "growatt_min")]
    meter, inverter = found
    assert (meter.serial_number, meter.model, meter.manufacturer) == (
        "2024001",
        "SDM630",
        "Eastron",
    )
    assert (meter.address, meter.profile, meter.family) == ("1", "sdm630", "modbus")
    assert (inverter.serial_number, inverter.firmware) == ("SIM0002", "SIM1.0")
    assert inverter.details["device_type_code"] == "5200"


async def test_read_matches_the_registers(client: ModbusClient, simulator: ModbusSimulator) -> None:
    devices = await client.identify()
    assert [device.profile for device in devices] == ["sdm630", "growatt_min"]
    simulator.unit(1).set_value("grid_voltage_l1", 231.7)
    simulator.unit(2).set_value("pv1_voltage", 345.6)
    for device in devices:
        # Every point with a value: an action (the clock) has none to read.
        keys = [
            point.key for point in client.catalogue(device) if point.kind is not PointKind.ACTION
        ]
        before = client.transactions
        values = await client.read(device, keys)
        assert set(values) == set(keys)
        for key in keys:
            assert values[key] == pytest.approx(expected(simulator, device, key)), key
        assert client.transactions - before <= 10
    meter_values = await client.read(devices[0], ["grid_voltage_l1", "no_such_point"])
    assert meter_values == {"grid_voltage_l1": 231.7}
    assert (await client.read(devices[1], ["pv1_voltage"]))["pv1_voltage"] == 345.6


async def test_writes_land_and_read_back(client: ModbusClient, simulator: ModbusSimulator) -> None:
    meter, inverter = await client.identify()
    points = {point.key: point for point in client.catalogue(inverter)}
    # FC06: one register.
    record = await write_setting(client, inverter, points["export_limit"], 40)
    assert record.outcome is Outcome.APPLIED
    assert simulator.unit(2).value("export_limit") == 40
    assert (await client.read(inverter, ["export_limit"])) == {"export_limit": 40}
    # A switch: on/off written as the raw values 1/0.
    record = await write_setting(client, inverter, points["inverter_enabled"], "off")
    assert (record.old, record.new, record.outcome) == (True, False, Outcome.APPLIED)
    assert simulator.unit(2).value("inverter_enabled") is False
    assert await client.read_registers(2, "holding", 0, 1) == [0]
    await write_setting(client, inverter, points["inverter_enabled"], True)
    assert await client.read_registers(2, "holding", 0, 1) == [1]
    # FC16: a float32 in two registers.
    meter_points = {point.key: point for point in client.catalogue(meter)}
    record = await write_setting(client, meter, meter_points["demand_period"], 15)
    assert record.outcome is Outcome.APPLIED
    assert simulator.unit(1).value("demand_period") == 15.0
    # An Eastron code is a float too: a select whose option is written as 2.0.
    record = await write_setting(client, meter, meter_points["system_type"], "three_phase_3_wire")
    assert (record.old, record.new) == ("three_phase_4_wire", "three_phase_3_wire")
    assert simulator.unit(1).value("system_type") == 2.0
    assert await client.read_registers(1, "holding", 0x000A, 2) == [0x4000, 0x0000]
    assert (await write_setting(client, meter, meter_points["demand_period"], 15)).outcome is (
        Outcome.UNCHANGED
    )
    # Raw expert access, both functions.
    await client.write_registers(2, 4, [55], single=True)
    await client.write_registers(2, 3, [60])
    assert await client.read_registers(2, "holding", 3, 2) == [60, 55]


async def test_an_exception_reply_is_a_refusal(
    client: ModbusClient, simulator: ModbusSimulator
) -> None:
    meter, inverter = await client.identify()
    with pytest.raises(DeviceRefusedError, match="ILLEGAL_DATA_VALUE") as caught:
        await client.write_registers(2, 3, [101], single=True)
    assert caught.value.placeholders["exception"] == "ILLEGAL_DATA_VALUE"
    with pytest.raises(DeviceRefusedError, match="ILLEGAL_DATA_ADDRESS"):
        await client.read_registers(1, Access.INPUT, 1, 2)
    simulator.unit(1).refuse()
    with pytest.raises(DeviceRefusedError, match=r"unit 1 refused FC04 .*SERVER_DEVICE_FAILURE"):
        await client.read(meter, ["grid_voltage_l1"])
    assert await client.read(inverter, ["device_mode"]) == {"device_mode": "normal"}
    simulator.unit(1).accept()
    assert "grid_voltage_l1" in await client.read(meter, ["grid_voltage_l1"])


async def test_a_sleeping_unit_times_out_while_the_other_answers(
    client: ModbusClient, simulator: ModbusSimulator
) -> None:
    meter, inverter = await client.identify()
    simulator.unit(2).sleep()
    with pytest.raises(LinkTimeoutError, match="unit 2 did not answer"):
        await client.read(inverter, ["pv_power"])
    assert "grid_power" in await client.read(meter, ["grid_power"])
    assert await client.scan([1, 2]) == [meter]
    simulator.unit(2).wake()
    assert (await client.read(inverter, ["device_mode"])) == {"device_mode": "normal"}


# Derived values, switches and float codes -------------------------------------------------


async def test_grid_power_is_import_minus_export(
    client: ModbusClient, simulator: ModbusSimulator
) -> None:
    _, inverter = await client.identify()
    growatt = simulator.unit(2)
    growatt.set_value("grid_import_power", 1234.5)
    growatt.set_value("grid_export_power", 0)
    before = client.transactions
    # Only what was asked comes back, though both inputs were read (in one request).
    assert await client.read(inverter, ["grid_power"]) == {"grid_power": 1234.5}
    assert client.transactions - before == 1
    growatt.set_value("grid_import_power", 0)
    growatt.set_value("grid_export_power", 812.3)
    values = await client.read(inverter, ["grid_power", "grid_export_power"])
    assert values == {"grid_power": -812.3, "grid_export_power": 812.3}
    points = {point.key: point for point in client.catalogue(inverter)}
    with pytest.raises(NotWritableError, match="computed"):
        await client.write(inverter, points["grid_power"], 5)


async def test_values_outside_the_documented_codes_are_not_published(
    client: ModbusClient, simulator: ModbusSimulator
) -> None:
    meter, inverter = await client.identify()
    simulator.unit(2).set_value("inverter_enabled", 3)
    simulator.unit(1).set_value("system_type", 2.5)
    assert await client.read(inverter, ["inverter_enabled", "export_limit"]) == {
        "export_limit": simulator.unit(2).value("export_limit")
    }
    assert await client.read(meter, ["system_type"]) == {}
    simulator.unit(1).set_value("system_type", 2)
    assert await client.read(meter, ["system_type"]) == {"system_type": "three_phase_3_wire"}


async def test_battery_power_is_discharge_minus_charge(
    registry: ProfileRegistry, socket_enabled: None
) -> None:
    simulator = ModbusSimulator({1: "growatt_tlxh"}, registry=registry, moving=False)
    try:
        client = await open_client(simulator, "tcp", registry, [KnownDevice(address=1)])
        (hybrid,) = await client.identify()
        assert hybrid.profile == "growatt_tlxh"
        simulator.unit(1).set_value("battery_discharge_power", 0)
        simulator.unit(1).set_value("battery_charge_power", 1500)
        values = await client.read(hybrid, ["battery_power", "grid_power", "ac_charge"])
        assert values["battery_power"] == -1500
        assert values["ac_charge"] is True
        simulator.unit(1).set_value("battery_discharge_power", 640.2)
        simulator.unit(1).set_value("battery_charge_power", 0)
        assert await client.read(hybrid, ["battery_power"]) == {"battery_power": 640.2}
        await client.close()
    finally:
        await simulator.stop()


# Identification without a scan ---------------------------------------------------------


async def test_a_sleeping_inverter_with_a_known_serial_does_not_stop_setup(
    simulator: ModbusSimulator,
    registry: ProfileRegistry,
    socket_enabled: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    units = [
        KnownDevice(address=1, profile="sdm630", serial="2024001"),
        KnownDevice(address=2, profile="growatt_min", serial="GW-NIGHT"),
    ]
    client = await open_client(simulator, "tcp", registry, units)
    try:
        simulator.unit(2).sleep()
        with caplog.at_level(logging.INFO):
            meter, inverter = await client.identify()
        assert (meter.serial_number, meter.profile, meter.details) == ("2024001", "sdm630", {})
        assert inverter == DeviceIdentity(
            serial_number="GW-NIGHT",
            family="modbus",
            model="MIN TL-X",
            manufacturer="Growatt",
            address="2",
            profile="growatt_min",
            reachable=False,
        )
        assert "unit 2 is silent" in caplog.text
        assert "grid_power" in await client.read(meter, ["grid_power"])
        with pytest.raises(LinkTimeoutError, match="unit 2 did not answer"):
            await client.read(inverter, ["pv_power"])
        # Morning: the offline identity reads like any other.
        simulator.unit(2).wake()
        simulator.unit(2).set_value("pv1_voltage", 301.2)
        assert await client.read(inverter, ["pv1_voltage"]) == {"pv1_voltage": 301.2}
        # Both silent, both known: still set up, both offline.
        simulator.unit(1).sleep()
        simulator.unit(2).sleep()
        devices = await client.identify()
        assert [device.reachable for device in devices] == [False, False]
    finally:
        await client.close()


async def test_identify_raises_only_when_nothing_answers_and_a_unit_is_unknown(
    simulator: ModbusSimulator,
    registry: ProfileRegistry,
    socket_enabled: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    units = [
        KnownDevice(address=1, profile="sdm630"),
        KnownDevice(address=2, serial="GW-NIGHT"),  # no profile: nothing to build an identity from
    ]
    client = await open_client(simulator, "tcp", registry, units)
    try:
        simulator.unit(2).sleep()
        with caplog.at_level(logging.WARNING):
            devices = await client.identify()
        # The meter answered, so the unknown sleeper is left out rather than failing setup.
        assert [device.serial_number for device in devices] == ["2024001"]
        assert "left out until it answers: unit 2 did not answer" in caplog.text
        simulator.unit(1).sleep()
        with pytest.raises(LinkTimeoutError, match="unit 1 did not answer"):
            await client.identify()
    finally:
        await client.close()


async def test_identify_raises_when_the_link_fails(
    registry: ProfileRegistry, socket_enabled: None
) -> None:
    simulator = ModbusSimulator({1: "sdm630"}, registry=registry)
    port = await simulator.serve_tcp()
    await simulator.stop()
    link = TcpLink("127.0.0.1", port, timeout=TIMEOUT)
    units = [KnownDevice(address=1, profile="sdm630", serial="2024001")]
    client = ModbusClient(link, framing="socket", units=units, registry=registry)
    with pytest.raises(LinkError, match="cannot open") as caught:
        await client.identify()
    assert not isinstance(caught.value, LinkTimeoutError)
    await client.close()


async def test_units_with_and_without_configured_profiles(
    simulator: ModbusSimulator,
    registry: ProfileRegistry,
    socket_enabled: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    units = [
        KnownDevice(address=1, profile="demo_inverter"),
        KnownDevice(address=2, profile="growatt_tlx_legacy"),
    ]
    client = await open_client(simulator, "tcp", registry, units)
    try:
        with caplog.at_level(logging.WARNING):
            meter, inverter = await client.identify()
        # The legacy map's rules hold for this inverter too: configured, so used.
        assert inverter.profile == "growatt_tlx_legacy"
        # The SDM630 fails the demo inverter's rules: the user's choice still wins, with a warning.
        assert meter.profile == "demo_inverter"
        assert "unit 1 does not look like a Demo Inverter 5K (demo_inverter)" in caplog.text
        assert "unit 2" not in caplog.text
        simulator.unit(2).sleep()
        with pytest.raises(LinkTimeoutError):
            await client.identify_unit(KnownDevice(address=2))
        with pytest.raises(ProfileError, match="no Modbus profile 'nope'"):
            await client.identify_unit(KnownDevice(address=1, profile="nope"))
    finally:
        await client.close()


async def test_default_unit_and_a_device_without_a_profile(
    registry: ProfileRegistry, socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    # The demo meter answers the SDM630 rules' registers differently: no profile matches.
    stranger = replace(registry.get("demo_meter"), identify=(), id="stranger")
    # A profile without identify rules is never detected, only configured.
    local = ProfileRegistry([*registry.all(), stranger])
    simulator = ModbusSimulator({1: stranger}, registry=local, moving=False)
    try:
        client = await open_client(simulator, "tcp", local, [])
        assert client.units == [KnownDevice(address=1)]
        with pytest.raises(UnsupportedError, match="unit 1 answers but matches no Modbus profile"):
            await client.identify()
        assert await client.scan([1]) == []
        # Without rules, a configured unit is checked by reading its first point.
        device = await client.identify_unit(KnownDevice(address=1, profile="stranger"))
        assert device.serial_number == "2024001"
        simulator.unit(1).refuse(4)
        with caplog.at_level(logging.WARNING):
            device = await client.identify_unit(KnownDevice(address=1, profile="stranger"))
        assert "does not look like a Demo Meter 3 (stranger)" in caplog.text
        assert device.serial_number == "stranger-unit1"
        await client.close()
    finally:
        await simulator.stop()


async def test_a_device_without_a_serial_number_gets_a_derived_one(
    registry: ProfileRegistry, socket_enabled: None
) -> None:
    anonymous = replace(registry.get("demo_meter"), info={})
    local = ProfileRegistry([anonymous])
    simulator = ModbusSimulator({5: anonymous}, registry=local, moving=False)
    try:
        client = await open_client(simulator, "tcp", local, [KnownDevice(address=5)])
        (device,) = await client.identify()
        assert device.serial_number == "demo_meter-unit5"
        assert (device.profile, device.details) == ("demo_meter", {"serial_source": "derived"})
        await client.close()
    finally:
        await simulator.stop()


async def test_unreadable_info_registers_are_left_out(
    registry: ProfileRegistry, socket_enabled: None
) -> None:
    simulator = ModbusSimulator({4: "demo_inverter"}, registry=registry, moving=False)
    # Firmware (holding 12..14) refused; the serial number still reads.
    simulator.unit(4).refuse(2, access=Access.HOLDING, addresses=range(12, 15))
    try:
        client = await open_client(simulator, "tcp", registry, [KnownDevice(address=4)])
        (device,) = await client.identify()
        assert (device.serial_number, device.firmware) == ("SIM0004", None)
        assert (device.profile, device.details) == ("demo_inverter", {"device_type_code": "5000"})
        simulator.unit(4).refuse(2, access=Access.HOLDING, addresses=range(23, 28))
        (device,) = await client.identify()
        assert device.serial_number == "demo_inverter-unit4"
        await client.close()
    finally:
        await simulator.stop()


async def test_catalogue_and_read_from_a_stored_identity(
    registry: ProfileRegistry, socket_enabled: None
) -> None:
    simulator = ModbusSimulator({3: "demo_inverter"}, registry=registry, moving=False)
    try:
        client = await open_client(simulator, "tcp", registry, [KnownDevice(address=3)])
        stored = DeviceIdentity(
            serial_number="x",
            family="modbus",
            model="m",
            manufacturer="m",
            address="3",
            profile="demo_inverter",
        )
        keys = [point.key for point in client.catalogue(stored)]
        values = await client.read(stored, keys)
        unit = simulator.unit(3)
        assert values["grid_power"] == pytest.approx(unit.value("grid_power"))
        assert values["standby_pv_low"] is False
        unit.set_value("standby_pv_low", True)
        unit.set_value("inverter_temperature", -12.5)
        assert await client.read(
            stored, ["standby_pv_low", "standby_off", "inverter_temperature"]
        ) == {
            "standby_pv_low": True,
            "standby_off": False,
            "inverter_temperature": -12.5,
        }
        points = {point.key: point for point in client.catalogue(stored)}
        await client.write(stored, points["device_name"], "ROOF")
        await client.write(stored, points["power_factor_limit"], -0.5)
        await client.write(stored, points["energy_target"], 6553.7)
        assert await client.read(
            stored, ["device_name", "power_factor_limit", "energy_target"]
        ) == {
            "device_name": "ROOF",
            "power_factor_limit": -0.5,
            "energy_target": 6553.7,
        }
        with pytest.raises(NotWritableError):
            await client.write(stored, points["grid_power"], 1)
        with pytest.raises(UnknownPointError):
            await client.write(stored, Point(key="ghost", name="Ghost"), 1)
        await client.close()
    finally:
        await simulator.stop()


# Requests that go wrong on the wire -----------------------------------------------------


def client_on(link: Link, registry: ProfileRegistry, framing: Framing = "socket") -> ModbusClient:
    return ModbusClient(link, framing=framing, units=[KnownDevice(address=1)], registry=registry)


async def test_a_garbled_reply_is_retried_once(registry: ProfileRegistry) -> None:
    garbled = bytes.fromhex("0001000001000103")
    link = ScriptedLink(garbled, mbap_reply("030200e6"), garbled, garbled, timeout=0.1)
    client = client_on(link, registry)
    assert await client.read_registers(1, Access.HOLDING, 0, 1) == [230]
    with pytest.raises(FrameError):
        await client.read_registers(1, Access.HOLDING, 0, 1)
    assert client.transactions == 4


async def test_replies_that_do_not_match_the_request(registry: ProfileRegistry) -> None:
    link = ScriptedLink(
        mbap_reply("0600030029"),
        mbap_reply("1000030009"),
        mbap_reply("030400010002"),
        mbap_reply("030400010002"),
    )
    client = client_on(link, registry)
    with pytest.raises(FrameError, match=r"echoes \(3, 41\)"):
        await client.write_registers(1, 3, [40], single=True)
    with pytest.raises(FrameError, match=r"echoes \(3, 9\)"):
        await client.write_registers(1, 3, [40, 41])
    # The planner asked for one register and the reply framing says two: never sliced blindly.
    with pytest.raises(FrameError, match="reply of 6 bytes, expected 4"):
        await client.read_registers(1, Access.HOLDING, 0, 1)


def test_the_read_cost_counts_the_links_gap_at_its_speed(registry: ProfileRegistry) -> None:
    growatt_bus = SerialLink("/dev/ttyUSB0", settings=SerialSettings(baudrate=9600), gap=0.85)
    # 9600 baud 8N1: 960 bytes a second, so 850 ms of silence costs 816 bytes.
    assert client_on(growatt_bus, registry, "rtu").cost == RTU_COST.with_gap(0.85, 960)
    assert client_on(growatt_bus, registry, "rtu").cost.gap_bytes == 816
    even_parity = SerialSettings(baudrate=9600, parity="E")
    assert client_on(
        SerialLink("/dev/x", settings=even_parity, gap=0.05), registry, "rtu"
    ).cost == (RTU_COST.with_gap(0.05, 9600 / 11))
    # A network link: a nominal 1 MB/s, so any gap outweighs every hole.
    network = TcpLink("192.0.2.1", 502, gap=0.05)
    assert client_on(network, registry).cost.gap_bytes == 50_000
    # An RTU gateway's serial side can be given: it is the slow stretch of the bus.
    gateway = ModbusClient(
        network, framing="rtu", units=[KnownDevice(address=1)], registry=registry, line_rate=960
    )
    assert gateway.cost.gap_bytes == 48
    # The planner then reads the Growatt's live block in one request.
    live = [Span(3000, 2), Span(3023, 2), Span(3093, 1)]
    rules = ReadRules(barriers=(3125,))
    assert len(plan_reads(live, rules, client_on(growatt_bus, registry, "rtu").cost)) == 1
    assert len(plan_reads(live, rules, RTU_COST)) == 3


async def test_argument_checks(registry: ProfileRegistry) -> None:
    client = client_on(ScriptedLink(), registry, "rtu")
    assert client.cost is RTU_COST
    assert client_on(ScriptedLink(), registry).cost is MBAP_COST
    with pytest.raises(ValueError, match="cannot read 126"):
        await client.read_registers(1, "input", 0, 126)
    with pytest.raises(ValueError, match="cannot read 2"):
        await client.read_registers(1, "input", 0xFFFF, 2)
    with pytest.raises(ValueError, match="FC06 writes exactly one"):
        await client.write_registers(1, 0, [1, 2], single=True)
    with pytest.raises(ValueError, match="cannot write"):
        await client.write_registers(1, 0, [70000])
    with pytest.raises(ValueError, match="cannot write"):
        await client.write_registers(1, 0, [])
    with pytest.raises(ValueError, match="coil"):
        await client.read_registers(1, "coil", 0, 1)
