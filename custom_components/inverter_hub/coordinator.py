"""One coordinator per entry: drives the link's session and tells entities what changed."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, LOGGER
from .inverterlib.errors import InverterError, LinkError, LinkTimeoutError, ValidationError
from .inverterlib.model import DeviceIdentity, Value, json_value
from .inverterlib.relay import Relay
from .inverterlib.session import WRITE_LOG_SIZE, DeviceState, LinkSession
from .inverterlib.writer import WriteRecord
from .overrides import Overrides
from .repairs import async_check_port

type InverterConfigEntry = ConfigEntry[InverterCoordinator]

# Write logs by entry id: they outlive a reload, so diagnostics still show the write that
# preceded an options change.
WRITE_LOGS: HassKey[dict[str, deque[WriteRecord]]] = HassKey(f"{DOMAIN}_write_logs")

HASS_CONSUMER = "home_assistant"
# A device's message log (its canonical text reading); each new message becomes an event.
MESSAGE_KEY = "last_message"
MESSAGE_EVENT = f"{DOMAIN}_message"
TOTALS_SAVE_DELAY = 60


def write_log_of(hass: HomeAssistant, entry_id: str) -> deque[WriteRecord]:
    """Return the write log of an entry, kept across reloads."""
    logs = hass.data.setdefault(WRITE_LOGS, {})
    return logs.setdefault(entry_id, deque(maxlen=WRITE_LOG_SIZE))


def totals_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return where an entry keeps the energy totals its session integrates."""
    return Store(hass, 1, f"{DOMAIN}.energy.{entry_id}")


def translate_error(err: InverterError) -> HomeAssistantError:
    """Return the Home Assistant error that tells the user what went wrong."""
    error_class = ServiceValidationError if isinstance(err, ValidationError) else HomeAssistantError
    return error_class(
        translation_domain=DOMAIN,
        translation_key=err.translation_key,
        translation_placeholders=err.placeholders,
    )


def _message_event(state: DeviceState, message: str) -> dict[str, object]:
    """Return an event's data: the message's key, its English text and the facts beside it.

    The readings named `last_message_<fact>` (the unit that sent it, its code) come along
    as `<fact>`.
    """
    point = state.points.get(MESSAGE_KEY)
    data: dict[str, object] = {
        "serial_number": state.identity.serial_number,
        "device": state.identity.title,
        "message": message,
        "text": point.option_label(message) if point is not None and point.options else message,
    }
    prefix = f"{MESSAGE_KEY}_"
    for key, value in state.values.items():
        if key.startswith(prefix):
            data[key.removeprefix(prefix)] = json_value(value)
    return data


class InverterCoordinator(DataUpdateCoordinator[dict[str, DeviceState]]):
    """Poll the link's session and carry writes to it."""

    config_entry: InverterConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: InverterConfigEntry,
        session: LinkSession,
        translated_keys: frozenset[str] = frozenset(),
    ) -> None:
        """Set up the coordinator for one link."""
        self.session = session
        self.translated_keys = translated_keys
        self._totals = totals_store(hass, entry.entry_id)
        # The relay of this entry's session to MQTT / RabbitMQ, when the options turn it on.
        self.relay: Relay | None = None
        self.overrides = Overrides(hass, entry.entry_id, session)
        self._link_down = False
        self._messages: dict[str, Value | None] = {}
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {session.client.link.description}",
            update_interval=timedelta(seconds=session.settings.scan_interval),
        )

    @property
    def devices(self) -> dict[str, DeviceState]:
        """Return the devices on the link by serial number."""
        return self.session.devices

    async def _async_setup(self) -> None:
        """Open the link and learn which devices are on it."""
        try:
            await self.session.start()
        except InverterError as err:
            if isinstance(err, LinkError) and not isinstance(err, LinkTimeoutError):
                await async_check_port(self.hass, self.config_entry)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"detail": str(err)},
            ) from err

    def _listened(self) -> dict[str, set[str]] | None:
        """Return the keys enabled entities listen to, by device; None before any listens."""
        listened: dict[str, set[str]] = {}
        for context in self.async_contexts():
            if isinstance(context, tuple):
                serial, key = context
                listened.setdefault(serial, set()).add(key)
        return listened or None

    async def _async_update_data(self) -> dict[str, DeviceState]:
        """Tell the session what entities want, and let it poll what is due."""
        if (listened := self._listened()) is not None:
            self.session.want(HASS_CONSUMER, listened)
        await self.session.poll()
        if self.session.energy_totals():
            # Written at most once a minute: a restart loses under a minute of integration.
            self._totals.async_delay_save(self.session.energy_totals, TOTALS_SAVE_DELAY)
        self._fire_new_messages()
        link_down = self.session.link_error is not None
        if link_down != self._link_down:
            self._link_down = link_down
            await async_check_port(self.hass, self.config_entry)
        return self.session.devices

    def _fire_new_messages(self) -> None:
        """Fire an event for each device whose message log has a new message."""
        for serial, state in self.session.devices.items():
            message = state.values.get(MESSAGE_KEY)
            # What the log held at start is history, not news.
            if serial in self._messages and message not in (None, self._messages[serial]):
                self.hass.bus.async_fire(MESSAGE_EVENT, _message_event(state, str(message)))
            self._messages[serial] = message

    def device_info(self, identity: DeviceIdentity) -> DeviceInfo:
        """Return the Home Assistant device of an identity."""
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

    async def async_write(
        self, serial_number: str, key: str, value: Any, *, source: str
    ) -> WriteRecord:
        """Write one setting through the session's pipeline and show the result."""
        try:
            record = await self.session.write(serial_number, key, value, source=source)
        except InverterError as err:
            raise translate_error(err) from err
        self.async_update_listeners()
        return record

    @callback
    def require_expert(self) -> None:
        """Raise unless expert mode is on."""
        try:
            self.session.require_expert()
        except InverterError as err:
            raise translate_error(err) from err

    @callback
    def on_device_added(self, callback_: Callable[[DeviceIdentity], None]) -> None:
        """Call `callback_` for each device a rescan adds, while the entry is loaded."""
        self.config_entry.async_on_unload(self.session.on_device_added(callback_))

    async def async_shutdown(self) -> None:
        """Stop the relay and polling, and close the link."""
        self.overrides.async_stop()
        if self.relay is not None:
            await self.relay.close()
            self.relay = None
        await super().async_shutdown()
        await self.session.close()
        if totals := self.session.energy_totals():
            await self._totals.async_save(totals)
