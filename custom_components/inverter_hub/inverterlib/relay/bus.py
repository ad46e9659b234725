"""What a message bus offers the relay: the adapter protocol, its channels and back-off."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

type CommandHandler = Callable[[str, bytes], Awaitable[bytes]]
"""Answer one command body sent to a device (by serial number) with a result body."""

type ConnectionCallback = Callable[[bool], None]
"""Hear that a bus went up (True) or down (False)."""


class Channel(StrEnum):
    """What a message is about; the last part of a topic or routing key."""

    STATE = "state"
    AVAILABILITY = "availability"
    MODEL = "model"
    SET = "set"
    RESULT = "result"


DEFAULT_BASE_TOPIC = "inverter_hub"
ONLINE = b"online"
OFFLINE = b"offline"


class RelayBus(Protocol):
    """A broker the relay publishes to and takes commands from.

    An adapter keeps the latest message of each retained channel and sends it again after
    every reconnect, so the broker always catches up with the current state. It hands each
    command to the handler and answers with the result body the handler returns.
    """

    name: str

    @property
    def connected(self) -> bool:
        """Return whether the broker currently takes messages."""

    async def start(self, handler: CommandHandler, on_connection: ConnectionCallback) -> None:
        """Begin connecting in the background; never raise because the broker is away."""

    def attach(self, serial_number: str) -> None:
        """Relay a device: take commands sent to it."""

    def publish(self, serial_number: str, channel: Channel, body: bytes) -> None:
        """Queue the new retained message of a device's channel; the latest one wins."""

    async def close(self) -> None:
        """Send what is queued (briefly), then disconnect."""


def topic(base: str, serial_number: str, channel: Channel) -> str:
    """Return the MQTT topic of a device's channel."""
    return f"{base}/{serial_number}/{channel}"


@dataclass(kw_only=True, slots=True)
class Backoff:
    """Wait longer after each failed connection attempt, up to a ceiling."""

    initial: float = 1.0
    maximum: float = 60.0
    failures: int = 0

    def next_delay(self) -> float:
        """Return the wait before the next attempt and count this failure."""
        delay = min(self.maximum, self.initial * 2.0**self.failures)
        self.failures += 1
        return delay

    def reset(self) -> None:
        """Start again from the initial wait after a success."""
        self.failures = 0


TLS_SCHEMES = frozenset({"mqtts", "amqps"})


def uses_tls(url: str) -> bool:
    """Return whether a broker URL asks for TLS (`mqtts://`, `amqps://`)."""
    return urlsplit(url).scheme in TLS_SCHEMES


def redact(url: str) -> str:
    """Return a broker URL without its password, fit for a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
