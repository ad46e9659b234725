"""The GivEnergy register profiles: Modbus-engine profiles, one model extending another.

A profile file may name the profile it `extends`: it starts from that profile's data, drops
the points listed under `remove`, appends its own points, settings and the like, and
replaces any other top-level field it gives. The result is read by the Modbus engine's
loader, so GivEnergy has no register engine of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ..errors import ProfileError
from ..modbus.loader import parse_profile
from ..modbus.profile import Profile
from ..modbus.registry import profile_files

SHIPPED = Path(__file__).parent / "profiles"
_LISTS = ("points", "settings", "derived", "modes", "composites", "actions")
_OWN = ("extends", "remove")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ProfileError(f"{path.name}: cannot read: {err}", file=path.name) from err
    if not isinstance(data, dict):
        raise ProfileError(f"{path.name}: must be a mapping", file=path.name)
    return data


def merge(base: Mapping[str, Any], child: Mapping[str, Any], file: str) -> dict[str, Any]:
    """Return the data of a profile that extends `base` with the data of `child`."""
    removed = child.get("remove") or []
    if not isinstance(removed, list) or not all(isinstance(key, str) for key in removed):
        raise ProfileError(f"{file}: remove: must be a list of point keys", file=file)
    merged = {key: value for key, value in base.items() if key not in _OWN}
    merged.update({key: value for key, value in child.items() if key not in (*_OWN, *_LISTS)})
    known: set[str] = set()
    for name in _LISTS:
        inherited = base.get(name) or []
        known.update(str(item.get("key")) for item in inherited if isinstance(item, dict))
        kept = [
            item
            for item in inherited
            if not isinstance(item, dict) or item.get("key") not in removed
        ]
        merged[name] = kept + list(child.get(name) or [])
    if unknown := [key for key in removed if key not in known]:
        raise ProfileError(
            f"{file}: remove: {', '.join(unknown)} not in the base profile", file=file
        )
    return merged


def _resolve(
    raw: Mapping[str, dict[str, Any]], profile_id: str, seen: tuple[str, ...]
) -> dict[str, Any]:
    data = raw[profile_id]
    parent = data.get("extends")
    if parent is None:
        return data
    file = f"{profile_id}.yaml"
    if parent not in raw or parent in seen:
        raise ProfileError(f"{file}: extends: no profile {parent!r} to extend", file=file)
    return merge(_resolve(raw, parent, (*seen, profile_id)), data, file)


def load_profiles(directory: Path = SHIPPED) -> dict[str, Profile]:
    """Read every profile of a directory, resolving `extends` (blocking file reads)."""
    raw = {path.stem: _read(path) for path in profile_files(directory)}
    return {
        profile_id: parse_profile(
            _resolve(raw, profile_id, ()), f"{profile_id}.yaml", directory / f"{profile_id}.yaml"
        )
        for profile_id in raw
    }


@cache
def shipped_profiles() -> Mapping[str, Profile]:
    """Return the shipped profiles by id, read once."""
    return load_profiles()
