"""Messages waiting for a broker: results in order, and the latest of each retained topic."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

type Sender = Callable[[str, bytes, bool], Awaitable[None]]
"""Publish one body on a topic, retained or not; raise when the broker did not take it."""


class Outbox:
    """Hold what a broker has not taken yet, so nothing current is lost while it is away."""

    def __init__(self) -> None:
        """Start empty."""
        self._latest: dict[str, bytes] = {}
        self._dirty: dict[str, None] = {}
        self._results: deque[tuple[str, bytes]] = deque()
        self._ready = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()

    def keep(self, topic: str, body: bytes) -> None:
        """Queue the new retained message of a topic, replacing any unsent one."""
        self._latest[topic] = body
        self._dirty[topic] = None
        self._wake()

    def send(self, topic: str, body: bytes) -> None:
        """Queue a one-off message (a command result), sent in order before retained ones."""
        self._results.append((topic, body))
        self._wake()

    def resend_all(self) -> None:
        """Queue every retained message again (after a reconnect: the broker may have lost them)."""
        self._dirty = dict.fromkeys(self._latest)
        self._wake()

    def _wake(self) -> None:
        self._empty.clear()
        self._ready.set()

    async def drain(self, sender: Sender) -> None:
        """Send what waits, forever; a message leaves the box only once the broker took it."""
        while True:
            while self._dirty or self._results:
                # A result first: a sender waits for it; the state it changed follows.
                if self._results:
                    topic, body = self._results[0]
                    await sender(topic, body, False)
                    self._results.popleft()
                else:
                    topic = next(iter(self._dirty))
                    body = self._latest[topic]
                    await sender(topic, body, True)
                    # A newer body may have been kept while this one was on its way.
                    if self._latest[topic] is body:
                        self._dirty.pop(topic, None)
            self._empty.set()
            self._ready.clear()
            await self._ready.wait()

    async def flush(self, timeout: float) -> bool:
        """Wait until everything queued was sent; return False if `timeout` ran out first."""
        try:
            await asyncio.wait_for(self._empty.wait(), timeout)
        except TimeoutError:
            return False
        return True
