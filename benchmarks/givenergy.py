"""Time a full and a live GivEnergy refresh: ours, the optimum, and givenergy-modbus.

The simulated dongle (`simulators.givenergy`) serves a Gen 2 hybrid with two LV battery packs
on loopback TCP and counts every request and byte it sees. Both clients keep the same pace
between requests, 0.25 s by default (the least gap dewet22 found a dongle needs): ours waits it
after each reply, givenergy-modbus between two sends (it pipelines: the next request goes out
whether or not the last was answered). givenergy-modbus adds up to 0.1 s of random jitter to
its gap by default; it is switched off here so that both keep exactly the same pace.

The optimum is the fewest reads of 60-register-aligned blocks that cover the registers of the
points wanted, each block as short as it can be (`optimum_blocks`, worked out here without the
library's planner), its bytes framed by the simulator. Its time is the pace alone:
(requests - 1) x pace.

Rows: `inverter_hub` is a `LinkSession.poll` as Home Assistant runs it, wanting every visible
point; a full refresh has every poll group due, a live refresh only the live group.
givenergy-modbus runs `detect()` once (untimed), then its full refresh is `load_config()` and
`refresh()`, its live refresh `refresh()`: it reads whole 60-register banks, whatever is
wanted. Before each timed cycle both clients rest for a pace, so that no cycle waits out the
pace of the one before.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
import importlib.metadata
import sys

from inverterlib.families import create_client
from inverterlib.givenergy.client import GivEnergyClient
from inverterlib.givenergy.wire import PACE
from inverterlib.modbus.planner import Span
from inverterlib.modbus.profile import Access
from inverterlib.model import PollGroup
from inverterlib.session import LinkSession

from benchmarks.report import Run, measured, median, row
from simulators.givenergy import TRANSPARENT, GivEnergySimulator, Request, transparent
from simulators.givenergy_plant import HOLDING, INPUT, Kind, Plant

# The dongle serves registers in banks: a read starts at a multiple of 60 and holds at most 60.
BANK = 60
PACKS = 2
# How long givenergy-modbus waits for a device that may be absent while it detects the plant:
# its own default, with no retry (absent meters stay silent on the simulator).
PROBE_TIMEOUT = 0.5
# Rest before a timed cycle on top of the pace: scheduling slack.
SETTLE = 0.05
# (device address, function, first register, count): one read, as the simulator counts it.
Read = tuple[int, int, int, int]
# (device address, function): one register table of one device.
Table = tuple[int, int]


# A refresh ("full" or "live"), a tool, and its median run.
Row = tuple[str, str, Run]


def optimum_blocks(spans: Iterable[Span]) -> list[tuple[int, int]]:
    """Return the fewest bank-aligned reads, as (first register, count), that cover the spans.

    A read starts at a multiple of 60 and holds at most 60 registers, so the only reads that
    hold register r start at 60 x (r // 60): every 60-register window with a wanted register
    in it needs a read of its own, and one read from the window's start to its last wanted
    register covers the whole window in the fewest bytes. A span that crosses from one
    window into the next fits no read at all.
    """
    ends: dict[int, int] = {}
    for span in spans:
        window = span.address // BANK
        if (span.end - 1) // BANK != window:
            raise ValueError(f"registers {span.address}-{span.end - 1} fit no bank-aligned read")
        ends[window] = max(ends.get(window, 0), span.end)
    return [(window * BANK, end - window * BANK) for window, end in sorted(ends.items())]


def wanted_spans(
    session: LinkSession, client: GivEnergyClient, *, live: bool
) -> dict[Table, list[Span]]:
    """Return the registers of every visible point a refresh reads, by device and table."""
    spans: dict[Table, list[Span]] = {}
    for serial, state in session.devices.items():
        keys = {
            point.key
            for point in session.visible_points(serial)
            if not live or point.group is PollGroup.LIVE
        }
        profile = client.profiles[state.identity.profile or ""]
        device = int(state.identity.address, 16)
        for access, found in profile.spans(state.keys_to_read(keys)).items():
            function = INPUT if access is Access.INPUT else HOLDING
            spans.setdefault((device, function), []).extend(found)
    return spans


def optimum_reads(spans: dict[Table, list[Span]]) -> list[Read]:
    """Return the fewest reads that cover the wanted registers of every table."""
    return [
        (device, function, base, count)
        for (device, function), table_spans in sorted(spans.items())
        for base, count in optimum_blocks(table_spans)
    ]


def exchange_bytes(simulator: GivEnergySimulator, read: Read) -> int:
    """Return the bytes of a read and its reply, framed by the simulator."""
    device, function, base, count = read
    inner = bytes((device, function)) + base.to_bytes(2, "big") + count.to_bytes(2, "big")
    request = transparent(simulator.adapter_serial, inner)
    reply = simulator.answer(
        Request(function=TRANSPARENT, device=device, inner_function=function, base=base, word=count)
    )
    if reply is None:
        raise ValueError(f"the simulated plant does not answer {read}")
    return len(request) + len(reply)


def optimum_run(simulator: GivEnergySimulator, reads: Sequence[Read], pace: float) -> Run:
    """Return the optimum: its reads, their bytes, and the pace between them."""
    return Run(
        requests=len(reads),
        wire_bytes=sum(exchange_bytes(simulator, read) for read in reads),
        seconds=max(len(reads) - 1, 0) * pace,
    )


async def timed(
    simulator: GivEnergySimulator,
    cycle: Callable[[], Awaitable[object]],
    repeats: int,
    pace: float,
) -> Run:
    """Time `repeats` cycles, each after a rest of one pace; return the median of each column."""
    runs = []
    for _ in range(repeats):
        await asyncio.sleep(pace + SETTLE)
        runs.append(await measured(simulator.stats, cycle))
    return median(runs)


async def time_ours(
    simulator: GivEnergySimulator, link: str, repeats: int, pace: float
) -> tuple[dict[str, list[Read]], list[Row]]:
    """Time our session's full and live refresh; return the optimum's reads of each, and rows."""
    client = create_client("givenergy", link)
    assert isinstance(client, GivEnergyClient)
    client.wire.pace = pace
    session = LinkSession(client)
    session.want("benchmark", None)
    await session.start()
    try:
        optimum = {
            refresh: optimum_reads(wanted_spans(session, client, live=refresh == "live"))
            for refresh in ("full", "live")
        }

        async def full() -> None:
            for state in session.devices.values():
                state.read_at.clear()
            await poll()

        async def poll() -> None:
            await session.poll()
            if session.link_error is not None or not all(
                state.available for state in session.devices.values()
            ):
                raise RuntimeError(f"a poll failed: {session.link_error}")

        rows = [
            ("full", "inverter_hub", await timed(simulator, full, repeats, pace)),
            ("live", "inverter_hub", await timed(simulator, poll, repeats, pace)),
        ]
        return optimum, rows
    finally:
        await session.close()


async def time_givenergy_modbus(
    simulator: GivEnergySimulator, host: str, port: int, repeats: int, pace: float
) -> list[Row]:
    """Time givenergy-modbus's full and live refresh of the same plant."""
    from givenergy_modbus.client.client import Client  # noqa: PLC0415 - benchmark only

    tool = f"givenergy-modbus {importlib.metadata.version('givenergy-modbus')}"
    client = Client(host, port, tx_message_wait=pace, tx_jitter=0.0)
    await client.connect()
    try:
        await client.detect(probe_timeout=PROBE_TIMEOUT, probe_retries=0)

        async def full() -> None:
            await client.load_config()
            await client.refresh()

        rows = [
            ("full", tool, await timed(simulator, full, repeats, pace)),
            ("live", tool, await timed(simulator, client.refresh, repeats, pace)),
        ]
        plant = client.plant
        if plant.inverter_serial_number != simulator.plant.serial or len(plant.batteries) != len(
            simulator.plant.packs
        ):
            raise RuntimeError("givenergy-modbus did not read the simulated plant whole")
        return rows
    finally:
        await client.close()


def _blocks(reads: Sequence[Read]) -> str:
    table = {HOLDING: "HR", INPUT: "IR"}
    return ", ".join(
        f"{device:#04x} {table[function]} {base}+{count}" for device, function, base, count in reads
    )


async def benchmark(repeats: int, with_peer: bool, *, pace: float = PACE) -> str:
    """Run the benchmark and return a Markdown table."""
    simulator = GivEnergySimulator(Plant(Kind.GEN2, packs=PACKS))
    host, port = await simulator.start()
    try:
        optimum, rows = await time_ours(simulator, f"tcp://{host}:{port}", repeats, pace)
        if with_peer:
            rows += await time_givenergy_modbus(simulator, host, port, repeats, pace)
        floors = {
            refresh: optimum_run(simulator, reads, pace) for refresh, reads in optimum.items()
        }
    finally:
        await simulator.stop()
    lines = []
    for refresh, floor in floors.items():
        runs = [("optimum", floor), *((tool, run) for r, tool, run in rows if r == refresh)]
        for tool, run in runs:
            ratio = f"{run.seconds / floor.seconds:.2f}" if floor.seconds else "-"
            seconds = f"{run.seconds:.3f}"
            lines.append(row(refresh, tool, run.requests, run.wire_bytes, seconds, ratio))
    ours = {refresh: run for refresh, tool, run in rows if tool == "inverter_hub"}
    against = [
        f"{run.seconds / ours[refresh].seconds:.2f} times our time for a {refresh} refresh "
        f"({run.requests} requests to our {ours[refresh].requests})"
        for refresh, tool, run in rows
        if tool != "inverter_hub"
    ]
    return "\n".join(
        [
            f"GivEnergy Gen 2 hybrid with {PACKS} LV packs on the simulated dongle (loopback TCP), "
            f"every visible point wanted, {pace:g} s between requests; median of {repeats}",
            "",
            "| refresh | tool | requests | bytes | seconds | ratio to optimum |",
            "|---|---|---|---|---|---|",
            *lines,
            "",
            f"Optimum, full: {_blocks(optimum['full'])}.",
            f"Optimum, live: {_blocks(optimum['live'])}.",
            *([f"givenergy-modbus takes {' and '.join(against)}."] if against else []),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Print the GivEnergy benchmark as a Markdown table."""
    parser = argparse.ArgumentParser(prog="scripts/bench givenergy", description=main.__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="refreshes per tool (median)")
    parser.add_argument("--pace", type=float, default=PACE, help="seconds between requests")
    parser.add_argument(
        "--no-givenergy-modbus", action="store_true", help="skip the givenergy-modbus runs"
    )
    args = parser.parse_args(argv)
    print(asyncio.run(benchmark(args.repeats, not args.no_givenergy_modbus, pace=args.pace)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
