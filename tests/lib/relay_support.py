"""Helpers for the relay tests: a session on the PI30 simulator, buses and brokers to watch."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
import json
from typing import Any
import uuid

import aio_pika
import aiomqtt
from inverterlib.relay.bus import Backoff, Channel, CommandHandler, ConnectionCallback
from inverterlib.session import LinkSession, SessionSettings

from simulators.pi30 import Pi30Simulator

from .conftest import Pi30Harness

MQTT_HOST = "127.0.0.1"
MQTT_PORT = 1883
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
# Quick enough for tests, slow enough not to spin on a busy machine.
FAST_RETRY = Backoff(initial=0.05, maximum=0.5)
# "Eventually" on a shared, loaded CI machine.
PATIENCE = 20.0


def unique(prefix: str = "relaytest") -> str:
    """Return a name no parallel test uses (topics, exchanges, client ids)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def eventually(check: Callable[[], object], timeout: float = PATIENCE) -> None:
    """Wait until `check()` is true, or fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        # Polling: what is checked lives in brokers and simulators, with no event to await.
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@asynccontextmanager
async def pi30_session(
    pi30: Pi30Harness, *, expert: bool = False
) -> AsyncIterator[tuple[Pi30Simulator, LinkSession]]:
    """Yield a started session on a PI30 simulator behind TCP, polled once."""
    simulator, client = await pi30.tcp(timeout=0.5)
    session = LinkSession(client, SessionSettings(scan_interval=0.1, expert=expert))
    await session.start()
    await session.poll()
    try:
        yield simulator, session
    finally:
        await session.close()


def serial_of(session: LinkSession) -> str:
    """Return the serial number of the session's only device."""
    (serial_number,) = session.devices
    return serial_number


def writes(simulator: Pi30Simulator, prefix: str) -> int:
    """Return how many commands starting with `prefix` reached the simulated device."""
    return sum(
        count for command, count in simulator.stats.requests.items() if command.startswith(prefix)
    )


def command(command_id: str, key: str, value: object = None) -> bytes:
    """Return a one-key command body."""
    return json.dumps({"id": command_id, "key": key, "value": value}).encode()


class MemoryBus:
    """A bus that keeps what it was given, for tests of the relay core."""

    name = "memory"

    def __init__(self) -> None:
        self.connected = True
        self.messages: dict[tuple[str, Channel], list[bytes]] = defaultdict(list)
        self.attached: list[str] = []
        self.handler: CommandHandler | None = None
        self.on_connection: ConnectionCallback | None = None
        self.closed = False

    async def start(self, handler: CommandHandler, on_connection: ConnectionCallback) -> None:
        self.handler = handler
        self.on_connection = on_connection

    def attach(self, serial_number: str) -> None:
        self.attached.append(serial_number)

    def publish(self, serial_number: str, channel: Channel, body: bytes) -> None:
        self.messages[serial_number, channel].append(body)

    async def close(self) -> None:
        self.closed = True

    def last(self, serial_number: str, channel: Channel) -> bytes:
        return self.messages[serial_number, channel][-1]

    def state(self, serial_number: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.last(serial_number, Channel.STATE))
        return data

    async def send(self, serial_number: str, body: bytes) -> dict[str, Any]:
        assert self.handler is not None
        data: dict[str, Any] = json.loads(await self.handler(serial_number, body))
        return data


class BrokerProxy:
    """A TCP relay to a broker that a test can cut (a dead broker) and restore."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        """Listen (again) on the proxy's port; the first start picks a free one."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, upstream_writer)
        self._pairs.add(pair)
        await asyncio.gather(
            self._pipe(reader, upstream_writer),
            self._pipe(upstream_reader, writer),
            return_exceptions=True,
        )
        self._pairs.discard(pair)
        writer.transport.abort()
        upstream_writer.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.transport.abort()

    def cut(self) -> None:
        """Drop every connection without a goodbye and refuse new ones."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for client, upstream in list(self._pairs):
            client.transport.abort()
            upstream.transport.abort()

    async def restore(self) -> None:
        """Accept connections again, on the same port."""
        await self.start()

    async def close(self) -> None:
        self.cut()


class MqttWatcher:
    """Subscribe to a base topic and keep every message seen."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.seen: list[tuple[str, bytes]] = []
        self.client = aiomqtt.Client(MQTT_HOST, MQTT_PORT, identifier=unique("watcher"))
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MqttWatcher:
        await self.client.__aenter__()
        await self.client.subscribe(f"{self.base}/#", qos=1)
        self._task = asyncio.create_task(self._collect())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        await self.client.__aexit__(None, None, None)

    async def _collect(self) -> None:
        async for message in self.client.messages:
            payload = message.payload
            assert isinstance(payload, bytes)
            self.seen.append((str(message.topic), payload))

    def on(self, serial_number: str, channel: Channel) -> list[bytes]:
        target = f"{self.base}/{serial_number}/{channel}"
        return [payload for topic, payload in self.seen if topic == target]

    def results(self, serial_number: str) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.on(serial_number, Channel.RESULT)]

    async def send(self, serial_number: str, body: bytes) -> None:
        await self.client.publish(f"{self.base}/{serial_number}/set", body, qos=1)

    async def clear_retained(self, serial_number: str) -> None:
        """Remove the retained messages a test left on the broker."""
        for channel in (Channel.STATE, Channel.AVAILABILITY, Channel.MODEL):
            await self.client.publish(
                f"{self.base}/{serial_number}/{channel}", b"", qos=1, retain=True
            )


async def delete_amqp(exchange: str, serials: list[str]) -> None:
    """Delete what an AmqpBus declared for `exchange`."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for serial_number in serials:
            await channel.queue_delete(f"{exchange}.{serial_number}.set")
        await channel.queue_delete(f"{exchange}.dead")
        await channel.exchange_delete(f"{exchange}.dead")
        await channel.exchange_delete(exchange)
