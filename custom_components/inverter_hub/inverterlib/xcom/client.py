"""The Xcom client: find the Studer units behind one Xcom, read their infos, set parameters."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
import logging
import math
import time

from ..client import InverterClient
from ..errors import (
    FrameError,
    InverterError,
    LinkTimeoutError,
    ReadBackMismatchError,
    UnknownPointError,
    UnsupportedError,
)
from ..model import DeviceIdentity, Point, PointKind, Value
from ..transport.base import Link
from ..transport.serial import SerialSettings
from ..validate import same_value
from .catalogue import (
    MESSAGE_POINTS,
    Binding,
    Catalogue,
    Route,
    Total,
    message_values,
    system_catalogue,
    unit_catalogue,
)
from .codec import (
    MULTI_INFO_MAX,
    MULTI_INFO_OBJECT,
    FrameFlags,
    ObjectType,
    Property,
    Raw,
    Service,
    ServiceData,
    XcomMessage,
    decode_message,
    decode_multi_info,
    decode_value,
    encode_multi_info,
    encode_value,
)
from .data.messages import MESSAGES
from .errors import (
    GatewayBusyError,
    ScomError,
    UnitUnreachableError,
    XcomRefusedError,
    XcomUnsupportedError,
)
from .kinds import (
    BMS,
    BSP,
    KINDS,
    UNIT_KINDS,
    XCOM,
    XCOM_ADDRESS,
    XTENDER,
    UnitKind,
    fid_serial,
    software_version,
)
from .limits import Range, RangeKey, bounded, check, limited, narrowest, read_at_setup, usable
from .objects import Datapoint, Format
from .peers import PHASE_INFO, SHARED, InfoItem, Peer, peer_items, strays
from .wire import BUSY_PAUSE, TIMEOUT, XcomWire

_LOGGER = logging.getLogger(__name__)

FAMILY = "xcom"
MANUFACTURER = "Studer Innotec"
SERIAL_SETTINGS = SerialSettings(38400, parity="E")
# RS-232 point to point: no bus turnaround to wait for.
GAP = 0.0
SYSTEM = "system"
# An info value read for one reader (a unit, or the system's totals) serves the others for at
# most this long; a poll cycle that takes longer reads the rest afresh.
PREFETCH_TTL = 2.0
# The Xtender's ID Uout (info 3126) below this means a 120 Vac model with other limits.
VOLTS_120_BELOW = 160.0
# The nominal AC output voltage of a 230 Vac model (False) and of a 120 Vac one (True).
NOMINAL_VOLTS = {False: 230.0, True: 120.0}
_ID_UOUT = 3126
# Writing this signal to the Xcom clears its "restarted" frame flag.
_CLEAR_RESTART_FLAG = 5104
_MESSAGE_LOG = 50
# The SCOM watchdog delay the client sets (s): a unit falls back to its saved settings within
# two minutes of the link stopping, while polls up to a minute apart, plus a cycle slowed by
# timeouts and the keep-alive below, never let it fire as long as the link works.
WATCHDOG_DELAY = 120.0
# A unit with a watchdog that has not been addressed for this long is read directly: a
# multi-info request goes to the Xcom, not to the unit. The read checks the watchdog is on.
WATCHDOG_KEEPALIVE = 30.0


@dataclass(kw_only=True, slots=True)
class ReadRound:
    """The info values read since a round began, and the readers that read in it.

    A reader is a unit reading its own infos (its address) or the system reading the units'
    infos for its totals (the Xcom's address). A poll cycle reads each reader once, so a
    round is a cycle: it ends when a reader reads again or its first value grows too old.
    Within it, each info is read once and serves every reader that wants it.
    """

    started: float
    readers: set[int] = field(default_factory=set)
    values: dict[InfoItem, Raw] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Unit:
    """A unit found behind the Xcom, and the points it has."""

    kind: UnitKind
    address: int
    identity: DeviceIdentity
    catalogue: Catalogue
    # An Xtender that knows its phase, as its parallel peers compare with it.
    peer: Peer | None = None


class XcomClient(InverterClient):
    """Talk SCOM to an Xcom and to every Xtender, VarioTrack, VarioString and BSP behind it."""

    family = FAMILY

    def __init__(
        self,
        link: Link,
        *,
        flash: bool = False,
        multi_info: bool | None = None,
        busy_pause: float = BUSY_PAUSE,
        prefetch_ttl: float = PREFETCH_TTL,
        watchdog: float | None = None,
        expert: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Bind to a link.

        Parameters are written to RAM unless `flash` (each flash write wears the device's
        memory, about 1000 writes). `multi_info` None detects whether the gateway batches
        user infos (an Xcom-LAN/GSM feature of recent firmware). `watchdog` is the delay (s)
        of the SCOM watchdog to switch on in each unit's RAM; None leaves the watchdogs alone.
        `expert` reads the ranges of expert settings at setup too (they are entities then).
        """
        super().__init__(link)
        self.wire = XcomWire(link, busy_pause=busy_pause)
        self.flash = flash
        self.flash_writes = 0
        self.watchdog = watchdog
        self.expert = expert
        self.watchdog_writes = 0
        self.watchdog_fallbacks = 0
        # The units whose watchdog this client switched on, with the switch's parameter.
        self.armed: dict[int, Datapoint] = {}
        self.held_back = 0
        self._clock = clock
        self.multi_info = multi_info
        self.prefetch_ttl = prefetch_ttl
        self.info_property = Property.VALUE
        self.units: dict[int, Unit] = {}
        self.unreachable: set[int] = set()
        self.messages: deque[XcomMessage] = deque(maxlen=_MESSAGE_LOG)
        self.restarts = 0
        self._system: DeviceIdentity | None = None
        self._ram_unsupported: set[int] = set()
        # Parameter ranges the units reported (None: refused; the appendix's range applies).
        self._ranges: dict[RangeKey, Range | None] = {}
        self._missing: set[tuple[int, int]] = set()
        self._wanted_infos: dict[int, tuple[InfoItem, ...]] = {}
        self._round = ReadRound(started=-math.inf)
        self._restart_seen = False
        self._follow_up = False
        # When each address was last asked directly (a multi-info request asks the Xcom).
        self._addressed: dict[int, float] = {}
        # The shared outputs held back for straying from their peers, logged once each.
        self._held: set[InfoItem] = set()

    # Transactions -------------------------------------------------------------------------

    async def _transact(
        self,
        address: int,
        request: ServiceData,
        what: str,
        *,
        retry: bool = True,
        track: bool = True,
    ) -> bytes:
        """Send one request and return the value it reads; then act on the Xcom's flags.

        `track` records a unit that stops or starts answering (not while probing addresses).
        """
        try:
            reply = await self.wire.transact(address, request, what=what, retry=retry)
        except UnitUnreachableError:
            if track:
                self._lost(address)
            raise
        self._addressed[address] = self._clock()
        self._answered(address)
        await self._heed_flags()
        return reply.value

    def _lost(self, address: int) -> None:
        if address not in self.unreachable:
            _LOGGER.warning("unit %d behind %s stopped answering", address, self._where)
            self.unreachable.add(address)

    def _answered(self, address: int) -> None:
        if address in self.unreachable:
            _LOGGER.info("unit %d behind %s answers again", address, self._where)
            self.unreachable.discard(address)

    @property
    def _where(self) -> str:
        return self.link.description

    async def _heed_flags(self) -> None:
        """Count a restart of the Xcom and fetch a pending message, once each."""
        flags = self.wire.flags
        if self._follow_up:
            return
        self._follow_up = True
        try:
            if FrameFlags.RESTARTED in flags and not self._restart_seen:
                self._restart_seen = True
                self.restarts += 1
                # Before any unit is known this is the flag left from power-up, not news.
                _LOGGER.log(
                    logging.WARNING if self.units else logging.INFO,
                    "the Xcom on %s restarted; parameters written to RAM may be lost",
                    self._where,
                )
                await self._signal(XCOM_ADDRESS, _CLEAR_RESTART_FLAG, "clear the restart flag")
            elif FrameFlags.RESTARTED not in flags:
                self._restart_seen = False
            if FrameFlags.MESSAGE_PENDING in flags:
                await self._fetch_message()
        except InverterError as err:
            _LOGGER.debug("follow-up on the Xcom's flags failed: %s", err)
        finally:
            self._follow_up = False

    async def _signal(self, address: int, number: int, what: str) -> None:
        request = ServiceData(
            service=Service.WRITE,
            object_type=ObjectType.PARAMETER,
            object_id=number,
            property_id=Property.VALUE_QSP,
            value=encode_value(Format.INT32, 1),
        )
        await self._transact(address, request, what, retry=False)

    async def _fetch_message(self) -> None:
        """Read the newest message of the Xcom's log (reading it clears the pending flag)."""
        request = ServiceData(
            service=Service.READ,
            object_type=ObjectType.MESSAGE,
            object_id=0,
            property_id=Property.MESSAGE,
        )
        message = decode_message(await self._transact(XCOM_ADDRESS, request, "read message"))
        self.messages.append(message)
        _LOGGER.info("message from unit %d: %s", message.source, message_text(message))

    async def _read_object(
        self,
        address: int,
        datapoint: Datapoint,
        *,
        property_id: Property | None = None,
        track: bool = True,
    ) -> Raw | None:
        """Read one info or parameter value (None: the unit has no usable value now)."""
        if datapoint.parameter:
            object_type = ObjectType.PARAMETER
            if property_id is None:
                property_id = (
                    Property.VALUE_QSP
                    if address in self._ram_unsupported
                    else Property.UNSAVED_VALUE_QSP
                )
        else:
            object_type, property_id = ObjectType.INFO, self.info_property
        request = ServiceData(
            service=Service.READ,
            object_type=object_type,
            object_id=datapoint.number,
            property_id=property_id,
        )
        what = f"read {datapoint.number}"
        try:
            data = await self._transact(address, request, what, track=track)
        except XcomUnsupportedError as err:
            if err.scom_code != ScomError.PROPERTY_NOT_SUPPORTED:
                raise
            if property_id is Property.UNSAVED_VALUE_QSP:
                # Firmware before 1.6.12 has no RAM copy; its value is the flash one.
                self._ram_unsupported.add(address)
                return await self._read_object(address, datapoint, track=track)
            if property_id is Property.VALUE and not datapoint.parameter:
                # The specification reads infos with property 1; some gateways want 5.
                self.info_property = Property.VALUE_QSP
                return await self._read_object(address, datapoint, track=track)
            raise
        except XcomRefusedError as err:
            if err.scom_code != ScomError.INVALID_DATA:
                raise
            # Some units refuse a read of an object they lack with INVALID_DATA, not
            # OBJECT_ID_NOT_FOUND: pystuderxcom's discovery tells a BSP from a BMS by it.
            raise XcomUnsupportedError(str(err), err.scom_code, address) from err
        try:
            return decode_value(datapoint.format, data)
        except FrameError as err:
            # A NaN or a misfit length is a value the unit does not have now, not a broken link.
            _LOGGER.debug("unit %d, %d: %s", address, datapoint.number, err)
            return None

    async def _read_info(self, address: int, kind: UnitKind, number: int) -> Raw | None:
        """Read an identity info; None where the unit does not have it."""
        datapoint = _info(kind, number)
        try:
            return await self._read_object(address, datapoint)
        except (XcomUnsupportedError, UnitUnreachableError) as err:
            _LOGGER.debug("unit %d has no info %d: %s", address, number, err)
            return None

    # Finding units ------------------------------------------------------------------------

    async def _probe(self, kind: UnitKind, address: int) -> bool:
        """Return whether a unit of this kind answers at the address."""
        try:
            probe = _parameter(XCOM, kind.probe) if kind is XCOM else _info(kind, kind.probe)
            await self._read_object(address, probe, track=False)
        except UnitUnreachableError:
            return False
        except LinkTimeoutError:
            if kind is XCOM:
                raise
            # The Xcom answers for absent units; silence here is a unit that hung.
            _LOGGER.info("address %d did not answer its probe", address)
            return False
        except XcomUnsupportedError:
            return False
        return True

    async def _find(self, address: int) -> Unit | None:
        """Return the unit at an address, identified, or None when nothing answers there."""
        for kind in _kinds_at(address):
            if await self._probe(kind, address):
                return await self._identified(kind, address)
        return None

    async def _identified(self, kind: UnitKind, address: int) -> Unit:
        model_code = (
            await self._read_info(address, kind, kind.model_info) if kind.model_info else None
        )
        software = fid = None
        if kind.software is not None:
            msb, lsb = [await self._read_info(address, kind, n) for n in kind.software]
            if msb is not None and lsb is not None:
                software = software_version(float(msb), float(lsb))
        if kind.fid is not None:
            msb, lsb = [await self._read_info(address, kind, n) for n in kind.fid]
            if msb is not None and lsb is not None:
                fid = fid_serial(float(msb), float(lsb))
        if fid in _BLANK_FIDS:
            _LOGGER.info("unit %d reports no factory id (%s)", address, fid)
            fid = None
        volts_120 = False
        peer = None
        if kind is XTENDER:
            nominal = await self._read_info(address, kind, _ID_UOUT)
            volts_120 = nominal is not None and 0 < float(nominal) < VOLTS_120_BELOW
            phase = await self._read_info(address, kind, PHASE_INFO)
            if phase is not None:
                peer = Peer(address=address, phase=float(phase), volts=NOMINAL_VOLTS[volts_120])
        profile = f"{kind.id}_120v" if volts_120 else kind.id
        model = kind.model(None if model_code is None else int(model_code))
        details = {"kind": kind.id, "index": str(kind.index(address))}
        if fid is None:
            details["serial_source"] = "derived"
        identity = DeviceIdentity(
            serial_number=fid or f"{kind.id}-{address}",
            family=FAMILY,
            model=model,
            manufacturer=MANUFACTURER,
            address=str(address),
            firmware=software,
            profile=profile,
            details=details,
        )
        catalogue = unit_catalogue(kind, volts_120=volts_120)
        return Unit(kind=kind, address=address, identity=identity, catalogue=catalogue, peer=peer)

    async def identify(self) -> list[DeviceIdentity]:
        """Find the Xcom and every unit behind it; return the system first, then the units."""
        self.units.clear()
        self._round = ReadRound(started=-math.inf)
        gateway = await self._probe(XCOM, XCOM_ADDRESS)
        for kind in UNIT_KINDS:
            for address in kind.addresses:
                if (unit := await self._find(address)) is not None:
                    self.units[address] = unit
        if not self.units:
            raise UnsupportedError(f"no Studer unit answered behind the Xcom on {self._where}")
        self.units = _distinct(self.units)
        first = next(iter(self.units.values())).identity
        kinds = sorted({unit.kind.id for unit in self.units.values()})
        self._system = DeviceIdentity(
            serial_number=f"xcom-{first.serial_number}",
            family=FAMILY,
            model="Xcom system" if gateway else "Studer system",
            manufacturer=MANUFACTURER,
            address=str(XCOM_ADDRESS),
            profile=SYSTEM,
            details={"kinds": ",".join(kinds)},
        )
        self.units = {
            address: _with_parent(unit, self._system.serial_number)
            for address, unit in self.units.items()
        }
        for address in ([XCOM_ADDRESS] if gateway else []) + list(self.units):
            await self._read_ranges(address)
        if self.multi_info is None:
            self.multi_info = await self._detect_multi_info()
        self.armed.clear()
        for unit in self.units.values():
            await self._arm(unit)
        return [self._system, *(unit.identity for unit in self.units.values())]

    def diagnostics(self) -> dict[str, object]:
        """Return how often flash was written and the Xcom restarted, and the write target."""
        return {
            "write_target": "flash" if self.flash else "ram",
            "flash_writes": self.flash_writes,
            "xcom_restarts": self.restarts,
            "multi_info": self.multi_info,
            "scom_watchdog_delay": self.watchdog,
            "scom_watchdogs_on": sorted(self.armed),
            "scom_watchdog_writes": self.watchdog_writes,
            "scom_watchdog_fallbacks": self.watchdog_fallbacks,
            "values_held_back": self.held_back,
        }

    async def scan(self, addresses: Iterable[int]) -> list[DeviceIdentity]:
        """Return units that answer at these addresses and were not known yet."""
        found: list[DeviceIdentity] = []
        parent = self._system.serial_number if self._system else None
        for address in addresses:
            if address in self.units or not _kinds_at(address):
                continue
            unit = await self._find(address)
            if unit is None:
                continue
            unit = _distinct({address: unit}, self.units.values())[address]
            unit = _with_parent(unit, parent)
            self.units[address] = unit
            await self._read_ranges(address)
            await self._arm(unit)
            found.append(unit.identity)
        return found

    async def _detect_multi_info(self) -> bool:
        """Return whether the gateway answers a multi-info request."""
        unit = next(iter(self.units.values()))
        try:
            await self._multi_info([(unit.kind.probe, unit.kind.index(unit.address))])
        except (XcomUnsupportedError, XcomRefusedError, LinkTimeoutError, FrameError) as err:
            _LOGGER.debug("no multi-info on %s: %s", self._where, err)
            return False
        return True

    # SCOM watchdog ------------------------------------------------------------------------

    async def _arm(self, unit: Unit) -> None:
        """Switch a unit's SCOM watchdog on in RAM with the client's delay; read both back.

        Never in flash, whatever the write target: a watchdog saved there would keep resetting
        the unit after this client is gone for good.
        """
        if self.watchdog is None or unit.kind.watchdog is None:
            return
        address = unit.address
        if address in self._ram_unsupported:
            _LOGGER.warning("unit %d keeps no RAM copy of parameters; no SCOM watchdog", address)
            return
        enable, delay = (_parameter(unit.kind, number) for number in unit.kind.watchdog)
        problem = None
        try:
            # The delay first, so the watchdog never runs on a shorter one left from before.
            for datapoint, value in ((delay, self.watchdog), (enable, True)):
                await self._write_parameter(address, datapoint, value, flash=False)
                self.watchdog_writes += 1
                actual = await self._read_object(address, datapoint)
                if actual is None or not math.isclose(float(actual), float(value), abs_tol=0.5):
                    problem = f"parameter {datapoint.number} reads back as {actual!r}"
                    break
        except (XcomRefusedError, XcomUnsupportedError) as err:
            problem = str(err)
        if problem is not None:
            self.armed.pop(address, None)
            _LOGGER.warning(
                "could not switch on the SCOM watchdog of unit %d: %s", address, problem
            )
            return
        self.armed[address] = enable
        _LOGGER.info(
            "unit %d falls back to its saved settings after %g s without a frame",
            address,
            self.watchdog,
        )

    async def _keep_watchdogs(self) -> None:
        """Read each watchdog's switch whose unit heard nothing for a while; re-arm it if off."""
        now = self._clock()
        for address, enable in sorted(self.armed.items()):
            last = self._addressed.get(address, -math.inf)
            if address in self.unreachable or now - last < WATCHDOG_KEEPALIVE:
                continue
            # A unit that does not answer is not asked again before the next keep-alive is due.
            self._addressed[address] = now
            try:
                on = await self._read_object(address, enable)
            except (LinkTimeoutError, XcomRefusedError, XcomUnsupportedError) as err:
                _LOGGER.debug("keep-alive of unit %d failed: %s", address, err)
                continue
            if not on:
                self.watchdog_fallbacks += 1
                _LOGGER.warning(
                    "unit %d runs on its saved settings (its SCOM watchdog fired or it restarted); "
                    "switching its watchdog on again",
                    address,
                )
                await self._arm(self.units[address])

    # Device ranges ------------------------------------------------------------------------

    async def _read_ranges(self, address: int) -> None:
        """Read the ranges of the basic numeric settings a unit (or the Xcom) exposes."""
        if address == XCOM_ADDRESS:
            bindings = [
                binding
                for binding in system_catalogue(frozenset()).bindings.values()
                if binding.route is Route.OWN
            ]
            owner = _XCOM_OWNER
        else:
            unit = self.units[address]
            bindings = list(unit.catalogue.bindings.values())
            owner = _owner(unit.identity)
        for binding in bindings:
            if read_at_setup(binding, expert=self.expert):
                await self._range(address, owner, binding)

    async def _range(
        self, address: int, owner: tuple[str, str | None], binding: Binding
    ) -> Range | None:
        """Return a parameter's range on a unit, read once per profile and firmware."""
        key = _range_key(owner, binding)
        if key in self._ranges:
            return self._ranges[key]
        datapoint = binding.datapoint
        try:
            low = await self._read_object(address, datapoint, property_id=Property.MIN_QSP)
            high = await self._read_object(address, datapoint, property_id=Property.MAX_QSP)
        except (LinkTimeoutError, GatewayBusyError) as err:
            # Asked again at the next write; the appendix's range applies meanwhile.
            _LOGGER.debug("no range of %d from unit %d: %s", datapoint.number, address, err)
            return None
        except (XcomUnsupportedError, XcomRefusedError) as err:
            found = None
            _LOGGER.debug(
                "unit %d gives no range of %d (%s); the appendix's applies",
                address,
                datapoint.number,
                err,
            )
        else:
            found = usable(low, high)
            if found is None:
                _LOGGER.debug(
                    "unit %d reports no usable range of %d (%r to %r); the appendix's applies",
                    address,
                    datapoint.number,
                    low,
                    high,
                )
        self._ranges[key] = found
        return found

    def _owners(
        self, device: DeviceIdentity, binding: Binding
    ) -> list[tuple[int, tuple[str, str | None]]]:
        """Return the addresses a setting lives at, each with whose ranges it shares."""
        if device.profile != SYSTEM:
            return [(int(device.address), _owner(device))]
        if binding.route is Route.GROUP:
            return [(a, _owner(self.units[a].identity)) for a in self._units_of(binding.kind)]
        return [(XCOM_ADDRESS, _XCOM_OWNER)]

    async def _check_range(self, device: DeviceIdentity, binding: Binding, raw: Raw) -> None:
        """Refuse a value outside the range of any unit the write reaches (read if unknown)."""
        owners = self._owners(device, binding)
        found = narrowest([await self._range(address, owner, binding) for address, owner in owners])
        if found is None:
            return
        if device.profile != SYSTEM:
            where = f"unit {device.address}"
        elif binding.route is Route.GROUP:
            where = f"every {binding.kind.title}"
        else:
            where = "the Xcom"
        check(binding.point, raw, found, where)

    # Catalogues ---------------------------------------------------------------------------

    def _catalogue(self, device: DeviceIdentity) -> Catalogue:
        if device.profile == SYSTEM:
            kinds = device.details.get("kinds", "")
            return system_catalogue(frozenset(filter(None, kinds.split(","))))
        kind_id, _, variant = (device.profile or "").partition("_")
        kind = KINDS.get(kind_id)
        if kind is None:
            raise UnsupportedError(f"{device.title} is not a Studer unit this library knows")
        return unit_catalogue(kind, volts_120=variant == "120v")

    def catalogue(self, device: DeviceIdentity) -> Sequence[Point]:
        """Return the points of a unit, or of the system, with the ranges the units reported."""
        catalogue = self._catalogue(device)
        points: list[Point] = []
        for point in catalogue.points:
            binding = catalogue.bindings.get(point.key)
            found = None
            if binding is not None and bounded(binding):
                owners = self._owners(device, binding)
                found = narrowest(self._ranges.get(_range_key(o, binding)) for _, o in owners)
            points.append(point if found is None else limited(point, found))
        return points

    def _binding(self, catalogue: Catalogue, key: str) -> Binding:
        try:
            return catalogue.bindings[key]
        except KeyError:
            raise UnknownPointError(f"no point {key!r}", key=key) from None

    def _units_of(self, kind: UnitKind) -> list[int]:
        return [address for address, unit in self.units.items() if unit.kind is kind]

    # Reading ------------------------------------------------------------------------------

    async def read(self, device: DeviceIdentity, keys: Collection[str]) -> dict[str, Value]:
        """Read the named points of one device."""
        if device.profile == SYSTEM:
            await self._keep_watchdogs()
            return await self._read_system(device, keys)
        address = int(device.address)
        values = await self.read_many({address: keys})
        result = values[address]
        if isinstance(result, InverterError):
            raise result
        return result

    async def read_many(
        self, wanted: Mapping[int, Collection[str]]
    ) -> dict[int, dict[str, Value] | InverterError]:
        """Read points of several units (by address); a unit that fails gets its error.

        User infos of every unit go into as few multi-info requests as the gateway allows;
        parameters are read one by one.
        """
        await self._keep_watchdogs()
        results: dict[int, dict[str, Value] | InverterError] = {}
        infos: dict[int, list[tuple[int, Datapoint]]] = {}
        for address, keys in wanted.items():
            unit = self.units.get(address)
            if unit is None:
                results[address] = UnsupportedError(f"no unit at address {address}; identify first")
                continue
            datapoints = [self._binding(unit.catalogue, key).datapoint for key in keys]
            infos[address] = [(address, dp) for dp in datapoints if not dp.parameter]
            results[address] = {}
        raws = await self._read_infos(infos, results)
        for address, keys in wanted.items():
            values = results[address]
            if isinstance(values, InverterError):
                continue
            unit = self.units[address]
            try:
                for key in keys:
                    binding = unit.catalogue.bindings[key]
                    raw = raws.get((address, binding.datapoint.number))
                    if binding.datapoint.parameter:
                        raw = await self._read_known(address, binding.datapoint)
                    if raw is not None and (value := binding.decode(raw)) is not None:
                        values[key] = value
            except UnitUnreachableError as err:
                results[address] = err
        return results

    async def _read_known(self, address: int, datapoint: Datapoint) -> Raw | None:
        """Read a value, or None (remembered) where the unit lacks the object."""
        if (address, datapoint.number) in self._missing:
            return None
        try:
            return await self._read_object(address, datapoint)
        except XcomUnsupportedError as err:
            _LOGGER.info("unit %d lacks %d (%s); not asked again", address, datapoint.number, err)
            self._missing.add((address, datapoint.number))
            return None

    async def _read_infos(
        self,
        infos: Mapping[int, Sequence[tuple[int, Datapoint]]],
        results: dict[int, dict[str, Value] | InverterError],
    ) -> dict[InfoItem, Raw]:
        """Return the raw values of the infos each reader asks, by unit address and info number.

        `infos` maps a reader (a unit, or the Xcom for the totals) to (unit address, info) pairs.
        A value read earlier in the round serves this reader, so a cycle reads each info once.
        """
        current = self._join_round(infos.keys())
        raws: dict[InfoItem, Raw] = {}
        asked: dict[InfoItem, Datapoint] = {}
        for reader, pairs in infos.items():
            self._wanted_infos[reader] = tuple((address, dp.number) for address, dp in pairs)
            for address, datapoint in pairs:
                item = (address, datapoint.number)
                if item in current.values:
                    raws[item] = current.values[item]
                else:
                    asked[item] = datapoint
        if asked:
            if self.multi_info:
                fresh = await self._read_batched(asked, results)
            else:
                fresh = await self._read_each(asked, results)
            current.values.update(fresh)
            raws.update({item: raw for item, raw in fresh.items() if item in asked})
        return await self._without_strays(raws, current)

    def _join_round(self, readers: Collection[int]) -> ReadRound:
        """Return the round these readers read in, beginning a new one where the last is over."""
        now = self._clock()
        current = self._round
        if not current.readers.isdisjoint(readers) or now - current.started > self.prefetch_ttl:
            current = self._round = ReadRound(started=now)
        current.readers.update(readers)
        return current

    async def _read_each(
        self,
        asked: Mapping[InfoItem, Datapoint],
        results: dict[int, dict[str, Value] | InverterError],
    ) -> dict[InfoItem, Raw]:
        """Read infos one request each; a unit that stops answering is not asked further."""
        raws: dict[InfoItem, Raw] = {}
        for (address, number), datapoint in asked.items():
            if isinstance(results.get(address), InverterError):
                continue
            try:
                raw = await self._read_known(address, datapoint)
            except UnitUnreachableError as err:
                results[address] = err
                continue
            if raw is not None:
                raws[(address, number)] = raw
        return raws

    async def _without_strays(
        self, raws: dict[InfoItem, Raw], current: ReadRound
    ) -> dict[InfoItem, Raw]:
        """Drop the shared outputs of Xtenders that lie far from their phase peers' values."""
        peers = {address: unit.peer for address, unit in self.units.items() if unit.peer}
        shared = [item for item in raws if item[1] in SHARED and item[0] in peers]
        if not shared:
            return raws
        await self._read_peers(peer_items(shared, peers), current)
        found = strays(shared, current.values, peers)
        for item in shared:
            address, number = item
            if item not in found:
                if item in self._held:
                    self._held.discard(item)
                    _LOGGER.info("unit %d: info %d is no longer held back", *item)
                continue
            self.held_back += 1
            if item not in self._held:
                self._held.add(item)
                info = _info(XTENDER, number)
                _LOGGER.warning(
                    "unit %d reports %s %s for %s (info %d), far from its phase peers' %.3g; "
                    "held back while it strays",
                    address,
                    raws[item],
                    info.unit,
                    info.name,
                    number,
                    found[item],
                )
        return {item: raw for item, raw in raws.items() if item not in found}

    async def _read_peers(self, items: Collection[InfoItem], current: ReadRound) -> None:
        """Read into the round the peers' values that readers yet to read will want in it.

        A session reads them in this round anyway, so a poll cycle still reads each info once;
        a lone read of one unit, or one in a round too old to serve anyone, asks nothing more
        and is checked against what the round has.
        """
        if self._clock() - current.started >= self.prefetch_ttl:
            return
        missing = [item for item in self._read_ahead(()) if item in items]
        if not missing:
            return
        if self.multi_info:
            fresh = await self._multi_info_peers(missing)
        else:
            fresh = await self._read_each_peer(missing)
        current.values.update(fresh)

    async def _multi_info_peers(self, items: Sequence[InfoItem]) -> dict[InfoItem, Raw]:
        """Read peers' infos in one multi-info request; none where the request fails."""
        batch = [(number, self.units[address].kind.index(address)) for address, number in items]
        try:
            answers = await self._multi_info(batch)
        except (XcomUnsupportedError, XcomRefusedError, LinkTimeoutError, FrameError) as err:
            _LOGGER.debug("no peer values to check against: %s", err)
            return {}
        return {
            item: answer
            for item, answer in zip(items, answers, strict=True)
            if math.isfinite(answer)
        }

    async def _read_each_peer(self, items: Sequence[InfoItem]) -> dict[InfoItem, Raw]:
        """Read peers' infos one request each, leaving out a peer that does not answer."""
        raws: dict[InfoItem, Raw] = {}
        for address, number in items:
            if address in self.unreachable:
                continue
            try:
                raw = await self._read_known(address, _info(XTENDER, number))
            except LinkTimeoutError:
                # Left out of the checks until it answers a read of its own again.
                self._lost(address)
                continue
            if raw is not None:
                raws[(address, number)] = raw
        return raws

    def _read_ahead(self, asked: Collection[InfoItem]) -> list[InfoItem]:
        """Return the infos that readers yet to read this round asked for last time."""
        ahead: dict[InfoItem, None] = {}
        for reader, items in self._wanted_infos.items():
            if reader in self._round.readers:
                continue
            for item in items:
                address = item[0]
                if (
                    item in asked
                    or item in self._round.values
                    or address in self.unreachable
                    or address not in self.units
                ):
                    continue
                ahead[item] = None
        return list(ahead)

    async def _read_batched(
        self,
        asked: Mapping[InfoItem, Datapoint],
        results: dict[int, dict[str, Value] | InverterError],
    ) -> dict[InfoItem, Raw]:
        """Read infos by multi-info, topping requests up with infos later readers will want."""
        items = [*asked, *self._read_ahead(asked)]
        raws: dict[InfoItem, Raw] = {}
        for start in range(0, len(items), MULTI_INFO_MAX):
            chunk = items[start : start + MULTI_INFO_MAX]
            if asked.keys().isdisjoint(chunk):
                break
            batch = [(n, self.units[a].kind.index(a)) for a, n in chunk]
            answers = await self._multi_info(batch)
            for item, answer in zip(chunk, answers, strict=True):
                if math.isfinite(answer):
                    raws[item] = answer
        # A unit all of whose infos came back empty may be gone: one plain read tells.
        for address in {address for address, _ in asked}:
            mine = [(n, dp) for (a, n), dp in asked.items() if a == address]
            if any((address, number) in raws for number, _ in mine):
                self._answered(address)
                continue
            number, datapoint = mine[0]
            try:
                single = await self._read_known(address, datapoint)
            except UnitUnreachableError as err:
                results[address] = err
                continue
            if single is not None:
                raws[(address, number)] = single
        return raws

    async def _multi_info(self, items: list[tuple[int, int]]) -> list[float]:
        """Ask the gateway for (info, device index) items; return their values in order."""
        request = ServiceData(
            service=Service.READ,
            object_type=ObjectType.MULTI_INFO,
            object_id=MULTI_INFO_OBJECT,
            property_id=Property.VALUE,
            value=encode_multi_info(items),
        )
        data = await self._transact(XCOM_ADDRESS, request, f"multi-info of {len(items)}")
        reply = decode_multi_info(data)
        answered = {(v.info, v.aggregation): v.value for v in reply.values}
        return [answered.get(item, math.nan) for item in items]

    async def _read_system(self, device: DeviceIdentity, keys: Collection[str]) -> dict[str, Value]:
        catalogue = self._catalogue(device)
        totals = [catalogue.totals[key] for key in keys if key in catalogue.totals]
        values: dict[str, Value] = dict(await self._totals(totals))
        for key in keys:
            if key in catalogue.totals:
                continue
            if key in _MESSAGE_KEYS:
                if self.messages:
                    newest = self.messages[-1]
                    values[key] = message_values(newest.code, newest.source)[key]
            else:
                binding = self._binding(catalogue, key)
                value = await self._read_binding(binding)
                if value is not None:
                    values[key] = value
        return values

    async def _totals(self, totals: Sequence[Total]) -> dict[str, int]:
        """Return sums over units; a total one of whose units did not answer is left out."""
        parts = {
            total.point.key: [
                (address, number, scale)
                for kind, number, scale in total.parts
                for address in self._units_of(kind)
            ]
            for total in totals
        }
        pairs = [
            (address, self.units[address].catalogue.infos[number].datapoint)
            for items in parts.values()
            for address, number, _ in items
        ]
        raws = await self._read_infos({XCOM_ADDRESS: pairs}, {}) if pairs else {}
        return {
            key: round(sum(float(raws[(a, n)]) * scale for a, n, scale in items))
            for key, items in parts.items()
            if all((a, n) in raws for a, n, _ in items)
        }

    async def _read_binding(self, binding: Binding) -> Value | None:
        """Read a system setting: the Xcom's own, or one every unit of a group must agree on."""
        if binding.route is Route.OWN:
            raw = await self._read_known(XCOM_ADDRESS, binding.datapoint)
            return None if raw is None else binding.decode(raw)
        values = []
        for address in self._units_of(binding.kind):
            raw = await self._read_known(address, binding.datapoint)
            values.append(None if raw is None else binding.decode(raw))
        first = values[0] if values else None
        # Units that disagree have no common value: nothing is published, a write proceeds.
        if any(not same_value(binding.point, value, first) for value in values):
            return None
        return first

    # Writing ------------------------------------------------------------------------------

    async def write(self, device: DeviceIdentity, point: Point, value: Value) -> None:
        """Write a validated setting (to RAM unless flash was chosen) or send an action."""
        catalogue = self._catalogue(device)
        binding = self._binding(catalogue, point.key)
        if binding.point.kind is PointKind.READING:
            raise UnsupportedError(f"{point.key} is read-only on a Studer unit", key=point.key)
        datapoint = binding.datapoint
        if device.profile != SYSTEM:
            address = int(device.address)
        elif binding.route is Route.GROUP and binding.kind.group is not None:
            address = binding.kind.group
        else:
            address = XCOM_ADDRESS
        raw = binding.encode(value)
        if bounded(binding):
            await self._check_range(device, binding, raw)
        action = binding.point.kind is PointKind.ACTION
        flash = self.flash or action or address in self._ram_unsupported
        if not flash and binding.route is Route.GROUP:
            flash = any(a in self._ram_unsupported for a in self._units_of(binding.kind))
        if flash and not (self.flash or action):
            raise _no_ram(address, point.key)
        try:
            await self._write_parameter(address, datapoint, raw, flash=flash)
        except XcomUnsupportedError as err:
            if flash or err.scom_code != ScomError.PROPERTY_NOT_SUPPORTED:
                raise
            raise _no_ram(address, point.key) from err
        if flash and not action:
            self.flash_writes += 1
        if binding.route is Route.GROUP and not action:
            await self._check_group(binding, value)

    async def _write_parameter(
        self, address: int, datapoint: Datapoint, raw: Raw, *, flash: bool
    ) -> None:
        """Write a parameter to flash or RAM; learn a unit that keeps no RAM copy."""
        request = ServiceData(
            service=Service.WRITE,
            object_type=ObjectType.PARAMETER,
            object_id=datapoint.number,
            property_id=Property.VALUE_QSP if flash else Property.UNSAVED_VALUE_QSP,
            value=encode_value(datapoint.format, raw),
        )
        try:
            await self._transact(address, request, f"write {datapoint.number}", retry=False)
        except XcomUnsupportedError as err:
            unsupported = err.scom_code == ScomError.PROPERTY_NOT_SUPPORTED
            if not flash and unsupported and address in self.units:
                self._ram_unsupported.add(address)
            raise

    async def _check_group(self, binding: Binding, value: Value) -> None:
        """Read a multicast write back from every unit of the group."""
        for address in self._units_of(binding.kind):
            raw = await self._read_known(address, binding.datapoint)
            actual = None if raw is None else binding.decode(raw)
            if not same_value(binding.point, actual, value):
                raise ReadBackMismatchError(
                    f"unit {address} reads {binding.point.key} back as {actual!r}, not {value!r}",
                    key=binding.point.key,
                    expected=str(value),
                    actual=str(actual),
                )


def _no_ram(address: int, key: str) -> UnsupportedError:
    return UnsupportedError(
        f"address {address} keeps no RAM copy of parameters (firmware before 1.6.12); "
        "allow flash writes to change it",
        key=key,
    )


def message_text(message: XcomMessage) -> str:
    """Return a message as text: its published wording and the unit that sent it."""
    text = MESSAGES.get(message.code, f"Message {message.code:03d}")
    return f"{text} (unit {message.source})"


_XCOM_OWNER: tuple[str, str | None] = (XCOM.id, None)
# FID infos of a unit that has no factory id programmed.
_BLANK_FIDS = frozenset({"00000000", "FFFFFFFF"})
_MESSAGE_KEYS = frozenset(point.key for point in MESSAGE_POINTS)


def _owner(identity: DeviceIdentity) -> tuple[str, str | None]:
    """Return whose ranges a unit shares: units of one profile and firmware report the same."""
    return identity.profile or "", identity.firmware


def _range_key(owner: tuple[str, str | None], binding: Binding) -> RangeKey:
    return (*owner, binding.datapoint.number)


def _info(kind: UnitKind, number: int) -> Datapoint:
    return next(datapoint for datapoint in kind.infos if datapoint.number == number)


def _parameter(kind: UnitKind, number: int) -> Datapoint:
    return next(datapoint for datapoint in kind.parameters if datapoint.number == number)


def _kinds_at(address: int) -> tuple[UnitKind, ...]:
    """Return the kinds a unit at this address may be (BMS is asked before BSP)."""
    if address in BSP.addresses:
        return (BMS, BSP)
    return tuple(kind for kind in UNIT_KINDS if address in kind.addresses)


def _distinct(units: Mapping[int, Unit], known: Iterable[Unit] = ()) -> dict[int, Unit]:
    """Give units that report one factory id a serial each: the id and their address.

    A FID is meant to be unique, but two units reporting the same one would merge into one
    device; their addresses, fixed by the installation, keep them apart and stable.
    """
    counts = Counter(unit.identity.serial_number for unit in (*units.values(), *known))
    distinct: dict[int, Unit] = {}
    for address, unit in units.items():
        identity = unit.identity
        if counts[identity.serial_number] > 1:
            _LOGGER.info("unit %d shares factory id %s", address, identity.serial_number)
            identity = replace(
                identity,
                serial_number=f"{identity.serial_number}-{address}",
                details={**identity.details, "serial_source": "fid_and_address"},
            )
        distinct[address] = replace(unit, identity=identity)
    return distinct


def _with_parent(unit: Unit, parent: str | None) -> Unit:
    return replace(unit, identity=replace(unit.identity, parent_serial=parent))


__all__ = ["GAP", "SERIAL_SETTINGS", "TIMEOUT", "XcomClient"]
