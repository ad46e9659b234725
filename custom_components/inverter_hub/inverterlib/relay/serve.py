"""`inverter serve`: run one link's session and relay it to the brokers until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
import logging
import os
from pathlib import Path
import signal
import socket
import ssl
import sys
from typing import Protocol

from ..errors import InverterError
from .amqp import DEFAULT_EXCHANGE, AmqpBus
from .bus import DEFAULT_BASE_TOPIC, RelayBus, uses_tls
from .core import Relay, RelayOptions, RelaySession
from .mqtt import MqttBus
from .store import CommandStore

_LOGGER = logging.getLogger(__name__)

MQTT_URL_VARIABLE = "INVERTER_MQTT_URL"
AMQP_URL_VARIABLE = "INVERTER_AMQP_URL"
STATE_FILE_NAME = "relay-commands.json"


class ServedSession(RelaySession, Protocol):
    """A session the service can start, run until stopped, and close."""

    async def start(self) -> None:
        """Open the link and learn its devices."""

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set."""

    async def close(self) -> None:
        """Close the link."""


type SessionFactory = Callable[[argparse.Namespace], ServedSession]
"""Build the unstarted session of the link named on the command line (honouring --expert)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the relay's options to the `serve` command line (the CLI has --expert itself)."""
    parser.add_argument(
        "--mqtt",
        metavar="URL",
        default=os.environ.get(MQTT_URL_VARIABLE),
        help=f"MQTT broker, mqtt://USER:PASS@HOST:1883 or mqtts://... (or ${MQTT_URL_VARIABLE})",
    )
    parser.add_argument(
        "--amqp",
        metavar="URL",
        default=os.environ.get(AMQP_URL_VARIABLE),
        help=f"RabbitMQ broker, amqp://USER:PASS@HOST:5672/VHOST or amqps://... "
        f"(or ${AMQP_URL_VARIABLE})",
    )
    parser.add_argument(
        "--base-topic", default=DEFAULT_BASE_TOPIC, help="MQTT topic prefix (inverter_hub)"
    )
    parser.add_argument(
        "--exchange", default=DEFAULT_EXCHANGE, help="RabbitMQ topic exchange (inverter_hub)"
    )
    parser.add_argument(
        "--allow-commands", action="store_true", help="apply setting commands from the brokers"
    )
    parser.add_argument(
        "--allow-key",
        metavar="KEY",
        action="append",
        default=[],
        help="only these keys may be written (repeat); actions must always be named",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        help="where recent command ids are kept "
        f"(default $STATE_DIRECTORY or ~/.local/state/inverter_hub, file {STATE_FILE_NAME})",
    )


def default_state_file() -> Path:
    """Return the command record's path: systemd's state directory, else the user's."""
    if directory := os.environ.get("STATE_DIRECTORY"):
        return Path(directory.split(":")[0]) / STATE_FILE_NAME
    return Path.home() / ".local" / "state" / "inverter_hub" / STATE_FILE_NAME


async def _tls(url: str) -> ssl.SSLContext | None:
    """Return a certificate-checking context for a TLS URL (made off the event loop)."""
    return await asyncio.to_thread(ssl.create_default_context) if uses_tls(url) else None


async def _buses(args: argparse.Namespace) -> list[RelayBus]:
    buses: list[RelayBus] = []
    if args.mqtt:
        # Stable across restarts (the broker keeps the session); per base topic, so that a
        # session never carries the subscriptions of another base.
        client_id = f"inverter_hub-{socket.gethostname()}-{args.base_topic.replace('/', '_')}"
        buses.append(
            MqttBus(
                args.mqtt,
                client_id=client_id,
                base_topic=args.base_topic,
                ssl_context=await _tls(args.mqtt),
            )
        )
    if args.amqp:
        buses.append(AmqpBus(args.amqp, exchange=args.exchange, ssl_context=await _tls(args.amqp)))
    return buses


def _options(args: argparse.Namespace) -> RelayOptions:
    return RelayOptions(
        commands=args.allow_commands,
        allowed_keys=frozenset(args.allow_key) if args.allow_key else None,
    )


async def serve(session_factory: SessionFactory, args: argparse.Namespace) -> int:
    """Relay a link until SIGTERM or SIGINT, then close everything; return the exit status."""
    if not args.mqtt and not args.amqp:
        print("error: serve needs --mqtt URL and/or --amqp URL", file=sys.stderr)
        return 2
    try:
        buses = await _buses(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    session = session_factory(args)
    relay = Relay(
        session,
        buses,
        options=_options(args),
        store=CommandStore(args.state_file or default_state_file()),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        return await _run(session, relay, stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _run(session: ServedSession, relay: Relay, stop: asyncio.Event) -> int:
    try:
        await session.start()
    except InverterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    try:
        await relay.start()
        _LOGGER.info(
            "Relaying %s to %s",
            ", ".join(session.devices),
            ", ".join(bus.name for bus in relay.buses),
        )
        await session.run(stop)
    finally:
        await relay.close()
        await session.close()
    return 0
