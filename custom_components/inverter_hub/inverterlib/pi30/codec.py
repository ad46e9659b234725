"""PI30 framing: CRC-16/XMODEM with the reserved-byte bump, requests, replies and fields."""

from __future__ import annotations

import binascii

from ..errors import DeviceRefusedError, FrameError, ValidationError

CR = b"\r"
START = b"("
NAK = "NAK"
ACK = "ACK"

# The inverter treats these bytes as frame delimiters wherever they appear, so a CRC byte that
# happens to equal one of them is sent one higher; both ends apply the same rule.
_RESERVED = frozenset(b"(\r\n")


def crc16(data: bytes) -> int:
    """Return the CRC-16/XMODEM of `data` (polynomial 0x1021, zero seed, no reflection)."""
    return binascii.crc_hqx(data, 0)


def _bump(byte: int, *, bump_zero: bool) -> int:
    if byte in _RESERVED or (bump_zero and byte == 0):
        return byte + 1
    return byte


def crc_bytes(data: bytes, *, bump_zero: bool) -> bytes:
    """Return the two CRC bytes of `data` as sent on the wire, reserved bytes bumped."""
    crc = crc16(data)
    return bytes((_bump(crc >> 8, bump_zero=bump_zero), _bump(crc & 0xFF, bump_zero=bump_zero)))


def encode_request(command: str, *, bump_zero: bool = True) -> bytes:
    """Return the request frame for an ASCII command: command, CRC, CR."""
    if not command or not command.isascii() or not command.isprintable():
        raise ValidationError(f"a PI30 command is printable ASCII, got {command!r}")
    data = command.encode("ascii")
    return data + crc_bytes(data, bump_zero=bump_zero) + CR


def decode_reply(frame: bytes) -> str:
    """Return the payload of a reply frame; raise on NAK, bad framing or a bad CRC."""
    body = frame.removesuffix(CR)
    if not body.startswith(START):
        raise FrameError(f"reply does not start with '(': {frame[:16]!r}")
    if body == b"(NAK":
        # Vendor text shows NAK without a CRC; accept that form as a refusal too.
        raise DeviceRefusedError("the device answered NAK")
    if len(body) < len(START) + 2:
        raise FrameError(f"reply too short: {frame!r}")
    content, crc = body[:-2], body[-2:]
    # Firmware never bumps 0x00 but mpp-solar style peers do; either form is a valid CRC.
    if crc not in (crc_bytes(content, bump_zero=False), crc_bytes(content, bump_zero=True)):
        raise FrameError(f"reply CRC mismatch: {frame[:16]!r}")
    try:
        payload = content[len(START) :].decode("ascii")
    except UnicodeDecodeError as err:
        raise FrameError(f"reply is not ASCII: {frame[:16]!r}") from err
    if payload == NAK:
        raise DeviceRefusedError("the device answered NAK")
    return payload


def split_fields(payload: str) -> list[str]:
    """Return the space separated fields of a payload (runs of spaces count as one)."""
    return payload.split()


def field_at(fields: list[str], index: int) -> str | None:
    """Return a field, or None when firmware left it out or sent a `-` placeholder."""
    if index >= len(fields):
        return None
    text = fields[index]
    if not text or set(text) == {"-"}:
        return None
    return text
