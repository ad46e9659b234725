"""Serial ports (RS-232, RS-485 adapters, ptys) through serialx."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import os

import serialx

from ..errors import LinkError
from .base import Link
from .stream import InboxProtocol

_PARITIES = ("N", "E", "O")
_BYTESIZES = (5, 6, 7, 8)
_STOPBITS = (1, 1.5, 2)


@dataclass(frozen=True)
class SerialSettings:
    """Line settings of a serial port."""

    baudrate: int
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1

    def __post_init__(self) -> None:
        """Reject settings no UART offers."""
        if self.baudrate <= 0:
            raise ValueError(f"baud rate must be positive, not {self.baudrate}")
        if self.bytesize not in _BYTESIZES:
            raise ValueError(f"byte size must be 5 to 8, not {self.bytesize}")
        if self.parity not in _PARITIES:
            raise ValueError(f"parity must be one of N, E, O, not {self.parity!r}")
        if self.stopbits not in _STOPBITS:
            raise ValueError(f"stop bits must be 1, 1.5 or 2, not {self.stopbits}")


@dataclass(frozen=True, kw_only=True)
class SerialPortInfo:
    """A serial port found on this machine."""

    device: str
    description: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    manufacturer: str | None


class SerialLink(Link):
    """A link over a serial port in raw mode."""

    def __init__(
        self,
        port: str,
        *,
        settings: SerialSettings,
        gap: float = 0.0,
        timeout: float = 2.0,
    ) -> None:
        """Describe the port; nothing is opened yet."""
        super().__init__(gap=gap, timeout=timeout)
        self.port = port
        self.settings = settings
        self._transport: serialx.BaseSerialTransport | None = None
        self._protocol: InboxProtocol | None = None

    @property
    def description(self) -> str:
        """Return the port path."""
        return self.port

    @property
    def is_open(self) -> bool:
        """Return whether the port is open (a closing port counts until it is released)."""
        return self._protocol is not None and not self._protocol.closed.done()

    async def _open(self) -> None:
        await self._forget_dead_port()
        protocol = InboxProtocol(self.inbox, self.port)
        try:
            transport, _ = await serialx.create_serial_connection(
                asyncio.get_running_loop(),
                lambda: protocol,
                self.port,
                baudrate=self.settings.baudrate,
                parity=serialx.Parity(self.settings.parity),
                stopbits=serialx.StopBits(self.settings.stopbits),
                byte_size=self.settings.bytesize,
            )
        except serialx.SerialException as err:
            raise LinkError(f"cannot open {self.port}: {err}") from err
        self._transport, self._protocol = transport, protocol

    async def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        await self._forget_dead_port()

    async def _forget_dead_port(self) -> None:
        """Wait until a closing port has released its descriptor, then drop it."""
        if self._protocol is not None:
            await self._protocol.closed
        self._transport = self._protocol = None

    def _send(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)


async def list_serial_ports() -> list[SerialPortInfo]:
    """Return the serial ports of this machine."""
    return [
        SerialPortInfo(
            device=port.device,
            description=port.product or os.path.basename(port.device),
            vid=port.vid,
            pid=port.pid,
            serial_number=port.serial_number,
            manufacturer=port.manufacturer,
        )
        for port in await serialx.async_list_serial_ports()
    ]
