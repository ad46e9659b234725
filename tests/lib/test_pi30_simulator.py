"""The PI30 simulator itself: wire pacing, HID reports, refusals, its command line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import re
import socket
import sys
import time

from inverterlib.errors import LinkError
from inverterlib.pi30.client import Pi30Client
from inverterlib.pi30.codec import decode_reply, encode_request
from inverterlib.transport.tcp import TcpLink
import pytest

from simulators.pi30 import Fault, Pi30Simulator, corrupt_numbers, reply_frame, wire_crc
from simulators.pi30_device import DAY_STEPS, STEP_SECONDS, Pi30Device, Profile

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
        assert [device.address for device in devices] == ["", "parallel_1"]
    finally:
        process.terminate()
        assert await process.wait() == 0


# --- faults, seen on a raw TCP connection ------------------------------------------------------


class RawPeer:
    """A plain TCP connection to a simulator: requests out, bytes in, no library in between."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, command: str) -> None:
        data = command.encode()
        self.writer.write(data + wire_crc(data) + b"\r")

    async def frame(self) -> bytes:
        return await asyncio.wait_for(self.reader.readuntil(b"\r"), 5)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def handled(simulator: Pi30Simulator, command: str) -> None:
    """Wait until the simulator has received `command` and finished with it."""
    deadline = time.monotonic() + 5
    while not simulator.stats.requests[command]:
        assert time.monotonic() < deadline, f"{command} never arrived"
        await asyncio.sleep(0.01)
    await simulator.drain()


@pytest.fixture
async def raw() -> AsyncIterator[tuple[Pi30Simulator, RawPeer]]:
    """Yield an unpaced simulator on TCP and a raw connection to it."""
    simulator = Pi30Simulator(flood_bytes=2048, reply_delay=0.05)
    host, port = await simulator.start_tcp()
    peer = RawPeer(*await asyncio.open_connection(host, port))
    yield simulator, peer
    await peer.close()
    await simulator.stop()


pytestmark_socket = pytest.mark.usefixtures("socket_enabled")


@pytestmark_socket
async def test_fault_aimed_at_one_command_spares_the_others(
    raw: tuple[Pi30Simulator, RawPeer],
) -> None:
    simulator, peer = raw
    simulator.inject(Fault.NAK, count=1, command="QET")
    peer.send("QMOD")
    assert await peer.frame() == reply_frame("B")
    peer.send("QET")
    assert await peer.frame() == reply_frame("NAK")
    peer.send("QET")
    assert await peer.frame() == reply_frame(f"{int(simulator.device.physics.pv_wh):08d}")


@pytestmark_socket
async def test_late_reply_comes_ahead_of_the_next_answer(
    raw: tuple[Pi30Simulator, RawPeer],
) -> None:
    simulator, peer = raw
    simulator.inject(Fault.LATE, count=1)
    peer.send("QMOD")
    await handled(simulator, "QMOD")
    peer.send("QPI")
    assert await peer.frame() == reply_frame("B")
    assert await peer.frame() == reply_frame("PI30")


@pytestmark_socket
async def test_cleared_faults_forget_held_replies(raw: tuple[Pi30Simulator, RawPeer]) -> None:
    simulator, peer = raw
    simulator.inject(Fault.LATE)
    peer.send("QMOD")
    await handled(simulator, "QMOD")
    simulator.clear_faults()
    peer.send("QPI")
    assert await peer.frame() == reply_frame("PI30")


@pytestmark_socket
async def test_delayed_fragmented_and_endless_replies(
    raw: tuple[Pi30Simulator, RawPeer],
) -> None:
    simulator, peer = raw
    simulator.inject(Fault.DELAYED, count=1)
    peer.send("QMOD")
    assert await peer.frame() == reply_frame("B")
    simulator.inject(Fault.FRAGMENT, count=1)
    peer.send("QPI")
    fragment = await peer.frame()
    assert not fragment.startswith(b"(")
    assert await peer.frame() == reply_frame("PI30")
    simulator.inject(Fault.ENDLESS, count=1)
    peer.send("QPI")
    flood = await asyncio.wait_for(peer.reader.readexactly(2048), 5)
    assert b"\r" not in flood
    peer.send("QPI")
    assert await peer.frame() == reply_frame("PI30")


@pytestmark_socket
@pytest.mark.parametrize(
    ("fault", "payload"),
    [
        (Fault.NAN, "  nan  nan"),
        (Fault.INFINITE, "  inf  inf"),
        (Fault.OVERFLOW, "1e999 1e999"),
        (Fault.UNDERSCORE, "001_0 01_0"),
    ],
)
async def test_non_finite_numbers_take_the_place_of_every_number(
    raw: tuple[Pi30Simulator, RawPeer], fault: Fault, payload: str
) -> None:
    simulator, peer = raw
    simulator.device.handle = lambda command: "230.4 50.0"  # type: ignore[method-assign]
    simulator.inject(fault, count=1)
    peer.send("QPIGS")
    assert await peer.frame() == reply_frame(payload)


def test_corrupt_numbers_keeps_widths_float_still_reads() -> None:
    assert corrupt_numbers("230.4 B 00012345", "nan") == "  nan B      nan"
    assert corrupt_numbers("00012345", "1_0") == "000001_0"
    assert float(corrupt_numbers("00012345", "1e999")) == float("inf")


# --- physics -------------------------------------------------------------------------------------


def answer(device: Pi30Device, command: str) -> str:
    """Return the payload the unit answers `command` with."""
    payload = device.handle(command)
    assert payload is not None
    return payload


def test_readings_are_consistent_over_a_day() -> None:
    device = Pi30Device()
    pv_start, load_start = int(answer(device, "QET")), int(answer(device, "QLT"))
    pv_wh = load_wh = 0.0
    for _ in range(DAY_STEPS):
        fields = answer(device, "QPIGS").split()
        volts, charging, discharging = float(fields[8]), int(fields[9]), int(fields[15])
        pv1_amps, pv1_volts, pv1_watts = float(fields[12]), float(fields[13]), int(fields[19])
        pv2_amps, pv2_volts, pv2_watts = (float(text) for text in answer(device, "QPIGS2").split())
        # Power is voltage times current, to the rounding of the printed fields.
        for amps, volts_in, watts in (
            (pv1_amps, pv1_volts, pv1_watts),
            (pv2_amps, pv2_volts, pv2_watts),
        ):
            assert abs(amps * volts_in - watts) <= 0.05 * (amps + volts_in) + 1
        assert charging == 0 or discharging == 0
        battery_watts = device.physics.battery_w
        assert abs(volts * (charging - discharging) - battery_watts) <= 0.5 * volts + 1
        pv_wh += (pv1_watts + pv2_watts) * STEP_SECONDS / 3600
        load_wh += int(fields[5]) * STEP_SECONDS / 3600
    # The counters grew by the reported powers over the simulated time, to the Wh.
    rounding = DAY_STEPS * STEP_SECONDS / 3600 + 1
    assert abs(int(answer(device, "QET")) - pv_start - pv_wh) <= rounding
    assert abs(int(answer(device, "QLT")) - load_start - load_wh) <= rounding
    assert pv_wh > 0
