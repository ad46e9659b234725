"""The engine of one link: what to read and when, data quality, availability and writes."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
import logging
import time
from typing import Protocol

from .capabilities import Scanning
from .client import InverterClient
from .energy import EnergyIntegrator, integral_point, integrals_for
from .errors import (
    ExpertModeRequiredError,
    InverterError,
    LinkError,
    LinkTimeoutError,
    UnknownDeviceError,
)
from .model import DeviceIdentity, Point, PointKind, PollGroup, Snapshot, Value
from .quality import QualityFilter
from .validate import validate
from .writer import Outcome, WriteRecord, find_point, write_setting

_LOGGER = logging.getLogger(__name__)

DEFAULT_SCAN_INTERVAL = 10.0
DEFAULT_SLOW_INTERVAL = 300.0
# A device back from an outage is found within a minute; retrying a silent RS-485 unit more
# often than that only costs every other device on the bus a timeout per cycle.
DEFAULT_BACKOFF_CAP = 60.0
DEFAULT_RESCAN_INTERVAL = 3600.0
WRITE_LOG_SIZE = 50


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionSettings:
    """How a session polls: intervals in seconds, expert mode, rescans for new devices."""

    scan_interval: float = DEFAULT_SCAN_INTERVAL
    slow_interval: float = DEFAULT_SLOW_INTERVAL
    backoff_cap: float = DEFAULT_BACKOFF_CAP
    expert: bool = False
    # Where a rescan looks for devices that joined later, and how often on its own (None: never).
    scan_addresses: tuple[int, ...] = ()
    rescan_interval: float | None = None


@dataclass
class DeviceState:
    """What the session knows about one device on the link."""

    identity: DeviceIdentity
    points: dict[str, Point]
    quality: QualityFilter
    available: bool = True
    failures: int = 0
    retry_at: float = 0.0
    read_at: dict[PollGroup, float] = field(default_factory=dict)
    # Energy totals the session adds up from power, where the device has no counter of its own.
    energy: EnergyIntegrator | None = None

    @property
    def values(self) -> dict[str, Value]:
        """Return the last good value of every point read so far."""
        return self.quality.good

    def keys_to_read(self, keys: set[str]) -> set[str]:
        """Return what to ask the device for: computed values come with their inputs."""
        inputs = {name for key in keys for name in self.points[key].derived_from}
        keys = keys | (inputs & self.points.keys())
        if self.energy is None:
            return keys
        integrated = {integral.key for integral in self.energy.integrals}
        if keys & integrated:
            keys = keys | self.energy.sources
        return keys - integrated


@dataclass
class LinkHealth:
    """How the link has been doing since the session started."""

    last_success: datetime | None = None
    poll_duration: float | None = None
    # The mean time of one request and its reply in the last poll (s).
    round_trip: float | None = None
    errors: int = 0


class SessionListener(Protocol):
    """Receives what a session learns: new values and availability changes."""

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Take the last good values of a device that was just read."""

    def on_availability(self, device: DeviceIdentity, available: bool) -> None:
        """Take a device that stopped or started answering."""


def _monotonic() -> float:
    return time.monotonic()


class LinkSession:
    """Own one link's client and its devices; poll them and carry writes to them."""

    def __init__(
        self,
        client: InverterClient,
        settings: SessionSettings | None = None,
        *,
        write_log: deque[WriteRecord] | None = None,
        energy_totals: Mapping[str, Mapping[str, float]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Bind to an unconnected client; `write_log` and `energy_totals` outlive the session.

        `energy_totals` are the integrated totals kept from before, by serial number and key.
        """
        self.client = client
        self.settings = settings or SessionSettings()
        self.write_log = deque(maxlen=WRITE_LOG_SIZE) if write_log is None else write_log
        self.devices: dict[str, DeviceState] = {}
        self.health = LinkHealth()
        # The last failure of the link itself; None while it works.
        self.link_error: LinkError | None = None
        self._clock = clock or _monotonic
        self._interest: dict[str, Mapping[str, Collection[str]] | None] = {}
        self._listeners: list[SessionListener] = []
        self._device_listeners: list[Callable[[DeviceIdentity], None]] = []
        self._next_rescan = 0.0
        self._kept_totals = energy_totals or {}

    # Life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the link and learn which devices are on it; close it again on failure."""
        try:
            await self.client.connect()
            identities = await self.client.identify()
        except BaseException:
            await self.client.close()
            raise
        for identity in identities:
            self._add(identity)
        self._next_rescan = self._clock() + (self.settings.rescan_interval or 0.0)

    async def close(self) -> None:
        """Close the link."""
        await self.client.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every scan interval until `stop` is set (the headless service)."""
        while not stop.is_set():
            started = self._clock()
            await self.poll()
            remaining = self.settings.scan_interval - (self._clock() - started)
            try:
                async with asyncio.timeout(max(remaining, 0.0)):
                    await stop.wait()
            except TimeoutError:
                continue

    # Consumers ----------------------------------------------------------------------------

    def subscribe(self, listener: SessionListener) -> Callable[[], None]:
        """Send `listener` every snapshot and availability change; return the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def on_device_added(self, callback: Callable[[DeviceIdentity], None]) -> Callable[[], None]:
        """Call `callback` for every device a rescan adds; return the unsubscribe."""
        self._device_listeners.append(callback)
        return lambda: self._device_listeners.remove(callback)

    def want(self, consumer: str, interest: Mapping[str, Collection[str]] | None) -> None:
        """Record which keys of which devices a consumer wants read (None: every visible one)."""
        self._interest[consumer] = interest

    def visible_points(self, serial_number: str) -> list[Point]:
        """Return the points a user may see (expert points only in expert mode)."""
        state = self.state_of(serial_number)
        return [
            point for point in state.points.values() if self.settings.expert or not point.expert
        ]

    def state_of(self, serial_number: str) -> DeviceState:
        """Return the state of a device, or raise UnknownDeviceError naming it."""
        try:
            return self.devices[serial_number]
        except KeyError:
            raise UnknownDeviceError(
                f"no device {serial_number} on {self.client.link.description}",
                device=serial_number,
            ) from None

    # Polling ------------------------------------------------------------------------------

    async def poll(self) -> None:
        """Read what is due from every device that is not resting after a failure."""
        started = self._clock()
        exchanges_before = self.client.link.exchanges
        try:
            for state in list(self.devices.values()):
                if not state.available and started < state.retry_at:
                    continue
                await self._update(state, started)
            interval = self.settings.rescan_interval
            if interval is not None and started >= self._next_rescan:
                self._next_rescan = started + interval
                await self.rescan()
        except LinkError as err:
            self._link_lost(err, started)
            return
        if self.link_error is not None:
            _LOGGER.info("%s works again", self.client.link.description)
            self.link_error = None
        self.health.last_success = datetime.now(UTC)
        self.health.poll_duration = self._clock() - started
        if exchanges := self.client.link.exchanges - exchanges_before:
            self.health.round_trip = self.health.poll_duration / exchanges

    def _wanted_keys(self, state: DeviceState) -> set[str]:
        """Return the keys some consumer wants, or the default set while nobody said."""
        visible = {point.key: point for point in self.visible_points(state.identity.serial_number)}
        if not self._interest:
            return {key for key, point in visible.items() if point.enabled_by_default}
        wanted: set[str] = set()
        for interest in self._interest.values():
            if interest is None:
                return set(visible)
            wanted.update(interest.get(state.identity.serial_number, ()))
        return wanted & visible.keys()

    def _due_keys(self, state: DeviceState, now: float) -> dict[PollGroup, set[str]]:
        """Return the wanted keys of each poll group that is due now."""
        due: dict[PollGroup, set[str]] = {}
        for key in self._wanted_keys(state):
            point = state.points[key]
            last = state.read_at.get(point.group)
            if point.group is PollGroup.STATIC and last is not None:
                continue
            if (
                point.group is PollGroup.SLOW
                and last is not None
                and now - last < self.settings.slow_interval
            ):
                continue
            due.setdefault(point.group, set()).add(key)
        return due

    async def _update(self, state: DeviceState, now: float) -> None:
        due = self._due_keys(state, now)
        keys: set[str] = set().union(*due.values())
        if not keys:
            return
        try:
            values = await self.client.read(state.identity, state.keys_to_read(keys))
        except InverterError as err:
            # A silent or refusing device rests; only a broken link stops the whole cycle.
            if isinstance(err, LinkError) and not isinstance(err, LinkTimeoutError):
                raise
            self._mark_unavailable(state, now, err)
            return
        accepted = state.quality.apply(values)
        if state.energy is not None:
            state.values.update(state.energy.add(accepted, now))
        for group in due:
            state.read_at[group] = now
        state.failures = 0
        if not state.available:
            _LOGGER.info("%s answers again", state.identity.title)
            self._set_available(state, True)
        self._publish(state)

    def _mark_unavailable(self, state: DeviceState, now: float, err: InverterError) -> None:
        """Rest a silent device with exponential back-off; log only the first failure."""
        self.health.errors += 1
        state.failures += 1
        # Retry at the next cycle first, then after 1, 3, 7, ... intervals up to the cap.
        backoff = self.settings.scan_interval * (2 ** min(state.failures - 1, 16) - 1)
        state.retry_at = now + min(self.settings.backoff_cap, backoff)
        if state.available:
            _LOGGER.warning("%s stopped answering: %s", state.identity.title, err)
            self._set_available(state, False)

    def _link_lost(self, err: LinkError, now: float) -> None:
        """Rest every device; the link reopens on the next exchange that is due."""
        if self.link_error is None:
            _LOGGER.warning("%s failed: %s", self.client.link.description, err)
        self.link_error = err
        for state in self.devices.values():
            self._mark_unavailable(state, now, err)

    def _set_available(self, state: DeviceState, available: bool) -> None:
        state.available = available
        for listener in list(self._listeners):
            listener.on_availability(state.identity, available)

    def _publish(self, state: DeviceState) -> None:
        if not self._listeners:
            return
        snapshot = Snapshot(device=state.identity, values=dict(state.values))
        for listener in list(self._listeners):
            listener.on_snapshot(snapshot)

    # Devices ------------------------------------------------------------------------------

    def _add(self, identity: DeviceIdentity) -> DeviceState:
        points = {point.key: point for point in self.client.catalogue(identity)}
        integrals = integrals_for(points)
        points.update({integral.key: integral_point(integral) for integral in integrals})
        state = DeviceState(
            identity=identity,
            points=points,
            quality=QualityFilter(points, clock=self._clock),
            available=identity.reachable,
        )
        if integrals:
            kept = self._kept_totals.get(identity.serial_number, {})
            state.energy = EnergyIntegrator(integrals, kept)
            state.values.update(
                {key: total for key, total in state.energy.totals.items() if key in kept}
            )
        self.devices[identity.serial_number] = state
        return state

    def energy_totals(self) -> dict[str, dict[str, float]]:
        """Return the integrated energy totals to keep, by serial number and key."""
        return {
            serial: dict(state.energy.totals)
            for serial, state in self.devices.items()
            if state.energy is not None
        }

    async def rescan(self) -> list[DeviceIdentity]:
        """Look for devices that joined the link since start and add them."""
        if not isinstance(self.client, Scanning):
            return []
        taken = {state.identity.address for state in self.devices.values()}
        free = [address for address in self.settings.scan_addresses if str(address) not in taken]
        added: list[DeviceIdentity] = []
        for identity in await self.client.scan(free):
            if identity.serial_number in self.devices:
                continue
            _LOGGER.info("%s joined %s", identity.title, self.client.link.description)
            self._add(identity)
            added.append(identity)
            for callback in list(self._device_listeners):
                callback(identity)
        return added

    # Writes -------------------------------------------------------------------------------

    def _writable_point(self, state: DeviceState, key: str) -> Point:
        point = find_point(state.points, key)
        if point.expert and not self.settings.expert:
            raise ExpertModeRequiredError(f"{key} needs expert mode", key=key)
        return point

    def check(self, serial_number: str, key: str, value: object) -> Value:
        """Return `value` as it would be written, or raise ValidationError; send nothing."""
        return validate(self._writable_point(self.state_of(serial_number), key), value)

    def require_expert(self) -> None:
        """Raise unless expert mode is on (raw commands and registers)."""
        if not self.settings.expert:
            raise ExpertModeRequiredError("expert mode is off")

    async def write_many(
        self, serial_number: str, settings: Mapping[str, object], *, source: str
    ) -> list[WriteRecord]:
        """Write several settings in order, checked whole first; undo them if one fails."""
        for key, value in settings.items():
            self.check(serial_number, key, value)
        done: list[WriteRecord] = []
        try:
            for key, value in settings.items():
                done.append(await self.write(serial_number, key, value, source=source))
        except InverterError:
            for record in reversed(done):
                if record.outcome is Outcome.APPLIED and record.old is not None:
                    try:
                        await self.write(serial_number, record.key, record.old, source=source)
                    except InverterError as err:
                        _LOGGER.warning("could not restore %s: %s", record.key, err)
            raise
        return done

    async def write(
        self, serial_number: str, key: str, value: object, *, source: str
    ) -> WriteRecord:
        """Write one setting or action through the shared pipeline, and record it."""
        state = self.state_of(serial_number)
        try:
            point = self._writable_point(state, key)
            record = await write_setting(self.client, state.identity, point, value, source=source)
        except InverterError as err:
            self.write_log.append(
                WriteRecord(
                    serial_number=serial_number,
                    key=key,
                    old=state.values.get(key),
                    new=value if isinstance(value, int | float | str | bool) else str(value),
                    outcome=Outcome.FAILED,
                    error=str(err),
                    source=source,
                )
            )
            raise
        self.write_log.append(record)
        if point.kind is PointKind.SETTING and record.new is not None:
            state.quality.good[key] = record.new
            self._publish(state)
        return record
