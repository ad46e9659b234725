"""SCOM frames as an Xcom sees them, written from Studer's specification (protocols.md 3.2-3.3).

Kept apart from the client library on purpose: both are checked against the same golden
frames, so a mistake in one cannot hide in the other.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import struct

START_BYTE = 0xAA
# start, flags, source (4), destination (4), length (2), header checksum (2)
HEADER_BYTES = 14

READ = 0x01
WRITE = 0x02

INFO = 0x0001
PARAMETER = 0x0002
MESSAGE = 0x0003
MULTI_INFO = 0x000A

VALUE = 0x0001
VALUE_QSP = 0x0005
MIN_QSP = 0x0006
MAX_QSP = 0x0007
LEVEL_QSP = 0x0008
UNSAVED_VALUE_QSP = 0x000D

FLAG_MESSAGE_PENDING = 0x01
FLAG_RESTARTED = 0x02

ERRORS = {
    "INVALID_FRAME": 0x0001,
    "DEVICE_NOT_FOUND": 0x0002,
    "SERVICE_NOT_SUPPORTED": 0x0011,
    "GATEWAY_BUSY": 0x0013,
    "TYPE_NOT_SUPPORTED": 0x0021,
    "OBJECT_ID_NOT_FOUND": 0x0022,
    "PROPERTY_NOT_SUPPORTED": 0x0023,
    "INVALID_DATA_LENGTH": 0x0024,
    "PROPERTY_IS_READ_ONLY": 0x0025,
    "INVALID_DATA": 0x0026,
    "DATA_TOO_SMALL": 0x0027,
    "DATA_TOO_BIG": 0x0028,
    "ACCESS_DENIED": 0x002B,
    "MULTICAST_READ_NOT_SUPPORTED": 0x002D,
}


def scom_checksum(data: bytes) -> bytes:
    """Return the checksum bytes A, B: A from 0xFF and B from 0, adding byte by byte."""
    a = 0xFF
    b = 0
    for value in data:
        a = (a + value) % 256
        b = (b + a) % 256
    return bytes([a, b])


@dataclass(frozen=True, kw_only=True, slots=True)
class Request:
    """A request as the Xcom received it."""

    source: int
    destination: int
    service: int
    object_type: int
    object_id: int
    property_id: int
    data: bytes


def build_frame(flags: int, source: int, destination: int, frame_data: bytes) -> bytes:
    """Return a complete frame around `frame_data`."""
    header = (
        bytes([flags])
        + source.to_bytes(4, "little")
        + destination.to_bytes(4, "little")
        + len(frame_data).to_bytes(2, "little")
    )
    return (
        bytes([START_BYTE])
        + header
        + scom_checksum(header)
        + frame_data
        + scom_checksum(frame_data)
    )


def build_reply(
    request: Request, *, flags: int, data: bytes = b"", error: int | None = None
) -> bytes:
    """Return the reply frame to a request: OK with `data`, or the error code."""
    service_flags = 0x03 if error is not None else 0x02
    body = (
        bytes([service_flags, request.service])
        + request.object_type.to_bytes(2, "little")
        + request.object_id.to_bytes(4, "little")
        + request.property_id.to_bytes(2, "little")
        + (error.to_bytes(2, "little") if error is not None else data)
    )
    return build_frame(flags, request.destination, request.source, body)


class FrameCutter:
    """Cut a byte stream into frames by the length in each header."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.rejected = 0

    def feed(self, data: bytes) -> list[bytes | None]:
        """Take bytes; return each complete frame (None for one whose data checksum failed)."""
        self._buffer += data
        frames: list[bytes | None] = []
        while True:
            try:
                start = self._buffer.index(START_BYTE)
            except ValueError:
                self._buffer.clear()
                return frames
            del self._buffer[:start]
            if len(self._buffer) < HEADER_BYTES:
                return frames
            if scom_checksum(bytes(self._buffer[1:12])) != self._buffer[12:14]:
                # Not a frame start after all: the Xcom resets its receiver and looks again.
                self.rejected += 1
                del self._buffer[0]
                continue
            length = int.from_bytes(self._buffer[10:12], "little")
            total = HEADER_BYTES + length + 2
            if len(self._buffer) < total:
                return frames
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            if scom_checksum(frame[14:-2]) != frame[-2:]:
                self.rejected += 1
                frames.append(None)
            else:
                frames.append(frame)


def parse_request(frame: bytes) -> Request | None:
    """Return the request a checked frame carries, or None if its service layer is short."""
    body = frame[14:-2]
    if len(body) < 10:
        return None
    return Request(
        source=int.from_bytes(frame[2:6], "little"),
        destination=int.from_bytes(frame[6:10], "little"),
        service=body[1],
        object_type=int.from_bytes(body[2:4], "little"),
        object_id=int.from_bytes(body[4:8], "little"),
        property_id=int.from_bytes(body[8:10], "little"),
        data=bytes(body[10:]),
    )


def pack_value(fmt: str, value: float) -> bytes:
    """Return a value in one of the table's formats."""
    if fmt == "bool":
        return bytes([1 if value else 0])
    if fmt in ("short_enum", "format", "error"):
        return int(value).to_bytes(2, "little")
    if fmt == "long_enum":
        return int(value).to_bytes(4, "little")
    if fmt == "int32":
        return int(value).to_bytes(4, "little", signed=True)
    return struct.pack("<f", value)


def unpack_value(fmt: str, data: bytes) -> float | None:
    """Return the value written in a format, or None when the length does not fit it."""
    sizes = {"bool": 1, "short_enum": 2, "long_enum": 4, "int32": 4, "float": 4}
    if len(data) != sizes.get(fmt, -1):
        return None
    if fmt == "float":
        value = struct.unpack("<f", data)[0]
        return value if math.isfinite(value) else None
    return float(int.from_bytes(data, "little", signed=fmt == "int32"))
