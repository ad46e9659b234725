"""What every simulator's endpoints share: a peer's channel, a pty's master end, a CLI run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
import os
import signal
import tty
from typing import Protocol


class Channel:
    """One connected peer: how to send bytes to it and how to cut it off."""

    def __init__(self, send: Callable[[bytes], None], hang_up: Callable[[], None]) -> None:
        """Bind the callbacks that send to and cut off the peer."""
        self.send = send
        self.hang_up = hang_up


class PeerSession(Protocol):
    """What a peer's bytes go to: a device's session on one channel."""

    def feed(self, data: bytes) -> None:
        """Take bytes the peer sent."""

    def close(self) -> None:
        """End the session."""


class PtyEndpoint:
    """The master end of a pty; a hang-up replaces the pty and re-points the symlink."""

    def __init__(
        self, new_session: Callable[[Channel], PeerSession], link_path: str | None
    ) -> None:
        """Bind the factory of the session that takes the pty's bytes, and the symlink's path."""
        self._new_session = new_session
        self._link_path = link_path
        self._master = self._slave = -1
        self.path = ""
        self._session: PeerSession | None = None

    def open(self) -> None:
        """Create the pty, point the symlink at it and start reading."""
        self._master, self._slave = os.openpty()
        # Raw from the start: no echo, no CR/LF translation, whoever opens the slave.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        if self._link_path is not None:
            temporary = f"{self._link_path}.new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            os.symlink(self.path, temporary)
            os.replace(temporary, self._link_path)
        self._session = self._new_session(Channel(self._send, self.hang_up))
        asyncio.get_running_loop().add_reader(self._master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except OSError:
            # EIO: nobody holds the slave open. We keep our own slave fd, so this is transient.
            return
        if self._session is not None and data:
            self._session.feed(data)

    def _send(self, data: bytes) -> None:
        if self._master < 0:
            return
        with contextlib.suppress(BlockingIOError):
            os.write(self._master, data)

    def _release(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            os.close(self._slave)
            self._master = self._slave = -1

    def hang_up(self) -> None:
        """Drop the line as a pulled cable would, then offer a fresh pty at the same link."""
        self._release()
        self.open()

    def close(self) -> None:
        """Close the pty for good and remove the symlink."""
        self._release()
        if self._link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._link_path)


async def serve_until_signalled(stop: Callable[[], Awaitable[None]]) -> None:
    """Wait for SIGINT or SIGTERM (a simulator run from the command line), then `stop`."""
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, signalled.set)
    try:
        await signalled.wait()
    finally:
        await stop()
