"""Diagnostics: the link, the devices, their values, held-back readings and the write log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .coordinator import InverterConfigEntry

TO_REDACT = {"serial_number", "parent_serial", "unique_id", "serial", "title", "amqp_url"}


def _redact_serials(text: str, serials: set[str]) -> str:
    for serial in serials:
        text = text.replace(serial, "**REDACTED**")
    return text


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: InverterConfigEntry
) -> dict[str, Any]:
    """Return what a maintainer needs to understand a problem, serial numbers removed."""
    session = entry.runtime_data.session
    relay = entry.runtime_data.relay
    link = session.client.link
    serials = set(session.devices)
    devices = [
        {
            "identity": async_redact_data(asdict(state.identity), TO_REDACT),
            "available": state.available,
            "failures": state.failures,
            "points": len(state.points),
            "values": {key: str(value) for key, value in sorted(state.values.items())},
            "held_back": {key: reason.value for key, reason in state.quality.rejected.items()},
        }
        for state in session.devices.values()
    ]
    writes = [
        async_redact_data(
            {**record.as_json(), "error": record.error and _redact_serials(record.error, serials)},
            TO_REDACT,
        )
        for record in session.write_log
    ]
    return {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "link": {
            "family": session.client.family,
            "description": link.description,
            "bytes_out": link.bytes_out,
            "bytes_in": link.bytes_in,
            **session.client.diagnostics(),
        },
        "health": {
            "last_success": session.health.last_success and session.health.last_success.isoformat(),
            "poll_duration": session.health.poll_duration,
            "errors": session.health.errors,
            "link_error": session.link_error and str(session.link_error),
        },
        "relay": relay and {bus.name: bus.connected for bus in relay.buses},
        "devices": devices,
        "writes": writes,
    }
