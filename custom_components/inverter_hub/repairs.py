"""Repair issues: a configured port that has disappeared."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import CONF_LINK, DOMAIN
from .inverterlib.transport.url import parse_link

if TYPE_CHECKING:
    from .coordinator import InverterConfigEntry


def _port_path(link: str) -> Path | None:
    """Return the device node a link uses, if it is a local port."""
    try:
        spec = parse_link(link)
    except ValueError:
        return None
    return Path(spec.target) if spec.kind in ("serial", "hid") else None


def issue_id(entry: InverterConfigEntry) -> str:
    """Return the repair issue id of an entry's missing port."""
    return f"port_missing_{entry.entry_id}"


async def async_check_port(hass: HomeAssistant, entry: InverterConfigEntry) -> None:
    """Raise a repair issue while the entry's port is missing, and clear it once it is back."""
    path = _port_path(entry.data[CONF_LINK])
    if path is None:
        return
    if await hass.async_add_executor_job(path.exists):
        ir.async_delete_issue(hass, DOMAIN, issue_id(entry))
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(entry),
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="port_missing",
        translation_placeholders={"port": str(path), "title": entry.title},
    )
