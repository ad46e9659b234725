"""GivEnergy frames: golden bytes both ways, refusals, and the stream decoder under abuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings, strategies as st
from inverterlib.givenergy.codec import (
    MARKER,
    ErrorReply,
    Frame,
    FrameDecoder,
    Heartbeat,
    ReadReply,
    Unsolicited,
    WriteReply,
    decode_frame,
    heartbeat_reply,
    read_request,
    write_request,
)
from inverterlib.modbus.wire import crc16
import pytest

from simulators import givenergy as sim

FRAMES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "givenergy" / "frames.json").read_text()
)
ADAPTER = "WF2311G042"
INVERTER = "SA2114G047"


def expected(entry: dict[str, Any]) -> Frame:
    """Return the record a golden reply must decode to."""
    if entry["kind"] == "read":
        return ReadReply(
            device=entry["device"],
            function=entry["function"],
            inverter_serial=entry["inverter_serial"],
            base=entry["base"],
            values=tuple(entry["values"]),
        )
    if entry["kind"] == "write":
        return WriteReply(
            device=entry["device"],
            inverter_serial=entry["inverter_serial"],
            register=entry["register"],
            value=entry["value"],
        )
    return ErrorReply(
        device=entry["device"], function=entry["function"], base=entry["base"], code=entry["code"]
    )


def simulator_bytes(entry: dict[str, Any]) -> bytes:
    """Return the frame the simulator builds, from its own encoder, for a golden reply."""
    values: list[int]
    if entry["kind"] == "error":
        function, word, values = entry["function"] | 0x80, entry["code"], []
    elif entry["kind"] == "write":
        function, word, values = 6, entry["value"], []
    else:
        function, word, values = entry["function"], len(entry["values"]), entry["values"]
    return sim.reply(
        ADAPTER,
        device=entry["device"],
        function=function,
        inverter_serial=INVERTER,
        base=entry.get("base", entry.get("register", 0)),
        word=word,
        values=values,
    )


def test_both_crcs_match_the_catalogue_check_value() -> None:
    # CRC-16/MODBUS of "123456789" is 0x4B37 (reveng catalogue).
    assert crc16(b"123456789") == 0x4B37
    assert sim.crc_modbus(b"123456789") == 0x4B37


@pytest.mark.parametrize("entry", FRAMES["requests"], ids=lambda entry: entry["name"])
def test_read_requests_are_byte_exact_both_ways(entry: dict[str, Any]) -> None:
    frame = bytes.fromhex(entry["hex"])
    assert read_request(entry["device"], entry["function"], entry["base"], entry["count"]) == frame
    # The 8-byte field after the adapter serial counts the 8 bytes that follow it.
    assert int.from_bytes(frame[18:26], "big") == 8
    assert sim.next_request(bytearray(frame)) == sim.Request(
        function=2,
        device=entry["device"],
        inner_function=entry["function"],
        base=entry["base"],
        word=entry["count"],
    )


@pytest.mark.parametrize("entry", FRAMES["writes"], ids=lambda entry: entry["name"])
def test_write_requests_are_byte_exact_both_ways(entry: dict[str, Any]) -> None:
    frame = bytes.fromhex(entry["hex"])
    assert write_request(entry["device"], entry["register"], entry["value"]) == frame
    assert sim.next_request(bytearray(frame)) == sim.Request(
        function=2,
        device=entry["device"],
        inner_function=6,
        base=entry["register"],
        word=entry["value"],
    )


def test_heartbeat_is_decoded_and_echoed() -> None:
    entry = FRAMES["heartbeat"]
    frame = bytes.fromhex(entry["hex"])
    assert sim.heartbeat(entry["adapter_serial"], entry["adapter_type"]) == frame
    beat = decode_frame(frame)
    assert beat == Heartbeat(adapter_serial=entry["adapter_serial"], adapter_type=1)
    answer = heartbeat_reply(beat)
    assert answer == frame
    assert sim.next_request(bytearray(answer)) == sim.Request(function=1, adapter_type=1)


@pytest.mark.parametrize("entry", FRAMES["replies"], ids=lambda entry: entry["name"])
def test_replies_are_byte_exact_both_ways(entry: dict[str, Any]) -> None:
    frame = bytes.fromhex(entry["hex"])
    assert simulator_bytes(entry) == frame
    assert decode_frame(frame) == expected(entry)


def test_reply_keys_name_device_function_and_base() -> None:
    read, write, error = (
        decode_frame(bytes.fromhex(FRAMES["replies"][index]["hex"])) for index in (1, 3, 4)
    )
    assert isinstance(read, ReadReply)
    assert isinstance(write, WriteReply)
    assert isinstance(error, ErrorReply)
    assert read.key == (0x11, 3, 110)
    assert write.key == error.key == (0x11, 6, 116)


@pytest.mark.parametrize("entry", FRAMES["ignored"], ids=lambda entry: entry["name"])
def test_unsolicited_frames_are_recognised(entry: dict[str, Any]) -> None:
    frame = bytes.fromhex(entry["hex"])
    assert decode_frame(frame) == Unsolicited(kind=entry["kind"])
    built = sim.null_reply(ADAPTER) if entry["kind"] == "null" else sim.lan_broadcast(ADAPTER)
    assert built == frame


@pytest.mark.parametrize("entry", FRAMES["refused"], ids=lambda entry: entry["name"])
def test_corrupt_frames_are_refused(entry: dict[str, Any]) -> None:
    frame = bytes.fromhex(entry["hex"])
    assert decode_frame(frame) is None
    decoder = FrameDecoder()
    # In a stream, the bad frame is passed over and the good one after it comes out.
    good = bytes.fromhex(FRAMES["replies"][0]["hex"])
    assert decoder.feed(frame + good) == [decode_frame(good)]
    assert decoder.rejected >= 1


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x00" * 20,
        MARKER + b"\x00\x0d\x01\x01" + b"WF2311G042",
        MARKER + b"\x00\x0e\x01\x01" + b"WF2311G042\x01\x00",
        MARKER + b"\x00\x0d\x01\x05" + b"WF2311G042\x01",
        MARKER + b"\x00\x08\x01\x02" + b"WF2311",
    ],
    ids=["empty", "no marker", "short heartbeat", "long heartbeat", "unknown function", "stub"],
)
def test_malformed_frames_decode_to_nothing(frame: bytes) -> None:
    assert decode_frame(frame) is None


def test_replies_with_impossible_shapes_are_refused() -> None:
    serial = INVERTER.encode()
    for inner in (
        bytes((0x11, 0x86)) + serial + bytes(4) + b"\x00\x01",  # an error frame with data
        bytes((0x11, 0x06)) + serial + bytes(4) + b"\x00\x01",  # a write echo with data
        bytes((0x11, 0x07)) + serial + bytes(4),  # a function never sent
    ):
        assert decode_frame(sim.transparent(ADAPTER, inner)) is None


def test_a_thirteen_register_reply_is_not_taken_for_a_lan_broadcast() -> None:
    # Its byte count, 18 + 26 = 0x2C, is the comma a LAN broadcast has in the same place.
    values = list(range(13))
    frame = sim.reply(
        ADAPTER, device=0x11, function=4, inverter_serial=INVERTER, base=0, word=13, values=values
    )
    assert frame[25] == ord(",")
    assert decode_frame(frame) == ReadReply(
        device=0x11, function=4, inverter_serial=INVERTER, base=0, values=tuple(values)
    )


def test_meter_product_replies_decode_as_reads() -> None:
    frame = sim.reply(
        ADAPTER, device=1, function=0x16, inverter_serial=INVERTER, base=60, word=1, values=[7]
    )
    assert decode_frame(frame) == ReadReply(
        device=1, function=0x16, inverter_serial=INVERTER, base=60, values=(7,)
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: read_request(0x11, 6, 0, 1), "does not read"),
        (lambda: read_request(0x11, 4, 0, 0), "cannot read 0"),
        (lambda: read_request(0x11, 4, 0, 61), "cannot read 61"),
        (lambda: read_request(0x11, 4, 0xFFFF, 2), "cannot read 2"),
        (lambda: write_request(0x11, 116, 0x10000), "cannot write"),
        (lambda: read_request(0x11, 4, 0, 1, adapter_serial="SHORT"), "10 characters"),
    ],
)
def test_encoders_refuse_what_the_protocol_cannot_carry(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# The stream decoder -------------------------------------------------------------------------

REPLIES = [bytes.fromhex(entry["hex"]) for entry in FRAMES["replies"]]
STREAM = [
    *REPLIES,
    bytes.fromhex(FRAMES["heartbeat"]["hex"]),
    *(bytes.fromhex(entry["hex"]) for entry in FRAMES["ignored"]),
]


def decoded(frames: list[bytes]) -> list[Frame]:
    return [frame for raw in frames if (frame := decode_frame(raw)) is not None]


def test_concatenated_frames_come_out_in_order() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"".join(STREAM)) == decoded(STREAM)
    assert decoder.rejected == 0


def test_frames_fed_byte_by_byte_come_out_whole() -> None:
    decoder = FrameDecoder()
    out: list[Frame] = []
    for byte in b"".join(STREAM):
        out += decoder.feed(bytes((byte,)))
    assert out == decoded(STREAM)


def test_garbage_and_split_markers_between_frames_are_skipped() -> None:
    decoder = FrameDecoder()
    first, second = REPLIES[0], REPLIES[3]
    assert decoder.feed(b"\x13\x37" + MARKER[:3]) == []
    assert decoder.feed(b"\x00garbage" + MARKER[:2]) == []
    assert decoder.feed(MARKER[2:] + b"\xff\xff" + first[:10]) == []
    assert decoder.feed(first[10:] + b"\x59" + second) == decoded([first, second])
    assert decoder.discarded > 0


def test_a_false_start_does_not_hold_back_a_complete_frame_after_it() -> None:
    decoder = FrameDecoder()
    # A marker in noise claiming 100 bytes, then a whole reply well inside those 100 bytes.
    frame = REPLIES[3]
    assert decoder.feed(MARKER + b"\x00\x64\x01\x02" + frame) == decoded([frame])
    assert decoder.rejected == 1


def test_a_false_start_waits_while_the_next_frame_is_incomplete() -> None:
    decoder = FrameDecoder()
    frame = REPLIES[3]
    assert decoder.feed(MARKER + b"\x00\x64\x01\x02" + frame[:5]) == []
    assert decoder.feed(frame[5:20]) == []
    assert decoder.feed(frame[20:]) == decoded([frame])


def test_an_absurd_length_is_skipped_at_once() -> None:
    decoder = FrameDecoder()
    frame = REPLIES[0]
    assert decoder.feed(MARKER + b"\xff\xff" + frame) == decoded([frame])


garbage = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([MARKER[:1], MARKER[:2], MARKER[:3], MARKER, MARKER + b"\x00", b"\x59"]),
)


@settings(max_examples=300, deadline=None)
@given(
    picks=st.lists(st.integers(0, len(STREAM) - 1), min_size=1, max_size=8),
    noise=st.lists(garbage, min_size=9, max_size=9),
    cuts=st.lists(st.integers(0, 2000), max_size=12),
)
def test_garbage_and_fragmentation_never_yield_a_wrong_frame(
    picks: list[int], noise: list[bytes], cuts: list[int]
) -> None:
    frames = [STREAM[index] for index in picks]
    stream = noise[-1] + b"".join(frame + noise[i] for i, frame in enumerate(frames))
    decoder = FrameDecoder()
    out: list[Frame] = []
    start = 0
    for cut in [*sorted({cut % (len(stream) + 1) for cut in cuts}), len(stream)]:
        out += decoder.feed(stream[start:cut])
        start = cut
    want = decoded(frames)
    # Every frame that comes out is one that was sent, in the order sent.
    position = 0
    for frame in out:
        position = want.index(frame, position) + 1
    # Without a complete false marker in the noise nothing sent is lost either.
    if not any(MARKER in piece for piece in noise):
        assert out == want


@settings(max_examples=100, deadline=None)
@given(
    picks=st.lists(st.integers(0, len(STREAM) - 1), min_size=1, max_size=6),
    cuts=st.lists(st.integers(0, 2000), max_size=20),
)
def test_fragmentation_alone_loses_nothing(picks: list[int], cuts: list[int]) -> None:
    frames = [STREAM[index] for index in picks]
    stream = b"".join(frames)
    decoder = FrameDecoder()
    out: list[Frame] = []
    start = 0
    for cut in [*sorted({cut % (len(stream) + 1) for cut in cuts}), len(stream)]:
        out += decoder.feed(stream[start:cut])
        start = cut
    assert out == decoded(frames)
