"""The relay on an MQTT broker through aiomqtt: one connection per device, for its last will."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass, replace
from functools import partial
import logging
import socket
import ssl
from urllib.parse import unquote, urlsplit

import aiomqtt

from .bus import (
    DEFAULT_BASE_TOPIC,
    OFFLINE,
    Backoff,
    Channel,
    CommandHandler,
    ConnectionCallback,
    redact,
    topic,
    uses_tls,
)
from .outbox import Outbox

_LOGGER = logging.getLogger(__name__)

QOS = 1
# Commands and results are small and waited for; Nagle's delay would add tens of ms to each.
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
# How long a closing bus keeps sending what is queued (the offline availability).
FLUSH_TIMEOUT = 5.0


@dataclass(frozen=True, kw_only=True, slots=True)
class MqttAddress:
    """Where an MQTT broker is and how to log in; parsed from `mqtt[s]://user:pass@host:port`."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


def mqtt_address(url: str) -> MqttAddress:
    """Return the broker address of an `mqtt://` or `mqtts://` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"not an MQTT broker URL: {redact(url)}")
    tls = uses_tls(url)
    return MqttAddress(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=tls,
    )


class MqttBus:
    """Publish devices to an MQTT broker and take their commands, reconnecting forever.

    Each device gets its own connection: MQTT allows one last will per connection, and each
    device's availability topic must turn `offline` when the service dies. The sessions are
    persistent (clean session off, QoS 1), so commands sent while the relay was away wait in
    the broker.
    """

    name = "mqtt"

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        base_topic: str = DEFAULT_BASE_TOPIC,
        ssl_context: ssl.SSLContext | None = None,
        retry: Backoff | None = None,
        keepalive: int = 30,
    ) -> None:
        """Remember the broker; `client_id` names this relay's persistent sessions."""
        self.address = mqtt_address(url)
        if self.address.tls and ssl_context is None:
            raise ValueError("an mqtts:// broker needs an SSL context")
        self.url = redact(url)
        self.client_id = client_id
        self.base_topic = base_topic
        self.ssl_context = ssl_context if self.address.tls else None
        self.retry = retry or Backoff()
        self.keepalive = keepalive
        self._handler: CommandHandler | None = None
        self._on_connection: ConnectionCallback | None = None
        self._devices: dict[str, _DeviceConnection] = {}
        self._reported = False
        self._closing = False

    @property
    def connected(self) -> bool:
        """Return whether every device's connection is up."""
        return bool(self._devices) and all(device.up for device in self._devices.values())

    async def start(self, handler: CommandHandler, on_connection: ConnectionCallback) -> None:
        """Take the command handler; connections start as devices are attached."""
        self._handler = handler
        self._on_connection = on_connection

    def attach(self, serial_number: str) -> None:
        """Open a connection for a device, if it has none yet."""
        if serial_number not in self._devices:
            self._devices[serial_number] = _DeviceConnection(self, serial_number)

    def publish(self, serial_number: str, channel: Channel, body: bytes) -> None:
        """Queue the new retained message of a device's channel."""
        self._devices[serial_number].outbox.keep(
            topic(self.base_topic, serial_number, channel), body
        )

    async def close(self) -> None:
        """Send what is queued for a few seconds, then disconnect every device."""
        self._closing = True
        await asyncio.gather(*(device.close() for device in self._devices.values()))

    def report(self) -> None:
        """Tell the relay when the bus as a whole went up or down."""
        connected = self.connected
        # A bus closing on purpose is not an outage to report.
        if connected != self._reported and not self._closing:
            self._reported = connected
            if self._on_connection is not None:
                self._on_connection(connected)

    async def handle(self, serial_number: str, body: bytes) -> bytes:
        """Answer one command through the relay's handler."""
        assert self._handler is not None  # attach() follows start()
        return await self._handler(serial_number, body)


class _DeviceConnection:
    """One device's MQTT connection: its last will, its command topic, its outbox."""

    def __init__(self, bus: MqttBus, serial_number: str) -> None:
        self.bus = bus
        self.serial_number = serial_number
        self.outbox = Outbox()
        self.up = False
        # Commands wait here, so a connection that drops never cuts one off from its result.
        self._commands: asyncio.Queue[bytes] = asyncio.Queue()
        self._tasks = (
            asyncio.create_task(self._run(), name=f"relay mqtt {serial_number}"),
            asyncio.create_task(self._work(), name=f"relay mqtt commands {serial_number}"),
        )

    def _topic(self, channel: Channel) -> str:
        return topic(self.bus.base_topic, self.serial_number, channel)

    def _client(self) -> aiomqtt.Client:
        address = self.bus.address
        return aiomqtt.Client(
            address.host,
            address.port,
            username=address.username,
            password=address.password,
            identifier=f"{self.bus.client_id}-{self.serial_number}",
            clean_session=False,
            keepalive=self.bus.keepalive,
            tls_context=self.bus.ssl_context,
            socket_options=NO_DELAY,
            will=aiomqtt.Will(self._topic(Channel.AVAILABILITY), OFFLINE, qos=QOS, retain=True),
        )

    async def _run(self) -> None:
        backoff = replace(self.bus.retry)
        while True:
            try:
                async with self._client() as client:
                    await client.subscribe(self._topic(Channel.SET), qos=QOS)
                    if backoff.failures:
                        _LOGGER.info("MQTT broker %s is back", self.bus.url)
                    backoff.reset()
                    self._set_up(True)
                    self.outbox.resend_all()
                    async with asyncio.TaskGroup() as group:
                        group.create_task(self.outbox.drain(partial(self._send, client)))
                        group.create_task(self._take_commands(client))
            except* aiomqtt.MqttError as errors:
                if not backoff.failures:
                    _LOGGER.warning(
                        "MQTT broker %s unreachable for %s: %s; retrying",
                        self.bus.url,
                        self.serial_number,
                        errors.exceptions[0],
                    )
            self._set_up(False)
            await asyncio.sleep(backoff.next_delay())

    def _set_up(self, up: bool) -> None:
        self.up = up
        self.bus.report()

    async def _send(self, client: aiomqtt.Client, target: str, body: bytes, retain: bool) -> None:
        await client.publish(target, body, qos=QOS, retain=retain)

    async def _take_commands(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if message.retain:
                # A retained command would come again with every reconnect; only live ones run.
                _LOGGER.warning("Ignoring a retained command to %s", self.serial_number)
                continue
            # paho hands over bytes; the wider type is aiomqtt's for what it publishes.
            payload = message.payload
            self._commands.put_nowait(payload if isinstance(payload, bytes) else b"")

    async def _work(self) -> None:
        results = self._topic(Channel.RESULT)
        while True:
            body = await self._commands.get()
            try:
                result = await self.bus.handle(self.serial_number, body)
            except Exception:
                # MQTT already acknowledged it; a command that breaks the relay is dropped.
                _LOGGER.exception("A command to %s failed", self.serial_number)
                continue
            self.outbox.send(results, result)

    async def close(self) -> None:
        """Send what is queued while connected (briefly), then disconnect."""
        if self.up:
            await self.outbox.flush(FLUSH_TIMEOUT)
        for task in self._tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
