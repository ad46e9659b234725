"""SCOM frames: golden frames pin the client codec and the simulator, and the decoder is fuzzed."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
import struct

from hypothesis import given, settings, strategies as st
from inverterlib.errors import FrameError
from inverterlib.xcom.codec import (
    MULTI_INFO_MAX,
    Frame,
    FrameFlags,
    ObjectType,
    Property,
    Service,
    ServiceData,
    checksum,
    decode_message,
    decode_multi_info,
    decode_service,
    decode_value,
    encode_frame,
    encode_multi_info,
    encode_service,
    encode_value,
    request_frame,
    take_frame,
)
from inverterlib.xcom.errors import (
    GatewayBusyError,
    ScomError,
    UnitUnreachableError,
    XcomRefusedError,
    XcomUnsupportedError,
    error_name,
    refusal,
)
from inverterlib.xcom.objects import Format
import pytest

from simulators import xcom_frames

GOLDEN = {
    frame["name"]: bytes.fromhex(frame["hex"])
    for frame in json.loads(
        (Path(__file__).parent / "fixtures" / "xcom" / "golden_frames.json").read_text()
    )["frames"]
}


def read(object_type: int, object_id: int, property_id: int, value: bytes = b"") -> ServiceData:
    return ServiceData(
        service=Service.READ,
        object_type=object_type,
        object_id=object_id,
        property_id=property_id,
        value=value,
    )


# Golden frames: the client codec -----------------------------------------------------------


def test_client_encodes_the_golden_requests() -> None:
    assert (
        request_frame(101, read(ObjectType.INFO, 3000, Property.VALUE))
        == GOLDEN["read_info_request"]
    )
    assert (
        request_frame(103, read(ObjectType.PARAMETER, 1107, Property.UNSAVED_VALUE_QSP))
        == GOLDEN["read_parameter_request"]
    )
    write = ServiceData(
        service=Service.WRITE,
        object_type=ObjectType.PARAMETER,
        object_id=1107,
        property_id=Property.UNSAVED_VALUE_QSP,
        value=encode_value(Format.FLOAT, 16.0),
    )
    assert request_frame(101, write) == GOLDEN["write_ram_request"]
    multicast = ServiceData(
        service=Service.WRITE,
        object_type=ObjectType.PARAMETER,
        object_id=1138,
        property_id=Property.VALUE_QSP,
        value=encode_value(Format.FLOAT, 40.0),
    )
    assert request_frame(100, multicast) == GOLDEN["write_flash_multicast_request"]
    multi = read(
        ObjectType.MULTI_INFO, 1, Property.VALUE, encode_multi_info([(3000, 1), (3136, 0xFE)])
    )
    assert request_frame(501, multi) == GOLDEN["multi_info_request"]


def decoded(name: str) -> tuple[Frame, ServiceData]:
    buffer = bytearray(GOLDEN[name])
    frame = take_frame(buffer)
    assert frame is not None
    assert not buffer
    return frame, decode_service(frame.data)


def test_client_decodes_the_golden_replies() -> None:
    frame, reply = decoded("read_info_reply")
    assert (frame.source, frame.destination, frame.flags) == (101, 1, FrameFlags(0))
    assert reply.answers(read(ObjectType.INFO, 3000, Property.VALUE))
    assert decode_value(Format.FLOAT, reply.value) == 51.25

    frame, reply = decoded("read_enum_reply")
    assert FrameFlags.RESTARTED in frame.flags
    assert decode_value(Format.SHORT_ENUM, reply.value) == 1

    _, reply = decoded("write_ram_reply")
    assert reply.response
    assert not reply.error
    assert reply.value == b""

    frame, reply = decoded("device_not_found_reply")
    assert reply.error
    assert reply.error_code == ScomError.DEVICE_NOT_FOUND

    _, reply = decoded("multi_info_reply")
    multi = decode_multi_info(reply.value)
    assert (multi.flags, multi.time) == (0x21, 1_700_000_000)
    assert [(v.info, v.aggregation, v.value) for v in multi.values] == [
        (3000, 1, 51.25),
        (3136, 0xFE, 2.5),
    ]

    frame, reply = decoded("message_reply")
    assert FrameFlags.MESSAGE_PENDING in frame.flags
    message = decode_message(reply.value)
    assert (message.total, message.code, message.source) == (3, 19, 101)


def test_client_encodes_the_golden_replies_back() -> None:
    for name in ("read_info_reply", "write_ram_reply", "device_not_found_reply", "message_reply"):
        frame, reply = decoded(name)
        rebuilt = Frame(
            flags=frame.flags,
            source=frame.source,
            destination=frame.destination,
            data=encode_service(reply),
        )
        assert encode_frame(rebuilt) == GOLDEN[name]


# Golden frames: the simulator ----------------------------------------------------------------


def test_simulator_cuts_the_golden_requests() -> None:
    cutter = xcom_frames.FrameCutter()
    stream = b"".join(
        GOLDEN[name] for name in ("read_info_request", "write_ram_request", "multi_info_request")
    )
    frames = cutter.feed(stream[:7]) + cutter.feed(stream[7:])
    requests = [xcom_frames.parse_request(frame) for frame in frames if frame is not None]
    assert [(r.destination, r.service, r.object_type, r.object_id) for r in requests if r] == [
        (101, xcom_frames.READ, xcom_frames.INFO, 3000),
        (101, xcom_frames.WRITE, xcom_frames.PARAMETER, 1107),
        (501, xcom_frames.READ, xcom_frames.MULTI_INFO, 1),
    ]
    write = requests[1]
    assert write is not None
    assert xcom_frames.unpack_value("float", write.data) == 16.0


def request_of(name: str) -> xcom_frames.Request:
    frames = xcom_frames.FrameCutter().feed(GOLDEN[name])
    assert frames[0] is not None
    request = xcom_frames.parse_request(frames[0])
    assert request is not None
    return request


def test_simulator_builds_the_golden_replies() -> None:
    request = request_of("read_info_request")
    assert (
        xcom_frames.build_reply(request, flags=0, data=xcom_frames.pack_value("float", 51.25))
        == GOLDEN["read_info_reply"]
    )
    assert (
        xcom_frames.build_reply(request_of("write_ram_request"), flags=0)
        == GOLDEN["write_ram_reply"]
    )
    missing = xcom_frames.Request(
        source=1,
        destination=104,
        service=xcom_frames.READ,
        object_type=xcom_frames.INFO,
        object_id=3000,
        property_id=1,
        data=b"",
    )
    assert (
        xcom_frames.build_reply(missing, flags=0, error=xcom_frames.ERRORS["DEVICE_NOT_FOUND"])
        == GOLDEN["device_not_found_reply"]
    )


def test_the_two_checksums_agree() -> None:
    for frame in GOLDEN.values():
        assert checksum(frame[1:12]) == xcom_frames.scom_checksum(frame[1:12]) == frame[12:14]


# Framing rules -----------------------------------------------------------------------------


def test_take_frame_waits_for_the_rest_and_resynchronises() -> None:
    frame = GOLDEN["read_info_reply"]
    buffer = bytearray(b"\x00\x13" + frame[:10])
    assert take_frame(buffer) is None
    assert buffer == frame[:10]
    buffer += frame[10:20]
    assert take_frame(buffer) is None
    buffer += frame[20:]
    assert take_frame(buffer) is not None
    # A start byte whose header fails its checksum is noise: the reader looks further on.
    buffer = bytearray(b"\xaa" + bytes(13) + frame)
    assert take_frame(buffer) is not None
    buffer = bytearray(b"\x01\x02")
    assert take_frame(buffer) is None
    assert not buffer


def test_a_bad_data_checksum_consumes_the_frame_and_fails() -> None:
    bad = GOLDEN["read_info_reply"][:-1] + b"\x00"
    buffer = bytearray(bad + GOLDEN["write_ram_reply"])
    with pytest.raises(FrameError, match="checksum"):
        take_frame(buffer)
    assert take_frame(buffer) is not None
    cutter = xcom_frames.FrameCutter()
    assert cutter.feed(bad) == [None]
    assert cutter.rejected == 1


def test_service_layer_faults() -> None:
    with pytest.raises(FrameError, match="shorter"):
        decode_service(b"\x02\x01")
    with pytest.raises(FrameError, match="unknown service"):
        decode_service(bytes(10))
    short = ServiceData(
        service=Service.READ, object_type=1, object_id=1, property_id=1, error=True, value=b"\x01"
    )
    with pytest.raises(FrameError, match="not a code"):
        _ = short.error_code
    assert xcom_frames.parse_request(xcom_frames.build_frame(0, 1, 101, b"\x00")) is None


def test_values_by_format_and_length() -> None:
    assert decode_value(Format.BOOL, b"\x01") is True
    assert decode_value(Format.SHORT_ENUM, b"\x07") == 7
    assert decode_value(Format.SHORT_ENUM, struct.pack("<f", 3.0)) == 3
    assert decode_value(Format.FLOAT, b"\x02\x00") == 2
    assert decode_value(Format.INT32, encode_value(Format.INT32, -5)) == -5
    assert decode_value(Format.LONG_ENUM, encode_value(Format.LONG_ENUM, 4)) == 4
    assert decode_value(Format.BOOL, struct.pack("<f", 1.0)) is True
    assert decode_value(Format.STRING, b"Xcom") == "Xcom"
    assert encode_value(Format.STRING, "Xcom") == b"Xcom"
    assert encode_value(Format.BOOL, True) == b"\x01"
    assert encode_value(Format.SHORT_ENUM, 2) == b"\x02\x00"
    with pytest.raises(FrameError, match="3 bytes"):
        decode_value(Format.FLOAT, b"\x00\x00\x00")
    with pytest.raises(FrameError, match="finite"):
        decode_value(Format.FLOAT, struct.pack("<f", math.nan))
    for fmt, value in (("bool", 1), ("short_enum", 3), ("long_enum", 8), ("int32", -2)):
        assert xcom_frames.unpack_value(fmt, xcom_frames.pack_value(fmt, value)) == value
    assert xcom_frames.unpack_value("float", struct.pack("<f", math.inf)) is None
    assert xcom_frames.unpack_value("float", b"\x00") is None


def test_multi_info_and_message_limits() -> None:
    with pytest.raises(ValueError, match="1 to 76"):
        encode_multi_info([])
    with pytest.raises(ValueError, match="1 to 76"):
        encode_multi_info([(3000, 1)] * (MULTI_INFO_MAX + 1))
    # 76 items make the largest request frame data a request may carry (240 bytes).
    assert len(encode_multi_info([(3000, 1)] * MULTI_INFO_MAX)) + 10 <= 240
    with pytest.raises(FrameError, match="multi-info"):
        decode_multi_info(bytes(9))
    with pytest.raises(FrameError, match="message"):
        decode_message(bytes(17))


def test_error_codes_become_library_errors() -> None:
    assert isinstance(refusal(0x0002, 104, "read"), UnitUnreachableError)
    assert isinstance(refusal(0x0003, 104, "read"), UnitUnreachableError)
    assert isinstance(refusal(0x0013, 501, "read"), GatewayBusyError)
    unsupported = refusal(0x0022, 101, "read 9999")
    assert isinstance(unsupported, XcomUnsupportedError)
    assert unsupported.scom_code == ScomError.OBJECT_ID_NOT_FOUND
    refused = refusal(0x0028, 101, "write 1107")
    assert isinstance(refused, XcomRefusedError)
    assert refused.placeholders["code"] == "DATA_TOO_BIG"
    assert "DATA_TOO_BIG" in str(refused)
    assert error_name(0x0099) == "0x0099"
    for code in ScomError:
        assert error_name(code) == code.name


# Fuzz ----------------------------------------------------------------------------------------

frames = st.builds(
    Frame,
    flags=st.integers(0, 0x3F).map(FrameFlags),
    source=st.integers(0, 2**32 - 1),
    destination=st.integers(0, 2**32 - 1),
    data=st.binary(max_size=300),
)


@given(st.binary(max_size=600))
@settings(max_examples=300)
def test_the_decoder_takes_any_bytes(data: bytes) -> None:
    buffer = bytearray(data)
    for _ in range(len(data) + 1):
        try:
            frame = take_frame(buffer)
        except FrameError:
            continue
        if frame is None:
            break
        try:
            reply = decode_service(frame.data)
        except FrameError:
            continue
        for fmt in Format:
            with contextlib.suppress(FrameError):
                decode_value(fmt, reply.value)
    cutter = xcom_frames.FrameCutter()
    for frame_or_none in cutter.feed(data):
        if frame_or_none is not None:
            xcom_frames.parse_request(frame_or_none)


@given(frames, st.binary(max_size=20))
def test_frames_round_trip_through_noise(frame: Frame, noise: bytes) -> None:
    wire = encode_frame(frame)
    buffer = bytearray(noise.replace(b"\xaa", b"") + wire)
    assert take_frame(buffer) == frame
    assert not buffer
    assert xcom_frames.FrameCutter().feed(noise.replace(b"\xaa", b"") + wire) == [wire]


@given(frames, st.data())
def test_one_corrupted_byte_is_never_taken_for_a_frame(frame: Frame, data: st.DataObject) -> None:
    wire = bytearray(encode_frame(frame))
    index = data.draw(st.integers(1, len(wire) - 1))
    wire[index] ^= data.draw(st.integers(1, 255))
    buffer = bytearray(wire)
    try:
        taken = take_frame(buffer)
    except FrameError:
        return
    # A header that fails its checksum resynchronises; it must not yield the frame changed.
    assert taken is None or taken != frame


@given(st.binary(max_size=80))
def test_multi_info_replies_decode_or_fail_cleanly(data: bytes) -> None:
    try:
        reply = decode_multi_info(data)
    except FrameError:
        return
    assert len(reply.values) == (len(data) - 8) // 7
