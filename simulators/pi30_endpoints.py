"""Where a simulated PI30 device listens: a pty, TCP connections, HID report pipes.

Each endpoint cuts what its peer sends into CR-terminated requests and hands them, one after
another, to the device server; replies go back the way the peer expects them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from .endpoints import Channel, QueuedSession, Server

CR = 0x0D
REPORT = 8


class Session(QueuedSession[bytes]):
    """Cut a peer's bytes into requests at CR and answer them one after another."""

    def __init__(self, server: Server[bytes], channel: Channel) -> None:
        super().__init__(server, channel)
        self._buffer = bytearray()
        self._started = 0.0

    def feed(self, data: bytes) -> None:
        """Take bytes from the peer; queue each complete request for an answer."""
        now = asyncio.get_running_loop().time()
        if not self._buffer:
            self._started = now
        self._buffer += data
        requests = []
        while (end := self._buffer.find(CR)) >= 0:
            requests.append((bytes(self._buffer[: end + 1]), self._started))
            del self._buffer[: end + 1]
            self._started = now
        self._answer(requests)


class HidEndpoint:
    """The device side of a HID report pipe: 9-byte output reports in, 8-byte reports out."""

    def __init__(self, server: Server[bytes], sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock: socket.socket | None = sock
        self._out = bytearray()
        self._session = Session(server, Channel(self._send, self.close))
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        assert self._sock is not None
        try:
            report = self._sock.recv(64)
        except BlockingIOError:
            return
        except OSError:
            report = b""
        if not report:
            self.close()
            return
        if len(report) == REPORT + 1 and report[0] == 0:
            report = report[1:]
        end = report.find(CR)
        # Zero padding follows the CR in the last report of a request.
        self._session.feed(report if end < 0 else report[: end + 1])

    def _send(self, data: bytes) -> None:
        self._out += data
        while len(self._out) >= REPORT or CR in self._out:
            end = self._out.find(CR)
            size = REPORT if end < 0 or end >= REPORT else end + 1
            chunk = bytes(self._out[:size]).ljust(REPORT, b"\x00")
            del self._out[:size]
            if self._sock is not None:
                with contextlib.suppress(BlockingIOError, BrokenPipeError):
                    self._sock.send(chunk)

    def close(self) -> None:
        """Close our end of the pipe; the client reads end of file."""
        self._session.close()
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None


__all__ = ["Channel", "HidEndpoint", "Session"]
