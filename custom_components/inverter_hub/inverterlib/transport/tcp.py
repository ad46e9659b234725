"""TCP links: Modbus TCP, RTU-over-TCP and serial-to-Ethernet gateways, dongles."""

from __future__ import annotations

import asyncio
import socket

from ..errors import LinkTimeoutError
from .base import Link
from .stream import InboxProtocol


def host_port(host: str, port: int) -> str:
    """Return `host:port`, bracketing an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class TcpLink(Link):
    """A link over one TCP connection, reconnected by the next exchange after it drops."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        gap: float = 0.0,
        timeout: float = 2.0,
        connect_timeout: float = 5.0,
    ) -> None:
        """Describe the endpoint; nothing is connected yet."""
        super().__init__(gap=gap, timeout=timeout)
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self._transport: asyncio.Transport | None = None
        self._protocol: InboxProtocol | None = None

    @property
    def description(self) -> str:
        """Return the endpoint as a tcp:// address."""
        return f"tcp://{host_port(self.host, self.port)}"

    @property
    def is_open(self) -> bool:
        """Return whether the connection is open (a closing one counts until it is released)."""
        return self._protocol is not None and not self._protocol.closed.done()

    async def _open(self) -> None:
        await self._forget_dead_connection()
        protocol = InboxProtocol(self.inbox, self.description)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                transport, _ = await loop.create_connection(lambda: protocol, self.host, self.port)
        except TimeoutError as err:
            raise LinkTimeoutError(f"connecting to {self.description} timed out") from err
        self._transport, self._protocol = transport, protocol

    async def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        await self._forget_dead_connection()

    async def _forget_dead_connection(self) -> None:
        """Wait until a closing connection has released its socket, then drop it."""
        if self._protocol is not None:
            await self._protocol.closed
        self._transport = self._protocol = None

    def _peer_closed(self) -> bool:
        """Peek at the socket for an end of file the event loop has not delivered yet."""
        # A gateway that closes after each reply: its FIN often sits unread in the socket when
        # the next request is due, and a request written behind it is lost to a reset.
        assert self._transport is not None
        probe: socket.socket = self._transport.get_extra_info("socket").dup()
        with probe:
            probe.setblocking(False)
            try:
                waiting: bytes = probe.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                return False
            except OSError:
                return True
        return not waiting

    def _send(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)
