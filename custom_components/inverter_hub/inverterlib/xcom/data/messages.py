"""The texts of the messages an Xcom reports, by message number, loaded from messages.json."""

from __future__ import annotations

from . import FOLDER, load_messages

MESSAGES = load_messages(FOLDER / "messages.json")
