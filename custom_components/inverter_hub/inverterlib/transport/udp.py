"""UDP links: Modbus UDP and serial-to-LAN gateways in datagram mode."""

from __future__ import annotations

import asyncio

from ..errors import LinkError
from .base import Inbox, Link
from .tcp import host_port


class _DatagramInboxProtocol(asyncio.DatagramProtocol):
    """Feed every datagram into one inbox."""

    def __init__(self, inbox: Inbox, description: str) -> None:
        self._inbox = inbox
        self._description = description
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self._inbox.feed(data)

    def error_received(self, exc: Exception) -> None:
        # Typically an ICMP port-unreachable: nobody listens, so fail now rather than time out.
        self._inbox.fail(LinkError(f"{self._description}: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._inbox.fail(LinkError(f"{self._description} closed"))
        if not self.closed.done():
            self.closed.set_result(None)


class UdpLink(Link):
    """A link over a connected UDP socket; datagrams are read as one byte stream."""

    def __init__(self, host: str, port: int, *, gap: float = 0.0, timeout: float = 2.0) -> None:
        """Describe the endpoint; nothing is opened yet."""
        super().__init__(gap=gap, timeout=timeout)
        self.host = host
        self.port = port
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: _DatagramInboxProtocol | None = None

    @property
    def description(self) -> str:
        """Return the endpoint as a udp:// address."""
        return f"udp://{host_port(self.host, self.port)}"

    @property
    def is_open(self) -> bool:
        """Return whether the socket is open (a closing one counts until it is released)."""
        return self._protocol is not None and not self._protocol.closed.done()

    async def _open(self) -> None:
        await self._forget_closed_socket()
        protocol = _DatagramInboxProtocol(self.inbox, self.description)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: protocol, remote_addr=(self.host, self.port)
        )
        self._transport, self._protocol = transport, protocol

    async def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        await self._forget_closed_socket()

    async def _forget_closed_socket(self) -> None:
        """Wait until a closing socket is released, then drop it."""
        if self._protocol is not None:
            await self._protocol.closed
        self._transport = self._protocol = None

    def _send(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.sendto(data)
