"""Count one full refresh of each shipped Modbus profile: ours, the optimum, and one read per point.

Everything is counted at the simulator (requests and bytes both ways), for RTU framing (as on
an RS-485 bus at the profile's baud rate; served over TCP so it needs no pty) and for Modbus TCP
(MBAP framing):

* ours: `ModbusClient.read` of every reading, setting and derived value, planned by the
  library's planner;
* optimal: the cheapest cover found independently of the planner, by a shortest path over every
  legal read (each aligned start and end, within the register limit, crossing no barrier),
  then sent through the same client;
* per point: one request per point, which is how Home Assistant core's `modbus` integration
  polls (every entity reads its own registers).

Cost is time on the bus: the bytes, plus the device's silent gap before every request (850 ms
for a Growatt), both counted in byte-equivalents at the line's speed (the profile's baud rate for
RTU, a nominal 1 MB/s for TCP). The bench's link keeps no real gap, so it runs fast; the time
columns are what a real bus would take.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
import sys

from inverterlib.family import KnownDevice
from inverterlib.modbus.client import (
    ModbusClient,
    read_rules,
    serial_bytes_per_second,
)
from inverterlib.modbus.planner import (
    MBAP_COST,
    NETWORK_BYTES_PER_SECOND,
    RTU_COST,
    Block,
    CostModel,
    ReadRules,
    Span,
)
from inverterlib.modbus.profile import Access, Profile
from inverterlib.modbus.registry import ProfileRegistry
from inverterlib.modbus.wire import Framing
from inverterlib.model import DeviceIdentity, PointKind, PollGroup
from inverterlib.transport.tcp import TcpLink

from simulators.modbus import ModbusSimulator

UNIT = 1
# The profile whose refresh must take at least this many times fewer requests than per point.
TARGET = ("sdm630", 10)


def optimal_cover(spans: Sequence[Span], rules: ReadRules, cost: CostModel) -> list[Block]:
    """Return the cheapest legal reads covering every span, by shortest path over all reads.

    A cover can be taken as a chain of reads with rising ends; a span belongs to the first read
    whose end reaches it. So a read (s, e) may follow a read ending at e' when every span ending
    in (e', e] starts at s or later, and the chain is complete once a read reaches the last end.
    """
    ordered = sorted(set(spans), key=lambda span: (span.end, span.address))
    if not ordered:
        return []
    align = 2 if rules.even_alignment else 1
    starts = sorted({span.address - span.address % align for span in ordered})
    ends = sorted({span.end + (-span.end) % align for span in ordered})
    reads = [
        Block(start, end - start)
        for end in ends
        for start in starts
        if start < end and rules.block(start, end) == Block(start, end - start)
    ]
    # best[read] = (bytes, requests, previous read); best_by_end[e] = cheapest read ending at e.
    best: dict[Block, tuple[int, int, Block | None]] = {}
    best_by_end: dict[int, Block] = {}
    for read in reads:  # in order of end
        lowest_start = min(
            (span.address for span in ordered if span.end <= read.end), default=read.address
        )
        options: list[tuple[int, int, Block | None]] = []
        if lowest_start >= read.address:
            options.append((0, 0, None))
        for end in sorted((e for e in best_by_end if e < read.end), reverse=True):
            newly = [span.address for span in ordered if end < span.end <= read.end]
            if newly and min(newly) < read.address:
                break
            previous = best_by_end[end]
            options.append((best[previous][0], best[previous][1], previous))
        if not options:
            continue
        total, requests, previous_read = min(options, key=lambda option: option[:2])
        best[read] = (total + cost.cost(read), requests + 1, previous_read)
        current = best_by_end.get(read.end)
        if current is None or best[read][:2] < best[current][:2]:
            best_by_end[read.end] = read
    last_end = max(span.end for span in ordered)
    finals = [read for read in best if read.end >= last_end]
    if not finals:
        raise ValueError("no legal cover")
    chain: list[Block] = []
    read_or_none: Block | None = min(finals, key=lambda read: best[read][:2])
    while read_or_none is not None:
        chain.append(read_or_none)
        read_or_none = best[read_or_none][2]
    return sorted(chain)


@dataclass(frozen=True, slots=True)
class Bus:
    """The line a profile's device sits on: its speed, its gap, and what a read costs there."""

    bytes_per_second: float
    gap: float
    cost: CostModel

    @classmethod
    def of(cls, profile: Profile, framing: Framing) -> Bus:
        """Return the bus of a profile's device: RS-485 at its baud rate, or a network."""
        if framing == "rtu":
            rate, base = serial_bytes_per_second(profile.link.serial), RTU_COST
        else:
            rate, base = NETWORK_BYTES_PER_SECOND, MBAP_COST
        return cls(rate, profile.link.gap, base.with_gap(profile.link.gap, rate))


@dataclass(frozen=True, slots=True)
class Count:
    """Requests and bytes of one refresh, as the simulator counted them."""

    requests: int
    bytes: int

    def cost(self, bus: Bus) -> int:
        """Return the byte-equivalent: the bytes plus a gap before every request."""
        return self.bytes + self.requests * bus.cost.gap_bytes

    def seconds(self, bus: Bus) -> float:
        """Return the time the refresh takes on the bus."""
        return self.bytes / bus.bytes_per_second + self.requests * bus.gap


@dataclass(frozen=True, slots=True)
class Row:
    """One profile's three refreshes."""

    profile: Profile
    bus: Bus
    points: int
    ours: Count
    optimal: Count
    per_point: Count


def _spans(profile: Profile, access: Access, keys: Sequence[str]) -> list[Span]:
    """Return the registers a refresh of `keys` needs (a derived value needs its inputs)."""
    wanted = set(keys)
    for derived in profile.derived:
        if derived.key in wanted:
            wanted.update(derived.inputs)
    return [
        Span(rp.register.address, rp.register.count)
        for rp in profile.register_points
        if rp.register.access is access and rp.key in wanted
    ]


async def _counted(
    simulator: ModbusSimulator, reads: list[tuple[Access, Block]], client: ModbusClient
) -> Count:
    simulator.reset_counters()
    for access, block in reads:
        await client.read_registers(UNIT, access, block.address, block.count)
    counters = simulator.counters(UNIT)
    return Count(counters.requests, counters.bytes)


async def measure(
    profile: Profile, registry: ProfileRegistry, framing: Framing, group: PollGroup | None = None
) -> Row:
    """Refresh one device three ways (every point, or one poll group); return the counts."""
    simulator = ModbusSimulator({UNIT: profile}, registry=registry, moving=False)
    try:
        if framing == "rtu":
            port = await simulator.serve_rtu_over_tcp()
        else:
            port = await simulator.serve_tcp()
        link = TcpLink("127.0.0.1", port, timeout=2.0)
        client = ModbusClient(
            link,
            framing=framing,
            units=[KnownDevice(address=UNIT, profile=profile.id)],
            registry=registry,
        )
        bus = Bus.of(profile, framing)
        # The real gap is costed, not waited for: the planner sees the device's bus.
        client.cost = bus.cost
        try:
            device: DeviceIdentity = (await client.identify())[0]
            # Every point with a value (an action has none), or those of one poll group.
            keys = [
                point.key
                for point in client.catalogue(device)
                if point.kind is not PointKind.ACTION and (group is None or point.group is group)
            ]
            simulator.reset_counters()
            values = await client.read(device, keys)
            if set(values) != set(keys):
                raise RuntimeError(f"{profile.id}: missing {sorted(set(keys) - set(values))}")
            ours = Count(simulator.counters(UNIT).requests, simulator.counters(UNIT).bytes)
            optimal_reads = [
                (access, block)
                for access in Access
                for block in optimal_cover(
                    _spans(profile, access, keys), read_rules(profile, access), bus.cost
                )
            ]
            per_point_reads = []
            for access in Access:
                rules = read_rules(profile, access)
                for span in _spans(profile, access, keys):
                    block = rules.block(span.address, span.end)
                    assert block is not None
                    per_point_reads.append((access, block))
            optimal = await _counted(simulator, optimal_reads, client)
            per_point = await _counted(simulator, per_point_reads, client)
        finally:
            await client.close()
    finally:
        await simulator.stop()
    return Row(profile, bus, len(keys), ours, optimal, per_point)


def table(rows: Sequence[Row], framing: Framing, scope: str) -> str:
    """Return the rows as a Markdown table."""
    title = (
        "RTU framing (RS-485 at the profile's baud rate)"
        if framing == "rtu"
        else "Modbus TCP (MBAP framing)"
    )
    lines = [
        f"### {scope}, {title}",
        "",
        "| profile | points | gap | ours: requests / bytes / time | optimum: requests / bytes "
        "/ time | per point: requests / bytes / time | fewer requests | faster |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(count: Count, bus: Bus) -> str:
        return f"{count.requests} / {count.bytes} / {count.seconds(bus):.2f} s"

    for row in rows:
        ratio = row.per_point.requests / row.ours.requests
        faster = row.per_point.seconds(row.bus) / row.ours.seconds(row.bus)
        lines.append(
            f"| {row.profile.id} | {row.points} | {row.bus.gap:g} s "
            f"| {cell(row.ours, row.bus)} | {cell(row.optimal, row.bus)} "
            f"| {cell(row.per_point, row.bus)} | {ratio:.1f}x | {faster:.1f}x |"
        )
    return "\n".join(lines)


async def run(framings: Sequence[Framing]) -> tuple[str, bool]:
    """Measure every shipped profile; return the report and whether the goals were met."""
    registry = await ProfileRegistry.async_load()
    report = ["## Modbus: requests and bytes of one refresh, counted at the simulator", ""]
    notes: list[str] = []
    for framing in framings:
        live = [await measure(p, registry, framing, PollGroup.LIVE) for p in registry.all()]
        rows = [await measure(profile, registry, framing) for profile in registry.all()]
        report += [table(rows, framing, "Every point"), ""]
        report += [table(live, framing, "Live points only (every poll)"), ""]
        for row in rows + live:
            if row.ours.cost(row.bus) != row.optimal.cost(row.bus):
                notes.append(f"- {framing}: {row.profile.id}: ours is not the optimum")
            if (
                row.profile.id == TARGET[0]
                and row.per_point.requests < TARGET[1] * row.ours.requests
            ):
                notes.append(
                    f"- {framing}: {row.profile.id}: every point takes less than "
                    f"{TARGET[1]}x fewer requests than per point"
                )
    ok = not notes
    if ok:
        notes = [
            f"Goals met: ours equals the optimum everywhere, and {TARGET[0]} needs at least "
            f"{TARGET[1]}x fewer requests than one read per point."
        ]
    report += ["Goals NOT met:" if not ok else "", *notes]
    return "\n".join(report), ok


def main() -> int:
    """Print the Markdown report; exit 1 if ours is not optimal or the SDM630 goal is missed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks modbus", description=__doc__)
    parser.add_argument("--framing", choices=("rtu", "socket", "both"), default="both")
    args = parser.parse_args()
    framings: list[Framing] = ["rtu", "socket"] if args.framing == "both" else [args.framing]
    report, ok = asyncio.run(run(framings))
    print(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
