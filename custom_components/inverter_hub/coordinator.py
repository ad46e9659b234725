"""One coordinator per link: multi-rate polling, data quality, availability and writes."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import (
    CONF_EXPERT,
    CONF_PROBE_INTERVAL,
    CONF_SCAN_INTERVAL,
    CONF_SLOW_INTERVAL,
    DEFAULT_PROBE_INTERVAL,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SLOW_INTERVAL,
    DOMAIN,
    LOGGER,
    WRITE_LOG_SIZE,
)
from .inverterlib.client import InverterClient
from .inverterlib.errors import InverterError, LinkError, LinkTimeoutError, ValidationError
from .inverterlib.model import DeviceIdentity, Point, PointKind, PollGroup, Value
from .inverterlib.quality import QualityFilter
from .inverterlib.writer import Outcome, WriteRecord, find_point, write_setting
from .repairs import async_check_port

type InverterConfigEntry = ConfigEntry[InverterCoordinator]


class ExpertModeRequiredError(ValidationError):
    """An expert-only point or service was used with expert mode off."""

    translation_key = "expert_mode_required"


def translate_error(err: InverterError) -> HomeAssistantError:
    """Return the Home Assistant error that tells the user what went wrong."""
    error_class = ServiceValidationError if isinstance(err, ValidationError) else HomeAssistantError
    return error_class(
        translation_domain=DOMAIN,
        translation_key=err.translation_key,
        translation_placeholders=err.placeholders,
    )


@dataclass
class DeviceState:
    """What the coordinator knows about one device on the link."""

    identity: DeviceIdentity
    points: dict[str, Point]
    quality: QualityFilter
    available: bool = True
    failures: int = 0
    retry_at: float = 0.0
    read_at: dict[PollGroup, float] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, Value]:
        """Return the last good value of every point read so far."""
        return self.quality.good


class InverterCoordinator(DataUpdateCoordinator[dict[str, DeviceState]]):
    """Poll every device on one link and carry writes to them."""

    config_entry: InverterConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: InverterConfigEntry,
        client: InverterClient,
        translated_keys: frozenset[str] = frozenset(),
    ) -> None:
        """Set up the coordinator for one link."""
        options = entry.options
        self.client = client
        self.translated_keys = translated_keys
        self.expert: bool = options.get(CONF_EXPERT, False)
        self.slow_interval: float = options.get(CONF_SLOW_INTERVAL, DEFAULT_SLOW_INTERVAL)
        self.probe_interval: float = options.get(CONF_PROBE_INTERVAL, DEFAULT_PROBE_INTERVAL)
        self.scan_interval: float = options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL)
        self.devices: dict[str, DeviceState] = {}
        self.write_log: deque[WriteRecord] = deque(maxlen=WRITE_LOG_SIZE)
        self._link_down = False
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {client.link.description}",
            update_interval=timedelta(seconds=self.scan_interval),
        )

    async def _async_setup(self) -> None:
        """Open the link and learn which devices are on it."""
        try:
            await self.client.connect()
            identities = await self.client.identify()
        except InverterError as err:
            await self.client.close()
            if isinstance(err, LinkError) and not isinstance(err, LinkTimeoutError):
                await async_check_port(self.hass, self.config_entry)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"detail": str(err)},
            ) from err
        for identity in identities:
            points = {point.key: point for point in self.client.catalogue(identity)}
            self.devices[identity.serial_number] = DeviceState(
                identity=identity,
                points=points,
                quality=QualityFilter(points),
                available=identity.extra.get("offline") != "1",
            )

    def device_info(self, serial_number: str) -> DeviceInfo:
        """Return the Home Assistant device of a serial number."""
        identity = self.devices[serial_number].identity
        info = DeviceInfo(
            identifiers={(DOMAIN, identity.serial_number)},
            manufacturer=identity.manufacturer,
            model=identity.model,
            name=identity.title,
            serial_number=identity.serial_number,
            sw_version=identity.firmware,
        )
        if identity.parent_serial:
            info["via_device"] = (DOMAIN, identity.parent_serial)
        return info

    def visible_points(self, state: DeviceState) -> list[Point]:
        """Return the points that get entities (expert points only in expert mode)."""
        return [point for point in state.points.values() if self.expert or not point.expert]

    def _wanted_keys(self, state: DeviceState) -> set[str]:
        """Return the keys enabled entities listen to, or the default set before they exist."""
        serial = state.identity.serial_number
        listened = {
            context[1]
            for context in self.async_contexts()
            if isinstance(context, tuple) and context[0] == serial
        }
        if listened:
            return listened
        return {point.key for point in self.visible_points(state) if point.enabled_by_default}

    def _due_keys(self, state: DeviceState, now: float) -> dict[PollGroup, set[str]]:
        """Return the wanted keys of each poll group that is due now."""
        due: dict[PollGroup, set[str]] = {}
        for key in self._wanted_keys(state):
            point = state.points.get(key)
            if point is None:
                continue
            last = state.read_at.get(point.group)
            if point.group is PollGroup.STATIC and last is not None:
                continue
            if (
                point.group is PollGroup.SLOW
                and last is not None
                and now - last < self.slow_interval
            ):
                continue
            due.setdefault(point.group, set()).add(key)
        return due

    async def _async_update_data(self) -> dict[str, DeviceState]:
        """Read what is due from every device that is not resting after a failure."""
        now = time.monotonic()
        try:
            for state in self.devices.values():
                if not state.available and now < state.retry_at:
                    continue
                await self._update_device(state, now)
        except LinkError as err:
            await async_check_port(self.hass, self.config_entry)
            self._link_down = True
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="link_lost",
                translation_placeholders={"detail": str(err)},
            ) from err
        if self._link_down:
            self._link_down = False
            await async_check_port(self.hass, self.config_entry)
            for state in self.devices.values():
                state.retry_at = 0.0
        return self.devices

    async def _update_device(self, state: DeviceState, now: float) -> None:
        due = self._due_keys(state, now)
        keys: set[str] = set().union(*due.values()) if due else set()
        if not keys:
            return
        try:
            values = await self.client.read(state.identity, keys)
        except InverterError as err:
            # A silent or refusing device rests; only a broken link stops the whole cycle.
            if isinstance(err, LinkError) and not isinstance(err, LinkTimeoutError):
                raise
            self._mark_unavailable(state, now, err)
            return
        state.quality.apply(values)
        for group in due:
            state.read_at[group] = now
        if not state.available:
            LOGGER.info("%s answers again", state.identity.title)
        state.available = True
        state.failures = 0

    def _mark_unavailable(self, state: DeviceState, now: float, err: InverterError) -> None:
        """Rest a silent device with exponential back-off; log only the first failure."""
        if state.available:
            LOGGER.warning("%s stopped answering: %s", state.identity.title, err)
        state.available = False
        state.failures += 1
        # Retry at the next cycle first, then after 1, 3, 7, ... intervals up to the cap.
        backoff = min(self.probe_interval, self.scan_interval * (2 ** (state.failures - 1) - 1))
        state.retry_at = now + backoff

    def state_of(self, serial_number: str) -> DeviceState:
        """Return the state of a device, or raise a validation error naming it."""
        try:
            return self.devices[serial_number]
        except KeyError:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_device",
                translation_placeholders={"device": serial_number},
            ) from None

    async def async_write(
        self, serial_number: str, key: str, value: Any, *, source: str
    ) -> WriteRecord:
        """Write one setting through the shared pipeline and publish the result."""
        state = self.state_of(serial_number)
        try:
            point = find_point(state.points, key)
            if point.expert and not self.expert:
                raise ExpertModeRequiredError(f"{key} needs expert mode", key=key)
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
            raise translate_error(err) from err
        self.write_log.append(record)
        if point.kind is PointKind.SETTING and record.new is not None:
            state.quality.good[key] = record.new
            self.async_update_listeners()
        return record

    @callback
    def require_expert(self) -> None:
        """Raise unless expert mode is on."""
        if not self.expert:
            raise translate_error(ExpertModeRequiredError("expert mode is off"))

    async def async_shutdown(self) -> None:
        """Stop polling and close the link."""
        await super().async_shutdown()
        await self.client.close()
