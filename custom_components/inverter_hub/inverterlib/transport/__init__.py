"""Links to ports: serial, TCP, UDP and USB-HID."""

from .base import Inbox, Link
from .hid import (
    PI30_PRODUCT_ID,
    PI30_VENDOR_ID,
    HidDeviceInfo,
    HidLink,
    async_list_hid_devices,
    list_hid_devices,
)
from .serial import SerialLink, SerialPortInfo, SerialSettings, list_serial_ports
from .tcp import TcpLink
from .udp import UdpLink
from .url import LinkKind, LinkSpec, format_link, open_link, parse_link

__all__ = [
    "PI30_PRODUCT_ID",
    "PI30_VENDOR_ID",
    "HidDeviceInfo",
    "HidLink",
    "Inbox",
    "Link",
    "LinkKind",
    "LinkSpec",
    "SerialLink",
    "SerialPortInfo",
    "SerialSettings",
    "TcpLink",
    "UdpLink",
    "async_list_hid_devices",
    "format_link",
    "list_hid_devices",
    "list_serial_ports",
    "open_link",
    "parse_link",
]
