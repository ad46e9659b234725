"""Writing a setting's register steps as one unit: every step, or none left changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
import logging

from ..errors import InverterError
from .planner import CostModel, ReadRules, Span, plan_reads
from .profile import RegisterWrite

_LOGGER = logging.getLogger(__name__)

# Read `count` holding registers from `address`; write one register.
ReadBlock = Callable[[int, int], Awaitable[Sequence[int]]]
WriteOne = Callable[[RegisterWrite], Awaitable[None]]


async def _held(
    addresses: Sequence[int], read: ReadBlock, rules: ReadRules, cost: CostModel
) -> Mapping[int, int]:
    """Return what the registers hold now, read in the fewest requests the rules allow."""
    found: dict[int, int] = {}
    for block in plan_reads([Span(address, 1) for address in addresses], rules, cost):
        values = await read(block.address, block.count)
        found.update(zip(range(block.address, block.end), values, strict=True))
    return found


async def write_unit(
    steps: Sequence[RegisterWrite],
    read: ReadBlock,
    write: WriteOne,
    *,
    rules: ReadRules,
    cost: CostModel,
) -> None:
    """Write the steps in order, restoring every register tried if a step fails.

    Bit-field steps keep the other bits of their register; a register that already holds
    its value is not written. The failed step is restored too: its reply may be what was
    lost, not the write.
    """
    before = await _held(sorted({step.address for step in steps}), read, rules, cost)
    tried: list[int] = []
    try:
        for step in steps:
            value = step.onto(before[step.address])
            if value != before[step.address]:
                tried.append(step.address)
                await write(RegisterWrite(address=step.address, value=value))
    except InverterError:
        for address in reversed(tried):
            try:
                await write(RegisterWrite(address=address, value=before[address]))
            except InverterError as err:
                _LOGGER.warning("could not restore register %d: %s", address, err)
        raise
