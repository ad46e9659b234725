"""PI30 framing: golden frames worked out from the spec pin both the client and the simulator."""

from __future__ import annotations

from inverterlib.errors import (
    DeviceRefusedError,
    FrameError,
    ValidationError,
)
from inverterlib.pi30.codec import (
    crc16,
    crc_bytes,
    decode_reply,
    encode_request,
    field_at,
    split_fields,
)
import pytest

from simulators.pi30 import reply_frame, request_command, wire_crc, xmodem_crc

# (data, CRC-16/XMODEM, the two bytes on the wire after the reserved-byte bump)
GOLDEN_CRCS = [
    (b"QPIGS", 0xB7A9, b"\xb7\xa9"),
    (b"QBOOT", 0x0A88, b"\x0b\x88"),
    (b"QGMN", 0x4928, b"\x49\x29"),
    (b"POP02", 0xE20A, b"\xe2\x0b"),
    (b"POPM01", 0x0D25, b"\x0e\x25"),
    (b"(ACK", 0x3920, b"\x39\x20"),
    (b"(NAK", 0x7373, b"ss"),
    (b"(006", 0x2428, b"\x24\x29"),
    (b"(158", 0x0D23, b"\x0e\x23"),
]


@pytest.mark.parametrize(("data", "crc", "wire"), GOLDEN_CRCS)
def test_client_crc_matches_golden(data: bytes, crc: int, wire: bytes) -> None:
    assert crc16(data) == crc
    assert crc_bytes(data, bump_zero=False) == wire
    assert crc_bytes(data, bump_zero=True) == wire


@pytest.mark.parametrize(("data", "crc", "wire"), GOLDEN_CRCS)
def test_simulator_crc_matches_golden(data: bytes, crc: int, wire: bytes) -> None:
    assert xmodem_crc(data) == crc
    assert wire_crc(data) == wire


def test_standard_check_value() -> None:
    # The catalogue check value of CRC-16/XMODEM.
    assert crc16(b"123456789") == 0x31C3
    assert xmodem_crc(b"123456789") == 0x31C3


@pytest.mark.parametrize(
    ("command", "frame"),
    [
        ("QPIGS", b"QPIGS\xb7\xa9\r"),
        ("QBOOT", b"QBOOT\x0b\x88\r"),
        ("QGMN", b"QGMN\x49\x29\r"),
        ("POP02", b"POP02\xe2\x0b\r"),
        ("POPM01", b"POPM01\x0e\x25\r"),
    ],
)
def test_encode_request_golden(command: str, frame: bytes) -> None:
    assert encode_request(command) == frame
    assert request_command(frame[:-1]) == command


def test_zero_bump_is_optional_on_requests() -> None:
    # CRC of QED20180624 is 0x0029: mpp-solar sends 01 29, the vendor rule 00 29.
    assert crc16(b"QED20180624") == 0x0029
    assert encode_request("QED20180624") == b"QED20180624\x01\x29\r"
    assert encode_request("QED20180624", bump_zero=False) == b"QED20180624\x00\x29\r"
    assert request_command(b"QED20180624\x01\x29") == "QED20180624"
    assert request_command(b"QED20180624\x00\x29") == "QED20180624"


def test_decode_accepts_crc_with_or_without_zero_bump() -> None:
    # CRC of "(114" is 0x006B.
    assert crc16(b"(114") == 0x006B
    assert decode_reply(b"(114\x00\x6b\r") == "114"
    assert decode_reply(b"(114\x01\x6b\r") == "114"


def test_decode_golden_replies() -> None:
    assert decode_reply(b"(ACK\x39\x20\r") == "ACK"
    assert decode_reply(b"(006\x24\x29\r") == "006"
    assert decode_reply(reply_frame("PI30")) == "PI30"
    assert reply_frame("ACK") == b"(ACK\x39\x20\r"
    assert reply_frame("NAK") == b"(NAKss\r"


@pytest.mark.parametrize("frame", [b"(NAKss\r", b"(NAK\r", b"(NAKss"])
def test_decode_nak_is_a_refusal(frame: bytes) -> None:
    with pytest.raises(DeviceRefusedError):
        decode_reply(frame)


@pytest.mark.parametrize(
    "frame",
    [
        b"ACK\x39\x20\r",  # no "("
        b"\x00(ACK\x39\x20\r",  # junk before "("
        b"(\r",  # nothing after "("
        b"(A\r",  # shorter than a CRC
        b"(ACK\x39\x21\r",  # CRC off by one
        b"(ACK\x20\x39\r",  # CRC bytes swapped
        b"(PI30\r",  # no CRC at all
    ],
)
def test_decode_rejects_bad_frames(frame: bytes) -> None:
    with pytest.raises(FrameError):
        decode_reply(frame)


def test_decode_rejects_non_ascii_payload() -> None:
    body = b"(\xb0\xb1"
    with pytest.raises(FrameError):
        decode_reply(body + crc_bytes(body, bump_zero=False) + b"\r")


@pytest.mark.parametrize("command", ["", "QPI\r", "QPIGS\n", "QÉ"])
def test_encode_rejects_unprintable_commands(command: str) -> None:
    with pytest.raises(ValidationError):
        encode_request(command)


def test_simulator_rejects_bad_requests() -> None:
    assert request_command(b"Q") is None
    assert request_command(b"QPIGS\xb7\xaa") is None
    assert request_command(b"\xff" + wire_crc(b"\xff")) is None


def test_fields_tolerate_extra_spaces_missing_tail_and_placeholders() -> None:
    fields = split_fields("230.0  50.0 - --")
    assert fields == ["230.0", "50.0", "-", "--"]
    assert field_at(fields, 0) == "230.0"
    assert field_at(fields, 2) is None
    assert field_at(fields, 3) is None
    assert field_at(fields, 9) is None
    assert field_at(["", "1"], 0) is None
