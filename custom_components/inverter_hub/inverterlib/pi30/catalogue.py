"""The PI30 query table: which query answers which point, from which field, how parsed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..model import PollGroup, Value
from . import enums
from .alarms import MAX_WARNINGS, TRACKER_WARNINGS, WARNINGS
from .codec import split_fields
from .parse import (
    Parser,
    bit,
    clock,
    decimal,
    finite,
    firmware,
    flag,
    integer,
    scaled,
    scaled_int,
    text,
)
from .settings import FLAGS

LIVE, SLOW, STATIC = PollGroup.LIVE, PollGroup.SLOW, PollGroup.STATIC


@dataclass(frozen=True, kw_only=True, slots=True)
class Field:
    """One point read from one field of a reply, when the reply has between min and max fields."""

    key: str
    index: int
    parse: Parser
    min_fields: int = 0
    max_fields: int | None = None

    def fits(self, count: int) -> bool:
        """Return whether a reply with `count` fields carries this point here."""
        return self.index < count and self.min_fields <= count <= (self.max_fields or count)


@dataclass(frozen=True, kw_only=True, slots=True)
class Query:
    """One query command, how its payload splits into fields, and the points it feeds."""

    command: str
    group: PollGroup
    fields: tuple[Field, ...] = ()
    split: Callable[[str], list[str]] = split_fields

    def shape(self, payload: str) -> int:
        """Return what stays constant between replies: the field count, or the fixed width."""
        # A reply of another shape answers some other request (a late reply after a timeout).
        return len(payload.split()) if self.split is split_fields else len(payload)


@dataclass(frozen=True, kw_only=True, slots=True)
class Derived:
    """A point computed from other points of the same read."""

    key: str
    inputs: tuple[str, ...]
    # None when the inputs give no finite result.
    compute: Callable[[Mapping[str, Value]], Value | None]
    # Inputs used when the device has them; the point exists without them.
    optional: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Action:
    """An action, offered when the device answered one of `requires` (always when empty)."""

    key: str
    requires: tuple[str, ...] = ()


def _f(index: int, key: str, parse: Parser = decimal, **limits: int) -> Field:
    return Field(key=key, index=index, parse=parse, **limits)


def split_chars(payload: str) -> list[str]:
    """Return one field per character (QPIWS flags)."""
    return list(payload)


def split_whole(payload: str) -> list[str]:
    """Return the payload as one field (QMOD, QID, QET, ...)."""
    return [payload] if payload else []


FLAG_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def split_flags(payload: str) -> list[str]:
    """Return one field per letter a-z: "1" enabled, "0" disabled, "" not reported."""
    # Upper-case E and D open the enabled and disabled blocks; flags are lower-case letters.
    states = [""] * len(FLAG_LETTERS)
    state = ""
    for char in payload:
        if char == "E":
            state = "1"
        elif char == "D":
            state = "0"
        elif state and char in FLAG_LETTERS:
            states[FLAG_LETTERS.index(char)] = state
    return states


def _single(command: str, group: PollGroup, key: str, parse: Parser) -> Query:
    return Query(command=command, group=group, split=split_whole, fields=(_f(0, key, parse),))


def _bits(index: int, keys: tuple[str | None, ...], **limits: int) -> tuple[Field, ...]:
    return tuple(
        _f(index, key, bit(position), **limits) for position, key in enumerate(keys) if key
    )


_QPIGS_STATUS = (
    "sbu_priority_version", "configuration_changed", "scc_firmware_updated", "load_on",
    "battery_voltage_steady", "charging", "scc_charging", "ac_charging",
)  # fmt: skip

QUERIES: tuple[Query, ...] = (
    Query(command="QPI", group=STATIC, split=split_whole),
    Query(command="QID", group=STATIC, split=split_whole),
    Query(command="QSID", group=STATIC, split=split_whole),
    Query(command="QVFW", group=STATIC, split=split_whole),
    Query(command="QMN", group=STATIC, split=split_whole),
    Query(command="QMCHGCR", group=STATIC),
    Query(command="QMUCHGCR", group=STATIC),
    Query(
        command="QPIGS",
        group=LIVE,
        fields=(
            _f(0, "ac_input_voltage"),
            _f(1, "ac_input_frequency"),
            _f(2, "ac_output_voltage"),
            _f(3, "ac_output_frequency"),
            _f(4, "ac_output_apparent_power", integer),
            _f(5, "ac_output_power", integer),
            _f(6, "load_percent", integer),
            _f(7, "bus_voltage", integer),
            _f(8, "battery_voltage"),
            _f(9, "battery_charging_current"),
            _f(10, "battery_soc", integer),
            _f(11, "inverter_temperature", integer),
            _f(12, "pv1_current"),
            _f(13, "pv1_voltage"),
            _f(14, "battery_voltage_scc"),
            _f(15, "battery_discharge_current"),
            *_bits(16, _QPIGS_STATUS),
            _f(17, "battery_voltage_offset_for_fans", scaled_int(10)),
            _f(18, "eeprom_version", text),
            _f(19, "pv1_power", integer),
            *_bits(20, ("charging_to_float", "switched_on", "dustproof_installed")),
            _f(21, "feeding_grid", flag),
            _f(22, "country_regulation", enums.COUNTRY_REGULATION.parse),
            _f(23, "solar_feed_to_grid_power", integer),
        ),
    ),
    # The MAX layout is three fields; the longer 3-tracker layout puts other data at index 2.
    Query(
        command="QPIGS2",
        group=LIVE,
        fields=(
            _f(0, "pv2_current"),
            _f(1, "pv2_voltage"),
            _f(2, "pv2_power", integer, max_fields=3),
        ),
    ),
    _single("QMOD", LIVE, "device_mode", enums.DEVICE_MODE.parse),
    Query(
        command="QPIWS",
        group=LIVE,
        split=split_chars,
        fields=(
            *(_f(index, key, bit(0)) for index, key, _ in WARNINGS),
            *(_f(index, key, bit(0), min_fields=38) for index, key, _ in TRACKER_WARNINGS),
            *(
                _f(index, key, bit(0), min_fields=36, max_fields=37)
                for index, key, _ in MAX_WARNINGS
            ),
        ),
    ),
    Query(
        command="QPIRI",
        group=SLOW,
        fields=(
            _f(0, "grid_rating_voltage"),
            _f(1, "grid_rating_current"),
            _f(2, "output_voltage", enums.OUTPUT_VOLTAGE.parse),
            _f(3, "output_frequency", enums.OUTPUT_FREQUENCY.parse),
            _f(4, "ac_output_rating_current"),
            _f(5, "ac_output_rating_apparent_power", integer),
            _f(6, "ac_output_rating_power", integer),
            _f(7, "battery_rating_voltage"),
            _f(8, "battery_recharge_voltage"),
            _f(9, "battery_under_voltage"),
            _f(10, "battery_bulk_voltage"),
            _f(11, "battery_float_voltage"),
            _f(12, "battery_type", enums.BATTERY_TYPE.parse),
            _f(13, "max_ac_charging_current", integer),
            _f(14, "max_charging_current", integer),
            _f(15, "input_voltage_range", enums.INPUT_VOLTAGE_RANGE.parse),
            _f(16, "output_source_priority", enums.OUTPUT_SOURCE_PRIORITY.parse),
            _f(17, "charger_source_priority", enums.CHARGER_SOURCE_PRIORITY.parse),
            _f(18, "parallel_max_num", integer),
            _f(19, "machine_type", enums.MACHINE_TYPE.parse),
            _f(20, "topology", enums.TOPOLOGY.parse),
            _f(21, "output_mode", enums.OUTPUT_MODE.parse),
            _f(22, "battery_redischarge_voltage"),
            _f(23, "pv_ok_condition", enums.PV_OK_CONDITION.parse),
            _f(24, "pv_power_balance", enums.PV_POWER_BALANCE.parse),
            _f(25, "max_cv_charging_time", integer),
            _f(26, "operation_logic", enums.OPERATION_LOGIC.parse),
            _f(27, "max_discharging_current", integer),
        ),
    ),
    Query(
        command="QFLAG",
        group=SLOW,
        split=split_flags,
        fields=tuple(_f(FLAG_LETTERS.index(letter), key, flag) for letter, key, _, _ in FLAGS),
    ),
    _single("QOPM", SLOW, "output_mode", enums.OUTPUT_MODE.parse),
    _single("QCST", SLOW, "charging_stage", enums.CHARGING_STAGE.parse),
    _single("QCVT", SLOW, "max_cv_charging_time", integer),
    Query(
        command="QBEQI",
        group=SLOW,
        fields=(
            _f(0, "equalization_enabled", flag),
            _f(1, "equalization_time", integer),
            _f(2, "equalization_period", integer),
            _f(3, "equalization_max_current", integer),
            _f(5, "equalization_voltage"),
            _f(7, "equalization_over_time", integer),
            _f(8, "equalization_active", flag),
            _f(9, "equalization_elapsed", integer),
        ),
    ),
    # Energy totals arrive in Wh as 8 digits; published in kWh.
    _single("QET", SLOW, "pv_energy", scaled(0.001)),
    _single("QLT", SLOW, "load_energy", scaled(0.001)),
    _single("QT", SLOW, "device_clock", clock),
    Query(
        command="QDI",
        group=STATIC,
        fields=(
            _f(0, "default_output_voltage"),
            _f(1, "default_output_frequency"),
            _f(2, "default_max_ac_charging_current"),
            _f(3, "default_battery_under_voltage"),
            _f(4, "default_battery_float_voltage"),
            _f(5, "default_battery_bulk_voltage"),
            _f(6, "default_battery_recharge_voltage"),
            _f(7, "default_max_charging_current"),
            _f(8, "default_input_voltage_range", enums.INPUT_VOLTAGE_RANGE.parse),
            _f(9, "default_output_source_priority", enums.OUTPUT_SOURCE_PRIORITY.parse),
            _f(10, "default_charger_source_priority", enums.CHARGER_SOURCE_PRIORITY.parse),
            _f(11, "default_battery_type", enums.BATTERY_TYPE.parse),
            _f(21, "default_output_mode", enums.OUTPUT_MODE.parse),
            _f(22, "default_battery_redischarge_voltage"),
        ),
    ),
    _single("QBOOT", STATIC, "dsp_bootstrap", flag),
    _single("QVFW2", STATIC, "firmware_version_2", firmware),
    _single("QVFW3", STATIC, "firmware_version_3", firmware),
    _single("QGMN", STATIC, "general_model_number", text),
)


def parallel_query(unit: int) -> Query:
    """Return the `QPGS<n>` query of one parallel unit."""
    return Query(
        command=f"QPGS{unit}",
        group=LIVE,
        fields=(
            _f(2, "device_mode", enums.DEVICE_MODE.parse),
            _f(3, "fault_code", enums.fault_code),
            _f(4, "ac_input_voltage"),
            _f(5, "ac_input_frequency"),
            _f(6, "ac_output_voltage"),
            _f(7, "ac_output_frequency"),
            _f(8, "ac_output_apparent_power", integer),
            _f(9, "ac_output_power", integer),
            _f(10, "load_percent", integer),
            _f(11, "battery_voltage"),
            _f(12, "battery_charging_current"),
            _f(13, "battery_soc", integer),
            _f(14, "pv1_voltage"),
            _f(15, "total_charging_current"),
            _f(16, "total_ac_output_apparent_power", integer),
            _f(17, "total_ac_output_power", integer),
            _f(18, "total_load_percent", integer),
            *_bits(
                19,
                (
                    "scc_ok",
                    "ac_charging",
                    "scc_charging",
                    None,
                    None,
                    "line_loss",
                    "load_on",
                    "configuration_changed",
                ),
            ),
            _f(19, "battery_status", enums.battery_status),
            _f(20, "output_mode", enums.OUTPUT_MODE.parse),
            _f(21, "charger_source_priority", enums.CHARGER_SOURCE_PRIORITY.parse),
            _f(22, "max_charging_current", integer),
            _f(23, "max_charger_range", integer),
            _f(24, "max_ac_charging_current", integer),
            _f(25, "pv1_current"),
            _f(26, "battery_discharge_current"),
            _f(27, "pv2_voltage"),
            _f(28, "pv2_current"),
        ),
    )


def _number(values: Mapping[str, Value], key: str) -> float:
    value = values[key]
    return float(value) if isinstance(value, int | float) else 0.0


def _rounded(number: float, digits: int = 0) -> float | int | None:
    """Return a computed number rounded, or None when it overflowed."""
    if finite(number) is None:
        return None
    return round(number, digits) if digits else round(number)


def _pv_power(tracker: int) -> Derived:
    return Derived(
        key=f"pv{tracker}_power",
        inputs=(f"pv{tracker}_voltage", f"pv{tracker}_current"),
        compute=lambda v: _rounded(
            _number(v, f"pv{tracker}_voltage") * _number(v, f"pv{tracker}_current")
        ),
    )


# Home Assistant's energy dashboard wants battery power positive while discharging and negative
# while charging (https://www.home-assistant.io/docs/energy/battery/); current follows power.
DERIVED: tuple[Derived, ...] = (
    _pv_power(1),
    _pv_power(2),
    Derived(
        key="pv_power",
        inputs=("pv1_power",),
        optional=("pv2_power",),
        compute=lambda v: _rounded(
            sum(_number(v, k) for k in ("pv1_power", "pv2_power") if k in v)
        ),
    ),
    Derived(
        key="battery_current",
        inputs=("battery_discharge_current", "battery_charging_current"),
        compute=lambda v: _rounded(
            _number(v, "battery_discharge_current") - _number(v, "battery_charging_current"), 1
        ),
    ),
    Derived(
        key="battery_power",
        inputs=("battery_voltage", "battery_current"),
        compute=lambda v: _rounded(_number(v, "battery_voltage") * _number(v, "battery_current")),
    ),
)

ACTIONS: tuple[Action, ...] = (
    Action(key="sync_clock", requires=("QT",)),
    Action(key="reset_to_defaults", requires=("QPIRI",)),
    Action(key="reset_energy_counters", requires=("QET", "QLT")),
    Action(key="reset_data_log", requires=("QT",)),
)
