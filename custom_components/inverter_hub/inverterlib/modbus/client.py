"""The Modbus family: units on one link, each described by a profile."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
import logging

from ..client import InverterClient
from ..errors import (
    DeviceRefusedError,
    FrameError,
    LinkTimeoutError,
    UnsupportedError,
)
from ..family import KnownDevice
from ..model import DeviceIdentity, Point, PointKind, Value
from ..transport.base import Link
from ..transport.serial import SerialLink, SerialSettings
from . import shim
from .planner import (
    MBAP_COST,
    NETWORK_BYTES_PER_SECOND,
    RTU_COST,
    CostModel,
    ReadRules,
    plan_reads,
)
from .profile import Access, Profile, Register, RegisterWrite, WriteFunction
from .registry import ProfileRegistry
from .unitwrite import write_unit
from .wire import Framing, ModbusWire, exception_name

_LOGGER = logging.getLogger(__name__)

FAMILY = "modbus"
DEFAULT_UNIT = 1
PROBE_TIMEOUT = 0.5
QUIET = 0.05
MAX_FRAME = 260


def serial_bytes_per_second(settings: SerialSettings) -> float:
    """Return how many bytes a second a serial line carries."""
    # Start bit, data bits, parity bit, stop bits: 10 bits a byte for 8N1.
    bits = 1 + settings.bytesize + (settings.parity != "N") + settings.stopbits
    return settings.baudrate / bits


def line_bytes_per_second(link: Link) -> float:
    """Return how many bytes a second the link carries: a serial line's, or a nominal rate."""
    if isinstance(link, SerialLink):
        return serial_bytes_per_second(link.settings)
    return NETWORK_BYTES_PER_SECOND


def _runs(steps: Sequence[RegisterWrite]) -> list[list[RegisterWrite]]:
    """Return the steps in runs of consecutive registers, in order."""
    runs: list[list[RegisterWrite]] = []
    for step in steps:
        if runs and runs[-1][-1].address + 1 == step.address:
            runs[-1].append(step)
        else:
            runs.append([step])
    return runs


def read_rules(profile: Profile, access: Access) -> ReadRules:
    """Return what one read of this profile's `access` table may ask for."""
    return ReadRules(
        max_registers=profile.link.max_registers,
        even_alignment=profile.link.even_alignment,
        barriers=profile.barriers_for(access),
    )


class ModbusClient(InverterClient):
    """Talks Modbus (RTU or MBAP framing) to every unit on one link."""

    family = FAMILY

    def __init__(
        self,
        link: Link,
        *,
        framing: Framing,
        units: Sequence[KnownDevice] = (),
        registry: ProfileRegistry,
        probe_timeout: float = PROBE_TIMEOUT,
        retries: int = 1,
        line_rate: float | None = None,
    ) -> None:
        """Bind to a link; `retries` repeats a request whose reply was garbled or missing.

        `line_rate` is the bytes per second of the slowest stretch of the bus, such as the
        RS-485 line behind an RTU-over-TCP gateway; by default it comes from the link.
        """
        super().__init__(link)
        self.framing: Framing = framing
        self.units = list(units) or [KnownDevice(address=DEFAULT_UNIT)]
        self.registry = registry
        self.probe_timeout = probe_timeout
        self.retries = retries
        base = RTU_COST if framing == "rtu" else MBAP_COST
        # The link keeps its gap before every request, so the planner weighs that silence
        # against reading through holes: fewer, longer reads when the gap is long.
        self.cost: CostModel = base.with_gap(
            link.gap, line_bytes_per_second(link) if line_rate is None else line_rate
        )
        self._wire = ModbusWire(link, framing)
        # After a lost reply the line is drained until it has been quiet this long; no Modbus
        # frame is longer than 260 bytes (an MBAP header and the largest PDU).
        link.configure(quiet=QUIET, max_inbox=MAX_FRAME)
        self._profiles: dict[int, Profile] = {}

    @property
    def transactions(self) -> int:
        """Return how many requests this client has sent."""
        return self._wire.transactions

    # Raw access -------------------------------------------------------------------------

    async def _transact(
        self, unit: int, request: bytes, timeout: float | None, what: str
    ) -> shim.Reply:
        """Send a request, repeating it after a garbled or missing reply; raise on refusal.

        A request goes out again up to `retries` times. Repeating a write is safe: FC06 and
        FC16 set registers to the values given, so a write whose acknowledgement was lost
        leaves the same registers when it arrives twice. A probe (an explicit `timeout`, as a
        scan passes) is not repeated after silence: most addresses on a scanned bus are
        silent, and waiting twice would double the scan and find nobody more; a garbled
        reply is repeated there too, since someone answered.
        """
        attempt = 0
        while True:
            try:
                pdu = await self._wire.transact(
                    unit, request, self.link.timeout if timeout is None else timeout
                )
                reply = shim.decode_reply(pdu)
            except (FrameError, LinkTimeoutError) as err:
                silent = isinstance(err, LinkTimeoutError)
                if attempt >= self.retries or (silent and timeout is not None):
                    if silent:
                        raise LinkTimeoutError(
                            f"unit {unit} did not answer {what} on {self.link.description}",
                            unit=str(unit),
                        ) from err
                    raise
                attempt += 1
                _LOGGER.debug("unit %d: %s; sending %s again", unit, err, what)
                continue
            if reply.exception is not None:
                name = exception_name(reply.exception)
                raise DeviceRefusedError(
                    f"unit {unit} refused {what}: {name}", unit=str(unit), exception=name
                )
            return reply

    async def read_registers(
        self,
        unit: int,
        access: Access | str,
        address: int,
        count: int,
        *,
        timeout: float | None = None,
    ) -> list[int]:
        """Read `count` raw registers of `unit` (expert access; also every planned read)."""
        table = Access(access)
        if not 1 <= count <= 125 or not 0 <= address <= 0xFFFF - count + 1:
            raise ValueError(f"cannot read {count} registers from {address}")
        request = shim.read_request(table.function_code, unit, address, count)
        what = f"FC{table.function_code:02d} {address}+{count}"
        # The wire has checked the reply carries exactly `count` registers.
        return list((await self._transact(unit, request, timeout, what)).registers)

    async def write_registers(
        self, unit: int, address: int, values: Sequence[int], *, single: bool = False
    ) -> None:
        """Write holding registers of `unit`: FC16, or FC06 for one value when `single`."""
        if single and len(values) != 1:
            raise ValueError("FC06 writes exactly one register")
        if not 1 <= len(values) <= 123 or any(not 0 <= value <= 0xFFFF for value in values):
            raise ValueError(f"cannot write {list(values)} as registers")
        if single:
            request = shim.write_single_request(unit, address, values[0])
            what = f"FC06 {address}={values[0]}"
        else:
            request = shim.write_multiple_request(unit, address, values)
            what = f"FC16 {address}+{len(values)}"
        reply = await self._transact(unit, request, None, what)
        echoed = (reply.address, reply.registers[0] if single else reply.count)
        if echoed != (address, values[0] if single else len(values)):
            raise FrameError(f"{what}: the reply echoes {echoed}")

    async def _read_register(
        self, unit: int, profile: Profile, register: Register, timeout: float | None = None
    ) -> list[int]:
        """Read one value's registers in a read the profile allows (aligned if it must be)."""
        block = read_rules(profile, register.access).block(register.address, register.end)
        if block is None:  # pragma: no cover - the loader refuses such registers
            raise UnsupportedError(f"register {register.address} cannot be read")
        registers = await self.read_registers(
            unit, register.access, block.address, block.count, timeout=timeout
        )
        offset = register.address - block.address
        return registers[offset : offset + register.count]

    # Detection and identity -------------------------------------------------------------

    async def _matches(
        self,
        unit: int,
        profile: Profile,
        answers: dict[tuple[Access, int, int], list[int] | None],
        timeout: float | None,
    ) -> bool:
        """Return whether the unit meets every identify rule of a profile (reads are shared)."""
        for rule in profile.identify:
            register = rule.register
            key = (register.access, register.address, register.count)
            if key not in answers:
                try:
                    answers[key] = await self._read_register(unit, profile, register, timeout)
                except DeviceRefusedError:
                    answers[key] = None
            registers = answers[key]
            if registers is None or not rule.matches(registers):
                return False
        return True

    async def _answers_as(self, unit: int, profile: Profile) -> bool:
        """Return whether the unit meets a profile's rules (or, without rules, reads at all)."""
        if profile.identify:
            return await self._matches(unit, profile, {}, None)
        for register_point in profile.register_points[:1]:
            try:
                await self._read_register(unit, profile, register_point.register)
            except DeviceRefusedError:
                return False
        return True

    async def detect(self, unit: int, *, timeout: float | None = None) -> Profile | None:
        """Return the first profile (by priority) whose identify rules the unit meets.

        Raise LinkTimeoutError when the unit does not answer at all.
        """
        answers: dict[tuple[Access, int, int], list[int] | None] = {}
        for profile in self.registry.all():
            if profile.identify and await self._matches(unit, profile, answers, timeout):
                return profile
        return None

    async def _identity(self, unit: int, profile: Profile) -> DeviceIdentity:
        """Read the unit's info registers into its identity."""
        info: dict[str, str] = {}
        for name, register in profile.info.items():
            try:
                raw = register.raw(await self._read_register(unit, profile, register))
            except DeviceRefusedError as err:
                _LOGGER.debug("unit %d: info %s not readable: %s", unit, name, err)
                continue
            text = (
                raw if isinstance(raw, str) else f"{raw:g}" if isinstance(raw, float) else str(raw)
            )
            if text and text != "0":
                info[name] = text
        details: dict[str, str] = {}
        serial = info.pop("serial_number", None)
        if serial is None:
            # Without a readable serial number the profile and unit are the most stable
            # identity there is; it changes if the unit is readdressed.
            serial = f"{profile.id}-unit{unit}"
            details["serial_source"] = "derived"
            _LOGGER.info(
                "unit %d (%s) has no readable serial number; using %s", unit, profile.id, serial
            )
        firmware = info.pop("firmware", None)
        details.update(info)
        return DeviceIdentity(
            serial_number=serial,
            family=FAMILY,
            model=profile.model,
            manufacturer=profile.manufacturer,
            address=str(unit),
            firmware=firmware,
            profile=profile.id,
            details=details,
        )

    async def identify_unit(self, config: KnownDevice) -> DeviceIdentity:
        """Detect or check one unit's profile and return its identity."""
        unit = config.address
        if config.profile is None:
            profile = await self.detect(unit)
            if profile is None:
                raise UnsupportedError(
                    f"unit {unit} answers but matches no Modbus profile", unit=str(unit)
                )
        else:
            profile = self.registry.get(config.profile)
            # Checking the unit answers; a mismatch is the user's call, so only warn.
            if not await self._answers_as(unit, profile):
                _LOGGER.warning(
                    "unit %d does not look like a %s %s (%s); using it as configured",
                    unit,
                    profile.manufacturer,
                    profile.model,
                    profile.id,
                )
        self._profiles[unit] = profile
        return await self._identity(unit, profile)

    def offline_identity(self, config: KnownDevice) -> DeviceIdentity | None:
        """Return the identity of a silent unit from what is known of it, or None if too little."""
        if config.serial is None or config.profile is None:
            return None
        profile = self.registry.get(config.profile)
        self._profiles[config.address] = profile
        return DeviceIdentity(
            serial_number=config.serial,
            family=FAMILY,
            model=profile.model,
            manufacturer=profile.manufacturer,
            address=str(config.address),
            profile=profile.id,
            reachable=False,
        )

    async def identify(self) -> list[DeviceIdentity]:
        """Identify every configured unit (detecting profiles that were not given).

        A silent unit whose serial number and profile are known is identified from them, as
        offline, so a Growatt asleep at night does not keep the meter beside it from being
        set up. Raise only when the link fails, or when no unit answers and one of them
        cannot be identified without answering.
        """
        identities: list[DeviceIdentity] = []
        answered = False
        unknown: list[LinkTimeoutError] = []
        for config in self.units:
            try:
                identities.append(await self.identify_unit(config))
            except LinkTimeoutError as err:
                offline = self.offline_identity(config)
                if offline is None:
                    unknown.append(err)
                    continue
                _LOGGER.info(
                    "unit %d is silent; set up as %s from its known serial number",
                    config.address,
                    offline.title,
                )
                identities.append(offline)
            else:
                answered = True
        if unknown and not answered:
            raise unknown[0]
        for silence in unknown:
            _LOGGER.warning("left out until it answers: %s", silence)
        return identities

    async def scan(self, addresses: Iterable[int]) -> list[DeviceIdentity]:
        """Return the units that answer and match a profile; silent units are absent."""
        found = []
        for unit in addresses:
            try:
                profile = await self.detect(
                    unit, timeout=min(self.probe_timeout, self.link.timeout)
                )
            except LinkTimeoutError:
                continue
            if profile is None:
                _LOGGER.info("unit %d answers but matches no Modbus profile", unit)
                continue
            self._profiles[unit] = profile
            found.append(await self._identity(unit, profile))
        return found

    # Points -----------------------------------------------------------------------------

    def profile_of(self, device: DeviceIdentity) -> tuple[int, Profile]:
        """Return a device's unit and profile (from identify, else from its stored identity)."""
        unit = int(device.address)
        profile = self._profiles.get(unit)
        if profile is None:
            if device.profile is None:
                raise UnsupportedError(f"{device.title} has no profile; identify it first")
            profile = self.registry.get(device.profile)
            self._profiles[unit] = profile
        return unit, profile

    def catalogue(self, device: DeviceIdentity) -> Sequence[Point]:
        """Return the points of the device's profile."""
        return self.profile_of(device)[1].catalogue()

    async def read(self, device: DeviceIdentity, keys: Collection[str]) -> dict[str, Value]:
        """Read the named points of one unit in the cheapest reads its profile allows."""
        unit, profile = self.profile_of(device)
        registers: dict[tuple[Access, int], int] = {}
        for access, spans in profile.spans(keys).items():
            for block in plan_reads(spans, read_rules(profile, access), self.cost):
                values = await self.read_registers(unit, access, block.address, block.count)
                registers.update(
                    ((access, block.address + index), value) for index, value in enumerate(values)
                )
        return profile.values(keys, registers)

    async def write(self, device: DeviceIdentity, point: Point, value: Value) -> None:
        """Write one setting as its profile says: a value, a bit field, a mode or an action."""
        unit, profile = self.profile_of(device)
        steps = profile.write_plan(point.key, value, now=datetime.now().astimezone())
        register_point = profile.register_point(point.key)
        if register_point is not None and register_point.bits is None:
            # One value in its own registers: FC06, or FC16 for several registers at once.
            await self.write_registers(
                unit,
                register_point.register.address,
                [step.value for step in steps],
                single=register_point.write is WriteFunction.FC06,
            )
            return
        if point.kind is PointKind.ACTION:
            # Consecutive registers in one FC16 write: a clock set in one go does not drift.
            for run in _runs(steps):
                await self.write_registers(
                    unit, run[0].address, [step.value for step in run], single=len(run) == 1
                )
            return

        async def read_block(address: int, count: int) -> list[int]:
            return await self.read_registers(unit, Access.HOLDING, address, count)

        async def write_one(step: RegisterWrite) -> None:
            await self.write_registers(unit, step.address, [step.value], single=True)

        rules = read_rules(profile, Access.HOLDING)
        await write_unit(steps, read_block, write_one, rules=rules, cost=self.cost)
