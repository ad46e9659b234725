"""A simulated Axpert-style 5 kVA 48 V inverter: its settings, moving values and PI30 commands.

Written from the vendor's PI30 protocol description, independently of the client library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
import math
import re

NAK = "NAK"
ACK = "ACK"

# Seconds of simulated time that pass with every live poll.
STEP_SECONDS = 10.0
# A full simulated day of live polls: 120 steps of daylight, 120 of night.
DAY_STEPS = 240
RATED_POWER = 5000
BANK_WH = 9600.0

CHARGING_CURRENTS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150)
AC_CHARGING_CURRENTS = (2, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
CV_STEP = 5


@dataclass
class DeviceSettings:
    """What the unit stores in EEPROM (as the device itself encodes it)."""

    output_voltage: int = 230
    output_frequency: int = 50
    recharge_voltage: float = 46.0
    cutoff_voltage: float = 42.0
    bulk_voltage: float = 56.4
    float_voltage: float = 54.0
    battery_type: int = 2
    max_ac_charging: int = 30
    max_charging: int = 60
    input_range: int = 0
    output_priority: int = 2
    charger_priority: int = 3
    output_mode: int = 0
    redischarge_voltage: float = 54.0
    pv_ok_condition: int = 0
    pv_power_balance: int = 1
    cv_time: int = 120
    operation_logic: int = 0
    max_discharging: int = 150
    charging_stage: int = 0
    eq_enabled: int = 0
    eq_time: int = 60
    eq_period: int = 30
    eq_voltage: float = 58.4
    eq_over_time: int = 120
    eq_active: int = 0
    flags: dict[str, bool] = field(
        default_factory=lambda: {
            "a": True, "b": True, "u": True, "v": True, "x": True, "y": True, "z": True,
            "g": True, "j": False, "k": False, "l": False, "d": False,
        }
    )  # fmt: skip


@dataclass
class Profile:
    """Which firmware generation the unit imitates."""

    qpigs_fields: int = 21
    qpiri_fields: int = 28
    qpiws_bits: int = 36
    pv1_current_decimal: bool = True
    parallel_max: str = "6"
    model_name: str | None = "VMIII-5000"
    unsupported: frozenset[str] = frozenset()
    # Commands some firmwares ignore instead of refusing: no reply at all.
    silent: frozenset[str] = frozenset()
    parallel: bool = False
    protocol_id: str = "PI30"

    @classmethod
    def old_firmware(cls) -> Profile:
        """Return a 2014-era unit: short replies, no energy counters, no second tracker."""
        return cls(
            qpigs_fields=17,
            qpiri_fields=25,
            qpiws_bits=32,
            pv1_current_decimal=False,
            parallel_max="-",
            model_name=None,
            unsupported=frozenset(
                {
                    "QPIGS2", "QET", "QLT", "QT", "QBEQI", "QSID", "QMN", "QVFW3", "QCST",
                    "QCVT", "QOPM", "PBEQE", "PBEQT", "PBEQP", "PBEQV", "PBEQOT", "PBEQA",
                    "PBATMAXDISC", "POPLG", "V", "DAT", "RTEY", "RTDL", "PCST", "PCVT",
                }
            ),
        )  # fmt: skip


@dataclass
class Physics:
    """The moving quantities of the unit, advanced one step per live poll."""

    step: int = 30
    soc: float = 62.0
    grid_present: bool = True
    pv_wh: float = 1_234_567.0
    load_wh: float = 2_345_678.0
    pv1_w: float = 0.0
    pv2_w: float = 0.0
    load_w: float = 0.0
    battery_w: float = 0.0  # positive charging
    ac_charge_w: float = 0.0


class Pi30Device:
    """Answers PI30 commands as an inverter would: payload text, or NAK."""

    def __init__(
        self,
        profile: Profile | None = None,
        *,
        serial: str = "92932105105335",
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        """Create the unit with factory settings."""
        self.profile = profile or Profile()
        self.serial = serial
        self.clock = clock
        self.settings = self._factory_settings()
        self.physics = Physics()
        self.clock_offset = timedelta()
        self.warnings: set[int] = set()
        self.fault_code = 0
        self.advance(0)

    # --- moving values -------------------------------------------------------------------

    def advance(self, steps: int = 1) -> None:
        """Move simulated time on: the sun, the load and the battery."""
        p = self.physics
        p.step += steps
        phase = (p.step % DAY_STEPS) / (DAY_STEPS / 2)
        sun = math.sin(math.pi * phase) if phase < 1 else 0.0
        p.pv1_w = 4200.0 * sun
        p.pv2_w = 0.0 if "QPIGS2" in self.profile.unsupported else 2500.0 * sun
        p.load_w = 650.0 + 300.0 * math.sin(p.step / 9) + 150.0 * math.sin(p.step / 3.7)
        on_grid = self.mode in ("L",)
        p.ac_charge_w = 0.0
        if on_grid and p.grid_present and self.settings.charger_priority in (0, 2) and p.soc < 100:
            p.ac_charge_w = min(self.settings.max_ac_charging * 52.0, 1500.0)
        offered = p.pv1_w + p.pv2_w + p.ac_charge_w - (0.0 if on_grid else p.load_w)
        # The charger caps the charge current; the trackers back off and harvest less.
        supply = min(offered, 0.0 if p.soc >= 100 else self.settings.max_charging * 52.0)
        solar = p.pv1_w + p.pv2_w
        if offered > supply and solar > 0:
            harvest = max(0.0, solar - (offered - supply)) / solar
            p.pv1_w, p.pv2_w = p.pv1_w * harvest, p.pv2_w * harvest
        p.battery_w = supply
        p.soc = min(100.0, max(5.0, p.soc + supply * STEP_SECONDS / 3600 / BANK_WH * 100))
        p.pv_wh += (p.pv1_w + p.pv2_w) * STEP_SECONDS / 3600
        p.load_wh += p.load_w * STEP_SECONDS / 3600

    @property
    def mode(self) -> str:
        """Return the QMOD letter."""
        if self.fault_code:
            return "F"
        if self.settings.output_priority == 0 and self.physics.grid_present:
            return "L"
        if self.physics.soc <= 20 and self.physics.grid_present:
            return "L"
        return "B"

    @property
    def battery_voltage(self) -> float:
        """Return the bank voltage: resting voltage from SoC, lifted when charging."""
        p = self.physics
        return 48.0 + 0.075 * p.soc + p.battery_w / 2500.0

    # --- queries -------------------------------------------------------------------------

    def handle(self, command: str) -> str | None:
        """Return the reply payload of one command (NAK if refused, None if ignored)."""
        name = _command_name(command)
        if name in self.profile.silent:
            return None
        if name in self.profile.unsupported:
            return NAK
        query = self._queries().get(command)
        if query is not None:
            return query()
        if command.startswith("QPGS") and command[4:].isdigit():
            return self._qpgs(int(command[4:]))
        return self._set(command)

    def _queries(self) -> dict[str, Callable[[], str]]:
        s, prof = self.settings, self.profile
        return {
            "QPI": lambda: prof.protocol_id,
            "QID": lambda: self.serial,
            "QSID": lambda: f"{len(self.serial):02d}{self.serial:0<20}",
            "QVFW": lambda: "VERFW:00072.70",
            "QVFW2": lambda: "VERFW2:00044.17",
            "QVFW3": lambda: "VERFW3:00000.00",
            "QMN": lambda: prof.model_name or NAK,
            "QGMN": lambda: "044",
            "QPIRI": self._qpiri,
            "QFLAG": self._qflag,
            "QPIGS": self._qpigs,
            "QPIGS2": self._qpigs2,
            "QMOD": lambda: self.mode,
            "QPIWS": lambda: "".join(
                "1" if n in self.warnings else "0" for n in range(prof.qpiws_bits)
            ),
            "QDI": lambda: (
                "230.0 50.0 0030 42.0 54.0 56.4 46.0 60 0 0 2 0 0 0 0 0 1 1 0 0 1 0 54.0 0 1 000"
            ),
            "QMCHGCR": lambda: " ".join(f"{a:03d}" for a in CHARGING_CURRENTS),
            "QMUCHGCR": lambda: " ".join(f"{a:03d}" for a in AC_CHARGING_CURRENTS),
            "QBOOT": lambda: "0",
            "QOPM": lambda: f"{s.output_mode:02d}",
            "QCST": lambda: f"{s.charging_stage:02d}",
            "QCVT": lambda: f"{s.cv_time:03d}",
            "QET": lambda: f"{int(self.physics.pv_wh):08d}",
            "QLT": lambda: f"{int(self.physics.load_wh):08d}",
            "QT": lambda: f"{self.now():%Y%m%d%H%M%S}",
            "QBEQI": lambda: (
                f"{s.eq_enabled} {s.eq_time:03d} {s.eq_period:03d} 030 020 {s.eq_voltage:05.2f}"
                f" 224 {s.eq_over_time:03d} {s.eq_active} 0000"
            ),
        }

    def now(self) -> datetime:
        """Return the unit's own clock."""
        return self.clock() + self.clock_offset

    def _qpiri(self) -> str:
        s = self.settings
        values = [
            "230.0", "21.7", f"{s.output_voltage:05.1f}", f"{s.output_frequency:04.1f}", "21.7",
            f"{RATED_POWER:04d}", f"{RATED_POWER:04d}", "48.0", f"{s.recharge_voltage:04.1f}",
            f"{s.cutoff_voltage:04.1f}", f"{s.bulk_voltage:04.1f}", f"{s.float_voltage:04.1f}",
            f"{s.battery_type}", f"{s.max_ac_charging:02d}", f"{s.max_charging:03d}",
            f"{s.input_range}", f"{s.output_priority}", f"{s.charger_priority}",
            self.profile.parallel_max, "01", "0", f"{s.output_mode}",
            f"{s.redischarge_voltage:04.1f}", f"{s.pv_ok_condition}", f"{s.pv_power_balance}",
            f"{s.cv_time:03d}", f"{s.operation_logic}", f"{s.max_discharging:03d}",
        ]  # fmt: skip
        return " ".join(values[: self.profile.qpiri_fields])

    def _qflag(self) -> str:
        flags = self.settings.flags
        enabled = "".join(letter for letter, on in flags.items() if on)
        disabled = "".join(letter for letter, on in flags.items() if not on)
        return f"E{enabled}D{disabled}"

    def _qpigs(self) -> str:
        self.advance()
        p, volts = self.physics, self.battery_voltage
        grid_v = 230.4 if p.grid_present else 0.0
        apparent = p.load_w / 0.86
        load_pct = round(max(p.load_w, apparent) / RATED_POWER * 100)
        pv1_v = 340.0 + 25.0 * math.sin(p.step / 5) if p.pv1_w > 0 else 0.0
        pv1_a = p.pv1_w / pv1_v if pv1_v else 0.0
        charge_a = max(0.0, p.battery_w) / volts
        discharge_a = max(0.0, -p.battery_w) / volts
        status = "".join(
            ("0", "0", "0", "1" if p.load_w > 0 else "0", "0", "1" if charge_a >= 1 else "0",
             "1" if charge_a >= 1 and p.pv1_w > 0 else "0", "1" if p.ac_charge_w > 0 else "0")
        )  # fmt: skip
        pv1_current = (
            f"{pv1_a:04.1f}" if self.profile.pv1_current_decimal else f"{round(pv1_a):04d}"
        )
        values = [
            f"{grid_v:05.1f}", f"{50.0 if p.grid_present else 0.0:04.1f}", "230.0", "50.0",
            f"{round(apparent):04d}", f"{round(p.load_w):04d}", f"{load_pct:03d}", "392",
            f"{volts:05.2f}", f"{round(charge_a):03d}", f"{round(p.soc):03d}",
            f"{round(35 + p.load_w / 250):04d}", pv1_current, f"{pv1_v:05.1f}",
            f"{volts - 0.05:05.2f}", f"{round(discharge_a):05d}", status, "00", "00",
            f"{round(p.pv1_w):05d}", "010", "0", "01", "0000",
        ]  # fmt: skip
        return " ".join(values[: self.profile.qpigs_fields])

    def _qpigs2(self) -> str:
        p = self.physics
        volts = 310.0 if p.pv2_w > 0 else 0.0
        amps = p.pv2_w / volts if volts else 0.0
        return f"{amps:04.1f} {volts:05.1f} {round(p.pv2_w):05d}"

    def _qpgs(self, unit: int) -> str:
        units = 2 if self.profile.parallel else 0
        if not self.profile.parallel:
            return NAK
        if unit >= units:
            return (
                "0 00000000000000 - 00 000.0 00.00 000.0 00.00 0000 0000 000 00.0 000 000"
                " 000.0 000 00000 00000 000 00000000 0 0 000 000 00 00 000"
            )
        p, s = self.physics, self.settings
        share = 0.5
        serial = self.serial if unit == 0 else f"{int(self.serial) + 1:014d}"
        watts, apparent = p.load_w * share, p.load_w * share / 0.86
        charge = max(0.0, p.battery_w) / self.battery_voltage
        pv_v = 340.0 if p.pv1_w > 0 else 0.0
        pv_a = p.pv1_w * share / pv_v if pv_v else 0.0
        return " ".join(
            [
                "1", serial, self.mode, f"{self.fault_code:02d}", "230.4", "50.00", "230.0",
                "50.00", f"{round(apparent):04d}", f"{round(watts):04d}",
                f"{round(apparent / RATED_POWER * 100):03d}", f"{self.battery_voltage:04.1f}",
                f"{round(charge * share):03d}", f"{round(p.soc):03d}", f"{pv_v:05.1f}",
                f"{round(charge):03d}", f"{round(p.load_w / 0.86):05d}", f"{round(p.load_w):05d}",
                f"{round(p.load_w / 0.86 / RATED_POWER / 2 * 100):03d}", "10100010",
                f"{s.output_mode}", f"{s.charger_priority}", f"{s.max_charging:03d}", "150",
                f"{s.max_ac_charging:02d}", f"{round(pv_a):02d}", "000",
            ]
        )  # fmt: skip

    # --- setters -------------------------------------------------------------------------

    def _set(self, command: str) -> str:
        for pattern, apply in self._setters():
            match = re.fullmatch(pattern, command)
            if match is not None:
                return ACK if apply(*match.groups()) is not False else NAK
        return NAK

    def _setters(self) -> list[tuple[str, Callable[..., bool | None]]]:
        return [
            (r"POP(\d\d)", lambda v: self._choose("output_priority", int(v), range(3))),
            (r"PCP(\d\d)", lambda v: self._choose("charger_priority", int(v), range(4))),
            (r"PGR(\d\d)", lambda v: self._choose("input_range", int(v), range(2))),
            (r"PBT(\d\d)", lambda v: self._choose("battery_type", int(v), range(10))),
            (r"POPM(\d\d)", lambda v: self._choose("output_mode", int(v), range(5))),
            (r"F(\d\d)", lambda v: self._choose("output_frequency", int(v), (50, 60))),
            (r"V(\d{3})", lambda v: self._choose("output_voltage", int(v), (220, 230, 240))),
            (r"PBCV(\d\d\.\d)", lambda v: self._volts("recharge_voltage", v, 44, 51, whole=True)),
            (r"PBDV(\d\d\.\d)", self._redischarge),
            (r"PSDV(\d\d\.\d)", lambda v: self._volts("cutoff_voltage", v, 40, 48)),
            (r"PCVV(\d\d\.\d)", lambda v: self._volts("bulk_voltage", v, 48, 58.4)),
            (r"PBFT(\d\d\.\d)", lambda v: self._volts("float_voltage", v, 48, 58.4)),
            (r"MCHGC(\d{3})", lambda v: self._choose("max_charging", int(v), CHARGING_CURRENTS)),
            (r"MUCHGC(\d{3})",
             lambda v: self._choose("max_ac_charging", int(v), AC_CHARGING_CURRENTS)),
            (r"PCVT(\d{3})", lambda v: self._choose("cv_time", int(v), range(0, 901, CV_STEP))),
            (r"POPLG(\d\d)", lambda v: self._choose("operation_logic", int(v), range(3))),
            (r"PPVOKC([01])", lambda v: self._choose("pv_ok_condition", int(v), range(2))),
            (r"PSPB([01])", lambda v: self._choose("pv_power_balance", int(v), range(2))),
            (r"PCST(\d\d)", lambda v: self._choose("charging_stage", int(v), range(3))),
            (r"PBATMAXDISC(\d{3})",
             lambda v: self._choose("max_discharging", int(v), (0, *range(30, 151)))),
            (r"PBEQE([01])", lambda v: self._choose("eq_enabled", int(v), range(2))),
            (r"PBEQT(\d{3})", lambda v: self._choose("eq_time", int(v), range(5, 901, 5))),
            (r"PBEQP(\d{3})", lambda v: self._choose("eq_period", int(v), range(91))),
            (r"PBEQV(\d\d\.\d\d)", lambda v: self._volts("eq_voltage", v, 48, 61)),
            (r"PBEQOT(\d{3})", lambda v: self._choose("eq_over_time", int(v), range(5, 901, 5))),
            (r"PBEQA([01])", lambda v: self._choose("eq_active", int(v), range(2))),
            (r"PE([a-z]+)", lambda v: self._flags(v, on=True)),
            (r"PD([a-z]+)", lambda v: self._flags(v, on=False)),
            (r"PPCP(\d)(\d\d)", self._unit_charger_priority),
            (r"DAT(\d{12})", self._set_clock),
            (r"PF", self._factory_reset),
            (r"RTEY", self._reset_energy),
            (r"RTDL", lambda: None),
        ]  # fmt: skip

    def _choose(self, name: str, value: int, allowed: range | tuple[int, ...]) -> bool:
        if value not in allowed:
            return False
        setattr(self.settings, name, value)
        return True

    def _volts(self, name: str, text: str, low: float, high: float, *, whole: bool = False) -> bool:
        value = float(text)
        if not low <= value <= high or (whole and value != int(value)):
            return False
        setattr(self.settings, name, value)
        return True

    def _redischarge(self, text: str) -> bool:
        value = float(text)
        if value != 0 and not (48 <= value <= 58 and value == int(value)):
            return False
        self.settings.redischarge_voltage = value
        return True

    def _flags(self, letters: str, *, on: bool) -> bool:
        if any(letter not in self.settings.flags for letter in letters):
            return False
        for letter in letters:
            self.settings.flags[letter] = on
        return True

    def _unit_charger_priority(self, unit: str, value: str) -> bool:
        if not self.profile.parallel or int(unit) > 1:
            return False
        return self._choose("charger_priority", int(value), range(4))

    def _set_clock(self, digits: str) -> bool:
        try:
            wanted = datetime.strptime(digits, "%y%m%d%H%M%S")
        except ValueError:
            return False
        self.clock_offset = wanted - self.clock().replace(microsecond=0, tzinfo=None)
        return True

    def _factory_settings(self) -> DeviceSettings:
        return DeviceSettings(output_mode=1 if self.profile.parallel else 0)

    def _factory_reset(self) -> None:
        self.settings = self._factory_settings()

    def _reset_energy(self) -> None:
        self.physics.pv_wh = self.physics.load_wh = 0.0

    def snapshot(self) -> dict[str, object]:
        """Return the stored settings, for tests and logs."""
        return {f.name: getattr(self.settings, f.name) for f in fields(self.settings)}


def _command_name(command: str) -> str:
    """Return the command without its argument (`PBCV46.0` -> `PBCV`, `QPGS0` -> `QPGS`)."""
    # Argument-less queries keep their digits: QVFW2, QPIGS2.
    if command in ("QVFW2", "QVFW3", "QPIGS2"):
        return command
    match = re.match(r"[A-Z]+", command)
    return match.group(0) if match else command
