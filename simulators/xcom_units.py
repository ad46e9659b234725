"""Simulated Studer units: one installation's physics, and each unit's infos and parameters.

The object tables (numbers, formats, levels, limits) come from the library's data modules,
which are Studer's published appendix; values, encodings and refusals are the simulator's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
import math
import time
from typing import ClassVar

from inverterlib.xcom.kinds import BSP, VARIOSTRING, VARIOTRACK, XTENDER, UnitKind
from inverterlib.xcom.objects import Datapoint

from .xcom_frames import (
    ERRORS,
    LEVEL_QSP,
    MAX_QSP,
    MIN_QSP,
    UNSAVED_VALUE_QSP,
    VALUE_QSP,
    pack_value,
    unpack_value,
)

# Parameters are kept as 16-bit fixed point inside the units: a float reads back rounded.
FIXED_POINT = 256
NO_SENSOR = 32767.0
INVERTER_EFFICIENCY = 0.93
CHARGER_EFFICIENCY = 0.97
BATTERY_RESISTANCE = 0.01


@dataclass
class Installation:
    """What every unit shares: one 48 V battery, the loads, the sun and the grid."""

    clock: Callable[[], float] = time.monotonic
    started: float = field(default_factory=time.monotonic)
    xtenders: int = 3
    load_watts: float = 2400.0
    sun_watts: float = 1800.0

    @property
    def elapsed(self) -> float:
        """Return the seconds since the installation started."""
        return self.clock() - self.started

    def soc(self) -> float:
        """Return the battery's state of charge (%), drifting slowly."""
        return 65.0 + 5.0 * math.sin(self.elapsed / 300.0)

    def open_circuit_voltage(self) -> float:
        """Return the battery's resting voltage for its state of charge."""
        return 50.0 + 0.04 * (self.soc() - 60.0)

    def load(self) -> float:
        """Return the AC load of the whole system (W)."""
        return self.load_watts + 300.0 * math.sin(self.elapsed / 20.0)

    def sun(self) -> float:
        """Return the PV power into the solar chargers (W)."""
        return max(0.0, self.sun_watts + 400.0 * math.sin(self.elapsed / 45.0))

    def share(self, index: int) -> float:
        """Return the part of the load Xtender `index` carries (they differ a little)."""
        weights = [1.0 + 0.05 * (i - 1) for i in range(1, self.xtenders + 1)]
        return weights[index - 1] / sum(weights) if index <= self.xtenders else 0.0

    def xtender_current(self, index: int) -> float:
        """Return the battery current into Xtender `index` (negative while it inverts)."""
        power = self.load() * self.share(index)
        return -power / INVERTER_EFFICIENCY / self.open_circuit_voltage()

    def charger_current(self, share: float) -> float:
        """Return the battery current a solar charger with this part of the sun pushes in."""
        return self.sun() * share * CHARGER_EFFICIENCY / self.open_circuit_voltage()

    def net_current(self) -> float:
        """Return the current into the battery: chargers minus inverters."""
        inverters = sum(self.xtender_current(i) for i in range(1, self.xtenders + 1))
        return inverters + self.charger_current(1.0)

    def battery_voltage(self) -> float:
        """Return the battery voltage under the net current."""
        return self.open_circuit_voltage() + BATTERY_RESISTANCE * self.net_current()


@dataclass
class Parameter:
    """One parameter of a unit: its table entry and its flash and RAM copies."""

    datapoint: Datapoint
    flash: float
    ram: float


def _quantised(datapoint: Datapoint, value: float) -> float:
    if datapoint.format.value == "float":
        return round(value * FIXED_POINT) / FIXED_POINT
    return value


class SimUnit:
    """One Studer unit behind the simulated Xcom."""

    KIND: ClassVar[UnitKind]
    # The SCOM watchdog's parameters (enable, delay in s), from Studer's appendix.
    WATCHDOG: ClassVar[tuple[int, int] | None] = None
    # This model's own ranges where they are narrower than the appendix's (every model's).
    LIMITS: ClassVar[dict[int, tuple[float, float]]] = {}

    def __init__(
        self,
        address: int,
        installation: Installation,
        *,
        ram: bool = True,
        software: tuple[int, int, int] = (1, 6, 30),
    ) -> None:
        self.kind = self.KIND
        self.address = address
        self.index = address - self.kind.addresses.start + 1
        self.installation = installation
        self.online = True
        self.ram = ram
        # Whether the unit answers the min and max properties (older firmware may not).
        self.ranges = True
        self.software = software
        self.fid = 0x1A2B0000 + address * 0x10 + self.index
        self.overrides: dict[int, float] = {}
        self.signals: list[int] = []
        self.flash_writes = 0
        self.ram_writes = 0
        # When a frame last reached the unit, and how often its watchdog fired.
        self.heard = installation.clock()
        self.watchdog_fallbacks = 0
        self._infos = {datapoint.number: datapoint for datapoint in self.kind.infos}
        self.parameters = {
            datapoint.number: Parameter(
                datapoint=datapoint,
                flash=_quantised(datapoint, datapoint.default or 0.0),
                ram=_quantised(datapoint, datapoint.default or 0.0),
            )
            for datapoint in self.kind.parameters
        }

    def limits(self, datapoint: Datapoint) -> tuple[float | None, float | None]:
        """Return the range the unit accepts for a parameter (its model's, else the appendix's)."""
        return self.LIMITS.get(datapoint.number, (datapoint.minimum, datapoint.maximum))

    def hear(self, now: float) -> None:
        """Take a frame addressed to the unit: its watchdog starts counting again."""
        self.heard = now

    def watch(self, now: float) -> None:
        """Fall back to the flash values when the watchdog is on and no frame came in time."""
        if self.WATCHDOG is None:
            return
        enable, delay = (self.parameters[number].ram for number in self.WATCHDOG)
        if not enable or now - self.heard <= delay:
            return
        # RAM takes the saved values again, the watchdog switch among them.
        for parameter in self.parameters.values():
            parameter.ram = parameter.flash
        self.watchdog_fallbacks += 1
        self.heard = now

    def info(self, number: int) -> tuple[Datapoint, float] | None:
        """Return an info's table entry and value, or None when the unit has no such info."""
        datapoint = self._infos.get(number)
        if datapoint is None:
            return None
        if number in self.overrides:
            return datapoint, self.overrides[number]
        major, minor, patch = self.software
        identity: dict[int, float] = {}
        if self.kind.software is not None:
            msb, lsb = self.kind.software
            identity |= {msb: float(major << 8), lsb: float((minor << 8) | patch)}
        if self.kind.fid is not None:
            msb, lsb = self.kind.fid
            identity |= {msb: float(self.fid >> 16), lsb: float(self.fid & 0xFFFF)}
        if number in identity:
            return datapoint, identity[number]
        measure = self.measures().get(number)
        return datapoint, 0.0 if measure is None else measure()

    def measures(self) -> dict[int, Callable[[], float]]:
        """Return the infos this unit simulates, each as a function of the present."""
        raise NotImplementedError


class Xtender(SimUnit):
    """An inverter-charger carrying its share of the load from the battery."""

    KIND = XTENDER
    WATCHDOG = (1628, 1629)
    # An XTH 8000-48 charges with at most 120 A, where the appendix allows 200 A for every
    # model; this simulated one also feeds the grid with at most 40 A (appendix: 50 A).
    LIMITS: ClassVar[dict[int, tuple[float, float]]] = {1138: (0.0, 120.0), 1523: (0.0, 40.0)}
    nominal_voltage = 230.0
    id_type = 1.0
    # Info 3089; the client only compares the codes of units, so any code serves.
    phase = 1.0

    def power(self) -> float:
        """Return the AC output power of this unit (W)."""
        return self.installation.load() * self.installation.share(self.index)

    def output_voltage(self) -> float:
        """Return the AC output voltage (each unit a little apart)."""
        return self.nominal_voltage + 0.3 * self.index

    def measures(self) -> dict[int, Callable[[], float]]:
        """Return the Xtender's simulated infos."""
        site, index = self.installation, self.index
        return {
            3000: site.battery_voltage,
            3001: (lambda: 24.5) if index == 1 else (lambda: NO_SENSOR),
            3005: partial(site.xtender_current, index),
            3007: site.soc,
            3010: partial(float, 4),
            3011: partial(float, 231),
            3021: self.output_voltage,
            3022: lambda: self.power() / self.output_voltage(),
            3028: partial(float, 1),
            3049: partial(float, 1),
            3078: lambda: 3.2 + 0.01 * site.elapsed * index,
            3079: partial(float, 1.1 * index),
            3083: lambda: 5.0 + 0.01 * site.elapsed * index,
            3084: partial(float, 50),
            3085: partial(float, 50 + 0.01 * index),
            3089: lambda: self.phase,
            3104: partial(float, 34 + index),
            3124: lambda: self.id_type,
            3126: lambda: self.nominal_voltage,
            3136: lambda: self.power() / 1000.0,
            3139: lambda: self.power() / 0.95 / 1000.0,
        }


class VarioTrack(SimUnit):
    """A solar charge controller pushing the sun into the battery."""

    KIND = VARIOTRACK
    WATCHDOG = (10342, 10343)

    def pv_voltage(self) -> float:
        """Return the PV generator's voltage."""
        return 118.0 + 2.0 * self.index

    def measures(self) -> dict[int, Callable[[], float]]:
        """Return the VarioTrack's simulated infos."""
        site = self.installation
        return {
            11000: site.battery_voltage,
            11001: partial(site.charger_current, 1.0),
            11002: self.pv_voltage,
            11003: lambda: site.sun() / self.pv_voltage(),
            11004: lambda: site.sun() / 1000.0,
            11005: partial(float, 23),
            11007: lambda: 4.0 + 0.01 * site.elapsed,
            11009: partial(float, 12.345),
            11016: partial(float, 8),
            11069: partial(float, 1),
        }


class VarioString(SimUnit):
    """A two-string solar charge controller (not in the default installation)."""

    KIND = VARIOSTRING
    WATCHDOG = (14218, 14219)

    def measures(self) -> dict[int, Callable[[], float]]:
        """Return the VarioString's simulated infos (idle: the VarioTrack has the sun)."""
        return {15000: self.installation.battery_voltage, 15074: partial(float, 12801)}


class Bsp(SimUnit):
    """The battery status processor measuring the net battery current."""

    KIND = BSP

    def measures(self) -> dict[int, Callable[[], float]]:
        """Return the BSP's simulated infos."""
        site = self.installation
        return {
            7000: site.battery_voltage,
            7001: site.net_current,
            7002: site.soc,
            7003: lambda: site.battery_voltage() * site.net_current(),
            7029: partial(float, 22.5),
            7034: partial(float, 10241),
        }


# Parameters ---------------------------------------------------------------------------------


def read_parameter(unit: SimUnit, number: int, property_id: int) -> tuple[bytes | None, int | None]:
    """Return (value bytes, None) or (None, error code) for a parameter read."""
    parameter = unit.parameters.get(number)
    if parameter is None:
        return None, ERRORS["OBJECT_ID_NOT_FOUND"]
    datapoint = parameter.datapoint
    fmt = "int32" if datapoint.signal else datapoint.format.value
    if property_id == VALUE_QSP:
        return pack_value(fmt, 0 if datapoint.signal else parameter.flash), None
    if property_id == UNSAVED_VALUE_QSP and unit.ram:
        return pack_value(fmt, 0 if datapoint.signal else parameter.ram), None
    low, high = unit.limits(datapoint)
    if property_id in (MIN_QSP, MAX_QSP) and not unit.ranges:
        return None, ERRORS["PROPERTY_NOT_SUPPORTED"]
    if property_id == MIN_QSP:
        return pack_value(fmt, low or 0.0), None
    if property_id == MAX_QSP:
        return pack_value(fmt, high or 0.0), None
    if property_id == LEVEL_QSP:
        return int(datapoint.level).to_bytes(2, "little"), None
    return None, ERRORS["PROPERTY_NOT_SUPPORTED"]


def check_value(
    unit: SimUnit, datapoint: Datapoint, data: bytes
) -> tuple[float | None, int | None]:
    """Return (value, None) for an acceptable written value, else (None, error code)."""
    fmt = "int32" if datapoint.signal else datapoint.format.value
    value = unpack_value(fmt, data)
    if value is None:
        return None, ERRORS["INVALID_DATA_LENGTH"]
    if datapoint.signal:
        return (value, None) if value == 1 else (None, ERRORS["INVALID_DATA"])
    if datapoint.options and not datapoint.bitfield:
        codes = {code for code, _ in datapoint.options}
        return (value, None) if int(value) in codes else (None, ERRORS["INVALID_DATA"])
    low, high = unit.limits(datapoint)
    if low is not None and value < low - 1e-6:
        return None, ERRORS["DATA_TOO_SMALL"]
    if high is not None and value > high + 1e-6:
        return None, ERRORS["DATA_TOO_BIG"]
    return value, None


def write_parameter(unit: SimUnit, number: int, property_id: int, data: bytes) -> int | None:
    """Apply a parameter write; return None when done, else the error code."""
    parameter = unit.parameters.get(number)
    if parameter is None:
        return ERRORS["OBJECT_ID_NOT_FOUND"]
    if property_id in (MIN_QSP, MAX_QSP, LEVEL_QSP):
        return ERRORS["PROPERTY_IS_READ_ONLY"]
    if property_id not in (VALUE_QSP, UNSAVED_VALUE_QSP) or (
        property_id == UNSAVED_VALUE_QSP and not unit.ram
    ):
        return ERRORS["PROPERTY_NOT_SUPPORTED"]
    value, error = check_value(unit, parameter.datapoint, data)
    if value is None:
        return error
    if parameter.datapoint.signal:
        unit.signals.append(number)
        return None
    stored = _quantised(parameter.datapoint, value)
    parameter.ram = stored
    if property_id == VALUE_QSP:
        parameter.flash = stored
        unit.flash_writes += 1
    else:
        unit.ram_writes += 1
    return None


UNIT_TYPES: dict[str, type[SimUnit]] = {
    XTENDER.id: Xtender,
    VARIOTRACK.id: VarioTrack,
    VARIOSTRING.id: VarioString,
    BSP.id: Bsp,
}
