"""Frames captured from real Xcoms (fixtures/xcom/real_frames.json) through both sides."""

from __future__ import annotations

from collections.abc import Mapping
import json
from pathlib import Path
from typing import Any

from inverterlib.xcom.client import XcomClient
from inverterlib.xcom.codec import (
    FrameFlags,
    ObjectType,
    Property,
    Service,
    ServiceData,
    decode_service,
    request_frame,
    take_frame,
)
from inverterlib.xcom.errors import ScomError, UnitUnreachableError
from inverterlib.xcom.kinds import XTENDER
import pytest

from simulators.xcom import XcomSimulator
from simulators.xcom_frames import FrameCutter, parse_request

from .links import MemoryLink

CAPTURES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "xcom" / "real_frames.json").read_text()
)["frames"]
REQUESTS = [frame for frame in CAPTURES if frame["direction"] == "request"]
BY_NAME = {frame["name"]: frame for frame in CAPTURES}
# Some peers append CR LF to each frame; the Xcom ignores bytes outside a frame.
_TERMINATOR = b"\r\n"


def _bytes(frame: Mapping[str, Any]) -> bytes:
    return bytes.fromhex(frame["hex"])


def _service(frame: Mapping[str, Any]) -> ServiceData:
    return ServiceData(
        service=Service.READ,
        object_type=frame["object_type"],
        object_id=frame["object_id"],
        property_id=frame["property_id"],
    )


@pytest.mark.parametrize("frame", REQUESTS, ids=[frame["name"] for frame in REQUESTS])
def test_our_requests_are_the_captured_bytes(frame: dict[str, Any]) -> None:
    """The client encodes each captured request byte for byte (no terminator of its own)."""
    captured = _bytes(frame).removesuffix(_TERMINATOR)
    assert request_frame(frame["destination"], _service(frame)) == captured


@pytest.mark.parametrize("frame", REQUESTS, ids=[frame["name"] for frame in REQUESTS])
def test_captured_requests_are_understood_by_both_sides(frame: dict[str, Any]) -> None:
    """The codec and the simulator cut each capture (with its CR LF, if any) to one request."""
    buffer = bytearray(_bytes(frame))
    parsed = take_frame(buffer)
    assert parsed is not None
    assert (parsed.source, parsed.destination, parsed.flags) == (
        1,
        frame["destination"],
        FrameFlags(0),
    )
    assert decode_service(parsed.data) == _service(frame)
    assert take_frame(buffer) is None
    assert not buffer
    cut = FrameCutter().feed(_bytes(frame))
    assert len(cut) == 1
    assert cut[0] is not None
    request = parse_request(cut[0])
    assert request is not None
    assert (request.destination, request.object_type, request.object_id, request.property_id) == (
        frame["destination"],
        frame["object_type"],
        frame["object_id"],
        frame["property_id"],
    )


def test_a_captured_error_reply_decodes() -> None:
    """A real Xcom's reply: its frame flags (restarted, datalogger) and its error code."""
    reply = BY_NAME["error_reply_3000_property_5_from_101"]
    frame = take_frame(bytearray(_bytes(reply)))
    assert frame is not None
    assert (frame.source, frame.destination) == (101, 1)
    assert frame.flags == FrameFlags.RESTARTED | FrameFlags.DATALOGGER_SUPPORTED
    service = decode_service(frame.data)
    assert (service.response, service.error) == (True, True)
    assert service.error_code == ScomError.DEVICE_NOT_FOUND
    assert service.answers(_service({**reply, "object_type": ObjectType.INFO}))


async def test_the_client_takes_a_captured_reply() -> None:
    """Through the client, the captured DEVICE_NOT_FOUND marks unit 101 unreachable only."""
    request = BY_NAME["read_3000_at_101"]
    reply = BY_NAME["error_reply_3000_property_5_from_101"]
    asked = request_frame(101, _service(reply))
    replies = {asked: _bytes(reply)}
    client = XcomClient(MemoryLink(replies.get, timeout=0.2, description="replay"))
    await client.connect()
    client.info_property = Property.VALUE_QSP
    battery = next(info for info in XTENDER.infos if info.number == request["object_id"])
    with pytest.raises(UnitUnreachableError):
        await client._read_object(101, battery)
    assert client.unreachable == {101}
    assert FrameFlags.RESTARTED in client.wire.flags
    await client.close()


async def test_the_simulator_answers_the_captured_requests() -> None:
    """The simulated Xcom answers each captured read of output power from an Xtender."""
    simulator = XcomSimulator(xtenders=4, clock=lambda: 1000.0)
    for name in ("c_library_read_3136_at_101", "c_library_read_3136_at_104"):
        frame = BY_NAME[name]
        request = parse_request(_bytes(frame))
        assert request is not None
        reply = take_frame(bytearray(simulator.answer(request)))
        assert reply is not None
        assert reply.source == frame["destination"]
        service = decode_service(reply.data)
        assert (service.response, service.error, len(service.value)) == (True, False, 4)
