"""The enum fields of PI30: codes as the device sends them, snake_case options, English labels."""

from __future__ import annotations

from .parse import Enumeration, numbered

DEVICE_MODE = Enumeration(
    (
        ("P", "power_on", "Power on"),
        ("S", "standby", "Standby"),
        ("L", "line", "Line"),
        ("B", "battery", "Battery"),
        ("F", "fault", "Fault"),
        ("H", "power_saving", "Power saving"),
        ("D", "shutdown", "Shutdown"),
        ("Y", "bypass", "Bypass"),
    )
)

OUTPUT_SOURCE_PRIORITY = numbered(
    ("utility_first", "Utility first"),
    ("solar_first", "Solar first"),
    ("sbu", "Solar, battery, utility (SBU)"),
)

CHARGER_SOURCE_PRIORITY = numbered(
    ("utility_first", "Utility first"),
    ("solar_first", "Solar first"),
    ("solar_and_utility", "Solar and utility"),
    ("solar_only", "Only solar"),
)

INPUT_VOLTAGE_RANGE = numbered(("appliance", "Appliance"), ("ups", "UPS"))

BATTERY_TYPE = numbered(
    ("agm", "AGM"),
    ("flooded", "Flooded"),
    ("user", "User defined"),
    ("pylontech", "Pylontech"),
    ("shinheung", "Shinheung"),
    ("weco", "WECO"),
    ("soltaro", "Soltaro"),
    ("bak", "BAK"),
    ("lib", "Lithium (protocol compatible)"),
    ("lic", "Lithium (third party)"),
)

MACHINE_TYPE = Enumeration(
    (
        (0, "grid_tie", "Grid-tie"),
        (1, "off_grid", "Off-grid"),
        (10, "hybrid", "Hybrid"),
        (11, "off_grid_2_trackers", "Off-grid, 2 trackers"),
        (20, "off_grid_3_trackers", "Off-grid, 3 trackers"),
    )
)

TOPOLOGY = numbered(("transformerless", "Transformerless"), ("transformer", "Transformer"))

OUTPUT_MODE = numbered(
    ("single", "Single"),
    ("parallel", "Parallel"),
    ("phase_1_of_3", "Phase 1 of 3"),
    ("phase_2_of_3", "Phase 2 of 3"),
    ("phase_3_of_3", "Phase 3 of 3"),
    ("phase_1_of_2", "Phase 1 of 2"),
    ("phase_2_of_2_120", "Phase 2 of 2 (120°)"),
    ("phase_2_of_2_180", "Phase 2 of 2 (180°)"),
)

PV_OK_CONDITION = numbered(("any_unit", "Any unit has PV"), ("all_units", "All units have PV"))

PV_POWER_BALANCE = numbered(
    ("charge_current", "PV current limited to charge current"),
    ("charge_and_load", "PV power covers charge and load"),
)

OPERATION_LOGIC = numbered(("automatic", "Automatic"), ("online", "On-line"), ("eco", "ECO"))

CHARGING_STAGE = numbered(
    ("auto", "Automatic"), ("two_stage", "2-stage"), ("three_stage", "3-stage")
)

COUNTRY_REGULATION = numbered(
    ("india", "India"), ("germany", "Germany"), ("south_america", "South America")
)

OUTPUT_FREQUENCY = Enumeration(((50, "50", "50 Hz"), (60, "60", "60 Hz")))

OUTPUT_VOLTAGE_HV = Enumeration(
    ((220, "220", "220 V"), (230, "230", "230 V"), (240, "240", "240 V"))
)
OUTPUT_VOLTAGE_LV = Enumeration(
    ((110, "110", "110 V"), (120, "120", "120 V"), (127, "127", "127 V"))
)
OUTPUT_VOLTAGE = Enumeration(OUTPUT_VOLTAGE_LV.entries + OUTPUT_VOLTAGE_HV.entries)

BATTERY_STATUS = numbered(
    ("normal", "Normal"), ("under_voltage", "Under voltage"), ("open", "Open")
)

FAULT_CODE = Enumeration(
    (
        (0, "none", "No fault"),
        (1, "fan_locked", "Fan locked"),
        (2, "over_temperature", "Over temperature"),
        (3, "battery_voltage_high", "Battery voltage too high"),
        (4, "battery_voltage_low", "Battery voltage too low"),
        (5, "output_short", "Output short circuit or over temperature"),
        (6, "output_voltage_high", "Output voltage too high"),
        (7, "overload_timeout", "Overload time out"),
        (8, "bus_voltage_high", "Bus voltage too high"),
        (9, "bus_soft_start_failed", "Bus soft start failed"),
        (10, "pv_over_current", "PV over current"),
        (11, "pv_over_voltage", "PV over voltage"),
        (12, "dcdc_over_current", "DC/DC over current"),
        (13, "battery_discharge_over_current", "Battery discharge over current"),
        (51, "over_current", "Over current"),
        (52, "bus_voltage_low", "Bus voltage too low"),
        (53, "inverter_soft_start_failed", "Inverter soft start failed"),
        (54, "self_test_failed", "Self-test failed"),
        (55, "dc_voltage_on_output", "Over DC voltage on AC output"),
        (56, "battery_open", "Battery connection open"),
        (57, "current_sensor_failed", "Current sensor failed"),
        (58, "output_voltage_low", "Output voltage too low"),
        (60, "power_feedback", "Power feedback protection"),
        (71, "parallel_firmware_different", "Parallel firmware version different"),
        (72, "current_sharing_fault", "Current sharing fault"),
        (80, "can_fault", "CAN fault"),
        (81, "host_loss", "Host loss"),
        (82, "synchronization_loss", "Synchronisation loss"),
        (83, "battery_voltage_different", "Battery voltage detected different"),
        (84, "ac_input_different", "AC input voltage or frequency different"),
        (85, "ac_output_unbalanced", "AC output current unbalanced"),
        (86, "output_mode_different", "AC output mode setting different"),
        ("other", "other", "Other fault"),
    )
)


def fault_code(field: str) -> str | None:
    """Return the option of a parallel fault code, `other` for codes the table lacks."""
    if not field.isdigit():
        return None
    return FAULT_CODE.parse(field) or "other"


def battery_status(field: str) -> str | None:
    """Return the battery state in bits b4b3 of a parallel unit's status byte (b7 leftmost)."""
    if len(field) != 8 or not set(field) <= {"0", "1"}:
        return None
    return BATTERY_STATUS.parse(str(int(field[3:5], 2)))
