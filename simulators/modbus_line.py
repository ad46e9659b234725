"""The line between a pymodbus server and its client, where replies go wrong on purpose.

pymodbus frames and sends every reply; the simulator relays those bytes to the client through
its own pty, TCP or UDP endpoint and cuts them into frames on the way (MBAP by its length
field, RTU by function code and byte count), so a fault can drop, delay, split, damage or
misaddress one reply, or hang up after it, whichever pymodbus release did the framing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
import contextlib
from enum import StrEnum
import os
import random
import socket
import tty
from typing import Literal

from pymodbus.framer import FramerRTU

type Framing = Literal["rtu", "socket"]
type Address = tuple[str, int]

MBAP_HEADER = 7
# A fragmented reply comes in this many pieces, this far apart: well inside any timeout.
FRAGMENTS = 3
FRAGMENT_PAUSE = 0.02


class Fault(StrEnum):
    """A way a reply can go wrong between the device and the client."""

    SILENCE = "silence"  # the reply is lost
    EVERY_OTHER = "every_other"  # every second reply is lost
    GARBAGE = "garbage"  # noise of the reply's length instead of the reply
    BAD_CRC = "bad_crc"  # RTU: the CRC does not match (MBAP has no CRC: sent as it is)
    TRUNCATED = "truncated"  # the last bytes never come
    FRAGMENTED = "fragmented"  # the reply comes in pieces, with pauses between them
    WRONG_UNIT = "wrong_unit"  # another unit's address, with a valid CRC
    WRONG_TRANSACTION = "wrong_transaction"  # MBAP: another transaction id (RTU has none)
    LATE = "late"  # the reply comes after `late_delay`, past the client's timeout
    SLOW = "slow"  # one byte at a time, `byte_delay` apart
    CLOSE_AFTER_REPLY = "close_after_reply"  # TCP: the gateway hangs up after each reply


class FaultPlan:
    """Which fault, if any, hits each reply; shared by every endpoint of a simulator."""

    def __init__(self, *, seed: int = 1, late_delay: float = 0.5, byte_delay: float = 0.01) -> None:
        """Start with no fault; `late_delay` and `byte_delay` pace LATE and SLOW replies."""
        self.late_delay = late_delay
        self.byte_delay = byte_delay
        self.random = random.Random(seed)
        self._queued: deque[Fault] = deque()
        self._standing: Fault | None = None
        self._replies = 0

    def inject(self, fault: Fault, count: int | None = None) -> None:
        """Hit the next `count` replies with a fault, or every reply until cleared."""
        if count is None:
            self._standing = fault
        else:
            self._queued.extend([fault] * count)

    def clear(self) -> None:
        """Let replies through untouched again."""
        self._queued.clear()
        self._standing = None

    def next(self) -> Fault | None:
        """Return the fault for the next reply."""
        self._replies += 1
        fault = self._queued.popleft() if self._queued else self._standing
        if fault is Fault.EVERY_OTHER:
            return Fault.SILENCE if self._replies % 2 else None
        return fault


def frame_size(data: bytes | bytearray, framing: Framing) -> int | None:
    """Return the length of the reply frame at the start of `data`, or None if not known yet."""
    if framing == "socket":
        return MBAP_HEADER - 1 + int.from_bytes(data[4:6], "big") if len(data) >= 6 else None
    if len(data) < 3:
        return None
    function = data[1]
    if function & 0x80:
        return 5
    if function in (3, 4):
        return 5 + data[2]
    # FC06 and FC16 echo four bytes; no other function is served.
    return 8


def _with_crc(body: bytes) -> bytes:
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


def damage(frame: bytes, fault: Fault | None, framing: Framing, plan: FaultPlan) -> bytes:
    """Return the bytes that leave the device for `frame` under a fault."""
    match fault:
        case Fault.SILENCE:
            return b""
        case Fault.GARBAGE:
            return plan.random.randbytes(len(frame))
        case Fault.BAD_CRC if framing == "rtu":
            return frame[:-1] + bytes([frame[-1] ^ 0xFF])
        case Fault.TRUNCATED:
            return frame[: max(1, len(frame) - 3)]
        case Fault.WRONG_UNIT if framing == "rtu":
            return _with_crc(bytes([frame[0] % 247 + 1]) + frame[1:-2])
        case Fault.WRONG_UNIT:
            return frame[:6] + bytes([frame[6] % 247 + 1]) + frame[7:]
        case Fault.WRONG_TRANSACTION if framing == "socket":
            transaction = (int.from_bytes(frame[:2], "big") + 0x100) % 0x10000
            return transaction.to_bytes(2, "big") + frame[2:]
    return frame


def pieces(data: bytes, fault: Fault | None, plan: FaultPlan) -> list[tuple[float, bytes]]:
    """Return how `data` goes out: (pause before, bytes) in order."""
    if not data:
        return []
    match fault:
        case Fault.FRAGMENTED:
            size = -(-len(data) // FRAGMENTS)
            return [
                (FRAGMENT_PAUSE if start else 0.0, data[start : start + size])
                for start in range(0, len(data), size)
            ]
        case Fault.LATE:
            return [(plan.late_delay, data)]
        case Fault.SLOW:
            return [(plan.byte_delay, data[i : i + 1]) for i in range(len(data))]
    return [(0.0, data)]


class ReplyLine:
    """The device-to-client half of one connection: cuts replies into frames, applies faults.

    Replies leave in the order they came, so a late reply holds back the ones behind it, as
    on a real line.
    """

    def __init__(
        self,
        framing: Framing,
        plan: FaultPlan,
        send: Callable[[bytes], None],
        hang_up: Callable[[], None] | None = None,
    ) -> None:
        """Relay to `send`; `hang_up` ends the connection (TCP only)."""
        self._framing: Framing = framing
        self._plan = plan
        self._send = send
        self._hang_up = hang_up
        self._buffer = bytearray()
        self._frames: asyncio.Queue[bytes] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._relay())

    def feed(self, data: bytes) -> None:
        """Take bytes from the device; queue each complete frame."""
        self._buffer += data
        while (size := frame_size(self._buffer, self._framing)) and len(self._buffer) >= size:
            self._frames.put_nowait(bytes(self._buffer[:size]))
            del self._buffer[:size]

    async def _relay(self) -> None:
        while True:
            frame = await self._frames.get()
            fault = self._plan.next()
            for pause, chunk in pieces(
                damage(frame, fault, self._framing, self._plan), fault, self._plan
            ):
                if pause:
                    await asyncio.sleep(pause)
                self._send(chunk)
            if fault is Fault.CLOSE_AFTER_REPLY and self._hang_up is not None:
                self._hang_up()

    def close(self) -> None:
        """Stop relaying; replies not sent yet are lost."""
        self._task.cancel()


class TcpRelay:
    """A TCP endpoint in front of a pymodbus TCP server: one upstream connection per client."""

    def __init__(self, upstream: Address, framing: Framing, plan: FaultPlan) -> None:
        """Relay to the server at `upstream`."""
        self._upstream = upstream
        self._framing: Framing = framing
        self._plan = plan
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen on `host:port` (0: any free port); return the port."""
        self._server = await asyncio.start_server(self._connected, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:  # pragma: no cover - the server behind is ours and listening
            writer.close()
            self._connections.discard(task)
            return
        line = ReplyLine(self._framing, self._plan, writer.write, writer.close)
        try:
            await _pump_both(reader, up_writer, up_reader, line)
        finally:
            line.close()
            for stream in (writer, up_writer):
                stream.close()
            self._connections.discard(task)

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


async def _pump_both(
    reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    line: ReplyLine,
) -> None:
    """Carry requests up and replies down until either side closes."""

    async def requests() -> None:
        while data := await reader.read(4096):
            up_writer.write(data)

    async def replies() -> None:
        while data := await up_reader.read(4096):
            line.feed(data)

    pumps = [asyncio.ensure_future(requests()), asyncio.ensure_future(replies())]
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pump in pumps:
            pump.cancel()
        # A reset connection ends a pump with an error; either way the relay is over.
        for pump in pumps:
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await pump


class _Datagrams(asyncio.DatagramProtocol):
    """Hand every datagram and its sender to a callback."""

    def __init__(self, received: Callable[[bytes, Address], None]) -> None:
        self._received = received

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self._received(data, addr)


class _UdpPeer:
    """The upstream socket of one UDP client; the server's datagrams go to its ReplyLine."""

    def __init__(self, upstream: Address, line: ReplyLine) -> None:
        self._line = line
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._socket.connect(upstream)
        asyncio.get_running_loop().add_reader(self._socket.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data = self._socket.recv(4096)
        except OSError:  # pragma: no cover - the server behind is ours and listening
            return
        self._line.feed(data)

    def send(self, data: bytes) -> None:
        """Pass a request to the server."""
        with contextlib.suppress(OSError):
            self._socket.send(data)

    def close(self) -> None:
        """Close the socket and stop relaying."""
        self._line.close()
        asyncio.get_running_loop().remove_reader(self._socket.fileno())
        self._socket.close()


class UdpRelay:
    """A UDP endpoint in front of a pymodbus UDP server: one upstream socket per client."""

    def __init__(self, upstream: Address, plan: FaultPlan) -> None:
        """Relay to the server at `upstream`."""
        self._upstream = upstream
        self._plan = plan
        self._public: asyncio.DatagramTransport | None = None
        self._peers: dict[Address, _UdpPeer] = {}

    async def start(self, host: str, port: int) -> int:
        """Listen on `host:port` (0: any free port); return the port."""
        self._public, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Datagrams(self._request), local_addr=(host, port)
        )
        return int(self._public.get_extra_info("sockname")[1])

    def _request(self, data: bytes, client: Address) -> None:
        peer = self._peers.get(client)
        if peer is None:
            public = self._public
            assert public is not None
            line = ReplyLine("socket", self._plan, lambda reply: public.sendto(reply, client))
            peer = self._peers[client] = _UdpPeer(self._upstream, line)
        peer.send(data)

    async def close(self) -> None:
        """Stop listening and close every upstream socket."""
        for peer in self._peers.values():
            peer.close()
        self._peers.clear()
        if self._public is not None:
            self._public.close()
            self._public = None


class PtyBridge:
    """Two ptys whose masters are wired together: a null-modem cable in software.

    The device opens one end and the client the other; what the device sends crosses a
    ReplyLine, where faults apply.
    """

    def __init__(self, plan: FaultPlan) -> None:
        """Prepare; nothing is opened yet."""
        self.device_path = ""
        self.client_path = ""
        self._plan = plan
        self._masters: list[int] = []
        self._slaves: list[int] = []
        self._line: ReplyLine | None = None

    def open(self) -> None:
        """Create the ptys and start relaying between their masters."""
        loop = asyncio.get_running_loop()
        paths = []
        for _ in range(2):
            master, slave = os.openpty()
            # Raw mode before anyone opens the port: no echo, no CR/LF translation.
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._masters.append(master)
            # Holding a slave open keeps its master from reading EIO between users.
            self._slaves.append(slave)
            paths.append(os.ttyname(slave))
        self.device_path, self.client_path = paths
        device, client = self._masters
        self._line = ReplyLine("rtu", self._plan, lambda data: _write(client, data))
        loop.add_reader(device, self._relay, device, self._line.feed)
        loop.add_reader(client, self._relay, client, lambda data: _write(device, data))

    @staticmethod
    def _relay(source: int, forward: Callable[[bytes], None]) -> None:
        try:
            data = os.read(source, 4096)
        except BlockingIOError:  # pragma: no cover - a spurious wakeup
            return
        forward(data)

    def close(self) -> None:
        """Stop relaying and close every descriptor."""
        loop = asyncio.get_running_loop()
        if self._line is not None:
            self._line.close()
            self._line = None
        for master in self._masters:
            loop.remove_reader(master)
        for fd in self._masters + self._slaves:
            os.close(fd)
        self._masters.clear()
        self._slaves.clear()


def _write(fd: int, data: bytes) -> None:
    # A few bytes into a pty nobody drains for a moment: the buffer holds them.
    with contextlib.suppress(BlockingIOError):
        os.write(fd, data)
