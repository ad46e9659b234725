"""The GivEnergy benchmark, briefly: its optimum, ours against it, and its printed table."""

from __future__ import annotations

import importlib.util

from inverterlib.modbus.planner import Span
import pytest

from benchmarks.givenergy import exchange_bytes, main, optimum_blocks, optimum_run, time_ours
from simulators.givenergy import GivEnergySimulator
from simulators.givenergy_plant import Plant

HAS_PEER = importlib.util.find_spec("givenergy_modbus") is not None
# Short enough to keep the run quick; pace only changes how long the run takes.
PACE = 0.01


def test_the_optimum_reads_each_60_register_window_once_and_no_further() -> None:
    """One read per window with a wanted register, from the window's start to its last one."""
    spans = [Span(130, 1), Span(0, 1), Span(59, 1), Span(60, 2), Span(7, 2), Span(64, 1)]
    assert optimum_blocks(spans) == [(0, 60), (60, 5), (120, 11)]
    assert optimum_blocks([]) == []


def test_a_value_across_two_windows_fits_no_read() -> None:
    with pytest.raises(ValueError, match="59-60 fit no bank-aligned read"):
        optimum_blocks([Span(59, 2)])


def test_the_optimum_is_framed_by_the_simulator() -> None:
    """A read of n registers is 34 bytes out and 44 + 2n back; an absent device has no optimum."""
    simulator = GivEnergySimulator(Plant("gen2", packs=2))
    assert exchange_bytes(simulator, (0x11, 4, 0, 60)) == 34 + 44 + 120
    assert optimum_run(simulator, [(0x32, 4, 60, 1)] * 3, 0.25).seconds == 0.5
    with pytest.raises(ValueError, match="does not answer"):
        exchange_bytes(simulator, (0x01, 4, 60, 30))


@pytest.mark.usefixtures("socket_enabled")
async def test_our_refreshes_send_exactly_the_optimum() -> None:
    """A full and a live poll send the optimum's requests and bytes, counted at the dongle."""
    simulator = GivEnergySimulator(Plant("gen2", packs=2))
    host, port = await simulator.start()
    try:
        optimum, rows = await time_ours(simulator, f"tcp://{host}:{port}", 1, PACE)
        floors = {
            refresh: optimum_run(simulator, reads, PACE) for refresh, reads in optimum.items()
        }
    finally:
        await simulator.stop()
    for refresh, tool, run in rows:
        assert tool == "inverter_hub"
        floor = floors[refresh]
        assert (run.requests, run.wire_bytes) == (floor.requests, floor.wire_bytes)
    # The inverter's settings take two holding banks; every pack one input bank.
    assert {device for device, *_ in optimum["full"]} == {0x11, 0x32, 0x33}
    assert len(optimum["full"]) > len(optimum["live"]) == 3


@pytest.mark.usefixtures("socket_enabled")
def test_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    """A quick run prints the optimum first, then ours (and the peer's where it is installed)."""
    peer = [] if HAS_PEER else ["--no-givenergy-modbus"]
    assert main(["--repeats", "1", "--pace", str(PACE), *peer]) == 0
    out = capsys.readouterr().out
    assert "| refresh | tool | requests | bytes | seconds | ratio to optimum |" in out
    rows = [line.split(" | ")[:4] for line in out.splitlines() if line.startswith("| full")]
    assert [tool for _, tool, *_ in rows][:2] == ["optimum", "inverter_hub"]
    assert rows[0][2:] == rows[1][2:]
    assert "Optimum, live: 0x11 IR 0+60, 0x32 IR 60+" in out
    assert ("givenergy-modbus" in out) is HAS_PEER
