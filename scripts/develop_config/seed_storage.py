"""Pre-seed a Home Assistant config dir: onboarding done, an inverter_hub entry per simulator.

Run only while Home Assistant is stopped: it rewrites files that Home Assistant owns.
"""

from collections.abc import Sequence
from dataclasses import dataclass
import json
from pathlib import Path
from typing import Any
import uuid

from homeassistant.components.onboarding import STORAGE_KEY, STORAGE_VERSION
from homeassistant.components.onboarding.const import STEPS

DOMAIN = "inverter_hub"
LOOPBACK_LINK = "tcp://127.0.0.1:"


@dataclass(frozen=True, kw_only=True, slots=True)
class SeededEntry:
    """The config entry of one simulator, as the config flow would create it."""

    family: str
    link: str
    title: str
    unique_id: str


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a storage file the way Home Assistant lays them out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def mark_onboarding_done(storage: Path) -> None:
    """Skip the onboarding wizard: the dev user and the core config already exist."""
    path = storage / STORAGE_KEY
    if not path.exists():
        data = {"done": list(STEPS)}
        write_json(path, {"version": STORAGE_VERSION, "key": STORAGE_KEY, "data": data})


def is_entry_of(entry: dict[str, Any], seeded: SeededEntry) -> bool:
    """Tell whether a stored entry is this simulator's (it may have moved to another port)."""
    data = entry["data"]
    if entry["domain"] != DOMAIN or data.get("family") != seeded.family:
        return False
    link = str(data.get("link", ""))
    on_loopback = link.startswith(LOOPBACK_LINK) and seeded.link.startswith(LOOPBACK_LINK)
    return entry.get("unique_id") == seeded.unique_id or link == seeded.link or on_loopback


def seed_entries(storage: Path, seeded: Sequence[SeededEntry]) -> None:
    """Add each simulator's config entry, or bring the existing one up to date."""
    path = storage / "core.config_entries"
    if path.exists():
        store = json.loads(path.read_text())
    else:
        store = {"version": 1, "minor_version": 1, "key": path.name, "data": {"entries": []}}
    entries: list[dict[str, Any]] = store["data"]["entries"]
    for wanted in seeded:
        entry = next((e for e in entries if is_entry_of(e, wanted)), None)
        if entry is None:
            entry = {"entry_id": uuid.uuid4().hex, "domain": DOMAIN, "version": 1}
            entry |= {"source": "user", "data": {}, "options": {}}
            entries.append(entry)
            # Version 1.1 holds the fewest keys: Home Assistant migrates the whole store from it
            # again and fills in what the new entry lacks (every created_at becomes 1970).
            store["minor_version"] = 1
        entry["title"] = wanted.title
        entry["unique_id"] = wanted.unique_id
        entry["data"] = {**entry["data"], "family": wanted.family, "link": wanted.link}
    write_json(path, store)
