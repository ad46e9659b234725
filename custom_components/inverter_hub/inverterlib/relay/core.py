"""The relay core: a session's devices out to the buses, commands from the buses back in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
import logging
from typing import Protocol

from ..errors import InverterError, ValidationError
from ..model import DeviceIdentity, Point, PointKind, Snapshot, Value
from ..session import DEFAULT_SLOW_INTERVAL, SessionListener
from ..writer import WriteRecord
from .bus import OFFLINE, ONLINE, Channel, RelayBus
from .commands import Command, CommandRefusedError, parse_command
from .deadband import changed
from .messages import (
    Json,
    command_result,
    encode,
    error_body,
    key_result,
    model_body,
    refusal,
    state_body,
)
from .store import CommandStore

_LOGGER = logging.getLogger(__name__)

CONSUMER = "relay"
# How long a closing relay waits for commands still being written, then for the brokers.
CLOSE_TIMEOUT = 10.0


class RelayDevice(Protocol):
    """What the relay reads of a session's device."""

    @property
    def identity(self) -> DeviceIdentity:
        """Return who the device is."""

    @property
    def values(self) -> Mapping[str, Value]:
        """Return the last good value of every point read so far."""

    @property
    def available(self) -> bool:
        """Return whether the device answers."""


class RelaySession(Protocol):
    """The part of a LinkSession the relay uses."""

    @property
    def devices(self) -> Mapping[str, RelayDevice]:
        """Return the devices on the link by serial number."""

    def subscribe(self, listener: SessionListener) -> Callable[[], None]:
        """Send `listener` every snapshot and availability change; return the unsubscribe."""

    def want(self, consumer: str, interest: Mapping[str, Collection[str]] | None) -> None:
        """Record which keys a consumer wants read (None: every visible one)."""

    def visible_points(self, serial_number: str) -> list[Point]:
        """Return the points a user may see."""

    def check(self, serial_number: str, key: str, value: object) -> Value:
        """Return `value` as it would be written, or raise ValidationError."""

    async def write(
        self, serial_number: str, key: str, value: object, *, source: str
    ) -> WriteRecord:
        """Write one setting or action through the write pipeline."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RelayOptions:
    """What the user allowed the relay to do, and how often it repeats a quiet state."""

    commands: bool = False
    # None: every setting (actions only when named here); a set: only the keys named.
    allowed_keys: frozenset[str] | None = None
    slow_interval: float = DEFAULT_SLOW_INTERVAL
    source: str = "relay"


@dataclass(kw_only=True, slots=True)
class _Device:
    """What the relay last published of one device."""

    identity: DeviceIdentity
    points: dict[str, Point]
    published: dict[str, Value] | None = None
    published_at: datetime | None = None


class Relay:
    """Publish one session's devices to every bus and apply the commands they bring."""

    def __init__(
        self,
        session: RelaySession,
        buses: Sequence[RelayBus],
        *,
        options: RelayOptions,
        store: CommandStore,
        on_connection: Callable[[str, bool], None] | None = None,
    ) -> None:
        """Bind to a started session; `on_connection` hears each bus going up or down."""
        self.session = session
        self.buses = tuple(buses)
        self.options = options
        self.store = store
        self._on_connection = on_connection
        self._devices: dict[str, _Device] = {}
        self._running: dict[tuple[str, str], asyncio.Task[Json]] = {}
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def connected(self) -> bool:
        """Return whether every bus takes messages."""
        return all(bus.connected for bus in self.buses)

    async def start(self) -> None:
        """Load the command record, start the buses and publish every known device."""
        await self.store.load()
        for bus in self.buses:
            await bus.start(self.handle_command, self._connection_callback(bus))
        for device in self.session.devices.values():
            self._known(device.identity)
            self._publish_availability(device.identity.serial_number, device.available)
            if device.values:
                self._publish_state(device.identity.serial_number, dict(device.values))
        self._unsubscribe = self.session.subscribe(self)
        self.session.want(CONSUMER, None)

    async def close(self) -> None:
        """Finish running commands, say every device is offline, and close the buses."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=CLOSE_TIMEOUT)
        for serial_number in self._devices:
            self._publish_availability(serial_number, False)
        for bus in self.buses:
            await bus.close()

    def _connection_callback(self, bus: RelayBus) -> Callable[[bool], None]:
        def changed(connected: bool) -> None:
            if self._on_connection is not None:
                self._on_connection(bus.name, connected)

        return changed

    # Session listener ---------------------------------------------------------------------

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Publish a device's state when a value left its deadband or the state grew old."""
        device = self._known(snapshot.device)
        values = dict(snapshot.values)
        stale = (
            device.published_at is None
            or (snapshot.taken - device.published_at).total_seconds() >= self.options.slow_interval
        )
        if stale or device.published is None or changed(device.points, device.published, values):
            self._publish_state(snapshot.device.serial_number, values, snapshot.taken)

    def on_availability(self, device: DeviceIdentity, available: bool) -> None:
        """Publish that a device went offline or came back."""
        self._known(device)
        self._publish_availability(device.serial_number, available)

    def _known(self, identity: DeviceIdentity) -> _Device:
        """Return the relay's record of a device, announcing it to the buses the first time."""
        serial_number = identity.serial_number
        if (device := self._devices.get(serial_number)) is not None:
            return device
        points = self.session.visible_points(serial_number)
        device = _Device(identity=identity, points={point.key: point for point in points})
        self._devices[serial_number] = device
        model = model_body(identity, ((point, self._accepts(point)) for point in points))
        for bus in self.buses:
            bus.attach(serial_number)
            bus.publish(serial_number, Channel.MODEL, encode(model))
        return device

    def _publish_state(
        self, serial_number: str, values: dict[str, Value], taken: datetime | None = None
    ) -> None:
        device = self._devices[serial_number]
        taken = taken or datetime.now(UTC)
        body = encode(state_body(device.points, values, taken))
        device.published = values
        device.published_at = taken
        for bus in self.buses:
            bus.publish(serial_number, Channel.STATE, body)

    def _publish_availability(self, serial_number: str, available: bool) -> None:
        for bus in self.buses:
            bus.publish(serial_number, Channel.AVAILABILITY, ONLINE if available else OFFLINE)

    # Commands -----------------------------------------------------------------------------

    def _accepts(self, point: Point) -> bool:
        """Return whether the relay's policy lets a command write this point."""
        if not self.options.commands or point.kind is PointKind.READING:
            return False
        allowed = self.options.allowed_keys
        if point.kind is PointKind.ACTION:
            return allowed is not None and point.key in allowed
        return allowed is None or point.key in allowed

    async def handle_command(self, serial_number: str, body: bytes) -> bytes:
        """Answer one command body sent to a device; a repeated id gets the recorded answer."""
        return encode(await self._answer(serial_number, body))

    async def _answer(self, serial_number: str, body: bytes) -> Json:
        try:
            command = parse_command(body)
        except CommandRefusedError as err:
            return refusal(err.command_id, err.code, str(err))
        if not self.options.commands:
            return refusal(command.id, "commands_disabled", "this relay does not take commands")
        if (recorded := self.store.result(serial_number, command.token)) is not None:
            return recorded
        key = (serial_number, command.token)
        task = self._running.get(key)
        if task is None:
            # A task, so that a bus dropping its consumer cannot cut a write in half; a
            # duplicate delivered meanwhile waits for the same answer.
            task = asyncio.create_task(self._apply(serial_number, command))
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(task)

    def _check(
        self, serial_number: str, points: Mapping[str, Point], command: Command
    ) -> list[Json]:
        """Check every key against its point and the relay's policy; send nothing."""
        checked: list[Json] = []
        for key, value in command.items:
            point = points.get(key)
            try:
                if point is not None and point.kind is not PointKind.READING:
                    self._require_allowed(point)
                self.session.check(serial_number, key, value)
            except (ValidationError, CommandRefusedError) as err:
                checked.append(key_result(key, "refused", error=error_body(err.code, str(err))))
            else:
                checked.append(key_result(key, "skipped"))
        return checked

    def _require_allowed(self, point: Point) -> None:
        if self._accepts(point):
            return
        if point.kind is PointKind.ACTION:
            raise CommandRefusedError(
                "action_not_allowed", f"{point.key} is an action this relay was not allowed to run"
            )
        raise CommandRefusedError(
            "key_not_allowed", f"{point.key} is not on this relay's list of writable keys"
        )

    async def _apply(self, serial_number: str, command: Command) -> Json:
        """Check the whole command, then write its keys in order through the write pipeline."""
        try:
            points = {point.key: point for point in self.session.visible_points(serial_number)}
        except ValidationError as err:  # no such device on the link
            return refusal(command.id, err.code, str(err))
        checked = self._check(serial_number, points, command)
        if not all(result["ok"] for result in checked):
            return command_result(command.id, checked, partial=command.partial)
        actions = any(points[key].kind is PointKind.ACTION for key, _ in command.items)
        if actions and self.store.pending(serial_number, command.token):
            result = refusal(
                command.id,
                "interrupted",
                "the relay stopped while running this command; whether it ran is unknown",
            )
            await self.store.finish(serial_number, command.token, result)
            return result
        await self.store.begin(serial_number, command.token)
        results: list[Json] = []
        failed = False
        for key, value in command.items:
            if failed:
                results.append(key_result(key, "skipped"))
                continue
            try:
                record = await self.session.write(
                    serial_number, key, value, source=self.options.source
                )
            except InverterError as err:
                failed = True
                results.append(key_result(key, "failed", error=error_body(err.code, str(err))))
                continue
            written = record.as_json()
            results.append(
                key_result(key, str(written["outcome"]), old=written["old"], new=written["new"])
            )
        result = command_result(command.id, results, partial=command.partial)
        await self.store.finish(serial_number, command.token, result)
        return result
