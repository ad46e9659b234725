"""The relay on the real RabbitMQ broker: replies, redelivery, dead letters, a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import json
import logging
import ssl
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from inverterlib.relay import CommandStore, Relay, RelayOptions
from inverterlib.relay.amqp import AmqpBus
from inverterlib.relay.bus import Backoff
from inverterlib.session import LinkSession
from inverterlib.writer import WriteRecord
import pytest

from .conftest import Pi30Harness
from .relay_support import (
    AMQP_URL,
    FAST_RETRY,
    BrokerProxy,
    command,
    delete_amqp,
    eventually,
    pi30_session,
    serial_of,
    unique,
    writes,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

AMQP_PORT = 5672
# Commands sent before the broker restart (the rest follow it), and the one held in flight.
FIRST = 10
HELD = 3


class Requester:
    """A client that sends commands and watches everything on the relay's exchange."""

    def __init__(self, exchange: str, channel: AbstractChannel) -> None:
        self.exchange = exchange
        self.channel = channel
        self.replies: list[tuple[str | None, dict[str, Any]]] = []
        self.seen: list[AbstractIncomingMessage] = []
        self.reply_queue: AbstractQueue | None = None

    async def listen(self) -> None:
        exchange = await self.channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        observer = await self.channel.declare_queue(exclusive=True)
        await observer.bind(exchange, routing_key="#")
        await observer.consume(self._observe, no_ack=True)
        self.reply_queue = await self.channel.declare_queue(exclusive=True)
        await self.reply_queue.consume(self._reply, no_ack=True)

    async def _observe(self, message: AbstractIncomingMessage) -> None:
        self.seen.append(message)

    async def _reply(self, message: AbstractIncomingMessage) -> None:
        self.replies.append((message.correlation_id, json.loads(message.body)))

    def on(self, key: str) -> list[bytes]:
        return [message.body for message in self.seen if message.routing_key == key]

    async def send(
        self, serial_number: str, body: bytes, correlation_id: str, *, reply: bool = True
    ) -> None:
        exchange = await self.channel.get_exchange(self.exchange)
        reply_to = self.reply_queue.name if reply and self.reply_queue else None
        await exchange.publish(
            aio_pika.Message(
                body,
                reply_to=reply_to,
                correlation_id=correlation_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=f"{serial_number}.set",
        )


@asynccontextmanager
async def requester(exchange: str) -> AsyncIterator[Requester]:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        watcher = Requester(exchange, await connection.channel())
        await watcher.listen()
        yield watcher


def _bus(exchange: str, port: int = AMQP_PORT) -> AmqpBus:
    return AmqpBus(f"amqp://guest:guest@127.0.0.1:{port}/", exchange=exchange, retry=FAST_RETRY)


def _relay(session: LinkSession, bus: AmqpBus, heard: list[bool] | None = None) -> Relay:
    return Relay(
        session,
        [bus],
        options=RelayOptions(commands=True),
        store=CommandStore(None),
        on_connection=lambda _, up: heard.append(up) if heard is not None else None,
    )


def _gate_writes(session: LinkSession) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold every write until released; return (a write started, release)."""
    started, release = asyncio.Event(), asyncio.Event()
    real_write = session.write

    async def gated(serial_number: str, key: str, value: object, *, source: str) -> WriteRecord:
        started.set()
        await release.wait()
        return await real_write(serial_number, key, value, source=source)

    session.write = gated  # type: ignore[method-assign]
    return started, release


async def _dead_letters(exchange: str) -> list[AbstractIncomingMessage]:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(f"{exchange}.dead")
        found: list[AbstractIncomingMessage] = []
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            found.append(message)
        return found


async def test_publications_replies_and_a_duplicate_delivery(pi30: Pi30Harness) -> None:
    exchange = unique()
    async with pi30_session(pi30) as (simulator, session), requester(exchange) as client:
        serial = serial_of(session)
        heard: list[bool] = []
        relay = _relay(session, _bus(exchange), heard)
        try:
            await relay.start()
            await eventually(lambda: client.on(f"{serial}.state"))
            assert heard == [True]
            assert json.loads(client.on(f"{serial}.model")[-1])["serial_number"] == serial
            assert client.on(f"{serial}.availability") == [b"online"]
            state = next(m for m in client.seen if m.routing_key == f"{serial}.state")
            assert state.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            assert state.content_type == "application/json"

            body = command("a1", "battery_float_voltage", 53.0)
            await client.send(serial, body, "first")
            await client.send(serial, body, "again")
            await eventually(lambda: len(client.replies) == 2)
            (first_id, first), (again_id, again) = client.replies
            assert (first_id, again_id) == ("first", "again")
            assert first == again
            assert (first["id"], first["outcome"], first["new"]) == ("a1", "applied", 53.0)
            assert writes(simulator, "PBFT") == 1

            # Without reply_to the result goes to <serial>.result on the exchange.
            await client.send(serial, command("a2", "buzzer", "on"), "x", reply=False)
            await eventually(lambda: client.on(f"{serial}.result"))
            assert json.loads(client.on(f"{serial}.result")[0])["id"] == "a2"
            await client.send(serial, b"\x00garbage", "bad")
            await eventually(lambda: len(client.replies) == 3)
            assert client.replies[2][1]["error"]["code"] == "malformed_command"
        finally:
            await relay.close()
        await eventually(lambda: client.on(f"{serial}.availability")[-1] == b"offline")
        assert heard == [True]
        await delete_amqp(exchange, [serial])


async def test_a_requester_gone_before_the_reply(pi30: Pi30Harness) -> None:
    exchange = unique()
    async with pi30_session(pi30) as (simulator, session):
        serial = serial_of(session)
        relay = _relay(session, _bus(exchange))
        started, release = _gate_writes(session)
        try:
            await relay.start()
            await eventually(lambda: relay.connected)
            async with requester(exchange) as client:
                await client.send(serial, command("gone", "max_charging_current", 20), "c")
                await started.wait()
            # The requester and its reply queue are gone; the write finishes anyway.
            release.set()
            await eventually(lambda: relay.store.result(serial, "gone") is not None)
            dead: list[AbstractIncomingMessage] = []

            async def dead_lettered() -> None:
                while not dead:
                    dead.extend(await _dead_letters(exchange))
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(dead_lettered(), 20)
            assert json.loads(dead[0].body)["id"] == "gone"
            assert dead[0].headers["x-death"]
            assert simulator.device.settings.max_charging == 20
            assert writes(simulator, "MCHGC") == 1
        finally:
            await relay.close()
            await delete_amqp(exchange, [serial])


async def test_the_relay_drops_off_before_replying(pi30: Pi30Harness) -> None:
    exchange = unique()
    proxy = BrokerProxy(AMQP_PORT)
    await proxy.start()
    proxy.cut()
    async with pi30_session(pi30) as (simulator, session), requester(exchange) as client:
        serial = serial_of(session)
        heard: list[bool] = []
        relay = _relay(session, _bus(exchange, proxy.port), heard)
        started, release = _gate_writes(session)
        try:
            # Down at start: the session runs, the relay waits for the broker.
            await relay.start()
            await asyncio.sleep(0.2)
            assert not relay.connected
            await proxy.restore()
            await eventually(lambda: heard == [True])
            await eventually(lambda: client.on(f"{serial}.state"))

            await client.send(serial, command("cut", "battery_bulk_voltage", 55.0), "c")
            await started.wait()
            proxy.cut()
            await eventually(lambda: heard == [True, False])
            release.set()
            await eventually(lambda: relay.store.result(serial, "cut") is not None)
            states = len(client.on(f"{serial}.state"))
            # Unacknowledged, the command comes again and is answered from the record.
            await proxy.restore()
            await eventually(lambda: client.replies)
            assert client.replies[0][1]["outcome"] == "applied"
            assert writes(simulator, "PCVV") == 1
            # Back, the relay publishes the current state again.
            await eventually(lambda: len(client.on(f"{serial}.state")) > states)
        finally:
            await relay.close()
            await proxy.close()
            await delete_amqp(exchange, [serial])


async def _consumers(queue_name: str) -> int:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(queue_name, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return 0
        return int(queue.declaration_result.consumer_count or 0)


async def test_a_command_that_breaks_the_handler_is_dead_lettered() -> None:
    exchange = unique()
    bus = _bus(exchange)

    async def handler(serial_number: str, body: bytes) -> bytes:
        if serial_number == "S1":
            raise RuntimeError("bug")
        return b'{"ok": true}'

    try:
        bus.attach("S1")
        await bus.start(handler, lambda up: None)
        await eventually(lambda: bus.connected)
        # A device that turns up once connected gets its queue at once.
        bus.attach("S2")
        bus.attach("S2")
        async with asyncio.timeout(20):
            while await _consumers(bus.queue_name("S2")) != 1:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        async with requester(exchange) as client:
            await client.send("S1", b"{}", "c1")
            await client.send("S2", b"{}", "c2")
            found: list[AbstractIncomingMessage] = []

            async def dead_lettered() -> None:
                while not found:
                    found.extend(await _dead_letters(exchange))
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(dead_lettered(), 20)
            assert found[0].body == b"{}"
            await eventually(lambda: client.replies)
            assert client.replies == [("c2", {"ok": True})]
    finally:
        await bus.close()
        await delete_amqp(exchange, ["S1", "S2"])


class _Command:
    """The parts of a delivered command the bus reads."""

    body = b"{}"
    reply_to = "nowhere"
    correlation_id = "c"


async def test_a_channel_that_closes_under_the_bus(caplog: pytest.LogCaptureFixture) -> None:
    exchange = unique()
    bus = _bus(exchange)
    heard: list[bool] = []

    async def handler(serial_number: str, body: bytes) -> bytes:
        return b"{}"

    try:
        await bus.start(handler, heard.append)
        await eventually(lambda: bus.connected)
        link = bus._link
        assert link is not None
        await link.channel.close()
        with caplog.at_level(logging.DEBUG, logger="inverterlib.relay.amqp"):
            # A device attached, and a reply sent, on the dead channel wait for the reconnect.
            await bus._attach_now(link, "S3")
            await bus._take(link, "S3", _Command())  # type: ignore[arg-type]
            bus.attach("S3")
        assert "Could not consume the commands of S3" in caplog.text
        assert "A command to S3 waits for the reconnect" in caplog.text
        await eventually(lambda: heard == [True, False, True])
        async with asyncio.timeout(20):
            while await _consumers(bus.queue_name("S3")) != 1:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        await bus.close()
        await delete_amqp(exchange, ["S3"])


async def test_survives_a_broker_restart_mid_stream(pi30: Pi30Harness) -> None:
    """Restart the shared RabbitMQ once while commands flow: none lost, none applied twice."""
    exchange = unique()
    replies_queue = unique("replies")
    values = [round(48.0 + 0.5 * n, 1) for n in range(16)]
    async with pi30_session(pi30) as (simulator, session):
        serial = serial_of(session)
        relay = Relay(
            session,
            [_bus(exchange)],
            options=RelayOptions(commands=True),
            store=CommandStore(None),
        )
        real_write = session.write
        held, release = asyncio.Event(), asyncio.Event()

        async def write(serial_number: str, key: str, value: object, *, source: str) -> WriteRecord:
            # One command is still being written when the broker stops.
            if value == values[HELD]:
                held.set()
                await release.wait()
            return await real_write(serial_number, key, value, source=source)

        session.write = write  # type: ignore[method-assign]
        answered: dict[str, dict[str, Any]] = {}
        try:
            await relay.start()
            await eventually(lambda: relay.connected)
            await _send_stream(exchange, serial, replies_queue, values[:FIRST], 0)
            await held.wait()
            try:
                await _rabbitmqctl("stop_app")
                await eventually(lambda: not relay.connected)
                release.set()
                await eventually(lambda: writes(simulator, "PCVV") == HELD + 1)
            finally:
                # The broker is shared: it must be back whatever happened above.
                release.set()
                await _rabbitmqctl("start_app")
                await _broker_back()
            await _send_stream(exchange, serial, replies_queue, values[FIRST:], FIRST)
            await _collect(replies_queue, answered, len(values))
            await eventually(lambda: relay.connected)
        finally:
            await relay.close()
            await _delete_queue(replies_queue)
            await delete_amqp(exchange, [serial])
    assert set(answered) == {f"r{n}" for n in range(len(values))}
    assert all(result["ok"] for result in answered.values())
    # Every distinct value reached the device exactly once, in order.
    assert writes(simulator, "PCVV") == len(values)
    assert simulator.device.settings.bulk_voltage == pytest.approx(values[-1])


async def _rabbitmqctl(action: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        action,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await process.wait() == 0


async def _broker_back() -> None:
    async with asyncio.timeout(30):
        while True:
            try:
                connection = await aio_pika.connect(AMQP_URL)
            except (ConnectionError, OSError, aio_pika.exceptions.AMQPError):
                await asyncio.sleep(0.1)
                continue
            await connection.close()
            return


async def _send_stream(
    exchange: str, serial_number: str, replies: str, values: list[float], first: int
) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(replies, durable=True)
        target = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        for offset, value in enumerate(values):
            token = f"r{first + offset}"
            await target.publish(
                aio_pika.Message(
                    command(token, "battery_bulk_voltage", value),
                    reply_to=replies,
                    correlation_id=token,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=f"{serial_number}.set",
            )


async def _collect(replies: str, answered: dict[str, dict[str, Any]], count: int) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(replies, durable=True)
        async with asyncio.timeout(30):
            while len(answered) < count:
                message = await queue.get(fail=False, no_ack=True)
                if message is None:
                    await asyncio.sleep(0.05)
                    continue
                answered[str(message.correlation_id)] = json.loads(message.body)


async def _delete_queue(name: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name)


def test_urls_and_tls() -> None:
    with pytest.raises(ValueError, match="not an AMQP broker URL"):
        AmqpBus("http://u:secret@broker")
    with pytest.raises(ValueError, match="needs an SSL context"):
        AmqpBus("amqps://broker")
    context = ssl.create_default_context()
    assert AmqpBus("amqps://broker", ssl_context=context).ssl_context is context
    assert AmqpBus("amqp://broker", ssl_context=context).ssl_context is None
    bus = AmqpBus("amqp://u:secret@broker/", exchange="ex", retry=Backoff())
    assert bus.url == "amqp://u:***@broker/"
    assert bus.queue_name("S1") == "ex.S1.set"
    assert bus.dead_letters == "ex.dead"
