"""The PI30 client against the independent simulator, through a real pty."""

from __future__ import annotations

from datetime import datetime

from inverterlib.errors import (
    DeviceRefusedError,
    FrameError,
    InverterError,
    LinkError,
    LinkTimeoutError,
    UnsupportedError,
    ValidationError,
)
from inverterlib.model import (
    DeviceIdentity,
    Point,
    PointKind,
    PollGroup,
    Value,
)
from inverterlib.pi30.client import Pi30Client
from inverterlib.writer import Outcome, write_setting
import pytest

from simulators.pi30 import Fault, Pi30Simulator
from simulators.pi30_device import Profile

from .conftest import Pi30Harness

SERIAL = "92932105105335"

# A new value for every setting the simulated unit has; the device starts at its defaults.
NEW_VALUES: dict[str, object] = {
    "output_source_priority": "solar_first",
    "charger_source_priority": "solar_and_utility",
    "input_voltage_range": "ups",
    "battery_type": "pylontech",
    "output_mode": "parallel",
    "output_frequency": "60",
    "output_voltage": "240",
    "charging_stage": "three_stage",
    "operation_logic": "online",
    "pv_ok_condition": "all_units",
    "pv_power_balance": "charge_current",
    "battery_recharge_voltage": 47.0,
    "battery_redischarge_voltage": 0.0,
    "battery_under_voltage": 43.5,
    "battery_bulk_voltage": 57.6,
    "battery_float_voltage": 55.2,
    "max_charging_current": 100,
    "max_ac_charging_current": 2,
    "max_cv_charging_time": 180,
    "max_discharging_current": 30,
    "equalization_enabled": True,
    "equalization_time": 90,
    "equalization_period": 14,
    "equalization_voltage": 59.1,
    "equalization_over_time": 240,
    "equalization_active": True,
    "buzzer": False,
    "overload_bypass": False,
    "solar_feed_to_grid": True,
    "power_saving": True,
    "lcd_escape_to_default": True,
    "data_log_popup": True,
    "overload_restart": False,
    "over_temperature_restart": False,
    "lcd_backlight": False,
    "primary_source_interrupt_alarm": False,
    "fault_code_record": False,
    "flag_g": False,
}


def number(values: dict[str, Value], key: str) -> float:
    value = values[key]
    assert isinstance(value, int | float)
    return float(value)


def keys_of(client: Pi30Client, device: DeviceIdentity, group: PollGroup) -> list[str]:
    return [
        point.key
        for point in client.catalogue(device)
        if point.group is group and point.kind is not PointKind.ACTION
    ]


def points_of(client: Pi30Client, device: DeviceIdentity) -> dict[str, Point]:
    return {point.key: point for point in client.catalogue(device)}


async def identified(
    pi30: Pi30Harness, profile: Profile | None = None
) -> tuple[Pi30Simulator, Pi30Client, DeviceIdentity]:
    simulator, client = await pi30.serial(profile)
    devices = await client.identify()
    return simulator, client, devices[0]


async def test_identify_learns_the_unit(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    assert device.serial_number == SERIAL
    assert device.family == "pi30"
    assert device.model == "VMIII-5000"
    assert device.manufacturer == "Voltronic Power"
    assert device.firmware == "00072.70"
    assert device.address == ""
    assert device.parent_serial is None
    assert client.unsupported == set()
    points = points_of(client, device)
    for key in ("battery_voltage", "pv2_power", "pv_energy", "equalization_voltage", "flag_g"):
        assert key in points
    assert points["max_charging_current"].choices[0] == 10
    assert points["max_charging_current"].choices[-1] == 150
    # identify asks every query once; QSID is not needed when QID answers.
    assert simulator.stats.requests["QPIGS"] == 1
    assert "QSID" not in simulator.stats.requests


async def test_read_every_group(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    live = await client.read(device, keys_of(client, device, PollGroup.LIVE))
    physics = simulator.device.physics
    assert live["ac_output_voltage"] == 230.0
    assert live["battery_soc"] == round(physics.soc)
    assert live["device_mode"] == "battery"
    assert live["pv_power"] == pytest.approx(physics.pv1_w + physics.pv2_w, abs=3)
    assert number(live, "battery_power") == pytest.approx(
        number(live, "battery_voltage") * number(live, "battery_current"), abs=1
    )
    assert number(live, "pv_power") == number(live, "pv1_power") + number(live, "pv2_power")
    assert live["line_fail"] is False
    slow = await client.read(device, keys_of(client, device, PollGroup.SLOW))
    assert slow["output_source_priority"] == "sbu"
    assert slow["battery_bulk_voltage"] == 56.4
    assert slow["max_charging_current"] == 60
    assert slow["buzzer"] is True
    assert slow["power_saving"] is False
    assert slow["pv_energy"] == pytest.approx(physics.pv_wh / 1000, abs=0.001)
    assert slow["equalization_voltage"] == 58.4
    static = await client.read(device, keys_of(client, device, PollGroup.STATIC))
    assert static["general_model_number"] == "044"
    assert static["default_battery_type"] == "agm"


async def test_values_move(pi30: Pi30Harness) -> None:
    _, client, device = await identified(pi30)
    first = await client.read(device, ["pv_power", "load_percent", "battery_soc"])
    later = [await client.read(device, ["pv_power"]) for _ in range(5)]
    assert {reading["pv_power"] for reading in later} - {first["pv_power"]}


async def test_read_asks_only_the_queries_it_needs(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    before = simulator.stats.requests.copy()
    values = await client.read(device, ["device_mode", "line_fail", "not_a_point"])
    assert set(values) == {"device_mode", "line_fail"}
    assert simulator.stats.requests - before == {"QMOD": 1, "QPIWS": 1}


async def test_warnings_and_faults_are_reported(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    simulator.device.warnings.update({5, 31})
    simulator.device.fault_code = 7
    values = await client.read(device, ["line_fail", "battery_weak", "fan_locked", "device_mode"])
    assert values == {
        "line_fail": True,
        "battery_weak": True,
        "fan_locked": False,
        "device_mode": "fault",
    }


async def test_every_setting_written_and_read_back(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    points = points_of(client, device)
    settings = {key for key, point in points.items() if point.kind is PointKind.SETTING}
    assert settings == set(NEW_VALUES)
    for key, value in NEW_VALUES.items():
        record = await write_setting(client, device, points[key], value)
        assert record.outcome is Outcome.APPLIED, key
        assert record.new == value
    stored = simulator.device.settings
    assert stored.output_priority == 1
    assert stored.bulk_voltage == 57.6
    assert stored.eq_voltage == 59.1
    assert stored.flags["g"] is False
    again = await write_setting(client, device, points["battery_type"], "pylontech")
    assert again.outcome is Outcome.UNCHANGED


async def test_actions(pi30: Pi30Harness) -> None:
    device_time = datetime(2023, 5, 6, 7, 8, 9)
    client_time = datetime(2024, 2, 29, 23, 59, 30)
    simulator, client = await pi30.serial(clock=lambda: device_time)
    client.clock = lambda: client_time
    device = (await client.identify())[0]
    points = points_of(client, device)
    assert (await client.read(device, ["device_clock"]))["device_clock"] == "2023-05-06 07:08:09"
    await write_setting(client, device, points["sync_clock"], None)
    assert simulator.stats.requests["DAT240229235930"] == 1
    assert (await client.read(device, ["device_clock"]))["device_clock"] == "2024-02-29 23:59:30"
    await write_setting(client, device, points["reset_energy_counters"], True)
    assert number(await client.read(device, ["load_energy"]), "load_energy") < 1
    await write_setting(client, device, points["battery_float_voltage"], 52.0)
    await write_setting(client, device, points["reset_to_defaults"], True)
    assert (await client.read(device, ["battery_float_voltage"]))["battery_float_voltage"] == 54.0
    await write_setting(client, device, points["reset_data_log"], True)
    assert simulator.stats.requests["RTDL"] == 1


async def test_refused_setting_raises(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    points = points_of(client, device)
    # The unit validates the option list itself: a split-phase mode is refused with NAK.
    with pytest.raises(DeviceRefusedError):
        await write_setting(client, device, points["output_mode"], "phase_1_of_2")
    assert simulator.stats.requests["POPM05"] == 1
    assert simulator.device.settings.output_mode == 0


async def test_invalid_value_is_not_sent(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    points = points_of(client, device)
    sent = simulator.stats.total
    with pytest.raises(ValidationError):
        await write_setting(client, device, points["battery_bulk_voltage"], 99.0)
    with pytest.raises(ValidationError):
        await write_setting(client, device, points["max_charging_current"], 65)
    with pytest.raises(ValidationError):
        await write_setting(client, device, points["battery_type"], "lead_crystal")
    assert simulator.stats.total == sent


async def test_unexpected_setter_reply_is_a_refusal(
    pi30: Pi30Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator, client, device = await identified(pi30)
    monkeypatch.setattr(simulator.device, "handle", lambda command: "0")
    with pytest.raises(DeviceRefusedError):
        await client.write(device, points_of(client, device)["buzzer"], False)


async def test_write_without_setter_is_unsupported(pi30: Pi30Harness) -> None:
    _, client, device = await identified(pi30)
    with pytest.raises(UnsupportedError):
        await client.write(device, points_of(client, device)["battery_voltage"], 50.0)


async def test_raw_command(pi30: Pi30Harness) -> None:
    _, client, _ = await identified(pi30)
    assert await client.raw_command("QPI") == "PI30"
    assert await client.raw_command("QMOD") == "B"
    assert await client.raw_command("QXYZ") == "NAK"
    assert await client.raw_command("PBCV99.0") == "NAK"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.SILENCE, LinkTimeoutError),
        (Fault.GARBAGE, FrameError),
        (Fault.BAD_CRC, FrameError),
        (Fault.TRUNCATED, LinkTimeoutError),
        (Fault.NAK, DeviceRefusedError),
        (Fault.SLOW, LinkTimeoutError),
    ],
)
async def test_lasting_faults_raise_the_right_error(
    pi30: Pi30Harness, fault: Fault, error: type[InverterError]
) -> None:
    simulator, client, device = await identified(pi30)
    simulator.inject(fault)
    with pytest.raises(error):
        await client.read(device, ["battery_voltage"])
    simulator.clear_faults()
    await simulator.drain()
    assert await client.read(device, ["device_mode"]) == {"device_mode": "battery"}


async def test_slow_but_timely_reply_is_read(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    simulator.inject(Fault.SLOW)
    # Five bytes at 20 ms each arrive well within the 0.3 s timeout.
    assert await client.read(device, ["device_mode"]) == {"device_mode": "battery"}


async def test_late_reply_of_another_query_is_not_taken(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    # The first QPIGS reply is lost; a QPIRI reply arriving instead must not be decoded.
    real = simulator.device.handle
    answers = iter([real("QPIRI")])
    simulator.device.handle = lambda command: next(answers, None) or real(command)  # type: ignore[method-assign]
    values = await client.read(device, ["battery_voltage"])
    assert 40 < number(values, "battery_voltage") < 60
    assert simulator.stats.requests["QPIGS"] == 3


@pytest.mark.parametrize("fault", [Fault.SILENCE, Fault.GARBAGE, Fault.BAD_CRC, Fault.TRUNCATED])
async def test_one_lost_frame_is_retried(pi30: Pi30Harness, fault: Fault) -> None:
    simulator, client, device = await identified(pi30)
    simulator.inject(fault, count=1)
    assert await client.read(device, ["device_mode"]) == {"device_mode": "battery"}
    assert simulator.stats.requests["QMOD"] == 3  # identify, the lost one, the retry


async def test_timeouts_are_retried_once_only(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    simulator.inject(Fault.SILENCE)
    before = simulator.stats.total
    with pytest.raises(LinkTimeoutError):
        await client.read(device, ["device_mode"])
    # One attempt and one retry, which starts with the QPI that proves the line back in step.
    assert simulator.stats.total - before == 2
    assert simulator.stats.requests["QMOD"] == 2


async def test_setters_are_not_retried(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    simulator.inject(Fault.SILENCE, count=1)
    with pytest.raises(LinkTimeoutError):
        await client.write(device, points_of(client, device)["buzzer"], False)
    assert simulator.stats.requests["PDa"] == 1


async def test_recovery_after_disconnect(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    simulator.inject(Fault.DISCONNECT, count=1)
    with pytest.raises(LinkError) as caught:
        await client.read(device, ["device_mode"])
    assert not isinstance(caught.value, LinkTimeoutError)
    assert not client.link.is_open
    assert await client.read(device, ["device_mode"]) == {"device_mode": "battery"}


async def test_parallel_units_become_devices(pi30: Pi30Harness) -> None:
    simulator, client = await pi30.serial(Profile(parallel=True))
    # Unit 0 is the unit on this link, which is the main device already: not a second device.
    main, second = await client.identify()
    assert main.serial_number == SERIAL
    assert second.address == "parallel_1"
    assert second.parent_serial == SERIAL
    assert second.serial_number == "92932105105336"
    assert simulator.stats.requests["QPGS2"] == 1  # the probe that found no third unit
    values = await client.read(second, keys_of(client, second, PollGroup.LIVE))
    assert values["device_mode"] == "battery"
    assert values["fault_code"] == "none"
    total, own = number(values, "total_ac_output_power"), number(values, "ac_output_power")
    assert abs(total - 2 * own) <= 1
    assert values["charger_source_priority"] == "solar_only"
    points = points_of(client, second)
    assert points["max_charging_current"].kind is PointKind.READING
    await client.write(second, points["charger_source_priority"], "solar_first")
    assert simulator.stats.requests["PPCP101"] == 1
    assert (await client.read(second, ["charger_source_priority"])) == {
        "charger_source_priority": "solar_first"
    }


async def test_single_unit_has_no_parallel_devices(pi30: Pi30Harness) -> None:
    simulator, client = await pi30.serial()
    assert len(await client.identify()) == 1
    assert "QPGS0" not in simulator.stats.requests


async def test_old_firmware_without_output_mode_probes_qpgs0(pi30: Pi30Harness) -> None:
    profile = Profile.old_firmware()
    profile.qpiri_fields = 21
    simulator, client = await pi30.serial(profile)
    assert len(await client.identify()) == 1
    assert simulator.stats.requests["QPGS0"] == 1
    assert "QPGS0" in client.unsupported


async def test_old_firmware_parallel_found_by_qpgs0(pi30: Pi30Harness) -> None:
    profile = Profile.old_firmware()
    profile.qpiri_fields = 21
    profile.parallel = True
    _, client = await pi30.serial(profile)
    devices = await client.identify()
    assert [device.address for device in devices] == ["", "parallel_1"]


async def test_parallel_probe_stops_at_the_parallel_maximum(pi30: Pi30Harness) -> None:
    profile = Profile(parallel=True, parallel_max="1")
    simulator, client = await pi30.serial(profile)
    assert len(await client.identify()) == 1
    assert "QPGS1" not in simulator.stats.requests


async def test_refused_query_is_learned_once(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30, Profile.old_firmware())
    assert {"QPIGS2", "QET", "QLT", "QT", "QBEQI"} <= client.unsupported
    assert device.model == "PI30 inverter 044"
    points = points_of(client, device)
    assert "pv2_power" not in points
    assert "pv_energy" not in points
    assert "sync_clock" not in points
    assert "parallel_max_num" not in points
    every_key = list(points)
    for _ in range(3):
        values = await client.read(device, every_key)
    assert values["pv1_power"] == round(
        number(values, "pv1_voltage") * number(values, "pv1_current")
    )
    assert values["pv_power"] == values["pv1_power"]
    for command in ("QPIGS2", "QET", "QLT", "QT", "QBEQI", "QMN"):
        assert simulator.stats.requests[command] == 1, command
    assert simulator.stats.requests["QPIGS"] == 4


async def test_silent_query_is_learned_once(pi30: Pi30Harness) -> None:
    profile = Profile(silent=frozenset({"QBEQI"}))
    simulator, client, device = await identified(pi30, profile)
    assert "QBEQI" in client.unsupported
    assert "equalization_voltage" not in points_of(client, device)
    await client.read(device, list(points_of(client, device)))
    assert simulator.stats.requests["QBEQI"] == 2  # the probe and its one retry


async def test_silent_core_query_fails_identify(pi30: Pi30Harness) -> None:
    _, client = await pi30.serial(Profile(silent=frozenset({"QPIRI"})))
    with pytest.raises(LinkTimeoutError):
        await client.identify()


async def test_serial_from_qsid(pi30: Pi30Harness) -> None:
    _, client, device = await identified(pi30, Profile(unsupported=frozenset({"QID"})))
    assert device.serial_number == SERIAL
    assert "QID" in client.unsupported


async def test_no_serial_is_unsupported(pi30: Pi30Harness) -> None:
    _, client = await pi30.serial(Profile(unsupported=frozenset({"QID", "QSID"})))
    with pytest.raises(UnsupportedError):
        await client.identify()


async def test_other_protocols_are_unsupported(pi30: Pi30Harness) -> None:
    _, client = await pi30.serial(Profile(protocol_id="PI18"))
    with pytest.raises(UnsupportedError):
        await client.identify()


async def test_qpi_refused_is_unsupported(pi30: Pi30Harness) -> None:
    simulator, client = await pi30.serial()
    simulator.inject(Fault.NAK)
    with pytest.raises(UnsupportedError):
        await client.identify()


async def test_unknown_device_is_refused(pi30: Pi30Harness) -> None:
    _, client, device = await identified(pi30)
    stranger = DeviceIdentity(
        serial_number="1", family="pi30", model="x", manufacturer="y", address="parallel_5"
    )
    with pytest.raises(UnsupportedError):
        client.catalogue(stranger)
    with pytest.raises(UnsupportedError):
        await client.read(stranger, ["battery_voltage"])
    assert client.catalogue(device)


async def test_identify_again_relearns(pi30: Pi30Harness) -> None:
    simulator, client, device = await identified(pi30)
    simulator.device.profile.unsupported = frozenset({"QPIGS2"})
    await client.identify()
    assert "pv2_power" not in points_of(client, device)


async def test_requests_without_zero_bump(pi30: Pi30Harness) -> None:
    _, client = await pi30.serial()
    client.bump_zero = False
    assert (await client.identify())[0].serial_number == SERIAL


@pytest.mark.usefixtures("socket_enabled")
async def test_tcp_gateway(pi30: Pi30Harness) -> None:
    simulator, client = await pi30.tcp()
    device = (await client.identify())[0]
    assert device.serial_number == SERIAL
    values = await client.read(device, keys_of(client, device, PollGroup.LIVE))
    assert values["ac_output_voltage"] == 230.0
    await write_setting(client, device, points_of(client, device)["battery_type"], "weco")
    assert simulator.device.settings.battery_type == 5
    simulator.inject(Fault.DISCONNECT, count=1)
    with pytest.raises(LinkError):
        await client.read(device, ["device_mode"])
    assert await client.read(device, ["device_mode"]) == {"device_mode": "battery"}


async def test_usb_hid(pi30: Pi30Harness) -> None:
    simulator, client = await pi30.hid()
    device = (await client.identify())[0]
    assert device.serial_number == SERIAL
    assert device.model == "VMIII-5000"
    values = await client.read(device, keys_of(client, device, PollGroup.LIVE))
    assert values["battery_soc"] == round(simulator.device.physics.soc)
    await write_setting(client, device, points_of(client, device)["output_voltage"], "220")
    assert simulator.device.settings.output_voltage == 220
    simulator.inject(Fault.DISCONNECT, count=1)
    with pytest.raises(LinkError):
        await client.read(device, ["device_mode"])
    assert await client.read(device, ["device_mode"]) == {"device_mode": "battery"}
