"""What the benchmarks share: a measured run and the Markdown rows of their tables."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class Run:
    """One refresh or cycle as the simulator saw it, and how long it took."""

    requests: int
    wire_bytes: int
    seconds: float


def row(*cells: object) -> str:
    """Return one row of a Markdown table."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"
