"""One Modbus transaction over a link: frame the request, read exactly the reply, unframe it.

Framing is done here rather than by pymodbus's framers: our links hand us a byte inbox, and
the length of every reply follows from its request (5 + 2n bytes for a read in RTU, 8 for a
write, 5 for an exception), so reading exactly that many bytes and checking the CRC or MBAP
header is a few lines that need no version shim. pymodbus still builds and parses the PDUs.

A reply is taken only as the answer to the request it belongs to: from the unit asked, with
the function asked (or its exception), and as many registers as asked. Modbus TCP and UDP also
carry a transaction id, and a reply to an earlier transaction is skipped. RTU carries none: a
late answer of the same length can only be told apart by when it comes, which the link does
(after a failed exchange it drains the line until quiet, and refuses a reply that more bytes
follow; see transport.base). A unit that answers every request later than the timeout cannot
be told from one that answers in time; its timeout must be raised.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

from ..errors import FrameError
from ..transport.base import Link
from .shim import READ_HOLDING, READ_INPUT, WRITE_MULTIPLE, WRITE_SINGLE

_LOGGER = logging.getLogger(__name__)

type Framing = Literal["rtu", "socket"]

EXCEPTION_NAMES = {
    0x01: "ILLEGAL_FUNCTION",
    0x02: "ILLEGAL_DATA_ADDRESS",
    0x03: "ILLEGAL_DATA_VALUE",
    0x04: "SERVER_DEVICE_FAILURE",
    0x05: "ACKNOWLEDGE",
    0x06: "SERVER_DEVICE_BUSY",
    0x07: "NEGATIVE_ACKNOWLEDGE",
    0x08: "MEMORY_PARITY_ERROR",
    0x0A: "GATEWAY_PATH_UNAVAILABLE",
    0x0B: "GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND",
}


def exception_name(code: int) -> str:
    """Return the Modbus name of an exception code."""
    return EXCEPTION_NAMES.get(code, f"EXCEPTION_{code:#04x}")


def crc16(data: bytes) -> int:
    """Return the CRC-16/MODBUS of `data` (polynomial 0xA001 reflected, start 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    """Return an RTU frame: unit, PDU, CRC low byte first."""
    body = bytes([unit]) + pdu
    return body + crc16(body).to_bytes(2, "little")


def mbap_frame(transaction: int, unit: int, pdu: bytes) -> bytes:
    """Return a Modbus TCP/UDP frame: transaction id, protocol 0, length, unit, PDU."""
    return (
        transaction.to_bytes(2, "big")
        + b"\x00\x00"
        + (len(pdu) + 1).to_bytes(2, "big")
        + bytes([unit])
        + pdu
    )


def reply_length(request: bytes) -> int:
    """Return the PDU length of a normal reply to a request PDU."""
    function = request[0]
    if function in (READ_HOLDING, READ_INPUT):
        return 2 + 2 * int.from_bytes(request[3:5], "big")
    if function in (WRITE_SINGLE, WRITE_MULTIPLE):
        return 5
    raise ValueError(f"function {function} is not one this engine sends")


class ModbusWire:
    """Sends request PDUs to units over one link and returns their reply PDUs."""

    def __init__(self, link: Link, framing: Framing) -> None:
        """Bind to a link with RTU framing (serial, RTU over TCP) or MBAP (TCP, UDP)."""
        self.link = link
        self.framing: Framing = framing
        self.transactions = 0
        self._transaction_id = 0

    def header_bytes(self) -> int:
        """Return the framing overhead of one frame (RTU unit + CRC, or the MBAP header)."""
        return 3 if self.framing == "rtu" else 7

    async def transact(self, unit: int, request: bytes, timeout: float) -> bytes:
        """Send one request PDU to `unit` and return its reply PDU (normal or exception)."""
        async with self.link.exchange() as link:
            deadline = time.monotonic() + timeout
            self.transactions += 1
            if self.framing == "rtu":
                await link.write(rtu_frame(unit, request))
                reply = await self._read_rtu(link, unit, request, deadline)
            else:
                self._transaction_id = self._transaction_id % 0xFFFF + 1
                await link.write(mbap_frame(self._transaction_id, unit, request))
                reply = await self._read_mbap(link, unit, deadline)
            # Checked inside the exchange: a reply that is not ours leaves the line out of step.
            self._check(request, reply)
        return reply

    @staticmethod
    def _remaining(deadline: float) -> float:
        return max(0.0, deadline - time.monotonic())

    async def _read_rtu(self, link: Link, unit: int, request: bytes, deadline: float) -> bytes:
        head = await link.read_exactly(2, self._remaining(deadline))
        if head[0] != unit:
            raise FrameError(f"reply from unit {head[0]} to a request for unit {unit}")
        if head[1] == request[0]:
            rest = reply_length(request) - 1
        elif head[1] == request[0] | 0x80:
            rest = 1
        else:
            raise FrameError(f"reply with function {head[1]} to function {request[0]}")
        frame = head + await link.read_exactly(rest + 2, self._remaining(deadline))
        if int.from_bytes(frame[-2:], "little") != crc16(frame[:-2]):
            raise FrameError(f"CRC mismatch in {frame.hex()}")
        return frame[1:-2]

    async def _read_mbap(self, link: Link, unit: int, deadline: float) -> bytes:
        while True:
            header = await link.read_exactly(7, self._remaining(deadline))
            transaction = int.from_bytes(header[0:2], "big")
            length = int.from_bytes(header[4:6], "big")
            if header[2:4] != b"\x00\x00" or not 2 <= length <= 254:
                raise FrameError(f"not a Modbus MBAP header: {header.hex()}")
            pdu = await link.read_exactly(length - 1, self._remaining(deadline))
            if transaction != self._transaction_id:
                # A late answer to a request that already timed out: skip it.
                _LOGGER.debug("dropped reply to stale transaction %d", transaction)
                continue
            if header[6] != unit:
                raise FrameError(f"reply from unit {header[6]} to a request for unit {unit}")
            return pdu

    @staticmethod
    def _check(request: bytes, reply: bytes) -> None:
        if reply[0] == request[0] | 0x80:
            if len(reply) != 2:
                raise FrameError(f"exception reply of {len(reply)} bytes")
            return
        if reply[0] != request[0]:
            raise FrameError(f"reply with function {reply[0]} to function {request[0]}")
        expected = reply_length(request)
        if len(reply) != expected:
            raise FrameError(f"reply of {len(reply)} bytes, expected {expected}")
        if request[0] in (READ_HOLDING, READ_INPUT) and reply[1] != expected - 2:
            raise FrameError(f"byte count {reply[1]} in a reply of {expected - 2} data bytes")
