"""A Studer Xcom with Xtenders, a VarioTrack and a BSP behind it, on a pty, TCP or UDP.

The frames are built and cut by `xcom_frames`, written from the specification apart from the
client library. Units share one battery whose voltage and currents add up; parameters keep
separate flash and RAM copies with Studer's limits; a unit whose SCOM watchdog is on and that
no frame reached for its delay takes its flash values again (a multi-info request goes to the
Xcom, not to the units); the Xcom raises its restart and message flags; faults cover a unit
that drops out, an absurd reading, bad checksums, silence, a busy gateway, late and slow
replies; a paced endpoint sends each byte at the line's speed.

    python -m simulators.xcom --tcp 127.0.0.1:4001
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
import math
import struct
import sys
import time

from inverterlib.xcom.kinds import BSP, VARIOSTRING, VARIOTRACK, XCOM, XTENDER, UnitKind

from .endpoints import Channel, EndpointHost, serve_until_signalled, sleep_until
from .xcom_endpoints import FrameSession, UdpProtocol
from .xcom_frames import (
    ERRORS,
    FLAG_MESSAGE_PENDING,
    FLAG_RESTARTED,
    INFO,
    MESSAGE,
    MULTI_INFO,
    PARAMETER,
    READ,
    VALUE,
    VALUE_QSP,
    WRITE,
    Request,
    build_reply,
    pack_value,
    parse_request,
)
from .xcom_units import (
    UNIT_TYPES,
    Installation,
    SimUnit,
    read_parameter,
    write_parameter,
)

XCOM_ADDRESS = 501
# Start bit, 8 data bits, even parity, stop bit.
BITS_PER_BYTE = 11
SLICE_SECONDS = 0.02
CLEAR_RESTART_FLAG = 5104
GROUPS = {XTENDER.group: XTENDER, VARIOTRACK.group: VARIOTRACK, VARIOSTRING.group: VARIOSTRING}
# Multi-info reply flags: service version 1, then which kinds of unit are present.
_PRESENT_BITS = {XTENDER.id: 0x20, BSP.id: 0x40, VARIOTRACK.id: 0x80, VARIOSTRING.id: 0x100}
_SUM, _AVERAGE = 0xFE, 0xFD
_NOISE = b"\x00\x13\x55\xfe\x01"


class Fault(StrEnum):
    """A way the Xcom or its line misbehaves on one request."""

    SILENCE = "silence"
    BAD_CHECKSUM = "bad_checksum"
    GARBAGE = "garbage"
    BUSY = "busy"
    SLOW = "slow"
    STALE = "stale"


@dataclass
class Stats:
    """What the simulated Xcom saw and sent, for tests and benchmarks."""

    requests: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    @property
    def total(self) -> int:
        """Return the number of requests answered or refused."""
        return sum(self.requests.values())


@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    """One entry of the Xcom's message log."""

    code: int
    source: int
    timestamp: int
    value: int = 0


class Gateway(SimUnit):
    """The Xcom's own parameters (5xxx)."""

    KIND = XCOM


class XcomSimulator(EndpointHost):
    """An Xcom and its units served on any number of endpoints in the running event loop."""

    def __init__(
        self,
        *,
        xtenders: int = 3,
        variotrack: bool = True,
        variostring: bool = False,
        bsp: bool = True,
        multi_info: bool = True,
        info_properties: tuple[int, ...] = (VALUE, VALUE_QSP),
        enums_as_float: bool = False,
        baud: float | None = None,
        latency: float = 0.0,
        slow_delay: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Build the installation; `baud` paces every byte both ways at 11/baud seconds."""
        super().__init__()
        self.installation = Installation(clock=clock, started=clock(), xtenders=xtenders)
        addresses = [XTENDER.addresses[i] for i in range(xtenders)]
        if variotrack:
            addresses.append(VARIOTRACK.addresses.start)
        if variostring:
            addresses.append(VARIOSTRING.addresses.start)
        if bsp:
            addresses.append(BSP.addresses.start)
        self.units: dict[int, SimUnit] = {}
        for address in addresses:
            kind = next(
                k for k in (XTENDER, VARIOTRACK, VARIOSTRING, BSP) if address in k.addresses
            )
            self.units[address] = UNIT_TYPES[kind.id](address, self.installation)
        self.gateway = Gateway(XCOM_ADDRESS, self.installation)
        self.multi_info = multi_info
        self.info_properties = info_properties
        self.enums_as_float = enums_as_float
        # What a unit answers for an info it does not have: OBJECT_ID_NOT_FOUND, or, as some
        # firmware does (pystuderxcom's discovery tells a BSP from a BMS by it), INVALID_DATA.
        self.missing_info = ERRORS["OBJECT_ID_NOT_FOUND"]
        self.baud = baud
        self.latency = latency
        self.slow_delay = slow_delay
        self.flags = FLAG_RESTARTED
        self.messages: list[Message] = []
        self.hung: set[int] = set()
        self.stats = Stats()
        self._faults: deque[Fault] = deque()
        self._standing: Fault | None = None
        self._last_reply = b""

    # Faults and events ------------------------------------------------------------------

    def inject(self, fault: Fault, count: int | None = None) -> None:
        """Misbehave on the next `count` requests, or on every request until cleared."""
        if count is None:
            self._standing = fault
        else:
            self._faults.extend([fault] * count)

    def clear_faults(self) -> None:
        """Behave again."""
        self._faults.clear()
        self._standing = None

    def drop(self, address: int) -> None:
        """Take a unit off the bus: the Xcom answers DEVICE_NOT_FOUND for it."""
        self.units[address].online = False

    def restore(self, address: int) -> None:
        """Bring a dropped or hung unit back."""
        self.units[address].online = True
        self.hung.discard(address)

    def hang(self, address: int) -> None:
        """Let requests to an address go unanswered, as if the Xcom hung on them."""
        self.hung.add(address)

    def watch(self) -> None:
        """Let each unit's SCOM watchdog fire that ran out since the last frame."""
        now = self.installation.clock()
        for unit in self.units.values():
            unit.watch(now)

    def _reach(self, destination: int) -> None:
        """Let the units a frame is addressed to (alone or by their group) hear it."""
        now = self.installation.clock()
        for unit in self.units.values():
            if unit.online and destination in (unit.address, unit.kind.group):
                unit.hear(now)

    def restart(self) -> None:
        """Restart the Xcom: it raises its restart flag until 5104 clears it."""
        self.flags |= FLAG_RESTARTED

    def post_message(self, code: int, source: int) -> None:
        """Log a message and raise the pending-message flag."""
        now = int(time.time())
        self.messages.insert(0, Message(code=code, source=source, timestamp=now))
        self.flags |= FLAG_MESSAGE_PENDING

    # Answers ----------------------------------------------------------------------------

    def answer(self, request: Request) -> bytes:
        """Return the reply frame the Xcom sends to a request."""
        self.watch()
        self._reach(request.destination)
        data, error = self._handle(request)
        return build_reply(request, flags=self.flags, data=data or b"", error=error)

    def _handle(self, request: Request) -> tuple[bytes | None, int | None]:
        if request.service not in (READ, WRITE):
            return None, ERRORS["SERVICE_NOT_SUPPORTED"]
        destination = request.destination
        if destination == XCOM_ADDRESS:
            return self._gateway(request)
        if destination in GROUPS:
            return self._multicast(request, GROUPS[destination])
        unit = self.units.get(destination)
        if unit is None or not unit.online:
            return None, ERRORS["DEVICE_NOT_FOUND"]
        return self._unit(unit, request)

    def _unit(self, unit: SimUnit, request: Request) -> tuple[bytes | None, int | None]:
        if request.object_type == PARAMETER:
            return self._parameter(unit, request)
        if request.object_type != INFO:
            return None, ERRORS["TYPE_NOT_SUPPORTED"]
        if request.service == WRITE:
            return None, ERRORS["PROPERTY_IS_READ_ONLY"]
        if request.property_id not in self.info_properties:
            return None, ERRORS["PROPERTY_NOT_SUPPORTED"]
        found = unit.info(request.object_id)
        if found is None:
            return None, self.missing_info
        datapoint, value = found
        if datapoint.format.value == "short_enum" and not self.enums_as_float:
            return pack_value("short_enum", value), None
        return pack_value("float", value), None

    def _parameter(self, unit: SimUnit, request: Request) -> tuple[bytes | None, int | None]:
        if request.service == READ:
            return read_parameter(unit, request.object_id, request.property_id)
        error = write_parameter(unit, request.object_id, request.property_id, request.data)
        if error is None and unit is self.gateway and request.object_id == CLEAR_RESTART_FLAG:
            self.flags &= ~FLAG_RESTARTED
        return b"", error

    def _multicast(self, request: Request, kind: UnitKind) -> tuple[bytes | None, int | None]:
        if request.service == READ:
            return None, ERRORS["MULTICAST_READ_NOT_SUPPORTED"]
        targets = [u for u in self.units.values() if u.kind is kind and u.online]
        if not targets:
            return None, ERRORS["DEVICE_NOT_FOUND"]
        for unit in targets:
            _, error = self._unit(unit, request)
            if error is not None:
                return None, error
        return b"", None

    def _gateway(self, request: Request) -> tuple[bytes | None, int | None]:
        if request.object_type == PARAMETER:
            return self._parameter(self.gateway, request)
        if request.object_type == MESSAGE and request.service == READ:
            return self._message(request.object_id)
        if request.object_type == MULTI_INFO and self.multi_info and request.service == READ:
            return self._multi_info(request.data)
        return None, ERRORS["TYPE_NOT_SUPPORTED"]

    def _message(self, index: int) -> tuple[bytes | None, int | None]:
        if index >= len(self.messages):
            return None, ERRORS["OBJECT_ID_NOT_FOUND"]
        if index == 0:
            self.flags &= ~FLAG_MESSAGE_PENDING
        message = self.messages[index]
        data = struct.pack(
            "<IHIII",
            len(self.messages),
            message.code,
            message.source,
            message.timestamp,
            message.value,
        )
        return data, None

    def _multi_info(self, data: bytes) -> tuple[bytes | None, int | None]:
        if not data or len(data) % 3 or len(data) // 3 > 76:
            return None, ERRORS["INVALID_DATA_LENGTH"]
        present = 1
        for unit in self.units.values():
            present |= _PRESENT_BITS[unit.kind.id]
        body = struct.pack("<II", present, int(time.time()))
        for info, aggregation in struct.iter_unpack("<HB", data):
            body += struct.pack("<HBf", info, aggregation, self._aggregate(info, aggregation))
        return body, None

    def _aggregate(self, info: int, aggregation: int) -> float:
        """Return one multi-info value: a unit's, or the sum or mean over a kind (NaN: none)."""
        values: list[float] = []
        for unit in self.units.values():
            if not unit.online or (
                aggregation not in (_SUM, _AVERAGE) and unit.index != max(1, aggregation)
            ):
                continue
            found = unit.info(info)
            if found is not None:
                values.append(found[1])
        if not values:
            return math.nan
        if aggregation == _SUM:
            return sum(values)
        return sum(values) / len(values)

    # Serving ----------------------------------------------------------------------------

    @property
    def byte_time(self) -> float:
        """Return the seconds one byte takes on the wire (0 when not paced)."""
        return BITS_PER_BYTE / self.baud if self.baud else 0.0

    def _next_fault(self) -> Fault | None:
        return self._faults.popleft() if self._faults else self._standing

    async def serve(self, frame: bytes | None, started: float, channel: Channel) -> None:
        """Answer one frame on one channel, keeping wire time and applying faults."""
        loop = asyncio.get_running_loop()
        if frame is None:
            # A bad checksum resets the Xcom's receiver: no reply at all.
            self.stats.rejected += 1
            return
        self.stats.bytes_in += len(frame)
        await sleep_until(loop, started + len(frame) * self.byte_time)
        request = parse_request(frame)
        if request is None:
            self.stats.rejected += 1
            return
        self.stats.requests[_describe(request)] += 1
        fault = self._next_fault()
        if fault is Fault.SILENCE or request.destination in self.hung:
            return
        if fault is Fault.BUSY:
            reply = build_reply(request, flags=self.flags, error=ERRORS["GATEWAY_BUSY"])
        else:
            reply = self.answer(request)
        delay = self.latency + (self.slow_delay if fault is Fault.SLOW else 0.0)
        if delay:
            await asyncio.sleep(delay)
        out = reply
        if fault is Fault.BAD_CHECKSUM:
            out = reply[:-1] + bytes([reply[-1] ^ 0x5A])
        elif fault is Fault.GARBAGE:
            out = _NOISE + reply
        elif fault is Fault.STALE and self._last_reply:
            out = self._last_reply + reply
        self._last_reply = reply
        await self._send_paced(channel, out)

    async def _send_paced(self, channel: Channel, data: bytes) -> None:
        """Send bytes at wire speed, in slices."""
        self.stats.bytes_out += len(data)
        if not self.byte_time:
            channel.send(data)
            return
        loop = asyncio.get_running_loop()
        due = loop.time()
        step = max(1, round(SLICE_SECONDS / self.byte_time))
        for start in range(0, len(data), step):
            chunk = data[start : start + step]
            due += len(chunk) * self.byte_time
            await sleep_until(loop, due)
            channel.send(chunk)

    # Endpoints --------------------------------------------------------------------------

    def new_session(self, channel: Channel) -> FrameSession:
        """Return the session that cuts one peer's bytes into frames by their headers."""
        return FrameSession(self, channel)

    async def start_udp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Serve on a UDP port (0 picks a free one); return the bound address."""
        protocol = UdpProtocol(self)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: protocol, local_addr=(host, port)
        )
        self._closers.append(protocol.close)
        bound = transport.get_extra_info("sockname")
        return str(bound[0]), int(bound[1])


def _describe(request: Request) -> str:
    service = "write" if request.service == WRITE else "read"
    kinds = {INFO: "info", PARAMETER: "parameter", MESSAGE: "message", MULTI_INFO: "multi-info"}
    kind = kinds.get(request.object_type, f"type {request.object_type}")
    return f"{service} {kind} {request.object_id} @{request.destination}"


async def _run(args: argparse.Namespace) -> None:
    simulator = XcomSimulator(
        xtenders=args.xtenders, multi_info=not args.no_multi_info, baud=args.baud or None
    )
    if args.pty:
        print(f"serving an Xcom on pty {await simulator.start_pty(args.pty)}", flush=True)
    else:
        kind = "tcp" if args.tcp else "udp"
        host, _, port = (args.tcp or args.udp).rpartition(":")
        start = simulator.start_tcp if args.tcp else simulator.start_udp
        bound_host, bound_port = await start(host or "127.0.0.1", int(port))
        print(f"serving an Xcom on {kind}://{bound_host}:{bound_port}", flush=True)
    await serve_until_signalled(simulator.stop)


def main(argv: list[str] | None = None) -> int:
    """Serve a simulated Xcom with its units until killed."""
    parser = argparse.ArgumentParser(prog="python -m simulators.xcom", description=main.__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", metavar="PATH", help="symlink to create for the pty")
    where.add_argument("--tcp", metavar="HOST:PORT", help="address to listen on (TCP)")
    where.add_argument("--udp", metavar="HOST:PORT", help="address to listen on (UDP)")
    parser.add_argument("--baud", type=float, default=38400, help="pace bytes (0 = unpaced)")
    parser.add_argument("--xtenders", type=int, default=3, choices=range(1, 10))
    parser.add_argument("--no-multi-info", action="store_true", help="an Xcom-232i")
    asyncio.run(_run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
