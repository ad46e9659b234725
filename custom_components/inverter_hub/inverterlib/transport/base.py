"""The link: one port, one lock, one gap between frames, a bounded byte inbox.

After an exchange that timed out or got a bad frame the line is out of step: a late reply may
still be on its way. The next exchange then first drains the line until it has been quiet for
the family's quiet period, and accepts its own reply only if silence follows it too, so a late
reply is dropped, never decoded as the answer to the next request.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import logging
import time

from ..errors import FrameError, LinkError, LinkTimeoutError

_LOGGER = logging.getLogger(__name__)

# Larger than any frame of the families here (a Modbus ADU is 260 bytes); a family passes its own.
DEFAULT_MAX_INBOX = 4096
# How long the line must stay silent after a failed exchange before the next request goes out.
DEFAULT_QUIET = 0.1


class Inbox:
    """Bytes received from a port, waiting to be read by the one holder of the link."""

    def __init__(self, limit: int = DEFAULT_MAX_INBOX) -> None:
        """Start empty; hold at most `limit` bytes."""
        self.limit = limit
        self.overflowed = False
        self._buffer = bytearray()
        self._changed = asyncio.Event()
        self._error: Exception | None = None

    def __len__(self) -> int:
        """Return the number of bytes waiting."""
        return len(self._buffer)

    @property
    def failed(self) -> bool:
        """Return whether the port behind the inbox closed or broke."""
        return self._error is not None

    def feed(self, data: bytes) -> None:
        """Append received bytes; drop everything once more than `limit` would wait."""
        if len(self._buffer) + len(data) > self.limit:
            # A reply that never ends (no terminator, a flooding peer) must not fill memory.
            self._buffer.clear()
            self.overflowed = True
        else:
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
        self.overflowed = False
        return stale

    def _check_overflow(self) -> None:
        if self.overflowed:
            raise FrameError(f"more than {self.limit} bytes arrived without a complete frame")

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
        self._check_overflow()
        while (index := self._buffer.find(separator)) < 0:
            await self._wait(deadline)
            self._check_overflow()
        end = index + len(separator)
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data

    async def read_exactly(self, count: int, timeout: float) -> bytes:
        """Return exactly `count` bytes."""
        deadline = time.monotonic() + timeout
        self._check_overflow()
        while len(self._buffer) < count:
            await self._wait(deadline)
            self._check_overflow()
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    async def read_some(self, timeout: float) -> bytes:
        """Return what is buffered, waiting for at least one byte."""
        deadline = time.monotonic() + timeout
        self._check_overflow()
        while not self._buffer:
            await self._wait(deadline)
            self._check_overflow()
        return self.clear()

    async def settle(self, quiet: float, limit: float) -> int:
        """Drop bytes until none arrived for `quiet` seconds; return how many were dropped."""
        deadline = time.monotonic() + limit
        dropped = 0
        while True:
            dropped += len(self.clear())
            if self._error is not None:
                return dropped  # the port is gone: nothing more can arrive on it
            now = time.monotonic()
            if now >= deadline:
                raise LinkTimeoutError(f"the line did not go quiet within {limit:.1f} s")
            self._changed.clear()
            try:
                async with asyncio.timeout(min(quiet, deadline - now)):
                    await self._changed.wait()
            except TimeoutError:
                if time.monotonic() - now >= quiet:
                    return dropped


class Link(ABC):
    """A byte pipe to one port; every exchange holds the lock and keeps the frame gap."""

    def __init__(
        self,
        *,
        gap: float = 0.0,
        timeout: float = 2.0,
        quiet: float = DEFAULT_QUIET,
        max_inbox: int = DEFAULT_MAX_INBOX,
    ) -> None:
        """Configure the frame gap, the reply timeout, the drain quiet period and inbox bound."""
        self.gap = gap
        self.timeout = timeout
        self.quiet = quiet
        self.max_inbox = max_inbox
        self.lock = asyncio.Lock()
        self.inbox = Inbox(max_inbox)
        self.bytes_out = 0
        self.bytes_in = 0
        # Requests sent under the lock: the session's health divides its poll time by them.
        self.exchanges = 0
        self._last_frame_end = 0.0
        self._out_of_step = False
        self._sent = False

    def configure(self, *, quiet: float, max_inbox: int) -> None:
        """Apply a family's framing: its drain quiet period and its largest frame."""
        self.quiet = quiet
        self.max_inbox = self.inbox.limit = max_inbox

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

    def _peer_closed(self) -> bool:
        """Return whether the peer has closed a port that still looks open, where it can tell."""
        return False

    @property
    def out_of_step(self) -> bool:
        """Return whether the last exchange failed in a way that may leave a reply on its way."""
        return self._out_of_step or self.inbox.overflowed

    @property
    def _broken(self) -> bool:
        """Return whether the port went away (or is going) without this side closing it."""
        return not self.is_open or self.inbox.failed or self._peer_closed()

    async def open(self) -> None:
        """Open the port if it is closed."""
        if self.is_open:
            return
        self.inbox = Inbox(self.max_inbox)
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

    async def _reopen_if_broken(self) -> None:
        """Open the port, first closing it if the peer closed it (or it broke) meanwhile."""
        if self.is_open and self._broken:
            _LOGGER.debug("%s was closed by the peer; reopening", self.description)
            await self.close()
        await self.open()

    async def write(self, data: bytes) -> None:
        """Send bytes, reopening a port the peer closed before anything of the request left."""
        if self._broken:
            if self._sent:
                raise LinkError(f"{self.description} closed in the middle of a request")
            await self._reopen_if_broken()
        try:
            self._send(data)
            await self._flush()
        except OSError as err:
            raise LinkError(f"write to {self.description} failed: {err}") from err
        self._sent = True
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

    async def _drain(self) -> None:
        """Drop what arrives until the line has been quiet for the quiet period."""
        quiet = max(self.quiet, self.gap)
        dropped = await self.inbox.settle(quiet, self.timeout + quiet)
        if dropped:
            _LOGGER.debug("%s: drained %d late bytes", self.description, dropped)

    async def _expect_silence(self) -> None:
        """Refuse the reply just read if more bytes follow it: it answered an earlier request."""
        quiet = max(self.quiet, self.gap)
        if await self.inbox.settle(quiet, self.timeout + quiet):
            raise FrameError(f"{self.description}: another frame followed the reply")

    @asynccontextmanager
    async def exchange(self) -> AsyncIterator[Link]:
        """Hold the link for one request/reply, keeping the gap and the line in step."""
        async with self.lock:
            self.exchanges += 1
            wait = self._last_frame_end + self.gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            # Opened after the gap: a peer that closes after each reply often does so in the gap.
            await self._reopen_if_broken()
            suspect = self.out_of_step
            if suspect:
                await self._drain()
                self._out_of_step = False
            elif stale := self.inbox.clear():
                _LOGGER.debug("%s: dropped %d stale bytes", self.description, len(stale))
            self._sent = False
            try:
                yield self
                if suspect:
                    await self._expect_silence()
            except (LinkTimeoutError, FrameError):
                self._out_of_step = True
                raise
            except LinkError:
                await self.close()
                raise
            finally:
                self._last_frame_end = time.monotonic()
