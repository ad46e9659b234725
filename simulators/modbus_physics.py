"""What simulated Modbus devices measure: a house on a 230/400 V grid, with PV and a battery.

Every reading comes from one physical state, so the sums a real device shows hold here too:
phase powers add up to the total, apparent power is voltage times current, line-to-line
voltages are the phasor differences of the phase voltages (sqrt(3) times them on a balanced
grid), PV power is the sum of the strings, and every energy counter is the integral of its
power, the "today" ones since midnight of the simulated day. The simulated clock starts at
1 pm and moves `TICK` seconds per request, so nothing depends on the wall clock.

Readings are keyed by the canonical point keys of the profiles; a device stores those it has
registers for.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
import math
import random

HOUR = 3600.0
DAY = 24 * HOUR
JOULES_PER_KWH = 3.6e6
START = 13 * HOUR
TICK = 30.0
# The history that today's counters and the lifetime totals integrate, in steps this long.
HISTORY_STEP = 300.0
PAST_DAYS = 400
# Eastron averages demand over this window; the exponential mean stands in for the window.
DEMAND_WINDOW = 15 * 60.0

type Readings = dict[str, float]


def wander(rng: random.Random, value: float, target: float, spread: float) -> float:
    """Return `value` pulled halfway back to `target` and nudged by noise."""
    return value + 0.5 * (target - value) + rng.gauss(0.0, spread)


def tenths(value: float) -> float:
    """Return `value` at the 0.1 resolution an inverter reports string voltage and current in."""
    return round(value, 1)


def sun(clock: float) -> float:
    """Return the share of full sun at a time of day (seconds since midnight): 6 am to 6 pm."""
    hours = clock / HOUR
    return max(0.0, math.sin(math.pi * (hours - 6) / 12)) if 6 <= hours <= 18 else 0.0


def line_to_line(first: float, second: float) -> float:
    """Return the voltage between two phases 120 degrees apart."""
    return math.sqrt(first * first + second * second + first * second)


@dataclass
class Phase:
    """One phase of a grid connection as a meter sees it; load positive = importing."""

    nominal_voltage: float
    base_load: float
    base_power_factor: float
    angle: float
    voltage: float = 0.0
    power: float = 0.0
    power_factor: float = 1.0
    imported: float = 0.0
    exported: float = 0.0
    reactive_imported: float = 0.0
    reactive_exported: float = 0.0

    def __post_init__(self) -> None:
        """Start at the nominal values."""
        self.voltage = self.nominal_voltage
        self.power = self.base_load
        self.power_factor = self.base_power_factor

    @property
    def apparent_power(self) -> float:
        """Return the volt-amperes: active power over power factor."""
        return abs(self.power) / self.power_factor

    @property
    def reactive_power(self) -> float:
        """Return the vars of an inductive load."""
        return math.sqrt(max(0.0, self.apparent_power**2 - self.power**2))

    @property
    def current(self) -> float:
        """Return the amperes."""
        return self.apparent_power / self.voltage

    @property
    def phase_angle(self) -> float:
        """Return how far the current lags the voltage, in degrees."""
        return math.degrees(math.acos(self.power_factor))

    def current_phasor(self) -> complex:
        """Return the current as a phasor on this phase's voltage angle."""
        return self.current * complex(
            math.cos(math.radians(self.angle - self.phase_angle)),
            math.sin(math.radians(self.angle - self.phase_angle)),
        )


class GridMeter:
    """An energy meter on one or three phases of a household connection."""

    def __init__(self, phases: int, rng: random.Random) -> None:
        """Start with a believable load and counters a few years old."""
        self._rng = rng
        if phases == 3:
            self.phases = [
                Phase(nominal_voltage=230.0, base_load=820.0, base_power_factor=0.95, angle=0),
                Phase(nominal_voltage=229.4, base_load=410.0, base_power_factor=0.92, angle=-120),
                Phase(nominal_voltage=231.2, base_load=205.0, base_power_factor=0.97, angle=120),
            ]
        else:
            self.phases = [
                Phase(nominal_voltage=230.0, base_load=1500.0, base_power_factor=0.95, angle=0)
            ]
        total = sum(phase.base_load for phase in self.phases)
        for phase in self.phases:
            share = phase.base_load / total
            phase.imported = 1234.5 * share
            phase.exported = 321.5 * share
            phase.reactive_imported = 321.5 * share
            phase.reactive_exported = 12.5 * share
        self.frequency = 50.0
        self.apparent_energy = 1402.8
        self.ampere_hours = 6100.0
        self.running_hours = 8760.0
        self.resettable_imported = 234.5
        self.resettable_exported = 21.5
        self.demand: dict[tuple[str, int | None], float] = {}
        self.demand_max: dict[tuple[str, int | None], float] = {}
        self._update_demand(DEMAND_WINDOW)

    @property
    def wiring(self) -> Readings:
        """Return the settings that describe how the meter is wired."""
        return {"system_type": 3.0 if len(self.phases) == 3 else 1.0}

    def step(self, seconds: float) -> None:
        """Let `seconds` pass: the load wanders, the counters count."""
        rng = self._rng
        for phase in self.phases:
            phase.voltage = wander(rng, phase.voltage, phase.nominal_voltage, 0.3)
            phase.power = max(
                0.0, wander(rng, phase.power, phase.base_load, 0.08 * phase.base_load)
            )
            factor = wander(rng, phase.power_factor, phase.base_power_factor, 0.005)
            phase.power_factor = min(1.0, max(0.5, factor))
            phase.imported += max(phase.power, 0.0) * seconds / JOULES_PER_KWH
            phase.exported += max(-phase.power, 0.0) * seconds / JOULES_PER_KWH
            phase.reactive_imported += phase.reactive_power * seconds / JOULES_PER_KWH
        self.frequency = wander(rng, self.frequency, 50.0, 0.01)
        self.apparent_energy += self._sum("apparent_power") * seconds / JOULES_PER_KWH
        self.ampere_hours += self._sum("current") * seconds / HOUR
        self.running_hours += seconds / HOUR
        power = self._sum("power")
        self.resettable_imported += max(power, 0.0) * seconds / JOULES_PER_KWH
        self.resettable_exported += max(-power, 0.0) * seconds / JOULES_PER_KWH
        self._update_demand(seconds)

    def _sum(self, quantity: str) -> float:
        return float(sum(getattr(phase, quantity) for phase in self.phases))

    def _neutral_current(self) -> float:
        if len(self.phases) == 1:
            return self.phases[0].current
        return abs(sum(phase.current_phasor() for phase in self.phases))

    def _instant_demands(self) -> dict[tuple[str, int | None], float]:
        """Return what the demand values average, by name and phase (None: the total)."""
        power = self._sum("power")
        demands: dict[tuple[str, int | None], float] = {
            ("total_power_demand", None): power,
            ("import_power_demand", None): max(power, 0.0),
            ("export_power_demand", None): max(-power, 0.0),
            ("apparent_power_demand", None): self._sum("apparent_power"),
            ("neutral_current_demand", None): self._neutral_current(),
        }
        for index, phase in enumerate(self.phases):
            demands["current_demand", index] = phase.current
        return demands

    def _update_demand(self, seconds: float) -> None:
        weight = min(1.0, seconds / DEMAND_WINDOW)
        for key, value in self._instant_demands().items():
            mean = self.demand.get(key, value)
            self.demand[key] = mean + weight * (value - mean)
            # The highest demand since the last reset: a past evening peak to begin with.
            self.demand_max[key] = max(self.demand_max.get(key, 1.6 * value), self.demand[key])

    def _key(self, base: str, index: int | None) -> str:
        """Return the key of a quantity of one phase (None: of the whole connection)."""
        return base if index is None or len(self.phases) == 1 else f"{base}_l{index + 1}"

    def readings(self) -> Readings:
        """Return every quantity the meter measures."""
        values: Readings = {}
        for index, phase in enumerate(self.phases):
            per_phase = {
                "grid_voltage": phase.voltage,
                "grid_current": phase.current,
                "grid_power": phase.power,
                "grid_apparent_power": phase.apparent_power,
                "grid_reactive_power": phase.reactive_power,
                "grid_power_factor": phase.power_factor,
                "grid_phase_angle": phase.phase_angle,
                "grid_import_energy": phase.imported,
                "grid_export_energy": phase.exported,
                "total_active_energy": phase.imported + phase.exported,
                "grid_import_reactive_energy": phase.reactive_imported,
                "grid_export_reactive_energy": phase.reactive_exported,
                "total_reactive_energy": phase.reactive_imported + phase.reactive_exported,
            }
            for base, value in per_phase.items():
                values[self._key(base, index)] = value
        power = self._sum("power")
        apparent = self._sum("apparent_power")
        reactive = self._sum("reactive_power")
        imported, exported = self._sum("imported"), self._sum("exported")
        reactive_imported = self._sum("reactive_imported")
        reactive_exported = self._sum("reactive_exported")
        values |= {
            "grid_power": power,
            "grid_apparent_power": apparent,
            "grid_reactive_power": reactive,
            "grid_power_factor": power / apparent,
            "grid_power_factor_total": power / apparent,
            "grid_phase_angle": math.degrees(math.atan2(reactive, power)),
            "grid_voltage_average": self._sum("voltage") / len(self.phases),
            "grid_current_average": self._sum("current") / len(self.phases),
            "grid_current_sum": self._sum("current"),
            "grid_current_neutral": self._neutral_current(),
            "grid_frequency": self.frequency,
            "grid_import_energy": imported,
            "grid_export_energy": exported,
            "total_active_energy": imported + exported,
            "grid_import_reactive_energy": reactive_imported,
            "grid_export_reactive_energy": reactive_exported,
            "total_reactive_energy": reactive_imported + reactive_exported,
            "apparent_energy": self.apparent_energy,
            "ampere_hours": self.ampere_hours,
            "running_time": self.running_hours,
            "resettable_import_energy": self.resettable_imported,
            "resettable_total_energy": self.resettable_imported + self.resettable_exported,
        }
        if len(self.phases) == 3:
            first, second, third = (phase.voltage for phase in self.phases)
            lines = [line_to_line(first, second), line_to_line(second, third)]
            lines.append(line_to_line(third, first))
            values |= {
                "grid_voltage_l1_l2": lines[0],
                "grid_voltage_l2_l3": lines[1],
                "grid_voltage_l3_l1": lines[2],
                "grid_voltage_line_average": sum(lines) / 3,
            }
        for (base, phase_index), value in self.demand.items():
            values[self._key(base, phase_index)] = value
            values[self._key(f"{base}_max", phase_index)] = self.demand_max[base, phase_index]
        return values


@dataclass
class PvString:
    """One PV string: its voltage at the maximum power point and its current in full sun."""

    mpp_voltage: float
    full_sun_current: float
    voltage: float = 0.0
    current: float = 0.0

    @property
    def power(self) -> float:
        """Return the string's watts, from the voltage and current the inverter reports."""
        return round(self.voltage * self.current, 1)

    def shine(self, light: float) -> None:
        """Follow the light: the current with it, the voltage near its MPP while lit."""
        lit = light > 0 and self.full_sun_current > 0
        self.voltage = tenths(self.mpp_voltage) if lit else 0.0
        self.current = tenths(self.full_sun_current * light) if lit else 0.0


class PvInverter:
    """A single-phase grid-tie PV inverter feeding a house, with a DC battery if hybrid."""

    RATED_POWER = 6000.0
    EFFICIENCY = 0.97
    POWER_FACTOR = 0.99
    HOUSE_LOAD = 900.0
    BATTERY_WH = 10_000.0
    BATTERY_POWER = 2500.0
    BATTERY_FLOOR = 10.0

    energy: Readings
    today: Readings
    running_hours: float
    clock: float
    cloud: float
    soc: float
    load: float
    strings: list[PvString]
    ac_voltage: float
    frequency: float
    pv_power: float
    charge: float
    discharge: float
    ac_power: float
    grid: float

    def __init__(self, rng: random.Random, *, battery: bool) -> None:
        """Start at 1 pm with today's and the past days' energy already counted."""
        self._rng = rng
        self.battery = battery
        self._reset()
        # A day like today, counted PAST_DAYS times, is the lifetime so far.
        self._run(DAY)
        lifetime = {key: PAST_DAYS * value for key, value in self.energy.items()}
        hours = PAST_DAYS * self.running_hours
        self._reset()
        self._run(START)
        self.energy = {key: lifetime[key] + value for key, value in self.energy.items()}
        self.running_hours += hours
        # The battery is where a sunny morning leaves it.
        self.soc = 65.0
        self._balance(self.light)

    @property
    def wiring(self) -> Readings:
        """Return the settings that describe how the inverter is wired: none it reports."""
        return {}

    def _reset(self) -> None:
        """Go back to midnight of an empty day."""
        self.clock = 0.0
        self.cloud = 1.0
        self.strings = [PvString(320.0, 9.0), PvString(300.0, 6.0), PvString(0, 0), PvString(0, 0)]
        self.ac_voltage = 230.0
        self.frequency = 50.0
        self.load = self.HOUSE_LOAD
        self.soc = 65.0
        self.energy = {}
        self.today = {}
        self.running_hours = 0.0
        self._balance(self.light)

    @property
    def light(self) -> float:
        """Return the share of full sun on the panels now."""
        return sun(self.clock) * self.cloud

    def _run(self, seconds: float) -> None:
        """Integrate `seconds` of a noiseless day."""
        while seconds > 0:
            step = min(HISTORY_STEP, seconds)
            self._advance(step)
            seconds -= step

    def step(self, seconds: float) -> None:
        """Let `seconds` pass: clouds and load wander, the counters count."""
        rng = self._rng
        self.cloud = min(1.0, max(0.3, wander(rng, self.cloud, 0.9, 0.05)))
        self.load = max(150.0, wander(rng, self.load, self.HOUSE_LOAD, 60.0))
        self.ac_voltage = wander(rng, self.ac_voltage, 230.0, 0.4)
        self.frequency = wander(rng, self.frequency, 50.0, 0.01)
        self._advance(seconds)

    def _advance(self, seconds: float) -> None:
        self.clock += seconds
        if self.clock >= DAY:
            # Midnight: the day's counters start again.
            self.clock -= DAY
            self.today.clear()
        self._balance(self.light)
        if self.pv_power > 0:
            self.running_hours += seconds / HOUR
        self.soc += (self.charge - self.discharge) * seconds / HOUR / self.BATTERY_WH * 100
        for key, watts in self._powers().items():
            kwh = watts * seconds / JOULES_PER_KWH
            self.today[key] = self.today.get(key, 0.0) + kwh
            self.energy[key] = self.energy.get(key, 0.0) + kwh

    def _balance(self, light: float) -> None:
        """Share the PV power out between the house, the battery and the grid."""
        for string in self.strings:
            string.shine(light)
        self.pv_power = sum(string.power for string in self.strings)
        surplus = self.EFFICIENCY * self.pv_power - self.load
        self.charge = self.discharge = 0.0
        if self.battery and surplus > 0 and self.soc < 100:
            self.charge = min(surplus, self.BATTERY_POWER)
        if self.battery and surplus < 0 and self.soc > self.BATTERY_FLOOR:
            self.discharge = min(-surplus, self.BATTERY_POWER)
        self.ac_power = self.EFFICIENCY * self.pv_power - self.charge + self.discharge
        self.grid = self.load - self.ac_power

    def _powers(self) -> Readings:
        """Return the power behind each energy counter, in watts."""
        powers = {f"pv{index}_energy": s.power for index, s in enumerate(self.strings, 1)}
        return powers | {
            "ac_output_energy": self.ac_power,
            "system_energy": self.ac_power,
            "grid_import_energy": max(self.grid, 0.0),
            "grid_export_energy": max(-self.grid, 0.0),
            "load_energy": self.load,
            "self_consumption_energy": min(self.ac_power, self.load),
            "battery_charge_energy": self.charge,
            "battery_discharge_energy": self.discharge,
            "ac_charge_energy": 0.0,
        }

    def readings(self) -> Readings:
        """Return every quantity the inverter reports."""
        apparent = self.ac_power / self.POWER_FACTOR
        battery_voltage = 46.8 + 0.08 * self.soc
        values: Readings = {
            "device_mode": 1.0 if self.pv_power > 0 or self.discharge > 0 else 0.0,
            "pv_power": self.pv_power,
            "ac_output_power": self.ac_power,
            "system_output_power": self.ac_power,
            "ac_output_apparent_power": apparent,
            "ac_output_reactive_power": math.sqrt(apparent**2 - self.ac_power**2),
            "ac_output_voltage": self.ac_voltage,
            "ac_output_current": apparent / self.ac_voltage,
            "ac_output_frequency": self.frequency,
            "ac_output_power_percent": 100 * self.ac_power / self.RATED_POWER,
            "output_power_factor_raw": 10000 * self.POWER_FACTOR,
            "grid_import_power": max(self.grid, 0.0),
            "grid_export_power": max(-self.grid, 0.0),
            "grid_power": self.grid,
            "load_power": self.load,
            "inverter_temperature": 25 + 20 * self.ac_power / self.RATED_POWER,
            "ipm_temperature": 29 + 20 * self.ac_power / self.RATED_POWER,
            "boost_temperature": 27 + 20 * self.ac_power / self.RATED_POWER,
            "total_running_time": self.running_hours,
            "fault_code": 0.0,
            "warning_code": 0.0,
            "fault_sub_code": 0.0,
            "warning_sub_code": 0.0,
            # A single-phase inverter: the second and third phase carry nothing.
            "ac_output_voltage_l2": 0.0,
            "ac_output_voltage_l3": 0.0,
            "ac_output_current_l2": 0.0,
            "ac_output_current_l3": 0.0,
            "ac_output_apparent_power_l2": 0.0,
            "ac_output_apparent_power_l3": 0.0,
            "ac_output_voltage_l1_l2": 0.0,
            "ac_output_voltage_l2_l3": 0.0,
            "ac_output_voltage_l3_l1": 0.0,
        }
        for index, string in enumerate(self.strings, 1):
            values |= {
                f"pv{index}_voltage": string.voltage,
                f"pv{index}_current": string.current,
                f"pv{index}_power": string.power,
            }
        if self.battery:
            values |= {
                "battery_soc": self.soc,
                "battery_voltage": battery_voltage,
                "battery_current": (self.discharge - self.charge) / battery_voltage,
                "battery_charge_power": self.charge,
                "battery_discharge_power": self.discharge,
            }
        strings = [f"pv{index}_energy" for index in range(1, len(self.strings) + 1)]
        for key in self._powers():
            values[key] = self.energy.get(key, 0.0)
            values[f"{key}_today"] = self.today.get(key, 0.0)
        # The PV counters are the sums of the strings', not counters of their own.
        values["pv_energy"] = sum(self.energy.get(key, 0.0) for key in strings)
        values["pv_energy_today"] = sum(self.today.get(key, 0.0) for key in strings)
        return values


type DeviceModel = GridMeter | PvInverter


def model_for(keys: Collection[str], rng: random.Random) -> DeviceModel | None:
    """Return the physical model of a device with these points, if there is one."""
    if "pv_power" in keys or "pv1_voltage" in keys:
        return PvInverter(rng, battery="battery_soc" in keys)
    if "grid_voltage_l1" in keys:
        return GridMeter(3, rng)
    if "grid_voltage" in keys:
        return GridMeter(1, rng)
    return None
