"""Settings applied for a while and restored afterwards, also across a restart (force charge)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType

from .const import DOMAIN, LOGGER
from .inverterlib.errors import InverterError
from .inverterlib.model import json_value
from .inverterlib.session import LinkSession
from .inverterlib.writer import Outcome, WriteRecord

SOURCE = "override"
RETRY = timedelta(minutes=5)


def changes(records: list[WriteRecord]) -> dict[str, JsonValueType]:
    """Return what a set of writes changed, by key, as JSON."""
    return {
        record.key: {"old": json_value(record.old), "new": json_value(record.new)}
        for record in records
        if record.outcome is Outcome.APPLIED
    }


class Overrides:
    """Keep, by device, the values to put back and when; restore them on time."""

    def __init__(self, hass: HomeAssistant, entry_id: str, session: LinkSession) -> None:
        """Bind to an entry's started session."""
        self.hass = hass
        self.session = session
        self._store: Store[dict[str, Any]] = Store(hass, 1, f"{DOMAIN}.overrides.{entry_id}")
        self._active: dict[str, dict[str, Any]] = {}
        self._timers: dict[str, Callable[[], None]] = {}

    async def async_load(self) -> None:
        """Re-arm what was pending before a restart; put back at once what is overdue."""
        self._active = await self._store.async_load() or {}
        for serial, item in list(self._active.items()):
            self._schedule(serial, dt_util.parse_datetime(item["until"]) or dt_util.utcnow())

    def active(self, serial_number: str) -> Mapping[str, Any] | None:
        """Return a device's pending restore (values and time), if any."""
        return self._active.get(serial_number)

    async def async_apply(
        self, serial_number: str, settings: Mapping[str, object], minutes: int
    ) -> dict[str, JsonValueType]:
        """Write `settings` now and schedule the previous values back in `minutes`."""
        records = await self.session.write_many(serial_number, settings, source=SOURCE)
        changed = changes(records)
        # A second override keeps what the first one will put back: the user's own values.
        restore = {
            key: change["old"] for key, change in changed.items() if isinstance(change, dict)
        }
        if (pending := self._active.get(serial_number)) is not None:
            restore |= pending["restore"]
        until = dt_util.utcnow() + timedelta(minutes=minutes)
        self._active[serial_number] = {"restore": restore, "until": until.isoformat()}
        await self._store.async_save(self._active)
        self._schedule(serial_number, until)
        return {"changed": changed, "until": until.isoformat()}

    async def async_restore(self, serial_number: str) -> dict[str, JsonValueType]:
        """Put a device's previous values back now; return what that changed."""
        self._cancel(serial_number)
        pending = self._active.get(serial_number)
        if pending is None:
            return {"changed": {}}
        records = await self.session.write_many(serial_number, pending["restore"], source=SOURCE)
        del self._active[serial_number]
        await self._store.async_save(self._active)
        return {"changed": changes(records)}

    @callback
    def async_stop(self) -> None:
        """Stop the timers; what is pending stays stored for the next start."""
        for serial in list(self._timers):
            self._cancel(serial)

    def _schedule(self, serial_number: str, until: datetime) -> None:
        self._cancel(serial_number)
        self._timers[serial_number] = async_track_point_in_utc_time(
            self.hass, self._due(serial_number), max(until, dt_util.utcnow())
        )

    def _cancel(self, serial_number: str) -> None:
        if (cancel := self._timers.pop(serial_number, None)) is not None:
            cancel()

    def _due(self, serial_number: str) -> Callable[[datetime], Any]:
        async def restore(_: datetime) -> None:
            self._timers.pop(serial_number, None)
            try:
                await self.async_restore(serial_number)
            except InverterError as err:
                # Kept stored, and tried again in a while (and at the next start).
                LOGGER.warning("Could not restore the settings of %s: %s", serial_number, err)
                self._schedule(serial_number, dt_util.utcnow() + RETRY)

        return restore
