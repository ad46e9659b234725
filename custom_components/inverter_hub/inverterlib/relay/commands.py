"""Parse a command body into the keys and values it asks to write."""

from __future__ import annotations

from dataclasses import dataclass
import json

MAX_BODY = 65_536
MAX_SETTINGS = 64
MAX_ID = 128


class CommandRefusedError(Exception):
    """A command cannot be applied as a whole; nothing is sent to the device."""

    def __init__(self, code: str, message: str, *, command_id: object = None) -> None:
        """Keep the neutral code and the command id to answer with."""
        super().__init__(message)
        self.code = code
        self.command_id = command_id


@dataclass(frozen=True, kw_only=True, slots=True)
class Command:
    """What a sender asked for: one key, or a partial data model applied in order."""

    id: str | int
    items: tuple[tuple[str, object], ...]
    partial: bool

    @property
    def token(self) -> str:
        """Return the id as the idempotency store keys it."""
        return str(self.id)


def _malformed(message: str, command_id: object = None) -> CommandRefusedError:
    return CommandRefusedError("malformed_command", message, command_id=command_id)


def _command_id(data: dict[str, object]) -> str | int:
    command_id = data.get("id")
    if isinstance(command_id, bool) or not isinstance(command_id, str | int):
        raise _malformed('a command needs an "id" (text or a whole number)')
    if isinstance(command_id, str) and not 0 < len(command_id) <= MAX_ID:
        raise _malformed(f'"id" must have 1 to {MAX_ID} characters')
    return command_id


def _items(data: dict[str, object], command_id: str | int) -> tuple[tuple[str, object], ...]:
    if "settings" in data:
        settings = data["settings"]
        if "key" in data or not isinstance(settings, dict) or not settings:
            raise _malformed(
                '"settings" must be a non-empty object of key: value, without "key"', command_id
            )
        if len(settings) > MAX_SETTINGS:
            raise _malformed(f"at most {MAX_SETTINGS} settings per command", command_id)
        return tuple(settings.items())
    key = data.get("key")
    if not isinstance(key, str) or not key:
        raise _malformed('a command needs a "key" or "settings"', command_id)
    return ((key, data.get("value")),)


def parse_command(body: bytes) -> Command:
    """Return the command in `body`, or raise CommandRefusedError (code malformed_command)."""
    if len(body) > MAX_BODY:
        raise _malformed(f"a command may have at most {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as err:
        raise _malformed(f"not JSON: {err}") from None
    if not isinstance(data, dict):
        raise _malformed("a command must be a JSON object")
    command_id = _command_id(data)
    items = _items(data, command_id)
    return Command(id=command_id, items=items, partial="settings" in data)
