"""Battery energy for a PI30 inverter: integrated from power, kept across a restart."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.inverter_hub.const import DOMAIN

from .conftest import PI30_SERIAL, Pi30Endpoint


def _state(hass: HomeAssistant, key: str) -> float:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{PI30_SERIAL}_{key}")
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.attributes["state_class"] == "total_increasing"
    assert state.attributes["unit_of_measurement"] == "kWh"
    return float(state.state)


async def test_battery_energy_is_integrated_and_kept(
    hass: HomeAssistant, pi30_entry: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """The Energy dashboard gets battery charge and discharge totals that survive a reload."""
    session_totals: dict[str, float] = {}
    assert await hass.config_entries.async_setup(pi30_entry.entry_id)
    await hass.async_block_till_done()
    session = pi30_entry.runtime_data.session
    state = session.devices[PI30_SERIAL]
    assert state.energy is not None
    # Pretend the inverter has been discharging at 1 kW for five minutes.
    state.energy.totals["battery_discharge_energy"] = 2.5
    state.energy.add({"battery_power": 1000.0}, 0.0)
    state.values.update(state.energy.add({"battery_power": 1000.0}, 300.0))
    session_totals.update(session.energy_totals()[PI30_SERIAL])
    pi30_entry.runtime_data.async_update_listeners()
    await hass.async_block_till_done()
    discharged = _state(hass, "battery_discharge_energy")
    assert discharged > 2.5
    assert await hass.config_entries.async_unload(pi30_entry.entry_id)
    assert await hass.config_entries.async_setup(pi30_entry.entry_id)
    await hass.async_block_till_done()
    assert _state(hass, "battery_discharge_energy") >= discharged
    assert (
        pi30_entry.runtime_data.session.energy_totals()[PI30_SERIAL]["battery_discharge_energy"]
        >= session_totals["battery_discharge_energy"]
    )
    assert await hass.config_entries.async_unload(pi30_entry.entry_id)
