"""A simulated GivEnergy WiFi/Ethernet dongle on a TCP port, in front of a simulated plant.

The framing, CRC and heartbeat rules here are written from protocols.md section 2,
independently of the client library, so that the two check each other. The dongle sends
heartbeats and drops a client that leaves three unanswered; it misbehaves on request the
way real dongles and networks do: fragmented, concatenated and late frames, garbage, null
replies, LAN broadcasts, a zeroed CRC, silence, a dropped socket, a reply to another
request first, slow bytes. Requests and heartbeats are counted at the server.

    python -m simulators.givenergy --tcp 127.0.0.1:8899 --kind gen2 --packs 2
    python -m simulators.givenergy --capture tests/lib/fixtures/givenergy_capture_gen2.json
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
import random
import signal
import sys
from typing import Any

from .givenergy_capture import CapturedUnit
from .givenergy_plant import Kind, Plant, Refused, Unit

MARKER = b"\x59\x59\x00\x01"
HEARTBEAT = 0x01
TRANSPARENT = 0x02
WRITE = 0x06
ADAPTER_TYPE = 0x01
SERVER_DEVICE_FAILURE = 0x04
# A slow reply trickles out this many bytes at a time.
SLOW_PIECE = 4
FLOOD_BYTES = 16384


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc_modbus(data: bytes) -> int:
    """Return the CRC-16/MODBUS of `data` (reflected 0x8005, start 0xFFFF), by table."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def outer(function: int, body: bytes) -> bytes:
    """Return the 8-byte header (length counts unit id, function and body) and the body."""
    return MARKER + (len(body) + 2).to_bytes(2, "big") + bytes((0x01, function)) + body


def transparent(adapter_serial: str, inner: bytes, *, crc: bytes | None = None) -> bytes:
    """Return a function 0x02 frame: adapter serial, byte count, inner frame and its CRC."""
    inner += crc_modbus(inner).to_bytes(2, "little") if crc is None else crc
    body = adapter_serial.encode("ascii") + len(inner).to_bytes(8, "big") + inner
    return outer(TRANSPARENT, body)


def reply(
    adapter_serial: str,
    *,
    device: int,
    function: int,
    inverter_serial: str,
    base: int,
    word: int,
    values: list[int] | tuple[int, ...] = (),
) -> bytes:
    """Return a reply: device, function, inverter serial, base, count or value, registers."""
    inner = bytes((device, function)) + inverter_serial.encode("ascii").ljust(10, b"\x00")
    inner += base.to_bytes(2, "big") + word.to_bytes(2, "big")
    inner += b"".join(value.to_bytes(2, "big") for value in values)
    return transparent(adapter_serial, inner)


def heartbeat(adapter_serial: str, adapter_type: int = ADAPTER_TYPE) -> bytes:
    """Return a heartbeat: the adapter serial and type, no CRC."""
    return outer(HEARTBEAT, adapter_serial.encode("ascii") + bytes((adapter_type,)))


def null_reply(adapter_serial: str) -> bytes:
    """Return the unsolicited null reply: function 0, a zero serial and 62 zero registers."""
    inner = bytes((0x32, 0x00)) + bytes(10 + 2 * 62)
    count = (len(inner) + 2).to_bytes(8, "big")
    return outer(TRANSPARENT, adapter_serial.encode("ascii") + count + inner + bytes(2))


def lan_broadcast(adapter_serial: str) -> bytes:
    """Return a WO dongle's LAN configuration broadcast (dewet22 `pdu/lan_config.py`)."""
    body = adapter_serial.encode("ascii") + bytes(7)
    body += b",192.168.1.57,255.255.255.0,192.168.1.1\r\n\r\n" + b"\x12\x34"
    return outer(TRANSPARENT, body)


@dataclass(frozen=True, kw_only=True, slots=True)
class Request:
    """A client frame: a transparent request, or the answer to a heartbeat."""

    function: int
    device: int = 0
    inner_function: int = 0
    base: int = 0
    word: int = 0
    adapter_type: int = 0


def next_request(buffer: bytearray) -> Request | None:
    """Cut the next well-formed client frame off `buffer`; None when more bytes are needed."""
    while True:
        start = buffer.find(MARKER)
        if start < 0:
            del buffer[: max(0, len(buffer) - 3)]
            return None
        del buffer[:start]
        if len(buffer) < 8:
            return None
        total = 6 + int.from_bytes(buffer[4:6], "big")
        if len(buffer) < total:
            return None
        frame = bytes(buffer[:total])
        del buffer[:total]
        request = _parse(frame)
        if request is not None:
            return request


def _parse(frame: bytes) -> Request | None:
    """Return a client frame's request; None for anything malformed (ignored, as dongles do)."""
    function = frame[7]
    if function == HEARTBEAT and len(frame) == 19:
        return Request(function=HEARTBEAT, adapter_type=frame[18])
    if function != TRANSPARENT or len(frame) != 34:
        return None
    inner = frame[26:]
    # A byte count other than 8 (0 in old clients) makes a real dongle stop answering.
    if int.from_bytes(frame[18:26], "big") != len(inner):
        return None
    if int.from_bytes(inner[-2:], "little") != crc_modbus(inner[:-2]):
        return None
    return Request(
        function=TRANSPARENT,
        device=inner[0],
        inner_function=inner[1],
        base=int.from_bytes(inner[2:4], "big"),
        word=int.from_bytes(inner[4:6], "big"),
    )


class Fault(StrEnum):
    """A way the dongle or the network misbehaves on a reply."""

    FRAGMENT = "fragment"
    CONCATENATE = "concatenate"
    GARBAGE = "garbage"
    NULL = "null"
    LAN_BROADCAST = "lan_broadcast"
    ZERO_CRC = "zero_crc"
    SILENCE = "silence"
    DISCONNECT = "disconnect"
    OTHER_FIRST = "other_first"
    LATE = "late"
    SLOW = "slow"
    REFUSE = "refuse"
    FLOOD = "flood"


@dataclass
class Stats:
    """What the dongle saw and sent."""

    requests: Counter[tuple[int, int, int, int]] = field(default_factory=Counter)
    writes: list[tuple[int, int, int]] = field(default_factory=list)
    too_soon: int = 0
    heartbeats_sent: int = 0
    heartbeat_latencies: list[float] = field(default_factory=list)
    drops: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    @property
    def total(self) -> int:
        """Return the number of register requests received."""
        return sum(self.requests.values())


class Connection(asyncio.Protocol):
    """One TCP client of the dongle: its requests in order, and its heartbeats."""

    def __init__(self, dongle: GivEnergySimulator) -> None:
        self._dongle = dongle
        self._buffer = bytearray()
        self._queue: deque[Request] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._heartbeat_answered = asyncio.Event()
        self.transport: asyncio.Transport | None = None
        self.last_reply = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the heartbeats for the new client."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._dongle.connections.add(self)
        if self._dongle.heartbeat_interval is not None:
            self._dongle.spawn(self._beat())

    def data_received(self, data: bytes) -> None:
        """Queue each complete request; note heartbeat answers at once."""
        self._dongle.stats.bytes_in += len(data)
        self._buffer += data
        while (request := next_request(self._buffer)) is not None:
            if request.function == HEARTBEAT:
                if request.adapter_type == ADAPTER_TYPE:
                    self._heartbeat_answered.set()
                continue
            self._queue.append(request)
        if self._queue and (self._worker is None or self._worker.done()):
            self._worker = self._dongle.spawn(self._work())

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the client."""
        self._dongle.connections.discard(self)
        self._queue.clear()
        self.transport = None

    async def _work(self) -> None:
        while self._queue:
            await self._dongle.serve(self._queue.popleft(), self)

    async def _beat(self) -> None:
        """Send a heartbeat every interval; hang up after too many go unanswered."""
        dongle = self._dongle
        assert dongle.heartbeat_interval is not None
        missed = 0
        loop = asyncio.get_running_loop()
        while self.transport is not None:
            await asyncio.sleep(dongle.heartbeat_interval)
            self._heartbeat_answered.clear()
            sent = loop.time()
            self.send(heartbeat(dongle.adapter_serial))
            dongle.stats.heartbeats_sent += 1
            try:
                async with asyncio.timeout(dongle.heartbeat_deadline):
                    await self._heartbeat_answered.wait()
            except TimeoutError:
                missed += 1
                if missed >= dongle.missed_heartbeats:
                    dongle.stats.drops += 1
                    self.hang_up()
                    return
            else:
                missed = 0
                dongle.stats.heartbeat_latencies.append(loop.time() - sent)

    def send(self, data: bytes) -> None:
        """Send bytes to the client if it is still there."""
        if self.transport is not None and not self.transport.is_closing():
            self._dongle.stats.bytes_out += len(data)
            self.transport.write(data)

    def hang_up(self) -> None:
        """Drop the connection."""
        if self.transport is not None:
            self.transport.close()


class GivEnergySimulator:
    """A dongle with a plant behind it, served on TCP in the running event loop."""

    def __init__(
        self,
        plant: Plant | None = None,
        *,
        unit: Unit | None = None,
        adapter_serial: str = "WF2311G042",
        heartbeat_interval: float | None = None,
        heartbeat_deadline: float = 5.0,
        missed_heartbeats: int = 3,
        min_interval: float = 0.0,
        late_delay: float = 0.5,
        slow_byte_delay: float = 0.01,
        seed: int = 8899,
    ) -> None:
        """Wrap a plant.

        Heartbeats go out every `heartbeat_interval` seconds (none when None; a real dongle
        sends one about every three minutes) and must be answered within
        `heartbeat_deadline`. A request arriving less than `min_interval` after the last
        reply is ignored, as a dongle that cannot keep up does.
        """
        self.plant = plant or Plant()
        # What answers requests: the plant, or a unit replaying a capture instead.
        self.unit: Unit = unit or self.plant
        self.adapter_serial = adapter_serial
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_deadline = heartbeat_deadline
        self.missed_heartbeats = missed_heartbeats
        self.min_interval = min_interval
        self.late_delay = late_delay
        self.slow_byte_delay = slow_byte_delay
        self.stats = Stats()
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self._faults: deque[Fault | None] = deque()
        self._standing: Fault | None = None
        self._random = random.Random(seed)
        self._server: asyncio.Server | None = None

    # --- faults --------------------------------------------------------------------------

    def inject(self, fault: Fault | None, count: int | None = 1) -> None:
        """Misbehave on the next `count` replies, or on every reply until cleared (None).

        Injecting None for a count of replies lets those through before later faults.
        """
        if count is None:
            self._standing = fault
        else:
            self._faults.extend([fault] * count)

    def clear_faults(self) -> None:
        """Behave again."""
        self._faults.clear()
        self._standing = None

    def _next_fault(self) -> Fault | None:
        return self._faults.popleft() if self._faults else self._standing

    # --- serving -------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a coroutine as a task the simulator cancels when it stops."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def answer(self, request: Request) -> bytes | None:
        """Return the frame that answers a request, or None when the device stays silent."""
        unit = self.unit
        if request.inner_function == WRITE:
            result = unit.write(request.device, request.base, request.word)
        else:
            result = unit.read(request.device, request.inner_function, request.base, request.word)
        if result is None:
            return None
        if isinstance(result, Refused):
            return self.error(request, result.code)
        if request.inner_function == WRITE:
            return self._reply(request, request.base, result[0])
        return self._reply(request, request.base, len(result), result)

    def _reply(
        self, request: Request, base: int, word: int, values: list[int] | tuple[int, ...] = ()
    ) -> bytes:
        """Return a reply to `request` from `base`: its count (or written value) and values."""
        return reply(
            self.adapter_serial,
            device=request.device,
            function=request.inner_function,
            inverter_serial=self.unit.serial,
            base=base,
            word=word,
            values=values,
        )

    def error(self, request: Request, code: int) -> bytes:
        """Return the error frame refusing a request (function with bit 7 set)."""
        return reply(
            self.adapter_serial,
            device=request.device,
            function=request.inner_function | 0x80,
            inverter_serial=self.unit.serial,
            base=request.base,
            word=code,
        )

    async def serve(self, request: Request, connection: Connection) -> None:
        """Answer one request on one connection, applying the next fault."""
        loop = asyncio.get_running_loop()
        key = (request.device, request.inner_function, request.base, request.word)
        self.stats.requests[key] += 1
        if request.inner_function == WRITE:
            self.stats.writes.append((request.device, request.base, request.word))
        if self.min_interval and loop.time() - connection.last_reply < self.min_interval:
            self.stats.too_soon += 1
            return
        fault = self._next_fault()
        frame = self.answer(request)
        if fault is Fault.REFUSE:
            frame = self.error(request, SERVER_DEVICE_FAILURE)
        if frame is None or fault is Fault.SILENCE:
            return
        await self._deliver(frame, request, fault, connection)
        connection.last_reply = loop.time()

    async def _deliver(
        self, frame: bytes, request: Request, fault: Fault | None, connection: Connection
    ) -> None:
        match fault:
            case Fault.DISCONNECT:
                connection.hang_up()
            case Fault.ZERO_CRC:
                connection.send(frame[:-2] + b"\x00\x00")
            case Fault.GARBAGE:
                connection.send(self.garbage() + frame + self.garbage())
            case Fault.NULL:
                connection.send(null_reply(self.adapter_serial))
                connection.send(frame)
            case Fault.LAN_BROADCAST:
                connection.send(lan_broadcast(self.adapter_serial) + frame)
            case Fault.OTHER_FIRST:
                connection.send(self.other_reply(request) + frame)
            case Fault.CONCATENATE:
                connection.send(
                    null_reply(self.adapter_serial)
                    + heartbeat(self.adapter_serial)
                    + frame
                    + lan_broadcast(self.adapter_serial)
                )
            case Fault.FRAGMENT:
                position = 0
                while position < len(frame):
                    size = self._random.randint(1, 9)
                    connection.send(frame[position : position + size])
                    position += size
                    await asyncio.sleep(0.002)
            case Fault.LATE:
                await asyncio.sleep(self.late_delay)
                connection.send(frame)
            case Fault.FLOOD:
                # More noise in one burst than a client buffers, the reply lost in it.
                connection.send(bytes(FLOOD_BYTES) + frame)
            case Fault.SLOW:
                for position in range(0, len(frame), SLOW_PIECE):
                    connection.send(frame[position : position + SLOW_PIECE])
                    await asyncio.sleep(self.slow_byte_delay * SLOW_PIECE)
            case _:
                connection.send(frame)

    def other_reply(self, request: Request) -> bytes:
        """Return a well-formed reply to a request 60 registers away (values 0x1234)."""
        base = request.base + 60 if request.base < 60 else request.base - 60
        if request.inner_function == WRITE:
            return self._reply(request, base, 0)
        return self._reply(request, base, request.word, [0x1234] * request.word)

    def garbage(self) -> bytes:
        """Return noise with pieces of a frame start in it."""
        noise = bytes(self._random.randrange(256) for _ in range(self._random.randint(3, 24)))
        return noise[:5] + MARKER[:3] + noise[5:] + MARKER + b"\x00"

    # --- unsolicited frames --------------------------------------------------------------

    def broadcast(self, frame: bytes) -> None:
        """Send a frame to every connected client now."""
        for connection in list(self.connections):
            connection.send(frame)

    def send_heartbeat(self) -> None:
        """Send a heartbeat to every client now (outside the regular interval)."""
        self.broadcast(heartbeat(self.adapter_serial))
        self.stats.heartbeats_sent += len(self.connections)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Serve on a TCP port (0 picks a free one); return the bound address."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self), host, port)
        return self.address

    def drop_clients(self) -> None:
        """Drop every client's connection, as a dongle rebooting does."""
        for connection in list(self.connections):
            connection.hang_up()

    async def stop(self) -> None:
        """Close every connection and cancel every task in flight."""
        self.drop_clients()
        if self._server is not None:
            self._server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> GivEnergySimulator:
        """Start serving on an ephemeral loopback port."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop serving."""
        await self.stop()

    @property
    def address(self) -> tuple[str, int]:
        """Return the host and port being served."""
        assert self._server is not None
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command line's options."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.givenergy", description=main.__doc__
    )
    parser.add_argument("--tcp", metavar="HOST:PORT", default="127.0.0.1:8899")
    parser.add_argument("--kind", choices=[kind.value for kind in Kind], default="gen2")
    parser.add_argument("--packs", type=int, default=2, help="LV battery packs (0-6)")
    parser.add_argument("--meter", action="store_true", help="a grid meter at device 0x01")
    parser.add_argument("--heartbeat", type=float, default=180.0, help="seconds between heartbeats")
    parser.add_argument(
        "--capture", type=Path, metavar="FILE", help="replay a unit's captured registers (JSON)"
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> None:
    """Serve the plant (or the capture) the options describe until `stop` is set."""
    unit = CapturedUnit.from_file(args.capture) if args.capture else None
    plant = Plant(args.kind, packs=args.packs, meter=args.meter)
    simulator = GivEnergySimulator(plant, unit=unit, heartbeat_interval=args.heartbeat)
    host, _, port = args.tcp.rpartition(":")
    bound_host, bound_port = await simulator.start(host or "127.0.0.1", int(port))
    what = f"{args.capture.name} replay" if unit else str(plant.kind)
    print(f"serving a GivEnergy {what} dongle on tcp://{bound_host}:{bound_port}", flush=True)
    try:
        await stop.wait()
    finally:
        await simulator.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve a simulated GivEnergy dongle until killed."""
    args = parse_args(argv)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(args, stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
