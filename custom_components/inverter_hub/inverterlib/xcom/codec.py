"""SCOM frames (Studer's Xtender serial protocol): bytes <-> frames, services and values.

A frame is `AA flags src(u32) dst(u32) len(u16) hchk(2) data(len) dchk(2)`, all little-endian,
with no terminator: a reader cuts frames by the length in the header. Both checksums are
Fletcher-like: A starts at 0xFF, B at 0; each byte adds to A and A adds to B (mod 256).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag
import math
import struct

from ..errors import FrameError
from .objects import Format

START = 0xAA
HEADER_SIZE = 14
CHECKSUM_SIZE = 2
# The service header: flags, service id, object type, object id, property id.
SERVICE_HEADER = struct.Struct("<BBHIH")
# The header between the start byte and the header checksum: flags, source, destination, length.
_HEADER = struct.Struct("<BIIH")
# One multi-info item asked (info id, aggregation) and answered (info id, aggregation, value).
_MULTI_ASK = struct.Struct("<HB")
_MULTI_ANSWER = struct.Struct("<HBf")
_MULTI_HEAD = struct.Struct("<II")
_MESSAGE = struct.Struct("<IHIII")
# A request of 76 items is 238 bytes of frame data, just under the 240 a request may carry.
MULTI_INFO_MAX = 76
MULTI_INFO_OBJECT = 1
# The DTE's own address, as the specification's examples use.
DTE_ADDRESS = 1


class Service(IntEnum):
    """What a request asks the Xcom to do."""

    READ = 0x01
    WRITE = 0x02


class ObjectType(IntEnum):
    """The kind of object a service addresses."""

    INFO = 0x0001
    PARAMETER = 0x0002
    MESSAGE = 0x0003
    GUID = 0x0004
    DATALOG_FIELD = 0x0005
    MULTI_INFO = 0x000A
    FILE_TRANSFER = 0x0101


class Property(IntEnum):
    """The property of an object a service reads or writes."""

    MESSAGE = 0x0000
    VALUE = 0x0001
    VALUE_QSP = 0x0005
    MIN_QSP = 0x0006
    MAX_QSP = 0x0007
    LEVEL_QSP = 0x0008
    UNSAVED_VALUE_QSP = 0x000D


class FrameFlags(IntFlag):
    """The frame flags of a reply: the Xcom's own state."""

    MESSAGE_PENDING = 0x01
    RESTARTED = 0x02
    SD_CARD_PRESENT = 0x04
    SD_CARD_FULL = 0x08
    NEW_DATALOG_FILE = 0x10
    DATALOGGER_SUPPORTED = 0x20


class Aggregation(IntEnum):
    """How a multi-info item combines the devices of its family (1-15 name one device)."""

    MASTER = 0x00
    AVERAGE = 0xFD
    SUM = 0xFE


_RESPONSE = 0x02
_ERROR = 0x01


def checksum(data: bytes) -> bytes:
    """Return the two checksum bytes (A, B) of `data`."""
    a, b = 0xFF, 0
    for byte in data:
        a = (a + byte) & 0xFF
        b = (b + a) & 0xFF
    return bytes((a, b))


@dataclass(frozen=True, kw_only=True, slots=True)
class Frame:
    """One SCOM frame: the Xcom's flags, the addresses and the service data."""

    flags: FrameFlags
    source: int
    destination: int
    data: bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class ServiceData:
    """The service layer of a frame: a request, a reply, or an error reply (2-byte code)."""

    service: Service
    object_type: int
    object_id: int
    property_id: int
    value: bytes = b""
    response: bool = False
    error: bool = False

    @property
    def error_code(self) -> int:
        """Return the error code an error reply carries."""
        if len(self.value) < 2:
            raise FrameError(f"an error reply carries {len(self.value)} bytes, not a code")
        return int.from_bytes(self.value[:2], "little")

    def answers(self, request: ServiceData) -> bool:
        """Return whether this reply belongs to `request`."""
        return self.response and (
            self.service,
            self.object_type,
            self.object_id,
            self.property_id,
        ) == (request.service, request.object_type, request.object_id, request.property_id)


def encode_frame(frame: Frame) -> bytes:
    """Return a frame's bytes."""
    header = _HEADER.pack(frame.flags, frame.source, frame.destination, len(frame.data))
    return bytes((START,)) + header + checksum(header) + frame.data + checksum(frame.data)


def encode_service(data: ServiceData) -> bytes:
    """Return the frame data of a service."""
    flags = (_RESPONSE if data.response else 0) | (_ERROR if data.error else 0)
    head = SERVICE_HEADER.pack(
        flags, data.service, data.object_type, data.object_id, data.property_id
    )
    return head + data.value


def decode_service(data: bytes) -> ServiceData:
    """Return the service carried by a frame's data; raise FrameError if it is malformed."""
    if len(data) < SERVICE_HEADER.size:
        raise FrameError(f"frame data of {len(data)} bytes is shorter than a service header")
    flags, service, object_type, object_id, property_id = SERVICE_HEADER.unpack_from(data)
    try:
        kind = Service(service)
    except ValueError:
        raise FrameError(f"unknown service 0x{service:02x}") from None
    return ServiceData(
        service=kind,
        object_type=object_type,
        object_id=object_id,
        property_id=property_id,
        value=bytes(data[SERVICE_HEADER.size :]),
        response=bool(flags & _RESPONSE),
        error=bool(flags & _ERROR),
    )


def request_frame(destination: int, service: ServiceData, *, source: int = DTE_ADDRESS) -> bytes:
    """Return the bytes of a request to `destination`."""
    frame = Frame(
        flags=FrameFlags(0), source=source, destination=destination, data=encode_service(service)
    )
    return encode_frame(frame)


def take_frame(buffer: bytearray) -> Frame | None:
    """Cut the first complete frame from the front of `buffer` (None: more bytes needed).

    Bytes before a start byte, and a start byte whose header fails its checksum, are dropped
    (the reader resynchronises on the next 0xAA). A frame whose data fails its checksum is
    consumed whole and raises FrameError.
    """
    while True:
        start = buffer.find(START)
        if start < 0:
            buffer.clear()
            return None
        del buffer[:start]
        if len(buffer) < HEADER_SIZE:
            return None
        header = bytes(buffer[1 : HEADER_SIZE - CHECKSUM_SIZE])
        if checksum(header) != buffer[HEADER_SIZE - CHECKSUM_SIZE : HEADER_SIZE]:
            del buffer[:1]
            continue
        flags, source, destination, length = _HEADER.unpack(header)
        end = HEADER_SIZE + length + CHECKSUM_SIZE
        if len(buffer) < end:
            return None
        data = bytes(buffer[HEADER_SIZE : end - CHECKSUM_SIZE])
        received = bytes(buffer[end - CHECKSUM_SIZE : end])
        del buffer[:end]
        if checksum(data) != received:
            raise FrameError(f"frame data checksum {received.hex()} != {checksum(data).hex()}")
        return Frame(flags=FrameFlags(flags), source=source, destination=destination, data=data)


# Values -------------------------------------------------------------------------------------

type Raw = float | int | bool | str


def encode_value(fmt: Format, value: Raw) -> bytes:
    """Return the wire bytes of a value in a format."""
    match fmt:
        case Format.BOOL:
            return bytes((1 if value else 0,))
        case Format.FLOAT:
            return struct.pack("<f", float(value))
        case Format.INT32:
            return struct.pack("<i", int(value))
        case Format.LONG_ENUM:
            return struct.pack("<I", int(value))
        case Format.SHORT_ENUM | Format.FORMAT | Format.ERROR:
            return struct.pack("<H", int(value))
    return str(value).encode("iso-8859-15")


def decode_value(fmt: Format, data: bytes) -> Raw:
    """Return the value of wire bytes; the length decides where the table's format is loose.

    User infos listed as SHORT_ENUM arrive as 2 bytes from some gateways and as a 4-byte float
    from others, so 4 bytes of an enum are read as a float and 2 bytes of a float as a u16.
    """
    if fmt is Format.STRING:
        return data.decode("iso-8859-15")
    size = len(data)
    if size == 1:
        return bool(data[0]) if fmt is Format.BOOL else data[0]
    if size == 2:
        return int.from_bytes(data, "little")
    if size != 4:
        raise FrameError(f"a {fmt} value of {size} bytes")
    if fmt is Format.INT32:
        return int(struct.unpack("<i", data)[0])
    if fmt is Format.LONG_ENUM:
        return int(struct.unpack("<I", data)[0])
    number = float(struct.unpack("<f", data)[0])
    if not math.isfinite(number):
        raise FrameError(f"a {fmt} value is not a finite number: {number}")
    if fmt is Format.BOOL:
        return bool(number)
    return round(number) if fmt in (Format.SHORT_ENUM, Format.FORMAT) else number


# Multi-info ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class MultiInfoValue:
    """One value of a multi-info reply (NaN where the Xcom had no value)."""

    info: int
    aggregation: int
    value: float


@dataclass(frozen=True, kw_only=True, slots=True)
class MultiInfoReply:
    """A multi-info reply: the gateway's flags, its clock and the values."""

    flags: int
    time: int
    values: tuple[MultiInfoValue, ...]


def encode_multi_info(items: Sequence[tuple[int, int]]) -> bytes:
    """Return the property data asking for (info, aggregation) items."""
    if not 1 <= len(items) <= MULTI_INFO_MAX:
        raise ValueError(f"a multi-info request holds 1 to {MULTI_INFO_MAX} items")
    return b"".join(_MULTI_ASK.pack(info, aggregation) for info, aggregation in items)


def decode_multi_info(data: bytes) -> MultiInfoReply:
    """Return the values of a multi-info reply; raise FrameError if it is malformed."""
    body = len(data) - _MULTI_HEAD.size
    if body < 0 or body % _MULTI_ANSWER.size:
        raise FrameError(f"a multi-info reply of {len(data)} bytes")
    flags, time = _MULTI_HEAD.unpack_from(data)
    values = tuple(
        MultiInfoValue(info=info, aggregation=aggregation, value=value)
        for info, aggregation, value in _MULTI_ANSWER.iter_unpack(data[_MULTI_HEAD.size :])
    )
    return MultiInfoReply(flags=flags, time=time, values=values)


# Messages -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class XcomMessage:
    """One entry of the Xcom's message log."""

    total: int
    code: int
    source: int
    timestamp: int
    value: int


def decode_message(data: bytes) -> XcomMessage:
    """Return the message a message read carries."""
    if len(data) != _MESSAGE.size:
        raise FrameError(f"a message of {len(data)} bytes, not {_MESSAGE.size}")
    total, code, source, timestamp, value = _MESSAGE.unpack(data)
    return XcomMessage(total=total, code=code, source=source, timestamp=timestamp, value=value)
