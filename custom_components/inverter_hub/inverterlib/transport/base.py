"""The link: one port, one lock, one gap between frames, a byte inbox."""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import logging
import time

from ..errors import LinkError, LinkTimeoutError

_LOGGER = logging.getLogger(__name__)


class Inbox:
    """Bytes received from a port, waiting to be read by the one holder of the link."""

    def __init__(self) -> None:
        """Start empty."""
        self._buffer = bytearray()
        self._changed = asyncio.Event()
        self._error: Exception | None = None

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data
        self._changed.set()

    def fail(self, error: Exception) -> None:
        """Wake readers with an error (the port closed or broke)."""
        self._error = error
        self._changed.set()

    def clear(self) -> bytes:
        """Drop and return whatever is buffered (stale or unsolicited bytes)."""
        stale = bytes(self._buffer)
        self._buffer.clear()
        return stale

    async def _wait(self, deadline: float) -> None:
        if self._error is not None:
            raise LinkError(str(self._error) or "link closed") from self._error
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LinkTimeoutError("no complete reply before the timeout")
        self._changed.clear()
        try:
            async with asyncio.timeout(remaining):
                await self._changed.wait()
        except TimeoutError as err:
            raise LinkTimeoutError("no complete reply before the timeout") from err

    async def read_until(self, separator: bytes, timeout: float) -> bytes:
        """Return bytes up to and including `separator`."""
        deadline = time.monotonic() + timeout
        while (index := self._buffer.find(separator)) < 0:
            await self._wait(deadline)
        end = index + len(separator)
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data

    async def read_exactly(self, count: int, timeout: float) -> bytes:
        """Return exactly `count` bytes."""
        deadline = time.monotonic() + timeout
        while len(self._buffer) < count:
            await self._wait(deadline)
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    async def read_some(self, timeout: float) -> bytes:
        """Return what is buffered, waiting for at least one byte."""
        deadline = time.monotonic() + timeout
        while not self._buffer:
            await self._wait(deadline)
        return self.clear()


class Link(ABC):
    """A byte pipe to one port; every exchange holds the lock and keeps the frame gap."""

    def __init__(self, *, gap: float = 0.0, timeout: float = 2.0) -> None:
        """Configure the inter-frame gap and the reply timeout in seconds."""
        self.gap = gap
        self.timeout = timeout
        self.lock = asyncio.Lock()
        self.inbox = Inbox()
        self.bytes_out = 0
        self.bytes_in = 0
        self._last_frame_end = 0.0

    @property
    @abstractmethod
    def description(self) -> str:
        """Return the link as a user wrote it (for logs and errors)."""

    @property
    @abstractmethod
    def is_open(self) -> bool:
        """Return whether the port is open."""

    @abstractmethod
    async def _open(self) -> None:
        """Open the port and start feeding the inbox."""

    @abstractmethod
    async def _close(self) -> None:
        """Close the port."""

    @abstractmethod
    def _send(self, data: bytes) -> None:
        """Queue bytes for the port."""

    async def _flush(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Wait until queued bytes have left, where the port can tell."""

    async def open(self) -> None:
        """Open the port if it is closed."""
        if self.is_open:
            return
        self.inbox = Inbox()
        try:
            await self._open()
        except LinkError:
            raise
        except (OSError, ValueError) as err:
            raise LinkError(f"cannot open {self.description}: {err}") from err

    async def close(self) -> None:
        """Close the port if it is open."""
        if self.is_open:
            await self._close()

    async def write(self, data: bytes) -> None:
        """Send bytes."""
        if not self.is_open:
            raise LinkError(f"{self.description} is not open")
        try:
            self._send(data)
            await self._flush()
        except OSError as err:
            raise LinkError(f"write to {self.description} failed: {err}") from err
        self.bytes_out += len(data)

    async def read_until(self, separator: bytes, timeout: float | None = None) -> bytes:
        """Read up to and including `separator`."""
        data = await self.inbox.read_until(separator, self.timeout if timeout is None else timeout)
        self.bytes_in += len(data)
        return data

    async def read_exactly(self, count: int, timeout: float | None = None) -> bytes:
        """Read exactly `count` bytes."""
        data = await self.inbox.read_exactly(count, self.timeout if timeout is None else timeout)
        self.bytes_in += len(data)
        return data

    async def read_some(self, timeout: float | None = None) -> bytes:
        """Read whatever has arrived, waiting for at least one byte."""
        data = await self.inbox.read_some(self.timeout if timeout is None else timeout)
        self.bytes_in += len(data)
        return data

    @asynccontextmanager
    async def exchange(self) -> AsyncIterator[Link]:
        """Hold the link for one request/reply, keeping the inter-frame gap."""
        async with self.lock:
            await self.open()
            wait = self._last_frame_end + self.gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            stale = self.inbox.clear()
            if stale:
                _LOGGER.debug("%s: dropped %d stale bytes", self.description, len(stale))
            try:
                yield self
            except LinkTimeoutError:
                # A late reply must not be taken for the answer to the next request.
                self.inbox.clear()
                raise
            except LinkError:
                await self.close()
                raise
            finally:
                self._last_frame_end = time.monotonic()
