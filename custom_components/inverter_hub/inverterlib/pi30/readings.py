"""The readings a PI30 device can report, keyed by point key (canonical keys where they fit)."""

from __future__ import annotations

from dataclasses import replace
from typing import TypedDict, Unpack

from ..model import Category, Point, ValueType
from . import enums
from .alarms import WARNING_POINTS
from .parse import Enumeration

DIAG = Category.DIAGNOSTIC


class _Options(TypedDict, total=False):
    category: Category
    enabled: bool
    icon: str
    state_class: str | None


def _number(
    key: str,
    name: str,
    unit: str | None,
    device_class: str | None,
    *,
    integer: bool = False,
    plausible: tuple[float, float] | None = None,
    spike: float | None = None,
    precision: int | None = None,
    **options: Unpack[_Options],
) -> Point:
    return Point(
        key=key,
        name=name,
        value_type=ValueType.INT if integer else ValueType.FLOAT,
        unit=unit,
        device_class=device_class,
        state_class=options.get("state_class", "measurement"),
        plausible=plausible,
        spike=spike,
        precision=0 if integer else precision,
        category=options.get("category", Category.PRIMARY),
        enabled_by_default=options.get("enabled", True),
        icon=options.get("icon"),
    )


def _volts(key: str, name: str, top: float, **options: Unpack[_Options]) -> Point:
    return _number(key, name, "V", "voltage", plausible=(0, top), precision=1, **options)


def _amps(key: str, name: str, top: float, **options: Unpack[_Options]) -> Point:
    return _number(key, name, "A", "current", plausible=(0, top), precision=1, **options)


def _watts(key: str, name: str, top: float, **options: Unpack[_Options]) -> Point:
    return _number(key, name, "W", "power", integer=True, plausible=(0, top), **options)


def _flag(
    key: str,
    name: str,
    device_class: str | None = None,
    *,
    category: Category = DIAG,
    enabled: bool = True,
) -> Point:
    return Point(
        key=key,
        name=name,
        value_type=ValueType.BOOL,
        device_class=device_class,
        category=category,
        enabled_by_default=enabled,
    )


def _enum(
    key: str,
    name: str,
    enumeration: Enumeration,
    *,
    category: Category = Category.PRIMARY,
    enabled: bool = True,
) -> Point:
    return Point(
        key=key,
        name=name,
        value_type=ValueType.ENUM,
        device_class="enum",
        options=enumeration.options,
        option_labels=enumeration.labels,
        category=category,
        enabled_by_default=enabled,
    )


def _text(key: str, name: str, *, enabled: bool = False) -> Point:
    return Point(
        key=key, name=name, value_type=ValueType.TEXT, category=DIAG, enabled_by_default=enabled
    )


def _energy(key: str, name: str) -> Point:
    return Point(
        key=key,
        name=name,
        unit="kWh",
        device_class="energy",
        state_class="total_increasing",
        precision=3,
        plausible=(0, 10_000_000),
    )


_LIVE = [
    _volts("ac_input_voltage", "AC input voltage", 300),
    _number(
        "ac_input_frequency",
        "AC input frequency",
        "Hz",
        "frequency",
        plausible=(0, 70),
        precision=1,
    ),
    _volts("ac_output_voltage", "AC output voltage", 300),
    _number(
        "ac_output_frequency",
        "AC output frequency",
        "Hz",
        "frequency",
        plausible=(0, 70),
        precision=1,
    ),
    _number(
        "ac_output_apparent_power",
        "AC output apparent power",
        "VA",
        "apparent_power",
        integer=True,
        plausible=(0, 30_000),
    ),
    _watts("ac_output_power", "AC output power", 30_000),
    _number("load_percent", "Load", "%", None, integer=True, plausible=(0, 250), icon="mdi:gauge"),
    _number(
        "bus_voltage",
        "Bus voltage",
        "V",
        "voltage",
        integer=True,
        plausible=(0, 700),
        category=DIAG,
        enabled=False,
    ),
    # A 48 V bank never leaves 0-70 V; a jump of 15 V between two polls is a misread field.
    _number(
        "battery_voltage",
        "Battery voltage",
        "V",
        "voltage",
        plausible=(0, 70),
        spike=15,
        precision=2,
    ),
    _amps(
        "battery_charging_current", "Battery charging current", 500, category=DIAG, enabled=False
    ),
    _amps(
        "battery_discharge_current", "Battery discharge current", 500, category=DIAG, enabled=False
    ),
    _number(
        "battery_current", "Battery current", "A", "current", plausible=(-500, 500), precision=1
    ),
    _number(
        "battery_power", "Battery power", "W", "power", integer=True, plausible=(-40_000, 40_000)
    ),
    _number(
        "battery_soc", "Battery state of charge", "%", "battery", integer=True, plausible=(0, 100)
    ),
    _number(
        "inverter_temperature",
        "Inverter temperature",
        "°C",
        "temperature",
        integer=True,
        plausible=(-40, 150),
    ),
    _amps("pv1_current", "PV1 current", 100),
    _volts("pv1_voltage", "PV1 voltage", 600),
    _watts("pv1_power", "PV1 power", 20_000),
    _amps("pv2_current", "PV2 current", 100),
    _volts("pv2_voltage", "PV2 voltage", 600),
    _watts("pv2_power", "PV2 power", 20_000),
    _watts("pv_power", "PV power", 40_000),
    _volts("battery_voltage_scc", "Battery voltage from SCC", 70, category=DIAG, enabled=False),
    _number(
        "battery_voltage_offset_for_fans",
        "Battery voltage offset for fans",
        "mV",
        "voltage",
        integer=True,
        category=DIAG,
        enabled=False,
        state_class=None,
    ),
    _text("eeprom_version", "EEPROM version"),
    _watts("solar_feed_to_grid_power", "Solar feed-to-grid power", 20_000),
    _enum("device_mode", "Device mode", enums.DEVICE_MODE),
    _enum(
        "country_regulation",
        "Country regulation",
        enums.COUNTRY_REGULATION,
        category=DIAG,
        enabled=False,
    ),
]

_STATUS = [
    _flag("sbu_priority_version", "SBU priority version", enabled=False),
    _flag("configuration_changed", "Configuration changed", enabled=False),
    _flag("scc_firmware_updated", "SCC firmware updated", enabled=False),
    _flag("load_on", "Load on", "power", category=Category.PRIMARY),
    _flag("battery_voltage_steady", "Battery voltage steady while charging", enabled=False),
    _flag("charging", "Charging", "battery_charging", category=Category.PRIMARY),
    _flag("scc_charging", "Solar charging", "battery_charging"),
    _flag("ac_charging", "AC charging", "battery_charging"),
    _flag("charging_to_float", "Charging to float", enabled=False),
    _flag("switched_on", "Switched on", "power"),
    _flag("dustproof_installed", "Dust-proof kit installed", enabled=False),
    _flag("feeding_grid", "Feeding grid", "power"),
    _flag("scc_ok", "Solar charger OK"),
    _enum("battery_status", "Battery status", enums.BATTERY_STATUS, category=DIAG),
    _flag("line_loss", "Line loss", "problem"),
    _enum("fault_code", "Fault code", enums.FAULT_CODE, category=DIAG),
]

_RATINGS = [
    _volts(
        "grid_rating_voltage",
        "Grid rating voltage",
        300,
        category=DIAG,
        enabled=False,
        state_class=None,
    ),
    _amps(
        "grid_rating_current",
        "Grid rating current",
        200,
        category=DIAG,
        enabled=False,
        state_class=None,
    ),
    _amps(
        "ac_output_rating_current",
        "AC output rating current",
        200,
        category=DIAG,
        enabled=False,
        state_class=None,
    ),
    _number(
        "ac_output_rating_apparent_power",
        "AC output rating apparent power",
        "VA",
        "apparent_power",
        integer=True,
        category=DIAG,
        enabled=False,
        state_class=None,
    ),
    _number(
        "ac_output_rating_power",
        "AC output rating power",
        "W",
        "power",
        integer=True,
        category=DIAG,
        state_class=None,
    ),
    _volts("battery_rating_voltage", "Battery rating voltage", 70, category=DIAG, state_class=None),
    _number(
        "parallel_max_num",
        "Parallel maximum units",
        None,
        None,
        integer=True,
        category=DIAG,
        enabled=False,
        state_class=None,
    ),
    _enum("machine_type", "Machine type", enums.MACHINE_TYPE, category=DIAG, enabled=False),
    _enum("topology", "Topology", enums.TOPOLOGY, category=DIAG, enabled=False),
    _number(
        "equalization_max_current",
        "Equalisation maximum current",
        "A",
        "current",
        integer=True,
        category=DIAG,
        enabled=False,
        state_class=None,
    ),
    _number(
        "equalization_elapsed",
        "Equalisation elapsed time",
        "h",
        "duration",
        integer=True,
        category=DIAG,
        enabled=False,
        state_class=None,
    ),
    _energy("pv_energy", "PV energy"),
    _energy("load_energy", "Load energy"),
    _text("device_clock", "Device clock"),
    _flag("dsp_bootstrap", "DSP has bootstrap", enabled=False),
    _text("firmware_version_2", "Secondary CPU firmware"),
    _text("firmware_version_3", "Remote panel firmware"),
    _text("general_model_number", "General model number"),
]

_PARALLEL = [
    _amps("total_charging_current", "Total charging current", 1000),
    _number(
        "total_ac_output_apparent_power",
        "Total AC output apparent power",
        "VA",
        "apparent_power",
        integer=True,
        plausible=(0, 200_000),
    ),
    _watts("total_ac_output_power", "Total AC output power", 200_000),
    _number(
        "total_load_percent",
        "Total load",
        "%",
        None,
        integer=True,
        plausible=(0, 250),
        icon="mdi:gauge",
    ),
    _amps(
        "max_charger_range",
        "Maximum charger range",
        1000,
        category=DIAG,
        enabled=False,
        state_class=None,
    ),
]

_FACTORY = [
    _volts("default_output_voltage", "Default output voltage", 300, state_class=None),
    _number(
        "default_output_frequency", "Default output frequency", "Hz", "frequency", state_class=None
    ),
    _amps(
        "default_max_ac_charging_current",
        "Default maximum AC charging current",
        500,
        state_class=None,
    ),
    _volts(
        "default_battery_under_voltage", "Default battery cut-off voltage", 70, state_class=None
    ),
    _volts("default_battery_float_voltage", "Default battery float voltage", 70, state_class=None),
    _volts("default_battery_bulk_voltage", "Default battery bulk voltage", 70, state_class=None),
    _volts(
        "default_battery_recharge_voltage",
        "Default battery re-charge voltage",
        70,
        state_class=None,
    ),
    _amps(
        "default_max_charging_current", "Default maximum charging current", 500, state_class=None
    ),
    _enum("default_input_voltage_range", "Default input voltage range", enums.INPUT_VOLTAGE_RANGE),
    _enum(
        "default_output_source_priority",
        "Default output source priority",
        enums.OUTPUT_SOURCE_PRIORITY,
    ),
    _enum(
        "default_charger_source_priority",
        "Default charger source priority",
        enums.CHARGER_SOURCE_PRIORITY,
    ),
    _enum("default_battery_type", "Default battery type", enums.BATTERY_TYPE),
    _enum("default_output_mode", "Default output mode", enums.OUTPUT_MODE),
    _volts(
        "default_battery_redischarge_voltage",
        "Default battery re-discharge voltage",
        70,
        state_class=None,
    ),
]

# Factory defaults never change and are rarely wanted: diagnostic and off by default.
_DEFAULTS = [replace(point, category=DIAG, enabled_by_default=False) for point in _FACTORY]

READINGS: dict[str, Point] = {
    point.key: point
    for point in _LIVE + _STATUS + WARNING_POINTS + _RATINGS + _PARALLEL + _DEFAULTS
}
