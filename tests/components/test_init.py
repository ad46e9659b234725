"""Setup, retry, unload, link loss and recovery, repairs and stale devices."""

from __future__ import annotations

import asyncio
import contextlib
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.inverter_hub import async_remove_config_entry_device
from custom_components.inverter_hub.const import DOMAIN
from custom_components.inverter_hub.coordinator import InverterCoordinator
from custom_components.inverter_hub.inverterlib.pi30.client import Pi30Client
from simulators.pi30 import Fault, Pi30Simulator
from simulators.pi30_device import Pi30Device, Profile

from .conftest import PI30_SERIAL, Pi30Endpoint
from .ha_compat import device_by_identifier

BATTERY = "sensor.vmiii_5000_92932105105335_battery_voltage"


async def _poll(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Run one poll cycle now (real time: link timeouts must really expire)."""
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()


async def test_setup_creates_device_and_entities(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """The inverter becomes one device whose readings have values."""
    assert pi30_loaded.state is ConfigEntryState.LOADED
    device = device_by_identifier(device_registry, pi30_loaded.entry_id, (DOMAIN, PI30_SERIAL))
    assert device is not None
    assert device.serial_number == PI30_SERIAL
    assert device.model == "VMIII-5000"
    state = hass.states.get(BATTERY)
    assert state is not None
    assert 40 < float(state.state) < 60
    assert state.attributes["unit_of_measurement"] == "V"


async def test_unload_closes_the_link(hass: HomeAssistant, pi30_loaded: MockConfigEntry) -> None:
    """Unloading removes the entities' data source and closes the port."""
    link = pi30_loaded.runtime_data.session.client.link
    assert link.is_open
    assert await hass.config_entries.async_unload(pi30_loaded.entry_id)
    assert pi30_loaded.state is ConfigEntryState.NOT_LOADED
    assert not link.is_open


async def test_silent_device_retries_setup(
    hass: HomeAssistant, pi30_entry: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """A device that does not answer leaves the entry retrying, not failed."""
    pi30_sim.simulator.inject(Fault.SILENCE)
    await hass.config_entries.async_setup(pi30_entry.entry_id)
    assert pi30_entry.state is ConfigEntryState.SETUP_RETRY


async def test_impossible_link_fails_setup(hass: HomeAssistant) -> None:
    """A PI30 entry on a UDP link cannot work and says so."""
    entry = MockConfigEntry(domain=DOMAIN, data={"family": "pi30", "link": "udp://127.0.0.1:9"})
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR


async def test_link_loss_and_recovery(
    hass: HomeAssistant,
    pi30_loaded: MockConfigEntry,
    pi30_sim: Pi30Endpoint,
) -> None:
    """Entities go unavailable while the device is silent and come back without a restart."""
    pi30_sim.simulator.inject(Fault.SILENCE)
    await _poll(hass, pi30_loaded)
    assert hass.states.get(BATTERY).state == STATE_UNAVAILABLE
    pi30_sim.simulator.clear_faults()
    await _poll(hass, pi30_loaded)
    assert hass.states.get(BATTERY).state != STATE_UNAVAILABLE


async def test_disconnect_reconnects(
    hass: HomeAssistant,
    pi30_loaded: MockConfigEntry,
    pi30_sim: Pi30Endpoint,
) -> None:
    """A gateway that drops the connection is reconnected on the next poll."""
    pi30_sim.simulator.inject(Fault.DISCONNECT, count=1)
    await _poll(hass, pi30_loaded)
    assert hass.states.get(BATTERY).state == STATE_UNAVAILABLE
    await _poll(hass, pi30_loaded)
    assert hass.states.get(BATTERY).state != STATE_UNAVAILABLE


async def test_missing_port_raises_a_repair_issue(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    """A serial port that has disappeared is reported as a repair issue."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Garage inverter",
        data={"family": "pi30", "link": "/dev/ttyUSB-inverter-hub-missing"},
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    issue = issue_registry.async_get_issue(DOMAIN, f"port_missing_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders == {
        "port": "/dev/ttyUSB-inverter-hub-missing",
        "title": "Garage inverter",
    }


async def test_stale_devices_can_be_removed(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """A device still on the link cannot be removed; one that left can."""
    assert await async_setup_component(hass, "config", {})
    current = device_by_identifier(device_registry, pi30_loaded.entry_id, (DOMAIN, PI30_SERIAL))
    assert current is not None
    gone = device_registry.async_get_or_create(
        config_entry_id=pi30_loaded.entry_id, identifiers={(DOMAIN, "old-parallel-unit")}
    )
    assert not await async_remove_config_entry_device(hass, pi30_loaded, current)
    assert await async_remove_config_entry_device(hass, pi30_loaded, gone)


@pytest.mark.parametrize("expert", [False, True])
async def test_expert_points_only_in_expert_mode(
    hass: HomeAssistant,
    pi30_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    expert: bool,
) -> None:
    """Factory reset exists only in expert mode, and even then starts disabled."""
    hass.config_entries.async_update_entry(pi30_entry, options={"expert": expert})
    assert await hass.config_entries.async_setup(pi30_entry.entry_id)
    await hass.async_block_till_done()
    reset = entity_registry.async_get_entity_id(
        "button", DOMAIN, f"{PI30_SERIAL}_reset_to_defaults"
    )
    assert (reset is not None) is expert
    if reset is not None:
        entry = entity_registry.async_get(reset)
        assert entry is not None
        assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION


async def test_failed_first_poll_releases_the_port(
    hass: HomeAssistant, pi30_entry: MockConfigEntry
) -> None:
    """A setup cancelled after the port was opened closes it, so a new attempt can open it."""
    links = []
    original = InverterCoordinator._async_setup

    async def setup_then_remember(self: InverterCoordinator) -> None:
        await original(self)
        links.append(self.session.client.link)

    with (
        patch.object(InverterCoordinator, "_async_setup", setup_then_remember),
        # Cancellation skips Home Assistant's own clean-up of a failed setup.
        patch.object(Pi30Client, "read", side_effect=asyncio.CancelledError),
        contextlib.suppress(asyncio.CancelledError),
    ):
        await hass.config_entries.async_setup(pi30_entry.entry_id)
    (link,) = links
    assert not link.is_open


async def test_parallel_units_are_devices_under_the_inverter(
    hass: HomeAssistant, socket_enabled: None, device_registry: dr.DeviceRegistry
) -> None:
    """Each QPGSn unit of a parallel system is its own device, linked to the one on the port."""
    simulator = Pi30Simulator(Pi30Device(Profile(parallel=True), serial=PI30_SERIAL))
    host, port = await simulator.start_tcp()
    try:
        entry = MockConfigEntry(
            domain=DOMAIN, data={"family": "pi30", "link": f"tcp://{host}:{port}"}
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.unique_id == PI30_SERIAL
        main = device_by_identifier(device_registry, entry.entry_id, (DOMAIN, PI30_SERIAL))
        assert main is not None
        units = [
            device
            for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id)
            if device.id != main.id
        ]
        # The unit on the port reports itself in QPGS0 too; it is not a second device.
        assert len(units) == 1
        assert {unit.via_device_id for unit in units} == {main.id}
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await simulator.stop()


async def test_link_health_sensors(hass: HomeAssistant, pi30_loaded: MockConfigEntry) -> None:
    """The entry's device shows the last successful poll; the noisy figures start disabled."""
    registry = er.async_get(hass)
    health = {
        key: registry.async_get_entity_id("sensor", DOMAIN, f"{PI30_SERIAL}_{key}")
        for key in ("last_success", "poll_duration", "round_trip", "link_errors")
    }
    assert all(health.values())
    last = hass.states.get(health["last_success"])
    assert last is not None
    assert last.state not in ("unknown", "unavailable")
    assert (
        registry.async_get(health["poll_duration"]).disabled_by
        is er.RegistryEntryDisabler.INTEGRATION
    )
    session = pi30_loaded.runtime_data.session
    assert session.health.round_trip is not None
    assert 0 < session.health.round_trip <= session.health.poll_duration
