"""Where a simulated Xcom listens: a pty, TCP connections, UDP datagrams.

Each endpoint cuts what its peer sends into frames by the length in their headers and hands
them, one after another, to the Xcom; replies go back the way they came.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from . import endpoints
from .endpoints import Channel
from .xcom_frames import FrameCutter


class Server(Protocol):
    """What an endpoint needs from the Xcom behind it."""

    tasks: set[asyncio.Task[None]]

    async def serve(self, frame: bytes | None, started: float, channel: Channel) -> None:
        """Answer one frame (None: one that failed its checksum) on one channel."""


class FrameSession:
    """Cut one peer's bytes into frames and answer them one after another."""

    def __init__(self, server: Server, channel: Channel) -> None:
        self._server = server
        self._channel = channel
        self._cutter = FrameCutter()
        self._started = 0.0
        self._queue: deque[tuple[bytes | None, float]] = deque()
        self._worker: asyncio.Task[None] | None = None

    def feed(self, data: bytes) -> None:
        """Take bytes from the peer; queue each complete frame for an answer."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._started:
            self._started = now
        for frame in self._cutter.feed(data):
            self._queue.append((frame, self._started))
            self._started = 0.0
        if self._queue and (self._worker is None or self._worker.done()):
            self._worker = loop.create_task(self._work())
            self._server.tasks.add(self._worker)
            self._worker.add_done_callback(self._server.tasks.discard)

    async def _work(self) -> None:
        while self._queue:
            frame, started = self._queue.popleft()
            await self._server.serve(frame, started, self._channel)

    def close(self) -> None:
        """Drop queued frames and cancel the answer in flight."""
        self._queue.clear()
        if self._worker is not None:
            self._worker.cancel()


class PtyEndpoint(endpoints.PtyEndpoint):
    """The Xcom-232i's pty: frames cut by the length in their headers."""

    def __init__(self, server: Server, link_path: str | None) -> None:
        """Serve `server` on a new pty behind `link_path`."""
        super().__init__(lambda channel: FrameSession(server, channel), link_path)


class UdpProtocol(asyncio.DatagramProtocol):
    """The simulated Xcom's UDP socket: one frame session per peer address."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None
        self._sessions: dict[tuple[str | int, ...], FrameSession] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the socket to answer on."""
        assert isinstance(transport, asyncio.DatagramTransport)
        self._transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        """Hand a datagram to its peer's session."""
        session = self._sessions.get(addr)
        if session is None:

            def send(reply: bytes) -> None:
                if self._transport is not None and not self._transport.is_closing():
                    self._transport.sendto(reply, addr)

            session = self._sessions[addr] = FrameSession(self._server, Channel(send, lambda: None))
        session.feed(data)

    def close(self) -> None:
        """Close every session and the socket."""
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()
        if self._transport is not None:
            self._transport.close()
