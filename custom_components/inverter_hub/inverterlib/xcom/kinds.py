"""The kinds of unit behind an Xcom: their SCOM addresses, identity infos and object tables."""

from __future__ import annotations

from dataclasses import dataclass

from .data import bms, bsp, variostring, variotrack, xcom, xtender
from .objects import Datapoint

# The Xcom itself (gateway alias): messages, multi-info and the RCC/Xcom parameters 5xxx.
XCOM_ADDRESS = 501


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitKind:
    """One kind of Studer unit and where it sits on the SCOM bus."""

    id: str
    title: str
    addresses: range
    # The multicast address that writes to every unit of the kind (None: a single unit).
    group: int | None
    # The info read to find a unit (one cheap read per address).
    probe: int
    model_info: int | None
    software: tuple[int, int] | None
    fid: tuple[int, int] | None
    infos: tuple[Datapoint, ...]
    parameters: tuple[Datapoint, ...]
    # The SCOM watchdog's parameters (enable, delay in s): a unit whose watchdog is on and that
    # hears no SCOM frame for the delay drops what was written to its RAM.
    watchdog: tuple[int, int] | None = None

    def index(self, address: int) -> int:
        """Return a unit's 1-based index within its kind (the multi-info device number)."""
        return address - self.addresses.start + 1

    def model(self, type_code: int | None) -> str:
        """Return the model name for the unit's ID type (the kind's title when unknown)."""
        if self.model_info is None or type_code is None:
            return self.title
        info = next(info for info in self.infos if info.number == self.model_info)
        label = dict(info.options).get(type_code)
        return f"{self.title} {label}" if label else self.title


# Facts from Studer's appendix V1.6.42: addresses (section 3.4 of the protocol), the ID infos
# (type, software version msb/lsb, FID msb/lsb) and which info tells a model apart.
XTENDER = UnitKind(
    id="xtender",
    title="Xtender",
    addresses=range(101, 110),
    group=100,
    probe=3000,
    model_info=3124,
    software=(3130, 3131),
    fid=(3156, 3157),
    infos=xtender.INFOS,
    parameters=xtender.PARAMETERS,
    watchdog=(1628, 1629),
)
VARIOTRACK = UnitKind(
    id="variotrack",
    title="VarioTrack",
    addresses=range(301, 316),
    group=300,
    probe=11000,
    model_info=11015,
    software=(11050, 11051),
    fid=(11067, 11068),
    infos=variotrack.INFOS,
    parameters=variotrack.PARAMETERS,
    watchdog=(10342, 10343),
)
VARIOSTRING = UnitKind(
    id="variostring",
    title="VarioString",
    addresses=range(701, 716),
    group=700,
    probe=15000,
    model_info=15074,
    software=(15077, 15078),
    fid=(15102, 15103),
    infos=variostring.INFOS,
    parameters=variostring.PARAMETERS,
    watchdog=(14218, 14219),
)
BSP = UnitKind(
    id="bsp",
    title="BSP",
    addresses=range(601, 602),
    group=None,
    probe=7000,
    model_info=None,
    software=(7037, 7038),
    fid=(7048, 7049),
    infos=bsp.INFOS,
    parameters=bsp.PARAMETERS,
)
# An Xcom-CAN BMS sits at the BSP's address; only it has info 7054 (BMS version).
BMS = UnitKind(
    id="bms",
    title="Xcom-CAN BMS",
    addresses=range(601, 602),
    group=None,
    probe=7054,
    model_info=None,
    software=(7037, 7038),
    fid=(7048, 7049),
    infos=bms.INFOS,
    parameters=bms.PARAMETERS,
)
# The Xcom answers for its own parameters; 5002 (date and time) is a cheap read. Its own SCOM
# watchdog (5095/5096) restarts the Xcom itself, which brings no unit back to its settings.
XCOM = UnitKind(
    id="xcom",
    title="Xcom",
    addresses=range(XCOM_ADDRESS, XCOM_ADDRESS + 1),
    group=None,
    probe=5002,
    model_info=None,
    software=None,
    fid=None,
    infos=xcom.INFOS,
    parameters=xcom.PARAMETERS,
)

UNIT_KINDS = (XTENDER, VARIOTRACK, VARIOSTRING, BSP)
KINDS = {kind.id: kind for kind in (*UNIT_KINDS, BMS, XCOM)}
PARAMETERS_120V = {datapoint.number: datapoint for datapoint in xtender.PARAMETERS_120V}


def software_version(msb: float, lsb: float) -> str:
    """Return the software version of the ID SOFT infos: X.Y.Z (the byte after X is reserved)."""
    high, low = int(msb) & 0xFFFF, int(lsb) & 0xFFFF
    return f"{high >> 8}.{low >> 8}.{low & 0xFF}"


def fid_serial(msb: float, lsb: float) -> str:
    """Return the factory id of the ID FID infos as eight hex digits."""
    return f"{int(msb) & 0xFFFF:04X}{int(lsb) & 0xFFFF:04X}"
