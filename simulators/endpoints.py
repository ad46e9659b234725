"""What the byte-stream simulators share: channels, sessions, pty and TCP endpoints, a CLI run."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
import contextlib
import os
import signal
import tty
from typing import Protocol


class Channel:
    """One connected peer: how to send bytes to it and how to cut it off."""

    def __init__(self, send: Callable[[bytes], None], hang_up: Callable[[], None]) -> None:
        """Bind the callbacks that send to and cut off the peer."""
        self.send = send
        self.hang_up = hang_up


class PeerSession(Protocol):
    """What a peer's bytes go to: a device's session on one channel."""

    def feed(self, data: bytes) -> None:
        """Take bytes the peer sent."""

    def close(self) -> None:
        """End the session."""


class Server[Request](Protocol):
    """What a session needs from the device behind it."""

    tasks: set[asyncio.Task[None]]

    async def serve(self, request: Request, started: float, channel: Channel) -> None:
        """Answer one request on one channel."""


class QueuedSession[Request]:
    """A peer's requests, answered one after another in the order they came."""

    def __init__(self, server: Server[Request], channel: Channel) -> None:
        self._server = server
        self._channel = channel
        self._queue: deque[tuple[Request, float]] = deque()
        self._worker: asyncio.Task[None] | None = None

    def _answer(self, requests: Iterable[tuple[Request, float]]) -> None:
        """Queue requests (with when each began to arrive) and answer them in turn."""
        self._queue.extend(requests)
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


async def sleep_until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    """Sleep until the loop's clock reads `when`."""
    delay = when - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


class PtyEndpoint:
    """The master end of a pty; a hang-up replaces the pty and re-points the symlink."""

    def __init__(
        self, new_session: Callable[[Channel], PeerSession], link_path: str | None
    ) -> None:
        """Bind the factory of the session that takes the pty's bytes, and the symlink's path."""
        self._new_session = new_session
        self._link_path = link_path
        self._master = self._slave = -1
        self.path = ""
        self._session: PeerSession | None = None

    def open(self) -> None:
        """Create the pty, point the symlink at it and start reading."""
        self._master, self._slave = os.openpty()
        # Raw from the start: no echo, no CR/LF translation, whoever opens the slave.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        if self._link_path is not None:
            temporary = f"{self._link_path}.new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            os.symlink(self.path, temporary)
            os.replace(temporary, self._link_path)
        self._session = self._new_session(Channel(self._send, self.hang_up))
        asyncio.get_running_loop().add_reader(self._master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except OSError:
            # EIO: nobody holds the slave open. We keep our own slave fd, so this is transient.
            return
        if self._session is not None and data:
            self._session.feed(data)

    def _send(self, data: bytes) -> None:
        if self._master < 0:
            return
        with contextlib.suppress(BlockingIOError):
            os.write(self._master, data)

    def _release(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            os.close(self._slave)
            self._master = self._slave = -1

    def hang_up(self) -> None:
        """Drop the line as a pulled cable would, then offer a fresh pty at the same link."""
        self._release()
        self.open()

    def close(self) -> None:
        """Close the pty for good and remove the symlink."""
        self._release()
        if self._link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._link_path)


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


class EndpointHost:
    """A simulated device served on any number of ptys and TCP ports in the running loop.

    A subclass says how a peer's bytes become requests (`new_session`).
    """

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self._closers: list[Callable[[], None]] = []
        self._servers: list[asyncio.Server] = []

    def new_session(self, channel: Channel) -> PeerSession:
        """Return the session that takes one peer's bytes."""
        raise NotImplementedError

    async def start_pty(self, link_path: str | None = None) -> str:
        """Serve on a new pty; return its path (or `link_path`, a symlink kept pointing at it)."""
        endpoint = PtyEndpoint(self.new_session, link_path)
        endpoint.open()
        self._closers.append(endpoint.close)
        return link_path or endpoint.path

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Serve on a TCP port (0 picks a free one); return the bound address."""
        clients: set[TcpProtocol] = set()
        server = await asyncio.get_running_loop().create_server(
            lambda: TcpProtocol(clients, self.new_session), host, port
        )
        self._servers.append(server)

        def close_clients() -> None:
            for client in list(clients):
                client.hang_up()

        self._closers.append(close_clients)
        bound = server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def drain(self) -> None:
        """Wait until every request received so far has been answered."""
        while pending := [task for task in self.tasks if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def stop(self) -> None:
        """Close every endpoint and cancel every reply in flight."""
        for close in self._closers:
            close()
        self._closers.clear()
        for server in self._servers:
            server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()


async def serve_until_signalled(stop: Callable[[], Awaitable[None]]) -> None:
    """Wait for SIGINT or SIGTERM (a simulator run from the command line), then `stop`."""
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, signalled.set)
    try:
        await signalled.wait()
    finally:
        await stop()
