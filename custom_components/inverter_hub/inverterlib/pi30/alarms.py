"""The QPIWS warning and fault flags, by character index, for each reply layout."""

from __future__ import annotations

from ..model import Category, Point, ValueType

# QPIWS flags by character index; the 36-character MAX layout re-uses some positions.
WARNINGS: tuple[tuple[int, str, str], ...] = (
    (1, "inverter_fault", "Inverter fault"),
    (2, "bus_over", "Bus over voltage"),
    (3, "bus_under", "Bus under voltage"),
    (4, "bus_soft_fail", "Bus soft start failed"),
    (5, "line_fail", "Line fail"),
    (6, "output_short", "Output short circuit"),
    (7, "inverter_voltage_low", "Inverter voltage too low"),
    (8, "inverter_voltage_high", "Inverter voltage too high"),
    (9, "over_temperature", "Over temperature"),
    (10, "fan_locked", "Fan locked"),
    (11, "battery_voltage_high", "Battery voltage too high"),
    (12, "battery_low_alarm", "Battery low alarm"),
    (13, "overcharge", "Overcharge"),
    (14, "battery_under_shutdown", "Battery under shutdown"),
    (15, "battery_derating", "Battery derating"),
    (16, "overload", "Overload"),
    (17, "eeprom_fault", "EEPROM fault"),
    (18, "inverter_over_current", "Inverter over current"),
    (19, "inverter_soft_fail", "Inverter soft start failed"),
    (20, "self_test_fail", "Self-test failed"),
    (21, "output_dc_voltage_over", "DC voltage on AC output"),
    (22, "battery_open", "Battery open"),
    (23, "current_sensor_fail", "Current sensor failed"),
    (24, "battery_short", "Battery short circuit"),
    (25, "power_limit", "Power limit"),
    (26, "pv1_voltage_high", "PV1 voltage too high"),
    (27, "pv1_mppt_overload_fault", "PV1 MPPT overload fault"),
    (28, "pv1_mppt_overload_warning", "PV1 MPPT overload warning"),
    (29, "pv1_battery_too_low_to_charge", "Battery too low to charge from PV1"),
)
# Positions 30-37 mean PV2/PV3 on the 38-flag layout of 3-tracker models.
TRACKER_WARNINGS: tuple[tuple[int, str, str], ...] = tuple(
    (
        26 + 4 * tracker + offset,
        key.replace("pv1", f"pv{tracker + 1}"),
        name.replace("PV1", f"PV{tracker + 1}"),
    )
    for tracker in (1, 2)
    for offset, (_, key, name) in enumerate(WARNINGS[-4:])
)
# The 36-flag MAX layout instead uses position 0 for PV loss, 31 and 35 for battery states.
MAX_WARNINGS: tuple[tuple[int, str, str], ...] = (
    (0, "pv_loss", "PV loss"),
    (31, "battery_weak", "Battery weak"),
    (35, "battery_equalization", "Battery equalisation"),
)

# Reserved on most models: kept, but off by default.
_RARE = frozenset({"overcharge", "battery_short"})

WARNING_POINTS = [
    Point(
        key=key,
        name=name,
        value_type=ValueType.BOOL,
        # Equalisation running is a state, not a problem.
        device_class=None if key == "battery_equalization" else "problem",
        category=Category.DIAGNOSTIC,
        enabled_by_default=key not in _RARE,
    )
    for _, key, name in WARNINGS + TRACKER_WARNINGS + MAX_WARNINGS
]
