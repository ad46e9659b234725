"""pymodbus behind the shim, and our framing checked against pymodbus's own framers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings, strategies as st
from inverterlib.errors import FrameError, LinkTimeoutError
from inverterlib.modbus import shim
from inverterlib.modbus.wire import (
    ModbusWire,
    crc16,
    exception_name,
    mbap_frame,
    reply_length,
    rtu_frame,
)
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU
import pytest

from .links import Reply, ScriptedLink

# PDUs -----------------------------------------------------------------------------------


def test_requests_follow_the_modbus_spec() -> None:
    assert shim.read_request(shim.READ_HOLDING, 1, 0x10, 2) == bytes.fromhex("0300100002")
    assert shim.read_request(shim.READ_INPUT, 7, 0xFC00, 125) == bytes.fromhex("04fc00007d")
    assert shim.write_single_request(1, 3, 40) == bytes.fromhex("0600030028")
    assert shim.write_multiple_request(1, 2, [1, 0xFFFF]) == bytes.fromhex("1000020002040001ffff")


def test_replies_are_decoded() -> None:
    read = shim.decode_reply(bytes.fromhex("030400e6ffff"))
    assert (read.function, read.registers, read.exception) == (3, (230, 0xFFFF), None)
    single = shim.decode_reply(bytes.fromhex("0600030028"))
    assert (single.address, single.registers) == (3, (40,))
    multiple = shim.decode_reply(bytes.fromhex("1000020002"))
    assert (multiple.address, multiple.count) == (2, 2)
    refused = shim.decode_reply(bytes.fromhex("8402"))
    assert (refused.function, refused.exception) == (4, 2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty reply"),
        (bytes.fromhex("840203"), "exception reply of 3 bytes"),
        (bytes.fromhex("63"), "cannot decode reply 63"),
        # pymodbus raises struct.error for these: cut short after the function code.
        (bytes.fromhex("1502"), "cannot decode reply 1502"),
        (bytes.fromhex("05"), "cannot decode reply 05"),
        (bytes.fromhex("0600"), "cannot decode reply 0600"),
    ],
)
def test_undecodable_replies(data: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        shim.decode_reply(data)


# Mostly the functions pymodbus decodes, so its parsers see short, long and odd PDUs.
FUNCTIONS = st.sampled_from([1, 2, 3, 4, 5, 6, 15, 16, 20, 21, 22, 23, 24, 43, 0x83, 0x90])
PDUS = st.one_of(
    st.binary(max_size=300),
    st.tuples(FUNCTIONS, st.binary(max_size=40)).map(lambda pdu: bytes([pdu[0]]) + pdu[1]),
)


@settings(max_examples=400, deadline=None)
@given(PDUS)
def test_a_reply_is_decoded_or_refused_as_a_frame_error(data: bytes) -> None:
    try:
        reply = shim.decode_reply(data)
    except FrameError:
        return
    assert reply.function == data[0] & 0x7F
    assert all(0 <= register <= 0xFFFF for register in reply.registers)


class OldStyleWrite:
    """The pymodbus 3.7 constructor shape: `slave=` and `value=`/`values=`."""

    function_code = 6

    def __init__(
        self, address: int = 0, value: int = 0, values: Any = None, slave: int = 0
    ) -> None:
        self.address, self.value, self.values, self.slave = address, value, values, slave

    def encode(self) -> bytes:
        if self.values is not None:
            return bytes([self.address, len(self.values)])
        return bytes([self.address, self.value])


class NewStyle:
    def __init__(self, dev_id: int = 0, registers: Any = None) -> None:
        self.dev_id = dev_id


class DeviceIdStyle(NewStyle):
    def __init__(self, device_id: int = 0) -> None:
        super().__init__(device_id)


def test_keywords_are_found_by_inspection(monkeypatch: pytest.MonkeyPatch) -> None:
    assert shim.unit_keyword(OldStyleWrite) == "slave"
    assert shim.unit_keyword(NewStyle) == "dev_id"
    assert shim.unit_keyword(DeviceIdStyle) == "device_id"

    class Inherits(NewStyle):
        pass

    assert shim.unit_keyword(Inherits) == "dev_id"
    monkeypatch.setattr(shim, "pdu_class", lambda name: OldStyleWrite)
    assert shim.write_single_request(1, 3, 9) == bytes([6, 3, 9])
    assert shim.write_multiple_request(1, 3, [1, 2]) == bytes([6, 3, 2])


# Framing --------------------------------------------------------------------------------


def test_crc_matches_the_spec_and_pymodbus() -> None:
    # The specification's example request: unit 1, read 10 holding registers from 0.
    assert rtu_frame(1, bytes.fromhex("030000000a")).hex() == "01030000000ac5cd"
    for payload in (b"\x03\x00\x10\x00\x02", b"\x10\x00\x02\x00\x02\x04\x00\x01\xff\xff"):
        assert rtu_frame(17, payload) == FramerRTU(DecodePDU(False)).encode(payload, 17, 0)
    assert crc16(b"") == 0xFFFF


def test_mbap_matches_pymodbus() -> None:
    payload = shim.read_request(shim.READ_INPUT, 3, 0, 2)
    assert mbap_frame(513, 3, payload) == FramerSocket(DecodePDU(False)).encode(payload, 3, 513)
    assert mbap_frame(513, 3, payload).hex() == "020100000006030400000002"


def test_reply_lengths_and_names() -> None:
    assert reply_length(shim.read_request(3, 1, 0, 10)) == 22
    assert reply_length(shim.write_single_request(1, 0, 1)) == 5
    assert reply_length(shim.write_multiple_request(1, 0, [1, 2])) == 5
    with pytest.raises(ValueError, match="function 1"):
        reply_length(b"\x01\x00\x00\x00\x01")
    assert exception_name(2) == "ILLEGAL_DATA_ADDRESS"
    assert exception_name(0x0C) == "EXCEPTION_0x0c"


READ = shim.read_request(shim.READ_HOLDING, 1, 0, 1)


def rtu_reply(pdu_hex: str, unit: int = 1) -> bytes:
    return rtu_frame(unit, bytes.fromhex(pdu_hex))


def mbap_reply(pdu_hex: str, unit: int = 1) -> Callable[[bytes], bytes]:
    """Answer with the transaction id of the request."""

    def answer(request: bytes) -> bytes:
        return mbap_frame(int.from_bytes(request[:2], "big"), unit, bytes.fromhex(pdu_hex))

    return answer


async def test_rtu_transaction() -> None:
    link = ScriptedLink(rtu_reply("030200e6"), rtu_reply("8302"))
    wire = ModbusWire(link, "rtu")
    assert await wire.transact(1, READ, 1.0) == bytes.fromhex("030200e6")
    assert await wire.transact(1, READ, 1.0) == bytes.fromhex("8302")
    assert link.sent[0] == rtu_frame(1, READ)
    assert (wire.transactions, wire.header_bytes()) == (2, 3)


async def test_mbap_transaction_skips_a_stale_reply() -> None:
    def late_then_current(request: bytes) -> bytes:
        tid = int.from_bytes(request[:2], "big")
        return mbap_frame(tid - 1, 1, bytes.fromhex("030200aa")) + mbap_frame(
            tid, 1, bytes.fromhex("030200e6")
        )

    link = ScriptedLink(mbap_reply("030200e6"), late_then_current)
    wire = ModbusWire(link, "socket")
    assert await wire.transact(1, READ, 1.0) == bytes.fromhex("030200e6")
    assert await wire.transact(1, READ, 1.0) == bytes.fromhex("030200e6")
    assert link.sent[1][:2] == b"\x00\x02"
    assert wire.header_bytes() == 7


@pytest.mark.parametrize(
    ("framing", "reply", "message"),
    [
        ("rtu", rtu_reply("030200e6", unit=2), "reply from unit 2"),
        ("rtu", rtu_reply("040200e6"), "reply with function 4 to function 3"),
        ("rtu", rtu_reply("030200e6")[:-1] + b"\x00", "CRC mismatch"),
        ("rtu", rtu_reply("0304000000e6")[:7], "CRC mismatch"),
        ("socket", mbap_reply("030200e6", unit=9), "reply from unit 9"),
        ("socket", bytes.fromhex("0001000100030103"), "not a Modbus MBAP header"),
        ("socket", bytes.fromhex("0001000001000103"), "not a Modbus MBAP header"),
        ("socket", mbap_reply("0304000000e6"), "reply of 6 bytes, expected 4"),
        ("socket", mbap_reply("0302"), "reply of 2 bytes, expected 4"),
        ("socket", mbap_reply("830201"), "exception reply of 3 bytes"),
        ("socket", mbap_reply("040200e6"), "reply with function 4 to function 3"),
        ("socket", mbap_reply("030400e6"), "byte count 4 in a reply of 2 data bytes"),
    ],
)
async def test_broken_replies_are_rejected(framing: Any, reply: Reply, message: str) -> None:
    wire = ModbusWire(ScriptedLink(reply), framing)
    with pytest.raises(FrameError, match=message):
        await wire.transact(1, READ, 1.0)


async def test_silence_times_out() -> None:
    wire = ModbusWire(ScriptedLink(None), "rtu")
    with pytest.raises(LinkTimeoutError):
        await wire.transact(1, READ, 0.01)
