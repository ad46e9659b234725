"""Cover the registers due this cycle with the cheapest set of reads the device allows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Registers `address .. address + count - 1` that one value needs, read in one request."""

    address: int
    count: int

    @property
    def end(self) -> int:
        """Return the address just past the span."""
        return self.address + self.count


@dataclass(frozen=True, slots=True, order=True)
class Block:
    """One read request: `count` registers from `address`."""

    address: int
    count: int

    @property
    def end(self) -> int:
        """Return the address just past the block."""
        return self.address + self.count

    def covers(self, span: Span) -> bool:
        """Return whether the whole span is inside this block."""
        return self.address <= span.address and span.end <= self.end


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadRules:
    """What one read of a device may ask for."""

    max_registers: int = 125
    even_alignment: bool = False
    barriers: tuple[int, ...] = ()
    # Every read starts at a multiple of this (GivEnergy dongles serve 60-register banks).
    alignment: int = 1
    # ... counted from this register (GivEnergy's three-phase banks start at 1000, 1060, ...).
    alignment_base: int = 0

    def block(self, start: int, end: int) -> Block | None:
        """Return the smallest legal block holding `start .. end - 1`, or None if there is none."""
        if self.even_alignment:
            start, end = start - start % 2, end + end % 2
        start -= (start - self.alignment_base) % self.alignment
        if end - start > self.max_registers:
            return None
        # A barrier is the first address of a region no read may enter from below.
        if any(start < barrier < end for barrier in self.barriers):
            return None
        return Block(start, end - start)


@dataclass(frozen=True, kw_only=True, slots=True)
class CostModel:
    """What one read costs, in bytes on the wire: overhead, registers, and the silent gap.

    `gap_bytes` is the bus's inter-frame silence expressed as the bytes the line could have
    carried meanwhile, so that the cheapest plan in bytes is also the quickest in time.
    """

    request_bytes: int
    reply_bytes: int
    register_bytes: int = 2
    gap_bytes: int = 0

    def cost(self, block: Block) -> int:
        """Return the byte-equivalent one read of `block` costs, both ways plus the gap."""
        return (
            self.request_bytes
            + self.reply_bytes
            + self.register_bytes * block.count
            + self.gap_bytes
        )

    def total(self, blocks: Iterable[Block]) -> int:
        """Return the byte-equivalent of a set of reads."""
        return sum(self.cost(block) for block in blocks)

    def with_gap(self, gap: float, bytes_per_second: float) -> CostModel:
        """Return this cost with a silent gap of `gap` seconds on a line of that speed."""
        if gap < 0 or bytes_per_second <= 0:
            raise ValueError(f"cannot cost a gap of {gap} s at {bytes_per_second} bytes/s")
        gap_bytes = round(gap * bytes_per_second)
        return self if gap_bytes == self.gap_bytes else replace(self, gap_bytes=gap_bytes)


# RTU: request = unit, function, address, count, CRC; reply = unit, function, byte count, CRC.
RTU_COST = CostModel(request_bytes=8, reply_bytes=5)
# MBAP: a 7-byte header replaces unit and CRC, so TCP/UDP requests are 12 bytes, replies 9 + data.
MBAP_COST = CostModel(request_bytes=12, reply_bytes=9)
# A network link has no baud rate; this nominal speed turns its gap into bytes. Any realistic
# gap then outweighs every hole a read may span, which is right: a round trip costs far more.
NETWORK_BYTES_PER_SECOND = 1_000_000


class UnreadableSpanError(ValueError):
    """A span cannot be read in one request under the device's rules."""


def plan_reads(spans: Iterable[Span], rules: ReadRules, cost: CostModel) -> list[Block]:
    """Return the reads covering every span at the lowest cost (then in fewest requests).

    Exact, by dynamic programming. Without loss, the reads of an optimal plan can be taken
    with strictly increasing starts and ends (a read inside another is dropped); giving each
    span to the first read whose end reaches it then gives every read a run of consecutive
    spans in end order, and shrinking that read to the smallest legal block around its run
    costs nothing more. So the best plan for the first j spans (by end) is the best plan for
    the first i plus the tight block around spans i..j-1, minimised over i.
    """
    ordered: Sequence[Span] = sorted(set(spans), key=lambda span: (span.end, span.address))
    count = len(ordered)
    # best[j] = (cost, requests, first span of the last read, last read) for the first j spans.
    best: list[tuple[int, int, int, Block | None] | None] = [None] * (count + 1)
    best[0] = (0, 0, 0, None)
    for j in range(1, count + 1):
        end = ordered[j - 1].end
        start = ordered[j - 1].address
        for i in range(j - 1, -1, -1):
            start = min(start, ordered[i].address)
            block = rules.block(start, end)
            if block is None:
                # Taking in more spans only widens the block: it stays illegal.
                break
            previous = best[i]
            assert previous is not None  # every shorter prefix was coverable, or we raised
            candidate = (previous[0] + cost.cost(block), previous[1] + 1, i, block)
            current = best[j]
            if current is None or candidate[:2] < current[:2]:
                best[j] = candidate
        if best[j] is None:
            raise UnreadableSpanError(
                f"registers {ordered[j - 1].address}..{ordered[j - 1].end - 1} cannot be read "
                f"in one request (max {rules.max_registers}, even alignment "
                f"{rules.even_alignment}, alignment {rules.alignment}, "
                f"barriers {list(rules.barriers)})"
            )
    blocks: list[Block] = []
    j = count
    while j > 0:
        entry = best[j]
        assert entry is not None
        assert entry[3] is not None
        blocks.append(entry[3])
        j = entry[2]
    return sorted(blocks)


def one_read_per_span(spans: Iterable[Span], rules: ReadRules) -> list[Block]:
    """Return one read per distinct span: how a register-per-entity poller reads a device."""
    blocks = []
    for span in sorted(set(spans)):
        block = rules.block(span.address, span.end)
        if block is None:
            raise UnreadableSpanError(f"registers {span.address}..{span.end - 1} are unreadable")
        blocks.append(block)
    return blocks
