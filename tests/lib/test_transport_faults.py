"""Links under faults: late replies, closing peers, endless replies, a line that never rests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import socket
import time

from inverterlib.errors import FrameError, LinkError, LinkTimeoutError
from inverterlib.transport import TcpLink, UdpLink
from inverterlib.transport.base import Inbox, Link
import pytest

# Real sockets, still limited to 127.0.0.1 by the Home Assistant test plugin.
pytestmark = pytest.mark.usefixtures("socket_enabled")

# For exchanges that must get their reply, on however busy a machine.
GENEROUS = 5.0
# For exchanges that are meant to time out.
SHORT = 0.1


def bracket(request: bytes) -> bytes:
    """Answer a request the way a PI30 device frames its replies."""
    return b"(" + request[:-1] + b"\r"


class Connection:
    """One accepted connection: its requests, in order, and how to answer them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, data: bytes) -> None:
        """Write bytes to the client."""
        self.writer.write(data)

    def hang_up(self) -> None:
        """Close the connection."""
        self.writer.close()


type Behaviour = Callable[[Connection, bytes, int], Awaitable[None]]


class Peer:
    """A TCP device that handles each request of a connection in turn with one behaviour."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.events: list[str] = []
        self.connections: list[Connection] = []
        self.accepted = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        connection = Connection(reader, writer)
        self.connections.append(connection)
        try:
            while request := await reader.readuntil(b"\r"):
                self.events.append(f"request {request!r}")
                self.requests.append(request)
                await self.behaviour(connection, request, len(self.requests))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def drop(self) -> None:
        """Close every connection, as a gateway does when it restarts."""
        for connection in self.connections:
            connection.hang_up()

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        assert self._server is not None
        self._server.close()
        self.drop()
        await self._server.wait_closed()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Behaviour], Awaitable[Peer]]]:
    """Yield a factory of listening peers; every peer is stopped afterwards."""
    peers: list[Peer] = []

    async def start(behaviour: Behaviour) -> Peer:
        peer = Peer(behaviour)
        await peer.start()
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        await peer.stop()


@pytest.fixture
async def links() -> AsyncIterator[list[Link]]:
    """Yield a list for the links a test opens; each is closed afterwards."""
    opened: list[Link] = []
    yield opened
    for link in opened:
        await link.close()


def tcp_link(peer: Peer, links: list[Link], *, gap: float = 0.0, quiet: float = 0.5) -> TcpLink:
    """Return a link to the peer that is closed after the test."""
    link = TcpLink("127.0.0.1", peer.port, gap=gap, timeout=GENEROUS)
    link.quiet = quiet
    links.append(link)
    return link


async def ask(link: Link, request: bytes, timeout: float = GENEROUS) -> bytes:
    """Send one request and read the CR-terminated reply."""
    link.timeout = timeout
    async with link.exchange() as held:
        await held.write(request)
        return await held.read_until(b"\r")


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until `condition` holds, failing after a generous while."""
    deadline = time.monotonic() + GENEROUS
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.01)


async def test_late_reply_is_drained_not_read_as_the_next_answer(
    serve: Callable[[Behaviour], Awaitable[Peer]], links: list[Link]
) -> None:
    async def late_first(connection: Connection, request: bytes, number: int) -> None:
        # Like a busy inverter: the first answer comes after the client gave up on it, and
        # later requests wait their turn behind it.
        if number == 1:
            await asyncio.sleep(SHORT + 0.2)
        peer.events.append(f"reply {bracket(request)!r}")
        connection.send(bracket(request))

    peer = await serve(late_first)
    link = tcp_link(peer, links, quiet=0.5)
    with pytest.raises(LinkTimeoutError):
        await ask(link, b"QET\r", timeout=SHORT)
    assert await ask(link, b"QLT\r") == b"(QLT\r"
    # The next request left only after the late reply had come and gone.
    assert peer.events == [
        "request b'QET\\r'",
        "reply b'(QET\\r'",
        "request b'QLT\\r'",
        "reply b'(QLT\\r'",
    ]


async def test_reply_followed_by_another_frame_is_refused_after_a_timeout(
    serve: Callable[[Behaviour], Awaitable[Peer]], links: list[Link]
) -> None:
    held: list[bytes] = []

    async def one_behind(connection: Connection, request: bytes, number: int) -> None:
        # The first reply is held back and sent right before the second one.
        if number == 1:
            held.append(bracket(request))
            return
        connection.send(b"".join(held) + bracket(request))
        held.clear()

    peer = await serve(one_behind)
    link = tcp_link(peer, links, quiet=0.2)
    with pytest.raises(LinkTimeoutError):
        await ask(link, b"QET\r", timeout=SHORT)
    with pytest.raises(FrameError, match="another frame followed"):
        await ask(link, b"QLT\r")
    assert await ask(link, b"QMOD\r") == b"(QMOD\r"


async def test_in_step_link_takes_its_reply_without_waiting_for_silence(
    serve: Callable[[Behaviour], Awaitable[Peer]], links: list[Link]
) -> None:
    async def with_trailer(connection: Connection, request: bytes, number: int) -> None:
        connection.send(bracket(request) + b"junk")

    peer = await serve(with_trailer)
    link = tcp_link(peer, links)
    # Bytes behind a reply only count against it after a timeout or a bad frame.
    assert await ask(link, b"QPI\r") == b"(QPI\r"
    assert await ask(link, b"QID\r") == b"(QID\r"


@pytest.mark.parametrize("gap", [0.0, 0.05])
async def test_gateway_closing_after_each_reply(
    serve: Callable[[Behaviour], Awaitable[Peer]], links: list[Link], gap: float
) -> None:
    async def reply_and_close(connection: Connection, request: bytes, number: int) -> None:
        connection.send(bracket(request))
        connection.hang_up()

    peer = await serve(reply_and_close)
    link = tcp_link(peer, links, gap=gap)
    replies = [await ask(link, request) for request in (b"A\r", b"B\r", b"C\r")]
    assert replies == [b"(A\r", b"(B\r", b"(C\r"]
    assert peer.requests == [b"A\r", b"B\r", b"C\r"]
    assert peer.accepted == 3


async def test_write_reopens_a_link_the_peer_closed(
    serve: Callable[[Behaviour], Awaitable[Peer]], links: list[Link]
) -> None:
    async def echo(connection: Connection, request: bytes, number: int) -> None:
        connection.send(bracket(request))

    peer = await serve(echo)
    link = tcp_link(peer, links)
    async with link.exchange() as held:
        peer.drop()
        await eventually(lambda: not link.is_open)
        await held.write(b"QPIGS\r")
        assert await held.read_until(b"\r") == b"(QPIGS\r"
    assert peer.accepted == 2
    assert peer.requests == [b"QPIGS\r"]


async def test_link_closed_in_the_middle_of_a_request_is_not_resent(
    serve: Callable[[Behaviour], Awaitable[Peer]], links: list[Link]
) -> None:
    async def echo(connection: Connection, request: bytes, number: int) -> None:
        connection.send(bracket(request))

    peer = await serve(echo)
    link = tcp_link(peer, links)
    async with link.exchange() as held:
        await held.write(b"QPI")
        peer.drop()
        await eventually(lambda: not link.is_open)
        with pytest.raises(LinkError, match="closed in the middle of a request"):
            await held.write(b"GS\r")
    assert peer.requests == []
    assert await ask(link, b"QPIGS\r") == b"(QPIGS\r"


async def test_endless_reply_is_cut_at_the_inbox_bound(
    serve: Callable[[Behaviour], Awaitable[Peer]],
    links: list[Link],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flood_done = asyncio.Event()

    async def flood_first(connection: Connection, request: bytes, number: int) -> None:
        if number > 1:
            connection.send(bracket(request))
            return
        # A reply that never sends its CR: 64 KiB, then the peer stops on its own.
        for _ in range(64):
            connection.send(b"(" + b"9" * 1023)
            await connection.writer.drain()
            await asyncio.sleep(0.001)
        flood_done.set()

    peak = 0
    feed = Inbox.feed

    def measured_feed(inbox: Inbox, data: bytes) -> None:
        nonlocal peak
        feed(inbox, data)
        peak = max(peak, len(inbox))

    monkeypatch.setattr(Inbox, "feed", measured_feed)
    peer = await serve(flood_first)
    link = tcp_link(peer, links, quiet=0.1)
    link.configure(quiet=0.1, max_inbox=1024)
    with pytest.raises(FrameError, match="more than 1024 bytes"):
        await ask(link, b"QPIGS\r")
    await asyncio.wait_for(flood_done.wait(), GENEROUS)
    assert await ask(link, b"QMOD\r") == b"(QMOD\r"
    assert 0 < peak <= 1024
    assert link.is_open
    assert peer.accepted == 1


async def test_line_that_never_rests_fails_until_it_does(
    serve: Callable[[Behaviour], Awaitable[Peer]], links: list[Link]
) -> None:
    chatter_done = asyncio.Event()
    stop_chatter = asyncio.Event()

    async def chatter_first(connection: Connection, request: bytes, number: int) -> None:
        if number > 1:
            connection.send(bracket(request))
            return

        async def chatter() -> None:
            # A byte every 20 ms keeps a 0.1 s quiet period from ever passing; bounded.
            deadline = time.monotonic() + 4 * GENEROUS
            while not stop_chatter.is_set() and time.monotonic() < deadline:
                connection.send(b"~")
                await asyncio.sleep(0.02)
            chatter_done.set()

        task = asyncio.get_running_loop().create_task(chatter())
        background.add(task)

    background: set[asyncio.Task[None]] = set()
    peer = await serve(chatter_first)
    link = tcp_link(peer, links, quiet=0.1)
    try:
        with pytest.raises(LinkTimeoutError):
            await ask(link, b"QPIGS\r", timeout=SHORT)
        with pytest.raises(LinkTimeoutError, match="did not go quiet"):
            await ask(link, b"QPIGS\r", timeout=SHORT)
        assert peer.requests == [b"QPIGS\r"]  # nothing is sent into a chattering line
        stop_chatter.set()
        await asyncio.wait_for(chatter_done.wait(), GENEROUS)
        assert await ask(link, b"QMOD\r") == b"(QMOD\r"
    finally:
        stop_chatter.set()
        await asyncio.gather(*background)


async def test_waiting_for_quiet_ends_when_the_port_goes_away(
    serve: Callable[[Behaviour], Awaitable[Peer]], links: list[Link]
) -> None:
    async def silent_then_echo(connection: Connection, request: bytes, number: int) -> None:
        if number > 1:
            connection.send(bracket(request))

    peer = await serve(silent_then_echo)
    link = tcp_link(peer, links, quiet=30.0)  # far longer than the test may take
    with pytest.raises(LinkTimeoutError):
        await ask(link, b"QPIGS\r", timeout=SHORT)
    # The gateway restarts while the link drains: the drain stops, the request goes out on a
    # new connection, and the wait for silence after its reply stops when that one closes too.
    asyncio.get_running_loop().call_later(0.05, peer.drop)
    async with asyncio.timeout(2 * GENEROUS), link.exchange() as held:
        await held.write(b"QMOD\r")
        assert await held.read_until(b"\r") == b"(QMOD\r"
        peer.drop()
    assert peer.accepted == 2


async def test_failed_inbox_is_replaced_by_reopening() -> None:
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.DatagramTransport)
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            self.transport.sendto(data[::-1], addr)

    transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    link = UdpLink("127.0.0.1", port, timeout=GENEROUS)
    try:
        await link.open()
        # An ICMP error for an earlier datagram fails the inbox while the socket stays open.
        link.inbox.fail(LinkError("connection refused"))
        async with link.exchange() as held:
            await held.write(b"ping")
            assert await held.read_exactly(4) == b"gnip"
    finally:
        await link.close()
        transport.close()
        await asyncio.sleep(0)


async def test_peer_close_probe_tolerates_a_dead_socket(
    serve: Callable[[Behaviour], Awaitable[Peer]],
    links: list[Link],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def echo(connection: Connection, request: bytes, number: int) -> None:
        connection.send(bracket(request))

    peer = await serve(echo)
    link = tcp_link(peer, links)
    assert await ask(link, b"A\r") == b"(A\r"

    def broken_recv(_self: socket.socket, _size: int, _flags: int = 0) -> bytes:
        raise ConnectionResetError("reset by peer")

    monkeypatch.setattr(socket.socket, "recv", broken_recv)
    assert link._peer_closed()
    monkeypatch.undo()
    assert not link._peer_closed()
    assert await ask(link, b"B\r") == b"(B\r"


async def test_every_read_of_an_overflowed_inbox_is_a_frame_error() -> None:
    inbox = Inbox(limit=8)
    inbox.feed(b"12345")
    assert await inbox.read_some(SHORT) == b"12345"
    inbox.feed(b"123456789")
    assert len(inbox) == 0
    with pytest.raises(FrameError, match="more than 8 bytes"):
        await inbox.read_some(SHORT)
    with pytest.raises(FrameError):
        await inbox.read_exactly(2, SHORT)
    assert inbox.clear() == b""
    assert not inbox.overflowed
    waiting = asyncio.get_running_loop().create_task(inbox.read_exactly(4, GENEROUS))
    await asyncio.sleep(0)
    inbox.feed(b"abcdefghi")  # the reader is woken by the overflow, not left to time out
    with pytest.raises(FrameError):
        await waiting


async def test_read_some_waits_for_bytes_within_the_bound(
    serve: Callable[[Behaviour], Awaitable[Peer]], links: list[Link]
) -> None:
    async def in_two_parts(connection: Connection, request: bytes, number: int) -> None:
        connection.send(b"(ab")
        await asyncio.sleep(0.01)
        connection.send(b"c\r")

    peer = await serve(in_two_parts)
    link = tcp_link(peer, links)
    async with link.exchange() as held:
        await held.write(b"Q\r")
        received = await held.read_some()
        while not received.endswith(b"\r"):
            received += await held.read_some()
    assert received == b"(abc\r"
    assert link.bytes_in == 5
    with pytest.raises(LinkTimeoutError):
        await Inbox().read_some(0.0)
