"""The simulated Xcom on its own: its answers, its units' physics, its endpoints and pacing."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
from pathlib import Path
import signal
import socket
import struct
import time

import pytest

from simulators import xcom_frames as frames
from simulators.endpoints import Channel
from simulators.xcom import Fault, XcomSimulator, _run, main
from simulators.xcom_frames import Request
from simulators.xcom_units import FIXED_POINT, NO_SENSOR, Installation, VarioString, Xtender


def request(
    destination: int,
    object_type: int,
    object_id: int,
    property_id: int = frames.VALUE,
    *,
    service: int = frames.READ,
    data: bytes = b"",
) -> Request:
    return Request(
        source=1,
        destination=destination,
        service=service,
        object_type=object_type,
        object_id=object_id,
        property_id=property_id,
        data=data,
    )


def answer(simulator: XcomSimulator, asked: Request) -> tuple[int, bytes]:
    """Return (service flags, data) of the simulator's reply to a request."""
    reply = simulator.answer(asked)
    cut = frames.FrameCutter().feed(reply)
    assert cut[0] is not None
    assert int.from_bytes(reply[2:6], "little") == asked.destination
    return reply[14], reply[24:-2]


def error_of(simulator: XcomSimulator, asked: Request) -> int:
    flags, data = answer(simulator, asked)
    assert flags == 0x03
    return int.from_bytes(data, "little")


def float_of(simulator: XcomSimulator, asked: Request) -> float:
    flags, data = answer(simulator, asked)
    assert flags == 0x02
    return float(struct.unpack("<f", data)[0])


def test_units_share_one_battery() -> None:
    simulator = XcomSimulator(variostring=True, clock=lambda: 1000.0)
    site = simulator.installation
    currents = [float_of(simulator, request(a, frames.INFO, 3005)) for a in (101, 102, 103)]
    solar = float_of(simulator, request(301, frames.INFO, 11001))
    net = float_of(simulator, request(601, frames.INFO, 7001))
    assert all(current < 0 for current in currents)
    assert net == pytest.approx(sum(currents) + solar, abs=0.01)
    assert float_of(simulator, request(601, frames.INFO, 7003)) == pytest.approx(
        net * site.battery_voltage(), rel=1e-3
    )
    assert float_of(simulator, request(101, frames.INFO, 3001)) == 24.5
    assert float_of(simulator, request(102, frames.INFO, 3001)) == NO_SENSOR
    assert float_of(simulator, request(701, frames.INFO, 15000)) == pytest.approx(
        site.battery_voltage(), abs=0.01
    )
    assert isinstance(simulator.units[701], VarioString)
    # An info of the table that is not simulated reads 0; one outside it is not found.
    assert float_of(simulator, request(101, frames.INFO, 3002)) == 0
    assert error_of(simulator, request(101, frames.INFO, 9999)) == 0x22
    assert Installation(xtenders=2).share(3) == 0


def test_units_move_with_time() -> None:
    now = [100.0]
    simulator = XcomSimulator(clock=lambda: now[0])
    first = float_of(simulator, request(101, frames.INFO, 3136))
    now[0] += 15
    assert float_of(simulator, request(101, frames.INFO, 3136)) != first


def test_a_models_own_ranges_narrow_the_appendix() -> None:
    """An XTH 8000-48 reports and enforces 0-120 A of charge where the appendix says 0-200 A."""
    simulator = XcomSimulator()
    charge = 1138
    assert float_of(simulator, request(101, frames.PARAMETER, charge, frames.MIN_QSP)) == 0
    assert float_of(simulator, request(101, frames.PARAMETER, charge, frames.MAX_QSP)) == 120
    too_much = request(
        101,
        frames.PARAMETER,
        charge,
        frames.UNSAVED_VALUE_QSP,
        service=frames.WRITE,
        data=struct.pack("<f", 150.0),
    )
    assert error_of(simulator, too_much) == 0x28
    # Firmware without the min and max properties refuses to read them.
    simulator.units[101].ranges = False
    for prop in (frames.MIN_QSP, frames.MAX_QSP):
        assert error_of(simulator, request(101, frames.PARAMETER, charge, prop)) == 0x23


def test_parameter_properties_and_refusals() -> None:
    simulator = XcomSimulator()
    limit = 1107
    assert float_of(simulator, request(101, frames.PARAMETER, limit, frames.MIN_QSP)) == 2
    assert float_of(simulator, request(101, frames.PARAMETER, limit, frames.MAX_QSP)) == 50
    assert answer(simulator, request(101, frames.PARAMETER, limit, frames.LEVEL_QSP)) == (
        0x02,
        b"\x10\x00",
    )
    assert error_of(simulator, request(101, frames.PARAMETER, limit, 0x0099)) == 0x23
    assert error_of(simulator, request(101, frames.PARAMETER, 42)) == 0x22

    def write(
        value: bytes, property_id: int = frames.UNSAVED_VALUE_QSP, number: int = limit
    ) -> int:
        asked = request(
            101, frames.PARAMETER, number, property_id, service=frames.WRITE, data=value
        )
        flags, data = answer(simulator, asked)
        return 0 if flags == 0x02 else int.from_bytes(data, "little")

    assert write(struct.pack("<f", 1.0)) == 0x27
    assert write(struct.pack("<f", 51.0)) == 0x28
    assert write(b"\x00\x00") == 0x24
    assert write(struct.pack("<f", 10.0), frames.MIN_QSP) == 0x25
    assert write(struct.pack("<f", 10.0), 0x0099) == 0x23
    assert write(struct.pack("<f", 10.0), number=42) == 0x22
    assert write(struct.pack("<I", 3), number=1552) == 0x26
    assert write(struct.pack("<i", 2), number=1142) == 0x26
    assert write(struct.pack("<f", 10.3)) == 0
    parameter = simulator.units[101].parameters[limit]
    assert parameter.ram == round(10.3 * FIXED_POINT) / FIXED_POINT
    assert parameter.flash == 32
    # Writing an info is refused; reading one with an unknown property too.
    assert error_of(simulator, request(101, frames.INFO, 3000, service=frames.WRITE)) == 0x25
    assert error_of(simulator, request(101, frames.INFO, 3000, 0x000D)) == 0x23
    # A signal reads back as 0.
    assert answer(simulator, request(101, frames.PARAMETER, 1142, frames.VALUE_QSP)) == (
        0x02,
        bytes(4),
    )


def test_gateway_services_groups_and_messages() -> None:
    simulator = XcomSimulator()
    assert error_of(simulator, request(101, frames.INFO, 3000, service=0x07)) == 0x11
    assert error_of(simulator, request(101, 0x0005, 1)) == 0x21
    assert error_of(simulator, request(501, frames.INFO, 3000)) == 0x21
    assert error_of(simulator, request(104, frames.INFO, 3000)) == 0x02
    assert error_of(simulator, request(100, frames.PARAMETER, 1107)) == 0x2D
    assert error_of(simulator, request(700, frames.PARAMETER, 14001, service=frames.WRITE)) == 0x02
    bad = request(
        100, frames.PARAMETER, 1107, frames.UNSAVED_VALUE_QSP, service=frames.WRITE, data=b"\x00"
    )
    assert error_of(simulator, bad) == 0x24
    assert error_of(simulator, request(501, frames.MESSAGE, 0, 0)) == 0x22
    simulator.post_message(19, 101)
    simulator.post_message(20, 102)
    assert simulator.flags & frames.FLAG_MESSAGE_PENDING
    _, data = answer(simulator, request(501, frames.MESSAGE, 1, 0))
    assert struct.unpack("<IHIII", data)[:3] == (2, 19, 101)
    assert simulator.flags & frames.FLAG_MESSAGE_PENDING
    answer(simulator, request(501, frames.MESSAGE, 0, 0))
    assert not simulator.flags & frames.FLAG_MESSAGE_PENDING


def test_multi_info_values_sums_and_gaps() -> None:
    simulator = XcomSimulator(clock=lambda: 1000.0)
    items = struct.pack("<HBHBHBHBHB", 3136, 1, 3136, 0xFE, 3000, 0xFD, 3000, 4, 11004, 0)
    _, data = answer(simulator, request(501, frames.MULTI_INFO, 1, data=items))
    present, _ = struct.unpack_from("<II", data)
    assert present == 0x01 | 0x20 | 0x40 | 0x80
    values = [value for _, _, value in struct.iter_unpack("<HBf", data[8:])]
    xtenders = [unit for unit in simulator.units.values() if isinstance(unit, Xtender)]
    assert values[1] == pytest.approx(sum(unit.power() for unit in xtenders) / 1000, rel=1e-3)
    assert values[0] < values[1]
    assert values[2] == pytest.approx(simulator.installation.battery_voltage(), abs=0.01)
    assert math.isnan(values[3])
    assert values[4] > 0
    assert error_of(simulator, request(501, frames.MULTI_INFO, 1, data=b"\x00")) == 0x24
    assert error_of(simulator, request(501, frames.MULTI_INFO, 1, data=bytes(3 * 77))) == 0x24
    assert error_of(XcomSimulator(multi_info=False), request(501, frames.MULTI_INFO, 1)) == 0x21


async def exchange(sock: socket.socket, data: bytes, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, data)
    received = b""
    async with asyncio.timeout(5):
        while len(received) < size:
            received += await loop.sock_recv(sock, 4096)
    return received


def read_3000(destination: int = 101) -> bytes:
    body = bytes([0, frames.READ]) + struct.pack("<HIH", frames.INFO, 3000, frames.VALUE)
    return frames.build_frame(0, 1, destination, body)


async def test_tcp_endpoint_answers_in_order_and_drops_bad_frames(socket_enabled: None) -> None:
    simulator = XcomSimulator()
    host, port = await simulator.start_tcp()
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, (host, port))
        corrupt = read_3000()[:-1] + b"\x00"
        short = frames.build_frame(0, 1, 101, b"\x00\x01")
        replies = await exchange(sock, corrupt + short + read_3000() + read_3000(102), 2 * 30)
        cut = frames.FrameCutter().feed(replies)
        assert [int.from_bytes(f[2:6], "little") for f in cut if f] == [101, 102]
        assert simulator.stats.rejected == 2
        assert simulator.stats.requests["read info 3000 @101"] == 1
    finally:
        sock.close()
        await simulator.drain()
        await simulator.stop()


async def test_udp_endpoint_and_faults(socket_enabled: None) -> None:
    simulator = XcomSimulator()
    host, port = await simulator.start_udp()
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.connect((host, port))
        simulator.inject(Fault.GARBAGE, 1)
        simulator.inject(Fault.BAD_CHECKSUM, 1)
        await loop.sock_sendall(sock, read_3000())
        garbled = await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)
        assert frames.FrameCutter().feed(garbled)[0] is not None
        await loop.sock_sendall(sock, read_3000())
        bad = await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)
        assert frames.FrameCutter().feed(bad) == [None]
        simulator.inject(Fault.STALE, 1)
        await loop.sock_sendall(sock, read_3000(102))
        both = await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)
        assert len([f for f in frames.FrameCutter().feed(both) if f]) == 2
    finally:
        sock.close()
        await simulator.stop()


async def test_a_paced_pty_takes_line_time() -> None:
    simulator = XcomSimulator(baud=9600)
    path = await simulator.start_pty()
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    loop = asyncio.get_running_loop()
    received = bytearray()
    done = asyncio.Event()

    def readable() -> None:
        received.extend(os.read(fd, 4096))
        if len(received) >= 30:
            done.set()

    loop.add_reader(fd, readable)
    try:
        started = time.monotonic()
        os.write(fd, read_3000())
        async with asyncio.timeout(5):
            await done.wait()
        # 26 bytes in and 30 out at 11 bits a byte and 9600 Bd take at least 60 ms.
        assert time.monotonic() - started >= 56 * 11 / 9600 * 0.9
        assert frames.FrameCutter().feed(bytes(received))[0] is not None
    finally:
        loop.remove_reader(fd)
        os.close(fd)
        await simulator.stop()


async def test_stop_cancels_a_reply_in_flight(socket_enabled: None) -> None:
    simulator = XcomSimulator(latency=5.0)
    serving = asyncio.Event()
    serve = simulator.serve

    async def noted(frame: bytes | None, started: float, channel: Channel) -> None:
        serving.set()
        await serve(frame, started, channel)

    simulator.serve = noted  # type: ignore[method-assign]
    host, port = await simulator.start_tcp()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(read_3000())
    await writer.drain()
    async with asyncio.timeout(5):
        await serving.wait()
    await simulator.stop()
    assert await reader.read() == b""
    writer.close()


async def test_the_command_line_serves_until_terminated(
    socket_enabled: None, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    args = argparse.Namespace(
        pty=None, tcp="127.0.0.1:0", udp=None, baud=0, xtenders=1, no_multi_info=True
    )
    task = asyncio.create_task(_run(args))
    await asyncio.sleep(0.1)
    os.kill(os.getpid(), signal.SIGTERM)
    async with asyncio.timeout(5):
        await task
    for where in ({"udp": "127.0.0.1:0"}, {"pty": str(tmp_path / "xcom")}):
        args = argparse.Namespace(
            pty=None, tcp=None, udp=None, baud=38400, xtenders=2, no_multi_info=False
        )
        vars(args).update(where)
        task = asyncio.create_task(_run(args))
        await asyncio.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)
        async with asyncio.timeout(5):
            await task
