"""Points of each Studer unit, built from the published object table, canonical keys first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from enum import StrEnum
import functools
import math
import re

from ..model import Category, Point, PointKind, PollGroup, Value, ValueType
from .codec import Raw
from .data.messages import MESSAGES
from .kinds import BMS, BSP, PARAMETERS_120V, VARIOSTRING, VARIOTRACK, XCOM, XTENDER, UnitKind
from .objects import Datapoint, Format, Level


class Route(StrEnum):
    """Where a point's value lives."""

    # The device's own address.
    OWN = "own"
    # Written to the kind's multicast address; read from every unit of the kind.
    GROUP = "group"


@dataclass(frozen=True, kw_only=True, slots=True)
class Binding:
    """A point and the object behind it."""

    point: Point
    datapoint: Datapoint
    kind: UnitKind
    route: Route = Route.OWN
    # Multiplies the wire value: kW -> W, MWh -> kWh, or -1 for a charge current.
    scale: float = 1.0
    decimals: int | None = None
    option_codes: tuple[int, ...] = ()

    def decode(self, raw: Raw) -> Value | None:
        """Return the point's value of a wire value (None when it has no meaning)."""
        point = self.point
        match point.value_type:
            case ValueType.ENUM:
                code = int(raw)
                if code not in self.option_codes:
                    return None
                return point.options[self.option_codes.index(code)]
            case ValueType.BOOL:
                return bool(raw)
            case ValueType.TIME:
                minutes = int(raw) % 1440
                return time(minutes // 60, minutes % 60)
            case ValueType.INT:
                return int(raw)
        number = float(raw) * self.scale
        return round(number, self.decimals) if self.decimals is not None else number

    def encode(self, value: Value) -> Raw:
        """Return the wire value of a validated point value."""
        if self.point.kind is PointKind.ACTION:
            return 1
        if isinstance(value, time):
            return value.hour * 60 + value.minute
        if self.point.value_type is ValueType.ENUM:
            return self.option_codes[self.point.options.index(str(value))]
        if isinstance(value, bool | str):
            return value
        return value / self.scale


@dataclass(frozen=True, kw_only=True, slots=True)
class Total:
    """A system reading summed over the units of some kinds."""

    point: Point
    parts: tuple[tuple[UnitKind, int, float], ...]


@dataclass(frozen=True, kw_only=True)
class Catalogue:
    """The points of one device and what each is bound to."""

    bindings: Mapping[str, Binding]
    totals: Mapping[str, Total] = field(default_factory=dict)
    texts: tuple[Point, ...] = ()

    @functools.cached_property
    def infos(self) -> dict[int, Binding]:
        """Return the bindings of user infos by info number."""
        return {
            binding.datapoint.number: binding
            for binding in self.bindings.values()
            if not binding.datapoint.parameter
        }

    @functools.cached_property
    def points(self) -> list[Point]:
        """Return every point of the device."""
        return [
            *(binding.point for binding in self.bindings.values()),
            *(total.point for total in self.totals.values()),
            *self.texts,
        ]


# Units and their Home Assistant device and state classes -------------------------------------

_DEVICE_CLASSES = {
    "V": "voltage",
    "mV": "voltage",
    "A": "current",
    "W": "power",
    "kW": "power",
    "VA": "apparent_power",
    "kVA": "apparent_power",
    "Hz": "frequency",
    "°C": "temperature",
    "kWh": "energy",
    "MWh": "energy",
    "s": "duration",
    "min": "duration",
    "h": "duration",
    "d": "duration",
    "w": "duration",
}
# Wide bounds for the long tail of infos: a value outside is a broken reading, not a state.
_PLAUSIBLE = {
    "V": (-1000.0, 1000.0),
    "A": (-2000.0, 2000.0),
    "W": (-100_000.0, 100_000.0),
    "VA": (-100_000.0, 100_000.0),
    "kW": (-100.0, 100.0),
    "kVA": (-100.0, 100.0),
    "Hz": (0.0, 100.0),
    "°C": (-50.0, 150.0),
    "%": (-1.0, 200.0),
}
_ENERGY = ("kWh", "MWh", "Ah", "kAh")
_STATIC_INFO = re.compile(r"^(ID |Number of (parameters|infos)|Parameter number|Info user)")
_WORD = re.compile(r"[a-z0-9]+")


def option_keys(options: Iterable[tuple[int, str]]) -> tuple[tuple[int, str, str], ...]:
    """Return (code, key, label) for each option; keys are unique snake_case slugs."""
    out: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    for code, label in options:
        key = "_".join(_WORD.findall(label.lower())) or f"code_{code}"
        if key in seen:
            key = f"{key}_{code}"
        seen.add(key)
        out.append((code, key, label))
    return tuple(out)


def _decimals(step: float | None) -> int:
    if step is None or step >= 1:
        return 0
    return min(4, max(0, -math.floor(math.log10(step) + 1e-9)))


def _aligned(datapoint: Datapoint) -> float | None:
    """Return the step when the default sits on the grid from the minimum, else None."""
    step, base = datapoint.step, datapoint.minimum or 0.0
    if step is None:
        return None
    for value in (datapoint.default, datapoint.maximum):
        if value is not None and abs((value - base) / step - round((value - base) / step)) > 1e-6:
            return None
    return step


# Generic points of the table ----------------------------------------------------------------


def _enum_point(datapoint: Datapoint, *, key: str, name: str) -> Point:
    options = option_keys(datapoint.options)
    return Point(
        key=key,
        name=name,
        value_type=ValueType.ENUM,
        device_class="enum",
        options=tuple(key for _, key, _ in options),
        option_labels=tuple(label for _, _, label in options),
    )


def _option_codes(point: Point, datapoint: Datapoint) -> tuple[int, ...]:
    if point.value_type is not ValueType.ENUM:
        return ()
    return tuple(code for code, _, _ in option_keys(datapoint.options))


def info_binding(kind: UnitKind, datapoint: Datapoint) -> Binding:
    """Return the generic reading of a user info (disabled by default)."""
    static = _STATIC_INFO.match(datapoint.name) is not None
    if datapoint.options and datapoint.format is Format.SHORT_ENUM:
        point = _enum_point(datapoint, key=datapoint.key, name=datapoint.name)
    else:
        unit = datapoint.unit
        point = Point(
            key=datapoint.key,
            name=datapoint.name,
            unit=unit,
            device_class=_DEVICE_CLASSES.get(unit or ""),
            state_class=None if unit in _ENERGY else "measurement",
            plausible=_PLAUSIBLE.get(unit or ""),
        )
    point = replace(
        point,
        group=PollGroup.STATIC if static else PollGroup.LIVE,
        category=Category.DIAGNOSTIC,
        enabled_by_default=False,
    )
    return Binding(
        point=point,
        datapoint=datapoint,
        kind=kind,
        decimals=3,
        option_codes=_option_codes(point, datapoint),
    )


def _parameter_point(datapoint: Datapoint) -> Point:
    """Return a parameter's point as a setting, typed by its format."""
    key, name = datapoint.key, datapoint.name
    if datapoint.signal:
        return Point(key=key, name=name, kind=PointKind.ACTION, value_type=ValueType.BOOL)
    if datapoint.format is Format.BOOL:
        return Point(key=key, name=name, kind=PointKind.SETTING, value_type=ValueType.BOOL)
    if datapoint.options and not datapoint.bitfield:
        return replace(_enum_point(datapoint, key=key, name=name), kind=PointKind.SETTING)
    if datapoint.time_of_day:
        return Point(key=key, name=name, kind=PointKind.SETTING, value_type=ValueType.TIME)
    integer = datapoint.format in (Format.INT32, Format.LONG_ENUM)
    return Point(
        key=key,
        name=name,
        kind=PointKind.SETTING,
        value_type=ValueType.INT if integer else ValueType.FLOAT,
        unit=datapoint.unit,
        device_class=_DEVICE_CLASSES.get(datapoint.unit or ""),
        minimum=datapoint.minimum,
        maximum=datapoint.maximum,
        step=1.0 if integer else _aligned(datapoint),
    )


def parameter_binding(kind: UnitKind, datapoint: Datapoint) -> Binding | None:
    """Return the point of a parameter: a setting, an action or (installer level) a reading."""
    point = _parameter_point(datapoint)
    fixed = point.minimum is not None and point.minimum == point.maximum
    if point.kind is PointKind.ACTION and not datapoint.writable:
        return None
    if not datapoint.writable or fixed:
        # Installer and QSP parameters are shown, never written; so is one without a range.
        point = replace(point, kind=PointKind.READING, minimum=None, maximum=None, step=None)
    point = replace(
        point,
        group=PollGroup.SLOW,
        category=Category.DIAGNOSTIC if point.kind is PointKind.READING else Category.CONFIG,
        enabled_by_default=datapoint.level is Level.BASIC,
        expert=datapoint.level is not Level.BASIC,
    )
    return Binding(
        point=point,
        datapoint=datapoint,
        kind=kind,
        decimals=_decimals(datapoint.step) if point.value_type is ValueType.FLOAT else None,
        option_codes=_option_codes(point, datapoint),
    )


# Canonical readings ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Canonical:
    """How one info becomes a point of the shared vocabulary."""

    key: str
    name: str
    unit: str | None = None
    device_class: str | None = None
    scale: float = 1.0
    plausible: tuple[float, float] | None = None
    precision: int | None = None
    state_class: str | None = "measurement"
    enum: bool = False
    spike: float | None = None


def _volts(key: str, name: str, top: float) -> Canonical:
    return Canonical(
        key=key, name=name, unit="V", device_class="voltage", plausible=(0, top), precision=1
    )


def _amps(key: str, name: str, top: float, *, scale: float = 1.0) -> Canonical:
    return Canonical(
        key=key,
        name=name,
        unit="A",
        device_class="current",
        scale=scale,
        plausible=(-top, top),
        precision=1,
    )


def _watts(key: str, name: str, low: float, top: float, *, scale: float = 1000.0) -> Canonical:
    unit, device_class = ("VA", "apparent_power") if "apparent" in key else ("W", "power")
    return Canonical(
        key=key,
        name=name,
        unit=unit,
        device_class=device_class,
        scale=scale,
        plausible=(low, top),
        precision=0,
    )


def _energy(key: str, name: str, *, total: bool = False, scale: float = 1.0) -> Canonical:
    return Canonical(
        key=key,
        name=name,
        unit="kWh",
        device_class="energy",
        scale=scale,
        plausible=(0, 10_000_000) if total else (0, 1000),
        precision=3,
        state_class="total_increasing" if total else None,
    )


def _enum(key: str, name: str) -> Canonical:
    return Canonical(key=key, name=name, enum=True, state_class=None)


_BATTERY_TEMPERATURE = Canonical(
    key="battery_temperature",
    name="Battery temperature",
    unit="°C",
    device_class="temperature",
    # Without a sensor the Xtender reports about 32767 °C: implausible, so not published.
    plausible=(-40, 100),
    precision=1,
)
_SOC = Canonical(
    key="battery_soc",
    name="Battery state of charge",
    unit="%",
    device_class="battery",
    plausible=(0, 100),
    precision=0,
)
_PHASE = _enum("battery_cycle_phase", "Battery cycle phase")
_MODE = _enum("device_mode", "Device mode")
# Studer reports currents into the battery as positive; the shared vocabulary counts
# discharge as positive, so each battery current (and the BSP's power) is negated once, here.
_INTO_BATTERY = -1.0

_BATTERY_MONITOR = {
    7000: _volts("battery_voltage", "Battery voltage", 80),
    7001: _amps("battery_current", "Battery current", 1000, scale=_INTO_BATTERY),
    7002: _SOC,
    7003: _watts("battery_power", "Battery power", -40_000, 40_000, scale=_INTO_BATTERY),
    7029: _BATTERY_TEMPERATURE,
}
CANONICAL: Mapping[str, Mapping[int, Canonical]] = {
    XTENDER.id: {
        3000: _volts("battery_voltage", "Battery voltage", 80),
        3001: _BATTERY_TEMPERATURE,
        3005: _amps("battery_current", "Battery current", 1000, scale=_INTO_BATTERY),
        3007: _SOC,
        3010: _PHASE,
        3011: _volts("ac_input_voltage", "AC input voltage", 300),
        3012: _amps("ac_input_current", "AC input current", 100),
        3021: _volts("ac_output_voltage", "AC output voltage", 300),
        3022: _amps("ac_output_current", "AC current", 100),
        3028: _MODE,
        3078: _energy("battery_discharge_energy_today", "Battery discharge energy today"),
        3079: _energy("battery_charge_energy_today", "Battery charge energy today"),
        3081: _energy("grid_import_energy_today", "Grid import energy today"),
        3083: _energy("load_energy_today", "Load energy today"),
        3084: Canonical(
            key="ac_input_frequency",
            name="AC input frequency",
            unit="Hz",
            device_class="frequency",
            plausible=(0, 70),
            precision=2,
        ),
        3085: Canonical(
            key="ac_output_frequency",
            name="AC output frequency",
            unit="Hz",
            device_class="frequency",
            plausible=(0, 70),
            precision=2,
        ),
        3104: Canonical(
            key="inverter_temperature",
            name="Inverter temperature",
            unit="°C",
            device_class="temperature",
            plausible=(-40, 150),
            precision=0,
        ),
        3136: _watts("ac_output_power", "AC output power", -1000, 30_000),
        # Positive while the Xtender draws from AC-in, negative while it feeds the grid.
        3137: _watts("grid_power", "Grid power", -30_000, 30_000),
        3139: _watts("ac_output_apparent_power", "AC output apparent power", 0, 30_000),
    },
    VARIOTRACK.id: {
        11000: _volts("battery_voltage", "Battery voltage", 80),
        11001: _amps("battery_current", "Battery current", 1000, scale=_INTO_BATTERY),
        11002: _volts("pv1_voltage", "PV1 voltage", 1000),
        11003: _amps("pv1_current", "PV1 current", 200),
        11004: _watts("pv_power", "PV power", 0, 40_000),
        11005: _BATTERY_TEMPERATURE,
        11007: _energy("pv_energy_today", "PV energy today"),
        11009: _energy("pv_energy", "PV energy", total=True, scale=1000.0),
        11016: _MODE,
        11038: _PHASE,
    },
    VARIOSTRING.id: {
        15000: _volts("battery_voltage", "Battery voltage", 80),
        15001: _amps("battery_current", "Battery current", 1000, scale=_INTO_BATTERY),
        15002: _PHASE,
        15005: _volts("pv1_voltage", "PV1 voltage", 1000),
        15006: _volts("pv2_voltage", "PV2 voltage", 1000),
        15008: _amps("pv1_current", "PV1 current", 200),
        15009: _amps("pv2_current", "PV2 current", 200),
        15010: _watts("pv_power", "PV power", 0, 40_000),
        15011: _watts("pv1_power", "PV1 power", 0, 20_000),
        15012: _watts("pv2_power", "PV2 power", 0, 20_000),
        15013: _MODE,
        15017: _energy("pv_energy_today", "PV energy today"),
        15023: _energy("pv_energy", "PV energy", total=True, scale=1000.0),
        15024: _energy("pv1_energy", "PV1 energy", total=True, scale=1000.0),
        15025: _energy("pv2_energy", "PV2 energy", total=True, scale=1000.0),
        15032: _BATTERY_TEMPERATURE,
    },
    BSP.id: _BATTERY_MONITOR,
    BMS.id: _BATTERY_MONITOR,
}


def canonical_binding(kind: UnitKind, datapoint: Datapoint, canonical: Canonical) -> Binding:
    """Return the shared-vocabulary reading of an info."""
    if canonical.enum:
        point = _enum_point(datapoint, key=canonical.key, name=canonical.name)
    else:
        point = Point(
            key=canonical.key,
            name=canonical.name,
            unit=canonical.unit,
            device_class=canonical.device_class,
            plausible=canonical.plausible,
            precision=canonical.precision,
            state_class=canonical.state_class,
        )
    return Binding(
        point=point,
        datapoint=datapoint,
        kind=kind,
        scale=canonical.scale,
        decimals=None if canonical.enum else (canonical.precision or 0) + 1,
        option_codes=_option_codes(point, datapoint),
    )


# Catalogues -----------------------------------------------------------------------------------


def _parameters(kind: UnitKind, *, volts_120: bool = False) -> list[Datapoint]:
    if not volts_120:
        return list(kind.parameters)
    return [PARAMETERS_120V.get(datapoint.number, datapoint) for datapoint in kind.parameters]


@functools.cache
def unit_catalogue(kind: UnitKind, *, volts_120: bool = False) -> Catalogue:
    """Return the points of one unit of a kind (Xtender limits for 120 Vac models on request)."""
    canonical = CANONICAL.get(kind.id, {})
    bindings: dict[str, Binding] = {}
    for datapoint in kind.infos:
        if datapoint.number in canonical:
            binding = canonical_binding(kind, datapoint, canonical[datapoint.number])
        else:
            binding = info_binding(kind, datapoint)
        bindings[binding.point.key] = binding
    for datapoint in _parameters(kind, volts_120=volts_120):
        if (parameter := parameter_binding(kind, datapoint)) is not None:
            bindings[parameter.point.key] = parameter
    return Catalogue(bindings=bindings)


# Messages ------------------------------------------------------------------------------------

# A code the published table does not list (newer firmware): its number still shows. Not
# "unknown", which Home Assistant reads as a state it does not know.
UNLISTED_MESSAGE = "unlisted"
# "Halted (019): Battery undervoltage": the severity, the code, the published short name.
_MESSAGE_NAME = re.compile(r"^[A-Za-z ]*\(\d+\): ")


def message_key(code: int) -> str:
    """Return the stable state key of a message code: its number and its short name."""
    text = MESSAGES.get(code)
    if text is None:
        return UNLISTED_MESSAGE
    words = _WORD.findall(_MESSAGE_NAME.sub("", text).lower())
    return "_".join([f"m{code:03d}", *words])


# The Xcom's message log as readings of the system device: which message (translated as a
# state), its number and the unit that sent it.
LAST_MESSAGE = Point(
    key="last_message",
    name="Last message",
    value_type=ValueType.ENUM,
    device_class="enum",
    options=(*(message_key(code) for code in sorted(MESSAGES)), UNLISTED_MESSAGE),
    option_labels=(
        *(MESSAGES[code] for code in sorted(MESSAGES)),
        "Message not in the published table",
    ),
    category=Category.DIAGNOSTIC,
    icon="mdi:message-alert",
)
LAST_MESSAGE_CODE = Point(
    key="last_message_code",
    name="Last message code",
    value_type=ValueType.INT,
    category=Category.DIAGNOSTIC,
    enabled_by_default=False,
    icon="mdi:numeric",
)
LAST_MESSAGE_UNIT = Point(
    key="last_message_unit",
    name="Last message unit",
    value_type=ValueType.INT,
    category=Category.DIAGNOSTIC,
    icon="mdi:message-arrow-right",
)
MESSAGE_POINTS = (LAST_MESSAGE, LAST_MESSAGE_CODE, LAST_MESSAGE_UNIT)


def message_values(code: int, source: int) -> dict[str, Value]:
    """Return the message readings of one message: its key, its number and its unit's address."""
    return {
        LAST_MESSAGE.key: message_key(code),
        LAST_MESSAGE_CODE.key: code,
        LAST_MESSAGE_UNIT.key: source,
    }


_TOTALS = (
    (
        _watts("ac_output_power", "AC output power", -1000, 100_000),
        ((XTENDER, 3136, 1000.0),),
    ),
    (
        _watts("grid_power", "Grid power", -100_000, 100_000),
        ((XTENDER, 3137, 1000.0),),
    ),
    (
        _watts("pv_power", "PV power", 0, 100_000),
        ((VARIOTRACK, 11004, 1000.0), (VARIOSTRING, 15010, 1000.0)),
    ),
)


@functools.cache
def system_catalogue(kinds: frozenset[str]) -> Catalogue:
    """Return the points of the system: Xcom parameters, group settings and totals."""
    bindings: dict[str, Binding] = {}
    for datapoint in XCOM.parameters:
        if (binding := parameter_binding(XCOM, datapoint)) is not None:
            bindings[binding.point.key] = binding
    for kind in (XTENDER, VARIOTRACK, VARIOSTRING):
        if kind.id not in kinds:
            continue
        for datapoint in kind.parameters:
            binding = parameter_binding(kind, datapoint)
            if binding is not None and binding.point.kind is PointKind.SETTING:
                bindings[binding.point.key] = replace(binding, route=Route.GROUP)
    totals: dict[str, Total] = {}
    for canonical, parts in _TOTALS:
        present = tuple(part for part in parts if part[0].id in kinds)
        if present:
            point = canonical_binding(XTENDER, XTENDER.infos[0], canonical).point
            totals[point.key] = Total(point=point, parts=present)
    return Catalogue(bindings=bindings, totals=totals, texts=MESSAGE_POINTS)
