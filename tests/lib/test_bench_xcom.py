"""The Xcom benchmark, briefly: its floor is what the fewest requests send; it prints its tables."""

from __future__ import annotations

import importlib.util

import pytest

from benchmarks.xcom import floor_exchanges, main, time_ours
from simulators.xcom import XcomSimulator

HAS_PEER = importlib.util.find_spec("pystuderxcom") is not None


@pytest.mark.usefixtures("socket_enabled")
async def test_the_floor_is_what_our_client_sends() -> None:
    """Our read of the live infos sends exactly the floor's requests and bytes, either way."""
    simulator = XcomSimulator(xtenders=3, variotrack=True, bsp=False)
    host, port = await simulator.start_tcp()
    try:
        for multi_info in (False, True):
            link = f"tcp://{host}:{port}"
            pairs, rows, setup = await time_ours(simulator, link, 1, multi_info=multi_info)
            (tool, run), _ = rows
            floor = floor_exchanges(simulator, pairs, multi_info=multi_info)
            assert (tool, run.requests, run.wire_bytes) == ("inverter_hub", *floor)
            assert setup.requests > 0
    finally:
        await simulator.stop()
    assert len(pairs) == 3 * 20 + 10
    assert {address for _, address in pairs} == {101, 102, 103, 301}


def test_a_multi_info_request_holds_76_infos_at_most() -> None:
    """The floor takes as many multi-info requests as 76 infos a request allow."""
    simulator = XcomSimulator(xtenders=1, variotrack=False, bsp=False)
    pairs = [(3000, 101)] * 77
    requests, wire = floor_exchanges(simulator, pairs, multi_info=True)
    one, one_wire = floor_exchanges(simulator, pairs[:76], multi_info=True)
    assert (requests, one) == (2, 1)
    assert wire > one_wire


@pytest.mark.usefixtures("socket_enabled")
def test_main_prints_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    """A quick run at a high speed prints both tables, the floors first."""
    peer = [] if HAS_PEER else ["--no-pystuderxcom"]
    assert main(["--repeats", "1", "--baud", "1000000", *peer]) == 0
    out = capsys.readouterr().out
    assert "| per info | wire floor | 70 | 3904 |" in out
    assert "| multi-info | wire floor | 1 | 760 |" in out
    assert "| multi-info | inverter_hub | 1 | 760 |" in out
    assert "Multi-info takes fewer requests than per-info reads: inverter_hub 70 times" in out
    assert "Setup (identify every unit" in out
    assert ("pystuderxcom" in out) is HAS_PEER
