"""Tests for the USB-HID link; a SEQPACKET socket pair stands in for the hidraw node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import os
from pathlib import Path
import socket
import sys
import types
from typing import Any

from inverterlib.errors import LinkError, LinkTimeoutError
from inverterlib.transport import (
    HidDeviceInfo,
    HidLink,
    async_list_hid_devices,
    list_hid_devices,
)
from inverterlib.transport.hid import (
    output_reports,
    report_payload,
)
import pytest

Answer = Callable[[bytes], bytes | None]


def bracket(request: bytes) -> bytes:
    """Answer a request the way a PI30 device frames its replies."""
    return b"(" + request[:-1] + b"\r"


class HidPeer:
    """A PI30 on USB: takes 9-byte output reports, answers in 8-byte input reports.

    Each message on a SEQPACKET socket keeps its boundaries, like one HID report.
    """

    def __init__(self) -> None:
        self.answer: Answer = bracket
        self.reports: list[bytes] = []
        self.requests: list[bytes] = []
        self.plugged_in = 0
        self.device: socket.socket | None = None
        self._pending = bytearray()
        self._loop = asyncio.get_running_loop()

    def opener(self) -> int:
        """Plug the device in and return the host end, as opening /dev/hidrawN would."""
        self.unplug()
        self.device, host = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.device.setblocking(False)
        self.plugged_in += 1
        self.resume()
        return host.detach()

    def pause(self) -> None:
        """Stop taking reports off the wire."""
        assert self.device is not None
        self._loop.remove_reader(self.device.fileno())

    def resume(self) -> None:
        """Take reports off the wire again."""
        assert self.device is not None
        self._loop.add_reader(self.device.fileno(), self._readable)

    def unplug(self) -> None:
        """Pull the cable."""
        if self.device is not None:
            self._loop.remove_reader(self.device.fileno())
            self.device.close()
            self.device = None

    def _readable(self) -> None:
        assert self.device is not None
        self.take(self.device.recv(64))

    def take(self, report: bytes) -> None:
        """Collect one output report; answer once a request is complete."""
        self.reports.append(report)
        self._pending += report[1:]
        if (end := self._pending.find(b"\r")) < 0:
            return
        request = bytes(self._pending[: end + 1])
        self._pending.clear()
        self.requests.append(request)
        if (reply := self.answer(request)) is not None:
            self.send(reply)

    def send(self, reply: bytes) -> None:
        """Send a reply as zero-padded 8-byte input reports."""
        assert self.device is not None
        for start in range(0, len(reply), 8):
            self.device.send(reply[start : start + 8].ljust(8, b"\x00"))


@pytest.fixture
async def peer() -> AsyncIterator[HidPeer]:
    """Yield a HID peer and unplug it afterwards."""
    hid_peer = HidPeer()
    yield hid_peer
    hid_peer.unplug()


@pytest.fixture
async def link(peer: HidPeer) -> AsyncIterator[HidLink]:
    """Yield a link whose node the peer serves and close it afterwards."""
    hid_link = HidLink("/dev/hidraw0", opener=peer.opener)
    yield hid_link
    await hid_link.close()


async def ask(link: HidLink, request: bytes) -> bytes:
    """Send one request and read the CR-terminated reply."""
    async with link.exchange() as held:
        await held.write(request)
        return await held.read_until(b"\r")


async def test_output_reports_carry_report_id_and_zero_padding(
    peer: HidPeer, link: HidLink
) -> None:
    frame = b"QEDabcde\x00\x01\r"  # the second chunk starts with a 0x00 CRC byte
    assert await ask(link, frame) == bracket(frame)
    assert peer.reports == [b"\x00QEDabcde", b"\x00\x00\x01\r\x00\x00\x00\x00\x00"]
    assert peer.requests == [frame]
    assert link.bytes_out == len(frame)
    assert link.description == "hid:/dev/hidraw0"


async def test_reply_spanning_three_reports_is_reassembled_and_trimmed(
    peer: HidPeer, link: HidLink
) -> None:
    reply = b"(230.0 50.0 230.0 5\r"
    peer.answer = lambda _request: reply
    assert await ask(link, b"QPIGS\xb7\xa9\r") == reply
    # The zero padding after the CR in the third report never reached the inbox.
    assert link.inbox.clear() == b""
    assert link.bytes_in == len(reply) == 20


async def test_report_helpers() -> None:
    assert output_reports(b"") == []
    assert output_reports(b"12345678") == [b"\x0012345678"]
    assert report_payload(b"AB\rCD\r\x00\x00") == b"AB\r"
    assert report_payload(b"(NAKss\x00\x00") == b"(NAKss\x00\x00"


async def test_silent_device_times_out_and_link_stays_open(peer: HidPeer, link: HidLink) -> None:
    peer.answer = lambda _request: None
    link.timeout = 0.05
    with pytest.raises(LinkTimeoutError):
        await ask(link, b"QMOD\r")
    assert link.is_open
    peer.answer = bracket
    assert await ask(link, b"QMOD\r") == b"(QMOD\r"
    assert peer.plugged_in == 1


async def test_unplugged_device_fails_then_reopens(peer: HidPeer, link: HidLink) -> None:
    assert await ask(link, b"QID\r") == b"(QID\r"

    def pull_cable(_request: bytes) -> None:
        peer.unplug()

    peer.answer = pull_cable
    with pytest.raises(LinkError, match="disconnected"):
        await ask(link, b"QPIGS\r")
    assert not link.is_open
    peer.answer = bracket
    assert await ask(link, b"QPIGS\r") == b"(QPIGS\r"
    assert peer.plugged_in == 2


async def test_write_to_a_vanished_device_is_a_link_error(peer: HidPeer, link: HidLink) -> None:
    await link.open()
    peer.unplug()
    with pytest.raises(LinkError, match="write to hid:/dev/hidraw0 failed"):
        async with link.exchange() as held:
            await held.write(b"QPIGS\r")
    assert not link.is_open


async def test_full_node_waits_until_writable(peer: HidPeer, link: HidLink) -> None:
    frame = b"".join(b"%07d " % number for number in range(600)) + b"\r"
    peer.answer = lambda _request: b"(ACK9 \r"
    await link.open()
    peer.pause()
    async with link.exchange() as held:
        await held.write(frame[:4000])
        await held.write(frame[4000:])  # queued behind the first part
        assert len(peer.reports) == 0
        peer.resume()
        assert await held.read_until(b"\r") == b"(ACK9 \r"
    assert peer.requests == [frame]
    assert len(peer.reports) == len(frame) // 8 + 1
    assert all(len(report) == 9 and report[0] == 0 for report in peer.reports)


async def test_node_failing_while_draining_is_a_link_error(peer: HidPeer, link: HidLink) -> None:
    frame = b"x" * 8 * 600 + b"\r"
    await link.open()
    peer.pause()
    async with link.exchange() as held:
        await held.write(frame)
        assert peer.device is not None
        # Free the queue, then refuse to read: the node turns writable and the write breaks.
        while True:
            try:
                peer.device.recv(64)
            except BlockingIOError:
                break
        peer.device.shutdown(socket.SHUT_RD)
        with pytest.raises(LinkError, match="write to hid:/dev/hidraw0 failed"):
            await held.read_until(b"\r")
    assert not link.is_open


async def test_read_error_closes_the_link() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    # Reading the write end of a widowed pipe fails, as reading a removed hidraw node does.
    link = HidLink("/dev/hidraw7", opener=lambda: write_end)
    async with link.exchange() as held:
        with pytest.raises(LinkError, match=r"hid:/dev/hidraw7 failed"):
            await held.read_until(b"\r")
    assert not link.is_open


async def test_spurious_wakeup_is_ignored(peer: HidPeer, link: HidLink) -> None:
    await link.open()
    link._read_report()
    assert link.is_open
    assert link.inbox.clear() == b""


async def test_node_path_is_opened_non_blocking(tmp_path: Path) -> None:
    # A FIFO opened read-write reads back what was written: one report, trimmed at the CR.
    node = tmp_path / "hidraw0"
    os.mkfifo(node)
    link = HidLink(str(node))
    try:
        async with link.exchange() as held:
            await held.write(b"Q\r")
            assert await held.read_until(b"\r") == b"\x00Q\r"
    finally:
        await link.close()
    assert not link.is_open


async def test_node_that_cannot_be_watched_fails_to_open(tmp_path: Path) -> None:
    not_a_device = tmp_path / "hidraw0"
    not_a_device.write_bytes(b"")
    link = HidLink(str(not_a_device))
    with pytest.raises(LinkError, match="cannot open hid:"):
        await link.open()
    assert not link.is_open


async def test_missing_node_fails_to_open() -> None:
    link = HidLink("/dev/hidraw-missing")
    with pytest.raises(LinkError, match="cannot open hid:/dev/hidraw-missing"):
        await link.open()
    assert not link.is_open
    await link.close()


def _fake_sysfs(root: Path) -> None:
    """Lay out /sys/class/hidraw with inverters, a mouse and broken entries."""
    entries = {
        "hidraw0": "HID_ID=0003:00000665:00005161\nHID_NAME=Cypress USB to Serial\nHID_UNIQ=\n",
        "hidraw1": "HID_ID=0003:0000046D:0000C52B\nHID_NAME=Logitech USB Receiver\n",
        "hidraw9": "HID_ID=0003:00000665:00005161\nHID_NAME=\nHID_UNIQ=92932004102443\n",
        "hidraw10": "HID_ID=0003:00000665:00005161\nHID_NAME=Cypress USB to Serial\n",
        "hidraw3": "HID_ID=garbage\n",
        "hidraw4": "HID_NAME=no id at all\n",
    }
    for name, uevent in entries.items():
        device = root / "class" / "hidraw" / name / "device"
        device.mkdir(parents=True)
        (device / "uevent").write_text(uevent)
    (root / "class" / "hidraw" / "hidraw2").mkdir()  # no device link: unreadable
    (root / "class" / "hidraw" / "hidraw").mkdir()


def _inverter(path: str, serial: str | None, product: str | None) -> HidDeviceInfo:
    return HidDeviceInfo(
        path=path, vendor_id=0x0665, product_id=0x5161, serial_number=serial, product=product
    )


INVERTERS = [
    _inverter("/dev/hidraw0", None, "Cypress USB to Serial"),
    _inverter("/dev/hidraw9", "92932004102443", None),
    _inverter("/dev/hidraw10", None, "Cypress USB to Serial"),
]


def test_list_hid_devices_reads_sysfs(tmp_path: Path) -> None:
    _fake_sysfs(tmp_path)
    assert list_hid_devices(sysfs_root=tmp_path) == INVERTERS
    everything = list_hid_devices(None, None, sysfs_root=tmp_path)
    assert [info.path for info in everything] == [
        "/dev/hidraw0",
        "/dev/hidraw1",
        "/dev/hidraw9",
        "/dev/hidraw10",
    ]
    assert everything[1].vendor_id == 0x046D
    assert list_hid_devices(0x0665, 0x0001, sysfs_root=tmp_path) == []


async def test_async_list_hid_devices_reads_sysfs_off_the_loop(tmp_path: Path) -> None:
    _fake_sysfs(tmp_path)
    assert await async_list_hid_devices(sysfs_root=tmp_path) == INVERTERS


def test_list_hid_devices_falls_back_to_hidapi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[int, int]] = []

    def enumerate_devices(vendor_id: int, product_id: int) -> list[dict[str, Any]]:
        asked.append((vendor_id, product_id))
        return [
            {
                "path": b"/dev/hidraw0",
                "vendor_id": 0x0665,
                "product_id": 0x5161,
                "serial_number": "",
                "product_string": "USB to Serial",
            },
            {"path": "DevSrvsID:4294968286", "vendor_id": 0x0665, "product_id": 0x5161},
        ]

    fake_hid = types.ModuleType("hid")
    fake_hid.enumerate = enumerate_devices  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hid", fake_hid)
    assert list_hid_devices(sysfs_root=tmp_path) == [
        _inverter("/dev/hidraw0", None, "USB to Serial"),
        _inverter("DevSrvsID:4294968286", None, None),
    ]
    assert list_hid_devices(None, None, sysfs_root=tmp_path)
    assert asked == [(0x0665, 0x5161), (0, 0)]


def test_list_hid_devices_without_sysfs_or_hidapi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "hid", None)
    assert list_hid_devices(sysfs_root=tmp_path) == []
