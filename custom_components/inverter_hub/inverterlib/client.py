"""The contract every family's client fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence

from .model import DeviceIdentity, Point, Value
from .transport.base import Link


class InverterClient(ABC):
    """Talks one family's protocol to every device on one link."""

    family: str

    def __init__(self, link: Link) -> None:
        """Bind the client to its link."""
        self.link = link

    async def connect(self) -> None:
        """Open the link."""
        await self.link.open()

    async def close(self) -> None:
        """Close the link."""
        await self.link.close()

    def diagnostics(self) -> dict[str, object]:
        """Return counters a maintainer may need (flash writes, restarts); none by default."""
        return {}

    @abstractmethod
    async def identify(self) -> list[DeviceIdentity]:
        """Probe the link and return the devices found on it (learning their dialect)."""

    @abstractmethod
    def catalogue(self, device: DeviceIdentity) -> Sequence[Point]:
        """Return the points this device has, as learned by `identify`."""

    @abstractmethod
    async def read(self, device: DeviceIdentity, keys: Collection[str]) -> dict[str, Value]:
        """Read the named points in as few transactions as the device allows."""

    @abstractmethod
    async def write(self, device: DeviceIdentity, point: Point, value: Value) -> None:
        """Send one already validated setting or action; raise on refusal."""
