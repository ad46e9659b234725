"""Generate translations/en.json and icons.json from strings.json and the shipped catalogues."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
import json
from pathlib import Path
import sys
from typing import Any

from custom_components.inverter_hub.entity import platform_of
from custom_components.inverter_hub.inverterlib.families import shipped_points
from custom_components.inverter_hub.inverterlib.model import Point, ValueType

COMPONENT = Path(__file__).resolve().parent.parent / "custom_components" / "inverter_hub"
STRINGS = COMPONENT / "strings.json"
EN = COMPONENT / "translations" / "en.json"
ICONS = COMPONENT / "icons.json"

SERVICE_ICONS = {
    "raw_command": "mdi:console",
    "read_registers": "mdi:table-arrow-down",
    "write_registers": "mdi:table-arrow-up",
    "write_setting": "mdi:tune-variant",
    "write_settings": "mdi:tune-vertical",
    "force": "mdi:timer-play-outline",
    "cancel_force": "mdi:timer-off-outline",
}


def _entity_section(points: Iterable[Point]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Return the entity translations, the entity icons and any conflicts between catalogues."""
    names: dict[str, dict[str, Any]] = {}
    icons: dict[str, dict[str, Any]] = {}
    conflicts: list[str] = []
    for point in points:
        platform = str(platform_of(point))
        entry: dict[str, Any] = {"name": point.name}
        if point.value_type is ValueType.ENUM:
            entry["state"] = {option: point.option_label(option) for option in point.options}
        known = names.setdefault(platform, {}).setdefault(point.key, entry)
        if known["name"] != entry["name"]:
            conflicts.append(f"{platform}.{point.key}: {known['name']!r} vs {entry['name']!r}")
        elif "state" in entry:
            known["state"] = {**entry["state"], **known.get("state", {})}
        if point.icon:
            icons.setdefault(platform, {})[point.key] = {"default": point.icon}
    sort = {platform: dict(sorted(keys.items())) for platform, keys in sorted(names.items())}
    sorted_icons = {
        platform: dict(sorted(keys.items())) for platform, keys in sorted(icons.items())
    }
    return sort, sorted_icons, conflicts


def build() -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Return en.json, icons.json and the conflicts found."""
    strings = json.loads(STRINGS.read_text(encoding="utf-8"))
    entity, entity_icons, conflicts = _entity_section(shipped_points())
    # Entities that are no point of a device (the scan button) are written in strings.json.
    for platform, keys in strings.get("entity", {}).items():
        entity[platform] = dict(sorted({**entity.get(platform, {}), **keys}.items()))
    entity_icons.setdefault("button", {})["scan_for_devices"] = {"default": "mdi:magnify-scan"}
    english = {**strings, "entity": entity}
    icons = {
        "entity": entity_icons,
        "services": {name: {"service": icon} for name, icon in SERVICE_ICONS.items()},
    }
    return english, icons, conflicts


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, verify) the generated files."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    english, icons, conflicts = build()
    if conflicts:
        print("conflicting names:\n  " + "\n  ".join(conflicts), file=sys.stderr)
        return 1
    stale = [
        path
        for path, data in ((EN, english), (ICONS, icons))
        if not path.exists() or path.read_text(encoding="utf-8") != _dump(data)
    ]
    if args.check:
        for path in stale:
            print(f"{path} is stale: run scripts/translations", file=sys.stderr)
        return 1 if stale else 0
    for path, data in ((EN, english), (ICONS, icons)):
        path.write_text(_dump(data), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
