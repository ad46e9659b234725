"""Where a simulated Xcom listens: a pty, TCP connections, UDP datagrams.

Each endpoint cuts what its peer sends into frames by the length in their headers and hands
them, one after another, to the Xcom; replies go back the way they came.
"""

from __future__ import annotations

import asyncio
from collections import deque
import contextlib
import os
import tty
from typing import Protocol

from .pi30_endpoints import Channel
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


class PtyEndpoint:
    """The master end of a pty, optionally behind a stable symlink."""

    def __init__(self, server: Server, link_path: str | None) -> None:
        self._server = server
        self._link_path = link_path
        self._master = self._slave = -1
        self.path = ""
        self._session: FrameSession | None = None

    def open(self) -> None:
        """Create the pty, point the symlink at it and start reading."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        if self._link_path is not None:
            temporary = f"{self._link_path}.new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            os.symlink(self.path, temporary)
            os.replace(temporary, self._link_path)
        self._session = FrameSession(self._server, Channel(self._send, lambda: None))
        asyncio.get_running_loop().add_reader(self._master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except OSError:
            # EIO while nobody holds the slave open; we keep our own slave fd, so it passes.
            return
        if self._session is not None and data:
            self._session.feed(data)

    def _send(self, data: bytes) -> None:
        if self._master >= 0:
            with contextlib.suppress(BlockingIOError):
                os.write(self._master, data)

    def close(self) -> None:
        """Close the pty and remove the symlink."""
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            os.close(self._slave)
            self._master = self._slave = -1
        if self._link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._link_path)


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
