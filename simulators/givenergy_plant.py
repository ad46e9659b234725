"""The registers of a simulated GivEnergy plant: an inverter, its LV packs, perhaps a meter.

Written from protocols.md section 2.6 (the register map dewet22/givenergy-modbus documents),
independently of the library's profiles, so the two check each other. The plant keeps a
physical state (powers, energy counters, state of charge) and builds its input registers
from it on every read: totals are the sums of their parts, energy grows with power as time
advances, and the grid balances PV, battery and load. Holding registers persist writes and
refuse the ones a unit refuses (a read-only register, a value out of range).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

INVERTER = 0x11
# AC and Gen 1 units serve the inverter's registers at 0x31 too (dewet22 #189).
INVERTER_FACADE = 0x31
FIRST_PACK = 0x32
MAX_PACKS = 6
BANK = 60
# A meter on the inverter's meter bus answers IR60-89 (dewet22 `model/meter.py`).
METER = 0x01
METER_BANK = range(60, 90)

# Modbus exception codes the simulated dongle puts in an error frame.
ILLEGAL_ADDRESS = 0x02
ILLEGAL_VALUE = 0x03

HOLDING = 0x03
INPUT = 0x04


class Kind(StrEnum):
    """Which unit the plant's inverter is."""

    GEN1 = "gen1"
    GEN2 = "gen2"
    GEN3 = "gen3"
    AC = "ac"
    AIO = "aio"


@dataclass(frozen=True, kw_only=True, slots=True)
class Refused:
    """A request the device refuses, with the exception code of its error frame."""

    code: int


type Answer = list[int] | Refused | None
type Rule = Callable[[int], bool]


class Unit(Protocol):
    """What answers the dongle's requests: a simulated plant or a replayed capture."""

    @property
    def serial(self) -> str:
        """Return the inverter serial the replies carry."""

    def read(self, device: int, function: int, base: int, count: int) -> Answer:
        """Answer a register read: values, a refusal, or None for silence."""

    def write(self, device: int, register: int, value: int) -> Answer:
        """Set one holding register: the value now held, a refusal, or None for silence."""


# Device type code (HR0) and ARM/DSP firmware (HR21/HR19) per kind. The ARM firmware's
# hundreds digit tells hybrid generations apart: 4xx is a Gen 1, 9xx a Gen 2, 3xx a Gen 3
# (dewet22); an All-in-One's code starts with 8 (dewet22's capture shows ARM 612).
_IDENTITY = {
    Kind.GEN1: (0x2001, 449, 449),
    Kind.GEN2: (0x2001, 920, 920),
    Kind.GEN3: (0x2001, 303, 303),
    Kind.AC: (0x3001, 318, 318),
    Kind.AIO: (0x8001, 612, 612),
}
# Units without PV strings of their own, which serve the AC-config bank HR300-359.
AC_KINDS = (Kind.AC, Kind.AIO)
# Units with ten charge and discharge slots in HR240-299 (dewet22 `has_extended_slots`).
TEN_SLOT_KINDS = (Kind.GEN3, Kind.AIO)


def _hhmm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 100 + int(minutes)


def _valid_hhmm(value: int) -> bool:
    return value // 100 < 24 and value % 100 < 60


def _boolean(value: int) -> bool:
    return value in (0, 1)


def _between(low: int, high: int) -> Rule:
    return lambda value: low <= value <= high


# What each writable holding register accepts (dewet22 WRITE_SAFE_REGISTERS, protocols.md).
_WRITABLE: dict[int, Rule] = {
    20: _boolean,
    27: _boolean,
    31: _valid_hhmm,
    32: _valid_hhmm,
    35: _between(0, 99),
    36: _between(1, 12),
    37: _between(1, 31),
    38: _between(0, 23),
    39: _between(0, 59),
    40: _between(0, 59),
    44: _valid_hhmm,
    45: _valid_hhmm,
    50: _between(0, 100),
    56: _valid_hhmm,
    57: _valid_hhmm,
    59: _boolean,
    94: _valid_hhmm,
    95: _valid_hhmm,
    96: _boolean,
    110: _between(4, 100),
    111: _between(0, 50),
    112: _between(0, 50),
    114: _between(4, 100),
    116: _between(4, 100),
    163: _between(100, 100),
}
# The AC-config bank (HR300-359) only AC-coupled and All-in-One units have.
_WRITABLE_AC: dict[int, Rule] = {
    311: _between(0, 2),
    313: _between(1, 100),
    314: _between(1, 100),
    317: _boolean,
    318: _between(0, 3),
    319: _valid_hhmm,
    320: _valid_hhmm,
}
# The ten-slot bank (dewet22 `model/inverter.py`): per slot a start, an end and a target
# state of charge; slots 1 and 2 have only their target here (HR242/245, HR272/275).
_SLOT_TARGETS = (*range(242, 270, 3), *range(272, 300, 3))
_WRITABLE_SLOTS: dict[int, Rule] = {
    **{
        start + offset: _valid_hhmm
        for start in (*range(246, 268, 3), *range(276, 298, 3))
        for offset in (0, 1)
    },
    **{register: _between(4, 100) for register in _SLOT_TARGETS},
}
REBOOT = 163
GRID_VOLTAGE = 241.2


def _u32(value: int) -> list[int]:
    return [(value >> 16) & 0xFFFF, value & 0xFFFF]


def _s16(value: int) -> int:
    return value & 0xFFFF


def _tenths(kwh: float) -> int:
    return round(kwh * 10)


def _ascii(text: str, count: int) -> list[int]:
    data = text.encode("ascii").ljust(2 * count, b"\x00")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, 2 * count, 2)]


@dataclass
class Pack:
    """One LV battery pack: what its BMS reports at 0x32 + n."""

    serial: str
    cells_mv: list[int] = field(default_factory=lambda: [3301 + i % 4 for i in range(16)])
    temperatures: list[float] = field(default_factory=lambda: [21.5, 22.0, 22.4, 21.8])
    mosfet_temperature: float = 24.1
    cycles: int = 187
    full_capacity_ah: float = 157.3
    design_capacity_ah: float = 160.0
    firmware: int = 3005
    discharge_energy: float = 612.3
    charge_energy: float = 655.8

    def registers(self, soc: int, current: float) -> dict[int, int]:
        """Return input registers 60-119 of the pack at a state of charge and current."""
        registers = dict(enumerate(self.cells_mv, start=60))
        for index, temperature in enumerate(self.temperatures):
            registers[76 + index] = _s16(round(temperature * 10))
        cells_sum = sum(self.cells_mv)
        registers[80] = cells_sum
        registers[81] = _s16(round(self.mosfet_temperature * 10))
        registers.update(dict(zip((82, 83), _u32(cells_sum + 40), strict=True)))
        full = round(self.full_capacity_ah * 100)
        registers.update(dict(zip((84, 85), _u32(full), strict=True)))
        registers.update(
            dict(zip((86, 87), _u32(round(self.design_capacity_ah * 100)), strict=True))
        )
        registers.update(dict(zip((88, 89), _u32(full * soc // 100), strict=True)))
        registers[95] = _s16(round(current * 100))
        registers[96] = self.cycles
        registers[97] = len(self.cells_mv)
        registers[98] = self.firmware
        registers[100] = soc
        registers.update(
            dict(zip((101, 102), _u32(round(self.design_capacity_ah * 100)), strict=True))
        )
        registers[103] = _s16(round(max(self.temperatures) * 10))
        registers[104] = _s16(round(min(self.temperatures) * 10))
        registers[105] = _tenths(self.discharge_energy)
        registers[106] = _tenths(self.charge_energy)
        registers.update(dict(enumerate(_ascii(self.serial, 5), start=110)))
        return registers


@dataclass
class Flows:
    """The plant's powers in watts, with GivEnergy's own signs."""

    pv1: float = 1800.0
    pv2: float = 1200.0
    # Positive while the battery discharges.
    battery: float = -1500.0
    load: float = 900.0
    eps: float = 0.0

    @property
    def grid_export(self) -> float:
        """Return the power leaving for the grid (negative while importing): the balance."""
        return self.pv1 + self.pv2 + self.battery - self.load


@dataclass
class Counters:
    """Energy counters in kWh, each grown by the power flowing through it."""

    pv1_today: float = 5.6
    pv2_today: float = 3.9
    pv_total: float = 8123.4
    pv_generation_total: float = 7950.2
    export_today: float = 1.2
    export_total: float = 2345.6
    import_today: float = 4.5
    import_total: float = 3456.7
    ac_charge_today: float = 2.1
    inverter_in_total: float = 987.6
    inverter_out_today: float = 3.4
    inverter_out_total: float = 1765.4
    battery_charge_today: float = 3.3
    battery_discharge_today: float = 2.8
    battery_charge_total: float = 812.3
    battery_discharge_total: float = 760.1
    battery_throughput: float = 1572.4
    work_hours: float = 12345.0


@dataclass
class Meter:
    """A single-phase grid meter: it counts import positive, in tenths of a kWh."""

    import_energy: float = 1234.5
    export_energy: float = 321.0
    import_reactive_energy: float = 12.3
    export_reactive_energy: float = 4.5

    def advance(self, grid_import: float, kwh_per_watt: float) -> None:
        """Grow the counter the grid power flows through."""
        if grid_import >= 0:
            self.import_energy += grid_import * kwh_per_watt
        else:
            self.export_energy -= grid_import * kwh_per_watt

    def registers(self, voltage: float, grid_import: float) -> dict[int, int]:
        """Return input registers 60-89 at a voltage and a grid power (import positive)."""
        reactive = 120.0
        apparent = (grid_import**2 + reactive**2) ** 0.5
        registers = {
            60: round(voltage * 10),
            63: round(apparent / voltage * 100),
            67: round(apparent / voltage * 100),
            68: _s16(round(grid_import)),
            71: _s16(round(grid_import)),
            72: _s16(round(reactive)),
            75: _s16(round(reactive)),
            76: round(apparent * 10),
            79: round(apparent * 10),
            80: _s16(round(grid_import / apparent * 10000)),
            83: _s16(round(grid_import / apparent * 10000)),
            84: 5001,
            85: _tenths(self.import_energy) & 0xFFFF,
            86: _tenths(self.import_reactive_energy) & 0xFFFF,
            87: _tenths(self.export_energy) & 0xFFFF,
            88: _tenths(self.export_reactive_energy) & 0xFFFF,
        }
        return {address: registers.get(address, 0) for address in METER_BANK}


class Plant:
    """An inverter (Gen 1, Gen 2 or AC-coupled) with its battery packs, as registers."""

    def __init__(
        self,
        kind: Kind | str = Kind.GEN2,
        *,
        packs: int = 2,
        meter: bool = False,
        serial: str = "SA2114G047",
        clock: datetime | None = None,
    ) -> None:
        """Build a plant with its inverter at its defaults, `packs` LV packs and a meter."""
        self.kind = Kind(kind)
        self.serial = serial
        self.meter = Meter() if meter else None
        self.flows = Flows()
        self.counters = Counters()
        # One 160 Ah pack at its 51.2 V nominal holds 8.2 kWh.
        self.capacity_kwh = 8.192 * max(1, packs)
        self.stored_kwh = 0.56 * self.capacity_kwh
        self.battery_voltage = 52.31
        self.reboots = 0
        if self.kind in AC_KINDS:
            # No PV of its own: the battery covers the house, the rest comes from the grid.
            self.flows = Flows(pv1=0.0, pv2=0.0, battery=800.0, load=1100.0)
        self.packs = [Pack(serial=f"BG2207G{index:03d}") for index in range(packs)]
        self.holding = self._holding_defaults(clock or datetime(2024, 6, 1, 12, 30, 15))

    # --- state --------------------------------------------------------------------------

    def _holding_defaults(self, clock: datetime) -> dict[int, int]:
        code, arm, dsp = _IDENTITY[self.kind]
        holding = {
            0: code,
            1: 0x0003,
            2: 0x0006,
            3: 0x0201 if self.kind not in AC_KINDS else 0x0001,
            13: 0,
            18: 3005,
            19: dsp,
            20: 1,
            21: arm,
            27: 1,
            31: 0,
            32: 0,
            35: clock.year - 2000,
            36: clock.month,
            37: clock.day,
            38: clock.hour,
            39: clock.minute,
            40: clock.second,
            43: 0x6404,
            44: 0,
            45: 0,
            47: 0,
            50: 100,
            54: 1,
            55: 160,
            56: _hhmm("16:00"),
            57: _hhmm("19:00"),
            59: 0,
            94: _hhmm("00:30"),
            95: _hhmm("04:30"),
            96: 1,
            97: 4400,
            98: 5800,
            110: 4,
            111: 50,
            112: 50,
            113: 0,
            114: 4,
            116: 100,
            163: 0,
            166: 0,
        }
        holding.update(dict(enumerate(_ascii(self.serial, 5), start=13)))
        if self.packs:
            holding.update(dict(enumerate(_ascii(self.packs[0].serial, 5), start=8)))
        if self.kind in TEN_SLOT_KINDS:
            holding.update(dict.fromkeys(range(240, 300), 0))
            holding.update(dict.fromkeys(range(242, 270, 3), 100))
            holding.update(dict.fromkeys(range(272, 300, 3), 4))
        if self.kind in AC_KINDS:
            holding.update({311: 0, 313: 100, 314: 100, 317: 1, 318: 0, 319: 0, 320: 0})
        return holding

    def advance(self, seconds: float) -> None:
        """Let time pass: every counter grows by the energy its power carried."""
        flows, counters = self.flows, self.counters
        kwh = seconds / 3600 / 1000
        counters.pv1_today += flows.pv1 * kwh
        counters.pv2_today += flows.pv2 * kwh
        counters.pv_total += (flows.pv1 + flows.pv2) * kwh
        counters.pv_generation_total += (flows.pv1 + flows.pv2) * kwh
        export = flows.grid_export
        if export >= 0:
            counters.export_today += export * kwh
            counters.export_total += export * kwh
        else:
            counters.import_today -= export * kwh
            counters.import_total -= export * kwh
        if flows.battery >= 0:
            counters.battery_discharge_today += flows.battery * kwh
            counters.battery_discharge_total += flows.battery * kwh
            counters.inverter_out_today += flows.battery * kwh
            counters.inverter_out_total += flows.battery * kwh
        else:
            counters.battery_charge_today -= flows.battery * kwh
            counters.battery_charge_total -= flows.battery * kwh
        counters.battery_throughput += abs(flows.battery) * kwh
        if self.meter is not None:
            self.meter.advance(-export, kwh)
        self.stored_kwh = min(max(self.stored_kwh - flows.battery * kwh, 0.0), self.capacity_kwh)
        counters.work_hours += seconds / 3600

    @property
    def soc(self) -> int:
        """Return the battery's state of charge in percent, from the energy it holds."""
        return round(100 * self.stored_kwh / self.capacity_kwh)

    # --- registers ----------------------------------------------------------------------

    def inverter_inputs(self) -> dict[int, int]:
        """Return the inverter's input registers, built from the physical state."""
        flows, counters = self.flows, self.counters
        voltages = (0.0, 0.0) if self.kind in AC_KINDS else (321.4, 287.9)
        currents = [
            power / voltage if voltage else 0.0
            for power, voltage in zip((flows.pv1, flows.pv2), voltages, strict=True)
        ]
        grid_voltage = GRID_VOLTAGE
        inverter_power = flows.pv1 + flows.pv2 + flows.battery
        registers = {
            0: 1,
            1: round(voltages[0] * 10),
            2: round(voltages[1] * 10),
            3: 3652,
            4: 3648,
            5: round(grid_voltage * 10),
            8: round(currents[0] * 10),
            9: round(currents[1] * 10),
            10: round(abs(inverter_power) / grid_voltage * 10),
            13: 5001,
            14: 5 if flows.battery > 0 else 2,
            16: 10000 + 9876,
            17: _tenths(counters.pv1_today),
            18: round(flows.pv1),
            19: _tenths(counters.pv2_today),
            20: round(flows.pv2),
            24: _s16(round(inverter_power)),
            25: _tenths(counters.export_today),
            26: _tenths(counters.import_today),
            30: _s16(round(flows.grid_export)),
            31: round(flows.eps),
            35: _tenths(counters.ac_charge_today),
            39: 0,
            40: 0,
            41: _s16(312),
            42: round(flows.load),
            43: round(abs(inverter_power) * 1.02),
            47: 0,
            49: 1,
            50: round(self.battery_voltage * 100),
            51: _s16(round(flows.battery / self.battery_voltage * 100)),
            52: _s16(round(flows.battery)),
            53: 2300,
            54: 5000,
            55: _s16(285),
            56: _s16(225),
            57: 0,
            58: round(abs(inverter_power) / grid_voltage * 100),
            59: self.soc,
        }
        registers.update(dict(zip((6, 7), _u32(_tenths(counters.battery_throughput)), strict=True)))
        registers.update(dict(zip((11, 12), _u32(_tenths(counters.pv_total)), strict=True)))
        registers.update(dict(zip((21, 22), _u32(_tenths(counters.export_total)), strict=True)))
        registers.update(
            dict(zip((27, 28), _u32(_tenths(counters.inverter_in_total)), strict=True))
        )
        registers.update(dict(zip((32, 33), _u32(_tenths(counters.import_total)), strict=True)))
        registers.update(dict(zip((47, 48), _u32(round(counters.work_hours)), strict=True)))
        if self.kind in AC_KINDS:
            # On AC-coupled units IR44-46 carry the inverter's output, not PV (dewet22 #293).
            registers[44] = _tenths(counters.inverter_out_today)
            total = _tenths(counters.inverter_out_total)
        else:
            # PV generation today is the two strings' sum, as the app shows it.
            registers[44] = registers[17] + registers[19]
            total = _tenths(counters.pv_generation_total)
        registers.update(dict(zip((45, 46), _u32(total), strict=True)))
        today = (_tenths(counters.battery_charge_today), _tenths(counters.battery_discharge_today))
        if self.kind is Kind.GEN1:
            # Gen 1: battery energies at IR180-183 (discharge, charge totals; then today's).
            registers[180] = _tenths(counters.battery_discharge_total) & 0xFFFF
            registers[181] = _tenths(counters.battery_charge_total) & 0xFFFF
            registers[182] = today[1]
            registers[183] = today[0]
        else:
            registers[36], registers[37] = today
        return registers

    def pack_inputs(self, index: int) -> dict[int, int]:
        """Return input registers 60-119 of pack `index` (all zero for an empty slot)."""
        if index >= len(self.packs):
            return {}
        # The packs share the battery current equally; each reports the plant's charge.
        current = self.flows.battery / self.battery_voltage / len(self.packs)
        return self.packs[index].registers(self.soc, current)

    # --- requests -----------------------------------------------------------------------

    def read(self, device: int, function: int, base: int, count: int) -> Answer:
        """Answer a register read: values, a refusal, or None for silence."""
        if not 1 <= count <= BANK:
            return Refused(code=ILLEGAL_VALUE)
        if device in (INVERTER, INVERTER_FACADE):
            table = self._inverter_table(function, base, count)
        elif FIRST_PACK <= device < FIRST_PACK + MAX_PACKS:
            if function != INPUT or base < BANK or base + count > 2 * BANK:
                return Refused(code=ILLEGAL_ADDRESS)
            table = self.pack_inputs(device - FIRST_PACK)
        elif device == METER and self.meter is not None:
            if function != INPUT or base < METER_BANK.start or base + count > METER_BANK.stop:
                return Refused(code=ILLEGAL_ADDRESS)
            table = self.meter.registers(GRID_VOLTAGE, -self.flows.grid_export)
        else:
            # Meters (0x01-0x08) and anything else absent: the dongle stays silent.
            return None
        if table is None or isinstance(table, Refused):
            return table
        return [table.get(address, 0) for address in range(base, base + count)]

    def _inverter_table(
        self, function: int, base: int, count: int
    ) -> dict[int, int] | Refused | None:
        end = base + count
        if function == INPUT:
            return self.inverter_inputs() if end <= 4 * BANK else Refused(code=ILLEGAL_ADDRESS)
        if function != HOLDING:
            return Refused(code=ILLEGAL_ADDRESS)
        if end <= 5 * BANK:
            return self.holding
        if end <= 6 * BANK:
            # Hybrids time out on the AC-config bank (dewet22 #162).
            return self.holding if self.kind in AC_KINDS else None
        return Refused(code=ILLEGAL_ADDRESS)

    def write(self, device: int, register: int, value: int) -> Answer:
        """Set one holding register: the value now held, a refusal, or None for silence."""
        if FIRST_PACK <= device < FIRST_PACK + MAX_PACKS:
            return Refused(code=ILLEGAL_ADDRESS)
        if device not in (INVERTER, INVERTER_FACADE):
            return None
        accepts = _WRITABLE.get(register)
        if accepts is None and self.kind in AC_KINDS:
            accepts = _WRITABLE_AC.get(register)
        if accepts is None and self.kind in TEN_SLOT_KINDS:
            accepts = _WRITABLE_SLOTS.get(register)
        if accepts is None:
            return Refused(code=ILLEGAL_ADDRESS)
        if not accepts(value):
            return Refused(code=ILLEGAL_VALUE)
        if register == REBOOT:
            self.reboots += 1
            return [value]
        self.holding[register] = value
        return [value]
