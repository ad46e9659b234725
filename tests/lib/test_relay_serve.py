"""`inverter serve`: arguments, refusals, and a whole run until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
import signal

from inverterlib.pi30.client import Pi30Client
from inverterlib.relay.bus import Channel
from inverterlib.relay.serve import (
    AMQP_URL_VARIABLE,
    MQTT_URL_VARIABLE,
    ServedSession,
    add_arguments,
    default_state_file,
    serve,
)
from inverterlib.session import LinkSession, SessionSettings
from inverterlib.transport.tcp import TcpLink
import pytest

from .conftest import Pi30Harness
from .relay_support import (
    AMQP_URL,
    MqttWatcher,
    command,
    delete_amqp,
    eventually,
    unique,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    # The CLI owns --expert (shared with write); serve reads it from there.
    parser.add_argument("--expert", action="store_true")
    add_arguments(parser)
    return parser.parse_args(argv)


def test_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MQTT_URL_VARIABLE, raising=False)
    monkeypatch.delenv(AMQP_URL_VARIABLE, raising=False)
    args = _args()
    assert (args.mqtt, args.amqp, args.base_topic, args.exchange) == (
        None,
        None,
        "inverter_hub",
        "inverter_hub",
    )
    assert (args.allow_commands, args.allow_key, args.expert, args.state_file) == (
        False,
        [],
        False,
        None,
    )
    monkeypatch.setenv(MQTT_URL_VARIABLE, "mqtt://u:p@broker")
    monkeypatch.setenv(AMQP_URL_VARIABLE, "amqp://u:p@broker/")
    args = _args("--allow-commands", "--allow-key", "a", "--allow-key", "b", "--expert")
    assert (args.mqtt, args.amqp) == ("mqtt://u:p@broker", "amqp://u:p@broker/")
    assert (args.allow_commands, args.allow_key, args.expert) == (True, ["a", "b"], True)


def test_default_state_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}/a:{tmp_path}/b")
    assert default_state_file() == tmp_path / "a" / "relay-commands.json"
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_state_file() == tmp_path / ".local/state/inverter_hub/relay-commands.json"


def _unused(args: argparse.Namespace) -> ServedSession:
    raise AssertionError("no session should be built")


async def test_serve_needs_a_good_broker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(MQTT_URL_VARIABLE, raising=False)
    monkeypatch.delenv(AMQP_URL_VARIABLE, raising=False)
    assert await serve(_unused, _args()) == 2
    assert "needs --mqtt" in capsys.readouterr().err
    assert await serve(_unused, _args("--mqtt", "http://u:secret@broker")) == 2
    error = capsys.readouterr().err
    assert "not an MQTT broker URL" in error
    assert "secret" not in error


async def test_serve_reports_a_link_that_does_not_open(
    unused_tcp_port: int, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def factory(args: argparse.Namespace) -> ServedSession:
        return LinkSession(Pi30Client(TcpLink("127.0.0.1", unused_tcp_port, timeout=0.3)))

    args = _args("--mqtt", "mqtt://127.0.0.1:1883", "--state-file", str(tmp_path / "c.json"))
    assert await serve(factory, args) == 1
    assert "error:" in capsys.readouterr().err


async def test_serve_relays_until_sigterm(pi30: Pi30Harness, tmp_path: Path) -> None:
    base = unique()
    state_file = tmp_path / "commands.json"
    simulator, client = await pi30.tcp(timeout=0.5)
    settings: list[SessionSettings] = []

    def factory(args: argparse.Namespace) -> ServedSession:
        settings.append(SessionSettings(scan_interval=0.2, expert=args.expert))
        return LinkSession(client, settings[-1])

    args = _args(
        "--mqtt",
        "mqtt://127.0.0.1:1883",
        "--amqp",
        AMQP_URL,
        "--base-topic",
        base,
        "--exchange",
        base,
        "--allow-commands",
        "--allow-key",
        "max_charging_current",
        "--expert",
        "--state-file",
        str(state_file),
    )
    serial = "92932105105335"
    async with MqttWatcher(base) as watcher:
        running = asyncio.create_task(serve(factory, args))
        try:
            await eventually(lambda: watcher.on(serial, Channel.STATE))
            assert settings[0].expert
            await watcher.send(serial, command("s1", "max_charging_current", 30))
            await watcher.send(serial, command("s2", "battery_bulk_voltage", 57))
            await eventually(lambda: len(watcher.results(serial)) == 2)
            first, second = watcher.results(serial)
            assert (first["id"], first["outcome"]) == ("s1", "applied")
            assert second["error"]["code"] == "key_not_allowed"
            assert simulator.device.settings.max_charging == 30
        finally:
            os.kill(os.getpid(), signal.SIGTERM)
            assert await asyncio.wait_for(running, 20) == 0
        await eventually(lambda: watcher.on(serial, Channel.AVAILABILITY)[-1] == b"offline")
        await watcher.clear_retained(serial)
    assert [entry[1] for entry in json.loads(state_file.read_text())["commands"]] == ["s1"]
    assert not client.link.is_open
    await delete_amqp(base, [serial])
