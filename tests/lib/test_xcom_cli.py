"""The command line against a simulated Xcom with its units, over TCP and on a pty."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
import itertools
import json
from pathlib import Path
import threading
from typing import Any

from inverterlib.cli import main
import pytest

from simulators.xcom import XcomSimulator

SYSTEM = "xcom-1A2B0651"
XTENDER_2 = "1A2B0662"
CHARGE_CURRENT = "battery_charge_current_1138"


class SimulatorThread:
    """An Xcom simulator on its own event loop in a thread: the command line runs its own loop."""

    def __init__(self) -> None:
        self.simulator = XcomSimulator()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def call[T](self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the simulator's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def close(self) -> None:
        """Stop the simulator, then its loop and thread."""
        self.call(self.simulator.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


async def _tcp_link(simulator: XcomSimulator) -> str:
    host, port = await simulator.start_tcp()
    return f"tcp://{host}:{port}"


@pytest.fixture
def served() -> Iterator[SimulatorThread]:
    """Yield an unpaced Xcom with three Xtenders, a VarioTrack and a BSP, not yet serving."""
    thread = SimulatorThread()
    try:
        yield thread
    finally:
        thread.close()


@pytest.fixture(params=["tcp", "pty"])
def link(
    request: pytest.FixtureRequest,
    served: SimulatorThread,
    socket_enabled: None,
    tmp_path: Path,
) -> Callable[[], str]:
    """Serve the Xcom on a local TCP port or on ptys; return what gives a link to open.

    Linux lets a pty take even parity once only: a later tcsetattr whose one change is a
    parity the pty cannot keep fails with EINVAL. So each command gets a fresh pty of the
    same Xcom.
    """
    simulator = served.simulator
    if request.param == "tcp":
        address = served.call(_tcp_link(simulator))
        return lambda: address
    paths = (str(tmp_path / f"ttyXcom{n}") for n in itertools.count())
    return lambda: served.call(simulator.start_pty(next(paths)))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main(list(args)) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_identify_lists_the_system_then_every_unit(
    link: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Identify prints the Xcom system, then each unit behind it by address and serial."""
    devices = _run(capsys, "identify", "xcom", link())
    assert [(d["address"], d["model"]) for d in devices] == [
        ("501", "Xcom system"),
        ("101", "Xtender XTH"),
        ("102", "Xtender XTH"),
        ("103", "Xtender XTH"),
        ("301", "VarioTrack VT-80"),
        ("601", devices[5]["model"]),
    ]
    assert devices[5]["model"].startswith("BSP")
    system, *units = devices
    assert system["serial_number"] == SYSTEM
    assert {unit["parent_serial"] for unit in units} == {SYSTEM}
    assert len({unit["serial_number"] for unit in units}) == 5
    assert all(device["points"] > 0 for device in devices)


def test_read_keys_every_unit_by_serial(
    link: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Read prints the system by serial number, each unit nested in it by its own serial."""
    serials = [device["serial_number"] for device in _run(capsys, "identify", "xcom", link())]
    system = _run(capsys, "read", "xcom", link())
    assert list(system) == [SYSTEM]
    units = system[SYSTEM].pop("devices")
    assert list(units) == serials[1:]
    values = {SYSTEM: system[SYSTEM], **units}
    for serial in serials[1:]:
        assert 40 < values[serial]["battery_voltage"] < 60
    xtenders = [values[serial] for serial in serials[1:4]]
    assert all(x["ac_output_voltage"] == pytest.approx(230, abs=2) for x in xtenders)
    assert all(x[CHARGE_CURRENT] == 60 for x in xtenders)
    assert values[SYSTEM]["ac_output_power"] == pytest.approx(
        sum(x["ac_output_power"] for x in xtenders), abs=50
    )
    assert values[serials[4]]["pv_power"] > 0


def test_write_sets_ram_and_reads_back(
    link: Callable[[], str], served: SimulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    """A setting of one unit is written to its RAM copy only and reads back as written."""
    record = _run(capsys, "write", "xcom", link(), CHARGE_CURRENT, "45", "--device", XTENDER_2)
    assert record == {"key": CHARGE_CURRENT, "old": 60.0, "new": 45.0, "outcome": "applied"}
    units = served.simulator.units
    parameter = units[102].parameters[1138]
    assert (parameter.ram, parameter.flash) == (45.0, 60.0)
    assert (units[102].ram_writes, units[102].flash_writes) == (1, 0)
    assert units[101].parameters[1138].ram == 60.0
    values = _run(capsys, "read", "xcom", link(), "--device", XTENDER_2)
    assert values[CHARGE_CURRENT] == 45.0
