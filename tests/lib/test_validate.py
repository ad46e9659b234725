"""Validation and comparison of values against their points."""

from __future__ import annotations

from datetime import time

from inverterlib.errors import NotWritableError, ValidationError
from inverterlib.model import Point, PointKind, ValueType
from inverterlib.validate import same_value, validate
import pytest

VOLTAGE = Point(
    key="float_voltage",
    name="Float voltage",
    kind=PointKind.SETTING,
    minimum=48.0,
    maximum=58.4,
    step=0.1,
)
CURRENT = Point(
    key="max_charging_current",
    name="Max charging current",
    kind=PointKind.SETTING,
    value_type=ValueType.INT,
    minimum=10,
    maximum=120,
    step=10,
)
CHOICE = Point(
    key="max_ac_charging_current",
    name="Max AC charging current",
    kind=PointKind.SETTING,
    value_type=ValueType.INT,
    choices=(2, 10, 20, 30),
)
PRIORITY = Point(
    key="output_source_priority",
    name="Output source priority",
    kind=PointKind.SETTING,
    value_type=ValueType.ENUM,
    options=("utility_first", "solar_first", "sbu"),
    option_labels=("Utility first", "Solar first", "Solar, battery, utility"),
)
BUZZER = Point(key="buzzer", name="Buzzer", kind=PointKind.SETTING, value_type=ValueType.BOOL)
SLOT = Point(
    key="charge_start", name="Charge start", kind=PointKind.SETTING, value_type=ValueType.TIME
)
LABEL = Point(key="label", name="Label", kind=PointKind.SETTING, value_type=ValueType.TEXT)
SYNC = Point(key="sync_clock", name="Sync clock", kind=PointKind.ACTION)
READING = Point(key="battery_voltage", name="Battery voltage")


def test_numbers_in_range_on_step_pass() -> None:
    assert validate(VOLTAGE, 54.0) == 54.0
    assert validate(VOLTAGE, "56.4") == pytest.approx(56.4)
    assert validate(CURRENT, 30.0) == 30
    assert isinstance(validate(CURRENT, 30.0), int)


@pytest.mark.parametrize(
    ("point", "value", "fragment"),
    [
        (VOLTAGE, 47.9, "between 48.0 and 58.4"),
        (VOLTAGE, 60, "between"),
        (VOLTAGE, 54.05, "multiple of 0.1"),
        (VOLTAGE, "abc", "needs a number"),
        (VOLTAGE, True, "needs a number"),
        (VOLTAGE, None, "needs a number"),
        (VOLTAGE, float("nan"), "finite"),
        (CURRENT, 35, "multiple of 10"),
        (CHOICE, 15, "one of 2, 10, 20, 30"),
        (PRIORITY, "battery_first", "one of utility_first"),
        (BUZZER, "maybe", "on or off"),
        (SLOT, "25:99", "HH:MM"),
        (SLOT, 5, "HH:MM"),
        (LABEL, 5, "needs text"),
    ],
)
def test_bad_values_are_refused(point: Point, value: object, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment) as info:
        validate(point, value)
    assert info.value.placeholders["key"] == point.key


def test_whole_numbers_required_for_int_points() -> None:
    point = Point(key="n", name="N", kind=PointKind.SETTING, value_type=ValueType.INT)
    with pytest.raises(ValidationError, match="whole number"):
        validate(point, 2.5)


def test_other_types_coerce() -> None:
    assert validate(CHOICE, 20) == 20
    assert validate(PRIORITY, "sbu") == "sbu"
    assert validate(BUZZER, "on") is True
    assert validate(BUZZER, "0") is False
    assert validate(BUZZER, False) is False
    assert validate(SLOT, "05:30") == time(5, 30)
    assert validate(SLOT, time(5, 30, 12)) == time(5, 30)
    assert validate(LABEL, "x") == "x"
    assert validate(SYNC, None) is True


def test_readings_cannot_be_written() -> None:
    with pytest.raises(NotWritableError):
        validate(READING, 1)


def test_same_value_tolerates_device_rounding() -> None:
    assert same_value(VOLTAGE, 54.0, 54.04)
    assert not same_value(VOLTAGE, 54.0, 54.1)
    assert same_value(READING, 1.0, 1.0)
    assert not same_value(READING, 1.0, 1.01)
    assert same_value(PRIORITY, "sbu", "sbu")
    assert not same_value(PRIORITY, "sbu", None)
    assert same_value(PRIORITY, None, None)


def test_option_labels() -> None:
    assert PRIORITY.option_label("sbu") == "Solar, battery, utility"
    plain = Point(key="m", name="M", value_type=ValueType.ENUM, options=("line_mode",))
    assert plain.option_label("line_mode") == "Line mode"
