"""Service actions: raw commands and registers (expert only), with clear refusals."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.inverter_hub.const import DOMAIN
from custom_components.inverter_hub.inverterlib.errors import LinkError

from .conftest import Pi30Endpoint


async def _expert(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    hass.config_entries.async_update_entry(entry, options={**entry.options, "expert": True})
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


async def _call(hass: HomeAssistant, service: str, data: dict[str, object]) -> object:
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=service != "write_registers"
    )


async def test_raw_command_needs_expert_mode(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """Off by default: nothing is sent."""
    before = pi30_sim.simulator.stats.total
    with pytest.raises(ServiceValidationError) as info:
        await _call(hass, "raw_command", {"config_entry_id": pi30_loaded.entry_id, "command": "PF"})
    assert info.value.translation_key == "expert_mode_required"
    assert pi30_sim.simulator.stats.total == before


async def test_raw_command_in_expert_mode(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """The reply payload comes back; a refused command answers NAK."""
    await _expert(hass, pi30_loaded)
    entry_id = pi30_loaded.entry_id
    reply = await _call(hass, "raw_command", {"config_entry_id": entry_id, "command": "QID"})
    assert reply == {"reply": "92932105105335"}
    reply = await _call(hass, "raw_command", {"config_entry_id": entry_id, "command": "QXYZ"})
    assert reply == {"reply": "NAK"}
    with (
        patch.object(
            pi30_loaded.runtime_data.session.client,
            "raw_command",
            side_effect=LinkError("port gone"),
        ),
        pytest.raises(HomeAssistantError) as info,
    ):
        await _call(hass, "raw_command", {"config_entry_id": entry_id, "command": "QID"})
    assert info.value.translation_key == "link_error"


async def test_register_services_are_refused_on_pi30(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry
) -> None:
    """A PI30 link has no registers: the user is told so."""
    await _expert(hass, pi30_loaded)
    base = {"config_entry_id": pi30_loaded.entry_id, "unit": 1, "address": 3}
    with pytest.raises(HomeAssistantError) as info:
        await _call(hass, "read_registers", {**base, "access": "holding"})
    assert info.value.translation_key == "unsupported"
    with pytest.raises(HomeAssistantError):
        await _call(hass, "write_registers", {**base, "values": [1]})


async def test_unknown_and_unloaded_entries(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry
) -> None:
    """Naming no entry, or one that is not loaded, is a validation error."""
    with pytest.raises(ServiceValidationError) as info:
        await _call(hass, "raw_command", {"config_entry_id": "nope", "command": "QID"})
    assert info.value.translation_key == "unknown_entry"
    await hass.config_entries.async_unload(pi30_loaded.entry_id)
    with pytest.raises(ServiceValidationError) as info:
        await _call(hass, "raw_command", {"config_entry_id": pi30_loaded.entry_id, "command": "Q"})
    assert info.value.translation_key == "entry_not_loaded"
