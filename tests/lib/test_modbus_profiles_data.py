"""The shipped Modbus profiles are complete, consistent and decode real register values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
import re
import struct
from typing import Any

from inverterlib.modbus.codec import RegisterType
from inverterlib.modbus.loader import load_profile
from inverterlib.modbus.planner import (
    RTU_COST,
    ReadRules,
    Span,
    plan_reads,
)
from inverterlib.modbus.profile import (
    Access,
    Profile,
    RegisterPoint,
)
from inverterlib.modbus.registry import (
    SHIPPED_PROFILES,
    ProfileRegistry,
)
from inverterlib.model import PollGroup, ValueType
from inverterlib.pi30.readings import READINGS
from inverterlib.pi30.settings import SETTINGS
import pytest
import yaml

SNAKE = re.compile(r"[a-z0-9_]+")
TYPES = {"u16": 1, "s16": 1, "u32": 2, "s32": 2, "f32": 2, "ascii": None}
EASTRON = ("sdm120", "sdm230", "sdm630")
GROWATT = ("growatt_min", "growatt_tlx_legacy", "growatt_tlxh")
CANONICAL_ENERGY = {
    "pv_energy",
    "grid_import_energy",
    "grid_export_energy",
    "battery_charge_energy",
    "battery_discharge_energy",
    "load_energy",
}

# Register addresses documented in protocols.md section 4 (and the Eastron manuals it cites).
_SINGLE_PHASE_INPUT = {0x00, 0x06, 0x0C, 0x12, 0x18, 0x1E, 0x24, 0x46, 0x48, 0x4A, 0x4C, 0x4E}
_SINGLE_PHASE_INPUT |= {0x54, 0x56, 0x58, 0x5A, 0x5C, 0x5E, 0x102, 0x108, 0x156, 0x158}
_SDM630_INPUT = set(range(0x00, 0x2A, 2)) | {0x2A, 0x2E, 0x30, 0x34, 0x38, 0x3C, 0x3E, 0x42}
_SDM630_INPUT |= set(range(0x46, 0x60, 2)) | {0x64, 0x66, 0x68, 0x6A, 0xC8, 0xCA, 0xCC, 0xCE}
_SDM630_INPUT |= {0xE0, 0xEA, 0xEC, 0xEE, 0xF0, 0xF2, 0xF4, 0xF8, 0xFA, 0xFE}
_SDM630_INPUT |= set(range(0x102, 0x10E, 2)) | set(range(0x14E, 0x17E, 2))
_SINGLE_PHASE_HOLDING = {0x0C, 0x12, 0x14, 0x1C, 0x56, 0xF900, 0xF910, 0xF920, 0xFC00, 0xFC02}
DOCUMENTED_ADDRESSES: dict[str, dict[str, set[int]]] = {
    "sdm120": {
        "input": _SINGLE_PHASE_INPUT,
        "holding": _SINGLE_PHASE_HOLDING | {0x00, 0x02},
    },
    "sdm230": {
        "input": _SINGLE_PHASE_INPUT | {0x180, 0x182},
        "holding": _SINGLE_PHASE_HOLDING | {0xF930},
    },
    "sdm630": {
        "input": _SDM630_INPUT,
        # 0x0016 (pulse 1 divisor) is in the SDM630-Modbus V2 manual, not in protocols.md.
        "holding": {0x00, 0x02, 0x0A, 0x0C, 0x12, 0x14, 0x16, 0x1C, 0x28, 0xFC00, 0xFC02},
    },
}
# Growatt register blocks: a value must sit wholly inside one of them.
_GROWATT_HOLDING = [(0, 124), (3000, 3124)]
GROWATT_BLOCKS: dict[str, dict[str, list[tuple[int, int]]]] = {
    "growatt_tlx_legacy": {"input": [(0, 124)], "holding": _GROWATT_HOLDING},
    "growatt_min": {"input": [(3000, 3124)], "holding": _GROWATT_HOLDING},
    "growatt_tlxh": {"input": [(3000, 3124), (3125, 3249)], "holding": _GROWATT_HOLDING},
}


def _raw(profile_id: str) -> dict[str, Any]:
    data = yaml.safe_load((SHIPPED_PROFILES / f"{profile_id}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _entries(data: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for section in ("points", "settings"):
        for index, item in enumerate(data.get(section) or []):
            yield f"{section}[{index}] {item.get('key')}", item


def _width(item: Mapping[str, Any]) -> int:
    width = TYPES[item["type"]]
    return int(item["count"]) if width is None else width


@pytest.fixture(scope="module")
def profiles() -> dict[str, Profile]:
    return {path.stem: load_profile(path) for path in sorted(SHIPPED_PROFILES.glob("*.yaml"))}


def _by_key(profile: Profile, key: str) -> RegisterPoint:
    register_point = profile.register_point(key)
    assert register_point is not None, f"{profile.id} has no {key}"
    return register_point


def _f32(value: float) -> list[int]:
    high, low = struct.unpack(">2H", struct.pack(">f", value))
    return [high, low]


def test_the_six_profiles_are_shipped(profiles: dict[str, Profile]) -> None:
    assert sorted(profiles) == sorted(EASTRON + GROWATT)
    for profile_id, profile in profiles.items():
        assert profile.id == profile_id
        assert profile.points
        assert profile.settings


@pytest.mark.parametrize("profile_id", EASTRON + GROWATT)
def test_structure_of_the_yaml(profile_id: str) -> None:
    data = _raw(profile_id)
    keys: set[str] = set()
    for where, item in _entries(data):
        assert SNAKE.fullmatch(item["key"]), where
        assert item["key"] not in keys, f"{where}: key used twice"
        keys.add(item["key"])
        assert item["type"] in TYPES, where
        assert item["access"] in ("input", "holding"), where
        assert isinstance(item["name"], str), where
        assert item["name"][0].isupper(), f"{where}: names are sentence case"
        for option in (item.get("options") or {}).values():
            assert SNAKE.fullmatch(option), f"{where}: option {option!r}"
        assert len(set((item.get("options") or {}).values())) == len(item.get("options") or {})


@pytest.mark.parametrize("profile_id", EASTRON + GROWATT)
def test_no_two_values_share_a_register(profile_id: str) -> None:
    """Values of one table never overlap; bits and bit fields of one register may share it."""
    owners: dict[tuple[str, int], str] = {}
    bit_registers: set[tuple[str, int]] = set()
    fields: dict[tuple[str, int], int] = {}
    for where, item in _entries(_raw(profile_id)):
        cells = [(item["access"], item["address"] + i) for i in range(_width(item))]
        if "bits" in item:
            low, high = item["bits"]
            mask = ((1 << (high - low + 1)) - 1) << low
            (cell,) = cells
            assert not fields.get(cell, 0) & mask, f"{where} overlaps another bit field"
            fields[cell] = fields.get(cell, 0) | mask
        if "bit" in item or "bits" in item:
            bit_registers.update(cells)
            assert not any(owners.get(cell, "").startswith("whole") for cell in cells), where
            continue
        for cell in cells:
            assert cell not in owners, f"{where} overlaps {owners[cell]}"
            assert cell not in bit_registers, f"{where} overlaps a bit reading"
            owners[cell] = f"whole {where}"


@pytest.mark.parametrize("profile_id", EASTRON + GROWATT)
def test_energy_points_follow_the_energy_dashboard_rules(profile_id: str) -> None:
    energies = 0
    for where, item in _entries(_raw(profile_id)):
        if item.get("unit") != "kWh" and item.get("device_class") != "energy":
            continue
        energies += 1
        assert item.get("unit") == "kWh", where
        assert item.get("device_class") == "energy", where
        # Every total keeps statistics; a "today" counter is marked daily, so it may start
        # again from zero at midnight without being held back as a falling counter.
        assert item.get("state_class") == "total_increasing", where
        assert item.get("daily", False) == item["key"].endswith("_today"), where
    assert energies >= 2


@pytest.mark.parametrize("profile_id", EASTRON)
def test_eastron_values_are_documented_even_aligned_floats(profile_id: str) -> None:
    data = _raw(profile_id)
    documented = DOCUMENTED_ADDRESSES[profile_id]
    items = [item for _, item in _entries(data)] + list(data["identify"])
    items += list(data["info"].values())
    for item in items:
        assert item["address"] in documented[item["access"]], f"{profile_id}: {item}"
        assert item["address"] % 2 == 0, f"{profile_id}: {item}"
    for where, item in _entries(data):
        assert item["type"] == "f32", where
        assert item.get("write", "fc16") == "fc16", where
    assert data["link"]["max_registers"] <= 60
    assert data["link"]["even_alignment"] is True
    assert data["info"]["serial_number"] == {"access": "holding", "address": 0xFC00, "type": "u32"}


@pytest.mark.parametrize("profile_id", GROWATT)
def test_growatt_values_stay_inside_one_register_block(profile_id: str) -> None:
    data = _raw(profile_id)
    blocks = GROWATT_BLOCKS[profile_id]
    items = [(where, item) for where, item in _entries(data)]
    items += [(f"identify[{i}]", rule) for i, rule in enumerate(data["identify"])]
    items += [(f"info.{name}", spec) for name, spec in data["info"].items()]
    for where, item in items:
        first, last = item["address"], item["address"] + _width(item) - 1
        assert any(low <= first and last <= high for low, high in blocks[item["access"]]), where
    assert data["barriers"] == {"input": [125, 3125, 3250], "holding": [125, 3125, 3250]}
    assert data["link"]["gap"] >= 0.85
    assert data["link"]["max_registers"] == 125


def test_detection_tries_the_more_specific_models_first() -> None:
    order = [profile.id for profile in ProfileRegistry.load().all()]
    assert order.index("sdm630") < order.index("sdm230") < order.index("sdm120")
    assert order.index("growatt_tlxh") < order.index("growatt_min")
    assert order.index("growatt_min") < order.index("growatt_tlx_legacy")


def test_each_model_code_is_claimed_by_no_profile_tried_before() -> None:
    """The first code a profile expects is its own model's: earlier profiles must reject it."""
    ordered = ProfileRegistry.load().all()
    for position, profile in enumerate(ordered):
        for rule in profile.identify:
            if not rule.equals:
                continue
            own = rule.equals[0]
            for earlier in ordered[:position]:
                for other in earlier.identify:
                    same = (other.register.access, other.register.address) == (
                        rule.register.access,
                        rule.register.address,
                    )
                    assert not (same and own in other.equals), f"{earlier.id} claims {profile.id}"


def test_identification_rules_of_the_meters(profiles: dict[str, Profile]) -> None:
    sdm630 = profiles["sdm630"].identify
    model, three_phase = sdm630
    assert model.register.address == 0xFC02
    assert model.matches([112])
    assert model.matches([0x7900])  # 121 in the high byte, as seen on SDM630MCT units
    assert not model.matches([32])
    assert three_phase.register.address == 0x00C8
    assert not three_phase.equals
    assert profiles["sdm230"].identify[0].matches([43])
    assert not profiles["sdm230"].identify[0].matches([112])
    assert profiles["sdm120"].identify[0].matches([32])
    assert not profiles["sdm120"].identify[0].matches([43])


def test_identification_rules_of_the_inverters(profiles: dict[str, Profile]) -> None:
    tlxh_type, battery_block = profiles["growatt_tlxh"].identify
    assert tlxh_type.register.address == 43
    assert tlxh_type.matches([5100])
    assert not tlxh_type.matches([5201])
    assert (battery_block.register.access, battery_block.register.address) == (Access.INPUT, 3125)
    min_type, min_block = profiles["growatt_min"].identify
    assert min_type.matches([5201])
    assert min_type.matches([5100])
    assert (min_block.register.access, min_block.register.address) == (Access.INPUT, 3000)
    legacy_block = profiles["growatt_tlx_legacy"].identify[1]
    assert (legacy_block.register.access, legacy_block.register.address) == (Access.INPUT, 0)


@pytest.mark.parametrize(
    ("profile_id", "keys"),
    [
        (
            "sdm120",
            [
                "grid_voltage",
                "grid_current",
                "grid_power",
                "grid_frequency",
                "grid_import_energy",
                "grid_export_energy",
            ],
        ),
        ("sdm230", ["grid_voltage", "grid_power", "grid_import_energy", "grid_export_energy"]),
        (
            "sdm630",
            [f"grid_{q}_l{n}" for q in ("voltage", "current", "power") for n in (1, 2, 3)]
            + ["grid_power", "grid_frequency", "grid_import_energy", "grid_export_energy"]
            + ["grid_voltage_l1_l2", "grid_current_neutral", "voltage_thd_l1"]
            + ["grid_import_energy_l3", "current_demand_max_l2"],
        ),
        (
            "growatt_min",
            [
                *("device_mode", "pv_power", "pv1_voltage", "pv1_current", "pv1_power"),
                "grid_power",
                *("pv2_power", "ac_output_power", "ac_output_voltage", "ac_output_frequency"),
                *("load_power", "grid_import_power", "grid_export_power", "pv_energy"),
                *("inverter_temperature", "grid_import_energy", "grid_export_energy"),
                *("load_energy", "export_limit"),
            ],
        ),
        (
            "growatt_tlx_legacy",
            [
                *("device_mode", "pv_power", "pv1_voltage", "ac_output_power", "pv_energy"),
                *("inverter_temperature", "export_limit"),
            ],
        ),
        (
            "growatt_tlxh",
            [
                *("battery_voltage", "battery_current", "battery_soc", "battery_charge_energy"),
                *("battery_discharge_energy", "battery_charge_power", "battery_discharge_power"),
                *("priority_mode", "ac_charge", "battery_first_stop_soc", "grid_first_stop_soc"),
                *("pv_power", "grid_import_energy", "export_limit"),
                *("grid_power", "battery_power"),
            ],
        ),
    ],
)
def test_canonical_keys_are_present(
    profiles: dict[str, Profile], profile_id: str, keys: list[str]
) -> None:
    catalogue = {point.key for point in profiles[profile_id].catalogue()}
    assert set(keys) <= catalogue
    assert catalogue & CANONICAL_ENERGY


@pytest.mark.parametrize("profile_id", EASTRON + GROWATT)
def test_every_group_can_be_read_within_the_device_rules(
    profiles: dict[str, Profile], profile_id: str
) -> None:
    profile = profiles[profile_id]
    for access in Access:
        rules = ReadRules(
            max_registers=profile.link.max_registers,
            even_alignment=profile.link.even_alignment,
            barriers=profile.barriers_for(access),
        )
        for group in PollGroup:
            spans = [
                Span(rp.register.address, rp.register.count)
                for rp in profile.register_points
                if rp.register.access is access and rp.point.group is group
            ]
            for block in plan_reads(spans, rules, RTU_COST):
                assert block.count <= profile.link.max_registers
                assert not any(block.address < b < block.end for b in rules.barriers)


@pytest.mark.parametrize(
    ("profile_id", "blocks"),
    [("growatt_min", [(3000, 3124)]), ("growatt_tlxh", [(3000, 3124), (3125, 3249)])],
)
def test_growatt_live_values_fit_one_read_per_block(
    profiles: dict[str, Profile], profile_id: str, blocks: list[tuple[int, int]]
) -> None:
    """With 850 ms between commands, the live values must allow one read per block."""
    profile = profiles[profile_id]
    rules = ReadRules(max_registers=125, barriers=profile.barriers_for(Access.INPUT))
    live = [
        rp.register
        for rp in profile.points
        if rp.point.group is PollGroup.LIVE and rp.register.access is Access.INPUT
    ]
    for low, high in blocks:
        inside = [register for register in live if low <= register.address <= high]
        assert inside
        start = min(register.address for register in inside)
        end = max(register.end for register in inside)
        assert rules.block(start, end) is not None


def test_sdm630_decodes_float_registers(profiles: dict[str, Profile]) -> None:
    sdm630 = profiles["sdm630"]
    assert _by_key(sdm630, "grid_voltage_l2").decode(_f32(231.4)) == 231.4
    assert _by_key(sdm630, "grid_power").decode(_f32(-1520.5)) == -1520.5
    assert _by_key(sdm630, "grid_import_energy").decode(_f32(12345.678)) == 12345.678
    energy = _by_key(sdm630, "grid_import_energy").point
    assert (energy.unit, energy.device_class, energy.state_class) == (
        "kWh",
        "energy",
        "total_increasing",
    )
    thd = _by_key(sdm630, "voltage_thd_l1").point
    assert thd.group is PollGroup.SLOW
    assert thd.enabled_by_default is False
    demand = _by_key(sdm630, "import_power_demand_max").point
    assert (demand.group, demand.enabled_by_default) == (PollGroup.SLOW, False)


def test_eastron_settings_encode_floats(profiles: dict[str, Profile]) -> None:
    demand_period = _by_key(profiles["sdm630"], "demand_period")
    assert demand_period.encode(15) == _f32(15.0)
    assert demand_period.decode(_f32(30.0)) == 30.0
    assert demand_period.point.expert is False
    assert demand_period.point.choices == (0, 5, 8, 10, 15, 20, 30, 60)
    assert _by_key(profiles["sdm120"], "pulse_width").point.choices == (60, 100, 200)
    # Codes are floats on the wire and options in Home Assistant.
    system_type = _by_key(profiles["sdm630"], "system_type")
    assert system_type.point.value_type is ValueType.ENUM
    assert system_type.encode("three_phase_4_wire") == _f32(3.0)
    assert system_type.decode(_f32(2.0)) == "three_phase_3_wire"
    assert system_type.decode(_f32(2.5)) is None
    assert system_type.decode([0x7FC0, 0]) is None  # NaN
    assert system_type.point.option_label("single_phase_2_wire") == "1 phase 2 wire"
    baud = _by_key(profiles["sdm230"], "serial_baud_rate")
    assert baud.encode("baud_1200") == _f32(5.0)
    assert baud.point.option_label("baud_1200") == "1200 baud"
    assert _by_key(profiles["sdm120"], "measurement_mode").decode(_f32(3.0)) == (
        "import_minus_export"
    )
    constant = _by_key(profiles["sdm630"], "pulse_1_constant")
    assert constant.decode(_f32(0.0)) == "imp_per_kwh_400"
    assert constant.point.option_label("kwh_per_imp_100") == "100 kWh/imp"
    for profile_id in EASTRON:
        coded = [rp.key for rp in profiles[profile_id].settings if rp.options]
        assert "serial_parity" in coded
        assert "pulse_1_constant" in coded
        for register_point in profiles[profile_id].settings:
            if register_point.options:
                assert len(register_point.point.option_labels) == len(register_point.options)
        for key in ("modbus_address", "serial_baud_rate", "serial_parity"):
            bus_setting = _by_key(profiles[profile_id], key).point
            assert (bus_setting.expert, bus_setting.enabled_by_default) == (True, False)


def test_growatt_decodes_scaled_and_signed_registers(profiles: dict[str, Profile]) -> None:
    growatt = profiles["growatt_min"]
    assert _by_key(growatt, "device_mode").decode([1]) == "normal"
    assert _by_key(growatt, "device_mode").decode([3]) == "fault"
    assert _by_key(growatt, "pv1_voltage").decode([3456]) == 345.6
    assert _by_key(growatt, "pv_power").decode([0x0001, 0x0000]) == 6553.6
    assert _by_key(growatt, "ac_output_frequency").decode([5002]) == 50.02
    # 0xAHA/Growatt_ModbusTCP #361: 0xFFFF 0xF5E6 is -258.6 W, not 429 MW.
    assert _by_key(growatt, "grid_export_power").decode([0xFFFF, 0xF5E6]) == -258.6
    assert _by_key(growatt, "grid_import_power").decode([0x0000, 0x4E20]) == 2000
    assert _by_key(growatt, "inverter_temperature").decode([0xFFEC]) == -2
    assert _by_key(growatt, "grid_export_energy").decode([0x0001, 0x86A0]) == 10000
    assert _by_key(growatt, "derating_mode").decode([6]) == "inverter_temperature"
    assert _by_key(growatt, "standby_pv_low").decode([0b010]) is True
    assert _by_key(growatt, "standby_grid_out_of_range").decode([0b010]) is False
    hours = _by_key(growatt, "total_running_time")
    assert hours.decode([0x0000, 7200 * 5]) == 5
    assert hours.point.unit == "h"


def test_growatt_legacy_map_decodes_the_0_124_block(profiles: dict[str, Profile]) -> None:
    legacy = profiles["growatt_tlx_legacy"]
    assert _by_key(legacy, "ac_output_power").register.address == 35
    assert _by_key(legacy, "pv_energy").register.address == 91
    assert _by_key(legacy, "ac_output_voltage").decode([2301]) == 230.1
    assert _by_key(legacy, "device_mode").decode([0]) == "waiting"


def test_growatt_tlxh_decodes_the_battery_block(profiles: dict[str, Profile]) -> None:
    tlxh = profiles["growatt_tlxh"]
    assert _by_key(tlxh, "battery_voltage").decode([5123]) == 51.23
    assert _by_key(tlxh, "battery_current").decode([0xFF9C]) == -10
    assert _by_key(tlxh, "battery_soc").decode([87]) == 87
    assert _by_key(tlxh, "battery_charge_energy").decode([0, 12345]) == 1234.5
    assert _by_key(tlxh, "priority_mode").decode([1]) == "battery_first"
    assert _by_key(tlxh, "device_mode").decode([0x0501]) == "pv_battery_online"
    assert _by_key(tlxh, "device_mode").decode([0x0901]) is None
    soc = _by_key(tlxh, "battery_soc").point
    assert (soc.unit, soc.device_class, soc.plausible) == ("%", "battery", (0.0, 100.0))


def test_growatt_settings(profiles: dict[str, Profile]) -> None:
    growatt = profiles["growatt_tlxh"]
    export_limit = _by_key(growatt, "export_limit")
    assert export_limit.register.address == 3
    assert export_limit.point.value_type is ValueType.INT
    assert (export_limit.point.minimum, export_limit.point.maximum) == (0, 100)
    assert export_limit.encode(40) == [40]
    assert export_limit.point.expert is False
    failsafe = _by_key(growatt, "export_limit_failsafe_rate")
    assert failsafe.encode(55.5) == [555]
    for key in ("inverter_enabled", "ac_charge"):
        switch = _by_key(growatt, key)
        assert switch.point.value_type is ValueType.BOOL
        assert (switch.encode(False), switch.encode(True)) == ([0], [1])
        assert (switch.decode([0]), switch.decode([1]), switch.decode([3])) == (False, True, None)
    assert _by_key(profiles["growatt_min"], "inverter_enabled").switch
    assert _by_key(profiles["growatt_tlx_legacy"], "inverter_enabled").switch
    assert _by_key(growatt, "battery_first_stop_soc").register.address == 3048
    for key in ("modbus_address", "serial_baud_rate", "power_factor_command"):
        assert _by_key(growatt, key).point.expert is True
    assert _by_key(growatt, "serial_baud_rate").encode("baud_38400") == [1]


def test_growatt_derived_power_follows_home_assistant_signs(
    profiles: dict[str, Profile],
) -> None:
    for profile_id in ("growatt_min", "growatt_tlxh"):
        grid = profiles[profile_id].derived_point("grid_power")
        assert grid is not None
        assert grid.inputs == ("grid_import_power", "grid_export_power")
        assert grid.compute({"grid_import_power": 1200.5, "grid_export_power": 0}) == 1200.5
        assert grid.compute({"grid_import_power": 0, "grid_export_power": 300.2}) == -300.2
        assert (grid.point.unit, grid.point.device_class) == ("W", "power")
        assert grid.point.group is PollGroup.LIVE
    battery = profiles["growatt_tlxh"].derived_point("battery_power")
    assert battery is not None
    assert battery.compute({"battery_discharge_power": 500, "battery_charge_power": 0}) == 500
    assert battery.compute({"battery_discharge_power": 0, "battery_charge_power": 80.4}) == -80.4
    assert battery.compute({"battery_discharge_power": 500}) is None
    assert profiles["growatt_tlx_legacy"].derived == ()


def test_eastron_profiles_have_no_barriers(profiles: dict[str, Profile]) -> None:
    """SDM limits are alignment and size; a barrier would only add requests."""
    for profile_id in EASTRON:
        assert "barriers" not in _raw(profile_id)
        assert all(not profiles[profile_id].barriers_for(access) for access in Access)


def test_canonical_names_match_the_other_families(profiles: dict[str, Profile]) -> None:
    """A key is one entity name in every family (PI30 is the reference)."""
    pi30 = {point.key: point.name for point in (*READINGS.values(), *SETTINGS.values())}
    names: dict[str, str] = {}
    for profile in profiles.values():
        for point in profile.catalogue():
            if point.key in pi30:
                assert point.name == pi30[point.key], f"{profile.id}: {point.key}"
            assert names.setdefault(point.key, point.name) == point.name, (
                f"{profile.id}: {point.key}"
            )
    assert names["grid_power"] == "Grid power"
    assert names["battery_power"] == pi30["battery_power"] == "Battery power"


def test_profile_files_parse_identically_through_the_loader(
    profiles: dict[str, Profile],
) -> None:
    """The raw YAML and the loaded profile agree on every address and type."""
    for profile_id, profile in profiles.items():
        raw = {item["key"]: item for _, item in _entries(_raw(profile_id))}
        assert set(raw) == {rp.key for rp in profile.register_points}
        for register_point in profile.register_points:
            item = raw[register_point.key]
            assert register_point.register.address == item["address"]
            assert register_point.register.type is RegisterType(item["type"])
            assert register_point.register.access is Access(item["access"])


def test_shipped_directory_is_the_one_tested() -> None:
    assert Path(SHIPPED_PROFILES).name == "profiles"
    assert (SHIPPED_PROFILES / "sdm630.yaml").is_file()
