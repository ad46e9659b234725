"""What the benchmarks share: a measured run, its median, and the Markdown rows of their tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
import statistics
import time
from typing import Protocol


@dataclass(frozen=True, kw_only=True, slots=True)
class Run:
    """One refresh or cycle as the simulator saw it, and how long it took."""

    requests: int
    wire_bytes: int
    seconds: float


class Counts(Protocol):
    """A simulator's running traffic counters."""

    @property
    def total(self) -> int:
        """Return the requests served so far."""

    @property
    def bytes_in(self) -> int:
        """Return the bytes received so far."""

    @property
    def bytes_out(self) -> int:
        """Return the bytes sent so far."""


async def measured(stats: Counts, cycle: Callable[[], Awaitable[object]]) -> Run:
    """Run one cycle; return the requests and bytes the simulator counted, and its wall time."""
    requests, wire = stats.total, stats.bytes_in + stats.bytes_out
    start = time.perf_counter()
    await cycle()
    seconds = time.perf_counter() - start
    return Run(
        requests=stats.total - requests,
        wire_bytes=stats.bytes_in + stats.bytes_out - wire,
        seconds=seconds,
    )


def median(runs: Iterable[Run]) -> Run:
    """Return the median of each column of the runs."""
    runs = list(runs)
    return Run(
        requests=round(statistics.median(run.requests for run in runs)),
        wire_bytes=round(statistics.median(run.wire_bytes for run in runs)),
        seconds=statistics.median(run.seconds for run in runs),
    )


def row(*cells: object) -> str:
    """Return one row of a Markdown table."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"
