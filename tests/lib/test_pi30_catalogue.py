"""The PI30 query table, dialect learning and setter encoding, on realistic replies."""

from __future__ import annotations

from datetime import datetime
import re

from inverterlib.errors import ValidationError
from inverterlib.model import (
    Category,
    PointKind,
    PollGroup,
    ValueType,
)
from inverterlib.pi30 import enums, parse
from inverterlib.pi30.catalogue import (
    ACTIONS,
    DERIVED,
    QUERIES,
    parallel_query,
    split_flags,
)
from inverterlib.pi30.dialect import Layout, build_layout
from inverterlib.pi30.readings import READINGS
from inverterlib.pi30.settings import (
    SETTERS,
    SETTINGS,
    parallel_setters,
)
import pytest

BY_COMMAND = {query.command: query for query in QUERIES}

QPIGS_17 = (
    "000.0 00.0 230.0 49.9 0161 0119 003 460 57.50 012 100 0069 0014 103.8 57.45 00000 00110110"
)
QPIGS_21 = (
    "229.8 50.0 230.1 50.0 0483 0425 009 378 52.80 012 075 0035 08.3 345.6 52.75 00003 "
    "00010101 03 01 02870 010"
)
QPIGS_24 = QPIGS_21 + " 1 01 0350"
QPIRI_25 = (
    "230.0 21.7 230.0 50.0 21.7 5000 4000 48.0 46.0 42.0 56.4 54.0 0 10 010 1 0 0 - 01 0 0 54.0 0 1"
)
QPIRI_28 = (
    "230.0 21.7 230.0 50.0 21.7 5000 5000 48.0 46.0 42.0 56.4 54.0 8 30 060 1 2 3 9 10 0 1 "
    "00.0 1 0 120 2 150"
)
QPIWS_32 = "01000100000100000000000000100000"
QPIWS_36 = "100001000000000000000000000000010001"
QPIWS_38 = "0" * 30 + "10000001"


def layout_for(**replies: str) -> Layout:
    return build_layout(QUERIES, replies, SETTERS, actions=ACTIONS)


def read_all(layout: Layout, **replies: str) -> dict[str, object]:
    return dict(layout.decode(replies, list(layout.points)))


def test_qpigs_17_fields_computes_pv_power_from_volts_and_amps() -> None:
    layout = layout_for(QPIGS=QPIGS_17)
    values = read_all(layout, QPIGS=QPIGS_17)
    assert values["ac_input_voltage"] == 0.0
    assert values["ac_output_voltage"] == 230.0
    assert values["ac_output_frequency"] == 49.9
    assert values["ac_output_apparent_power"] == 161
    assert values["ac_output_power"] == 119
    assert values["load_percent"] == 3
    assert values["battery_voltage"] == 57.50
    assert values["battery_charging_current"] == 12.0
    assert values["battery_soc"] == 100
    assert values["inverter_temperature"] == 69
    assert values["pv1_current"] == 14.0
    assert values["pv1_voltage"] == 103.8
    assert values["pv1_power"] == 1453  # 103.8 V x 14 A
    assert values["pv_power"] == 1453
    assert values["battery_current"] == -12.0  # charging is negative
    assert values["battery_power"] == -690
    assert values["load_on"] is True
    assert values["charging"] is True
    assert values["scc_charging"] is True
    assert values["ac_charging"] is False
    assert "eeprom_version" not in layout.points
    assert "switched_on" not in layout.points
    assert "feeding_grid" not in layout.points
    assert layout.points["pv1_power"].group is PollGroup.LIVE


def test_qpigs_21_fields_uses_reported_pv_power() -> None:
    layout = layout_for(QPIGS=QPIGS_21)
    values = read_all(layout, QPIGS=QPIGS_21)
    assert values["pv1_current"] == 8.3
    assert values["pv1_power"] == 2870
    assert values["pv_power"] == 2870
    assert values["battery_discharge_current"] == 3.0
    assert values["battery_current"] == -9.0
    assert values["battery_power"] == -475  # 52.80 V x -9 A
    assert values["battery_voltage_offset_for_fans"] == 30
    assert values["eeprom_version"] == "01"
    assert values["load_on"] is True
    assert values["charging"] is True
    assert values["scc_charging"] is False
    assert values["ac_charging"] is True
    assert values["charging_to_float"] is False
    assert values["switched_on"] is True
    assert "feeding_grid" not in layout.points
    assert "pv1_power" in layout.fields
    assert "pv1_power" not in layout.derived


def test_qpigs_24_fields_adds_feed_in() -> None:
    layout = layout_for(QPIGS=QPIGS_24)
    values = read_all(layout, QPIGS=QPIGS_24)
    assert values["feeding_grid"] is True
    assert values["country_regulation"] == "germany"
    assert values["solar_feed_to_grid_power"] == 350


def test_qpigs2_max_layout_adds_second_tracker() -> None:
    layout = layout_for(QPIGS=QPIGS_21, QPIGS2="04.1 312.5 01281")
    values = read_all(layout, QPIGS=QPIGS_21, QPIGS2="04.1 312.5 01281")
    assert values["pv2_current"] == 4.1
    assert values["pv2_voltage"] == 312.5
    assert values["pv2_power"] == 1281
    assert values["pv_power"] == 2870 + 1281
    assert [q.command for q in layout.queries_for(["pv_power"])] == ["QPIGS", "QPIGS2"]
    assert [q.command for q in layout.queries_for(["pv2_power"])] == ["QPIGS2"]


def test_qpigs2_longer_layout_computes_second_tracker_power() -> None:
    reply = "04.0 300.0 52.70 01200 000 0000 0000"
    layout = layout_for(QPIGS=QPIGS_21, QPIGS2=reply)
    values = read_all(layout, QPIGS=QPIGS_21, QPIGS2=reply)
    assert "pv2_power" in layout.derived
    assert values["pv2_power"] == 1200  # 300 V x 4 A, not the field at index 2


def test_qpiri_25_fields_with_placeholder() -> None:
    layout = layout_for(QPIRI=QPIRI_25)
    values = read_all(layout, QPIRI=QPIRI_25)
    assert values["output_voltage"] == "230"
    assert values["output_frequency"] == "50"
    assert values["ac_output_rating_power"] == 4000
    assert values["battery_rating_voltage"] == 48.0
    assert values["battery_recharge_voltage"] == 46.0
    assert values["battery_under_voltage"] == 42.0
    assert values["battery_bulk_voltage"] == 56.4
    assert values["battery_float_voltage"] == 54.0
    assert values["battery_type"] == "agm"
    assert values["max_ac_charging_current"] == 10
    assert values["max_charging_current"] == 10
    assert values["input_voltage_range"] == "ups"
    assert values["output_source_priority"] == "utility_first"
    assert values["charger_source_priority"] == "utility_first"
    assert values["machine_type"] == "off_grid"
    assert values["output_mode"] == "single"
    assert values["battery_redischarge_voltage"] == 54.0
    assert values["pv_power_balance"] == "charge_and_load"
    assert "parallel_max_num" not in layout.points  # "-" on this model
    assert "max_cv_charging_time" not in layout.points
    assert "operation_logic" not in layout.points
    assert layout.points["battery_type"].group is PollGroup.SLOW
    assert layout.points["battery_type"].kind is PointKind.SETTING


def test_qpiri_28_fields_max_layout() -> None:
    layout = layout_for(QPIRI=QPIRI_28)
    values = read_all(layout, QPIRI=QPIRI_28)
    assert values["battery_type"] == "lib"
    assert values["max_ac_charging_current"] == 30
    assert values["max_charging_current"] == 60
    assert values["output_source_priority"] == "sbu"
    assert values["charger_source_priority"] == "solar_only"
    assert values["parallel_max_num"] == 9
    assert values["machine_type"] == "hybrid"
    assert values["output_mode"] == "parallel"
    assert values["battery_redischarge_voltage"] == 0.0
    assert values["pv_ok_condition"] == "all_units"
    assert values["pv_power_balance"] == "charge_current"
    assert values["max_cv_charging_time"] == 120
    assert values["operation_logic"] == "eco"
    assert values["max_discharging_current"] == 150


def test_qpiws_32_flags() -> None:
    layout = layout_for(QPIWS=QPIWS_32)
    values = read_all(layout, QPIWS=QPIWS_32)
    assert values["inverter_fault"] is True
    assert values["line_fail"] is True
    assert values["battery_voltage_high"] is True
    assert values["pv1_voltage_high"] is True
    assert values["over_temperature"] is False
    assert "pv_loss" not in layout.points
    assert "pv2_voltage_high" not in layout.points
    point = layout.points["line_fail"]
    assert point.device_class == "problem"
    assert point.category is Category.DIAGNOSTIC
    assert point.value_type is ValueType.BOOL


def test_qpiws_36_flags_max_layout() -> None:
    layout = layout_for(QPIWS=QPIWS_36)
    values = read_all(layout, QPIWS=QPIWS_36)
    assert values["pv_loss"] is True
    assert values["line_fail"] is True
    assert values["battery_weak"] is True
    assert values["battery_equalization"] is True
    assert values["inverter_fault"] is False
    assert "pv2_voltage_high" not in layout.points


def test_qpiws_38_flags_three_trackers() -> None:
    layout = layout_for(QPIWS=QPIWS_38)
    values = read_all(layout, QPIWS=QPIWS_38)
    assert values["pv2_voltage_high"] is True
    assert values["pv3_battery_too_low_to_charge"] is True
    assert values["pv2_mppt_overload_fault"] is False
    assert "battery_weak" not in layout.points


def test_qflag_known_and_unknown_letters() -> None:
    reply = "EabuvxyzgldDjk"
    layout = layout_for(QFLAG=reply)
    values = read_all(layout, QFLAG=reply)
    assert values["buzzer"] is True
    assert values["overload_bypass"] is True
    assert values["data_log_popup"] is True
    assert values["solar_feed_to_grid"] is True
    assert values["power_saving"] is False
    assert values["lcd_escape_to_default"] is False
    assert values["flag_g"] is True
    assert layout.points["flag_g"].kind is PointKind.SETTING
    assert layout.points["flag_g"].expert
    assert layout.setters["flag_g"](True, datetime(2024, 1, 1)) == "PEg"
    assert layout.setters["flag_g"](False, datetime(2024, 1, 1)) == "PDg"
    assert layout.setters["buzzer"](False, datetime(2024, 1, 1)) == "PDa"


def test_split_flags_ignores_letters_before_a_block() -> None:
    states = split_flags("xEaDb")
    assert states[0] == "1"
    assert states[1] == "0"
    assert states[23] == ""


def test_single_value_queries() -> None:
    replies = {
        "QMOD": "B",
        "QET": "01234567",
        "QLT": "00987654",
        "QT": "20240131235958",
        "QBOOT": "1",
        "QVFW2": "VERFW2:00044.17",
        "QVFW3": "VERFW3:00000.00",
        "QGMN": "044",
        "QCST": "02",
        "QOPM": "01",
        "QCVT": "255",
    }
    layout = layout_for(**replies)
    values = read_all(layout, **replies)
    assert values["device_mode"] == "battery"
    assert values["pv_energy"] == 1234.567
    assert values["load_energy"] == 987.654
    assert layout.points["pv_energy"].state_class == "total_increasing"
    assert layout.points["pv_energy"].unit == "kWh"
    assert layout.points["pv_energy"].device_class == "energy"
    assert values["device_clock"] == "2024-01-31 23:59:58"
    assert values["dsp_bootstrap"] is True
    assert values["firmware_version_2"] == "00044.17"
    assert "firmware_version_3" not in layout.points  # all zeros: not reported
    assert values["general_model_number"] == "044"
    assert values["charging_stage"] == "three_stage"
    assert values["output_mode"] == "parallel"
    assert values["max_cv_charging_time"] == 255
    assert "sync_clock" in layout.points
    assert "reset_energy_counters" in layout.points
    assert "reset_to_defaults" not in layout.points  # needs QPIRI


def test_qpiri_is_preferred_over_single_queries() -> None:
    layout = layout_for(QPIRI=QPIRI_28, QOPM="00", QCVT="060")
    assert layout.fields["output_mode"][0].command == "QPIRI"
    assert layout.fields["max_cv_charging_time"][0].command == "QPIRI"
    assert "QOPM" not in [q.command for q in layout.queries_for(list(layout.points))]


def test_qbeqi_equalisation() -> None:
    reply = "1 030 030 080 021 55.40 224 030 0 0234"
    layout = layout_for(QBEQI=reply)
    values = read_all(layout, QBEQI=reply)
    assert values == {
        "equalization_enabled": True,
        "equalization_time": 30,
        "equalization_period": 30,
        "equalization_max_current": 80,
        "equalization_voltage": 55.4,
        "equalization_over_time": 30,
        "equalization_active": False,
        "equalization_elapsed": 234,
    }


def test_qdi_defaults_are_off_by_default() -> None:
    reply = "230.0 50.0 0030 42.0 54.0 56.4 46.0 60 0 0 2 0 0 0 0 0 1 1 0 0 1 0 54.0 0 1 000"
    layout = layout_for(QDI=reply)
    values = read_all(layout, QDI=reply)
    assert values["default_max_ac_charging_current"] == 30.0
    assert values["default_charger_source_priority"] == "solar_and_utility"
    assert values["default_battery_redischarge_voltage"] == 54.0
    assert all(
        not layout.points[key].enabled_by_default for key in layout.points if "default" in key
    )
    assert layout.points["default_output_voltage"].group is PollGroup.STATIC


def test_unreadable_field_is_left_out_of_a_read() -> None:
    layout = layout_for(QMOD="B")
    assert layout.decode({"QMOD": "Z"}, ["device_mode"]) == {}
    assert layout.decode({}, ["device_mode"]) == {}
    assert layout.decode({"QMOD": "L"}, ["device_mode", "nonexistent"]) == {"device_mode": "line"}


def test_reply_shape_is_learned() -> None:
    layout = layout_for(QPIGS=QPIGS_21, QMOD="B", QPIWS=QPIWS_36)
    qpigs, qmod, qpiws = BY_COMMAND["QPIGS"], BY_COMMAND["QMOD"], BY_COMMAND["QPIWS"]
    assert layout.fits(qpigs, QPIGS_21.replace("229.8", "231.0"))
    assert not layout.fits(qpigs, QPIGS_17)
    assert not layout.fits(qpigs, QPIRI_28)
    assert layout.fits(qmod, "L")
    assert not layout.fits(qmod, QPIWS_36)
    assert not layout.fits(qpiws, "B")
    assert not layout.fits(BY_COMMAND["QPIRI"], QPIRI_28)


def test_choices_and_ranges_adapt_to_the_model() -> None:
    layout = layout_for(
        QPIRI=QPIRI_28.replace("48.0 46.0", "24.0 23.0"),
        QMCHGCR="010 020 030 040 050 060",
        QMUCHGCR="002 010 020 030",
    )
    charging = layout.points["max_charging_current"]
    assert charging.choices == (10.0, 20.0, 30.0, 40.0, 50.0, 60.0)
    assert (charging.minimum, charging.maximum) == (10.0, 60.0)
    assert layout.points["max_ac_charging_current"].choices == (2.0, 10.0, 20.0, 30.0)
    recharge = layout.points["battery_recharge_voltage"]
    assert (recharge.minimum, recharge.maximum, recharge.step) == (22.0, 25.5, 0.5)
    redischarge = layout.points["battery_redischarge_voltage"]
    assert redischarge.choices[:3] == (0.0, 24.0, 24.5)
    assert layout.points["battery_bulk_voltage"].maximum == 29.2


def test_twelve_volt_units_step_in_tenths() -> None:
    layout = layout_for(QPIRI=QPIRI_25.replace("48.0 46.0", "12.0 11.5"))
    recharge = layout.points["battery_recharge_voltage"]
    assert (recharge.minimum, recharge.maximum, recharge.step) == (11.0, 12.8, 0.1)


def test_low_voltage_models_offer_low_output_voltages() -> None:
    layout = layout_for(QPIRI=QPIRI_25.replace("230.0 50.0", "120.0 60.0"))
    assert layout.points["output_voltage"].options == ("110", "120", "127")
    assert layout_for(QPIRI=QPIRI_25).points["output_voltage"].options == ("220", "230", "240")


def test_parallel_unit_layout() -> None:
    reply = (
        "1 92932105105336 L 00 230.4 50.00 230.0 50.00 0369 0317 007 53.9 029 062 340.0 058 "
        "00738 00634 007 10100110 1 2 060 150 30 08 010"
    )
    layout = build_layout([parallel_query(1)], {"QPGS1": reply}, parallel_setters(1))
    values = layout.decode({"QPGS1": reply}, list(layout.points))
    assert values["device_mode"] == "line"
    assert values["fault_code"] == "none"
    assert values["battery_voltage"] == 53.9
    assert values["battery_soc"] == 62
    assert values["total_ac_output_power"] == 634
    assert values["scc_ok"] is True
    assert values["ac_charging"] is False
    assert values["scc_charging"] is True
    assert values["battery_status"] == "normal"
    assert values["line_loss"] is True
    assert values["load_on"] is True
    assert values["configuration_changed"] is False
    assert values["pv1_power"] == 2720  # 340 V x 8 A
    assert values["pv_power"] == 2720
    assert values["battery_current"] == -19.0
    assert values["charger_source_priority"] == "solar_and_utility"
    assert layout.points["charger_source_priority"].kind is PointKind.SETTING
    assert layout.setters["charger_source_priority"]("solar_only", datetime(2024, 1, 1)) == (
        "PPCP103"
    )
    # No setter for a parallel unit's charging current: it is shown as a reading.
    current = layout.points["max_charging_current"]
    assert current.kind is PointKind.READING
    assert current.category is Category.DIAGNOSTIC
    assert current.choices == ()
    assert "pv2_voltage" not in layout.points


NOW = datetime(2024, 3, 9, 7, 5, 1)


@pytest.mark.parametrize(
    ("key", "value", "command"),
    [
        ("output_source_priority", "sbu", "POP02"),
        ("charger_source_priority", "solar_only", "PCP03"),
        ("input_voltage_range", "ups", "PGR01"),
        ("battery_type", "pylontech", "PBT03"),
        ("output_mode", "phase_2_of_3", "POPM03"),
        ("output_frequency", "60", "F60"),
        ("output_voltage", "230", "V230"),
        ("charging_stage", "two_stage", "PCST01"),
        ("operation_logic", "eco", "POPLG02"),
        ("pv_ok_condition", "all_units", "PPVOKC1"),
        ("pv_power_balance", "charge_current", "PSPB0"),
        ("battery_recharge_voltage", 46.0, "PBCV46.0"),
        ("battery_redischarge_voltage", 0.0, "PBDV00.0"),
        ("battery_under_voltage", 42.3, "PSDV42.3"),
        ("battery_bulk_voltage", 56.4, "PCVV56.4"),
        ("battery_float_voltage", 54, "PBFT54.0"),
        ("max_charging_current", 60, "MCHGC060"),
        ("max_ac_charging_current", 2, "MUCHGC002"),
        ("max_cv_charging_time", 5, "PCVT005"),
        ("max_discharging_current", 0, "PBATMAXDISC000"),
        ("equalization_enabled", True, "PBEQE1"),
        ("equalization_time", 60, "PBEQT060"),
        ("equalization_period", 30, "PBEQP030"),
        ("equalization_voltage", 58.4, "PBEQV58.40"),
        ("equalization_over_time", 120, "PBEQOT120"),
        ("equalization_active", False, "PBEQA0"),
        ("buzzer", False, "PDa"),
        ("lcd_backlight", True, "PEx"),
        ("sync_clock", True, "DAT240309070501"),
        ("reset_to_defaults", True, "PF"),
        ("reset_energy_counters", True, "RTEY"),
        ("reset_data_log", True, "RTDL"),
    ],
)
def test_setter_commands(key: str, value: object, command: str) -> None:
    assert SETTERS[key](value, NOW) == command  # type: ignore[arg-type]


def test_setters_refuse_values_they_cannot_encode() -> None:
    with pytest.raises(ValidationError):
        SETTERS["output_source_priority"]("bogus", NOW)
    with pytest.raises(ValidationError):
        SETTERS["battery_bulk_voltage"]("56.4", NOW)
    with pytest.raises(KeyError):
        enums.OUTPUT_MODE.code("bogus")


def test_catalogue_is_consistent() -> None:
    snake = re.compile(r"[a-z0-9_]+")
    points = {**READINGS, **SETTINGS}
    assert not set(READINGS) & set(SETTINGS)
    for key, point in points.items():
        assert point.key == key
        assert snake.fullmatch(key), key
        assert point.name
        assert all(snake.fullmatch(option) for option in point.options), key
        assert len(point.option_labels) == len(point.options), key
        if point.kind is not PointKind.READING:
            assert key in SETTERS, key
            assert point.category is Category.CONFIG
    for query in (*QUERIES, parallel_query(0)):
        for field in query.fields:
            assert field.key in points, field.key
    for rule in DERIVED:
        assert rule.key in READINGS
        assert all(name in READINGS for name in rule.inputs + rule.optional)
    assert all(action.key in SETTERS for action in ACTIONS)
    assert all(
        points[key].kind is PointKind.ACTION and points[key].expert
        for key in ("reset_to_defaults", "reset_energy_counters")
    )
    assert not points["reset_to_defaults"].enabled_by_default


def test_parsers() -> None:
    assert parse.decimal("057.50") == 57.5
    assert parse.decimal("x") is None
    assert parse.integer("0012") == 12
    assert parse.integer("--") is None
    assert parse.scaled_int(10)("x") is None
    assert parse.scaled(0.001)("x") is None
    assert parse.bit(3)("0101") is True
    assert parse.bit(8)("0101") is None
    assert parse.bit(0)("x") is None
    assert parse.flag("2") is None
    assert parse.firmware("VERFW:00072.70") == "00072.70"
    assert parse.firmware("00000.00") is None
    assert parse.clock("2024") is None
    assert parse.text("abc") == "abc"
    assert enums.fault_code("07") == "overload_timeout"
    assert enums.fault_code("99") == "other"
    assert enums.fault_code("--") is None
    assert enums.OUTPUT_FREQUENCY.parse("60.0") == "60"
    assert enums.DEVICE_MODE.parse("Q") is None
    assert enums.battery_status("00001000") == "under_voltage"
    assert enums.battery_status("00010000") == "open"
    assert enums.battery_status("0001") is None
    assert parse.serial_from_sid("1492932105105335000000") == "92932105105335"
    assert parse.serial_from_sid("x") == ""
