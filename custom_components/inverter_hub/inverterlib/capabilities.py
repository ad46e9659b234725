"""What only some families can do, as protocols the other layers check at run time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from .model import DeviceIdentity


@runtime_checkable
class Scanning(Protocol):
    """A client that can search its link for devices at bus addresses."""

    async def scan(self, addresses: Iterable[int]) -> list[DeviceIdentity]:
        """Return the devices that answer at these addresses; silent ones are absent."""


@runtime_checkable
class RawCommands(Protocol):
    """A client that can send a command as typed and return the reply (expert)."""

    async def raw_command(self, command: str) -> str:
        """Send `command` and return the reply payload."""


@runtime_checkable
class RawRegisters(Protocol):
    """A client with raw register access (expert)."""

    async def read_registers(self, unit: int, access: str, address: int, count: int) -> list[int]:
        """Read `count` registers of one table."""

    async def write_registers(self, unit: int, address: int, values: Sequence[int]) -> None:
        """Write holding registers."""
