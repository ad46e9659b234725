"""The asyncio protocol behind byte-stream links (serial and TCP)."""

from __future__ import annotations

import asyncio

from ..errors import LinkError
from .base import Inbox


class InboxProtocol(asyncio.Protocol):
    """Feed received bytes into one inbox and report when the port goes away."""

    def __init__(self, inbox: Inbox, description: str) -> None:
        """Bind the protocol to the inbox of the link that opened the port."""
        # The inbox is captured, not looked up on the link: a port that dies late must not
        # poison the fresh inbox of the port that replaced it.
        self._inbox = inbox
        self._description = description
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        """Append the bytes to the inbox."""
        self._inbox.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Wake a waiting reader with a LinkError and mark the port closed."""
        reason = f": {exc}" if exc is not None else ""
        self._inbox.fail(LinkError(f"{self._description} closed{reason}"))
        if not self.closed.done():
            self.closed.set_result(None)
