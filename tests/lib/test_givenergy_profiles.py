"""The register engine's GivEnergy concepts, the shipped GivEnergy profiles, model detection."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any

from inverterlib.errors import (
    NotWritableError,
    ProfileError,
    UnknownPointError,
    UnsupportedError,
    ValidationError,
)
from inverterlib.families import shipped_points
from inverterlib.givenergy.models import detect
from inverterlib.givenergy.registry import load_profiles, merge, shipped_profiles
from inverterlib.givenergy.spec import points
from inverterlib.modbus.loader import parse_profile
from inverterlib.modbus.planner import (
    MBAP_COST,
    Block,
    ReadRules,
    Span,
    UnreadableSpanError,
    plan_reads,
)
from inverterlib.modbus.profile import Access, Profile, RegisterWrite
from inverterlib.model import PointKind, ValueType
import pytest
import yaml

NOW = datetime(2025, 3, 4, 5, 6, 7)


def profile(extra: dict[str, Any]) -> Profile:
    """Return a small profile with 60-register banks and a few time settings."""
    data: dict[str, Any] = {
        "id": "test",
        "manufacturer": "Test",
        "model": "Unit",
        "link": {"max_registers": 60, "alignment": 60},
        "points": [
            {"key": "a", "name": "A", "access": "input", "address": 1, "type": "u16"},
            {"key": "b", "name": "B", "access": "input", "address": 2, "type": "u16"},
            {"key": "c", "name": "C", "access": "input", "address": 70, "type": "s16"},
        ],
        "settings": [
            {
                "key": "start",
                "name": "Start",
                "access": "holding",
                "address": 94,
                "type": "u16",
                "time": "hhmm",
            },
            {
                "key": "end",
                "name": "End",
                "access": "holding",
                "address": 95,
                "type": "u16",
                "time": "hhmm",
            },
            {
                "key": "flag",
                "name": "Flag",
                "access": "holding",
                "address": 27,
                "type": "u16",
                "switch": True,
            },
        ],
    }
    data.update(extra)
    return parse_profile(data, "test.yaml")


def fails(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        profile(extra)


# The planner's alignment -------------------------------------------------------------------


def test_reads_start_on_a_bank_and_never_cross_one() -> None:
    rules = ReadRules(max_registers=60, alignment=60)
    assert rules.block(70, 80) == Block(60, 20)
    assert rules.block(50, 65) is None
    spans = [Span(1, 1), Span(59, 1), Span(61, 2), Span(119, 1), Span(180, 4)]
    assert plan_reads(spans, rules, MBAP_COST.with_gap(0.25, 1_000_000)) == [
        Block(0, 60),
        Block(60, 60),
        Block(180, 4),
    ]
    with pytest.raises(UnreadableSpanError, match="alignment 60"):
        plan_reads([Span(59, 2)], rules, MBAP_COST)


def test_banks_may_be_counted_from_another_register() -> None:
    # GivEnergy's three-phase banks start at 1000, 1060, 1120 ... (1000 is no multiple of 60).
    rules = ReadRules(max_registers=60, alignment=60, alignment_base=1000)
    assert rules.block(1061, 1100) == Block(1060, 40)
    assert rules.block(1119, 1121) is None
    spans = [Span(1001, 1), Span(1061, 3), Span(1138, 2), Span(1412, 2)]
    assert plan_reads(spans, rules, MBAP_COST.with_gap(0.25, 1_000_000)) == [
        Block(1000, 2),
        Block(1060, 4),
        Block(1120, 20),
        Block(1360, 54),
    ]
    link = {"max_registers": 60, "alignment": 60, "alignment_base": 1000}
    point = {"key": "x", "name": "X", "access": "input", "address": 1119, "type": "u32"}
    fails({"link": link, "points": [point]}, "cross a bank of 60")
    assert profile({"link": link}).link.alignment_base == 1000


# Times, sums, modes, composites, actions ---------------------------------------------------


def test_hhmm_times_decode_and_encode() -> None:
    start = profile({}).register_point("start")
    assert start is not None
    assert start.point.value_type is ValueType.TIME
    assert start.decode([430]) == time(4, 30)
    assert start.decode([0]) == time(0, 0)
    # Some units keep 60 or other impossible times for an unset slot.
    assert start.decode([60]) is None
    assert start.decode([2400]) is None
    assert start.encode(time(23, 30)) == [2330]
    with pytest.raises(ValidationError, match="time of day"):
        start.encode("23:30")


def test_a_signed_hhmm_register_below_zero_is_no_time() -> None:
    item = {"key": "t", "name": "T", "access": "input", "address": 3, "type": "s16", "time": "hhmm"}
    reading = profile({"points": [item]}).register_point("t")
    assert reading is not None
    assert reading.decode([0xFFFF]) is None


def test_a_sum_adds_its_terms() -> None:
    summed = profile({"derived": [{"key": "total", "name": "Total", "sum": ["a", "b"]}]})
    assert summed.values(["total"], {(Access.INPUT, 1): 5, (Access.INPUT, 2): 7}) == {"total": 12}
    assert summed.values(["total"], {(Access.INPUT, 1): 5}) == {}


MODE = {
    "key": "mode",
    "name": "Mode",
    "options": {
        "paused": {"write": {27: 1, 59: 0, 110: 100}},
        "eco": {"write": {27: 1, 59: 0, 110: 4}, "match": {27: 1, 59: 0}},
        "export": {"write": {27: 0, 59: 1, 110: 100}},
    },
    "option_labels": {"paused": "Eco (paused)"},
}


def test_a_mode_reads_as_its_first_matching_option_and_writes_its_recipe() -> None:
    modes = profile({"modes": [MODE]})
    mode = modes.catalogue()[-1]
    assert mode.kind is PointKind.SETTING
    assert mode.value_type is ValueType.ENUM
    assert mode.options == ("paused", "eco", "export")
    assert mode.option_labels == ("Eco (paused)", "Eco", "Export")
    assert modes.spans(["mode"]) == {Access.HOLDING: [Span(27, 1), Span(59, 1), Span(110, 1)]}

    def read(h27: int, h59: int, h110: int) -> dict[str, object]:
        table = {(Access.HOLDING, 27): h27, (Access.HOLDING, 59): h59, (Access.HOLDING, 110): h110}
        return dict(modes.values(["mode"], table))

    assert read(1, 0, 100) == {"mode": "paused"}
    assert read(1, 0, 20) == {"mode": "eco"}
    assert read(0, 1, 100) == {"mode": "export"}
    assert read(0, 0, 100) == {}
    assert modes.write_plan("mode", "eco", now=NOW) == (
        RegisterWrite(address=27, value=1),
        RegisterWrite(address=59, value=0),
        RegisterWrite(address=110, value=4),
    )
    with pytest.raises(ValidationError, match="must be one of paused, eco, export"):
        modes.write_plan("mode", "boost", now=NOW)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ({"options": {"one": {"write": {1: 1}}}}, "two or more"),
        ({"options": {"One": {"write": {1: 1}}, "two": {"write": {1: 2}}}}, "not snake_case"),
        (
            {"options": {"one": {"write": {1: 1}, "match": {2: 1}}, "two": {"write": {1: 2}}}},
            "every matched register",
        ),
        (
            {"options": {"one": {"write": {1: 1}}, "two": {"write": {1: 1, 2: 3}}}},
            "read back as option 'one'",
        ),
        ({"options": {"one": {"write": {1: 70000}}, "two": {"write": {1: 2}}}}, "16-bit"),
        ({"options": {"one": {"write": {}}, "two": {"write": {1: 2}}}}, "must map register"),
        (
            {
                "options": {"one": {"write": {1: 1}}, "two": {"write": {1: 2}}},
                "option_labels": {"three": "x"},
            },
            "option names to non-empty labels",
        ),
    ],
)
def test_a_mode_that_cannot_read_back_is_refused(mode: dict[str, Any], message: str) -> None:
    fails({"modes": [{"key": "mode", "name": "Mode", **mode}]}, message)


def test_a_composite_is_read_and_written_as_one_unit() -> None:
    slots = profile({"composites": [{"key": "slot", "name": "Slot", "parts": ["start", "end"]}]})
    point = slots.catalogue()[-1]
    assert point.value_type is ValueType.TEXT
    assert slots.spans(["slot"]) == {Access.HOLDING: [Span(94, 1), Span(95, 1)]}
    table = {(Access.HOLDING, 94): 2330, (Access.HOLDING, 95): 530}
    assert slots.values(["slot"], table) == {"slot": "23:30-05:30"}
    assert slots.values(["slot"], {(Access.HOLDING, 94): 2330, (Access.HOLDING, 95): 60}) == {}
    assert slots.write_plan("slot", "00:30-04:30", now=NOW) == (
        RegisterWrite(address=94, value=30),
        RegisterWrite(address=95, value=430),
    )
    for bad in ("0:30-04:30", "00:30", "00:30-04:30-05:00", "25:00-04:30", "00:30-04:61"):
        with pytest.raises(ValidationError):
            slots.write_plan("slot", bad, now=NOW)


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (["start"], "two or more"),
        (["start", "start"], "two or more"),
        (["start", "missing"], "'missing' is not a setting"),
        (["start", "flag"], "'flag' is not a time setting"),
    ],
)
def test_a_composite_of_anything_but_time_settings_is_refused(
    parts: list[str], message: str
) -> None:
    fails({"composites": [{"key": "slot", "name": "Slot", "parts": parts}]}, message)


def test_actions_write_fixed_values_or_the_clock() -> None:
    actions = profile(
        {
            "actions": [
                {"key": "reboot", "name": "Reboot", "writes": {163: 100}, "expert": True},
                {
                    "key": "sync_clock",
                    "name": "Sync",
                    "clock": {"address": 35, "year_offset": 2000},
                },
            ]
        }
    )
    reboot, sync = actions.catalogue()[-2:]
    assert reboot.kind is PointKind.ACTION
    assert reboot.expert
    assert not reboot.enabled_by_default
    assert sync.enabled_by_default
    assert actions.write_plan("reboot", True, now=NOW) == (RegisterWrite(address=163, value=100),)
    assert [step.value for step in actions.write_plan("sync_clock", True, now=NOW)] == [
        25,
        3,
        4,
        5,
        6,
        7,
    ]
    assert actions.spans(["reboot"]) == {}


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({}, "exactly one of"),
        ({"writes": {1: 1}, "clock": {"address": 35}}, "exactly one of"),
        ({"clock": {"address": 70000}}, "not between"),
        ({"writes": [1, 2]}, "must map register"),
    ],
)
def test_a_malformed_action_is_refused(action: dict[str, Any], message: str) -> None:
    fails({"actions": [{"key": "act", "name": "Act", **action}]}, message)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {
                "points": [
                    {
                        "key": "t",
                        "name": "T",
                        "access": "input",
                        "address": 3,
                        "type": "u16",
                        "time": "minutes",
                    }
                ]
            },
            "not one of hhmm",
        ),
        (
            {
                "points": [
                    {
                        "key": "t",
                        "name": "T",
                        "access": "input",
                        "address": 3,
                        "type": "f32",
                        "time": "hhmm",
                    }
                ]
            },
            "whole-number register",
        ),
        (
            {
                "points": [
                    {
                        "key": "t",
                        "name": "T",
                        "access": "input",
                        "address": 3,
                        "type": "u16",
                        "time": "hhmm",
                        "scale": 2,
                    }
                ]
            },
            "takes no scale",
        ),
        (
            {
                "points": [
                    {
                        "key": "t",
                        "name": "T",
                        "access": "input",
                        "address": 3,
                        "type": "u16",
                        "time": "hhmm",
                        "bit": 1,
                    }
                ]
            },
            "cannot also be",
        ),
        (
            {
                "points": [
                    {"key": "t", "name": "T", "access": "input", "address": 59, "type": "u32"}
                ]
            },
            "cross a bank of 60",
        ),
        (
            {"derived": [{"key": "d", "name": "D", "sum": ["a", "b"], "difference": ["a", "b"]}]},
            "exactly one of",
        ),
        (
            {"derived": [{"key": "d", "name": "D", "sum": ["a", "missing"]}]},
            "sum: 'missing' is not a reading",
        ),
        ({"modes": [{**MODE, "key": "a"}]}, "'a' is used twice"),
    ],
)
def test_loader_mistakes_name_the_field(extra: dict[str, Any], message: str) -> None:
    fails(extra, message)


def test_write_plans_refuse_readings_sums_and_unknown_keys() -> None:
    summed = profile({"derived": [{"key": "total", "name": "Total", "sum": ["a", "b"]}]})
    with pytest.raises(NotWritableError, match="is a reading"):
        summed.write_plan("a", 1, now=NOW)
    with pytest.raises(NotWritableError, match="is computed"):
        summed.write_plan("total", 1, now=NOW)
    with pytest.raises(UnknownPointError):
        summed.write_plan("nope", 1, now=NOW)
    assert summed.write_plan("flag", True, now=NOW) == (RegisterWrite(address=27, value=1),)


def test_values_leave_out_what_was_not_read() -> None:
    plain = profile({})
    assert plain.values(["a", "c", "nope"], {(Access.INPUT, 1): 9}) == {"a": 9}
    assert plain.spans(["a", "c", "nope"]) == {Access.INPUT: [Span(1, 1), Span(70, 1)]}


# Profiles extending profiles ---------------------------------------------------------------


def test_a_child_profile_drops_adds_and_overrides() -> None:
    base = {
        "id": "base",
        "model": "Base",
        "points": [{"key": "a"}, {"key": "b"}],
        "settings": [{"key": "s"}],
    }
    child = {"id": "child", "extends": "base", "remove": ["b"], "points": [{"key": "c"}]}
    assert merge(base, child, "child.yaml") == {
        "id": "child",
        "model": "Base",
        "points": [{"key": "a"}, {"key": "c"}],
        "settings": [{"key": "s"}],
        "derived": [],
        "modes": [],
        "composites": [],
        "actions": [],
    }
    with pytest.raises(ProfileError, match="remove: zz not in the base profile"):
        merge(base, {"remove": ["zz"]}, "child.yaml")
    with pytest.raises(ProfileError, match="must be a list"):
        merge(base, {"remove": "b"}, "child.yaml")


def write(directory: Path, name: str, data: object) -> None:
    (directory / name).write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)


def test_extending_a_missing_or_circular_profile_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", {"id": "one", "extends": "two"})
    write(tmp_path, "two.yaml", {"id": "two", "extends": "one"})
    with pytest.raises(ProfileError, match="extends: no profile"):
        load_profiles(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"), [("- a list", "must be a mapping"), ("a: [", "cannot read")]
)
def test_unreadable_profile_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "bad.yaml", text)
    with pytest.raises(ProfileError, match=message):
        load_profiles(tmp_path)


# The shipped profiles ---------------------------------------------------------------------

CANONICAL = {
    "pv1_voltage",
    "pv1_current",
    "pv1_power",
    "pv2_voltage",
    "pv_power",
    "grid_power",
    "load_power",
    "battery_power",
    "battery_voltage",
    "battery_current",
    "battery_soc",
    "battery_temperature",
    "inverter_temperature",
    "device_mode",
    "pv_energy",
    "grid_import_energy",
    "grid_export_energy",
}


def test_shipped_profiles_load_with_their_models() -> None:
    profiles = shipped_profiles()
    assert set(profiles) == {
        "givenergy_hybrid",
        "givenergy_hybrid_gen1",
        "givenergy_hybrid_gen3",
        "givenergy_ac",
        "givenergy_aio",
        "givenergy_battery_lv",
        "givenergy_meter",
        "givenergy_three_phase",
        "givenergy_ems",
        "givenergy_gateway",
    }
    hybrid = {point.key for point in profiles["givenergy_hybrid"].catalogue()}
    assert hybrid >= CANONICAL
    gen1 = {point.key for point in profiles["givenergy_hybrid_gen1"].catalogue()}
    assert gen1 >= CANONICAL | {"battery_charge_energy", "battery_discharge_energy"}
    ac = {point.key for point in profiles["givenergy_ac"].catalogue()}
    assert not {key for key in ac if key.startswith("pv")}
    assert {"battery_pause_mode", "pause_slot", "export_priority"} <= ac
    ten_slots = {
        f"{kind}_slot_{number}{part}"
        for kind in ("charge", "discharge")
        for number in range(1, 11)
        for part in ("", "_start", "_end", "_target_soc")
    }
    assert not ten_slots & {key for key in hybrid | ac if key.endswith("_target_soc")}
    gen3 = {point.key for point in profiles["givenergy_hybrid_gen3"].catalogue()}
    assert gen3 == hybrid | ten_slots
    aio = {point.key for point in profiles["givenergy_aio"].catalogue()}
    assert aio == ac | ten_slots


@pytest.mark.parametrize(
    ("profile_id", "keys"),
    [
        ("givenergy_ems", {"grid_power", "battery_power", "load_power", "inverter_2_battery_soc"}),
        (
            "givenergy_gateway",
            {
                "pv_power",
                "load_power",
                "pv_energy",
                "battery_charge_energy_today",
                "aio_1_battery_soc",
            },
        ),
    ],
)
def test_the_plant_controllers_only_read(profile_id: str, keys: set[str]) -> None:
    profile = shipped_profiles()[profile_id]
    catalogue = profile.catalogue()
    assert keys <= {point.key for point in catalogue}
    assert {point.kind for point in catalogue} == {PointKind.READING}
    assert not profile.settings


@pytest.mark.parametrize("profile_id", ["givenergy_hybrid_gen3", "givenergy_aio"])
def test_the_ten_slots_sit_where_dewet22_maps_them(profile_id: str) -> None:
    profile = shipped_profiles()[profile_id]
    address = {setting.key: setting.register.address for setting in profile.settings}
    for number in range(3, 11):
        charge, discharge = 246 + 3 * (number - 3), 276 + 3 * (number - 3)
        assert address[f"charge_slot_{number}_start"] == charge
        assert address[f"charge_slot_{number}_end"] == charge + 1
        assert address[f"charge_slot_{number}_target_soc"] == charge + 2
        assert address[f"discharge_slot_{number}_start"] == discharge
        assert address[f"discharge_slot_{number}_end"] == discharge + 1
        assert address[f"discharge_slot_{number}_target_soc"] == discharge + 2
    assert [address[f"charge_slot_{n}_target_soc"] for n in (1, 2)] == [242, 245]
    assert [address[f"discharge_slot_{n}_target_soc"] for n in (1, 2)] == [272, 275]
    assert (address["charge_slot_1_start"], address["charge_slot_2_start"]) == (94, 31)


@pytest.mark.parametrize("profile_id", sorted(shipped_profiles()))
def test_every_energy_total_is_a_plausible_counter(profile_id: str) -> None:
    for point in shipped_profiles()[profile_id].catalogue():
        if point.device_class == "energy":
            assert point.unit == "kWh"
            assert point.plausible is not None, point.key
            assert point.state_class in ("total_increasing", None), point.key
            # A "today" counter keeps statistics too; the filter lets it start again at midnight.
            assert point.state_class == "total_increasing", point.key
            assert point.key.endswith("_today") == point.daily, point.key
        if point.kind is PointKind.READING and point.numeric and point.state_class:
            assert point.plausible is not None, point.key


def test_every_setting_is_a_single_register_write() -> None:
    for profile_id, shipped in shipped_profiles().items():
        for setting in shipped.settings:
            assert setting.register.count == 1, (profile_id, setting.key)


def test_names_agree_with_the_other_families() -> None:
    # One key is one translation per kind of entity, whichever family has it.
    others = {(point.key, point.kind, point.value_type): point.name for point in shipped_points()}
    mine: dict[str, str] = {}
    for point in points():
        assert mine.setdefault(point.key, point.name) == point.name, point.key
        known = others.get((point.key, point.kind, point.value_type))
        assert known in (None, point.name), point.key


# Models ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "arm", "name", "profile_id", "packs"),
    [
        (0x2001, 449, "Hybrid Gen 1", "givenergy_hybrid_gen1", True),
        (0x2003, 920, "Hybrid Gen 2", "givenergy_hybrid", True),
        (0x2001, 815, "Hybrid Gen 2", "givenergy_hybrid", True),
        (0x2001, 302, "Hybrid Gen 3", "givenergy_hybrid", True),
        (0x2001, 303, "Hybrid Gen 3", "givenergy_hybrid_gen3", True),
        (0x2101, 920, "Polar hybrid", "givenergy_hybrid", True),
        (0x2204, 100, "Hybrid", "givenergy_hybrid", True),
        (0x3001, 318, "AC-coupled", "givenergy_ac", True),
        (0x8001, 612, "All-in-One", "givenergy_aio", False),
        (0x8101, 100, "Hybrid HV Gen 3", "givenergy_hybrid_gen3", False),
        (0x8304, 100, "Hybrid Gen 4", "givenergy_hybrid_gen3", True),
        (0x4001, 100, "Three-phase hybrid", "givenergy_three_phase", False),
        (0x4101, 100, "Commercial All-in-One", "givenergy_three_phase", False),
        (0x6001, 100, "Three-phase AC-coupled", "givenergy_three_phase", False),
        (0x8201, 100, "All-in-One hybrid", "givenergy_three_phase", False),
        # Plant controllers: an EMS's packs hang off its inverters, a Gateway's are HV.
        (0x5001, 1036, "EMS plant controller", "givenergy_ems", False),
        (0x7001, 14, "Gateway", "givenergy_gateway", False),
    ],
)
def test_models_are_told_apart(
    code: int, arm: int, name: str, profile_id: str, packs: bool
) -> None:
    model = detect(code, arm)
    assert (model.name, model.profile, model.battery_packs) == (name, profile_id, packs)
    assert model.profile in shipped_profiles()


@pytest.mark.parametrize("code", [0x1001, 0x9001, 0x0001])
def test_models_this_version_cannot_read_are_refused(code: int) -> None:
    with pytest.raises(UnsupportedError, match="unknown"):
        detect(code, 100)
