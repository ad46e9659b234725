"""Studer's object tables: the generator, the shipped data, the points built from it, the spec."""

from __future__ import annotations

from datetime import time
import json
from pathlib import Path
import re

from inverterlib.errors import UnsupportedError
from inverterlib.family import ClientOptions
from inverterlib.model import PointKind, PollGroup, ValueType
from inverterlib.transport.serial import SerialLink
from inverterlib.transport.tcp import TcpLink
from inverterlib.transport.udp import UdpLink
from inverterlib.transport.url import parse_link
from inverterlib.xcom.catalogue import (
    CANONICAL,
    LAST_MESSAGE,
    Route,
    message_key,
    message_values,
    option_keys,
    system_catalogue,
    unit_catalogue,
)
from inverterlib.xcom.client import XcomClient
from inverterlib.xcom.data import Table, load_messages, load_table
from inverterlib.xcom.data.messages import MESSAGES
from inverterlib.xcom.data.xtender import PARAMETERS_120V as XTENDER_120V
from inverterlib.xcom.kinds import (
    BMS,
    BSP,
    KINDS,
    PARAMETERS_120V,
    UNIT_KINDS,
    VARIOSTRING,
    VARIOTRACK,
    XCOM,
    XTENDER,
    fid_serial,
    software_version,
)
from inverterlib.xcom.objects import Format, Level
from inverterlib.xcom.spec import SPEC, build
import pytest

from devtools import xcom_params

TABLE = Path(__file__).parent / "fixtures" / "xcom" / "table"


# The generator -------------------------------------------------------------------------------


def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Table]:
    """Generate from the small table into tmp_path; return each family's table as loaded."""
    monkeypatch.setattr(xcom_params, "DATA", tmp_path)
    assert xcom_params.main(["--source", str(TABLE)]) == 0
    return {
        family: load_table(tmp_path / f"{family}.json") for family in xcom_params.FAMILIES.values()
    }


def test_generator_reads_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = generated(tmp_path, monkeypatch)
    xtender = tables["xtender"]
    infos = {dp.number: dp for dp in xtender.infos}
    parameters = {dp.number: dp for dp in xtender.parameters}
    assert set(infos) == {3000, 3164, 3028}
    assert infos[3000].unit == "V"
    # A unit missing from the unit column is taken from the RCC's unit column.
    assert infos[3164].unit == "V"
    assert infos[3028].options == ((0, "Invalid value"), (1, "Inverter"), (2, "Charger"))
    # The first of a parameter listed in two menus is kept; menus and unsupported rows are not.
    assert parameters[1107].level is Level.BASIC
    assert parameters[1107].key == "maximum_current_of_ac_source_input_limit_1107"
    assert parameters[1205].bitfield
    assert parameters[1205].default is None
    assert parameters[1206].time_of_day
    assert parameters[1206].unit is None
    # Repeated names carry their number.
    assert parameters[1206].name == "Start hour (AUX 1) (1206)"
    assert parameters[1287].signal
    assert parameters[1287].minimum is None
    assert parameters[1165].step == 0.25
    assert [(dp.maximum, dp.parameter) for dp in xtender.parameters_120v] == [(63, True)]
    options = tables["variotrack"].infos[0].options
    # Labels the PDF conversion merged are split; placeholders are dropped.
    assert options == ((0, "No Error"), (4, "OverTemp"), (5, "BatOverV"))
    ratio = tables["variostring"].parameters[0]
    assert (ratio.step, ratio.unit) == (0.01, "%")
    assert tables["xcom"].infos == ()
    assert tables["xcom"].parameters[0].name == 'Enable "SCOM" watchdog'
    assert tables["bms"].infos[0].number == 7054
    assert tables["bsp"].parameters_120v == ()
    assert load_messages(tmp_path / "messages.json") == {
        0: "Warning (000): Battery low",
        19: "Halted (019): Battery undervoltage",
    }


def test_generator_writes_only_the_fields_off_their_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated(tmp_path, monkeypatch)
    data = json.loads((tmp_path / "xtender.json").read_text(encoding="utf-8"))
    assert data["source"] == xcom_params.SOURCE_NOTE
    assert data["infos"][0] == {
        "number": 3000,
        "key": "battery_voltage_3000",
        "name": "Battery voltage",
        "format": "float",
        "unit": "V",
    }
    limit = next(fields for fields in data["parameters"] if fields["number"] == 1107)
    assert (limit["level"], limit["default"], type(limit["default"])) == ("basic", 32, int)
    assert "parameters_120v" not in json.loads((tmp_path / "bsp.json").read_text())
    messages = (tmp_path / "messages.json").read_text(encoding="utf-8").splitlines()
    assert messages[3:5] == [
        '    "0":"Warning (000): Battery low",',
        '    "19":"Halted (019): Battery undervoltage"',
    ]


def test_generator_check_finds_stale_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generated(tmp_path, monkeypatch)
    assert xcom_params.main(["--source", str(TABLE), "--check"]) == 0
    (tmp_path / "bsp.json").write_text("{}\n")
    assert xcom_params.main(["--source", str(TABLE), "--check"]) == 1


def test_generator_helpers() -> None:
    assert xcom_params.slug("Maximum current of AC source (Input limit)") == (
        "maximum_current_of_ac_source_input_limit"
    )
    assert len(xcom_params.slug("word " * 30)) <= xcom_params.MAX_SLUG
    with pytest.raises(ValueError, match="finite"):
        xcom_params.render_row(
            xcom_params.Row(
                family="xt",
                number=1,
                name="x",
                level="Basic",
                fmt="float",
                unit=None,
                default=float("nan"),
                minimum=None,
                maximum=None,
                step=None,
                options=(),
                signal=False,
                bitfield=False,
                time_of_day=False,
            ),
            "x",
        )


# The shipped tables --------------------------------------------------------------------------


def test_the_shipped_tables_are_whole() -> None:
    counts = {kind.id: (len(kind.infos), len(kind.parameters)) for kind in KINDS.values()}
    assert counts == {
        "xtender": (114, 356),
        "variotrack": (55, 261),
        "variostring": (86, 174),
        "bsp": (35, 25),
        "bms": (44, 39),
        "xcom": (0, 81),
    }
    for kind in KINDS.values():
        numbers = [dp.number for dp in (*kind.infos, *kind.parameters)]
        assert len(numbers) == len(set(numbers)), kind.id
        for datapoint in kind.parameters:
            assert datapoint.parameter
            if datapoint.signal:
                assert datapoint.format is Format.INT32
            if datapoint.time_of_day:
                assert (datapoint.minimum, datapoint.maximum) == (0, 1440)
        assert all(not dp.parameter for dp in kind.infos)
    assert set(PARAMETERS_120V) == {1286, 1560, 1309, 1433, 1199, 1200, 1432}
    assert all(datapoint.parameter for datapoint in XTENDER_120V)
    assert MESSAGES[19] == "Halted (019): Battery undervoltage"
    for kind_id, canonical in CANONICAL.items():
        infos = {dp.number for dp in KINDS[kind_id].infos}
        assert set(canonical) <= infos, kind_id


def test_identity_encodings() -> None:
    assert software_version(256.0, 1566.0) == "1.6.30"
    assert fid_serial(0x1A2B, 0x0651) == "1A2B0651"
    assert XTENDER.model(256) == "Xtender XTM"
    assert XTENDER.model(7) == "Xtender"
    assert BSP.model(10241) == "BSP"
    assert VARIOSTRING.model(12801) == "VarioString VS120"
    assert VARIOTRACK.index(303) == 3


# Points --------------------------------------------------------------------------------------


def test_canonical_readings_follow_the_shared_vocabulary() -> None:
    bindings = unit_catalogue(XTENDER).bindings
    current = bindings["battery_current"]
    # Info 3005 counts charge as positive; the vocabulary counts discharge: negated once.
    assert current.datapoint.number == 3005
    assert current.decode(-16.25) == 16.25
    power = bindings["ac_output_power"]
    assert (power.point.unit, power.decode(1.2345)) == ("W", 1234.5)
    mode = bindings["device_mode"]
    assert mode.point.options == ("invalid_value", "inverter", "charger", "boost", "injection")
    assert mode.decode(1.0) == "inverter"
    assert mode.decode(9) is None
    plausible = {
        key: bindings[key].point.plausible for key in ("battery_voltage", "battery_temperature")
    }
    assert plausible == {"battery_voltage": (0, 80), "battery_temperature": (-40, 100)}
    vt = unit_catalogue(VARIOTRACK).bindings
    assert vt["pv_energy"].point.state_class == "total_increasing"
    assert vt["pv_energy"].decode(12.345) == pytest.approx(12345.0)
    assert unit_catalogue(BMS).bindings["battery_soc"].datapoint.number == 7002


def test_parameters_become_settings_by_format_and_level() -> None:
    bindings = unit_catalogue(XTENDER).bindings
    limit = bindings["maximum_current_of_ac_source_input_limit_1107"].point
    assert (limit.kind, limit.value_type, limit.minimum, limit.maximum, limit.step) == (
        PointKind.SETTING,
        ValueType.FLOAT,
        2,
        50,
        1,
    )
    assert (limit.expert, limit.enabled_by_default, limit.group) == (False, True, PollGroup.SLOW)
    boost = bindings["smart_boost_allowed_1126"].point
    assert boost.value_type is ValueType.BOOL
    grid_loss = bindings["type_of_detection_of_the_grid_loss_ac_in_1552"]
    assert grid_loss.point.options == ("slow", "tolerant", "fast")
    assert grid_loss.encode("fast") == 4
    assert grid_loss.decode(2) == "tolerant"
    start = bindings["start_hour_aux_1_1206"]
    assert start.point.value_type is ValueType.TIME
    assert start.point.expert
    assert start.encode(time(7, 15)) == 435
    assert start.decode(1440) == time(0, 0)
    days = bindings["day_of_the_week_aux_1_1205"].point
    assert (days.value_type, days.maximum) == (ValueType.INT, 127)
    assert bindings["day_of_the_week_aux_1_1205"].decode(5) == 5
    cycle = bindings["force_a_new_cycle_1142"]
    assert cycle.point.kind is PointKind.ACTION
    assert cycle.encode(True) == 1
    installer = bindings["charger_uses_only_power_from_ac_out_1646"].point
    assert (installer.kind, installer.enabled_by_default) == (PointKind.READING, False)
    assert "restore_factory_settings_1287" not in bindings
    # A step off the grid of the minimum is dropped; the value still rounds to it.
    duration = bindings["equalization_duration_1165"]
    assert duration.point.step is None
    assert duration.decode(0.4999) == 0.5
    ripple = bindings["battery_voltage_ripple_3006"].point
    assert (ripple.enabled_by_default, ripple.plausible) == (False, (-1000.0, 1000.0))


def test_120_volt_limits_and_the_system() -> None:
    output = unit_catalogue(XTENDER, volts_120=True).bindings["ac_output_voltage_1286"]
    assert (output.point.minimum, output.point.maximum) == (55, 140)
    system = system_catalogue(frozenset({"xtender", "bsp"}))
    assert set(system.totals) == {"ac_output_power", "grid_power"}
    charge = system.bindings["battery_charge_current_1138"]
    assert charge.route is Route.GROUP
    assert charge.kind is XTENDER
    assert system.bindings["datalogger_enabled_5101"].kind is XCOM
    assert LAST_MESSAGE in system.points
    assert not any(key.startswith("battery_current") for key in system.bindings)
    with_solar = system_catalogue(frozenset({"variotrack", "variostring"}))
    assert [part[0] for part in with_solar.totals["pv_power"].parts] == [VARIOTRACK, VARIOSTRING]


def test_message_types_are_translatable_states() -> None:
    """Every published message is a state key (number and short name) with its English text."""
    assert LAST_MESSAGE.value_type is ValueType.ENUM
    assert len(LAST_MESSAGE.options) == len(set(LAST_MESSAGE.options)) == len(MESSAGES) + 1
    assert all(re.fullmatch(r"[a-z0-9_]+", key) for key in LAST_MESSAGE.options)
    assert message_key(19) == "m019_battery_undervoltage"
    assert message_key(3) == "m003_ac_in_synchronization_in_progress"
    assert message_key(999) == "unlisted"
    assert LAST_MESSAGE.option_label("m019_battery_undervoltage") == MESSAGES[19]
    assert message_values(22, 102)["last_message_unit"] == 102


def test_option_keys_are_unique() -> None:
    assert option_keys([(1, "BatOverV"), (5, "BatOverV"), (2, ";"), (3, "R.float")]) == (
        (1, "batoverv", "BatOverV"),
        (5, "batoverv_5", "BatOverV"),
        (2, "code_2", ";"),
        (3, "r_float", "R.float"),
    )


# The family description ----------------------------------------------------------------------


def test_spec_builds_clients_for_each_link() -> None:
    serial = build(parse_link("/dev/ttyUSB0"), ClientOptions())
    assert isinstance(serial, XcomClient)
    assert isinstance(serial.link, SerialLink)
    assert (serial.link.settings.baudrate, serial.link.settings.parity) == (38400, "E")
    assert serial.link.timeout == 2.0
    fast = build(parse_link("/dev/ttyUSB0"), ClientOptions(baudrate=115200))
    assert isinstance(fast.link, SerialLink)
    assert fast.link.settings.baudrate == 115200
    assert isinstance(build(parse_link("tcp://10.0.0.5:4001"), ClientOptions()).link, TcpLink)
    assert isinstance(build(parse_link("udp://10.0.0.5:4001"), ClientOptions()).link, UdpLink)
    with pytest.raises(UnsupportedError):
        build(parse_link("hid:/dev/hidraw0"), ClientOptions())
    assert SPEC.link_kinds == ("serial", "tcp", "udp")
    keys = {point.key for point in SPEC.points()}
    assert {"battery_voltage", "battery_current", "pv_power", "last_message"} <= keys
    assert all(kind.id in {"xtender", "variotrack", "variostring", "bsp"} for kind in UNIT_KINDS)
