"""Where a simulated PI30 device listens: a pty, TCP connections, HID report pipes.

Each endpoint cuts what its peer sends into CR-terminated requests and hands them, one after
another, to the device server; replies go back the way the peer expects them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
import contextlib
import socket
from typing import Protocol

from . import endpoints
from .endpoints import Channel, PeerSession

CR = 0x0D
REPORT = 8


class Server(Protocol):
    """What an endpoint needs from the device behind it."""

    tasks: set[asyncio.Task[None]]

    async def serve(self, request: bytes, started: float, channel: Channel) -> None:
        """Answer one request on one channel."""


async def sleep_until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    """Sleep until the loop's clock reads `when`."""
    delay = when - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


class Session:
    """Cut a peer's bytes into requests at CR and answer them one after another."""

    def __init__(self, server: Server, channel: Channel) -> None:
        self._server = server
        self._channel = channel
        self._buffer = bytearray()
        self._started = 0.0
        self._queue: deque[tuple[bytes, float]] = deque()
        self._worker: asyncio.Task[None] | None = None

    def feed(self, data: bytes) -> None:
        """Take bytes from the peer; queue each complete request for an answer."""
        now = asyncio.get_running_loop().time()
        if not self._buffer:
            self._started = now
        self._buffer += data
        while (end := self._buffer.find(CR)) >= 0:
            self._queue.append((bytes(self._buffer[: end + 1]), self._started))
            del self._buffer[: end + 1]
            self._started = now
        if self._queue and (self._worker is None or self._worker.done()):
            self._worker = asyncio.get_running_loop().create_task(self._work())
            self._server.tasks.add(self._worker)
            self._worker.add_done_callback(self._server.tasks.discard)

    async def _work(self) -> None:
        while self._queue:
            request, started = self._queue.popleft()
            await self._server.serve(request, started, self._channel)

    def close(self) -> None:
        """Drop queued requests and cancel the answer in flight."""
        self._queue.clear()
        if self._worker is not None:
            self._worker.cancel()


class PtyEndpoint(endpoints.PtyEndpoint):
    """The device's pty: requests cut at CR, as on its serial port."""

    def __init__(self, server: Server, link_path: str | None) -> None:
        """Serve `server` on a new pty behind `link_path`."""
        super().__init__(lambda channel: Session(server, channel), link_path)


class TcpProtocol(asyncio.Protocol):
    """One TCP client of a simulator, its bytes handed to a session of its own."""

    def __init__(
        self, clients: set[TcpProtocol], session: Callable[[Channel], PeerSession]
    ) -> None:
        self._clients = clients
        self._new_session = session
        self._transport: asyncio.Transport | None = None
        self._session: PeerSession | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start a session for the new client."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._session = self._new_session(Channel(self._send, self.hang_up))
        self._clients.add(self)

    def data_received(self, data: bytes) -> None:
        """Hand the client's bytes to its session."""
        if self._session is not None:
            self._session.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """End the client's session."""
        if self._session is not None:
            self._session.close()
        self._clients.discard(self)
        self._transport = None

    def _send(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def hang_up(self) -> None:
        """Close the connection."""
        if self._transport is not None:
            self._transport.close()


class HidEndpoint:
    """The device side of a HID report pipe: 9-byte output reports in, 8-byte reports out."""

    def __init__(self, server: Server, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock: socket.socket | None = sock
        self._out = bytearray()
        self._session = Session(server, Channel(self._send, self.close))
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        assert self._sock is not None
        try:
            report = self._sock.recv(64)
        except BlockingIOError:
            return
        except OSError:
            report = b""
        if not report:
            self.close()
            return
        if len(report) == REPORT + 1 and report[0] == 0:
            report = report[1:]
        end = report.find(CR)
        # Zero padding follows the CR in the last report of a request.
        self._session.feed(report if end < 0 else report[: end + 1])

    def _send(self, data: bytes) -> None:
        self._out += data
        while len(self._out) >= REPORT or CR in self._out:
            end = self._out.find(CR)
            size = REPORT if end < 0 or end >= REPORT else end + 1
            chunk = bytes(self._out[:size]).ljust(REPORT, b"\x00")
            del self._out[:size]
            if self._sock is not None:
                with contextlib.suppress(BlockingIOError, BrokenPipeError):
                    self._sock.send(chunk)

    def close(self) -> None:
        """Close our end of the pipe; the client reads end of file."""
        self._session.close()
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None


__all__ = [
    "Channel",
    "HidEndpoint",
    "PtyEndpoint",
    "Server",
    "Session",
    "TcpProtocol",
    "sleep_until",
]
