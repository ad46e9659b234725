"""Pre-seed a Home Assistant config dir: onboarding done, one inverter_hub entry on a link.

Run only while Home Assistant is stopped: it rewrites files that Home Assistant owns.
"""

import json
from pathlib import Path
import sys
from typing import Any
import uuid

from homeassistant.components.onboarding import STORAGE_KEY, STORAGE_VERSION
from homeassistant.components.onboarding.const import STEPS

DOMAIN = "inverter_hub"
TITLE = "Axpert simulator"
SIMULATOR_LINK_PREFIX = "tcp://127.0.0.1:"


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


def is_simulator_entry(entry: dict[str, Any]) -> bool:
    """Tell whether an entry is the simulator's (the integration may have renamed it)."""
    data = entry["data"]
    return (
        entry["domain"] == DOMAIN
        and data.get("family") == "pi30"
        and str(data.get("link", "")).startswith(SIMULATOR_LINK_PREFIX)
    )


def seed_entry(storage: Path, link: str) -> None:
    """Add the simulator's config entry, or point the existing one at this link."""
    path = storage / "core.config_entries"
    if path.exists():
        store = json.loads(path.read_text())
    else:
        # Version 1.1 holds the fewest keys; Home Assistant migrates it to its own version.
        store = {"version": 1, "minor_version": 1, "key": path.name, "data": {"entries": []}}
    entries: list[dict[str, Any]] = store["data"]["entries"]
    entry = next((e for e in entries if is_simulator_entry(e)), None)
    if entry is None:
        entry = {
            "entry_id": uuid.uuid4().hex,
            "domain": DOMAIN,
            "title": TITLE,
            "version": 1,
            "source": "user",
            "data": {},
            "options": {},
            "unique_id": None,
        }
        entries.append(entry)
    entry["data"] = {**entry["data"], "family": "pi30", "link": link}
    write_json(path, store)


def main() -> None:
    """Seed the config dir given as the first argument for the link given as the second."""
    storage = Path(sys.argv[1]) / ".storage"
    mark_onboarding_done(storage)
    seed_entry(storage, sys.argv[2])


if __name__ == "__main__":
    main()
