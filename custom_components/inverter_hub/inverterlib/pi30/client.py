"""The PI30 client: identify a Voltronic inverter, learn its dialect, read and write points."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
import functools
import logging
import re

from ..client import InverterClient
from ..errors import DeviceRefusedError, FrameError, LinkTimeoutError, UnsupportedError
from ..model import DeviceIdentity, Point, Value
from ..transport.base import Link
from ..transport.serial import SerialSettings
from .catalogue import ACTIONS, QUERIES, parallel_query
from .codec import ACK, CR, decode_reply, encode_request, field_at, split_fields
from .dialect import Layout, build_layout
from .parse import firmware, serial_from_sid
from .settings import SETTERS, parallel_setters

_LOGGER = logging.getLogger(__name__)

FAMILY = "pi30"
MANUFACTURER = "Voltronic Power"
PROTOCOL = "PI30"
SERIAL_SETTINGS = SerialSettings(2400)
# RS-232 has no bus turnaround, so the gap only guards firmware that re-arms its receiver a
# moment after sending CR. 10 ms is under three character times at 2400 Bd and about 2 % of a
# QPIGS exchange (0.49 s on the wire).
GAP = 0.01
# The longest reply (QPIGS, about 110 bytes) takes 0.46 s at 2400 Bd; the device needs up to a
# few hundred milliseconds before it starts. Two seconds covers both with room for USB polling.
TIMEOUT = 2.0
# After a timeout or a bad frame the line is drained until it has been quiet this long, and the
# next reply must be followed by as much silence: longer than the few hundred milliseconds a unit
# takes before it starts a reply, so a late reply is dropped, never read as the next answer.
QUIET = 0.5
# The longest reply (QPGSn, about 140 bytes) with room for longer firmware variants; a reply that
# never ends is cut off here instead of filling memory.
MAX_FRAME = 512
# One retry for a lost or corrupted frame; a third attempt rarely helps a line this slow.
RETRIES = 1
# QPGS unit numbers run 0-9; QPIRI's parallel max number narrows it when the device has one.
MAX_PARALLEL_UNITS = 10
MAIN = ""
_PROTOCOL_ID = re.compile(r"PI[0-9]{2}")

# Queries identify reads for the device's own identity before learning the dialect.
_IDENTITY = frozenset({"QPI", "QID", "QSID"})
# Every PI30 unit answers these; silence means a bad line, not a missing query, so identify
# fails (and is tried again later) instead of dropping their points for good.
_REQUIRED = frozenset({"QPIGS", "QPIRI", "QMOD"})


def _local_now() -> datetime:
    return datetime.now().astimezone()


class Pi30Client(InverterClient):
    """Talk PI30 to one Voltronic inverter (and its parallel units) on one link."""

    family = FAMILY

    def __init__(
        self,
        link: Link,
        *,
        bump_zero: bool = True,
        clock: Callable[[], datetime] = _local_now,
    ) -> None:
        """Bind to a link; `bump_zero` applies mpp-solar's extra 0x00 CRC rule to requests."""
        super().__init__(link)
        link.configure(quiet=QUIET, max_inbox=MAX_FRAME)
        self.bump_zero = bump_zero
        self.clock = clock
        self._layouts: dict[str, Layout] = {}
        self.unsupported: set[str] = set()

    async def _exchange(self, command: str, fits: Callable[[str], bool] | None = None) -> str:
        """Send one command and return the reply payload (one attempt)."""
        if self.link.out_of_step:
            await self._resynchronise()
        return await self._send(command, fits)

    async def _resynchronise(self) -> None:
        """Prove the line is in step again before a request whose reply could be mistaken."""
        # Draining drops a late reply, but a unit (or gateway) that holds each reply back until
        # the next request arrives stays one behind: QET's reply would answer QLT, same width.
        # A QPI round trip first shows it, as no other reply reads `PI<nn>`.
        payload = await self._send("QPI")
        if not _PROTOCOL_ID.fullmatch(payload):
            raise FrameError(f"the line is out of step: QPI was answered {payload!r}")

    async def _send(self, command: str, fits: Callable[[str], bool] | None = None) -> str:
        """Send one command in one exchange and return the reply payload."""
        request = encode_request(command, bump_zero=self.bump_zero)
        # Decoded while the link is held, so a bad frame puts the link out of step (drained next).
        async with self.link.exchange() as link:
            await link.write(request)
            payload = decode_reply(await link.read_until(CR))
            if fits is not None and not fits(payload):
                raise FrameError(f"the reply to {command} does not fit it: {payload!r}")
        return payload

    async def _ask(self, command: str, fits: Callable[[str], bool] | None = None) -> str:
        """Send a query, retrying once after a timeout, a corrupted or a misfit reply."""
        for attempt in range(RETRIES + 1):
            try:
                return await self._exchange(command, fits)
            except (LinkTimeoutError, FrameError) as err:
                if attempt == RETRIES:
                    raise
                _LOGGER.debug("%s on %s failed (%s); retrying", command, self.link.description, err)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _probe(self, command: str) -> str | None:
        """Ask a query once for identify; None (and remembered) when the device lacks it."""
        try:
            payload = await self._ask(command)
        except DeviceRefusedError:
            _LOGGER.debug("%s does not support %s", self.link.description, command)
        except (LinkTimeoutError, FrameError) as err:
            if command in _REQUIRED:
                raise
            _LOGGER.info(
                "%s did not answer %s (%s); not asked again", self.link.description, command, err
            )
        else:
            return payload
        self.unsupported.add(command)
        return None

    async def identify(self) -> list[DeviceIdentity]:
        """Identify the inverter, learn which queries and fields it has, find parallel units."""
        self._layouts.clear()
        self.unsupported.clear()
        try:
            protocol = await self._ask("QPI")
        except DeviceRefusedError as err:
            raise UnsupportedError("the device refused QPI; it does not speak PI30") from err
        if protocol != PROTOCOL:
            raise UnsupportedError(f"the device speaks {protocol!r}, not {PROTOCOL}")
        serial = await self._serial_number()
        replies: dict[str, str] = {}
        for query in QUERIES:
            if query.command in _IDENTITY:
                continue
            payload = await self._probe(query.command)
            if payload is not None:
                replies[query.command] = payload
        self._layouts[MAIN] = build_layout(QUERIES, replies, SETTERS, actions=ACTIONS)
        main = DeviceIdentity(
            serial_number=serial,
            family=FAMILY,
            model=_model(replies),
            manufacturer=MANUFACTURER,
            firmware=firmware(replies["QVFW"]) if "QVFW" in replies else None,
            details={"protocol": protocol, "unsupported": " ".join(sorted(self.unsupported))},
        )
        ratings = split_fields(replies["QPIRI"]) if "QPIRI" in replies else None
        return [main, *await self._parallel_units(main, ratings)]

    async def _serial_number(self) -> str:
        """Return the serial from QID, or from QSID on models that only have that."""
        serial = ""
        try:
            serial = (await self._ask("QID")).strip()
        except DeviceRefusedError:
            self.unsupported.add("QID")
        if not serial.strip("0"):
            payload = await self._probe("QSID")
            if payload is not None:
                serial = serial_from_sid(payload) or serial
        if not serial:
            raise UnsupportedError("the device reports no serial number")
        return serial

    async def _parallel_units(
        self, main: DeviceIdentity, ratings: list[str] | None
    ) -> list[DeviceIdentity]:
        """Return one device per unit of a parallel system (none for a single unit)."""
        mode = field_at(ratings, 21) if ratings is not None else None
        first: str | None = None
        if mode is None:
            # Firmware without QPIRI's output mode: a unit present in QPGS0 means parallel.
            first = await self._probe("QPGS0")
            if first is None or not _unit_exists(first):
                return []
        elif not mode.isdigit() or int(mode) == 0:
            return []
        limit = MAX_PARALLEL_UNITS
        top = field_at(ratings, 18) if ratings is not None else None
        if top is not None and top.isdigit() and int(top) > 0:
            limit = min(limit, int(top))
        units: list[DeviceIdentity] = []
        for unit in range(limit):
            command = f"QPGS{unit}"
            payload = first if unit == 0 and first is not None else await self._probe(command)
            if payload is None or not _unit_exists(payload):
                break
            address = f"parallel_{unit}"
            self._layouts[address] = build_layout(
                [parallel_query(unit)], {command: payload}, parallel_setters(unit)
            )
            serial = field_at(split_fields(payload), 1) or ""
            if serial == main.serial_number:
                # The unit on this link reports itself too: it is the main device already.
                continue
            if not serial.strip("0"):
                serial = f"{main.serial_number}-{unit}"
            units.append(
                DeviceIdentity(
                    serial_number=serial,
                    family=FAMILY,
                    model=main.model,
                    manufacturer=MANUFACTURER,
                    address=address,
                    parent_serial=main.serial_number,
                    details={"parallel_unit": str(unit)},
                )
            )
        return units

    def _layout(self, device: DeviceIdentity) -> Layout:
        try:
            return self._layouts[device.address]
        except KeyError:
            raise UnsupportedError(
                f"{device.title} is unknown on {self.link.description}; identify it first"
            ) from None

    def catalogue(self, device: DeviceIdentity) -> Sequence[Point]:
        """Return the points this device answered for when it was identified."""
        return list(self._layout(device).points.values())

    async def read(self, device: DeviceIdentity, keys: Collection[str]) -> dict[str, Value]:
        """Read the named points, asking each needed query once."""
        layout = self._layout(device)
        replies: dict[str, str] = {}
        for query in layout.queries_for(keys):
            fits = functools.partial(layout.fits, query)
            replies[query.command] = await self._ask(query.command, fits)
        return layout.decode(replies, keys)

    async def write(self, device: DeviceIdentity, point: Point, value: Value) -> None:
        """Send the setter of a validated value (or an action) and expect ACK."""
        encode = self._layout(device).setters.get(point.key)
        if encode is None:
            raise UnsupportedError(f"{device.title} cannot set {point.key}", key=point.key)
        command = encode(value, self.clock())
        # Setters are not retried: a lost ACK may hide a write the device already applied.
        reply = await self._exchange(command)
        if reply != ACK:
            raise DeviceRefusedError(f"{command} was answered {reply!r}, not ACK", key=point.key)

    async def raw_command(self, command: str) -> str:
        """Send any command as typed and return the reply payload ("NAK" when refused)."""
        try:
            return await self._exchange(command)
        except DeviceRefusedError:
            return "NAK"


def _unit_exists(payload: str) -> bool:
    return field_at(split_fields(payload), 0) == "1"


def _model(replies: dict[str, str]) -> str:
    if model := replies.get("QMN", "").strip():
        return model
    return f"PI30 inverter {replies.get('QGMN', '').strip()}".strip()
