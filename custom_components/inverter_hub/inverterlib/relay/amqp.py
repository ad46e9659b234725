"""The relay on RabbitMQ through aio-pika: a durable topic exchange and a queue per device."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from functools import partial
import logging
import ssl

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError

from .bus import Backoff, Channel, CommandHandler, ConnectionCallback, redact, uses_tls
from .outbox import Outbox

_LOGGER = logging.getLogger(__name__)

DEFAULT_EXCHANGE = "inverter_hub"
CONTENT_TYPE = "application/json"
# Commands that could not be answered are kept for a person to look at, not forever.
DEAD_LETTER_LIMIT = 1000
FLUSH_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0


class ConnectionLostError(ConnectionError):
    """The broker closed the connection or the channel."""


def routing_key(serial_number: str, channel: Channel) -> str:
    """Return the routing key of a device's channel."""
    return f"{serial_number}.{channel}"


@dataclass(frozen=True, kw_only=True, slots=True)
class _Link:
    """An open channel and the exchange declared on it."""

    channel: AbstractChannel
    exchange: AbstractExchange


class AmqpBus:
    """Publish devices to a RabbitMQ exchange and take their commands, reconnecting forever.

    A command is acknowledged only once the write pipeline finished and its reply was
    confirmed by the broker; one that arrived when the connection broke is delivered again
    and answered from the command record. A command whose reply cannot be routed, or that
    breaks the relay, goes to the dead-letter exchange `<exchange>.dead`.
    """

    name = "amqp"

    def __init__(
        self,
        url: str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        ssl_context: ssl.SSLContext | None = None,
        retry: Backoff | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """Remember the broker and the exchange to declare; `on_error` hears failed attempts."""
        if not url.startswith(("amqp://", "amqps://")):
            raise ValueError(f"not an AMQP broker URL: {redact(url)}")
        if uses_tls(url) and ssl_context is None:
            raise ValueError("an amqps:// broker needs an SSL context")
        self._url = url
        self.url = redact(url)
        self.exchange = exchange
        self.ssl_context = ssl_context if uses_tls(url) else None
        self.retry = retry or Backoff()
        self._on_error = on_error
        self._outbox = Outbox()
        self._serials: list[str] = []
        self._link: _Link | None = None
        self._handler: CommandHandler | None = None
        self._on_connection: ConnectionCallback | None = None
        self._task: asyncio.Task[None] | None = None
        self._attaching: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def dead_letters(self) -> str:
        """Return the name of the dead-letter exchange and of its queue."""
        return f"{self.exchange}.dead"

    def queue_name(self, serial_number: str) -> str:
        """Return the name of a device's durable command queue."""
        return f"{self.exchange}.{serial_number}.set"

    @property
    def connected(self) -> bool:
        """Return whether the broker connection is up."""
        return self._link is not None

    async def start(self, handler: CommandHandler, on_connection: ConnectionCallback) -> None:
        """Start connecting in the background."""
        self._handler = handler
        self._on_connection = on_connection
        self._task = asyncio.create_task(self._run(), name="relay amqp")

    def attach(self, serial_number: str) -> None:
        """Take the commands of a device from its queue."""
        if serial_number in self._serials:
            return
        self._serials.append(serial_number)
        if self._link is not None:
            task = asyncio.create_task(self._attach_now(self._link, serial_number))
            self._attaching.add(task)
            task.add_done_callback(self._attaching.discard)

    def publish(self, serial_number: str, channel: Channel, body: bytes) -> None:
        """Queue the new message of a device's channel."""
        self._outbox.keep(routing_key(serial_number, channel), body)

    async def close(self) -> None:
        """Send what is queued for a few seconds, then close the connection."""
        self._closing = True
        if self._link is not None:
            await self._outbox.flush(FLUSH_TIMEOUT)
        for task in (*self._attaching, *([self._task] if self._task else [])):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        backoff = replace(self.retry)
        while True:
            try:
                await self._session(backoff)
            except CONNECTION_EXCEPTIONS as err:
                if not backoff.failures:
                    _LOGGER.warning("AMQP broker %s unreachable: %s; retrying", self.url, err)
                if self._on_error is not None:
                    self._on_error(err)
            await asyncio.sleep(backoff.next_delay())

    async def _session(self, backoff: Backoff) -> None:
        """Connect, declare, consume and publish until the connection breaks."""
        connection = await aio_pika.connect(
            self._url,
            ssl_context=self.ssl_context,
            timeout=CONNECT_TIMEOUT,
            client_properties={"connection_name": "inverter_hub relay"},
        )
        try:
            lost = asyncio.Event()
            connection.close_callbacks.add(lambda *_: lost.set())
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            channel.close_callbacks.add(lambda *_: lost.set())
            # One command at a time per device queue: they reach the device in order.
            await channel.set_qos(prefetch_count=1)
            link = _Link(channel=channel, exchange=await self._declare(channel))
            for serial_number in self._serials:
                await self._consume(link, serial_number)
            if backoff.failures:
                _LOGGER.info("AMQP broker %s is back", self.url)
            backoff.reset()
            self._set_link(link)
            self._outbox.resend_all()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._outbox.drain(partial(self._send, link)))
                group.create_task(self._until(lost))
        except* CONNECTION_EXCEPTIONS as errors:
            raise errors.exceptions[0] from None
        finally:
            self._set_link(None)
            await connection.close()

    @staticmethod
    async def _until(lost: asyncio.Event) -> None:
        await lost.wait()
        raise ConnectionLostError("the broker closed the connection")

    def _set_link(self, link: _Link | None) -> None:
        was = self._link is not None
        self._link = link
        # A bus closing on purpose is not an outage to report.
        if was != (link is not None) and self._on_connection and not self._closing:
            self._on_connection(link is not None)

    async def _declare(self, channel: AbstractChannel) -> AbstractExchange:
        exchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        dead = await channel.declare_exchange(
            self.dead_letters, aio_pika.ExchangeType.FANOUT, durable=True
        )
        dead_queue = await channel.declare_queue(
            self.dead_letters, durable=True, arguments={"x-max-length": DEAD_LETTER_LIMIT}
        )
        await dead_queue.bind(dead)
        return exchange

    async def _consume(self, link: _Link, serial_number: str) -> None:
        queue = await link.channel.declare_queue(
            self.queue_name(serial_number),
            durable=True,
            arguments={"x-dead-letter-exchange": self.dead_letters},
        )
        await queue.bind(link.exchange, routing_key=routing_key(serial_number, Channel.SET))
        await queue.consume(partial(self._take, link, serial_number))

    async def _attach_now(self, link: _Link, serial_number: str) -> None:
        try:
            await self._consume(link, serial_number)
        except CONNECTION_EXCEPTIONS as err:
            # The next connection consumes every attached device's queue.
            _LOGGER.debug("Could not consume the commands of %s yet: %s", serial_number, err)

    async def _send(self, link: _Link, key: str, body: bytes, retain: bool) -> None:
        # AMQP has no retained messages; every state is a persistent message instead.
        del retain
        await link.exchange.publish(_message(body), routing_key=key, mandatory=False)

    async def _take(
        self, link: _Link, serial_number: str, message: AbstractIncomingMessage
    ) -> None:
        """Answer one command; a connection that broke meanwhile leaves it to redelivery."""
        try:
            await self._answer(link, serial_number, message)
        except CONNECTION_EXCEPTIONS as err:
            # Unacknowledged, it comes again after the reconnect and is answered from the record.
            _LOGGER.debug("A command to %s waits for the reconnect: %s", serial_number, err)

    async def _answer(
        self, link: _Link, serial_number: str, message: AbstractIncomingMessage
    ) -> None:
        """Run the command, reply, then acknowledge; dead-letter what cannot be answered."""
        assert self._handler is not None  # consuming starts after start()
        try:
            result = await self._handler(serial_number, message.body)
        except Exception:
            _LOGGER.exception("A command to %s failed; dead-lettering it", serial_number)
            await message.reject(requeue=False)
            return
        try:
            await self._reply(link, serial_number, message, result)
        except DeliveryError:
            _LOGGER.warning(
                "The reply to a command to %s has nowhere to go; dead-lettering the command",
                serial_number,
            )
            await message.reject(requeue=False)
            return
        await message.ack()

    async def _reply(
        self, link: _Link, serial_number: str, message: AbstractIncomingMessage, result: bytes
    ) -> None:
        reply = _message(result, correlation_id=message.correlation_id)
        if message.reply_to:
            await link.channel.default_exchange.publish(
                reply, routing_key=message.reply_to, mandatory=True
            )
        else:
            await link.exchange.publish(
                reply, routing_key=routing_key(serial_number, Channel.RESULT), mandatory=False
            )


def _message(body: bytes, *, correlation_id: str | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        content_type=CONTENT_TYPE,
        correlation_id=correlation_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
