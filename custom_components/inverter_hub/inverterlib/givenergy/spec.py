"""The GivEnergy family as the registry describes it."""

from __future__ import annotations

from collections.abc import Iterator

from ..client import InverterClient
from ..family import ClientOptions, FamilySpec, LinkDefaults
from ..model import Point
from ..transport.serial import SerialSettings
from ..transport.url import LinkSpec, open_link
from .client import FAMILY, GivEnergyClient
from .registry import shipped_profiles

# dewet22's response timeout for a dongle on Wi-Fi.
TIMEOUT = 2.0


def build(spec: LinkSpec, options: ClientOptions) -> InverterClient:
    """Return an unconnected client for the dongle (reads the profile files once)."""
    del options
    SPEC.check_link(spec)
    shipped_profiles()
    # No link gap: the wire keeps the dongle's pace itself, without dropping the heartbeats
    # that arrive while it waits (wire.py).
    link = open_link(spec, serial=SerialSettings(9600), gap=0.0, timeout=TIMEOUT)
    return GivEnergyClient(link)


def points() -> Iterator[Point]:
    """Yield every point of every shipped GivEnergy profile."""
    for profile in shipped_profiles().values():
        yield from profile.catalogue()


# What "force charge" and "force export" write (GivTCP's recipes, as registers): the inverter
# runs the whole day in one slot; the session restores the previous values afterwards.
RECIPES: dict[str, dict[str, object]] = {
    "charge": {"charge_target_soc": 100, "charge_slot_1": "00:00-23:59", "ac_charge": True},
    "export": {"discharge_slot_1": "00:00-23:59", "battery_power_mode": "timed_export"},
}

SPEC = FamilySpec(
    id=FAMILY,
    title="GivEnergy inverters and batteries",
    links=(LinkDefaults(kind="tcp", port=8899),),
    build=build,
    points=points,
    recipes=RECIPES,
    searchable=True,
)
