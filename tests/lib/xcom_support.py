"""Helpers for the Xcom tests: simulated Xcoms on a pty, TCP or UDP, each with a client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inverterlib.model import DeviceIdentity, Point, Value
from inverterlib.transport.base import Link
from inverterlib.transport.serial import SerialLink
from inverterlib.transport.tcp import TcpLink
from inverterlib.transport.udp import UdpLink
from inverterlib.xcom.client import SERIAL_SETTINGS, XcomClient

from simulators.xcom import XcomSimulator

# Short enough to keep fault tests quick, long enough for a busy CI machine.
TIMEOUT = 0.6
INPUT_LIMIT = "maximum_current_of_ac_source_input_limit_1107"


class Harness:
    """Start simulated Xcoms on ptys, TCP or UDP ports, each with a client."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp_path = tmp_path
        self.simulators: list[XcomSimulator] = []
        self.links: list[Link] = []

    async def start(
        self,
        transport: str = "tcp",
        *,
        simulator: XcomSimulator | None = None,
        timeout: float = TIMEOUT,
        **options: Any,
    ) -> tuple[XcomSimulator, XcomClient]:
        """Return a simulator on a new endpoint and an unconnected client on it."""
        # A still clock keeps the units' physics in step across reads on a busy machine.
        simulator = simulator or XcomSimulator(clock=lambda: 1000.0)
        self.simulators.append(simulator)
        link: Link
        if transport == "pty":
            path = await simulator.start_pty(str(self._tmp_path / f"xcom-{len(self.simulators)}"))
            link = SerialLink(path, settings=SERIAL_SETTINGS, timeout=timeout)
        elif transport == "udp":
            host, port = await simulator.start_udp()
            link = UdpLink(host, port, timeout=timeout)
        else:
            host, port = await simulator.start_tcp()
            link = TcpLink(host, port, timeout=timeout)
        self.links.append(link)
        return simulator, XcomClient(link, busy_pause=0.01, **options)

    async def aclose(self) -> None:
        """Close the links, then stop the simulators."""
        for link in self.links:
            await link.close()
        for simulator in self.simulators:
            await simulator.stop()


async def identified(
    xcom: Harness, transport: str = "tcp", **options: Any
) -> tuple[XcomSimulator, XcomClient, list[DeviceIdentity]]:
    simulator, client = await xcom.start(transport, **options)
    return simulator, client, await client.identify()


def by_address(devices: list[DeviceIdentity]) -> dict[int, DeviceIdentity]:
    return {int(device.address): device for device in devices}


def point(client: XcomClient, device: DeviceIdentity, key: str) -> Point:
    return next(p for p in client.catalogue(device) if p.key == key)


def number(values: dict[str, Value], key: str) -> float:
    value = values[key]
    assert isinstance(value, int | float)
    return float(value)
