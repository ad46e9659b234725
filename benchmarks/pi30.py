"""Time one live PI30 poll cycle at 2400 Bd: our client, mpp-solar, and the wire floor.

The simulator sits on a pty and paces every byte both ways at 10/2400 s, so the floor is what
the wire itself costs: (request + reply bytes) / 240 bytes per second.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from pathlib import Path
import statistics
import sys
import tempfile
import time

from inverterlib.model import PointKind, PollGroup
from inverterlib.pi30.client import (
    GAP,
    SERIAL_SETTINGS,
    TIMEOUT,
    Pi30Client,
)
from inverterlib.transport.serial import SerialLink

from simulators.pi30 import BITS_PER_BYTE, Pi30Simulator, Stats

BAUD = 2400


@dataclass(frozen=True, slots=True)
class Run:
    """One timed cycle: how many bytes crossed the wire and how long it took."""

    seconds: float
    wire_bytes: int


def _wire_bytes(stats: Stats) -> int:
    return stats.bytes_in + stats.bytes_out


def floor_seconds(wire_bytes: int, baud: float = BAUD) -> float:
    """Return the time `wire_bytes` take on the wire at `baud` (8N1)."""
    return wire_bytes * BITS_PER_BYTE / baud


async def time_ours(
    simulator: Pi30Simulator, path: str, repeats: int
) -> tuple[list[str], list[Run]]:
    """Identify once, then time `repeats` live cycles of our client."""
    link = SerialLink(path, settings=SERIAL_SETTINGS, gap=GAP, timeout=TIMEOUT)
    client = Pi30Client(link)
    try:
        device = (await client.identify())[0]
        keys = [
            point.key
            for point in client.catalogue(device)
            if point.group is PollGroup.LIVE and point.kind is PointKind.READING
        ]
        runs = []
        commands: list[str] = []
        for _ in range(repeats):
            before = _wire_bytes(simulator.stats)
            sent_before = simulator.stats.requests.copy()
            start = time.perf_counter()
            await client.read(device, keys)
            seconds = time.perf_counter() - start
            runs.append(Run(seconds, _wire_bytes(simulator.stats) - before))
            commands = sorted((simulator.stats.requests - sent_before).elements())
        return commands, runs
    finally:
        await client.close()


def _mppsolar_cycle(path: str, commands: list[str]) -> None:
    """Run the commands the way mpp-solar does: its PI30MAX protocol and its serial port class."""
    from mppsolar.inout.serialio import SerialIO  # noqa: PLC0415 - optional, benchmark only
    from mppsolar.protocols.pi30max import pi30max  # noqa: PLC0415

    protocol = pi30max()
    port = SerialIO(device_path=path, serial_baud=BAUD)
    for command in commands:
        full_command = protocol.get_full_command(command)
        response = port.send_and_receive(
            command=command,
            full_command=full_command,
            protocol=protocol,
            command_defn=protocol.get_command_defn(command),
        )
        protocol.decode(response, command)


async def time_mppsolar(
    simulator: Pi30Simulator, path: str, commands: list[str], repeats: int
) -> list[Run]:
    """Time `repeats` cycles of mpp-solar in a worker thread while the simulator keeps serving."""
    runs = []
    for _ in range(repeats):
        await simulator.drain()
        before = _wire_bytes(simulator.stats)
        start = time.perf_counter()
        await asyncio.to_thread(_mppsolar_cycle, path, commands)
        seconds = time.perf_counter() - start
        runs.append(Run(seconds, _wire_bytes(simulator.stats) - before))
    return runs


def _row(tool: str, commands: int, runs: list[Run]) -> str:
    seconds = statistics.median(run.seconds for run in runs)
    wire = statistics.median(run.wire_bytes for run in runs)
    ratio = seconds / floor_seconds(round(wire))
    return f"| {tool} | {commands} | {wire:.0f} | {seconds:.3f} | {ratio:.2f} |"


async def benchmark(repeats: int, with_mppsolar: bool) -> str:
    """Run the benchmark and return a Markdown table."""
    with tempfile.TemporaryDirectory() as directory:
        simulator = Pi30Simulator(baud=BAUD)
        path = await simulator.start_pty(str(Path(directory) / "pi30"))
        try:
            commands, ours = await time_ours(simulator, path, repeats)
            wire = round(statistics.median(run.wire_bytes for run in ours))
            lines = [
                f"PI30 live cycle at {BAUD} Bd on a pty, median of {repeats} "
                f"({', '.join(commands)})",
                "",
                "| tool | commands | bytes | seconds | ratio to floor |",
                "|---|---|---|---|---|",
                f"| wire floor | {len(commands)} | {wire} | {floor_seconds(wire):.3f} | 1.00 |",
                _row("inverter_hub", len(commands), ours),
            ]
            if with_mppsolar:
                theirs = await time_mppsolar(simulator, path, commands, repeats)
                lines.append(_row("mpp-solar", len(commands), theirs))
        finally:
            await simulator.stop()
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the PI30 benchmark as a Markdown table."""
    parser = argparse.ArgumentParser(prog="scripts/bench pi30", description=main.__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="cycles per tool (median)")
    parser.add_argument("--no-mppsolar", action="store_true", help="skip the mpp-solar run")
    args = parser.parse_args(argv)
    print(asyncio.run(benchmark(args.repeats, not args.no_mppsolar)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
