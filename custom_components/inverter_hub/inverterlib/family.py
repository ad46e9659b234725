"""What a family tells the rest of the house: its links, its options, its client, its points."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .client import InverterClient
from .errors import UnsupportedError
from .model import Point
from .transport.url import LinkKind, LinkSpec

NETWORK_KINDS: tuple[LinkKind, ...] = ("tcp", "udp", "rtu-over-tcp")


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkDefaults:
    """A kind of link a family runs over, with what the family presets for it."""

    kind: LinkKind
    port: int | None = None
    baudrate: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class KnownDevice:
    """A device expected on a link: its bus address, and its profile and serial if known."""

    address: int
    profile: str | None = None
    serial: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class FamilyOption:
    """A switch of a family's client a user may turn on (an option of the entry)."""

    key: str
    default: bool = False
    # Shown in the options only while expert mode is on.
    expert: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class ClientOptions:
    """What a user may set about a link beyond its address."""

    baudrate: int | None = None
    devices: Sequence[KnownDevice] = ()
    profile_dirs: Sequence[Path] = ()
    # The values of the family's own options (FamilySpec.options), by key.
    switches: Mapping[str, bool] = field(default_factory=dict)
    # Expert mode: expert settings are exposed, so their facts are read at setup too.
    expert: bool = False

    def switch(self, option: FamilyOption) -> bool:
        """Return the value of a family option, or its default."""
        return self.switches.get(option.key, option.default)


@dataclass(frozen=True, kw_only=True, slots=True)
class FamilySpec:
    """One family of devices, as the config flow, the CLI and the services see it."""

    id: str
    title: str
    links: tuple[LinkDefaults, ...]
    build: Callable[[LinkSpec, ClientOptions], InverterClient]
    points: Callable[[], Iterable[Point]]
    # The bus addresses offered for a scan; None where the family finds its devices itself.
    scan_range: tuple[int, int] | None = None
    # Where a rescan for devices that joined later looks when the entry has no scan range.
    rescan_addresses: tuple[int, ...] = ()
    options: tuple[FamilyOption, ...] = ()
    # Whether the config flow offers to search the local network on the family's TCP port.
    searchable: bool = False
    # Named sets of settings a user may apply for a while (force charge), restored afterwards.
    recipes: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    usb_ids: tuple[tuple[int, int], ...] = ()
    baudrates: tuple[int, ...] = (2400, 4800, 9600, 19200, 38400, 57600, 115200)

    @property
    def link_kinds(self) -> tuple[LinkKind, ...]:
        """Return the kinds of link this family runs over."""
        return tuple(defaults.kind for defaults in self.links)

    @property
    def rescans(self) -> bool:
        """Return whether devices that join the link later can be found."""
        return self.scan_range is not None or bool(self.rescan_addresses)

    @property
    def network_kinds(self) -> tuple[LinkKind, ...]:
        """Return the network kinds of link, in the family's order of preference."""
        return tuple(kind for kind in self.link_kinds if kind in NETWORK_KINDS)

    def defaults(self, kind: LinkKind) -> LinkDefaults:
        """Return the presets for a kind of link (empty for a kind the family lacks)."""
        return next((d for d in self.links if d.kind == kind), LinkDefaults(kind=kind))

    def check_link(self, spec: LinkSpec) -> None:
        """Raise UnsupportedError unless the family runs over this kind of link."""
        if spec.kind not in self.link_kinds:
            raise UnsupportedError(f"{self.title} does not run over {spec.kind}")
