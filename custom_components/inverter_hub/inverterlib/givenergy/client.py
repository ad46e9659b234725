"""The GivEnergy client: an inverter and its LV battery packs behind one dongle.

The inverter answers at device address 0x11 and is one device; each battery pack answers at
0x32 + n (packs 1-6) and each energy meter at 0x01-0x08, each a device of its own under the
inverter. Points come from the
register profiles, read through the Modbus engine's planner in the fewest 60-register
requests; settings are single-register writes (function 0x06), and a setting that takes
several registers (a slot, a mode) is written as a unit, undone if a later step fails.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
import logging

from ..client import InverterClient
from ..errors import (
    DeviceRefusedError,
    FrameError,
    LinkError,
    LinkTimeoutError,
    ReadBackMismatchError,
    UnsupportedError,
)
from ..modbus.planner import NETWORK_BYTES_PER_SECOND, CostModel, ReadRules, Span, plan_reads
from ..modbus.profile import FULL_MASK, Access, Profile, RegisterWrite
from ..modbus.unitwrite import write_unit
from ..model import DeviceIdentity, Point, PointKind, Value
from ..transport.base import Link
from .codec import MAX_REGISTERS, READ_HOLDING, READ_INPUT
from .models import detect
from .registry import shipped_profiles
from .wire import PACE, GivEnergyWire

_LOGGER = logging.getLogger(__name__)

FAMILY = "givenergy"
MANUFACTURER = "GivEnergy"
INVERTER = 0x11
PACKS = range(0x32, 0x38)
PACK_PROFILE = "givenergy_battery_lv"
# dewet22 tries a request three times; a lost reply on Wi-Fi is common enough to warrant it.
RETRIES = 2
# A transparent read is 34 bytes out and 44 + 2 per register back (codec.py).
COST = CostModel(request_bytes=34, reply_bytes=44)
IDENTITY_BANK = Span(0, MAX_REGISTERS)
PACK_BANK = Span(60, MAX_REGISTERS)
METERS = range(0x01, 0x09)
METER_PROFILE = "givenergy_meter"
# dewet22 reads a meter as IR(60, 30); the first register is its L1 voltage.
METER_BANK = Span(60, 30)
# An absent meter stays silent, so the eight are asked one after another at the dongle's pace
# without waiting, and awaited together for this long after the last request: no meter costs
# one wait, not eight (identify of a Gen 2 with two packs: 1.5 s before meters were looked
# for, 4.0 s now, against eight waits of 2 s). Devices behind the dongle answered within
# about 0.3 s in dewet22's Gen 1 capture.
METER_TIMEOUT = 0.5


def _local_now() -> datetime:
    return datetime.now().astimezone()


def _address(value: int) -> str:
    return f"{value:#04x}"


@dataclass(frozen=True, kw_only=True, slots=True)
class _Device:
    """Where a device answers and what its registers mean."""

    address: int
    profile: Profile


class GivEnergyClient(InverterClient):
    """Talks to a GivEnergy inverter and its battery packs through the dongle."""

    family = FAMILY

    def __init__(
        self,
        link: Link,
        *,
        pace: float = PACE,
        retries: int = RETRIES,
        profiles: Mapping[str, Profile] | None = None,
        clock: Callable[[], datetime] = _local_now,
        meter_timeout: float = METER_TIMEOUT,
    ) -> None:
        """Bind to a dongle's link; `pace` is the least time between two requests."""
        super().__init__(link)
        self.meter_timeout = meter_timeout
        self.wire = GivEnergyWire(link, pace=pace)
        self.retries = retries
        self.profiles = shipped_profiles() if profiles is None else profiles
        self.clock = clock
        # The gap is in bytes the network could carry meanwhile: one request more always
        # costs more than reading through a hole, so reads stay few.
        self.cost = COST.with_gap(pace, NETWORK_BYTES_PER_SECOND)
        self._devices: dict[str, _Device] = {}

    @property
    def transactions(self) -> int:
        """Return how many requests this client has sent."""
        return self.wire.transactions

    async def close(self) -> None:
        """Stop listening for heartbeats and close the link."""
        await self.wire.close()
        await super().close()

    # Raw access -------------------------------------------------------------------------

    async def read_registers(self, unit: int, access: str, address: int, count: int) -> list[int]:
        """Read `count` raw registers of the device at address `unit` (expert access)."""
        function = READ_INPUT if Access(access) is Access.INPUT else READ_HOLDING
        return list(await self._read(unit, function, address, count))

    async def write_registers(self, unit: int, address: int, values: Sequence[int]) -> None:
        """Write holding registers one by one (the dongle only takes single writes)."""
        for offset, value in enumerate(values):
            await self._write(unit, RegisterWrite(address=address + offset, value=value))

    async def _read(
        self, device: int, function: int, base: int, count: int, *, retries: int | None = None
    ) -> tuple[int, ...]:
        """Read registers, asking again after silence or a dropped connection."""
        attempts = (self.retries if retries is None else retries) + 1
        for attempt in range(attempts):
            try:
                return await self.wire.read(device, function, base, count)
            except (LinkError, FrameError) as err:
                if attempt + 1 == attempts:
                    raise
                _LOGGER.debug("%s; asking again", err)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _write(self, device: int, step: RegisterWrite) -> None:
        """Set one register and check the value the device reports holding."""
        try:
            held = await self.wire.write(device, step.address, step.value)
        except DeviceRefusedError:
            # Gen 1 BPM firmware answers some accepted writes with an error frame (GivTCP
            # treats function 0x86 as success, dewet22 #115): believe the register.
            held = (await self._read(device, READ_HOLDING, step.address, 1))[0]
            if held != step.value:
                raise
            _LOGGER.debug("register %d took %d despite an error frame", step.address, held)
        if held != step.value:
            raise ReadBackMismatchError(
                f"register {step.address} holds {held} after writing {step.value}",
                register=str(step.address),
                expected=str(step.value),
                actual=str(held),
            )

    # Identity ---------------------------------------------------------------------------

    async def identify(self) -> list[DeviceIdentity]:
        """Identify the inverter from its first holding bank, then find its battery packs."""
        self._devices.clear()
        bank = await self._read(INVERTER, READ_HOLDING, IDENTITY_BANK.address, IDENTITY_BANK.count)
        model = detect(bank[0], bank[21])
        profile = self.profiles[model.profile]
        info = self._info(profile, Access.HOLDING, IDENTITY_BANK, bank)
        # Codes, not quantities: shown in hex, as GivEnergy's own tools show them.
        info.update(device_type_code=f"{bank[0]:04x}", module=f"{bank[1]:04x}{bank[2]:04x}")
        serial = info.pop("serial_number", "")
        if not serial:
            raise UnsupportedError("the inverter reports no serial number")
        firmware = f"D0.{info.get('dsp_firmware', '?')}-A0.{info.get('arm_firmware', '?')}"
        inverter = DeviceIdentity(
            serial_number=serial,
            family=FAMILY,
            model=model.name,
            manufacturer=MANUFACTURER,
            address=_address(INVERTER),
            firmware=firmware,
            profile=profile.id,
            details={key: info[key] for key in sorted(info)},
        )
        self._devices[inverter.address] = _Device(address=INVERTER, profile=profile)
        packs = await self._packs(inverter) if model.battery_packs else []
        return [inverter, *packs, *await self._meters(inverter)]

    async def _packs(self, inverter: DeviceIdentity) -> list[DeviceIdentity]:
        """Return the LV packs present; an all-zero (or silent) slot holds none."""
        profile = self.profiles[PACK_PROFILE]
        packs = []
        for number, address in enumerate(PACKS, start=1):
            try:
                bank = await self._read(
                    address, READ_INPUT, PACK_BANK.address, PACK_BANK.count, retries=0
                )
            except (LinkTimeoutError, DeviceRefusedError) as err:
                _LOGGER.debug("no battery pack at %s: %s", _address(address), err)
                continue
            info = self._info(profile, Access.INPUT, PACK_BANK, bank)
            serial = info.pop("serial_number", "")
            if not any(bank) or not serial:
                continue
            firmware = info.pop("bms_firmware", None)
            packs.append(
                self._child(
                    inverter, serial, address, profile, {"pack": str(number)}, firmware=firmware
                )
            )
        return packs

    async def _meters(self, inverter: DeviceIdentity) -> list[DeviceIdentity]:
        """Return the meters on the inverter's meter bus; a silent address holds none."""
        profile = self.profiles[METER_PROFILE]
        banks = await self.wire.probe(
            METERS, READ_INPUT, METER_BANK.address, METER_BANK.count, timeout=self.meter_timeout
        )
        meters = []
        for address, bank in sorted(banks.items()):
            if not bank[0]:
                continue
            # The meter's own serial is only in its product registers (function 0x16).
            serial = f"{inverter.serial_number}-meter-{address}"
            meters.append(self._child(inverter, serial, address, profile, {"meter": str(address)}))
        return meters

    def _child(
        self,
        inverter: DeviceIdentity,
        serial: str,
        address: int,
        profile: Profile,
        details: dict[str, str],
        *,
        firmware: str | None = None,
    ) -> DeviceIdentity:
        """Return a device under the inverter (a pack, a meter), known from now on."""
        identity = DeviceIdentity(
            serial_number=serial,
            family=FAMILY,
            model=profile.model,
            manufacturer=MANUFACTURER,
            address=_address(address),
            firmware=firmware,
            parent_serial=inverter.serial_number,
            profile=profile.id,
            details=details,
        )
        self._devices[identity.address] = _Device(address=address, profile=profile)
        return identity

    @staticmethod
    def _info(
        profile: Profile, access: Access, bank: Span, registers: Sequence[int]
    ) -> dict[str, str]:
        """Return the profile's identity facts found in one bank, as text (blanks left out)."""
        info = {}
        for name, register in profile.info.items():
            offset = register.address - bank.address
            if register.access is not access or offset < 0 or register.end > bank.end:
                continue
            raw = register.raw(registers[offset : offset + register.count])
            if text := str(raw).strip():
                info[name] = text
        return info

    def _device(self, device: DeviceIdentity) -> _Device:
        """Return where a device answers and its profile (from identify, or its identity)."""
        known = self._devices.get(device.address)
        if known is not None:
            return known
        profile = self.profiles.get(device.profile or "")
        if profile is None:
            raise UnsupportedError(f"{device.title} is unknown here; identify it first")
        known = _Device(address=int(device.address, 16), profile=profile)
        self._devices[device.address] = known
        return known

    # Points -----------------------------------------------------------------------------

    def catalogue(self, device: DeviceIdentity) -> Sequence[Point]:
        """Return the points of the device's profile."""
        return self._device(device).profile.catalogue()

    async def read(self, device: DeviceIdentity, keys: Collection[str]) -> dict[str, Value]:
        """Read the named points in the fewest 60-register requests the dongle allows."""
        target = self._device(device)
        profile = target.profile
        registers: dict[tuple[Access, int], int] = {}
        for access, spans in profile.spans(keys).items():
            rules = ReadRules(
                max_registers=profile.link.max_registers,
                alignment=profile.link.alignment,
                alignment_base=profile.link.alignment_base,
                barriers=profile.barriers_for(access),
            )
            function = READ_INPUT if access is Access.INPUT else READ_HOLDING
            for block in plan_reads(spans, rules, self.cost):
                try:
                    values = await self._read(target.address, function, block.address, block.count)
                except DeviceRefusedError as err:
                    # The rest of the device still reads; these points stay unpublished.
                    _LOGGER.debug("%s: %s", device.title, err)
                    continue
                registers.update(
                    ((access, block.address + index), value) for index, value in enumerate(values)
                )
        return profile.values(keys, registers)

    async def write(self, device: DeviceIdentity, point: Point, value: Value) -> None:
        """Write a validated setting or run an action; undo a part-written setting on failure."""
        target = self._device(device)
        steps = target.profile.write_plan(point.key, value, now=self.clock())
        if point.kind is PointKind.ACTION or (len(steps) == 1 and steps[0].mask == FULL_MASK):
            for step in steps:
                await self._write(target.address, step)
            return

        async def read_block(address: int, count: int) -> tuple[int, ...]:
            return await self._read(target.address, READ_HOLDING, address, count)

        async def write_one(step: RegisterWrite) -> None:
            await self._write(target.address, step)

        link = target.profile.link
        rules = ReadRules(
            max_registers=MAX_REGISTERS,
            alignment=link.alignment,
            alignment_base=link.alignment_base,
        )
        await write_unit(steps, read_block, write_one, rules=rules, cost=self.cost)
