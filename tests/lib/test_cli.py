"""The command line against simulators running in their own processes."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import subprocess
import sys
from unittest.mock import patch

from inverterlib.cli import main
from inverterlib.errors import UnsupportedError
from inverterlib.families import create_client
import pytest


def _serve(*args: str) -> Iterator[subprocess.Popen[str]]:
    """Run a simulator until the test ends; wait for its first line (it is serving then)."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", *args], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip()
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture
def pi30_pty(tmp_path: Path) -> Iterator[str]:
    """Serve an unpaced PI30 inverter on a pty; yield its path."""
    path = str(tmp_path / "ttyPI30")
    yield from (path for _ in _serve("simulators.pi30", "--pty", path, "--baud", "0"))


@pytest.fixture
def modbus_tcp(socket_enabled: None, unused_tcp_port: int) -> Iterator[str]:
    """Serve an SDM630 (unit 1) and a Growatt MIN (unit 2) on Modbus TCP."""
    address = f"127.0.0.1:{unused_tcp_port}"
    args = ("simulators.modbus", "--tcp", address, "--unit", "1=sdm630", "--unit", "2=growatt_min")
    yield from (f"tcp://{address}" for _ in _serve(*args))


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_identify_pi30(pi30_pty: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Identify prints the device found on the link."""
    assert main(["identify", "pi30", pi30_pty]) == 0
    (device,) = _json(capsys)  # type: ignore[misc]
    assert device["serial_number"] == "92932105105335"
    assert device["family"] == "pi30"
    assert device["points"] > 100


def test_read_pi30_prints_a_snapshot_with_canonical_keys(
    pi30_pty: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read prints one JSON object keyed by point key, values in the points' units."""
    assert main(["read", "pi30", pi30_pty]) == 0
    values = _json(capsys)
    assert isinstance(values, dict)
    assert 40 < values["battery_voltage"] < 60
    assert values["ac_output_frequency"] == pytest.approx(50.0, abs=0.5)
    assert values["device_mode"] in ("line", "battery")
    assert values["output_source_priority"] == "sbu"
    assert values["pv_energy"] > 0


def test_write_pi30_goes_through_validation_and_read_back(
    pi30_pty: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid write is applied; an invalid one is one line on stderr and a non-zero exit."""
    assert main(["write", "pi30", pi30_pty, "battery_float_voltage", "54.8"]) == 0
    assert _json(capsys) == {
        "key": "battery_float_voltage",
        "old": 54.0,
        "new": 54.8,
        "outcome": "applied",
    }
    assert main(["write", "pi30", pi30_pty, "battery_float_voltage", "99"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: battery_float_voltage must be between")
    assert error.count("\n") == 1


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing port or a bad link is one clear line and exit status 1."""
    assert main(["read", "pi30", str(tmp_path / "nothing")]) == 1
    assert capsys.readouterr().err.startswith("error: cannot open")
    assert main(["read", "pi30", "ftp://x"]) == 1
    assert "error:" in capsys.readouterr().err


def test_write_needs_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    """Write without a key is a usage error."""
    with pytest.raises(SystemExit) as info:
        main(["write", "pi30", "/dev/null"])
    assert info.value.code == 2


def test_write_without_a_value_is_refused_for_a_setting(
    pi30_pty: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A setting needs a value: nothing is sent without one."""
    assert main(["write", "pi30", pi30_pty, "buzzer"]) == 1
    assert capsys.readouterr().err.startswith("error: buzzer needs on or off")


@pytest.mark.parametrize("value", ["0", "no", "off"])
def test_action_values_other_than_its_trigger_are_refused(
    pi30_pty: str, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """`write ... reset_to_defaults 0` never resets; dangerous actions also need --expert."""
    assert main(["write", "pi30", pi30_pty, "reset_to_defaults", value, "--expert"]) == 1
    assert "is an action" in capsys.readouterr().err
    assert main(["write", "pi30", pi30_pty, "reset_to_defaults"]) == 1
    assert "expert mode" in capsys.readouterr().err


def test_options_may_stand_anywhere(modbus_tcp: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`write modbus LINK --unit 2 export_limit 50` works as the README writes it."""
    assert (
        main(["write", "modbus", modbus_tcp, "--unit", "2", "export_limit", "50", "--expert"]) == 0
    )
    assert _json(capsys)["new"] == 50  # type: ignore[index]


def test_read_modbus_units(modbus_tcp: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each Modbus unit is read by its detected profile."""
    assert main(["identify", "modbus", modbus_tcp, "--unit", "1"]) == 0
    (meter,) = _json(capsys)  # type: ignore[misc]
    assert meter["model"] == "SDM630"
    assert main(["read", "modbus", modbus_tcp, "--unit", "1"]) == 0
    values = _json(capsys)
    assert isinstance(values, dict)
    assert 200 < values["grid_voltage_l1"] < 260
    assert values["grid_import_energy"] > 0
    assert main(["read", "modbus", modbus_tcp, "--unit", "2", "--profile", "growatt_min"]) == 0
    inverter = _json(capsys)
    assert isinstance(inverter, dict)
    assert "pv_energy" in inverter


@pytest.fixture
def pi30_parallel_pty(tmp_path: Path) -> Iterator[str]:
    """Serve two unpaced PI30 units in parallel on a pty; yield its path."""
    path = str(tmp_path / "ttyPI30p")
    yield from (path for _ in _serve("simulators.pi30", "--pty", path, "--baud", "0", "--parallel"))


@pytest.fixture
def givenergy_tcp(socket_enabled: None, unused_tcp_port: int) -> Iterator[str]:
    """Serve a GivEnergy Gen 2 hybrid with two battery packs behind a dongle."""
    address = f"127.0.0.1:{unused_tcp_port}"
    args = ("simulators.givenergy", "--tcp", address, "--kind", "gen2", "--packs", "2")
    yield from (f"tcp://{address}" for _ in _serve(*args))


def test_read_nests_each_device_under_its_parent(
    pi30_parallel_pty: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """With several devices, read keys the main unit by serial and nests the others in it."""
    assert main(["read", "pi30", pi30_parallel_pty]) == 0
    devices = _json(capsys)
    assert isinstance(devices, dict)
    assert list(devices) == ["92932105105335"]
    main_unit = devices["92932105105335"]
    assert 40 < main_unit["battery_voltage"] < 60
    assert len(main_unit["devices"]) == 1
    (unit,) = main_unit["devices"].values()
    assert "devices" not in unit
    assert unit["ac_output_frequency"] == pytest.approx(50.0, abs=0.5)


def test_read_givenergy_nests_battery_packs(
    givenergy_tcp: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A GivEnergy inverter is keyed by its serial with its battery packs nested inside it."""
    assert main(["identify", "givenergy", givenergy_tcp]) == 0
    identities = _json(capsys)
    assert isinstance(identities, list)
    inverter, *packs = identities
    assert main(["read", "givenergy", givenergy_tcp]) == 0
    devices = _json(capsys)
    assert isinstance(devices, dict)
    assert list(devices) == [inverter["serial_number"]]
    nested = devices[inverter["serial_number"]]["devices"]
    assert list(nested) == [pack["serial_number"] for pack in packs]
    assert len(packs) == 2
    assert all(0 <= pack["battery_soc"] <= 100 for pack in nested.values())


def test_pick_device_by_serial(pi30_pty: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--device picks one device of several; an unknown serial is an error."""
    assert main(["read", "pi30", pi30_pty, "--device", "92932105105335"]) == 0
    assert isinstance(_json(capsys), dict)
    assert main(["read", "pi30", pi30_pty, "--device", "000"]) == 1
    assert "no device 000" in capsys.readouterr().err


def test_output_into_a_closed_pipe_is_not_an_error(
    pi30_pty: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`scripts/inverter read ... | head` ends quietly with status 0."""
    redirected: list[int] = []
    with (
        patch("json.dump", side_effect=BrokenPipeError),
        patch("os.dup2", side_effect=lambda source, target: redirected.append(target)),
        patch("sys.stdout.fileno", return_value=1, create=True),
    ):
        assert main(["identify", "pi30", pi30_pty]) == 0
    assert redirected == [1]


def test_serve_needs_a_broker(capsys: pytest.CaptureFixture[str]) -> None:
    """`inverter serve` without --mqtt or --amqp says so and opens nothing."""
    assert main(["serve", "pi30", "/dev/null"]) == 2
    assert "serve needs --mqtt URL and/or --amqp URL" in capsys.readouterr().err


def test_a_link_without_a_port_gets_the_family_port() -> None:
    """`tcp://HOST` means the family's usual port; a family without one says so."""

    assert create_client("givenergy", "tcp://192.0.2.40").link.description.endswith(":8899")
    with pytest.raises(UnsupportedError, match="does not run over udp"):
        create_client("pi30", "udp://192.0.2.41")
