"""Relay benchmark: command round trips over MQTT and RabbitMQ, and state publishing cost."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
import json
import os
from pathlib import Path
import shutil
import socket
import statistics
import tempfile
import time
import uuid

import aio_pika
import aiomqtt
from inverterlib.families import create_client
from inverterlib.model import Point, Snapshot, Value
from inverterlib.relay.amqp import AmqpBus
from inverterlib.relay.bus import Channel, RelayBus, topic
from inverterlib.relay.core import Relay, RelayDevice, RelayOptions, RelaySession
from inverterlib.relay.mqtt import NO_DELAY, MqttBus, mqtt_address
from inverterlib.relay.store import CommandStore
from inverterlib.session import LinkSession, SessionListener, SessionSettings
from inverterlib.writer import WriteRecord

from simulators.pi30 import Pi30Simulator
from simulators.pi30_device import Pi30Device

CONNECT_TIMEOUT = 30.0

type Requester = Callable[[bytes], Awaitable[None]]
"""Send one command body and return once its result arrived (one command at a time)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RoundTrips:
    """Percentiles of command round trips over one bus, in seconds."""

    bus: str
    count: int
    total_p50: float
    total_p99: float
    device_p50: float
    device_p99: float
    relay_p50: float
    relay_p99: float


class _TimedSession:
    """A session whose writes are timed: the device's share of a round trip."""

    def __init__(self, session: RelaySession) -> None:
        self.session = session
        self.write_times: list[float] = []

    @property
    def devices(self) -> Mapping[str, RelayDevice]:
        return self.session.devices

    def subscribe(self, listener: SessionListener) -> Callable[[], None]:
        return self.session.subscribe(listener)

    def want(self, consumer: str, interest: Mapping[str, Collection[str]] | None) -> None:
        self.session.want(consumer, interest)

    def visible_points(self, serial_number: str) -> list[Point]:
        return self.session.visible_points(serial_number)

    def check(self, serial_number: str, key: str, value: object) -> Value:
        return self.session.check(serial_number, key, value)

    async def write(
        self, serial_number: str, key: str, value: object, *, source: str
    ) -> WriteRecord:
        started = time.perf_counter()
        try:
            return await self.session.write(serial_number, key, value, source=source)
        finally:
            self.write_times.append(time.perf_counter() - started)


def _percentiles(samples: Sequence[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


async def measure_round_trips(
    session: RelaySession,
    serial_number: str,
    key: str,
    values: Sequence[object],
    *,
    mqtt_url: str | None = None,
    amqp_url: str | None = None,
    count: int = 200,
) -> list[RoundTrips]:
    """Send `count` commands cycling through `values` over each broker, one at a time.

    Use values the device does not already hold in turn, so each command reaches the
    device; the device's share is the time spent in the session's write pipeline.
    """
    name = f"inverter_hub_bench_{uuid.uuid4().hex[:8]}"
    results: list[RoundTrips] = []
    chosen = [
        (url, bus, requester)
        for url, bus, requester in (
            (mqtt_url, _mqtt_bus, _mqtt_requester),
            (amqp_url, _amqp_bus, _amqp_requester),
        )
        if url is not None
    ]
    for url, bus, requester in chosen:
        timed = _TimedSession(session)
        relay_bus = bus(url, name)
        totals: list[float] = []
        async with AsyncExitStack() as stack:
            send = await requester(stack, url, name, serial_number)
            relay = Relay(
                timed, [relay_bus], options=RelayOptions(commands=True), store=CommandStore(None)
            )
            await relay.start()
            # Closed before the requester cleans up what the run left on the broker.
            stack.push_async_callback(relay.close)
            async with asyncio.timeout(CONNECT_TIMEOUT):
                # Polling: a bus reports connections through a callback the relay owns.
                while not relay.connected:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            for n in range(count):
                body = {"id": f"{name}-{n}", "key": key, "value": values[n % len(values)]}
                started = time.perf_counter()
                await send(json.dumps(body).encode())
                totals.append(time.perf_counter() - started)
        overheads = [
            total - device for total, device in zip(totals, timed.write_times, strict=True)
        ]
        total_p50, total_p99 = _percentiles(totals)
        device_p50, device_p99 = _percentiles(timed.write_times)
        relay_p50, relay_p99 = _percentiles(overheads)
        results.append(
            RoundTrips(
                bus=relay_bus.name,
                count=count,
                total_p50=total_p50,
                total_p99=total_p99,
                device_p50=device_p50,
                device_p99=device_p99,
                relay_p50=relay_p50,
                relay_p99=relay_p99,
            )
        )
    return results


def _mqtt_bus(url: str, name: str) -> RelayBus:
    return MqttBus(url, client_id=name, base_topic=name)


def _amqp_bus(url: str, name: str) -> RelayBus:
    return AmqpBus(url, exchange=name)


async def _mqtt_requester(
    stack: AsyncExitStack, url: str, name: str, serial_number: str
) -> Requester:
    address = mqtt_address(url)
    client = await stack.enter_async_context(
        aiomqtt.Client(
            address.host,
            address.port,
            username=address.username,
            password=address.password,
            identifier=f"{name}-requester",
            socket_options=NO_DELAY,
        )
    )
    await client.subscribe(topic(name, serial_number, Channel.RESULT), qos=1)
    answers: asyncio.Queue[None] = asyncio.Queue()

    async def collect() -> None:
        async for _ in client.messages:
            answers.put_nowait(None)

    collector = asyncio.create_task(collect())
    stack.callback(collector.cancel)
    # The relay's retained messages are of no use once the run is over.
    for channel in (Channel.STATE, Channel.AVAILABILITY, Channel.MODEL):
        stack.push_async_callback(
            client.publish, topic(name, serial_number, channel), b"", qos=1, retain=True
        )

    async def send(body: bytes) -> None:
        await client.publish(topic(name, serial_number, Channel.SET), body, qos=1)
        await answers.get()

    return send


async def _amqp_requester(
    stack: AsyncExitStack, url: str, name: str, serial_number: str
) -> Requester:
    connection = await stack.enter_async_context(await aio_pika.connect(url))
    channel = await connection.channel()

    async def clean_up() -> None:
        await channel.queue_delete(f"{name}.{serial_number}.set")
        await channel.queue_delete(f"{name}.dead")
        await channel.exchange_delete(f"{name}.dead")
        await channel.exchange_delete(name)

    stack.push_async_callback(clean_up)
    exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
    replies = await channel.declare_queue(exclusive=True)
    answers: asyncio.Queue[None] = asyncio.Queue()

    async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        answers.put_nowait(None)

    await replies.consume(collect, no_ack=True)

    async def send(body: bytes) -> None:
        await exchange.publish(
            aio_pika.Message(body, reply_to=replies.name), routing_key=f"{serial_number}.set"
        )
        await answers.get()

    return send


async def _state_cost(session: LinkSession, cycles: int) -> float:
    """Return the mean seconds the relay spends on one cycle's snapshot of every device."""
    relay = Relay(session, [_NullBus()], options=RelayOptions(), store=CommandStore(None))
    await relay.start()
    snapshots = [
        Snapshot(device=state.identity, values=dict(state.values))
        for state in session.devices.values()
    ]
    started = time.perf_counter()
    for _ in range(cycles):
        for snapshot in snapshots:
            relay.on_snapshot(snapshot)
    elapsed = time.perf_counter() - started
    await relay.close()
    return elapsed / cycles


class _NullBus:
    """A bus that takes every message and sends nothing: the relay's own cost alone."""

    name = "null"
    connected = True

    async def start(self, handler: object, on_connection: object) -> None:
        """Take nothing."""

    def attach(self, serial_number: str) -> None:
        """Take nothing."""

    def publish(self, serial_number: str, channel: Channel, body: bytes) -> None:
        """Drop the message."""

    async def close(self) -> None:
        """Close nothing."""


@asynccontextmanager
async def _tuned_mosquitto() -> AsyncIterator[str | None]:
    """Run a private Mosquitto with Nagle's delay off on a free port; None without mosquitto."""
    # Debian installs the broker in /usr/sbin, which a user's PATH may lack.
    binary = shutil.which("mosquitto", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if binary is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "mosquitto.conf"
        config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        )
        process = await asyncio.create_subprocess_exec(
            binary,
            "-c",
            str(config),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async with asyncio.timeout(10):
                while True:
                    try:
                        _, writer = await asyncio.open_connection("127.0.0.1", port)
                    except OSError:
                        await asyncio.sleep(0.05)
                        continue
                    writer.close()
                    break
            yield f"mqtt://127.0.0.1:{port}"
        finally:
            process.terminate()
            await process.wait()


async def _run(args: argparse.Namespace) -> None:
    simulator = Pi30Simulator(Pi30Device())
    host, port = await simulator.start_tcp()
    session = LinkSession(
        create_client("pi30", f"tcp://{host}:{port}"), SessionSettings(expert=True)
    )
    try:
        await session.start()
        session.want("bench", None)
        await session.poll()
        serial = next(iter(session.devices))
        results = await measure_round_trips(
            session,
            serial,
            "battery_recharge_voltage",
            [46.0, 47.0],
            mqtt_url=args.mqtt,
            amqp_url=args.amqp,
            count=args.count,
        )
        async with _tuned_mosquitto() as tuned:
            if tuned is not None:
                (result,) = await measure_round_trips(
                    session,
                    serial,
                    "battery_recharge_voltage",
                    [46.0, 47.0],
                    mqtt_url=tuned,
                    count=args.count,
                )
                results.append(replace(result, bus="mqtt (set_tcp_nodelay)"))
        state = await _state_cost(session, 200)
    finally:
        await session.close()
        await simulator.stop()
    print(f"Command round trips, {args.count} commands a bus, unpaced PI30 simulator (ms)\n")
    print("| bus | total p50 | total p99 | device p50 | device p99 | relay p50 | relay p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        cells = (r.total_p50, r.total_p99, r.device_p50, r.device_p99, r.relay_p50, r.relay_p99)
        print(f"| {r.bus} | " + " | ".join(f"{value * 1000:.1f}" for value in cells) + " |")
    print()
    for r in results:
        met = r.relay_p50 < 0.005 and r.relay_p99 < 0.020
        verdict = "met" if met else "not met"
        print(f"{r.bus}: goal (relay overhead < 5 ms p50, < 20 ms p99) {verdict}")
    print(f"State publishing: {state * 1e6:.0f} µs a cycle for {len(session.devices)} device(s)")


def main() -> int:
    """Measure the relay against the local brokers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--count", type=int, default=200)
    asyncio.run(_run(parser.parse_args()))
    return 0
