"""Links written as text: `/dev/ttyUSB0`, `hid:/dev/hidraw0`, `tcp://host:502` and kin."""

from __future__ import annotations

from dataclasses import dataclass
import ipaddress
import re
from typing import Literal

from .base import Link
from .hid import HidLink
from .serial import SerialLink, SerialSettings
from .tcp import TcpLink, host_port
from .udp import UdpLink

type LinkKind = Literal["serial", "tcp", "udp", "rtu-over-tcp", "hid"]

_SCHEMES: dict[str, LinkKind] = {
    "serial": "serial",
    "hid": "hid",
    "tcp": "tcp",
    "udp": "udp",
    "rtu-over-tcp": "rtu-over-tcp",
}

ACCEPTED_FORMS = (
    "/dev/ttyUSB0, serial:///dev/ttyUSB0, hid:/dev/hidraw0, "
    "tcp://HOST:PORT, udp://HOST:PORT or rtu-over-tcp://HOST:PORT"
)

# The port may be left out: the family's default port is used then.
_ENDPOINT = re.compile(r"(?:\[(?P<ipv6>[^\]]+)\]|(?P<host>[^\s:/\[\]@?#]+))(?::(?P<port>\d{1,5}))?")
_WINDOWS_PORT = re.compile(r"COM\d+", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class LinkSpec:
    """Where a link goes: a serial or hidraw path, or a network endpoint."""

    kind: LinkKind
    target: str
    port: int | None = None


def parse_link(text: str) -> LinkSpec:
    """Parse a link written as text; raise ValueError naming the accepted forms."""
    text = text.strip()
    scheme, separator, rest = text.partition("://")
    if not separator:
        if text.lower().startswith("hid:"):
            return _local("hid", text[len("hid:") :], text)
        if text.startswith("/") or _WINDOWS_PORT.fullmatch(text):
            return LinkSpec(kind="serial", target=text)
        raise _bad(text)
    kind = _SCHEMES.get(scheme.lower())
    if kind is None:
        raise _bad(text)
    if kind in ("serial", "hid"):
        return _local(kind, rest, text)
    return _network(kind, rest, text)


def format_link(spec: LinkSpec) -> str:
    """Write a link spec as the text `parse_link` reads back."""
    if spec.kind == "serial":
        return spec.target
    if spec.kind == "hid":
        return f"hid:{spec.target}"
    if spec.port is None:
        raise ValueError(f"a {spec.kind} link needs a port")
    return f"{spec.kind}://{host_port(spec.target, spec.port)}"


def open_link(spec: LinkSpec, *, serial: SerialSettings, gap: float, timeout: float) -> Link:
    """Build the link a spec names; it opens on its first exchange."""
    if spec.kind == "serial":
        return SerialLink(spec.target, settings=serial, gap=gap, timeout=timeout)
    if spec.kind == "hid":
        return HidLink(spec.target, gap=gap, timeout=timeout)
    if spec.port is None:
        raise ValueError(f"a {spec.kind} link needs a port")
    if spec.kind == "udp":
        return UdpLink(spec.target, spec.port, gap=gap, timeout=timeout)
    # RTU over TCP is a plain TCP stream; the Modbus family picks the framing from spec.kind.
    return TcpLink(spec.target, spec.port, gap=gap, timeout=timeout)


def _local(kind: LinkKind, path: str, text: str) -> LinkSpec:
    """Return a serial or hid spec for an absolute device path."""
    if not path.startswith("/") and not (kind == "serial" and _WINDOWS_PORT.fullmatch(path)):
        raise _bad(text)
    return LinkSpec(kind=kind, target=path)


def _network(kind: LinkKind, endpoint: str, text: str) -> LinkSpec:
    """Return a network spec for `HOST[:PORT]` or `[IPv6][:PORT]`."""
    match = _ENDPOINT.fullmatch(endpoint)
    if match is None:
        raise _bad(text)
    port = None if match["port"] is None else int(match["port"])
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port {port} of {text!r} is not between 1 and 65535")
    if (host := match["ipv6"]) is not None:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} in {text!r} is not an IPv6 address") from None
    else:
        host = match["host"]
    return LinkSpec(kind=kind, target=host, port=port)


def _bad(text: str) -> ValueError:
    return ValueError(f"cannot read link {text!r}; write it as {ACCEPTED_FORMS}")
