"""Searching the network for a family's devices."""

from __future__ import annotations

import ipaddress

from inverterlib import discovery
from inverterlib.discovery import hosts_of, search
import pytest

from simulators.givenergy import GivEnergySimulator
from simulators.pi30 import Pi30Simulator
from simulators.pi30_device import Pi30Device


def test_hosts_of_a_network_leave_out_the_asker() -> None:
    hosts = hosts_of(ipaddress.IPv4Network("192.0.2.0/29"), own="192.0.2.3")
    assert hosts == ["192.0.2.1", "192.0.2.2", "192.0.2.4", "192.0.2.5", "192.0.2.6"]


async def test_search_lists_what_answers_as_the_family(
    socket_enabled: None, unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discovery, "CONNECT_TIMEOUT", 0.5)
    dongle = GivEnergySimulator()
    pi30 = Pi30Simulator(Pi30Device())
    _, dongle_port = await dongle.start()
    _, pi30_port = await pi30.start_tcp()
    try:
        (found,) = await search("givenergy", ["127.0.0.1"], dongle_port)
        assert found[0] == f"tcp://127.0.0.1:{dongle_port}"
        assert found[1].model.startswith("Hybrid")
        # Something answers on the port, but it is no GivEnergy dongle.
        assert await search("givenergy", ["127.0.0.1"], pi30_port) == []
        # Nothing listens.
        assert await search("givenergy", ["127.0.0.1"], unused_tcp_port) == []
    finally:
        await dongle.stop()
        await pi30.stop()
