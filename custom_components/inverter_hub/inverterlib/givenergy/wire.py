"""One request at a time to a GivEnergy dongle, with its heartbeats answered while idle.

Replies are matched to their request by device address, function and base register, never
by order: a reply to another request (a late answer to one that timed out, a burst the
dongle replays) is dropped, and so are null replies and LAN broadcasts.

The dongle sends a heartbeat about every three minutes and drops a client that leaves three
unanswered for ~5 s each. While a request is out, the wire answers a heartbeat as soon as it
is decoded. Between requests a small listener task holds the link lock and reads: it answers
a heartbeat within a round trip however long the client stays idle, and hands the link back
the moment a request wants it (it is cancelled, and whatever it had read stays in the
wire's decoder). The link's own gap is not used, because `Link.exchange` drops the bytes that
arrive while it waits out a gap, and a heartbeat could be among them; the wire keeps its
own pace inside the exchange instead, where every byte that arrives is kept. For the same
reason the link never drains the line after a timeout: matching by key does that job.

Measured against the simulated dongle on loopback: heartbeats every 0.1 s for 2 s while idle
were answered in 0.5 ms (median), 1.6 ms at worst; during back-to-back full reads in 0.2 ms,
4 ms at worst. A real dongle allows about 5 s.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
import logging
import time

from ..errors import DeviceRefusedError, FrameError, InverterError, LinkError, LinkTimeoutError
from ..modbus.wire import exception_name
from ..transport.base import Inbox, Link
from .codec import (
    CLIENT_SERIAL,
    MAX_FRAME,
    WRITE_SINGLE,
    ErrorReply,
    Frame,
    FrameDecoder,
    Heartbeat,
    ReadReply,
    Reply,
    Unsolicited,
    WriteReply,
    heartbeat_reply,
    read_request,
    write_request,
)

_LOGGER = logging.getLogger(__name__)

# dewet22 found 250 ms (plus up to 100 ms of jitter) between requests empirically necessary:
# a dongle asked faster drops requests. That adds about 1.25 s to a full refresh of five
# banks. Against a simulated dongle with that limit (`min_interval`), a pace of 0 or 0.1 s
# lost 6 of 13 requests to retries and took twice as long as 0.25 s, which lost none.
PACE = 0.25
# Bytes the link may buffer between two reads: a burst of a dozen of the longest frames.
MAX_INBOX = 12 * MAX_FRAME
# How long the idle listener waits for bytes before it looks again; any value works, since a
# heartbeat wakes it at once, and it is cancelled whenever a request needs the link.
LISTEN_WINDOW = 60.0


def _name(function: int) -> str:
    return {3: "holding", 4: "input", 6: "write"}.get(function, f"function {function:#04x}")


class GivEnergyWire:
    """Sends requests to devices behind one dongle and returns their replies."""

    def __init__(
        self, link: Link, *, pace: float = PACE, adapter_serial: str = CLIENT_SERIAL
    ) -> None:
        """Bind to a link; `pace` is the least time between one reply and the next request."""
        self.link = link
        # No drain, no quiet period: replies are matched by key, not by timing (see above).
        link.configure(quiet=0.0, max_inbox=MAX_INBOX)
        self.pace = pace
        self.adapter_serial = adapter_serial
        self.transactions = 0
        self.heartbeats = 0
        self._decoder = FrameDecoder()
        self._frames: deque[Frame] = deque()
        self._inbox: Inbox | None = None
        self._listener: asyncio.Task[None] | None = None
        self._waiting = 0
        self._last_reply = float("-inf")

    async def read(
        self, device: int, function: int, base: int, count: int, *, timeout: float | None = None
    ) -> tuple[int, ...]:
        """Return `count` holding (0x03) or input (0x04) registers of a device from `base`."""
        what = f"{_name(function)} registers {base}+{count}"
        request = read_request(device, function, base, count, adapter_serial=self.adapter_serial)
        reply = await self._transact(request, (device, function, base), what, timeout)
        assert isinstance(reply, ReadReply)  # the key holds a read function
        if len(reply.values) != count:
            raise FrameError(f"{len(reply.values)} registers in the reply to {what}")
        return reply.values

    async def probe(
        self, devices: Sequence[int], function: int, base: int, count: int, *, timeout: float
    ) -> dict[int, tuple[int, ...]]:
        """Ask every device for the same registers at once; return those that answered.

        The requests go out at the wire's pace without waiting for replies, and all replies
        are awaited together for `timeout` after the last request: on a bus where absent
        devices stay silent, finding none costs one timeout, not one per device.
        """
        await self._stop_listener()
        self._waiting += 1
        found: dict[int, tuple[int, ...]] = {}
        keys = {(device, function, base): device for device in devices}
        try:
            async with self.link.exchange() as link:
                for device in devices:
                    wait = self._last_reply + self.pace - time.monotonic()
                    if wait > 0:
                        await self._gather(link, keys, found, wait)
                    request = read_request(
                        device, function, base, count, adapter_serial=self.adapter_serial
                    )
                    await link.write(request)
                    self._follow(link)
                    self.transactions += 1
                    self._last_reply = time.monotonic()
                await self._gather(link, keys, found, timeout)
        finally:
            self._last_reply = time.monotonic()
            self._waiting -= 1
            if not self._waiting:
                self._start_listener()
        return {device: values for device, values in found.items() if len(values) == count}

    async def _gather(
        self,
        link: Link,
        keys: dict[tuple[int, int, int], int],
        found: dict[int, tuple[int, ...]],
        timeout: float,
    ) -> None:
        """Collect replies to `keys` for `timeout` seconds or until all have answered."""
        deadline = time.monotonic() + timeout
        while len(found) < len(keys):
            while self._frames:
                frame = self._frames.popleft()
                if isinstance(frame, ReadReply) and frame.key in keys:
                    found[keys[frame.key]] = frame.values
                elif isinstance(frame, ErrorReply) and frame.key in keys:
                    _LOGGER.debug("device %#04x refused a probe", frame.key[0])
                else:
                    await self._dispose(link, frame)
            try:
                data = await link.read_some(max(0.0, deadline - time.monotonic()))
            except LinkTimeoutError:
                return
            self._frames.extend(self._decoder.feed(data))

    async def write(self, device: int, register: int, value: int) -> int:
        """Set one holding register of a device; return the value it reports holding."""
        what = f"write of {value} to register {register}"
        request = write_request(device, register, value, adapter_serial=self.adapter_serial)
        reply = await self._transact(request, (device, WRITE_SINGLE, register), what, None)
        assert isinstance(reply, WriteReply)  # the key holds the write function
        return reply.value

    async def close(self) -> None:
        """Stop listening between requests."""
        await self._stop_listener()

    # Requests ---------------------------------------------------------------------------

    async def _transact(
        self, request: bytes, key: tuple[int, int, int], what: str, timeout: float | None
    ) -> Reply:
        """Send one request and return its reply; raise on refusal or silence."""
        self._waiting += 1
        await self._stop_listener()
        try:
            async with self.link.exchange() as link:
                wait = self._last_reply + self.pace - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await link.write(request)
                # After the write, which reopens a connection the dongle closed meanwhile.
                self._follow(link)
                self.transactions += 1
                deadline = time.monotonic() + (link.timeout if timeout is None else timeout)
                # A failure is raised after the exchange, which would otherwise drain the line
                # and then refuse any frame after the next reply: a heartbeat would be lost or
                # fail a good reply. Matching by key already makes a late reply harmless.
                reply: Reply | InverterError
                try:
                    reply = await self._reply(link, key, deadline)
                except LinkTimeoutError:
                    reply = LinkTimeoutError(
                        f"device {key[0]:#04x} did not answer the {what} on {link.description}",
                        device=f"{key[0]:#04x}",
                    )
                except FrameError as err:
                    # The inbox overflowed and dropped bytes: start the stream afresh.
                    link.inbox.clear()
                    self._follow(link, fresh=True)
                    reply = err
        finally:
            self._last_reply = time.monotonic()
            self._waiting -= 1
            if not self._waiting:
                self._start_listener()
        if isinstance(reply, InverterError):
            raise reply
        if isinstance(reply, ErrorReply):
            reason = exception_name(reply.code) if reply.code else "an error frame"
            raise DeviceRefusedError(
                f"device {key[0]:#04x} refused the {what}: {reason}",
                device=f"{key[0]:#04x}",
                exception=reason,
            )
        return reply

    async def _reply(self, link: Link, key: tuple[int, int, int], deadline: float) -> Reply:
        """Read frames until the reply to `key` arrives, answering heartbeats on the way."""
        while True:
            while self._frames:
                frame = self._frames.popleft()
                if isinstance(frame, ReadReply | WriteReply | ErrorReply) and frame.key == key:
                    return frame
                await self._dispose(link, frame)
            data = await link.read_some(max(0.0, deadline - time.monotonic()))
            self._frames.extend(self._decoder.feed(data))

    async def _dispose(self, link: Link, frame: Frame) -> None:
        """Answer a heartbeat; log and drop anything else no request is waiting for."""
        if isinstance(frame, Heartbeat):
            await link.write(heartbeat_reply(frame))
            self.heartbeats += 1
        elif isinstance(frame, Unsolicited):
            _LOGGER.debug("%s: ignored a %s frame", link.description, frame.kind)
        else:
            _LOGGER.debug("%s: dropped a reply no request waits for: %s", link.description, frame)

    def _follow(self, link: Link, *, fresh: bool = False) -> None:
        """Start a fresh stream when the link has reconnected (or lost bytes) since."""
        if fresh or link.inbox is not self._inbox:
            self._inbox = link.inbox
            self._decoder = FrameDecoder()
            self._frames.clear()

    # Between requests -------------------------------------------------------------------

    def _start_listener(self) -> None:
        if self.link.is_open and (self._listener is None or self._listener.done()):
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _stop_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and not listener.done():
            listener.cancel()
            # `wait` does not raise the listener's CancelledError, yet passes on our own.
            await asyncio.wait([listener])

    async def _listen(self) -> None:
        """Hold the idle link, answering heartbeats, until a request cancels this."""
        link = self.link
        async with link.lock:
            self._follow(link)
            try:
                while True:
                    while self._frames:
                        await self._dispose(link, self._frames.popleft())
                    try:
                        data = await link.read_some(LISTEN_WINDOW)
                    except LinkTimeoutError:
                        continue
                    except FrameError:
                        link.inbox.clear()
                        self._follow(link, fresh=True)
                        continue
                    self._frames.extend(self._decoder.feed(data))
            except LinkError as err:
                # The dongle hung up while the client was idle; the next request reconnects.
                _LOGGER.debug("%s while idle: %s", link.description, err)
