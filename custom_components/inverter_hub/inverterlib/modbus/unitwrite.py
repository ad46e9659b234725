"""Writing a setting's register steps as one unit: every step, or none left changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
import logging

from ..errors import InverterError
from .profile import RegisterWrite

_LOGGER = logging.getLogger(__name__)

ReadHeld = Callable[[Sequence[int]], Awaitable[Mapping[int, int]]]
WriteOne = Callable[[RegisterWrite], Awaitable[None]]


async def write_unit(steps: Sequence[RegisterWrite], read: ReadHeld, write: WriteOne) -> None:
    """Write the steps in order, restoring every register tried if a step fails.

    Bit-field steps keep the other bits of their register; a register that already holds
    its value is not written. The failed step is restored too: its reply may be what was
    lost, not the write.
    """
    before = await read(sorted({step.address for step in steps}))
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
