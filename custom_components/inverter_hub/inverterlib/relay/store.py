"""Remember recent command ids and their results, across restarts, in a small JSON file."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
import json
import logging
import os
from pathlib import Path

from .messages import Json

_LOGGER = logging.getLogger(__name__)

FORMAT = 1
DEFAULT_LIMIT = 1000

type _Key = tuple[str, str]


class CommandStore:
    """The idempotency record: each recent (serial number, command id) and its result.

    An id is marked *pending* before anything is sent and gets its result when the write
    pipeline finished, both saved before the command is acknowledged; a pending id found
    after a restart tells that the service stopped half way through that command.
    """

    def __init__(self, path: Path | None, *, limit: int = DEFAULT_LIMIT) -> None:
        """Keep the `limit` newest ids in `path` (None: in memory only)."""
        self.path = path
        self.limit = limit
        self._entries: OrderedDict[_Key, Json | None] = OrderedDict()
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Read the file, if any; a damaged file is logged and started afresh."""
        if self.path is None:
            return
        try:
            text = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
        except FileNotFoundError:
            return
        try:
            data = json.loads(text)
            entries = [
                ((str(serial), str(token)), reply)
                for serial, token, reply in data["commands"]
                if reply is None or isinstance(reply, dict)
            ]
        except (ValueError, KeyError, TypeError) as err:
            _LOGGER.warning("Ignoring the damaged command record %s: %s", self.path, err)
            return
        self._entries = OrderedDict(entries[-self.limit :])

    def result(self, serial_number: str, token: str) -> Json | None:
        """Return the recorded result of a finished command, or None."""
        return self._entries.get((serial_number, token))

    def pending(self, serial_number: str, token: str) -> bool:
        """Return whether a command was begun and never finished."""
        key = (serial_number, token)
        return key in self._entries and self._entries[key] is None

    async def begin(self, serial_number: str, token: str) -> None:
        """Record that a command is about to be applied."""
        await self._put((serial_number, token), None)

    async def finish(self, serial_number: str, token: str, result: Json) -> None:
        """Record a command's result."""
        await self._put((serial_number, token), result)

    async def _put(self, key: _Key, result: Json | None) -> None:
        self._entries[key] = result
        self._entries.move_to_end(key)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        if self.path is None:
            return
        text = json.dumps(
            {
                "format": FORMAT,
                "commands": [
                    [serial, token, reply] for (serial, token), reply in self._entries.items()
                ],
            }
        )
        async with self._lock:
            await asyncio.to_thread(_replace, self.path, text)


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` so that a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
