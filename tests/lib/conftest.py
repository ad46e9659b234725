"""Shared fixtures for the library tests: simulated devices on real endpoints, and clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

from inverterlib.pi30.client import SERIAL_SETTINGS, Pi30Client
from inverterlib.transport.base import Link
from inverterlib.transport.hid import HidLink
from inverterlib.transport.serial import SerialLink
from inverterlib.transport.tcp import TcpLink
import pytest

from simulators.pi30 import Pi30Simulator
from simulators.pi30_device import Pi30Device, Profile

# Short enough to keep fault tests quick, long enough for an unpaced pty on a busy machine.
PI30_TEST_TIMEOUT = 0.3
# The drain's quiet period: the unit's half second would slow every fault test, and the frames
# the simulator sends behind a reply follow it at once.
PI30_TEST_QUIET = 0.05


class Pi30Harness:
    """Start PI30 simulators on ptys, TCP ports or HID pipes, with a client on each."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp_path = tmp_path
        self.simulators: list[Pi30Simulator] = []
        self.links: list[Link] = []

    def _simulator(
        self,
        profile: Profile | None,
        clock: Callable[[], datetime] | None,
        baud: float | None,
    ) -> Pi30Simulator:
        device = Pi30Device(profile) if clock is None else Pi30Device(profile, clock=clock)
        simulator = Pi30Simulator(device, baud=baud, slow_byte_delay=0.02)
        self.simulators.append(simulator)
        return simulator

    def _client(self, link: Link, clock: Callable[[], datetime] | None) -> Pi30Client:
        self.links.append(link)
        client = Pi30Client(link) if clock is None else Pi30Client(link, clock=clock)
        link.quiet = PI30_TEST_QUIET
        return client

    async def serial(
        self,
        profile: Profile | None = None,
        *,
        timeout: float = PI30_TEST_TIMEOUT,
        clock: Callable[[], datetime] | None = None,
        baud: float | None = None,
    ) -> tuple[Pi30Simulator, Pi30Client]:
        """Return a simulator on a pty (behind a symlink) and a client on that symlink."""
        simulator = self._simulator(profile, clock, baud)
        path = await simulator.start_pty(str(self._tmp_path / f"pi30-{len(self.simulators)}"))
        link = SerialLink(path, settings=SERIAL_SETTINGS, timeout=timeout)
        return simulator, self._client(link, clock)

    async def tcp(
        self, profile: Profile | None = None, *, timeout: float = PI30_TEST_TIMEOUT
    ) -> tuple[Pi30Simulator, Pi30Client]:
        """Return a simulator on a local TCP port and a client connected to it."""
        simulator = self._simulator(profile, None, None)
        host, port = await simulator.start_tcp()
        return simulator, self._client(TcpLink(host, port, timeout=timeout), None)

    async def hid(
        self, profile: Profile | None = None, *, timeout: float = PI30_TEST_TIMEOUT
    ) -> tuple[Pi30Simulator, Pi30Client]:
        """Return a simulator behind HID report pipes; each (re)open makes a fresh pipe."""
        simulator = self._simulator(profile, None, None)
        link = HidLink("/dev/hidraw-sim", timeout=timeout, opener=simulator.hid_pair)
        return simulator, self._client(link, None)

    async def aclose(self) -> None:
        """Close the clients' links, then stop the simulators."""
        for link in self.links:
            await link.close()
        for simulator in self.simulators:
            await simulator.stop()


@pytest.fixture
async def pi30(tmp_path: Path) -> AsyncIterator[Pi30Harness]:
    """Yield a harness for PI30 simulators and clients; everything is closed afterwards."""
    harness = Pi30Harness(tmp_path)
    yield harness
    await harness.aclose()
