"""PI30 settings and actions: their points and how each value becomes a setter command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from ..errors import ValidationError
from ..model import Category, Point, PointKind, Value, ValueType
from . import enums
from .parse import Enumeration

type Encoder = Callable[[Value, datetime], str]

CONFIG = Category.CONFIG


def _number_value(value: Value) -> float:
    if isinstance(value, bool | str | time):
        raise ValidationError(f"a number is needed, got {value!r}")
    return float(value)


def enum_setter(prefix: str, enumeration: Enumeration, *, width: int = 2) -> Encoder:
    """Return an encoder sending the option's numeric code zero padded to `width` digits."""

    def encode(value: Value, _now: datetime) -> str:
        try:
            code = enumeration.code(str(value))
        except KeyError:
            raise ValidationError(f"{prefix} does not take {value!r}") from None
        return f"{prefix}{int(code):0{width}d}"

    return encode


def decimal_setter(prefix: str, layout: str) -> Encoder:
    """Return an encoder formatting a number with a fixed layout such as `04.1f` (`46.0`)."""

    def encode(value: Value, _now: datetime) -> str:
        return f"{prefix}{_number_value(value):{layout}}"

    return encode


def integer_setter(prefix: str, *, width: int = 3) -> Encoder:
    """Return an encoder sending a whole number zero padded to `width` digits."""

    def encode(value: Value, _now: datetime) -> str:
        return f"{prefix}{round(_number_value(value)):0{width}d}"

    return encode


def bool_setter(prefix: str) -> Encoder:
    """Return an encoder sending 1 for on and 0 for off."""

    def encode(value: Value, _now: datetime) -> str:
        return f"{prefix}{1 if value is True else 0}"

    return encode


def flag_setter(letter: str) -> Encoder:
    """Return an encoder for a QFLAG letter: `PE<x>` enables it, `PD<x>` disables it."""

    def encode(value: Value, _now: datetime) -> str:
        return f"{'PE' if value is True else 'PD'}{letter}"

    return encode


def fixed_setter(command: str) -> Encoder:
    """Return an encoder that always sends one command (for actions)."""

    def encode(_value: Value, _now: datetime) -> str:
        return command

    return encode


def clock_setter(value: Value, now: datetime) -> str:
    """Encode the local time in the vendor's 12-digit `DATYYMMDDHHMMSS` form."""
    del value
    return f"DAT{now:%y%m%d%H%M%S}"


def _select(
    key: str, name: str, enumeration: Enumeration, *, icon: str, expert: bool = False
) -> Point:
    return Point(
        key=key,
        name=name,
        kind=PointKind.SETTING,
        value_type=ValueType.ENUM,
        options=enumeration.options,
        option_labels=enumeration.labels,
        category=CONFIG,
        icon=icon,
        expert=expert,
    )


def _numeric(
    key: str,
    name: str,
    unit: str,
    device_class: str | None,
    bounds: tuple[float, float, float],
    *,
    integer: bool = False,
    choices: tuple[float, ...] = (),
    enabled: bool = True,
) -> Point:
    minimum, maximum, step = bounds
    return Point(
        key=key,
        name=name,
        kind=PointKind.SETTING,
        value_type=ValueType.INT if integer else ValueType.FLOAT,
        unit=unit,
        device_class=device_class,
        minimum=minimum,
        maximum=maximum,
        step=step,
        choices=choices,
        precision=0 if integer else 1,
        category=CONFIG,
        enabled_by_default=enabled,
    )


def _switch(key: str, name: str, *, enabled: bool = True, icon: str | None = None) -> Point:
    return Point(
        key=key,
        name=name,
        kind=PointKind.SETTING,
        value_type=ValueType.BOOL,
        category=CONFIG,
        enabled_by_default=enabled,
        icon=icon,
    )


def _action(key: str, name: str, *, expert: bool, icon: str) -> Point:
    return Point(
        key=key,
        name=name,
        kind=PointKind.ACTION,
        value_type=ValueType.BOOL,
        category=CONFIG,
        expert=expert,
        enabled_by_default=not expert,
        icon=icon,
    )


# QFLAG letters: letter, point key, English name, enabled by default.
FLAGS: tuple[tuple[str, str, str, bool], ...] = (
    ("a", "buzzer", "Buzzer", True),
    ("b", "overload_bypass", "Overload bypass", True),
    ("d", "solar_feed_to_grid", "Solar feed to grid", False),
    ("j", "power_saving", "Power saving", True),
    ("k", "lcd_escape_to_default", "LCD returns to default page", False),
    ("l", "data_log_popup", "Data log pop-up", False),
    ("u", "overload_restart", "Restart after overload", True),
    ("v", "over_temperature_restart", "Restart after over temperature", True),
    ("x", "lcd_backlight", "LCD backlight", True),
    ("y", "primary_source_interrupt_alarm", "Alarm on primary source interrupt", True),
    ("z", "fault_code_record", "Fault code record", False),
)


def unknown_flag(letter: str) -> tuple[Point, Encoder]:
    """Return a switch for a QFLAG letter this library does not know, and its encoder."""
    point = Point(
        key=f"flag_{letter}",
        name=f"Flag {letter}",
        kind=PointKind.SETTING,
        value_type=ValueType.BOOL,
        category=CONFIG,
        enabled_by_default=False,
        expert=True,
    )
    return point, flag_setter(letter)


# Ranges are those of a 48 V unit; `scale_for_battery` adapts them to 12 V and 24 V units.
_SETTINGS = [
    _select(
        "output_source_priority",
        "Output source priority",
        enums.OUTPUT_SOURCE_PRIORITY,
        icon="mdi:transmission-tower-export",
    ),
    _select(
        "charger_source_priority",
        "Charger source priority",
        enums.CHARGER_SOURCE_PRIORITY,
        icon="mdi:battery-charging",
    ),
    _select(
        "input_voltage_range",
        "Input voltage range",
        enums.INPUT_VOLTAGE_RANGE,
        icon="mdi:sine-wave",
    ),
    _select("battery_type", "Battery type", enums.BATTERY_TYPE, icon="mdi:car-battery"),
    _select("output_mode", "Output mode", enums.OUTPUT_MODE, icon="mdi:sitemap", expert=True),
    _select("output_frequency", "Output frequency", enums.OUTPUT_FREQUENCY, icon="mdi:sine-wave"),
    _select("output_voltage", "Output voltage", enums.OUTPUT_VOLTAGE, icon="mdi:flash"),
    _select("charging_stage", "Charging stage", enums.CHARGING_STAGE, icon="mdi:battery-charging"),
    _select("operation_logic", "Operation logic", enums.OPERATION_LOGIC, icon="mdi:cog"),
    _select("pv_ok_condition", "PV OK condition", enums.PV_OK_CONDITION, icon="mdi:solar-power"),
    _select("pv_power_balance", "PV power balance", enums.PV_POWER_BALANCE, icon="mdi:solar-power"),
    _numeric("battery_recharge_voltage", "Recharge voltage", "V", "voltage", (44, 51, 1)),
    # 0 means "re-discharge once the battery is full"; otherwise whole volts 48-58.
    _numeric(
        "battery_redischarge_voltage",
        "Redischarge voltage",
        "V",
        "voltage",
        (0, 58, 1),
        choices=(0.0, *(float(v) for v in range(48, 59))),
    ),
    _numeric("battery_under_voltage", "Cut-off voltage", "V", "voltage", (40, 48, 0.1)),
    _numeric("battery_bulk_voltage", "Bulk voltage", "V", "voltage", (48, 58.4, 0.1)),
    _numeric("battery_float_voltage", "Float voltage", "V", "voltage", (48, 58.4, 0.1)),
    _numeric(
        "max_charging_current",
        "Max charging current",
        "A",
        "current",
        (2, 200, 1),
        integer=True,
    ),
    _numeric(
        "max_ac_charging_current",
        "Max AC charging current",
        "A",
        "current",
        (2, 200, 1),
        integer=True,
    ),
    _numeric(
        "max_cv_charging_time",
        "Max CV charging time",
        "min",
        "duration",
        (0, 900, 5),
        integer=True,
    ),
    # 0 disables the limit; otherwise 30-150 A.
    _numeric(
        "max_discharging_current",
        "Max discharge current",
        "A",
        "current",
        (0, 150, 1),
        integer=True,
        choices=(0.0, *(float(a) for a in range(30, 151))),
    ),
    _switch("equalization_enabled", "Equalisation", icon="mdi:battery-sync"),
    _numeric("equalization_time", "EQ duration", "min", "duration", (5, 900, 5), integer=True),
    _numeric("equalization_period", "EQ interval", "d", "duration", (0, 90, 1), integer=True),
    _numeric("equalization_voltage", "EQ voltage", "V", "voltage", (48, 61, 0.1)),
    _numeric(
        "equalization_over_time",
        "EQ timeout",
        "min",
        "duration",
        (5, 900, 5),
        integer=True,
    ),
    _switch("equalization_active", "Equalisation active now", icon="mdi:battery-sync"),
]
_SWITCHES = [_switch(key, name, enabled=enabled) for _, key, name, enabled in FLAGS]
_ACTIONS = [
    _action("sync_clock", "Synchronise clock", expert=False, icon="mdi:clock-check"),
    _action("reset_to_defaults", "Reset to factory defaults", expert=True, icon="mdi:restore"),
    _action("reset_energy_counters", "Reset energy counters", expert=True, icon="mdi:counter"),
    _action("reset_data_log", "Reset data log", expert=True, icon="mdi:delete-clock"),
]

SETTINGS: dict[str, Point] = {point.key: point for point in _SETTINGS + _SWITCHES + _ACTIONS}

SETTERS: dict[str, Encoder] = {
    "output_source_priority": enum_setter("POP", enums.OUTPUT_SOURCE_PRIORITY),
    "charger_source_priority": enum_setter("PCP", enums.CHARGER_SOURCE_PRIORITY),
    "input_voltage_range": enum_setter("PGR", enums.INPUT_VOLTAGE_RANGE),
    "battery_type": enum_setter("PBT", enums.BATTERY_TYPE),
    "output_mode": enum_setter("POPM", enums.OUTPUT_MODE),
    "output_frequency": enum_setter("F", enums.OUTPUT_FREQUENCY),
    "output_voltage": enum_setter("V", enums.OUTPUT_VOLTAGE, width=3),
    "charging_stage": enum_setter("PCST", enums.CHARGING_STAGE),
    "operation_logic": enum_setter("POPLG", enums.OPERATION_LOGIC),
    "pv_ok_condition": enum_setter("PPVOKC", enums.PV_OK_CONDITION, width=1),
    "pv_power_balance": enum_setter("PSPB", enums.PV_POWER_BALANCE, width=1),
    "battery_recharge_voltage": decimal_setter("PBCV", "04.1f"),
    "battery_redischarge_voltage": decimal_setter("PBDV", "04.1f"),
    "battery_under_voltage": decimal_setter("PSDV", "04.1f"),
    "battery_bulk_voltage": decimal_setter("PCVV", "04.1f"),
    "battery_float_voltage": decimal_setter("PBFT", "04.1f"),
    "max_charging_current": integer_setter("MCHGC"),
    "max_ac_charging_current": integer_setter("MUCHGC"),
    "max_cv_charging_time": integer_setter("PCVT"),
    "max_discharging_current": integer_setter("PBATMAXDISC"),
    "equalization_enabled": bool_setter("PBEQE"),
    "equalization_time": integer_setter("PBEQT"),
    "equalization_period": integer_setter("PBEQP"),
    "equalization_voltage": decimal_setter("PBEQV", "05.2f"),
    "equalization_over_time": integer_setter("PBEQOT"),
    "equalization_active": bool_setter("PBEQA"),
    **{key: flag_setter(letter) for letter, key, _, _ in FLAGS},
    "sync_clock": clock_setter,
    "reset_to_defaults": fixed_setter("PF"),
    "reset_energy_counters": fixed_setter("RTEY"),
    "reset_data_log": fixed_setter("RTDL"),
}


def parallel_setters(unit: int) -> dict[str, Encoder]:
    """Return the setters a parallel unit takes (its own charger priority, `PPCP<m><nn>`)."""
    return {"charger_source_priority": enum_setter(f"PPCP{unit}", enums.CHARGER_SOURCE_PRIORITY)}
