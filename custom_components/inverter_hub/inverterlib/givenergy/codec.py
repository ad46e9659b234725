"""GivEnergy dongle frames: requests out, replies and heartbeats in, found in a byte stream.

Every frame starts with an MBAP-like header: transaction id `59 59`, protocol id `00 01`, the
length of what follows the length field, a unit id and the main function (0x01 heartbeat,
0x02 transparent). A transparent frame then carries the data adapter's 10-character serial,
an 8-byte big-endian count of the bytes after it, and a Modbus-like inner frame: device
address, function, fields, and a CRC-16/MODBUS (low byte first) over the inner frame.
Replies add the inverter's 10-character serial after the function. Facts: protocols.md
section 2 (from dewet22/givenergy-modbus and GivTCP captures).
"""

from __future__ import annotations

from dataclasses import dataclass
import logging

from ..modbus.wire import crc16

_LOGGER = logging.getLogger(__name__)

MARKER = b"\x59\x59\x00\x01"
UNIT_ID = 0x01
HEARTBEAT = 0x01
TRANSPARENT = 0x02
READ_HOLDING = 0x03
READ_INPUT = 0x04
WRITE_SINGLE = 0x06
# Meter-product registers: laid out like a register read (dewet22); decoded, never sent here.
READ_METER_PRODUCT = 0x16
ERROR_FLAG = 0x80
MAX_REGISTERS = 60
# Any ten alphanumeric characters will do; the dongle ignores the serial in requests.
CLIENT_SERIAL = "AB1234G567"

SERIAL_LENGTH = 10
HEADER_LENGTH = 8
# Header, adapter serial and the 8-byte count: the inner frame starts here.
INNER_START = HEADER_LENGTH + SERIAL_LENGTH + 8
# Device, function, inverter serial, base register, count (or value), CRC.
REPLY_FIXED = 2 + SERIAL_LENGTH + 2 + 2 + 2
HEARTBEAT_LENGTH = HEADER_LENGTH + SERIAL_LENGTH + 1
# The longest frame a dongle sends is a 60-register reply (164 bytes); the length field
# of anything much longer is garbage that happens to follow a marker.
MAX_FRAME = 300


@dataclass(frozen=True, kw_only=True, slots=True)
class Heartbeat:
    """The dongle asking whether the client is alive; it must be echoed within seconds."""

    adapter_serial: str
    adapter_type: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadReply:
    """Registers a device returned: `values` from `base` up."""

    device: int
    function: int
    inverter_serial: str
    base: int
    values: tuple[int, ...]

    @property
    def key(self) -> tuple[int, int, int]:
        """Return what ties the reply to its request: device, function, base register."""
        return self.device, self.function, self.base


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteReply:
    """A device confirming a single-register write with the value it now holds."""

    device: int
    inverter_serial: str
    register: int
    value: int

    @property
    def key(self) -> tuple[int, int, int]:
        """Return what ties the reply to its request: device, function, register."""
        return self.device, WRITE_SINGLE, self.register


@dataclass(frozen=True, kw_only=True, slots=True)
class ErrorReply:
    """A device refusing a request (function with bit 7 set).

    GivEnergy's error frame has no separate exception byte: `code` is the 16-bit field where
    a reply carries its register count (0 on many firmwares, a Modbus exception code on
    others).
    """

    device: int
    function: int
    base: int
    code: int

    @property
    def key(self) -> tuple[int, int, int]:
        """Return what ties the refusal to its request: device, function, base register."""
        return self.device, self.function, self.base


@dataclass(frozen=True, kw_only=True, slots=True)
class Unsolicited:
    """A frame that answers nothing and carries nothing (a null reply, a LAN broadcast)."""

    kind: str


type Reply = ReadReply | WriteReply | ErrorReply
type Frame = Heartbeat | Reply | Unsolicited


def _serial(data: bytes) -> str:
    return data.decode("latin-1").strip("\x00 ")


def _transparent(adapter_serial: str, inner: bytes) -> bytes:
    """Return a transparent frame around an inner frame (CRC appended here)."""
    serial = adapter_serial.encode("ascii")
    if len(serial) != SERIAL_LENGTH:
        raise ValueError(f"an adapter serial has {SERIAL_LENGTH} characters, not {serial!r}")
    inner += crc16(inner).to_bytes(2, "little")
    body = serial + len(inner).to_bytes(8, "big") + inner
    return MARKER + (len(body) + 2).to_bytes(2, "big") + bytes([UNIT_ID, TRANSPARENT]) + body


def read_request(
    device: int, function: int, base: int, count: int, *, adapter_serial: str = CLIENT_SERIAL
) -> bytes:
    """Return the frame asking `device` for `count` holding (0x03) or input (0x04) registers."""
    if function not in (READ_HOLDING, READ_INPUT):
        raise ValueError(f"function {function:#04x} does not read registers")
    if not 1 <= count <= MAX_REGISTERS or not 0 <= base <= 0xFFFF - count + 1:
        raise ValueError(f"cannot read {count} registers from {base}")
    inner = bytes([device, function]) + base.to_bytes(2, "big") + count.to_bytes(2, "big")
    return _transparent(adapter_serial, inner)


def write_request(
    device: int, register: int, value: int, *, adapter_serial: str = CLIENT_SERIAL
) -> bytes:
    """Return the frame setting one holding register of `device` (function 0x06)."""
    if not 0 <= register <= 0xFFFF or not 0 <= value <= 0xFFFF:
        raise ValueError(f"cannot write {value} to register {register}")
    inner = bytes([device, WRITE_SINGLE]) + register.to_bytes(2, "big") + value.to_bytes(2, "big")
    return _transparent(adapter_serial, inner)


def heartbeat_reply(heartbeat: Heartbeat) -> bytes:
    """Return the answer to a heartbeat: the same layout, serial and adapter type echoed."""
    serial = heartbeat.adapter_serial.encode("latin-1")[:SERIAL_LENGTH]
    body = serial.ljust(SERIAL_LENGTH, b"\x00") + bytes([heartbeat.adapter_type])
    return MARKER + (len(body) + 2).to_bytes(2, "big") + bytes([UNIT_ID, HEARTBEAT]) + body


def decode_frame(frame: bytes) -> Frame | None:
    """Return what one complete frame from a dongle says; None when it is not a valid frame."""
    if len(frame) < HEADER_LENGTH or frame[:4] != MARKER:
        return None
    if int.from_bytes(frame[4:6], "big") != len(frame) - 6:
        return None
    function = frame[7]
    if function == HEARTBEAT:
        if len(frame) != HEARTBEAT_LENGTH:
            return None
        return Heartbeat(adapter_serial=_serial(frame[8:18]), adapter_type=frame[18])
    if function != TRANSPARENT or len(frame) < INNER_START + 4:
        return None
    inner = frame[INNER_START:]
    if int.from_bytes(frame[18:INNER_START], "big") == len(inner):
        if inner[1] == 0 and not any(inner[2:-2]):
            # The dongle's unsolicited "null response": function 0 and zeros, whatever the check.
            return Unsolicited(kind="null")
        # A zeroed or wrong CRC is refused: dewet22's only failures in 3,106 frames had a
        # zeroed one.
        checked = int.from_bytes(inner[-2:], "little") == crc16(inner[:-2])
        if checked and len(inner) >= REPLY_FIXED and (reply := _reply(inner)) is not None:
            return reply
    if frame[18:25] == bytes(7) and frame[25] == ord(","):
        # Some WO dongles announce ",ip,netmask,gateway\r\n\r\n" here. Tested after the
        # reply: the byte count of a 13-register reply is also 0x2C, a comma.
        return Unsolicited(kind="lan_config")
    return None


def _reply(inner: bytes) -> Reply | None:
    """Return the reply an inner frame (CRC checked) carries."""
    device, function = inner[0], inner[1]
    serial = _serial(inner[2:12])
    base = int.from_bytes(inner[12:14], "big")
    word = int.from_bytes(inner[14:16], "big")
    data = inner[16:-2]
    if function & ERROR_FLAG:
        if data:
            return None
        return ErrorReply(device=device, function=function & 0x7F, base=base, code=word)
    if function == WRITE_SINGLE:
        if data:
            return None
        return WriteReply(device=device, inverter_serial=serial, register=base, value=word)
    if function not in (READ_HOLDING, READ_INPUT, READ_METER_PRODUCT) or len(data) != 2 * word:
        return None
    values = tuple(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    return ReadReply(
        device=device, function=function, inverter_serial=serial, base=base, values=values
    )


class FrameDecoder:
    """Find frames in a byte stream that fragments, concatenates and carries garbage."""

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buffer = bytearray()
        self.rejected = 0
        self.discarded = 0

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes and return the frames completed by them, in order."""
        self._buffer += data
        frames: list[Frame] = []
        while (frame := self._next()) is not None:
            frames.append(frame)
        return frames

    def _skip(self, count: int) -> None:
        self.discarded += count
        del self._buffer[:count]

    def _next(self) -> Frame | None:
        """Return the next valid frame in the buffer, or None when more bytes are needed."""
        while True:
            start = self._buffer.find(MARKER)
            if start < 0:
                # Keep what could be the beginning of a marker split across two reads.
                keep = next((n for n in (3, 2, 1) if self._buffer.endswith(MARKER[:n])), 0)
                self._skip(len(self._buffer) - keep)
                return None
            self._skip(start)
            if len(self._buffer) < 6:
                return None
            total = 6 + int.from_bytes(self._buffer[4:6], "big")
            if not HEARTBEAT_LENGTH <= total <= MAX_FRAME:
                self._reject()
                continue
            if len(self._buffer) < total:
                if self._complete_frame_later():
                    # A frame complete further on means this marker began no real frame.
                    self._reject()
                    continue
                return None
            frame = decode_frame(bytes(self._buffer[:total]))
            if frame is None:
                self._reject()
                continue
            del self._buffer[:total]
            return frame

    def _reject(self) -> None:
        """Drop a false or corrupt start and look for the next marker."""
        self.rejected += 1
        _LOGGER.debug("skipping a corrupt or false frame start: %s", self._buffer[:16].hex())
        self._skip(1)

    def _complete_frame_later(self) -> bool:
        """Return whether a CRC-checked frame is complete after the current marker."""
        position = 1
        while (position := self._buffer.find(MARKER, position)) > 0:
            if position + 6 > len(self._buffer):
                return False
            end = position + 6 + int.from_bytes(self._buffer[position + 4 : position + 6], "big")
            if end <= len(self._buffer):
                frame = decode_frame(bytes(self._buffer[position:end]))
                if isinstance(frame, ReadReply | WriteReply | ErrorReply):
                    return True
            position += 1
        return False
