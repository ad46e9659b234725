"""Tests for links written as text."""

from __future__ import annotations

from hypothesis import given, strategies as st
from inverterlib.transport import (
    HidLink,
    LinkSpec,
    SerialLink,
    SerialSettings,
    TcpLink,
    UdpLink,
    format_link,
    open_link,
    parse_link,
)
import pytest

SETTINGS = SerialSettings(9600, parity="E")


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("/dev/ttyUSB0", LinkSpec(kind="serial", target="/dev/ttyUSB0")),
        (
            "  /dev/serial/by-id/usb-FTDI_FT232R-if00-port0 ",
            LinkSpec(kind="serial", target="/dev/serial/by-id/usb-FTDI_FT232R-if00-port0"),
        ),
        ("serial:///dev/ttyS1", LinkSpec(kind="serial", target="/dev/ttyS1")),
        ("SERIAL:///dev/ttyS1", LinkSpec(kind="serial", target="/dev/ttyS1")),
        ("COM3", LinkSpec(kind="serial", target="COM3")),
        ("serial://COM12", LinkSpec(kind="serial", target="COM12")),
        ("hid:/dev/hidraw0", LinkSpec(kind="hid", target="/dev/hidraw0")),
        ("HID:/dev/hidraw3", LinkSpec(kind="hid", target="/dev/hidraw3")),
        ("hid:///dev/hidraw1", LinkSpec(kind="hid", target="/dev/hidraw1")),
        ("tcp://192.168.1.50:502", LinkSpec(kind="tcp", target="192.168.1.50", port=502)),
        ("tcp://givenergy.local:8899", LinkSpec(kind="tcp", target="givenergy.local", port=8899)),
        ("udp://10.0.0.7:502", LinkSpec(kind="udp", target="10.0.0.7", port=502)),
        (
            "rtu-over-tcp://gateway:4196",
            LinkSpec(kind="rtu-over-tcp", target="gateway", port=4196),
        ),
        ("tcp://[::1]:502", LinkSpec(kind="tcp", target="::1", port=502)),
        ("udp://[fe80::1%eth0]:1", LinkSpec(kind="udp", target="fe80::1%eth0", port=1)),
        ("tcp://host:65535", LinkSpec(kind="tcp", target="host", port=65535)),
    ],
)
def test_parse_link(text: str, spec: LinkSpec) -> None:
    assert parse_link(text) == spec


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ttyUSB0",
        "gateway:502",
        "http://host:80",
        "tcp://:502",
        "tcp://host:502/path",
        "tcp://user@host:502",
        "tcp://::1:502",
        "tcp://host:123456",
        "hid:hidraw0",
        "hid://COM3",
        "serial://ttyUSB0",
    ],
)
def test_parse_link_rejects_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"cannot read link .*tcp://HOST:PORT") as raised:
        parse_link(text)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tcp://host:0", "port 0 of 'tcp://host:0' is not between 1 and 65535"),
        ("udp://host:70000", "port 70000 of 'udp://host:70000' is not between 1 and 65535"),
        ("tcp://[not:v6:at:all]:502", "'not:v6:at:all' in 'tcp://\\[not:v6:at:all\\]:502'"),
    ],
)
def test_parse_link_names_the_bad_part(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_link(text)


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (LinkSpec(kind="serial", target="/dev/ttyUSB0"), "/dev/ttyUSB0"),
        (LinkSpec(kind="hid", target="/dev/hidraw0"), "hid:/dev/hidraw0"),
        (LinkSpec(kind="tcp", target="10.0.0.2", port=8899), "tcp://10.0.0.2:8899"),
        (LinkSpec(kind="udp", target="::1", port=502), "udp://[::1]:502"),
        (LinkSpec(kind="rtu-over-tcp", target="gw", port=23), "rtu-over-tcp://gw:23"),
    ],
)
def test_format_link(spec: LinkSpec, text: str) -> None:
    assert format_link(spec) == text
    assert parse_link(text) == spec


def test_a_network_link_may_leave_out_its_port() -> None:
    assert parse_link("tcp://host") == LinkSpec(kind="tcp", target="host")
    assert parse_link("udp://[::1]") == LinkSpec(kind="udp", target="::1")


def test_network_spec_without_a_port_is_refused() -> None:
    spec = LinkSpec(kind="tcp", target="host")
    with pytest.raises(ValueError, match="a tcp link needs a port"):
        format_link(spec)
    with pytest.raises(ValueError, match="a tcp link needs a port"):
        open_link(spec, serial=SETTINGS, gap=0.0, timeout=1.0)


hosts = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True),
    st.ip_addresses().map(str),
)
network_specs = st.builds(
    LinkSpec,
    kind=st.sampled_from(["tcp", "udp", "rtu-over-tcp"]),
    target=hosts,
    port=st.integers(1, 65535),
)
local_specs = st.builds(
    LinkSpec,
    kind=st.sampled_from(["serial", "hid"]),
    target=st.from_regex(r"(/[A-Za-z0-9_.-]{1,12}){1,4}", fullmatch=True),
)


@given(st.one_of(network_specs, local_specs))
def test_format_then_parse_round_trips(spec: LinkSpec) -> None:
    assert parse_link(format_link(spec)) == spec


async def test_open_link_builds_the_right_link() -> None:
    serial = open_link(parse_link("/dev/ttyUSB0"), serial=SETTINGS, gap=0.05, timeout=1.5)
    assert isinstance(serial, SerialLink)
    assert (serial.port, serial.settings, serial.gap, serial.timeout) == (
        "/dev/ttyUSB0",
        SETTINGS,
        0.05,
        1.5,
    )

    hid = open_link(parse_link("hid:/dev/hidraw2"), serial=SETTINGS, gap=0.0, timeout=5.0)
    assert isinstance(hid, HidLink)
    assert (hid.path, hid.timeout) == ("/dev/hidraw2", 5.0)

    for text in ("tcp://10.0.0.2:502", "rtu-over-tcp://10.0.0.2:502"):
        tcp = open_link(parse_link(text), serial=SETTINGS, gap=0.1, timeout=3.0)
        assert isinstance(tcp, TcpLink)
        assert (tcp.host, tcp.port, tcp.gap, tcp.timeout) == ("10.0.0.2", 502, 0.1, 3.0)

    udp = open_link(parse_link("udp://[::1]:502"), serial=SETTINGS, gap=0.0, timeout=2.0)
    assert isinstance(udp, UdpLink)
    assert (udp.host, udp.port) == ("::1", 502)
    assert not any(link.is_open for link in (serial, hid, tcp, udp))
