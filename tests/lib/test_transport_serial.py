"""Tests for the serial link, against a real pty whose master end plays the device."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import logging
import os
from pathlib import Path
import re
import termios

from inverterlib.errors import LinkError, LinkTimeoutError
from inverterlib.transport import (
    SerialLink,
    SerialPortInfo,
    SerialSettings,
    list_serial_ports,
)
import pytest
import serialx

Answer = Callable[[bytes], bytes | None]


def bracket(request: bytes) -> bytes:
    """Answer a request the way a PI30 device frames its replies."""
    return b"(" + request[:-1] + b"\r"


class PtyPeer:
    """The device end of a pty: answers every CR-terminated request it reads."""

    def __init__(self, answer: Answer = bracket) -> None:
        self.answer = answer
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.requests: list[bytes] = []
        self.received = asyncio.Event()
        self._pending = bytearray()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._readable)

    def _readable(self) -> None:
        self._pending += os.read(self.master, 4096)
        while (end := self._pending.find(b"\r")) >= 0:
            request = bytes(self._pending[: end + 1])
            del self._pending[: end + 1]
            self.requests.append(request)
            self.received.set()
            reply = self.answer(request)
            if reply is not None:
                os.write(self.master, reply)

    def hang_up(self) -> None:
        """Close both ends, as when a USB serial adapter is pulled."""
        if self.master < 0:
            return
        self._loop.remove_reader(self.master)
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = -1


@pytest.fixture
async def peer() -> AsyncIterator[PtyPeer]:
    """Yield a pty peer and hang it up afterwards."""
    pty = PtyPeer()
    yield pty
    pty.hang_up()


@pytest.fixture
async def link(peer: PtyPeer) -> AsyncIterator[SerialLink]:
    """Yield a 2400 8N1 link on the peer's pty and close it afterwards."""
    serial_link = SerialLink(peer.path, settings=SerialSettings(2400), timeout=1.0)
    yield serial_link
    await serial_link.close()


async def ask(link: SerialLink, request: bytes) -> bytes:
    """Send one request and read the CR-terminated reply."""
    async with link.exchange() as held:
        await held.write(request)
        return await held.read_until(b"\r")


async def test_exchange_round_trip_and_counters(peer: PtyPeer, link: SerialLink) -> None:
    assert await ask(link, b"QPIGS\r") == b"(QPIGS\r"
    assert await ask(link, b"QMOD\r") == b"(QMOD\r"
    assert link.is_open
    assert peer.requests == [b"QPIGS\r", b"QMOD\r"]
    assert link.bytes_out == 11
    assert link.bytes_in == 13
    assert link.description == peer.path


async def test_port_is_raw_in_both_directions(peer: PtyPeer, link: SerialLink) -> None:
    every_byte = bytes(range(256))
    peer.answer = lambda _request: every_byte
    async with link.exchange() as held:
        # LF, NUL, XON/XOFF, ^C and 0xFF must pass untouched: no CR/LF mapping, no flow
        # control, no signals, no echo.
        await held.write(b"\n\x00\x11\x13\x03\xff\r")
        assert await held.read_exactly(256) == every_byte
    assert peer.requests == [b"\n\x00\x11\x13\x03\xff\r"]


async def test_line_settings_reach_the_port(peer: PtyPeer) -> None:
    settings = SerialSettings(9600, bytesize=7, parity="E", stopbits=2)
    link = SerialLink(peer.path, settings=settings)
    await link.open()
    try:
        attributes = termios.tcgetattr(peer.slave)
        assert attributes[4] == attributes[5] == termios.B9600
        assert attributes[2] & termios.CSTOPB
        # A pty forces CS8 without parity, so read those back from the port object.
        assert link._transport is not None
        assert link._transport.parity is serialx.Parity.EVEN
        assert link._transport.byte_size == 7
    finally:
        await link.close()
    assert not link.is_open


async def test_silent_device_times_out_and_link_stays_usable(
    peer: PtyPeer, link: SerialLink
) -> None:
    peer.answer = lambda _request: None
    link.timeout = 0.05
    with pytest.raises(LinkTimeoutError):
        await ask(link, b"QPIRI\r")
    assert link.is_open
    peer.answer = bracket
    assert await ask(link, b"QPIRI\r") == b"(QPIRI\r"


async def test_stale_bytes_are_dropped_before_an_exchange(
    peer: PtyPeer, link: SerialLink, caplog: pytest.LogCaptureFixture
) -> None:
    peer.answer = lambda request: bracket(request) + b"junk"
    caplog.set_level(logging.DEBUG)
    assert await ask(link, b"QPIGS\r") == b"(QPIGS\r"
    assert await ask(link, b"QMOD\r") == b"(QMOD\r"
    assert f"{peer.path}: dropped 4 stale bytes" in caplog.text
    assert link.bytes_in == 13


async def test_unplugged_adapter_fails_then_reopens_when_back(tmp_path: Path) -> None:
    first, second = PtyPeer(), PtyPeer()
    port = tmp_path / "ttyV0"
    port.symlink_to(first.path)
    link = SerialLink(str(port), settings=SerialSettings(2400), timeout=5.0)
    try:
        assert await ask(link, b"QID\r") == b"(QID\r"
        first.answer = lambda _request: first.hang_up()
        with pytest.raises(LinkError, match="closed"):
            await ask(link, b"QPIGS\r")
        assert not link.is_open
        port.unlink()
        port.symlink_to(second.path)
        assert await ask(link, b"QPIGS\r") == b"(QPIGS\r"
        assert second.requests == [b"QPIGS\r"]
    finally:
        await link.close()
        first.hang_up()
        second.hang_up()


async def test_missing_port_fails_to_open() -> None:
    link = SerialLink("/dev/does-not-exist", settings=SerialSettings(2400))
    with pytest.raises(LinkError, match="cannot open /dev/does-not-exist"):
        async with link.exchange():
            pass
    assert not link.is_open


async def test_file_that_is_not_a_tty_fails_to_open(tmp_path: Path) -> None:
    not_a_tty = tmp_path / "ttyUSB0"
    not_a_tty.write_bytes(b"")
    link = SerialLink(str(not_a_tty), settings=SerialSettings(2400))
    with pytest.raises(LinkError, match=f"cannot open {not_a_tty}"):
        await link.open()
    assert not link.is_open


async def test_second_master_on_the_same_port_is_refused(peer: PtyPeer, link: SerialLink) -> None:
    await link.open()
    intruder = SerialLink(peer.path, settings=SerialSettings(2400))
    with pytest.raises(LinkError, match="locked"):
        await intruder.open()
    assert not intruder.is_open


async def test_setting_the_port_cannot_take_is_a_link_error(peer: PtyPeer) -> None:
    link = SerialLink(peer.path, settings=SerialSettings(2400, stopbits=1.5))
    with pytest.raises(LinkError, match=re.escape("1.5 stop bits")):
        await link.open()
    assert not link.is_open


@pytest.mark.parametrize(
    "settings",
    [
        {"baudrate": 0},
        {"baudrate": 2400, "bytesize": 9},
        {"baudrate": 2400, "parity": "X"},
        {"baudrate": 2400, "stopbits": 3},
    ],
)
def test_impossible_settings_are_rejected(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        SerialSettings(**settings)  # type: ignore[arg-type]


async def test_list_serial_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    def port(device: str, product: str | None) -> serialx.SerialPortInfo:
        return serialx.SerialPortInfo(
            device=device,
            resolved_device=device,
            vid=0x1A86 if product else None,
            pid=0x7523 if product else None,
            serial_number="A1" if product else None,
            manufacturer="QinHeng" if product else None,
            product=product,
            bcd_device=None,
            interface_description=None,
            interface_num=None,
        )

    async def fake_list() -> list[serialx.SerialPortInfo]:
        return [port("/dev/ttyUSB0", "USB Serial"), port("/dev/ttyS0", None)]

    monkeypatch.setattr(serialx, "async_list_serial_ports", fake_list)
    assert await list_serial_ports() == [
        SerialPortInfo(
            device="/dev/ttyUSB0",
            description="USB Serial",
            vid=0x1A86,
            pid=0x7523,
            serial_number="A1",
            manufacturer="QinHeng",
        ),
        SerialPortInfo(
            device="/dev/ttyS0",
            description="ttyS0",
            vid=None,
            pid=None,
            serial_number=None,
            manufacturer=None,
        ),
    ]
