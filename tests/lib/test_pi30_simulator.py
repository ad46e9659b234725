"""The PI30 simulator itself: wire pacing, HID reports, refusals, its command line."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import time

import pytest

from inverterlib.errors import LinkError
from inverterlib.pi30.client import Pi30Client
from inverterlib.pi30.codec import decode_reply, encode_request
from inverterlib.transport.tcp import TcpLink
from simulators.pi30 import Pi30Simulator, reply_frame
from simulators.pi30_device import Pi30Device, Profile

from .conftest import Pi30Harness


async def ask(client: Pi30Client, frame: bytes) -> bytes:
    async with client.link.exchange() as link:
        await link.write(frame)
        return await link.read_until(b"\r")


async def test_bad_request_crc_is_refused(pi30: Pi30Harness) -> None:
    simulator, client = await pi30.serial()
    assert await ask(client, b"QPI\x00\x00\r") == b"(NAKss\r"
    assert simulator.stats.requests["<bad crc>"] == 1


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("PBCV45.5", "NAK"),  # whole volts only on a 48 V unit
        ("PBCV45.0", "ACK"),
        ("PBDV00.0", "ACK"),
        ("PBDV47.0", "NAK"),
        ("PSDV39.9", "NAK"),
        ("MCHGC065", "NAK"),
        ("PEq", "NAK"),  # a letter this unit has no flag for
        ("PDjk", "ACK"),
        ("DAT991332000000", "NAK"),
        ("PPCP102", "NAK"),  # not a parallel system
        ("QXYZ", "NAK"),
        ("POP3", "NAK"),
    ],
)
async def test_setter_validation(pi30: Pi30Harness, command: str, reply: str) -> None:
    _, client = await pi30.serial()
    assert await ask(client, encode_request(command)) == reply_frame(reply)


async def test_paced_exchange_takes_at_least_its_wire_time(pi30: Pi30Harness) -> None:
    simulator, client = await pi30.serial(baud=2400)
    request = encode_request("QMOD")
    start = time.perf_counter()
    reply = await ask(client, request)
    elapsed = time.perf_counter() - start
    assert decode_reply(reply) == "B"
    assert elapsed >= (len(request) + len(reply)) * 10 / 2400
    assert simulator.byte_time == pytest.approx(10 / 2400)


async def test_hid_reports(pi30: Pi30Harness) -> None:
    simulator = Pi30Simulator()
    pi30.simulators.append(simulator)
    loop = asyncio.get_running_loop()
    fd = simulator.hid_pair()
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=fd) as pipe:
        pipe.setblocking(False)
        # Each request fits one 8-byte report behind report id 0, zero padded after its CR.
        for chunk in (b"QMODI\xc1\r\x00", b"QPI\xbe\xac\r\x00\x00"):
            await loop.sock_sendall(pipe, b"\x00" + chunk)
        first = await loop.sock_recv(pipe, 64)
        second = await loop.sock_recv(pipe, 64)
    expected_qmod = reply_frame("B")
    assert first == expected_qmod.ljust(8, b"\x00")
    qpi = reply_frame("PI30")
    assert second == qpi[:8]
    assert simulator.stats.requests["QMOD"] == simulator.stats.requests["QPI"] == 1


@pytest.mark.usefixtures("socket_enabled")
async def test_stop_closes_tcp_clients() -> None:
    simulator = Pi30Simulator(Pi30Device(Profile.old_firmware()))
    host, port = await simulator.start_tcp()
    client = Pi30Client(TcpLink(host, port, timeout=0.3))
    try:
        device = (await client.identify())[0]
        assert device.model == "PI30 inverter 044"
        await simulator.stop()
        with pytest.raises(LinkError):
            await client.read(device, ["device_mode"])
    finally:
        await client.close()
        await simulator.stop()


@pytest.mark.usefixtures("socket_enabled")
async def test_command_line_serves_tcp() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.pi30",
        "--tcp",
        "127.0.0.1:0",
        "--baud",
        "0",
        "--parallel",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        match = re.search(r"tcp://([\d.]+):(\d+)", line)
        assert match is not None, line
        client = Pi30Client(TcpLink(match.group(1), int(match.group(2)), timeout=1.0))
        try:
            devices = await client.identify()
        finally:
            await client.close()
        assert [device.address for device in devices] == ["", "parallel_0", "parallel_1"]
    finally:
        process.terminate()
        assert await process.wait() == 0
