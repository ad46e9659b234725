"""A PI30 inverter on a pty, a TCP port or a HID report pipe, with wire pacing and faults.

The framing and CRC here are written from the protocol description, independently of the
client library, so that the two can check each other.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter, deque
from dataclasses import dataclass, field
from enum import StrEnum
import random
import re
import socket
import sys

from .endpoints import EndpointHost, serve_until_signalled, sleep_until
from .pi30_device import NAK, Pi30Device, Profile
from .pi30_endpoints import Channel, HidEndpoint, Session

CR = 0x0D
REPORT = 8
# Bits on the wire per byte at 8N1: start, 8 data, stop.
BITS_PER_BYTE = 10
# Paced replies are written in slices of about this many seconds.
SLICE_SECONDS = 0.02


def xmodem_crc(data: bytes) -> int:
    """Return the CRC-16/XMODEM of `data`, one bit at a time."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def wire_crc(data: bytes, *, zero_too: bool = False) -> bytes:
    """Return the two CRC bytes as the inverter sends them: `(`, CR and LF moved up by one."""
    crc = xmodem_crc(data)
    out = bytearray((crc >> 8, crc & 0xFF))
    for i, byte in enumerate(out):
        if byte in (0x28, 0x0D, 0x0A) or (zero_too and byte == 0):
            out[i] = byte + 1
    return bytes(out)


def reply_frame(payload: str) -> bytes:
    """Return `(payload` with its CRC and CR."""
    body = b"(" + payload.encode("ascii")
    return body + wire_crc(body) + b"\r"


def request_command(raw: bytes) -> str | None:
    """Return the command of a request (without CR), or None when its CRC is wrong."""
    if len(raw) < 3:
        return None
    body, crc = raw[:-2], raw[-2:]
    if crc not in (wire_crc(body), wire_crc(body, zero_too=True)):
        return None
    try:
        return body.decode("ascii")
    except UnicodeDecodeError:
        return None


class Fault(StrEnum):
    """A way the line or the device can misbehave."""

    SILENCE = "silence"
    GARBAGE = "garbage"
    BAD_CRC = "bad_crc"
    TRUNCATED = "truncated"
    # The reply arrives behind the tail of another frame, as when a line is picked up mid-frame.
    FRAGMENT = "fragment"
    NAK = "nak"
    DISCONNECT = "disconnect"
    SLOW = "slow"
    # The reply is held back and sent when the next request arrives, ahead of its answer.
    LATE = "late"
    # The reply is sent `reply_delay` seconds late.
    DELAYED = "delayed"
    # Every number of the reply is replaced by a token Python's float() takes but no unit sends.
    NAN = "nan"
    INFINITE = "inf"
    OVERFLOW = "1e999"
    UNDERSCORE = "1_0"
    # A reply without CR that runs on for `flood_bytes` bytes.
    ENDLESS = "endless"


_NON_FINITE = frozenset({Fault.NAN, Fault.INFINITE, Fault.OVERFLOW, Fault.UNDERSCORE})
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# The tail of a QMCHGCR reply: the fragment a HID link once kept reading instead of a reply.
_FRAGMENT = reply_frame("010 020 030 040 050 060 070 080 090 100 110 120")[-20:]
FLOOD_CHUNK = 256


def corrupt_numbers(payload: str, token: str) -> str:
    """Replace every number in a payload by `token`, padded to its width as float() reads it."""

    def replace(match: re.Match[str]) -> str:
        return token.rjust(len(match.group(0)), " " if token.isalpha() else "0")

    return _NUMBER.sub(replace, payload)


@dataclass(frozen=True, kw_only=True)
class _Injected:
    """A fault waiting for a request, of one command or of any."""

    fault: Fault
    command: str | None

    def applies(self, command: str | None) -> bool:
        """Return whether the fault hits a request of `command`."""
        return self.command is None or self.command == command


@dataclass
class Stats:
    """What the simulator saw and sent, for tests and benchmarks."""

    requests: Counter[str] = field(default_factory=Counter)
    bytes_in: int = 0
    bytes_out: int = 0

    @property
    def total(self) -> int:
        """Return the number of requests received."""
        return sum(self.requests.values())


class Pi30Simulator(EndpointHost):
    """A PI30 device served on any number of endpoints in the running event loop."""

    def __init__(
        self,
        device: Pi30Device | None = None,
        *,
        baud: float | None = None,
        latency: float = 0.0,
        slow_byte_delay: float = 0.05,
        reply_delay: float = 0.5,
        flood_bytes: int = 8192,
        seed: int = 30,
    ) -> None:
        """Wrap a device; `baud` paces every byte both ways at 10/baud seconds."""
        super().__init__()
        self.device = device or Pi30Device()
        self.baud = baud
        self.latency = latency
        self.slow_byte_delay = slow_byte_delay
        self.reply_delay = reply_delay
        self.flood_bytes = flood_bytes
        self.stats = Stats()
        self._faults: deque[_Injected] = deque()
        self._standing: _Injected | None = None
        self._held: dict[Channel, bytes] = {}
        self._clears = 0
        self._random = random.Random(seed)

    # --- faults --------------------------------------------------------------------------

    def inject(self, fault: Fault, count: int | None = None, *, command: str | None = None) -> None:
        """Misbehave on the next `count` requests (of `command`), or on every one until cleared."""
        injected = _Injected(fault=fault, command=command)
        if count is None:
            self._standing = injected
        else:
            self._faults.extend([injected] * count)

    def clear_faults(self) -> None:
        """Behave again; replies held back are forgotten."""
        self._faults.clear()
        self._standing = None
        self._held.clear()
        self._clears += 1

    def _next_fault(self, command: str | None) -> Fault | None:
        if self._faults and self._faults[0].applies(command):
            return self._faults.popleft().fault
        if self._standing is not None and self._standing.applies(command):
            return self._standing.fault
        return None

    # --- serving -------------------------------------------------------------------------

    @property
    def byte_time(self) -> float:
        """Return the seconds one byte takes on the wire (0 when not paced)."""
        return BITS_PER_BYTE / self.baud if self.baud else 0.0

    async def serve(self, request: bytes, started: float, channel: Channel) -> None:
        """Answer one request on one channel, keeping wire time and applying faults."""
        loop = asyncio.get_running_loop()
        self.stats.bytes_in += len(request)
        # The pty hands the request over at once; on a real line its last byte lands later.
        await sleep_until(loop, started + len(request) * self.byte_time)
        command = request_command(request[:-1])
        self.stats.requests[command or "<bad crc>"] += 1
        if (held := self._held.pop(channel, None)) is not None:
            await self._send_paced(channel, held, slow=False)
        fault = self._next_fault(command)
        refused = fault is Fault.NAK or command is None
        payload = NAK if refused or command is None else self.device.handle(command)
        if payload is None:
            return
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault in _NON_FINITE:
            payload = corrupt_numbers(payload, fault)
        frame = reply_frame(payload)
        match fault:
            case Fault.SILENCE:
                return
            case Fault.DISCONNECT:
                channel.hang_up()
                return
            case Fault.LATE:
                self._held[channel] = frame
                return
            case Fault.DELAYED:
                await asyncio.sleep(self.reply_delay)
            case Fault.ENDLESS:
                await self._flood(channel)
                return
            case Fault.GARBAGE:
                frame = bytes(self._random.choice(b"\x00\x13\x7f\xfe ABC(0") for _ in range(12))
                frame += b"\r"
            case Fault.BAD_CRC:
                frame = frame[:-3] + bytes(b ^ 0x55 for b in frame[-3:-1]) + b"\r"
            case Fault.TRUNCATED:
                frame = frame[: len(frame) // 2]
            case Fault.FRAGMENT:
                frame = _FRAGMENT + frame
        await self._send_paced(channel, frame, slow=fault is Fault.SLOW)

    async def _flood(self, channel: Channel) -> None:
        """Send `flood_bytes` of a reply that never ends, in chunks, then stop."""
        chunk = (b"(" + b"0123456789 " * FLOOD_CHUNK)[:FLOOD_CHUNK]
        for _ in range(self.flood_bytes // FLOOD_CHUNK):
            channel.send(chunk)
            self.stats.bytes_out += len(chunk)
            await asyncio.sleep(0.001)

    async def _send_paced(self, channel: Channel, frame: bytes, *, slow: bool) -> None:
        """Send a frame byte by byte at wire speed (or slower while a slow fault lasts)."""
        self.stats.bytes_out += len(frame)
        loop = asyncio.get_running_loop()
        due = loop.time()
        sent = 0
        clears = self._clears
        while sent < len(frame):
            # Clearing the faults mid-reply brings the rest of a slow reply back to speed.
            slow_now = slow and clears == self._clears
            per_byte = self.slow_byte_delay if slow_now else self.byte_time
            if per_byte <= 0:
                channel.send(frame[sent:])
                return
            # Byte i is complete (i + 1) byte times after the reply started; send in slices.
            target = min(len(frame), sent + max(1, round(SLICE_SECONDS / per_byte)))
            due += (target - sent) * per_byte
            await sleep_until(loop, due)
            channel.send(frame[sent:target])
            sent = target

    # --- endpoints -----------------------------------------------------------------------

    def new_session(self, channel: Channel) -> Session:
        """Return the session that cuts one peer's bytes at CR."""
        return Session(self, channel)

    def hid_pair(self) -> int:
        """Serve HID report semantics on a new SOCK_SEQPACKET pair; return the client's fd."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        endpoint = HidEndpoint(self, ours)
        self._closers.append(endpoint.close)
        return theirs.detach()

    async def stop(self) -> None:
        """Close every endpoint, forget replies held back and cancel every reply in flight."""
        self._held.clear()
        await super().stop()


async def _run(args: argparse.Namespace) -> None:
    profile = Profile.old_firmware() if args.old_firmware else Profile()
    if args.parallel:
        profile.parallel = True
    simulator = Pi30Simulator(Pi30Device(profile), baud=args.baud)
    if args.pty:
        endpoint = await simulator.start_pty(args.pty)
        print(f"serving PI30 on pty {endpoint}", flush=True)
    else:
        host, _, port = args.tcp.rpartition(":")
        bound_host, bound_port = await simulator.start_tcp(host or "127.0.0.1", int(port))
        print(f"serving PI30 on tcp://{bound_host}:{bound_port}", flush=True)
    await serve_until_signalled(simulator.stop)


def main(argv: list[str] | None = None) -> int:
    """Serve a simulated PI30 inverter until killed."""
    parser = argparse.ArgumentParser(prog="python -m simulators.pi30", description=main.__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", metavar="PATH", help="symlink to create for the pty")
    where.add_argument("--tcp", metavar="HOST:PORT", help="address to listen on")
    parser.add_argument("--baud", type=float, default=2400, help="pace bytes (0 = unpaced)")
    parser.add_argument("--parallel", action="store_true", help="two units in parallel")
    parser.add_argument("--old-firmware", action="store_true", help="a 2014-era unit")
    args = parser.parse_args(argv)
    if args.baud == 0:
        args.baud = None
    asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
