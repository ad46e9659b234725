"""Tests for the UDP link, against a real datagram endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import logging
import socket

from inverterlib.errors import LinkError, LinkTimeoutError
from inverterlib.transport import UdpLink
import pytest

# Real sockets, still limited to 127.0.0.1 by the Home Assistant test plugin.
pytestmark = pytest.mark.usefixtures("socket_enabled")

Answer = Callable[[bytes], list[bytes]]


def echo_reversed(request: bytes) -> list[bytes]:
    """Answer one datagram with its bytes reversed."""
    return [request[::-1]]


class UdpPeer(asyncio.DatagramProtocol):
    """A device behind a UDP port: answers each datagram with zero or more datagrams."""

    def __init__(self) -> None:
        self.answer: Answer = echo_reversed
        self.requests: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.requests.append(data)
        assert self.transport is not None
        for reply in self.answer(data):
            self.transport.sendto(reply, addr)


@pytest.fixture
async def peer() -> AsyncIterator[UdpPeer]:
    """Yield a peer bound to an ephemeral port of 127.0.0.1 and close it afterwards."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(UdpPeer, local_addr=("127.0.0.1", 0))
    yield protocol
    transport.close()
    await asyncio.sleep(0)  # let connection_lost run before the leak checks


@pytest.fixture
async def link(peer: UdpPeer) -> AsyncIterator[UdpLink]:
    """Yield a link to the peer and close it afterwards."""
    udp_link = UdpLink("127.0.0.1", peer.port, timeout=5.0)
    yield udp_link
    await udp_link.close()


async def ask(link: UdpLink, request: bytes, size: int) -> bytes:
    """Send one datagram and read `size` bytes of reply."""
    async with link.exchange() as held:
        await held.write(request)
        return await held.read_exactly(size)


async def test_exchange_round_trip_and_counters(peer: UdpPeer, link: UdpLink) -> None:
    assert await ask(link, b"\x00\x01\x02\x03", 4) == b"\x03\x02\x01\x00"
    assert await ask(link, b"abc", 3) == b"cba"
    assert link.is_open
    assert peer.requests == [b"\x00\x01\x02\x03", b"abc"]
    assert (link.bytes_out, link.bytes_in) == (7, 7)
    assert link.description == f"udp://127.0.0.1:{peer.port}"


async def test_datagrams_read_as_one_stream(peer: UdpPeer, link: UdpLink) -> None:
    peer.answer = lambda request: [request[:2], request[2:]]
    async with link.exchange() as held:
        await held.write(b"\x01\x03\x00\x00\x00\x02")
        assert await held.read_exactly(3) == b"\x01\x03\x00"
        assert await held.read_exactly(3) == b"\x00\x00\x02"


async def test_silent_device_times_out_and_link_stays_open(peer: UdpPeer, link: UdpLink) -> None:
    peer.answer = lambda _request: []
    link.timeout = 0.05
    with pytest.raises(LinkTimeoutError):
        await ask(link, b"ping", 4)
    assert link.is_open
    peer.answer = echo_reversed
    assert await ask(link, b"ping", 4) == b"gnip"


async def test_stale_datagrams_are_dropped_before_an_exchange(
    peer: UdpPeer, link: UdpLink, caplog: pytest.LogCaptureFixture
) -> None:
    peer.answer = lambda request: [request[::-1] + b"junk"]
    caplog.set_level(logging.DEBUG)
    assert await ask(link, b"one", 3) == b"eno"
    assert await ask(link, b"two", 3) == b"owt"
    assert f"udp://127.0.0.1:{peer.port}: dropped 4 stale bytes" in caplog.text


async def test_nobody_listening_fails_fast_then_reopens() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    link = UdpLink("127.0.0.1", port, timeout=30.0)
    try:
        # The ICMP port-unreachable comes back as an error long before the 30 s timeout.
        with pytest.raises(LinkError, match="refused") as raised:
            await ask(link, b"ping", 4)
        assert not isinstance(raised.value, LinkTimeoutError)
        assert not link.is_open
        with pytest.raises(LinkError, match="refused"):
            await ask(link, b"ping", 4)
    finally:
        await link.close()


async def test_ipv6_endpoint_is_bracketed() -> None:
    link = UdpLink("fe80::1%eth0", 502)
    assert link.description == "udp://[fe80::1%eth0]:502"
    assert not link.is_open
