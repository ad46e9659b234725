"""Where a simulated Xcom listens: a pty, TCP connections, UDP datagrams.

Each endpoint cuts what its peer sends into frames by the length in their headers and hands
them, one after another, to the Xcom; replies go back the way they came.
"""

from __future__ import annotations

import asyncio

from .endpoints import Channel, QueuedSession, Server
from .xcom_frames import FrameCutter


class FrameSession(QueuedSession[bytes | None]):
    """Cut one peer's bytes into frames (None: one that failed its checksum) and answer them."""

    def __init__(self, server: Server[bytes | None], channel: Channel) -> None:
        super().__init__(server, channel)
        self._cutter = FrameCutter()
        self._started = 0.0

    def feed(self, data: bytes) -> None:
        """Take bytes from the peer; queue each complete frame for an answer."""
        if not self._started:
            self._started = asyncio.get_running_loop().time()
        frames = []
        for frame in self._cutter.feed(data):
            frames.append((frame, self._started))
            self._started = 0.0
        self._answer(frames)


class UdpProtocol(asyncio.DatagramProtocol):
    """The simulated Xcom's UDP socket: one frame session per peer address."""

    def __init__(self, server: Server[bytes | None]) -> None:
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
