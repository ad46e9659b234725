"""Diagnostics: what a maintainer sees, serial numbers removed."""

from __future__ import annotations

import json

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.inverter_hub.diagnostics import async_get_config_entry_diagnostics

from .conftest import PI30_SERIAL, Pi30Endpoint


async def test_diagnostics_redact_serials(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """The report has the link, devices, values and writes, and no serial number anywhere."""
    entity_id = "select.vmiii_5000_92932105105335_output_source_priority"
    await hass.services.async_call(
        "select",
        "select_option",
        {ATTR_ENTITY_ID: entity_id, "option": "solar_first"},
        blocking=True,
    )
    pi30_loaded.runtime_data.devices[PI30_SERIAL].quality.apply({"battery_voltage": 999.0})
    report = await async_get_config_entry_diagnostics(hass, pi30_loaded)
    assert PI30_SERIAL not in json.dumps(report)
    assert report["link"]["family"] == "pi30"
    assert report["link"]["bytes_in"] > 0
    (device,) = report["devices"]
    assert device["identity"]["serial_number"] == "**REDACTED**"
    assert device["available"] is True
    assert device["held_back"] == {"battery_voltage": "implausible"}
    assert device["values"]["output_source_priority"] == "solar_first"
    assert report["writes"][-1]["key"] == "output_source_priority"
    assert report["writes"][-1]["outcome"] == "applied"
