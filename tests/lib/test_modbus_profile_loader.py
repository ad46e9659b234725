"""Profile files: decoding and encoding of every register type, and errors that name the field."""

from __future__ import annotations

from pathlib import Path
import struct
from typing import Any

from inverterlib.errors import ProfileError, ValidationError
from inverterlib.modbus.codec import (
    RegisterType,
    WordOrder,
    number_to_registers,
    registers_to_number,
    registers_to_text,
    shortest_float32,
    text_to_registers,
)
from inverterlib.modbus.loader import load_profile, parse_profile
from inverterlib.modbus.profile import (
    Access,
    IdentifyRule,
    Profile,
    Register,
    RegisterPoint,
    WriteFunction,
)
from inverterlib.modbus.registry import (
    SHIPPED_PROFILES,
    ProfileRegistry,
    profile_files,
)
from inverterlib.model import (
    Category,
    PointKind,
    PollGroup,
    ValueType,
)
import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "modbus"


def f32(value: float) -> list[int]:
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


@pytest.fixture(name="meter")
def meter_fixture() -> Profile:
    return load_profile(FIXTURES / "demo_meter.yaml")


@pytest.fixture(name="inverter")
def inverter_fixture() -> Profile:
    return load_profile(FIXTURES / "demo_inverter.yaml")


def point(profile: Profile, key: str) -> RegisterPoint:
    found = profile.register_point(key)
    assert found is not None
    return found


# Codec ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "order", "registers", "value"),
    [
        (RegisterType.U16, WordOrder.BIG, [0xFFFF], 65535),
        (RegisterType.S16, WordOrder.BIG, [0xFFFE], -2),
        (RegisterType.U32, WordOrder.BIG, [0x0001, 0x0002], 65538),
        (RegisterType.U32, WordOrder.LITTLE, [0x0002, 0x0001], 65538),
        (RegisterType.S32, WordOrder.BIG, [0xFFFF, 0xF5E6], -2586),
        (RegisterType.S32, WordOrder.LITTLE, [0xF5E6, 0xFFFF], -2586),
        (RegisterType.F32, WordOrder.BIG, [0x4366, 0xE666], 230.9),
        (RegisterType.F32, WordOrder.LITTLE, [0xE666, 0x4366], 230.9),
    ],
)
def test_numbers_in_registers(
    kind: RegisterType, order: WordOrder, registers: list[int], value: float
) -> None:
    assert registers_to_number(registers, kind, order) == value
    assert number_to_registers(value, kind, order) == registers


def test_float32_comes_back_as_the_shortest_decimal() -> None:
    assert registers_to_number(f32(229.9), RegisterType.F32) == 229.9
    assert registers_to_number(f32(12345.678), RegisterType.F32) == 12345.678
    assert shortest_float32(float("inf")) == float("inf")


def test_codec_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit u16"):
        number_to_registers(70000, RegisterType.U16)
    with pytest.raises(ValueError, match="does not fit s16"):
        number_to_registers(1.5, RegisterType.S16)
    with pytest.raises(ValueError, match="needs 2 registers"):
        registers_to_number([1], RegisterType.U32)
    with pytest.raises(ValueError, match="text"):
        registers_to_number([1], RegisterType.ASCII)
    with pytest.raises(ValueError, match="text"):
        number_to_registers(1, RegisterType.ASCII)
    with pytest.raises(ValueError, match="longer than 4"):
        text_to_registers("ABCDE", 2)


def test_text_registers() -> None:
    assert text_to_registers("AB1", 3) == [0x4142, 0x3100, 0x0000]
    assert registers_to_text([0x4142, 0x3100, 0x0000]) == "AB1"
    assert registers_to_text([0x2041, 0x4220, 0xFFFF]) == "AB"
    assert RegisterType.ASCII.width == 2
    assert RegisterType.S32.limits == (-(2**31), 2**31 - 1)


# Decode and encode ----------------------------------------------------------------------


def test_decode_of_each_kind_of_point(meter: Profile, inverter: Profile) -> None:
    assert point(meter, "grid_voltage").decode(f32(231.4)) == 231.4
    assert point(meter, "odd_counter").decode([7]) == 7
    assert point(inverter, "device_mode").decode([1]) == "normal"
    assert point(inverter, "device_mode").decode([2]) is None
    assert point(inverter, "pv_power").decode([0x0001, 0x0000]) == 6553.6
    assert point(inverter, "pv1_voltage").decode([2299]) == 229.9
    assert point(inverter, "grid_power").decode([0xF5E6, 0xFFFF]) == -258.6
    assert point(inverter, "inverter_temperature").decode([0xFFEC]) == -12
    assert point(inverter, "inverter_temperature").decode([455]) == 35.5
    assert point(inverter, "standby_off").decode([0b10]) is False
    assert point(inverter, "standby_pv_low").decode([0b10]) is True
    assert point(inverter, "device_name").decode([0x4142, 0x4300, 0, 0]) == "ABC"


def test_decode_integer_offset_keeps_ints() -> None:
    register = Register(access=Access.INPUT, address=0, type=RegisterType.U16, count=1)
    shifted = RegisterPoint(point=point_stub("shifted"), register=register, scale=2, offset=-10)
    assert shifted.decode([20]) == 30
    assert isinstance(shifted.decode([20]), int)


def test_decode_float_nan_is_no_value() -> None:
    register = Register(access=Access.INPUT, address=0, type=RegisterType.F32, count=2)
    nan = RegisterPoint(point=point_stub("nan"), register=register)
    assert nan.decode([0x7FC0, 0x0000]) is None
    scaled = RegisterPoint(point=point_stub("scaled"), register=register, scale=0.5)
    assert scaled.decode(f32(3.0)) == 1.5
    with pytest.raises(ValueError, match="expected 2 registers"):
        nan.decode([1])


def point_stub(key: str) -> Any:
    from inverterlib.model import Point  # noqa: PLC0415

    return Point(key=key, name=key)


def test_encode_settings(meter: Profile, inverter: Profile) -> None:
    assert point(meter, "demand_period").encode(15) == f32(15.0)
    assert point(inverter, "inverter_enabled").encode("on") == [1]
    assert point(inverter, "export_limit").encode(40) == [40]
    assert point(inverter, "failsafe_power").encode(55.5) == [555]
    assert point(inverter, "energy_target").encode(6553.7) == [1, 1]
    assert point(inverter, "device_name").encode("AB") == [0x4142, 0, 0, 0]
    assert point(inverter, "power_factor_limit").encode(-0.5) == [0xFFCE]


def test_encode_refuses_bad_values(inverter: Profile) -> None:
    with pytest.raises(ValidationError, match="one of off, on"):
        point(inverter, "inverter_enabled").encode("maybe")
    with pytest.raises(ValidationError, match="needs a number"):
        point(inverter, "export_limit").encode("ten")
    with pytest.raises(ValidationError, match="needs a number"):
        point(inverter, "export_limit").encode(True)
    with pytest.raises(ValidationError, match="does not fit u16"):
        point(inverter, "export_limit").encode(70000)
    with pytest.raises(ValidationError, match="needs text"):
        point(inverter, "device_name").encode(5)
    with pytest.raises(ValidationError, match="longer than 8"):
        point(inverter, "device_name").encode("ABCDEFGHI")
    with pytest.raises(ValidationError, match="cannot be written"):
        point(inverter, "standby_pv_low").encode(True)
    register = Register(access=Access.HOLDING, address=0, type=RegisterType.U16, count=1)
    with pytest.raises(TypeError, match="holds numbers"):
        register.pack("text")


def test_points_carry_the_profile_fields(meter: Profile, inverter: Profile) -> None:
    voltage = point(meter, "grid_voltage").point
    assert voltage.value_type is ValueType.FLOAT
    assert (voltage.unit, voltage.device_class, voltage.state_class) == (
        "V",
        "voltage",
        "measurement",
    )
    assert voltage.plausible == (0.0, 300.0)
    assert voltage.precision == 1
    assert voltage.group is PollGroup.LIVE
    assert point(meter, "grid_import_energy").point.group is PollGroup.SLOW
    assert point(meter, "odd_counter").point.category is Category.DIAGNOSTIC
    mode = point(inverter, "device_mode").point
    assert (mode.value_type, mode.options) == (ValueType.ENUM, ("waiting", "normal", "fault"))
    assert point(inverter, "standby_off").point.value_type is ValueType.BOOL
    assert point(inverter, "fault_code").point.value_type is ValueType.INT
    limit = point(inverter, "export_limit")
    assert limit.point.kind is PointKind.SETTING
    assert (limit.point.minimum, limit.point.maximum, limit.point.step) == (0, 100, 1)
    assert limit.point.category is Category.CONFIG
    assert limit.point.group is PollGroup.SLOW
    assert limit.write is WriteFunction.FC06
    failsafe = point(inverter, "failsafe_power").point
    assert (failsafe.minimum, failsafe.maximum, failsafe.step) == (0.0, 100, 0.1)
    name = point(inverter, "device_name")
    assert (name.point.value_type, name.write, name.point.expert) == (
        ValueType.TEXT,
        WriteFunction.FC16,
        True,
    )
    assert point(inverter, "power_factor_limit").write is WriteFunction.FC16
    assert inverter.catalogue()[0].key == "device_mode"
    assert inverter.register_point("nothing") is None
    assert inverter.barriers_for(Access.INPUT) == (125,)
    assert meter.barriers_for(Access.HOLDING) == ()


def test_identify_rules_and_link(meter: Profile, inverter: Profile) -> None:
    model, answers = meter.identify
    assert model.matches([77])
    assert not model.matches([78])
    assert answers.matches([0, 0])
    assert inverter.identify[1].matches([0x4445, 0x4D4F])
    assert meter.link.serial.parity == "E"
    assert (meter.link.max_registers, meter.link.even_alignment) == (8, True)
    assert meter.info["serial_number"].type is RegisterType.U32
    assert isinstance(inverter.identify[0], IdentifyRule)


# Loader errors --------------------------------------------------------------------------

MINIMAL: dict[str, Any] = {
    "id": "bad",
    "manufacturer": "Acme",
    "model": "X",
    "points": [{"key": "volts", "name": "Volts", "access": "input", "address": 0, "type": "u16"}],
}


def write_profile(tmp_path: Path, data: Any, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def with_point(**changes: Any) -> dict[str, Any]:
    data = {**MINIMAL, "points": [{**MINIMAL["points"][0], **changes}]}
    data["points"][0] = {k: v for k, v in data["points"][0].items() if v is not None}
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            with_point(type="f64"),
            "bad.yaml: points[0].type: 'f64' is not one of u16, s16, u32, s32, f32, ascii",
        ),
        (with_point(address=None), "bad.yaml: points[0].address: is required"),
        (
            with_point(address=70000),
            "bad.yaml: points[0].address: 70000 is not between 0 and 65535",
        ),
        (
            with_point(address="0x10"),
            "bad.yaml: points[0].address: must be a whole number, got '0x10'",
        ),
        (with_point(address=True), "points[0].address: must be a whole number, got True (bool)"),
        (with_point(access="coil"), "points[0].access: 'coil' is not one of input, holding"),
        (with_point(key="Volts"), "points[0].key: 'Volts' is not snake_case"),
        (with_point(name=""), "points[0].name: must be non-empty text, got ''"),
        (with_point(colour="red"), "points[0].colour: unknown field (allowed: access"),
        (with_point(type="ascii"), "points[0].count: is required"),
        (with_point(count=3), "points[0].count: u16 always takes 1 registers, not 3"),
        (with_point(address=65535, type="u32"), "points[0].address: 65535 + 2 registers runs past"),
        (with_point(scale=0), "points[0].scale: must not be 0"),
        (with_point(scale="x"), "points[0].scale: must be a number, got 'x'"),
        (with_point(type="ascii", count=2, scale=2), "points[0].scale: ascii values are text"),
        (
            with_point(type="ascii", count=2, options={0: "a"}),
            "points[0].options: an ascii value is text and cannot be an enum",
        ),
        (with_point(option_labels={0: "A"}), "points[0].option_labels: only a value with"),
        (
            with_point(options={0: "a"}, option_labels=["A"]),
            "points[0].option_labels: must map raw values to labels",
        ),
        (
            with_point(options={0: "a"}, option_labels={1: "B"}),
            "points[0].option_labels: 1 (int) is not one of the raw values in `options`",
        ),
        (
            with_point(options={0: "a"}, option_labels={0: " "}),
            "points[0].option_labels: the label of 0 must be non-empty text",
        ),
        (with_point(switch=True), "points[0].switch: unknown field"),
        (with_point(options=[1]), "points[0].options: must map raw values to option names"),
        (with_point(options={"x": "a"}), "points[0].options: raw value 'x' is not a whole number"),
        (with_point(options={0: "A"}), "points[0].options: option 'A' of 0 is not snake_case"),
        (with_point(options={0: "a", 1: "a"}), "points[0].options: option 'a' appears twice"),
        (with_point(bit=16), "points[0].bit: 16 is not between 0 and 15"),
        (
            with_point(type="f32", bit=1),
            "points[0].bit: a bit is read from a whole-number register",
        ),
        (with_point(bit=1, options={0: "a"}), "points[0].bit: a value is either a bit or an enum"),
        (with_point(state_class="sometimes"), "points[0].state_class: 'sometimes' is not one of"),
        (with_point(group="hourly"), "points[0].group: 'hourly' is not one of live, slow, static"),
        (with_point(plausible=[5, 1]), "points[0].plausible: must be [low, high] with low < high"),
        (
            with_point(enabled_by_default="yes"),
            "points[0].enabled_by_default: must be true or false",
        ),
        (with_point(precision=-1), "points[0].precision: -1 is not between 0 and 10"),
        ({**MINIMAL, "id": "Bad"}, "bad.yaml: id: 'Bad' is not snake_case"),
        ({**MINIMAL, "id": "other"}, "bad.yaml: id: 'other' must match the file name 'bad.yaml'"),
        (
            {**MINIMAL, "manufacturer": None},
            "bad.yaml: manufacturer: must be non-empty text, got nothing",
        ),
        ({**MINIMAL, "extra": 1}, "bad.yaml: extra: unknown field"),
        ({**MINIMAL, "points": {"a": 1}}, "bad.yaml: points: must be a list"),
        (
            {**MINIMAL, "points": [MINIMAL["points"][0], MINIMAL["points"][0]]},
            "points[1].key: 'volts' is used twice",
        ),
        ({**MINIMAL, "points": ["volts"]}, "bad.yaml: points[0]: must be a mapping, got 'volts'"),
        (
            {**MINIMAL, "link": {"max_registers": 200}},
            "link.max_registers: 200 is not between 1 and 125",
        ),
        ({**MINIMAL, "link": {"gap": -1}}, "link.gap: must not be negative"),
        ({**MINIMAL, "link": {"timeout": 0}}, "link.timeout: must be greater than 0"),
        (
            {**MINIMAL, "link": {"word_order": "middle"}},
            "link.word_order: 'middle' is not one of big, little",
        ),
        (
            {**MINIMAL, "link": {"serial": {"parity": "X"}}},
            "link.serial.parity: 'X' is not one of N, E, O",
        ),
        ({**MINIMAL, "link": {"serial": {"stopbits": 3}}}, "link.serial.stopbits: must be 1 or 2"),
        (
            {**MINIMAL, "link": {"serial": {"baudrate": 7}}},
            "link.serial.baudrate: 7 is not between",
        ),
        ({**MINIMAL, "link": {"serial": {"speed": 7}}}, "link.serial.speed: unknown field"),
        (
            {**MINIMAL, "barriers": {"input": ["a"]}},
            "bad.yaml: barriers.input[0]: 'a' is not an address",
        ),
        ({**MINIMAL, "barriers": {"input": [1], "coils": [1]}}, "barriers.coils: unknown field"),
        ({**MINIMAL, "info": {"Serial": {}}}, "bad.yaml: info: 'Serial' is not a snake_case name"),
        ({**MINIMAL, "info": [1]}, "bad.yaml: info: must be a mapping"),
        (
            {**MINIMAL, "info": {"serial": {"access": "holding", "type": "u16"}}},
            "info.serial.address: is required",
        ),
        (
            {**MINIMAL, "identify": [{"access": "holding", "address": 1, "type": "u16"}]},
            "identify[0]: give exactly one of `equals: [...]` or `answers: true`",
        ),
        (
            {
                **MINIMAL,
                "identify": [{"access": "holding", "address": 1, "type": "u16", "answers": False}],
            },
            "identify[0].answers: must be true",
        ),
        (
            {
                **MINIMAL,
                "identify": [{"access": "holding", "address": 1, "type": "u16", "equals": []}],
            },
            "identify[0].equals: must be a non-empty list",
        ),
        (
            {
                **MINIMAL,
                "identify": [{"access": "holding", "address": 1, "type": "u16", "equals": ["a"]}],
            },
            "identify[0].equals: 'a' cannot be a u16 value",
        ),
        ("id: [unclosed", "bad.yaml: not valid YAML"),
        ("- just a list", "bad.yaml: (top level): must be a mapping"),
    ],
)
def test_loader_errors_name_file_and_field(tmp_path: Path, data: Any, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(write_profile(tmp_path, data))
    assert message in str(caught.value)
    assert caught.value.placeholders["file"] == "bad.yaml"


SETTING = {"key": "limit", "name": "Limit", "access": "holding", "address": 3, "type": "u16"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"access": "input"}, "settings[0].access: settings are holding registers"),
        (
            {"type": "u32", "write": "fc06"},
            "settings[0].write: fc06 writes one register; this value takes 2",
        ),
        ({"write": "fc05"}, "settings[0].write: 'fc05' is not one of fc06, fc16"),
        ({"minimum": 5, "maximum": 1}, "settings[0].minimum: 5 is above maximum 1"),
        ({"step": 0}, "settings[0].step: must be greater than 0"),
        ({"options": {0: "a"}, "minimum": 0}, "settings[0].minimum: only number settings take"),
        ({"bit": 1}, "settings[0].bit: unknown field"),
        ({"plausible": [0, 1]}, "settings[0].plausible: unknown field"),
        ({"switch": "yes"}, "settings[0].switch: must be true or false"),
        ({"on_value": 1}, "settings[0].on_value: only a setting with `switch: true` takes it"),
        ({"switch": True, "on_value": 2, "off_value": 2}, "settings[0].off_value: must differ"),
        ({"switch": True, "on_value": 70000}, "settings[0].on_value: 70000 is not a whole u16"),
        ({"switch": True, "on_value": 1.5}, "settings[0].on_value: 1.5 is not a whole u16"),
        ({"switch": True, "off_value": -1}, "settings[0].off_value: -1 is not a whole u16"),
        ({"switch": True, "options": {0: "a"}}, "settings[0].switch: a setting is either a"),
        ({"switch": True, "scale": 0.1}, "settings[0].scale: a switch writes raw on/off values"),
        ({"switch": True, "minimum": 0}, "settings[0].minimum: only number settings take"),
        (
            {"switch": True, "type": "ascii", "count": 2},
            "settings[0].switch: an ascii value is text and cannot be a switch",
        ),
        ({"choices": 5}, "settings[0].choices: must be a list of distinct numbers, got 5"),
        ({"choices": [1, 1]}, "settings[0].choices: must be a list of distinct numbers"),
        ({"choices": [1, True]}, "settings[0].choices: must be a list of distinct numbers"),
        ({"choices": [5, 200], "maximum": 100}, "settings[0].choices: 200 is outside minimum"),
        ({"options": {0: "a"}, "choices": [0]}, "settings[0].choices: only number settings take"),
    ],
)
def test_setting_errors(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    data = {**MINIMAL, "settings": [{**SETTING, **changes}]}
    with pytest.raises(ProfileError, match=r"bad\.yaml") as caught:
        load_profile(write_profile(tmp_path, data))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("link", "barriers", "changes", "message"),
    [
        (
            {"max_registers": 1},
            {},
            {"type": "u32"},
            "points[0].count: 2 registers exceed link.max_registers",
        ),
        (
            {"max_registers": 2, "even_alignment": True},
            {},
            {"address": 1, "type": "u32"},
            "points[0].count: 4 registers exceed",
        ),
        ({}, {"input": [1]}, {"type": "u32"}, "points[0].address: the value spans barrier 0x0001"),
        (
            {"even_alignment": True},
            {"input": [1]},
            {"address": 1},
            "the value spans barrier 0x0001",
        ),
    ],
)
def test_values_the_device_rules_cannot_read(
    tmp_path: Path,
    link: dict[str, Any],
    barriers: dict[str, Any],
    changes: dict[str, Any],
    message: str,
) -> None:
    data = {**with_point(**changes), "link": link, "barriers": barriers}
    with pytest.raises(ProfileError) as caught:
        load_profile(write_profile(tmp_path, data))
    assert message in str(caught.value)


DERIVED = {"key": "net", "name": "Net", "difference": ["volts", "amps"]}
AMPS = {"key": "amps", "name": "Amps", "access": "input", "address": 1, "type": "u16"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"difference": ["volts"]}, "derived[0].difference: must be two different reading keys"),
        ({"difference": ["volts", "volts"]}, "derived[0].difference: must be two different"),
        ({"difference": "volts - amps"}, "derived[0].difference: must be two different"),
        ({"difference": None}, "derived[0].difference: must be two different"),
        ({"difference": ["volts", "ghost"]}, "derived[0].difference: 'ghost' is not a reading"),
        ({"difference": ["volts", "limit"]}, "derived[0].difference: 'limit' is not a reading"),
        ({"difference": ["volts", "mode"]}, "derived[0].difference: 'mode' is not a number"),
        ({"key": "amps"}, "derived[0].key: 'amps' is used twice"),
        ({"key": "limit"}, "derived[0].key: 'limit' is used twice"),
        ({"address": 3}, "derived[0].address: unknown field"),
        ({"state_class": "often"}, "derived[0].state_class: 'often' is not one of"),
        ({"name": None}, "derived[0].name: is required"),
    ],
)
def test_derived_errors(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    mode = {**AMPS, "key": "mode", "name": "Mode", "address": 2, "options": {0: "a"}}
    # A name of None stands for a missing name; a difference of None is written as null.
    derived = {k: v for k, v in {**DERIVED, **changes}.items() if k != "name" or v is not None}
    data = {
        **MINIMAL,
        "points": [*MINIMAL["points"], AMPS, mode],
        "settings": [SETTING],
        "derived": [derived],
    }
    with pytest.raises(ProfileError) as caught:
        load_profile(write_profile(tmp_path, data))
    assert message in str(caught.value)


def test_derived_points_compute_after_a_read(tmp_path: Path) -> None:
    scaled = {**AMPS, "scale": 0.1}
    data = {
        **MINIMAL,
        "points": [*MINIMAL["points"], scaled],
        "derived": [
            {**DERIVED, "unit": "W", "device_class": "power", "plausible": [-10, 10]},
            {"key": "whole", "name": "Whole", "difference": ["volts", "volts_too"]},
        ],
    }
    data["points"].append({**AMPS, "key": "volts_too", "name": "Volts too", "address": 2})
    profile = load_profile(write_profile(tmp_path, data))
    net = profile.derived_point("net")
    assert net is not None
    assert net.point.value_type is ValueType.FLOAT
    assert (net.point.kind, net.point.group, net.point.category) == (
        PointKind.READING,
        PollGroup.LIVE,
        Category.PRIMARY,
    )
    assert (net.point.unit, net.point.plausible) == ("W", (-10.0, 10.0))
    assert net.compute({"volts": 230, "amps": 12.3}) == 217.7
    assert net.compute({"volts": 230}) is None
    assert net.compute({"volts": 230, "amps": True}) is None
    whole = profile.derived_point("whole")
    assert whole is not None
    assert whole.point.value_type is ValueType.INT
    assert whole.compute({"volts": 5, "volts_too": 7}) == -2
    assert isinstance(whole.compute({"volts": 5, "volts_too": 7}), int)
    assert [point.key for point in profile.catalogue()][-2:] == ["net", "whole"]
    assert profile.register_point("net") is None
    assert profile.derived_point("volts") is None


def test_float_codes_switches_labels_and_choices(tmp_path: Path) -> None:
    data = {
        **MINIMAL,
        "settings": [
            {
                **SETTING,
                "key": "wiring",
                "type": "f32",
                "options": {1: "one_phase", 3: "three_phase"},
                "option_labels": {3: "3 phase"},
            },
            {**SETTING, "key": "run", "switch": True, "on_value": 3, "off_value": 2},
            {**SETTING, "key": "float_run", "type": "f32", "address": 10, "switch": True},
            {**SETTING, "key": "period", "address": 20, "choices": [30, 5, 0]},
        ],
    }
    profile = load_profile(write_profile(tmp_path, data))
    wiring = point(profile, "wiring")
    assert wiring.point.value_type is ValueType.ENUM
    assert wiring.point.option_labels == ("One phase", "3 phase")
    assert wiring.decode(f32(3.0)) == "three_phase"
    assert wiring.decode(f32(3.5)) is None
    assert wiring.decode(f32(2.0)) is None
    assert wiring.encode("one_phase") == f32(1.0)
    run = point(profile, "run")
    assert (run.point.value_type, run.on_value, run.off_value) == (ValueType.BOOL, 3, 2)
    assert (run.point.minimum, run.point.maximum, run.point.step) == (None, None, None)
    assert (run.decode([3]), run.decode([2]), run.decode([1])) == (True, False, None)
    assert (run.encode(True), run.encode(False)) == ([3], [2])
    with pytest.raises(ValidationError, match="needs on or off"):
        run.encode(1)
    float_run = point(profile, "float_run")
    assert (float_run.on_value, float_run.off_value) == (1, 0)
    assert float_run.encode(True) == f32(1.0)
    assert float_run.decode(f32(0.0)) is False
    period = point(profile, "period").point
    assert (period.value_type, period.choices) == (ValueType.INT, (0.0, 5.0, 30.0))


def test_minimal_profile_takes_the_defaults(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, MINIMAL))
    assert (profile.priority, profile.identify, profile.info, profile.settings) == (0, (), {}, ())
    assert profile.link.serial.baudrate == 9600
    assert profile.link.max_registers == 125
    assert profile.source == tmp_path / "bad.yaml"
    assert parse_profile({**MINIMAL, "id": "anything"}, "inline").id == "anything"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"missing.yaml: cannot read"):
        load_profile(tmp_path / "missing.yaml")


# Registry -------------------------------------------------------------------------------


def test_registry_loads_the_shipped_profiles() -> None:
    registry = ProfileRegistry.load()
    assert len(registry) == len(profile_files(SHIPPED_PROFILES)) > 0
    ordered = registry.all()
    assert [p.priority for p in ordered] == sorted((p.priority for p in ordered), reverse=True)
    assert "sdm630" in registry
    assert registry.get("sdm630").manufacturer == "Eastron"


def test_a_user_profile_replaces_the_shipped_one(tmp_path: Path) -> None:
    write_profile(tmp_path, {**MINIMAL, "id": "sdm630", "model": "Mine"}, "sdm630.yaml")
    write_profile(tmp_path, {**MINIMAL, "id": "extra"}, "extra.yml")
    (tmp_path / "notes.txt").write_text("not a profile", encoding="utf-8")
    registry = ProfileRegistry.load([tmp_path])
    assert registry.get("sdm630").model == "Mine"
    assert registry.get("extra").source == tmp_path / "extra.yml"
    assert ProfileRegistry.load([tmp_path / "absent"]).get("sdm630").model == "SDM630"


def test_registry_skips_or_raises_on_a_broken_user_profile(tmp_path: Path) -> None:
    write_profile(tmp_path, with_point(type="f64"))
    with pytest.raises(ProfileError, match=r"points\[0\]\.type"):
        ProfileRegistry.load([tmp_path], shipped=None)
    registry = ProfileRegistry.load([tmp_path], shipped=None, skip_invalid=True)
    assert len(registry) == 0
    assert "points[0].type" in registry.problems[0]


def test_unknown_profile_names_the_known_ones(meter: Profile) -> None:
    registry = ProfileRegistry([meter])
    with pytest.raises(ProfileError, match=r"no Modbus profile 'sdm999' \(known: demo_meter\)"):
        registry.get("sdm999")
    with pytest.raises(ProfileError, match=r"known: none"):
        ProfileRegistry().get("sdm999")


async def test_async_load_reads_in_the_executor() -> None:
    registry = await ProfileRegistry.async_load([FIXTURES], shipped=None)
    assert {profile.id for profile in registry.all()} == {"demo_meter", "demo_inverter"}


def test_link_rules_for_a_bus(meter: Profile, inverter: Profile) -> None:
    assert ProfileRegistry.link_rules([]).timeout == 1.0
    rules = ProfileRegistry.link_rules([meter, inverter])
    assert rules.serial.parity == "E"
    assert rules.max_registers == 8
    assert rules.even_alignment is True
    slow = Profile(
        id="slow", manufacturer="A", model="B", link=type(meter.link)(gap=0.85, timeout=2)
    )
    rules = ProfileRegistry.link_rules([inverter, slow])
    assert (rules.gap, rules.timeout) == (0.85, 2)


def test_unknown_device_class_is_refused() -> None:
    with pytest.raises(ProfileError, match="'wattage' is not a Home Assistant device class"):
        parse_profile(with_point(device_class="wattage"), "inline")
    assert parse_profile(with_point(device_class="voltage"), "inline").id == "bad"
