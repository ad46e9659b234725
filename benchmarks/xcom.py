"""Time one live Xcom cycle of three Xtenders and a VarioTrack: ours, pystuderxcom, the wire floor.

Serial: the simulated Xcom-232i sits on a pty and paces every byte both ways at 11/38400 s (8E1
plus the start bit), once as a gateway without multi-info and once with it. The floor is the
wire time of the cycle's fewest bytes, framed by the simulator: one request and reply per info,
or one multi-info exchange. The simulator models no turnaround (its latency is 0), so the floor
counts bytes only. TCP: unpaced loopback, one gateway with multi-info, read per info and by
multi-info; what counts there is the number of requests.

Rows: `inverter_hub` reads the units' live infos with one `read_many` (the library alone);
`inverter_hub session` is a `LinkSession.poll` as Home Assistant runs it, which also reads the
system device's totals. pystuderxcom runs the same infos of the same units through its
`request_values`, in the same event loop, against the same simulator.

The event loop waits with select(), whose timeouts are exact to the microsecond; epoll rounds
them up to whole milliseconds, which would make the simulator's pacing about a millisecond late
per exchange and bill that to the client.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Sequence
import importlib.metadata
from pathlib import Path
import selectors
import sys
import tempfile

from inverterlib.families import create_client
from inverterlib.model import PointKind, PollGroup
from inverterlib.session import LinkSession
from inverterlib.transport.url import parse_link
from inverterlib.xcom.client import XcomClient
from inverterlib.xcom.codec import MULTI_INFO_MAX

from benchmarks.report import Run, measured, median, row
from simulators.xcom import BITS_PER_BYTE, XCOM_ADDRESS, XcomSimulator
from simulators.xcom_frames import (
    INFO,
    MULTI_INFO,
    READ,
    VALUE,
    Request,
    build_frame,
)

BAUD = 38400
DTE_ADDRESS = 1
# (info number, unit address)
Pair = tuple[int, int]


# A tool and its median cycle.
Row = tuple[str, Run]


def precise_loop() -> asyncio.AbstractEventLoop:
    """Return an event loop whose timers fire on time to the microsecond."""
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


def floor_seconds(wire_bytes: int, baud: float = BAUD) -> float:
    """Return the time `wire_bytes` take on the wire at `baud` (8E1 and a start bit)."""
    return wire_bytes * BITS_PER_BYTE / baud


def exchange_bytes(simulator: XcomSimulator, request: Request) -> int:
    """Return the bytes of a request and its reply, framed by the simulator."""
    body = (
        bytes([0, request.service])
        + request.object_type.to_bytes(2, "little")
        + request.object_id.to_bytes(4, "little")
        + request.property_id.to_bytes(2, "little")
        + request.data
    )
    sent = build_frame(0, request.source, request.destination, body)
    return len(sent) + len(simulator.answer(request))


def floor_exchanges(
    simulator: XcomSimulator, pairs: Sequence[Pair], *, multi_info: bool
) -> tuple[int, int]:
    """Return the fewest requests that read every pair and their bytes, replies included.

    Per info that is one exchange per pair; by multi-info, one per 76 pairs.
    """
    if not multi_info:
        requests = [_read(address, INFO, number) for number, address in pairs]
    else:
        units = {address: unit.index for address, unit in simulator.units.items()}
        items = [number.to_bytes(2, "little") + bytes([units[a]]) for number, a in pairs]
        requests = [
            _read(XCOM_ADDRESS, MULTI_INFO, 1, b"".join(items[start : start + MULTI_INFO_MAX]))
            for start in range(0, len(items), MULTI_INFO_MAX)
        ]
    return len(requests), sum(exchange_bytes(simulator, request) for request in requests)


def _read(destination: int, object_type: int, object_id: int, data: bytes = b"") -> Request:
    return Request(
        source=DTE_ADDRESS,
        destination=destination,
        service=READ,
        object_type=object_type,
        object_id=object_id,
        property_id=VALUE,
        data=data,
    )


async def timed(
    simulator: XcomSimulator, cycle: Callable[[], Awaitable[object]], repeats: int
) -> list[Run]:
    """Run one untimed cycle, then time `repeats` cycles counted at the simulator."""
    await cycle()
    runs = []
    for _ in range(repeats):
        await simulator.drain()
        runs.append(await measured(simulator.stats, cycle))
    return runs


def live_keys(client: XcomClient) -> dict[int, list[str]]:
    """Return the live readings shown by default of every unit, by unit address."""
    return {
        address: [
            point.key
            for point in unit.catalogue.points
            if point.group is PollGroup.LIVE
            and point.kind is PointKind.READING
            and point.enabled_by_default
        ]
        for address, unit in client.units.items()
    }


def info_pairs(client: XcomClient, wanted: dict[int, list[str]]) -> list[Pair]:
    """Return the (info, unit address) pairs behind the wanted keys."""
    return [
        (client.units[address].catalogue.bindings[key].datapoint.number, address)
        for address, keys in wanted.items()
        for key in keys
    ]


async def time_ours(
    simulator: XcomSimulator, link: str, repeats: int, *, multi_info: bool | None = None
) -> tuple[list[Pair], list[Row], Run]:
    """Time our client's `read_many` and a session's poll; return the pairs, rows and setup.

    The setup is the session's start: identify, with the ranges of the basic settings.
    `multi_info` None leaves the client to detect what the gateway offers.
    """
    client = create_client("xcom", link)
    assert isinstance(client, XcomClient)
    session = LinkSession(client)
    try:
        setup = await measured(simulator.stats, session.start)
        if multi_info is not None:
            client.multi_info = multi_info
        wanted = live_keys(client)

        async def read_units() -> None:
            await client.read_many(wanted)

        rows = [
            ("inverter_hub", median(await timed(simulator, read_units, repeats))),
            # The first poll also reads the settings; the timed ones read the live group only.
            ("inverter_hub session", median(await timed(simulator, session.poll, repeats))),
        ]
        return info_pairs(client, wanted), rows, setup
    finally:
        await session.close()


async def time_pystuderxcom(
    simulator: XcomSimulator, link: str, pairs: Sequence[Pair], repeats: int, baud: float = BAUD
) -> Row:
    """Time pystuderxcom's `request_values` of the same pairs on the same link (pty or TCP)."""
    from pystuderxcom import (  # noqa: PLC0415 - optional, benchmark only
        AsyncXcomApiSerial,
        AsyncXcomApiTcp,
        XcomApiTcpMode,
        XcomDataset,
        XcomValueItem,
        XcomValueSet,
    )

    spec = parse_link(link)
    if spec.kind == "serial":
        # Its serial API always opens 8N1; a pty ignores parity, a real Xcom-232i would not.
        api = AsyncXcomApiSerial(port=spec.target, baudrate=round(baud))
    else:
        api = AsyncXcomApiTcp(
            mode=XcomApiTcpMode.CLIENT, remote_ip=spec.target, remote_port=spec.port
        )
    dataset = await XcomDataset.async_get_instance()
    items = [XcomValueItem(dataset.get_by_nr(number), device=address) for number, address in pairs]
    await api.start()
    try:
        runs = await timed(simulator, lambda: api.request_values(XcomValueSet(items)), repeats)
    finally:
        await api.stop()
    return f"pystuderxcom {importlib.metadata.version('pystuderxcom')}", median(runs)


async def serial_benchmark(
    path: str, repeats: int, with_peer: bool, *, multi_info: bool, baud: float = BAUD
) -> tuple[list[str], Run]:
    """Return the table lines of the cycle on a paced pty, and our setup's run on it."""
    simulator = XcomSimulator(
        xtenders=3, variotrack=True, bsp=False, multi_info=multi_info, baud=baud
    )
    await simulator.start_pty(path)
    try:
        pairs, rows, setup = await time_ours(simulator, path, repeats)
        if with_peer:
            rows.append(await time_pystuderxcom(simulator, path, pairs, repeats, baud))
        requests, wire = floor_exchanges(simulator, pairs, multi_info=multi_info)
    finally:
        await simulator.stop()
    gateway = "multi-info" if multi_info else "per info"
    floor = floor_seconds(wire, baud)
    lines = [row(gateway, "wire floor", requests, wire, f"{floor:.3f}", "1.00")]
    for tool, run in rows:
        seconds, ratio = f"{run.seconds:.3f}", f"{run.seconds / floor:.2f}"
        lines.append(row(gateway, tool, run.requests, run.wire_bytes, seconds, ratio))
    return lines, setup


async def tcp_benchmark(repeats: int, with_peer: bool) -> list[str]:
    """Return the table lines of the cycle over TCP, read per info and by multi-info."""
    simulator = XcomSimulator(xtenders=3, variotrack=True, bsp=False, multi_info=True)
    host, port = await simulator.start_tcp()
    link = f"tcp://{host}:{port}"
    try:
        per_info = (await time_ours(simulator, link, repeats, multi_info=False))[1]
        pairs, multi, _ = await time_ours(simulator, link, repeats, multi_info=True)
        peer = [await time_pystuderxcom(simulator, link, pairs, repeats)] if with_peer else []
    finally:
        await simulator.stop()
    lines = [
        row(reads, tool, run.requests, run.wire_bytes, f"{run.seconds * 1000:.1f}")
        for reads, rows in (("per info", per_info), ("multi-info", [*multi, *peer]))
        for tool, run in rows
    ]
    fewer = ", ".join(
        f"{tool} {one.requests / batched.requests:.0f} times"
        for (tool, one), (_, batched) in zip(per_info, multi, strict=True)
    )
    return [*lines, "", f"Multi-info takes fewer requests than per-info reads: {fewer}."]


async def benchmark(repeats: int, with_peer: bool, *, baud: float = BAUD) -> str:
    """Run the benchmark and return Markdown tables."""
    serial: list[str] = []
    setups: list[str] = []
    with tempfile.TemporaryDirectory() as directory:
        for multi_info in (False, True):
            lines, setup = await serial_benchmark(
                str(Path(directory) / "xcom"), repeats, with_peer, multi_info=multi_info, baud=baud
            )
            serial.extend(lines)
            gateway = "multi-info" if multi_info else "per info"
            setups.append(f"{gateway}: {setup.seconds:.2f} s, {setup.requests} requests")
    tcp = await tcp_benchmark(repeats, with_peer)
    return "\n".join(
        [
            f"Xcom live cycle, three Xtenders and a VarioTrack, on a pty at {baud:.0f} Bd 8E1, "
            f"every byte paced; median of {repeats}",
            "",
            "| gateway | tool | requests | bytes | seconds | ratio to floor |",
            "|---|---|---|---|---|---|",
            *serial,
            "",
            "Setup (identify every unit, read the basic settings' ranges once per kind and "
            f"firmware): {'; '.join(setups)}.",
            "",
            f"The same cycle over TCP (loopback, unpaced); median of {repeats}",
            "",
            "| reads | tool | requests | bytes | ms |",
            "|---|---|---|---|---|",
            *tcp,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Print the Xcom benchmark as Markdown tables."""
    parser = argparse.ArgumentParser(prog="scripts/bench xcom", description=main.__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="cycles per tool (median)")
    parser.add_argument("--no-pystuderxcom", action="store_true", help="skip the pystuderxcom runs")
    parser.add_argument("--baud", type=float, default=BAUD, help="speed of the paced pty")
    args = parser.parse_args(argv)
    tables = asyncio.run(
        benchmark(args.repeats, not args.no_pystuderxcom, baud=args.baud), loop_factory=precise_loop
    )
    print(tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
