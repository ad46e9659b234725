"""A Studer Xcom in Home Assistant: every unit a device, RAM writes, a unit that drops out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.inverter_hub.const import DOMAIN
from custom_components.inverter_hub.diagnostics import async_get_config_entry_diagnostics
from custom_components.inverter_hub.inverterlib.model import PointKind, ValueType
from simulators.xcom import XcomSimulator


@pytest.fixture
async def xcom(socket_enabled: None) -> AsyncIterator[XcomSimulator]:
    """Serve an Xcom with three Xtenders, a VarioTrack and a BSP on 127.0.0.1."""
    simulator = XcomSimulator()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def loaded(hass: HomeAssistant, xcom: XcomSimulator) -> AsyncIterator[MockConfigEntry]:
    """Set up an entry for the simulated Xcom."""
    host, port = await xcom.start_tcp()
    entry = MockConfigEntry(
        domain=DOMAIN, version=2, data={"family": "xcom", "link": f"tcp://{host}:{port}"}
    )
    entry.add_to_hass(hass)
    # A unit that is gone should not make every test wait the protocol's two seconds.
    with patch("custom_components.inverter_hub.inverterlib.xcom.spec.TIMEOUT", 0.5):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        yield entry
    await hass.config_entries.async_unload(entry.entry_id)


def _entity(hass: HomeAssistant, platform: str, serial: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{serial}_{key}")
    assert entity_id is not None, f"{platform} {key} of {serial}"
    return entity_id


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def test_every_unit_is_a_device_under_the_system(
    hass: HomeAssistant, loaded: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """The Xcom system and each unit behind it are devices; units hang under the system."""
    assert loaded.state is ConfigEntryState.LOADED
    devices = dr.async_entries_for_config_entry(device_registry, loaded.entry_id)
    models = sorted(device.model or "" for device in devices)
    assert len(devices) == 6
    assert sum("Xtender" in model for model in models) == 3
    system = next(device for device in devices if device.via_device_id is None)
    assert all(d.via_device_id == system.id for d in devices if d is not system)
    session = loaded.runtime_data.session
    xtender = next(s for s in session.devices.values() if s.identity.address == "101")
    state = hass.states.get(
        _entity(hass, "sensor", xtender.identity.serial_number, "battery_voltage")
    )
    assert state is not None
    assert 40 < float(state.state) < 65


async def test_a_unit_that_drops_out_leaves_the_others_working(
    hass: HomeAssistant, loaded: MockConfigEntry, xcom: XcomSimulator
) -> None:
    """DEVICE_NOT_FOUND rests one Xtender; the others keep reading; it comes back by itself."""
    session = loaded.runtime_data.session
    by_address = {s.identity.address: s.identity.serial_number for s in session.devices.values()}
    gone = _entity(hass, "sensor", by_address["102"], "battery_voltage")
    kept = _entity(hass, "sensor", by_address["101"], "battery_voltage")
    xcom.drop(102)
    await loaded.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, gone) == STATE_UNAVAILABLE
    assert _state(hass, kept) != STATE_UNAVAILABLE
    xcom.restore(102)
    session.devices[by_address["102"]].retry_at = 0
    await loaded.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, gone) != STATE_UNAVAILABLE


async def test_parameter_written_to_ram_by_default(
    hass: HomeAssistant, loaded: MockConfigEntry, xcom: XcomSimulator
) -> None:
    """A basic parameter changes through its entity; diagnostics count no flash write."""
    session = loaded.runtime_data.session
    xtender = next(s for s in session.devices.values() if s.identity.address == "101")
    point = next(
        p
        for p in session.visible_points(xtender.identity.serial_number)
        if p.kind is PointKind.SETTING
        and p.value_type is ValueType.FLOAT
        and p.minimum is not None
        and p.maximum is not None
        and p.minimum < p.maximum
    )
    entity_id = _entity(hass, "number", xtender.identity.serial_number, point.key)
    target = point.maximum if xtender.values.get(point.key) != point.maximum else point.minimum
    await hass.services.async_call(
        "number", "set_value", {"entity_id": entity_id, "value": target}, blocking=True
    )
    assert xtender.values[point.key] == pytest.approx(target)
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded)
    assert diagnostics["link"]["write_target"] == "ram"
    assert diagnostics["link"]["flash_writes"] == 0
    assert diagnostics["writes"][-1]["outcome"] == "applied"


async def test_a_new_message_becomes_an_event(
    hass: HomeAssistant, loaded: MockConfigEntry, xcom: XcomSimulator
) -> None:
    """A message the Xcom logs after start fires inverter_hub_message and shows as the last one."""
    events = async_capture_events(hass, "inverter_hub_message")
    xcom.post_message(code=22, source=101)
    await loaded.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert len(events) == 1
    assert events[0].data["message"]
    session = loaded.runtime_data.session
    system = next(s for s in session.devices.values() if s.identity.parent_serial is None)
    state = hass.states.get(_entity(hass, "sensor", system.identity.serial_number, "last_message"))
    assert state is not None
    assert state.state == events[0].data["message"] == "m022_voltage_presence_on_ac_out"
    assert events[0].data["unit"] == 101
    assert events[0].data["text"] == "Halted (022): Voltage presence on AC-Out"
    assert "m022_voltage_presence_on_ac_out" in state.attributes["options"]
    unit = _entity(hass, "sensor", system.identity.serial_number, "last_message_unit")
    assert _state(hass, unit) == "101"
    await loaded.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert len(events) == 1


async def test_a_number_takes_the_units_own_range(
    hass: HomeAssistant, loaded: MockConfigEntry
) -> None:
    """The Xtenders report 0-120 A of charge current; the entity offers that, not 0-200 A."""
    session = loaded.runtime_data.session
    xtender = next(s for s in session.devices.values() if s.identity.address == "101")
    charge = _entity(hass, "number", xtender.identity.serial_number, "battery_charge_current_1138")
    state = hass.states.get(charge)
    assert state is not None
    assert (state.attributes["min"], state.attributes["max"]) == (0, 120)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_expert_mode_gives_expert_numbers_the_units_own_range(
    hass: HomeAssistant, xcom: XcomSimulator
) -> None:
    """With expert mode on, an expert number (max grid feeding current) offers 0-40 A, not 50."""
    host, port = await xcom.start_tcp()
    entry = MockConfigEntry(
        domain=DOMAIN,
        version=2,
        data={"family": "xcom", "link": f"tcp://{host}:{port}"},
        options={"expert": True},
    )
    entry.add_to_hass(hass)
    with patch("custom_components.inverter_hub.inverterlib.xcom.spec.TIMEOUT", 0.5):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    session = entry.runtime_data.session
    xtender = next(s for s in session.devices.values() if s.identity.address == "101")
    feeding = _entity(
        hass, "number", xtender.identity.serial_number, "max_grid_feeding_current_1523"
    )
    state = hass.states.get(feeding)
    assert state is not None
    assert state.attributes["max"] == 40
    await hass.config_entries.async_unload(entry.entry_id)
