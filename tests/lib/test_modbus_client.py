"""The Modbus client against simulated devices over TCP, UDP, RTU on a pty and RTU over TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
import logging
from pathlib import Path

import pytest

from custom_components.inverter_hub.inverterlib.errors import (
    DeviceRefusedError,
    FrameError,
    LinkTimeoutError,
    NotWritableError,
    ProfileError,
    UnknownPointError,
    UnsupportedError,
)
from custom_components.inverter_hub.inverterlib.modbus.client import (
    FoundUnit,
    ModbusClient,
    UnitConfig,
)
from custom_components.inverter_hub.inverterlib.modbus.planner import MBAP_COST, RTU_COST
from custom_components.inverter_hub.inverterlib.modbus.profile import Access
from custom_components.inverter_hub.inverterlib.modbus.registry import ProfileRegistry
from custom_components.inverter_hub.inverterlib.modbus.wire import Framing
from custom_components.inverter_hub.inverterlib.model import DeviceIdentity, Point
from custom_components.inverter_hub.inverterlib.transport import (
    Link,
    SerialLink,
    SerialSettings,
    TcpLink,
    UdpLink,
)
from custom_components.inverter_hub.inverterlib.writer import Outcome, write_setting
from simulators.modbus import ModbusSimulator

from .test_modbus_shim import ScriptedLink, mbap_reply

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
    units: list[UnitConfig] | None = None,
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
    units = units if units is not None else [UnitConfig(unit=1), UnitConfig(unit=2)]
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
    register_point = unit.profile.register_point(key)
    assert register_point is not None
    value = unit.value(key)
    if register_point.options:
        return register_point.options.get(int(value))
    return value


async def test_scan_finds_the_units_and_their_profiles(
    client: ModbusClient, simulator: ModbusSimulator
) -> None:
    found = await client.scan([3, 1, 2])
    assert [(f.unit, f.profile_id) for f in found] == [(1, "sdm630"), (2, "growatt_min")]
    meter, inverter = (f.identity for f in found)
    assert (meter.serial_number, meter.model, meter.manufacturer) == (
        "2024001",
        "SDM630",
        "Eastron",
    )
    assert (meter.address, meter.extra["profile"], meter.family) == ("1", "sdm630", "modbus")
    assert (inverter.serial_number, inverter.firmware) == ("SIM0002", "SIM1.0")
    assert inverter.extra["device_type_code"] == "5200"
    assert isinstance(found[0], FoundUnit)


async def test_read_matches_the_registers(client: ModbusClient, simulator: ModbusSimulator) -> None:
    devices = await client.identify()
    assert [device.extra["profile"] for device in devices] == ["sdm630", "growatt_min"]
    simulator.unit(1).set_value("grid_voltage_l1", 231.7)
    simulator.unit(2).set_value("pv1_voltage", 345.6)
    for device in devices:
        keys = [point.key for point in client.catalogue(device)]
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
    record = await write_setting(client, inverter, points["inverter_enabled"], "off")
    assert (record.old, record.new) == ("on", "off")
    assert simulator.unit(2).value("inverter_enabled") == 0
    # FC16: a float32 in two registers.
    meter_points = {point.key: point for point in client.catalogue(meter)}
    record = await write_setting(client, meter, meter_points["demand_period"], 15)
    assert record.outcome is Outcome.APPLIED
    assert simulator.unit(1).value("demand_period") == 15.0
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
    assert await client.scan([1, 2]) == [FoundUnit(unit=1, profile_id="sdm630", identity=meter)]
    simulator.unit(2).wake()
    assert (await client.read(inverter, ["device_mode"])) == {"device_mode": "normal"}


# Identification without a scan ---------------------------------------------------------


async def test_units_with_and_without_configured_profiles(
    simulator: ModbusSimulator,
    registry: ProfileRegistry,
    socket_enabled: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    units = [
        UnitConfig(unit=1, profile="demo_inverter"),
        UnitConfig(unit=2, profile="growatt_tlx_legacy"),
    ]
    client = await open_client(simulator, "tcp", registry, units)
    try:
        with caplog.at_level(logging.WARNING):
            meter, inverter = await client.identify()
        # The legacy map's rules hold for this inverter too: configured, so used.
        assert inverter.extra["profile"] == "growatt_tlx_legacy"
        # The SDM630 fails the demo inverter's rules: the user's choice still wins, with a warning.
        assert meter.extra["profile"] == "demo_inverter"
        assert "unit 1 does not look like a Demo Inverter 5K (demo_inverter)" in caplog.text
        assert "unit 2" not in caplog.text
        simulator.unit(2).sleep()
        with pytest.raises(LinkTimeoutError):
            await client.identify_unit(UnitConfig(unit=2))
        with pytest.raises(ProfileError, match="no Modbus profile 'nope'"):
            await client.identify_unit(UnitConfig(unit=1, profile="nope"))
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
        assert client.units == [UnitConfig(unit=1)]
        with pytest.raises(UnsupportedError, match="unit 1 answers but matches no Modbus profile"):
            await client.identify()
        assert await client.scan([1]) == []
        # Without rules, a configured unit is checked by reading its first point.
        device = await client.identify_unit(UnitConfig(unit=1, profile="stranger"))
        assert device.serial_number == "2024001"
        simulator.unit(1).refuse(4)
        with caplog.at_level(logging.WARNING):
            device = await client.identify_unit(UnitConfig(unit=1, profile="stranger"))
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
        client = await open_client(simulator, "tcp", local, [UnitConfig(unit=5)])
        (device,) = await client.identify()
        assert device.serial_number == "demo_meter-unit5"
        assert device.extra == {"profile": "demo_meter", "serial_source": "derived"}
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
        client = await open_client(simulator, "tcp", registry, [UnitConfig(unit=4)])
        (device,) = await client.identify()
        assert (device.serial_number, device.firmware) == ("SIM0004", None)
        assert device.extra == {"profile": "demo_inverter", "device_type_code": "5000"}
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
        client = await open_client(simulator, "tcp", registry, [UnitConfig(unit=3)])
        stored = DeviceIdentity(
            serial_number="x",
            family="modbus",
            model="m",
            manufacturer="m",
            address="3",
            extra={"profile": "demo_inverter"},
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
    return ModbusClient(link, framing=framing, units=[UnitConfig(unit=1)], registry=registry)


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
