"""The Xcom client against the independent simulator, over a pty, TCP and UDP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import time
import logging
from pathlib import Path
from typing import Any, ClassVar

from inverterlib.errors import (
    DeviceRefusedError,
    LinkTimeoutError,
    ReadBackMismatchError,
    UnknownPointError,
    UnsupportedError,
    ValidationError,
)
from inverterlib.model import DeviceIdentity, PointKind, PollGroup, Value
from inverterlib.quality import QualityFilter, Rejection
from inverterlib.session import LinkSession, SessionSettings
from inverterlib.writer import Outcome, write_setting
from inverterlib.xcom.catalogue import unit_catalogue
from inverterlib.xcom.codec import Property
from inverterlib.xcom.errors import GatewayBusyError, UnitUnreachableError, XcomRefusedError
from inverterlib.xcom.kinds import XTENDER
import pytest

from simulators.xcom import Fault, XcomSimulator
from simulators.xcom_frames import ERRORS, Request
from simulators.xcom_units import Xtender

from .xcom_support import (
    INPUT_LIMIT,
    Harness,
    by_address,
    identified,
    number,
    point,
)

CHARGE_CURRENT = "battery_charge_current_1138"
LIVE = ("battery_voltage", "battery_current", "ac_output_power", "device_mode")


@pytest.fixture(name="xcom")
async def xcom_fixture(tmp_path: Path, socket_enabled: None) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    await harness.aclose()


# Identify and read ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["pty", "tcp", "udp"])
async def test_identify_and_read_every_unit(xcom: Harness, transport: str) -> None:
    simulator, client, devices = await identified(xcom, transport)
    system, *units = devices
    assert [device.address for device in units] == ["101", "102", "103", "301", "601"]
    assert [device.model for device in units] == [
        "Xtender XTH",
        "Xtender XTH",
        "Xtender XTH",
        "VarioTrack VT-80",
        "BSP",
    ]
    fids = {
        int(device.address): sim.fid
        for device in units
        for sim in [simulator.units[int(device.address)]]
    }
    for device in units:
        assert device.serial_number == f"{fids[int(device.address)]:08X}"
        assert device.firmware == "1.6.30"
        assert device.parent_serial == system.serial_number
        assert device.manufacturer == "Studer Innotec"
    assert system.address == "501"
    assert system.serial_number == f"xcom-{units[0].serial_number}"
    assert client.multi_info is True

    values = {int(d.address): await client.read(d, LIVE) for d in units[:3]}
    vt = await client.read(units[3], ["battery_current", "pv_power", "pv_energy", "device_mode"])
    bsp = await client.read(units[4], ["battery_current", "battery_soc", "battery_power"])
    # Each Xtender carries its own share; the BSP sees the inverters minus the solar charger.
    shares = [number(values[a], "ac_output_power") for a in (101, 102, 103)]
    assert shares[0] < shares[1] < shares[2]
    assert all(values[a]["device_mode"] == "inverter" for a in values)
    inverters = sum(number(values[a], "battery_current") for a in values)
    assert inverters > 0
    assert number(vt, "battery_current") < 0
    assert number(bsp, "battery_current") == pytest.approx(
        inverters + number(vt, "battery_current"), abs=1.0
    )
    assert number(bsp, "battery_power") == pytest.approx(
        number(bsp, "battery_current") * number(values[101], "battery_voltage"), rel=0.05
    )
    assert number(vt, "pv_energy") == pytest.approx(12345.0)
    assert vt["device_mode"] == "charge"
    totals = await client.read(system, ["ac_output_power", "pv_power", "last_message"])
    assert number(totals, "ac_output_power") == pytest.approx(sum(shares), abs=50)
    assert "last_message" not in totals


async def test_identify_at_line_speed_on_a_paced_pty(xcom: Harness) -> None:
    simulator, client = await xcom.start(
        "pty", simulator=XcomSimulator(xtenders=1, bsp=False, baud=115200), timeout=1.0
    )
    devices = await client.identify()
    assert [device.address for device in devices] == ["501", "101", "301"]
    assert simulator.stats.bytes_out > 1000


async def test_multi_info_batches_every_unit_into_one_request(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom, prefetch_ttl=60.0)
    units = devices[1:]
    for device in units:
        await client.read(device, LIVE[:2])
    before = simulator.stats.requests.copy()
    for device in units:
        values = await client.read(device, LIVE[:2])
        assert set(values) == set(LIVE[:2])
    asked = simulator.stats.requests - before
    # The first unit's read fetched the others' infos too; their reads were served from it.
    assert asked == {"read multi-info 1 @501": 1}


async def test_one_read_per_info_without_multi_info(xcom: Harness) -> None:
    simulator, client = await xcom.start(simulator=XcomSimulator(multi_info=False))
    devices = await client.identify()
    assert client.multi_info is False
    before = simulator.stats.total
    values = await client.read(devices[1], LIVE)
    assert set(values) == set(LIVE)
    assert simulator.stats.total - before == len(LIVE)


async def test_infos_by_property_5_and_enums_as_floats(xcom: Harness) -> None:
    simulator = XcomSimulator(
        multi_info=False, info_properties=(Property.VALUE_QSP,), enums_as_float=True
    )
    _, client = await xcom.start(simulator=simulator)
    devices = await client.identify()
    assert client.info_property is Property.VALUE_QSP
    values = await client.read(devices[1], ["device_mode", "battery_cycle_phase"])
    assert values == {"device_mode": "inverter", "battery_cycle_phase": "floating"}


async def test_a_120_volt_xtender_gets_its_own_limits(xcom: Harness) -> None:
    simulator = XcomSimulator(xtenders=1, variotrack=False)
    unit = simulator.units[101]
    assert isinstance(unit, Xtender)
    unit.nominal_voltage = 120.0
    _, client = await xcom.start(simulator=simulator)
    devices = by_address(await client.identify())
    assert devices[101].profile == "xtender_120v"
    output = point(client, devices[101], "ac_output_voltage_1286")
    assert (output.minimum, output.maximum) == (55, 140)
    assert devices[601].model == "BSP"


async def test_scan_finds_a_unit_that_joined_later(xcom: Harness) -> None:
    simulator, client, _ = await identified(xcom)
    simulator.units[104] = Xtender(104, simulator.installation)
    found = await client.scan([102, 104, 105, 999])
    assert [device.address for device in found] == ["104"]
    assert found[0].parent_serial is not None
    assert await client.scan([104]) == []
    # One that joins with a known unit's factory id gets its own serial.
    simulator.units[105] = Xtender(105, simulator.installation)
    simulator.units[105].fid = simulator.units[101].fid
    (late,) = await client.scan([105])
    assert late.serial_number == f"{simulator.units[101].fid:08X}-105"


async def test_nothing_behind_the_xcom_or_nobody_at_all(xcom: Harness) -> None:
    simulator, client = await xcom.start(
        simulator=XcomSimulator(xtenders=0, variotrack=False, bsp=False)
    )
    with pytest.raises(UnsupportedError, match="no Studer unit"):
        await client.identify()
    simulator.inject(Fault.SILENCE)
    with pytest.raises(LinkTimeoutError):
        await client.identify()


async def test_unknown_devices_and_points(xcom: Harness) -> None:
    _, client, devices = await identified(xcom)
    stranger = DeviceIdentity(
        serial_number="x", family="xcom", model="?", manufacturer="?", address="109", profile="?"
    )
    with pytest.raises(UnsupportedError):
        client.catalogue(stranger)
    with pytest.raises(UnsupportedError, match="no unit at address 109"):
        await client.read(replace(devices[1], address="109"), LIVE)
    with pytest.raises(UnknownPointError):
        await client.read(devices[1], ["no_such_point"])
    with pytest.raises(UnknownPointError):
        await client.read(devices[0], ["no_such_point"])


# Writing -------------------------------------------------------------------------------------


async def test_settings_go_to_ram_and_read_back(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom, "udp")
    xt = by_address(devices)[102]
    limit = point(client, xt, INPUT_LIMIT)
    record = await write_setting(client, xt, limit, 16)
    assert record.outcome is Outcome.APPLIED
    assert record.old == 32
    parameter = simulator.units[102].parameters[1107]
    assert (parameter.ram, parameter.flash) == (16, 32)
    assert client.flash_writes == 0
    assert (await client.read(xt, [INPUT_LIMIT]))[INPUT_LIMIT] == 16
    # The same value again is not sent.
    assert (await write_setting(client, xt, limit, 16)).outcome is Outcome.UNCHANGED
    # Floats come back rounded to the device's fixed point; the step absorbs it.
    floating = point(client, xt, "floating_voltage_1140")
    assert (await write_setting(client, xt, floating, 54.3)).outcome is Outcome.APPLIED
    assert simulator.units[102].parameters[1140].ram != pytest.approx(54.3, abs=1e-6)
    assert (await client.read(xt, ["floating_voltage_1140"]))["floating_voltage_1140"] == 54.3


async def test_switches_selects_times_and_actions(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    xt = by_address(devices)[101]
    for key, value in (
        ("smart_boost_allowed_1126", False),
        ("type_of_detection_of_the_grid_loss_ac_in_1552", "fast"),
        ("start_hour_aux_1_1206", time(6, 30)),
    ):
        record = await write_setting(client, xt, point(client, xt, key), value)
        assert record.outcome is Outcome.APPLIED
        assert (await client.read(xt, [key]))[key] == value
    assert simulator.units[101].parameters[1552].ram == 4
    assert simulator.units[101].parameters[1206].ram == 390
    action = point(client, xt, "force_a_new_cycle_1142")
    assert action.kind is PointKind.ACTION
    await write_setting(client, xt, action, None)
    assert simulator.units[101].signals == [1142]
    assert client.flash_writes == 0


async def test_refused_values(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    xt = by_address(devices)[101]
    limit = point(client, xt, INPUT_LIMIT)
    before = simulator.stats.total
    with pytest.raises(ValidationError):
        await write_setting(client, xt, limit, 500)
    # Past the shared validation, the client checks the unit's own range before sending.
    with pytest.raises(ValidationError, match="between 2 and 50 on unit 101"):
        await client.write(xt, limit, 500.0)
    assert simulator.stats.total == before
    assert simulator.units[101].parameters[1107].ram == 32
    installer = point(client, xt, "charger_uses_only_power_from_ac_out_1646")
    assert installer.kind is PointKind.READING
    with pytest.raises(UnsupportedError, match="read-only"):
        await client.write(xt, installer, True)


# The units' own ranges -----------------------------------------------------------------------


async def test_the_units_own_ranges_win_over_the_appendix(xcom: Harness) -> None:
    """A model's narrower range (120 A of charge, not 200) bounds its entity and its writes."""
    simulator, client, devices = await identified(xcom)
    system, xt = devices[0], by_address(devices)[101]
    charge = point(client, xt, CHARGE_CURRENT)
    assert (charge.minimum, charge.maximum, charge.step) == (0.0, 120.0, 1.0)
    assert point(client, system, CHARGE_CURRENT).maximum == 120.0
    # Where the model follows the appendix, so does the point.
    assert (point(client, xt, INPUT_LIMIT).minimum, point(client, xt, INPUT_LIMIT).maximum) == (
        2.0,
        50.0,
    )
    before = simulator.stats.total
    with pytest.raises(ValidationError, match=r"between 0\.0 and 120\.0"):
        await write_setting(client, xt, charge, 150)
    appendix = replace(charge, maximum=200.0)
    for device in (xt, system):
        with pytest.raises(ValidationError, match="the device's own limits"):
            await client.write(device, appendix, 150.0)
    assert simulator.stats.total == before
    await write_setting(client, xt, charge, 110)
    assert simulator.units[101].parameters[1138].ram == 110
    # The Xcom's own settings are bounded by the Xcom's range.
    contrast = replace(point(client, system, "display_contrast_5006"), maximum=None)
    with pytest.raises(ValidationError, match="between 0 and 100 on the Xcom"):
        await client.write(system, contrast, 150.0)


async def test_ranges_are_read_once_per_kind_and_firmware(xcom: Harness) -> None:
    """Siblings share their first unit's ranges; a unit on other firmware is asked itself."""
    simulator = XcomSimulator(clock=lambda: 1000.0)
    simulator.units[103].software = (1, 6, 28)
    _, client, devices = await identified(xcom, simulator=simulator)
    asked = simulator.stats.requests
    # Min and max, from the first Xtender and from the one on other firmware only.
    assert [asked[f"read parameter 1138 @{a}"] for a in (101, 102, 103)] == [2, 0, 2]
    assert asked["read parameter 10005 @301"] == 2
    assert asked["read parameter 5009 @501"] == 2
    # Expert settings are not read at setup.
    assert asked["read parameter 1523 @101"] == 0
    assert point(client, by_address(devices)[103], CHARGE_CURRENT).maximum == 120.0


async def test_an_expert_range_is_read_at_its_first_write(xcom: Harness) -> None:
    """An expert setting's range is read before its first write, and refuses what is out."""
    simulator, client, devices = await identified(xcom)
    xt = by_address(devices)[102]
    feed = point(client, xt, "max_grid_feeding_current_1523")
    assert feed.maximum == 50.0
    with pytest.raises(ValidationError, match="between 0 and 40 on unit 102"):
        await client.write(xt, feed, 45.0)
    assert simulator.units[102].parameters[1523].ram == 10
    assert point(client, xt, feed.key).maximum == 40.0
    await client.write(xt, feed, 30.0)
    assert simulator.units[102].parameters[1523].ram == 30
    # Min and max once: the second write needs no new read.
    assert simulator.stats.requests["read parameter 1523 @102"] == 2


async def test_expert_mode_reads_the_expert_ranges_at_setup(xcom: Harness) -> None:
    """In expert mode the expert settings are entities, so their entities get the unit's range."""
    simulator, client, devices = await identified(xcom, expert=True)
    xt = by_address(devices)[102]
    assert point(client, xt, "max_grid_feeding_current_1523").maximum == 40.0
    assert simulator.stats.requests["read parameter 1523 @101"] == 2


class UpsideDown(Xtender):
    """An Xtender whose firmware reports the input limit's range upside down."""

    LIMITS: ClassVar[dict[int, tuple[float, float]]] = {1107: (50.0, 2.0)}


async def test_a_unit_that_refuses_ranges_keeps_the_appendix(
    xcom: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Older firmware without min and max properties: the appendix bounds, the unit refuses."""
    simulator = XcomSimulator(clock=lambda: 1000.0)
    for unit in simulator.units.values():
        unit.ranges = False
    simulator.units[102] = UpsideDown(102, simulator.installation)
    simulator.units[102].software = (1, 6, 28)
    with caplog.at_level(logging.DEBUG, logger="inverterlib.xcom.client"):
        _, client, devices = await identified(xcom, simulator=simulator)
    assert "gives no range of 1138" in caplog.text
    # A range that is none (its minimum above its maximum) leaves the appendix's too.
    assert "reports no usable range of 1107" in caplog.text
    assert point(client, by_address(devices)[102], INPUT_LIMIT).maximum == 50.0
    xt = by_address(devices)[101]
    charge = point(client, xt, CHARGE_CURRENT)
    assert charge.maximum == 200.0
    # Past every check the library can make, the unit itself refuses.
    with pytest.raises(XcomRefusedError, match="DATA_TOO_BIG") as refused:
        await client.write(xt, charge, 150.0)
    assert isinstance(refused.value, DeviceRefusedError)
    assert simulator.units[101].parameters[1138].ram == 60


async def test_a_silent_unit_gives_no_range_until_it_answers(xcom: Harness) -> None:
    """A unit gone while its range is read keeps the appendix's, and is asked again later."""
    simulator, client, devices = await identified(xcom)
    xt = by_address(devices)[101]
    feed = point(client, xt, "max_grid_feeding_current_1523")
    simulator.drop(101)
    with pytest.raises(UnitUnreachableError):
        await client.write(xt, feed, 45.0)
    simulator.restore(101)
    with pytest.raises(ValidationError, match="between 0 and 40"):
        await client.write(xt, feed, 45.0)


async def test_flash_writes_when_chosen_and_counted(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom, flash=True)
    xt = by_address(devices)[103]
    await write_setting(client, xt, point(client, xt, INPUT_LIMIT), 20)
    parameter = simulator.units[103].parameters[1107]
    assert (parameter.ram, parameter.flash) == (20, 20)
    assert client.flash_writes == 1
    assert simulator.units[103].flash_writes == 1


async def test_a_unit_without_ram_parameters(xcom: Harness) -> None:
    simulator = XcomSimulator(xtenders=1, variotrack=False, bsp=False)
    simulator.units[101].ram = False
    _, client = await xcom.start(simulator=simulator)
    xt = by_address(await client.identify())[101]
    limit = point(client, xt, INPUT_LIMIT)
    assert (await client.read(xt, [INPUT_LIMIT]))[INPUT_LIMIT] == 32
    with pytest.raises(UnsupportedError, match="allow flash writes"):
        await client.write(xt, limit, 20.0)
    client.flash = True
    await client.write(xt, limit, 20.0)
    assert simulator.units[101].parameters[1107].flash == 20


async def test_group_settings_write_every_xtender(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    system = devices[0]
    charge = point(client, system, CHARGE_CURRENT)
    assert (await client.read(system, [CHARGE_CURRENT]))[CHARGE_CURRENT] == 60
    record = await write_setting(client, system, charge, 40)
    assert record.outcome is Outcome.APPLIED
    assert [simulator.units[a].parameters[1138].ram for a in (101, 102, 103)] == [40, 40, 40]
    assert simulator.stats.requests["write parameter 1138 @100"] == 1
    # Units that disagree have no common value.
    simulator.units[102].parameters[1138].ram = 50
    assert await client.read(system, [CHARGE_CURRENT]) == {}
    # A unit that did not take the multicast write is named.
    simulator.drop(103)
    with pytest.raises(UnitUnreachableError):
        await client.write(system, charge, 45.0)
    simulator.restore(103)
    simulator.units[103].ram = False
    with pytest.raises(UnsupportedError, match="allow flash writes"):
        await client.write(system, charge, 45.0)


async def test_group_write_read_back_mismatch(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    system = devices[0]
    charge = point(client, system, CHARGE_CURRENT)
    original = simulator.answer

    def lose_102(request: Request) -> bytes:
        # Unit 102 misses the multicast write (say it restarted in between).
        reply = original(request)
        if request.destination == 100:
            simulator.units[102].parameters[1138].ram = 60
        return reply

    simulator.answer = lose_102  # type: ignore[method-assign]
    with pytest.raises(ReadBackMismatchError, match="unit 102"):
        await client.write(system, charge, 45.0)


async def test_xcom_parameters_on_the_system(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    system = devices[0]
    keys = [p.key for p in client.catalogue(system) if p.key.endswith("_5101")]
    assert keys
    values = await client.read(system, keys)
    assert values[keys[0]] == "automatic"
    await client.write(system, point(client, system, keys[0]), "yes")
    assert simulator.gateway.parameters[5101].ram == 2


# Faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.BAD_CHECKSUM, Fault.SILENCE, Fault.GARBAGE])
async def test_a_lost_or_garbled_reply_is_asked_again(xcom: Harness, fault: Fault) -> None:
    simulator, client, devices = await identified(xcom, multi_info=False)
    xt = devices[1]
    simulator.inject(fault, 1)
    before = simulator.stats.total
    values = await client.read(xt, ["battery_voltage"])
    assert 45 < number(values, "battery_voltage") < 56
    expected = 1 if fault is Fault.GARBAGE else 2
    assert simulator.stats.total - before == expected


async def test_a_silent_xcom_times_out_with_no_value(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    simulator.inject(Fault.BAD_CHECKSUM)
    with pytest.raises(Exception, match="checksum"):
        await client.read(devices[1], ["battery_voltage"])
    simulator.inject(Fault.SILENCE)
    with pytest.raises(LinkTimeoutError):
        await client.read(devices[1], ["battery_voltage"])
    simulator.clear_faults()
    assert "battery_voltage" in await client.read(devices[1], ["battery_voltage"])


async def test_a_busy_gateway_is_asked_again_after_a_pause(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    simulator.inject(Fault.BUSY, 2)
    assert "battery_voltage" in await client.read(devices[1], ["battery_voltage"])
    simulator.inject(Fault.BUSY)
    with pytest.raises(GatewayBusyError):
        await client.read(devices[2], ["ac_output_power"])
    # A range the busy gateway did not give is asked again at the next write.
    feed = point(client, devices[2], "max_grid_feeding_current_1523")
    with pytest.raises(GatewayBusyError):
        await client.write(devices[2], feed, 45.0)
    simulator.clear_faults()
    with pytest.raises(ValidationError, match="between 0 and 40"):
        await client.write(devices[2], feed, 45.0)


async def test_a_slow_reply_inside_the_timeout_is_taken(xcom: Harness) -> None:
    simulator, client = await xcom.start(simulator=XcomSimulator(slow_delay=0.5), timeout=1.5)
    devices = await client.identify()
    simulator.inject(Fault.SLOW, 1)
    assert "battery_voltage" in await client.read(devices[1], ["battery_voltage"])


async def test_a_late_reply_to_an_earlier_request_is_drained(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom, multi_info=False)
    await client.read(devices[1], ["battery_voltage"])
    simulator.inject(Fault.STALE, 1)
    values = await client.read(devices[1], ["ac_output_power"])
    assert set(values) == {"ac_output_power"}
    assert client.wire.drained == 1


@pytest.mark.parametrize("multi_info", [True, False])
async def test_a_dropped_unit_is_unreachable_while_the_others_read(
    xcom: Harness, multi_info: bool
) -> None:
    simulator, client, devices = await identified(xcom, multi_info=multi_info)
    units = by_address(devices)
    for device in devices[1:]:
        await client.read(device, ["battery_voltage", "battery_current"])
    simulator.drop(102)
    simulator.units[101].overrides[3005] = -9999.0
    with pytest.raises(UnitUnreachableError) as silent:
        await client.read(units[102], LIVE)
    assert silent.value.address == 102
    assert isinstance(silent.value, LinkTimeoutError)
    assert client.unreachable == {102}
    # The others keep reading; the absurd current of 101 never passes the quality filter.
    first = await client.read(units[101], LIVE)
    points = {p.key: p for p in client.catalogue(units[101])}
    quality = QualityFilter(points)
    assert "battery_current" not in quality.apply(first)
    assert quality.rejected["battery_current"] is Rejection.IMPLAUSIBLE
    for address in (103, 301, 601):
        assert await client.read(units[address], ["battery_voltage"])
    # A total with a unit missing is not published.
    assert "ac_output_power" not in await client.read(devices[0], ["ac_output_power"])
    results = await client.read_many({101: ["battery_voltage"], 102: ["battery_voltage"], 108: []})
    assert isinstance(results[102], UnitUnreachableError)
    assert isinstance(results[108], UnsupportedError)
    assert not isinstance(results[101], Exception)
    assert "battery_voltage" in results[101]
    simulator.restore(102)
    assert set(await client.read(units[102], LIVE)) == set(LIVE)
    assert client.unreachable == set()


async def test_a_restarted_xcom_is_noticed_and_its_flag_cleared(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    assert client.restarts == 1
    assert simulator.gateway.signals == [5104]
    simulator.restart()
    await client.read(devices[1], ["battery_voltage"])
    assert client.restarts == 2
    assert simulator.flags == 0
    await client.read(devices[1], ["battery_voltage"])
    assert client.restarts == 2


async def test_pending_messages_are_fetched(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    simulator.post_message(19, 101)
    await client.read(devices[1], ["battery_voltage"])
    assert [(m.code, m.source) for m in client.messages] == [(19, 101)]
    keys = ["last_message", "last_message_code", "last_message_unit"]
    values = await client.read(devices[0], keys)
    assert values == {
        "last_message": "m019_battery_undervoltage",
        "last_message_code": 19,
        "last_message_unit": 101,
    }
    message = point(client, devices[0], "last_message")
    assert message.option_label("m019_battery_undervoltage") == (
        "Halted (019): Battery undervoltage"
    )
    # A code newer than the published table keeps its number and unit.
    simulator.post_message(999, 301)
    await client.read(devices[1], ["battery_voltage"])
    assert await client.read(devices[0], keys) == {
        "last_message": "unlisted",
        "last_message_code": 999,
        "last_message_unit": 301,
    }


async def test_units_sharing_or_lacking_a_factory_id_get_distinct_stable_serials(
    xcom: Harness,
) -> None:
    """Two Xtenders reporting one FID, and one reporting a blank FID, stay three devices."""
    simulator = XcomSimulator(clock=lambda: 1000.0)
    simulator.units[102].fid = simulator.units[101].fid
    simulator.units[103].fid = 0
    _, client, devices = await identified(xcom, simulator=simulator)
    shared = f"{simulator.units[101].fid:08X}"
    serials = [by_address(devices)[a].serial_number for a in (101, 102, 103)]
    assert serials == [f"{shared}-101", f"{shared}-102", "xtender-103"]
    assert by_address(devices)[101].details["serial_source"] == "fid_and_address"
    again = await client.identify()
    assert [by_address(again)[a].serial_number for a in (101, 102, 103)] == serials


# Older firmware and odd answers ---------------------------------------------------------------


async def test_other_refusals_of_a_read_stay_refusals(xcom: Harness) -> None:
    """Only INVALID_DATA means a missing object; a multicast read is refused as it is."""
    _, client, _ = await identified(xcom)
    charge = unit_catalogue(XTENDER).bindings[CHARGE_CURRENT].datapoint
    with pytest.raises(XcomRefusedError, match="MULTICAST_READ_NOT_SUPPORTED"):
        await client._read_object(XTENDER.group or 0, charge)


async def test_units_that_refuse_missing_infos_with_invalid_data(xcom: Harness) -> None:
    """A BSP refusing the BMS's probe with INVALID_DATA is a BSP; other reads go on."""
    simulator = XcomSimulator(clock=lambda: 1000.0)
    simulator.missing_info = ERRORS["INVALID_DATA"]
    _, client, devices = await identified(xcom, simulator=simulator)
    assert [device.address for device in devices[1:]] == ["101", "102", "103", "301", "601"]
    bsp = by_address(devices)[601]
    assert bsp.profile == "bsp"
    assert simulator.stats.requests["read info 7054 @601"] == 1
    assert 40 < number(await client.read(bsp, ["battery_voltage"]), "battery_voltage") < 60


async def test_a_unit_without_a_factory_id_and_a_hung_address(xcom: Harness) -> None:
    simulator = XcomSimulator(multi_info=False)
    for info in (3156, 3157):
        del simulator.units[102]._infos[info]
    simulator.hang(103)
    _, client = await xcom.start(simulator=simulator, timeout=0.3)
    devices = by_address(await client.identify())
    assert devices[102].serial_number == "xtender-102"
    assert devices[102].details["serial_source"] == "derived"
    assert 103 not in devices
    assert client.unreachable == set()


async def test_a_missing_info_is_not_asked_again(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom, multi_info=False)
    del simulator.units[101]._infos[3104]
    keys = ["battery_voltage", "inverter_temperature"]
    assert set(await client.read(devices[1], keys)) == {"battery_voltage"}
    before = simulator.stats.total
    assert set(await client.read(devices[1], keys)) == {"battery_voltage"}
    assert simulator.stats.total - before == 1


@pytest.mark.parametrize("multi_info", [True, False])
async def test_a_value_that_is_not_a_number_is_not_published(
    xcom: Harness, multi_info: bool
) -> None:
    simulator, client, devices = await identified(xcom, multi_info=multi_info)
    simulator.units[101].overrides[3000] = float("nan")
    values = await client.read(devices[1], ["battery_voltage", "ac_output_power"])
    assert set(values) == {"ac_output_power"}
    simulator.units[101].overrides[3136] = float("nan")
    assert await client.read(devices[1], ["battery_voltage", "ac_output_power"]) == {}
    assert client.unreachable == set()


async def test_multi_info_requests_stay_within_76_items(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    for device in devices[1:]:
        infos = [p.key for p in client.catalogue(device) if p.group is not PollGroup.SLOW]
        await client.read(device, infos)
    # The first read takes what the last one fetched for it; the second asks again.
    assert await client.read(devices[1], ["battery_voltage"])
    sizes: list[int] = []
    original = simulator.answer

    def record(request: Request) -> bytes:
        if request.object_type == 0x0A:
            sizes.append(len(request.data) // 3)
        return original(request)

    simulator.answer = record  # type: ignore[method-assign]
    assert await client.read(devices[1], ["battery_voltage"])
    assert sizes
    assert max(sizes) == 76


async def test_a_dropped_unit_fails_a_parameter_read(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    simulator.drop(101)
    with pytest.raises(UnitUnreachableError):
        await client.read(devices[1], [INPUT_LIMIT])
    assert client.unreachable == {101}


async def test_a_failed_follow_up_is_logged_not_raised(xcom: Harness) -> None:
    simulator = XcomSimulator()
    del simulator.gateway.parameters[5104]
    _, client = await xcom.start(simulator=simulator)
    devices = await client.identify()
    assert client.restarts == 1
    assert "battery_voltage" in await client.read(devices[1], ["battery_voltage"])
    assert client.restarts == 1
    # Another refusal of a write is the library error it is.
    del simulator.gateway.parameters[5101]
    datalogger = point(client, devices[0], "datalogger_enabled_5101")
    with pytest.raises(UnsupportedError, match="OBJECT_ID_NOT_FOUND"):
        await client.write(devices[0], datalogger, "yes")


async def test_a_ram_write_learns_that_a_unit_has_no_ram(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    simulator.units[102].ram = False
    xt = by_address(devices)[102]
    with pytest.raises(UnsupportedError, match="allow flash writes"):
        await client.write(xt, point(client, xt, INPUT_LIMIT), 20.0)
    assert (await client.read(xt, [INPUT_LIMIT]))[INPUT_LIMIT] == 32


async def test_a_session_keeps_the_others_while_one_unit_is_gone(xcom: Harness) -> None:
    simulator, client = await xcom.start()
    session = LinkSession(client, SessionSettings(scan_interval=0.01))
    await session.start()
    await session.poll()
    serials = {state.identity.address: serial for serial, state in session.devices.items()}
    assert session.devices[serials["101"]].values["battery_voltage"]
    simulator.drop(102)
    await session.poll()
    assert not session.devices[serials["102"]].available
    assert session.devices[serials["101"]].available
    assert session.devices[serials["601"]].available
    simulator.restore(102)
    session.devices[serials["102"]].retry_at = 0
    await session.poll()
    assert session.devices[serials["102"]].available
    await session.close()


async def polled(
    xcom: Harness, *, multi_info: bool, **options: Any
) -> tuple[XcomSimulator, LinkSession]:
    """Return a session on the demo installation that has polled once (settings included)."""
    simulator, client = await xcom.start(
        simulator=XcomSimulator(multi_info=multi_info, clock=lambda: 1000.0), **options
    )
    session = LinkSession(client)
    await session.start()
    await session.poll()
    return simulator, session


def by_address_values(session: LinkSession) -> dict[str, dict[str, Value]]:
    return {state.identity.address: state.values for state in session.devices.values()}


@pytest.mark.parametrize("multi_info", [True, False])
async def test_a_session_cycle_reads_each_info_once(xcom: Harness, multi_info: bool) -> None:
    """The system's totals take the units' infos of the same cycle; nothing is read twice."""
    simulator, session = await polled(xcom, multi_info=multi_info)
    for _ in range(3):
        before = simulator.stats.requests.copy()
        await session.poll()
        asked = simulator.stats.requests - before
        if multi_info:
            assert asked == {"read multi-info 1 @501": 1}
        else:
            # 20 infos of each of 3 Xtenders, 10 of the VarioTrack, 5 of the BSP: one read each.
            assert len(asked) == 3 * 20 + 10 + 5
            assert set(asked.values()) == {1}
            assert all(request.startswith("read info ") for request in asked)
    values = by_address_values(session)
    xtenders = [values[address] for address in ("101", "102", "103")]
    for key in ("ac_output_power", "grid_power"):
        total = sum(number(xtender, key) for xtender in xtenders)
        assert number(values["501"], key) == pytest.approx(total, abs=1.0)
    assert number(values["501"], "ac_output_power") > 0
    assert number(values["501"], "pv_power") == pytest.approx(number(values["301"], "pv_power"))
    await session.close()


async def test_a_cycle_longer_than_the_ttl_reads_afresh(xcom: Harness) -> None:
    """Values never serve another reader once older than the TTL: the totals read their own."""
    simulator, session = await polled(xcom, multi_info=False, prefetch_ttl=0.0)
    before = simulator.stats.total
    await session.poll()
    assert simulator.stats.total - before == 3 * 20 + 10 + 5 + 3 * 2 + 1
    await session.close()
