"""The relay inside Home Assistant: MQTT through Home Assistant's own MQTT, RabbitMQ direct."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
import ssl
from typing import Any

from aiormq.exceptions import ProbableAuthenticationError
from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import STORAGE_DIR

from .const import DOMAIN, LOGGER
from .coordinator import InverterConfigEntry
from .inverterlib.relay import CommandStore, Relay, RelayOptions
from .inverterlib.relay.amqp import DEFAULT_EXCHANGE, AmqpBus
from .inverterlib.relay.bus import (
    DEFAULT_BASE_TOPIC,
    Backoff,
    Channel,
    CommandHandler,
    ConnectionCallback,
    RelayBus,
    topic,
    uses_tls,
)
from .inverterlib.relay.outbox import Outbox

CONF_RELAY = "relay"
CONF_RELAY_MQTT = "mqtt"
CONF_RELAY_AMQP = "amqp_url"
CONF_RELAY_BASE_TOPIC = "base_topic"
CONF_RELAY_EXCHANGE = "exchange"
CONF_RELAY_COMMANDS = "commands"
CONF_RELAY_KEYS = "allowed_keys"

QOS = 1
# How long an unloading entry keeps sending what is queued (the offline availability).
FLUSH_TIMEOUT = 5.0


class HassMqttBus:
    """A relay bus on the broker Home Assistant's MQTT integration is connected to."""

    name = "mqtt"

    def __init__(self, hass: HomeAssistant, base_topic: str, retry: Backoff | None = None) -> None:
        """Publish below `base_topic`."""
        self.hass = hass
        self.base_topic = base_topic
        self.retry = retry or Backoff(maximum=30.0)
        self._outbox = Outbox()
        self._handler: CommandHandler | None = None
        self._on_connection: ConnectionCallback | None = None
        self._unsubscribe: list[Any] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def connected(self) -> bool:
        """Return whether Home Assistant's MQTT client is connected."""
        return mqtt.is_connected(self.hass)

    async def start(self, handler: CommandHandler, on_connection: ConnectionCallback) -> None:
        """Subscribe to every device's commands and start sending what is queued."""
        self._handler = handler
        self._on_connection = on_connection
        self._unsubscribe.append(
            await mqtt.async_subscribe(
                self.hass, f"{self.base_topic}/+/set", self._command, qos=QOS, encoding=None
            )
        )
        self._unsubscribe.append(
            mqtt.async_subscribe_connection_status(self.hass, self._connection_changed)
        )
        self._spawn(self._outbox.drain(self._send))

    def attach(self, serial_number: str) -> None:
        """Take a device's commands (the wildcard subscription already does)."""

    def publish(self, serial_number: str, channel: Channel, body: bytes) -> None:
        """Queue the new retained message of a device's channel."""
        self._outbox.keep(topic(self.base_topic, serial_number, channel), body)

    async def close(self) -> None:
        """Send what is queued for a few seconds, then stop."""
        await self._outbox.flush(FLUSH_TIMEOUT)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for task in list(self._tasks):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    @callback
    def _connection_changed(self, connected: bool) -> None:
        if connected:
            # The broker may have lost retained messages while it was away.
            self._outbox.resend_all()
        if self._on_connection is not None:
            self._on_connection(connected)

    @callback
    def _command(self, message: mqtt.ReceiveMessage) -> None:
        # A retained command would run again after every reconnect.
        if message.retain or self._handler is None:
            return
        serial_number = message.topic.split("/")[-2]
        payload = message.payload
        body = payload if isinstance(payload, bytes) else str(payload).encode()
        self._spawn(self._answer(serial_number, body))

    async def _answer(self, serial_number: str, body: bytes) -> None:
        assert self._handler is not None
        result = await self._handler(serial_number, body)
        self._outbox.send(topic(self.base_topic, serial_number, Channel.RESULT), result)

    async def _send(self, topic_: str, body: bytes, retain: bool) -> None:
        backoff = Backoff(initial=self.retry.initial, maximum=self.retry.maximum)
        while True:
            try:
                await mqtt.async_publish(self.hass, topic_, body, qos=QOS, retain=retain)
            except HomeAssistantError as err:
                LOGGER.debug("MQTT publish to %s failed: %s", topic_, err)
                await asyncio.sleep(backoff.next_delay())
            else:
                return

    def _spawn(self, coroutine: Any) -> None:
        task = self.hass.async_create_background_task(coroutine, f"{DOMAIN} relay mqtt")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def relay_options(options: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return an entry's relay options (empty when the relay is off)."""
    relay: Mapping[str, Any] = options.get(CONF_RELAY, {})
    return relay


def relay_enabled(options: Mapping[str, Any]) -> bool:
    """Return whether an entry's options switch the relay on."""
    relay = relay_options(options)
    return bool(relay.get(CONF_RELAY_MQTT) or relay.get(CONF_RELAY_AMQP))


def _issue_id(entry: InverterConfigEntry, bus: str) -> str:
    return f"relay_{bus}_{entry.entry_id}"


async def async_start_relay(hass: HomeAssistant, entry: InverterConfigEntry) -> Relay | None:
    """Start the relay an entry's options ask for; None when it is off."""
    settings = relay_options(entry.options)
    if not relay_enabled(entry.options):
        return None
    buses: list[RelayBus] = []
    if settings.get(CONF_RELAY_MQTT):
        if not await mqtt.async_wait_for_mqtt_client(hass):
            _raise_issue(hass, entry, "mqtt", "relay_mqtt_missing")
        else:
            base = settings.get(CONF_RELAY_BASE_TOPIC) or DEFAULT_BASE_TOPIC
            buses.append(HassMqttBus(hass, base))
    if url := settings.get(CONF_RELAY_AMQP):
        context = await hass.async_add_executor_job(ssl.create_default_context)
        buses.append(
            AmqpBus(
                url,
                exchange=settings.get(CONF_RELAY_EXCHANGE) or DEFAULT_EXCHANGE,
                ssl_context=context if uses_tls(url) else None,
                on_error=lambda err: _amqp_failed(hass, entry, err),
            )
        )
    keys = [key.strip() for key in settings.get(CONF_RELAY_KEYS, "").split(",") if key.strip()]
    relay = Relay(
        entry.runtime_data.session,
        buses,
        options=RelayOptions(
            commands=bool(settings.get(CONF_RELAY_COMMANDS)),
            allowed_keys=frozenset(keys) if keys else None,
            slow_interval=entry.runtime_data.session.settings.slow_interval,
        ),
        store=CommandStore(Path(hass.config.path(STORAGE_DIR, f"{DOMAIN}.relay.{entry.entry_id}"))),
        on_connection=lambda bus, up: _connection_changed(hass, entry, bus, up),
    )
    await relay.start()
    return relay


@callback
def _connection_changed(
    hass: HomeAssistant, entry: InverterConfigEntry, bus: str, connected: bool
) -> None:
    if connected:
        ir.async_delete_issue(hass, DOMAIN, _issue_id(entry, bus))
    else:
        _raise_issue(hass, entry, bus, "relay_broker_down")


@callback
def _amqp_failed(hass: HomeAssistant, entry: InverterConfigEntry, err: Exception) -> None:
    if isinstance(err, ProbableAuthenticationError):
        # A broker that refuses the credentials will not take them on a retry either.
        entry.async_start_reauth(hass)
    _raise_issue(hass, entry, "amqp", "relay_broker_down")


@callback
def _raise_issue(hass: HomeAssistant, entry: InverterConfigEntry, bus: str, key: str) -> None:
    ir.async_create_issue(
        hass,
        DOMAIN,
        _issue_id(entry, bus),
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=key,
        translation_placeholders={"bus": bus, "title": entry.title},
    )
