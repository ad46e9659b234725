"""Which point keys have a shipped translation."""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

_CACHE: HassKey[frozenset[str]] = HassKey("inverter_hub_translated_keys")
_EN = Path(__file__).parent / "translations" / "en.json"


def _load() -> frozenset[str]:
    entities = json.loads(_EN.read_text(encoding="utf-8")).get("entity", {})
    return frozenset(f"{platform}.{key}" for platform, keys in entities.items() for key in keys)


async def async_translated_keys(hass: HomeAssistant) -> frozenset[str]:
    """Return the `platform.key` pairs that en.json names, read once."""
    if _CACHE not in hass.data:
        hass.data[_CACHE] = await hass.async_add_executor_job(_load)
    return hass.data[_CACHE]
