"""The demo simulator of each family: what to start, where it serves, and the link to it.

scripts/develop starts every demo here and seeds Home Assistant with an entry for each seeded
one; the others are added through the UI. A family without a demo is missing here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
import subprocess
import sys
from types import MappingProxyType
from typing import Literal

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, kw_only=True, slots=True)
class Demo:
    """How to start one family's demo simulator and how a client reaches it."""

    family: str
    module: str
    endpoint: Literal["tcp", "pty"]
    # Where it serves unless told otherwise: a port on loopback, or its pty's name in a folder.
    port: int = 0
    pty_name: str = ""
    arguments: tuple[str, ...] = ()
    summary: str
    # False: a person adds it through the UI, as `how_to_add` says.
    seeded: bool = True
    how_to_add: str = ""

    def address(self, folder: Path, port: int | None = None) -> str:
        """Return where to serve: loopback:PORT (the demo's own by default), or a pty path."""
        if self.endpoint == "tcp":
            return f"{LOOPBACK}:{port or self.port}"
        return str(folder / self.pty_name)

    def command(self, address: str) -> list[str]:
        """Return the command that serves the demo at `address`, its output unbuffered."""
        flag = f"--{self.endpoint}"
        return [sys.executable, "-u", "-m", self.module, flag, address, *self.arguments]

    def link(self, address: str) -> str:
        """Return the link a client opens to the demo serving at `address`."""
        return f"tcp://{address}" if self.endpoint == "tcp" else address

    @contextmanager
    def running(self, address: str) -> Iterator[subprocess.Popen[str]]:
        """Serve the demo at `address` for the block; enter once it serves (its first line)."""
        process = subprocess.Popen(self.command(address), stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        try:
            if not process.stdout.readline():
                status = process.wait()
                raise RuntimeError(f"the {self.family} simulator exited with status {status}")
            yield process
        finally:
            process.terminate()
            process.wait(timeout=10)
            process.stdout.close()


DEMOS: Mapping[str, Demo] = MappingProxyType(
    {
        demo.family: demo
        for demo in (
            Demo(
                family="pi30",
                module="simulators.pi30",
                endpoint="tcp",
                port=18830,
                summary="a Voltronic Axpert (PI30) inverter",
            ),
            Demo(
                family="modbus",
                module="simulators.modbus",
                endpoint="pty",
                pty_name="ttyRS485",
                arguments=("--unit", "1=sdm630", "--unit", "2=growatt_min"),
                summary="an RS-485 bus: an Eastron SDM630 on unit 1, a Growatt MIN on unit 2",
                seeded=False,
                how_to_add="Add integration > Inverter Hub > Modbus > Serial port, "
                "type that path, speed 9600",
            ),
            Demo(
                family="xcom",
                module="simulators.xcom",
                endpoint="tcp",
                port=18840,
                arguments=("--xtenders", "3"),
                summary="a Studer Xcom-LAN: three Xtenders, a VarioTrack and a BSP",
            ),
            Demo(
                family="givenergy",
                module="simulators.givenergy",
                endpoint="tcp",
                port=18899,
                arguments=("--kind", "gen2", "--packs", "2"),
                summary="a GivEnergy Gen 2 hybrid behind its dongle, with two battery packs",
            ),
        )
    }
)
