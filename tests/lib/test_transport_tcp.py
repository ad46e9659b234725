"""Tests for the TCP link, against a real asyncio server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import logging
import re
import socket
from typing import Any

from inverterlib.errors import LinkError, LinkTimeoutError
from inverterlib.transport import TcpLink, base
import pytest

# Real sockets, still limited to 127.0.0.1 by the Home Assistant test plugin.
pytestmark = pytest.mark.usefixtures("socket_enabled")

Answer = Callable[[bytes], bytes | None]


def bracket(request: bytes) -> bytes:
    """Answer a request the way a PI30 device frames its replies."""
    return b"(" + request[:-1] + b"\r"


class _Connection(asyncio.Protocol):
    """One accepted connection of the peer."""

    def __init__(self, peer: TcpPeer) -> None:
        self.peer = peer
        self.transport: asyncio.Transport | None = None
        self.pending = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer.connections.append(self)

    def data_received(self, data: bytes) -> None:
        self.pending += data
        while (end := self.pending.find(b"\r")) >= 0:
            request = bytes(self.pending[: end + 1])
            del self.pending[: end + 1]
            self.peer.log.append(("request", request))
            reply = self.peer.answer(request)
            if reply is not None and self.transport is not None:
                self.transport.write(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.peer.connections.remove(self)


class TcpPeer:
    """A device behind a TCP port: answers every CR-terminated request."""

    def __init__(self) -> None:
        self.answer: Answer = bracket
        self.log: list[tuple[str, Any]] = []
        self.connections: list[_Connection] = []
        self.accepted = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""

        def accept() -> _Connection:
            self.accepted += 1
            return _Connection(self)

        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    def drop(self) -> None:
        """Close every accepted connection, as a gateway does when it restarts."""
        for connection in list(self.connections):
            assert connection.transport is not None
            connection.transport.close()

    async def stop(self) -> None:
        """Stop listening and close what is still connected."""
        assert self.server is not None
        self.server.close()
        self.drop()
        await self.server.wait_closed()


@pytest.fixture
async def peer() -> AsyncIterator[TcpPeer]:
    """Yield a listening peer and stop it afterwards."""
    tcp_peer = TcpPeer()
    await tcp_peer.start()
    yield tcp_peer
    await tcp_peer.stop()


@pytest.fixture
async def link(peer: TcpPeer) -> AsyncIterator[TcpLink]:
    """Yield a link to the peer and close it afterwards."""
    tcp_link = TcpLink("127.0.0.1", peer.port, timeout=5.0)
    yield tcp_link
    await tcp_link.close()


async def ask(link: TcpLink, request: bytes) -> bytes:
    """Send one request and read the CR-terminated reply."""
    async with link.exchange() as held:
        await held.write(request)
        return await held.read_until(b"\r")


async def test_exchange_round_trip_and_counters(peer: TcpPeer, link: TcpLink) -> None:
    assert await ask(link, b"QPIGS\r") == b"(QPIGS\r"
    assert await ask(link, b"QMOD\r") == b"(QMOD\r"
    assert link.is_open
    assert peer.accepted == 1
    assert peer.log == [("request", b"QPIGS\r"), ("request", b"QMOD\r")]
    assert (link.bytes_out, link.bytes_in) == (11, 13)
    assert link.description == f"tcp://127.0.0.1:{peer.port}"


async def test_reply_in_pieces_is_reassembled(peer: TcpPeer, link: TcpLink) -> None:
    def in_pieces(request: bytes) -> None:
        transport = peer.connections[0].transport
        assert transport is not None
        for byte in bracket(request):
            transport.write(bytes([byte]))

    peer.answer = in_pieces
    assert await ask(link, b"QPIRI\r") == b"(QPIRI\r"


async def test_silent_device_times_out_and_link_stays_open(peer: TcpPeer, link: TcpLink) -> None:
    peer.answer = lambda _request: None
    link.timeout = 0.05
    with pytest.raises(LinkTimeoutError):
        await ask(link, b"QPIRI\r")
    assert link.is_open
    peer.answer = bracket
    assert await ask(link, b"QPIRI\r") == b"(QPIRI\r"
    assert peer.accepted == 1


async def test_peer_closing_fails_the_exchange_and_the_next_one_reconnects(
    peer: TcpPeer, link: TcpLink
) -> None:
    assert await ask(link, b"QID\r") == b"(QID\r"

    def hang_up(_request: bytes) -> None:
        peer.drop()

    peer.answer = hang_up
    with pytest.raises(LinkError, match="closed"):
        await ask(link, b"QPIGS\r")
    assert not link.is_open
    peer.answer = bracket
    assert await ask(link, b"QPIGS\r") == b"(QPIGS\r"
    assert peer.accepted == 2


async def test_stale_bytes_are_dropped_before_an_exchange(
    peer: TcpPeer, link: TcpLink, caplog: pytest.LogCaptureFixture
) -> None:
    peer.answer = lambda request: bracket(request) + b"junk"
    caplog.set_level(logging.DEBUG)
    assert await ask(link, b"QPIGS\r") == b"(QPIGS\r"
    assert await ask(link, b"QMOD\r") == b"(QMOD\r"
    assert f"tcp://127.0.0.1:{peer.port}: dropped 4 stale bytes" in caplog.text
    assert link.bytes_in == 13


class FakeClock:
    """A monotonic clock that only moves when told to or when slept on."""

    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.now = 1000.0
        self.log = log
        self._real_sleep = asyncio.sleep

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.log.append(("sleep", delay))
        self.now += delay
        await self._real_sleep(0)


async def test_gap_is_kept_between_exchanges(
    peer: TcpPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(peer.log)
    monkeypatch.setattr(base, "time", clock)
    monkeypatch.setattr(asyncio, "sleep", clock.sleep)
    link = TcpLink("127.0.0.1", peer.port, gap=0.5, timeout=5.0)
    try:
        assert await ask(link, b"A\r") == b"(A\r"
        clock.now += 0.2
        assert await ask(link, b"B\r") == b"(B\r"
        clock.now += 0.6
        assert await ask(link, b"C\r") == b"(C\r"
    finally:
        await link.close()
    assert peer.log == [
        ("request", b"A\r"),
        ("sleep", pytest.approx(0.3)),
        ("request", b"B\r"),
        ("request", b"C\r"),
    ]


async def test_refused_connection_fails_to_open() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    link = TcpLink("127.0.0.1", port)
    with pytest.raises(LinkError, match=re.escape("cannot open tcp://127.0.0.1")):
        async with link.exchange():
            pass
    assert not link.is_open


async def test_connect_timeout_is_a_link_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never_answers(*_args: Any, **_kwargs: Any) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", never_answers)
    link = TcpLink("127.0.0.1", 502, connect_timeout=0.01)
    with pytest.raises(
        LinkTimeoutError, match=re.escape("connecting to tcp://127.0.0.1:502 timed out")
    ):
        await link.open()
    assert not link.is_open


async def test_ipv6_endpoint_is_bracketed() -> None:
    link = TcpLink("::1", 8899)
    assert link.description == "tcp://[::1]:8899"
    await link.close()
    assert not link.is_open
