"""USB-HID links to PI30 inverters through a Linux hidraw node."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
import functools
import os
from pathlib import Path

from ..errors import LinkError
from .base import Link

PI30_VENDOR_ID = 0x0665
PI30_PRODUCT_ID = 0x5161

REPORT_SIZE = 8
_READ_SIZE = 64
_CR = b"\r"


@dataclass(frozen=True, kw_only=True)
class HidDeviceInfo:
    """A HID device node found on this machine."""

    path: str
    vendor_id: int
    product_id: int
    serial_number: str | None
    product: str | None


def output_reports(frame: bytes) -> list[bytes]:
    """Cut a frame into 8-byte chunks, zero-padded, each behind report id 0x00."""
    reports = []
    for start in range(0, len(frame), REPORT_SIZE):
        chunk = frame[start : start + REPORT_SIZE].ljust(REPORT_SIZE, b"\x00")
        # hidraw reads the first byte of every write as the report number and strips it
        # when it is 0. Written raw, a chunk starting with 0x00 (a CRC byte, say) would lose
        # that byte, so each chunk goes behind an explicit report id 0 instead.
        reports.append(b"\x00" + chunk)
    return reports


def report_payload(report: bytes) -> bytes:
    """Return a reply report up to and including its first CR; zero padding follows it."""
    end = report.find(_CR)
    return report if end < 0 else report[: end + 1]


class HidLink(Link):
    """A link over a hidraw node: 8-byte output reports out, 8-byte input reports in."""

    def __init__(
        self,
        path: str,
        *,
        gap: float = 0.0,
        timeout: float = 5.0,
        opener: Callable[[], int] | None = None,
    ) -> None:
        """Describe the node; `opener`, if given, returns an already open descriptor."""
        super().__init__(gap=gap, timeout=timeout)
        self.path = path
        self._opener = opener
        self._fd: int | None = None
        self._pending: deque[bytes] = deque()

    @property
    def description(self) -> str:
        """Return the node as a hid: address."""
        return f"hid:{self.path}"

    @property
    def is_open(self) -> bool:
        """Return whether the node is open."""
        return self._fd is not None

    async def _open(self) -> None:
        if self._opener is not None:
            fd = self._opener()
        else:
            fd = await asyncio.get_running_loop().run_in_executor(
                None, os.open, self.path, os.O_RDWR | os.O_NONBLOCK
            )
        try:
            os.set_blocking(fd, False)
            asyncio.get_running_loop().add_reader(fd, self._read_report)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    async def _close(self) -> None:
        self._release(LinkError(f"{self.description} closed"))

    def _release(self, error: LinkError) -> None:
        """Stop watching the descriptor, close it and wake whoever waits on it."""
        fd, self._fd = self._fd, None
        assert fd is not None
        loop = asyncio.get_running_loop()
        loop.remove_reader(fd)
        loop.remove_writer(fd)
        os.close(fd)
        self._pending.clear()
        self.inbox.fail(error)

    def _read_report(self) -> None:
        assert self._fd is not None
        try:
            report = os.read(self._fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as err:
            self._release(LinkError(f"{self.description} failed: {err}"))
            return
        if not report:
            self._release(LinkError(f"{self.description} was disconnected"))
            return
        self.inbox.feed(report_payload(report))

    def _send(self, data: bytes) -> None:
        idle = not self._pending
        self._pending.extend(output_reports(data))
        if not idle:
            return
        try:
            done = self._write_pending()
        except OSError:
            self._pending.clear()
            raise
        if not done:
            assert self._fd is not None
            asyncio.get_running_loop().add_writer(self._fd, self._on_writable)

    def _write_pending(self) -> bool:
        """Write queued reports, one per write; return False once the node would block."""
        assert self._fd is not None
        while self._pending:
            try:
                os.write(self._fd, self._pending[0])
            except BlockingIOError:
                return False
            self._pending.popleft()
        return True

    def _on_writable(self) -> None:
        try:
            done = self._write_pending()
        except OSError as err:
            self._release(LinkError(f"write to {self.description} failed: {err}"))
            return
        if done:
            assert self._fd is not None
            asyncio.get_running_loop().remove_writer(self._fd)


def list_hid_devices(
    vendor_id: int | None = PI30_VENDOR_ID,
    product_id: int | None = PI30_PRODUCT_ID,
    *,
    sysfs_root: str | os.PathLike[str] = "/sys",
) -> list[HidDeviceInfo]:
    """Return the hidraw nodes of the given USB device (None matches any id); blocking."""
    class_dir = Path(sysfs_root) / "class" / "hidraw"
    if not class_dir.is_dir():
        return _list_with_hidapi(vendor_id, product_id)
    found = []
    for node in sorted(class_dir.iterdir(), key=lambda node: _natural_key(node.name)):
        try:
            uevent = (node / "device" / "uevent").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        info = _info_from_uevent(f"/dev/{node.name}", uevent)
        if info is not None and _matches(info, vendor_id, product_id):
            found.append(info)
    return found


async def async_list_hid_devices(
    vendor_id: int | None = PI30_VENDOR_ID,
    product_id: int | None = PI30_PRODUCT_ID,
    *,
    sysfs_root: str | os.PathLike[str] = "/sys",
) -> list[HidDeviceInfo]:
    """Return the hidraw nodes of the given USB device, reading sysfs off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(
        None,
        functools.partial(list_hid_devices, vendor_id, product_id, sysfs_root=sysfs_root),
    )


def _natural_key(name: str) -> tuple[str, int]:
    """Sort hidraw2 before hidraw10."""
    stem = name.rstrip("0123456789")
    number = name[len(stem) :]
    return stem, int(number) if number else -1


def _info_from_uevent(path: str, uevent: str) -> HidDeviceInfo | None:
    """Parse `HID_ID=0003:00000665:00005161`, `HID_NAME=` and `HID_UNIQ=` of a uevent file."""
    fields = dict(line.partition("=")[::2] for line in uevent.splitlines() if "=" in line)
    try:
        _bus, vendor, product = (int(part, 16) for part in fields["HID_ID"].split(":"))
    except (KeyError, ValueError):
        return None
    return HidDeviceInfo(
        path=path,
        vendor_id=vendor,
        product_id=product,
        serial_number=fields.get("HID_UNIQ") or None,
        product=fields.get("HID_NAME") or None,
    )


def _matches(info: HidDeviceInfo, vendor_id: int | None, product_id: int | None) -> bool:
    return (vendor_id is None or info.vendor_id == vendor_id) and (
        product_id is None or info.product_id == product_id
    )


def _list_with_hidapi(vendor_id: int | None, product_id: int | None) -> list[HidDeviceInfo]:
    """Ask hidapi, where it is installed, on systems without /sys/class/hidraw."""
    try:
        import hid  # noqa: PLC0415 - optional, feature-detected
    except ImportError:
        return []
    found = []
    for entry in hid.enumerate(vendor_id or 0, product_id or 0):
        raw_path = entry.get("path", b"")
        found.append(
            HidDeviceInfo(
                path=raw_path.decode() if isinstance(raw_path, bytes) else str(raw_path),
                vendor_id=int(entry["vendor_id"]),
                product_id=int(entry["product_id"]),
                serial_number=entry.get("serial_number") or None,
                product=entry.get("product_string") or None,
            )
        )
    return found
