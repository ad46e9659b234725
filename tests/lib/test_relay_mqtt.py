"""The relay on the real Mosquitto broker: topics, commands, last will, outages."""

from __future__ import annotations

import json
import logging
import ssl

from inverterlib.relay import CommandStore, Relay, RelayOptions
from inverterlib.relay.bus import Channel
from inverterlib.relay.mqtt import MqttBus, mqtt_address
import pytest

from .conftest import Pi30Harness
from .relay_support import (
    FAST_RETRY,
    MQTT_PORT,
    BrokerProxy,
    MqttWatcher,
    command,
    eventually,
    pi30_session,
    serial_of,
    unique,
    writes,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _bus(base: str, port: int = MQTT_PORT) -> MqttBus:
    return MqttBus(f"mqtt://127.0.0.1:{port}", client_id=base, base_topic=base, retry=FAST_RETRY)


async def test_topics_and_a_command_round_trip(pi30: Pi30Harness) -> None:
    base = unique()
    heard: list[tuple[str, bool]] = []
    async with pi30_session(pi30) as (simulator, session), MqttWatcher(base) as watcher:
        serial = serial_of(session)
        relay = Relay(
            session,
            [_bus(base)],
            options=RelayOptions(commands=True),
            store=CommandStore(None),
            on_connection=lambda name, up: heard.append((name, up)),
        )
        await relay.start()
        await eventually(lambda: watcher.on(serial, Channel.STATE))
        assert heard == [("mqtt", True)]
        assert relay.connected
        model = json.loads(watcher.on(serial, Channel.MODEL)[-1])
        assert model["serial_number"] == serial
        assert watcher.on(serial, Channel.AVAILABILITY)[-1] == b"online"
        assert json.loads(watcher.on(serial, Channel.STATE)[-1])["battery_bulk_voltage"] == 56.4

        # A consumer that subscribes later finds the retained model, availability and state.
        async with MqttWatcher(base) as late:
            await eventually(lambda: len(late.seen) >= 3)
            assert {topic.rsplit("/", 1)[1] for topic, _ in late.seen} == {
                "model",
                "availability",
                "state",
            }

        await watcher.send(serial, command("m1", "battery_bulk_voltage", 57.2))
        await eventually(lambda: watcher.results(serial))
        assert watcher.results(serial)[0] == {
            "id": "m1",
            "key": "battery_bulk_voltage",
            "ok": True,
            "outcome": "applied",
            "old": 56.4,
            "new": 57.2,
            "error": None,
        }
        await eventually(
            lambda: (
                json.loads(watcher.on(serial, Channel.STATE)[-1])["battery_bulk_voltage"] == 57.2
            )
        )
        await watcher.send(serial, b"not json")
        await eventually(lambda: len(watcher.results(serial)) == 2)
        assert watcher.results(serial)[1]["error"]["code"] == "malformed_command"
        assert writes(simulator, "PCVV") == 1

        await relay.close()
        await eventually(lambda: watcher.on(serial, Channel.AVAILABILITY)[-1] == b"offline")
        # A bus closed on purpose is not an outage.
        assert heard == [("mqtt", True)]
        await watcher.clear_retained(serial)


async def test_outages_the_last_will_and_commands_that_waited(
    pi30: Pi30Harness, caplog: pytest.LogCaptureFixture
) -> None:
    base = unique()
    proxy = BrokerProxy(MQTT_PORT)
    await proxy.start()
    proxy.cut()
    heard: list[bool] = []
    async with pi30_session(pi30) as (simulator, session), MqttWatcher(base) as watcher:
        serial = serial_of(session)
        relay = Relay(
            session,
            [_bus(base, proxy.port)],
            options=RelayOptions(commands=True),
            store=CommandStore(None),
            on_connection=lambda _, up: heard.append(up),
        )
        with caplog.at_level(logging.INFO, logger="inverterlib.relay"):
            # The broker is away at start: the relay runs anyway and catches up later.
            await relay.start()
            await session.poll()
            assert not relay.connected
            await proxy.restore()
            await eventually(lambda: heard == [True])
            await eventually(lambda: watcher.on(serial, Channel.STATE))
            assert watcher.on(serial, Channel.AVAILABILITY)[-1] == b"online"

            # The broker goes away without a goodbye: it publishes the last will.
            proxy.cut()
            await eventually(lambda: heard == [True, False])
            await eventually(lambda: watcher.on(serial, Channel.AVAILABILITY)[-1] == b"offline")
            # A command sent meanwhile waits in the relay's persistent session.
            await watcher.send(serial, command("late", "max_charging_current", 30))
            await proxy.restore()
            await eventually(lambda: heard == [True, False, True])
            await eventually(lambda: watcher.results(serial))
            assert watcher.results(serial)[0]["outcome"] == "applied"
            await eventually(lambda: watcher.on(serial, Channel.AVAILABILITY)[-1] == b"online")
        assert simulator.device.settings.max_charging == 30
        assert writes(simulator, "MCHGC") == 1
        assert caplog.text.count("unreachable") == 2
        assert "is back" in caplog.text
        assert "guest" not in caplog.text
        await relay.close()
        await proxy.close()
        await watcher.clear_retained(serial)


async def test_a_command_that_breaks_the_handler_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = unique()
    bus = _bus(base)

    async def handler(serial_number: str, body: bytes) -> bytes:
        if body == b"boom":
            raise RuntimeError("bug")
        return b'{"echo": "' + body + b'"}'

    async with MqttWatcher(base) as watcher:
        # A retained command is never run: it would run again after every reconnect.
        await watcher.client.publish(f"{base}/S1/set", b"stale", qos=1, retain=True)
        await bus.start(handler, lambda up: None)
        bus.attach("S1")
        bus.attach("S1")
        bus.publish("S1", Channel.AVAILABILITY, b"online")
        await eventually(lambda: bus.connected)
        await eventually(lambda: watcher.on("S1", Channel.AVAILABILITY))
        await watcher.send("S1", b"boom")
        await watcher.send("S1", b"fine")
        await eventually(lambda: watcher.on("S1", Channel.RESULT))
        assert watcher.on("S1", Channel.RESULT) == [b'{"echo": "fine"}']
        assert "A command to S1 failed" in caplog.text
        assert "Ignoring a retained command to S1" in caplog.text
        await bus.close()
        await watcher.clear_retained("S1")
        await watcher.client.publish(f"{base}/S1/set", b"", qos=1, retain=True)


def test_urls_and_tls() -> None:
    address = mqtt_address("mqtts://user:p%40ss@broker")
    assert (address.host, address.port, address.username, address.password, address.tls) == (
        "broker",
        8883,
        "user",
        "p@ss",
        True,
    )
    plain = mqtt_address("mqtt://broker:1884")
    assert (plain.port, plain.username, plain.password, plain.tls) == (1884, None, None, False)
    for url in ("http://broker", "mqtt://", "amqp://broker"):
        with pytest.raises(ValueError, match="not an MQTT broker URL"):
            mqtt_address(url)
    with pytest.raises(ValueError, match="needs an SSL context"):
        MqttBus("mqtts://broker", client_id="x")
    context = ssl.create_default_context()
    assert MqttBus("mqtts://broker", client_id="x", ssl_context=context).ssl_context is context
    assert MqttBus("mqtt://broker", client_id="x", ssl_context=context).ssl_context is None
    assert MqttBus("mqtt://u:secret@broker", client_id="x").url == "mqtt://u:***@broker"
