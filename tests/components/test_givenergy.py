"""A GivEnergy inverter in Home Assistant: batteries as devices, slots, modes, a forced export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.inverter_hub.config_flow import local_hosts
from custom_components.inverter_hub.const import DOMAIN
from simulators.givenergy import GivEnergySimulator
from simulators.givenergy_capture import CapturedUnit
from simulators.givenergy_plant import Kind, Plant

from .ha_compat import device_by_identifier

INVERTER = "SA2114G047"


@pytest.fixture
async def dongle(socket_enabled: None) -> AsyncIterator[GivEnergySimulator]:
    """Serve a Gen 2 hybrid with two battery packs behind a simulated dongle."""
    simulator = GivEnergySimulator()
    yield simulator
    await simulator.stop()


async def _set_up(hass: HomeAssistant, dongle: GivEnergySimulator) -> MockConfigEntry:
    """Serve the dongle and set up an entry for it."""
    host, port = await dongle.start()
    entry = MockConfigEntry(
        domain=DOMAIN, version=2, data={"family": "givenergy", "link": f"tcp://{host}:{port}"}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def entry(hass: HomeAssistant, dongle: GivEnergySimulator) -> AsyncIterator[MockConfigEntry]:
    """Set up an entry for the simulated inverter."""
    entry = await _set_up(hass, dongle)
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


def _entity(hass: HomeAssistant, platform: str, serial: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{serial}_{key}")
    assert entity_id is not None, f"{platform} {key} of {serial}"
    return entity_id


def _device(hass: HomeAssistant, serial: str) -> str:
    [entry] = hass.config_entries.async_entries(DOMAIN)
    device = device_by_identifier(dr.async_get(hass), entry.entry_id, (DOMAIN, serial))
    assert device is not None
    return device.id


async def test_inverter_and_battery_packs_are_devices(
    hass: HomeAssistant, entry: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    """The packs hang under the inverter; power flows add up with Home Assistant's signs."""
    devices = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    inverter = next(device for device in devices if device.via_device_id is None)
    packs = [device for device in devices if device.via_device_id == inverter.id]
    assert len(packs) == 2
    values = {
        key: float(hass.states.get(_entity(hass, "sensor", INVERTER, key)).state)
        for key in ("pv_power", "load_power", "battery_power", "grid_power")
    }
    # PV = load + battery charging + export; charging and export are negative here.
    assert values["pv_power"] == pytest.approx(
        values["load_power"] - values["battery_power"] - values["grid_power"], abs=5
    )


async def test_slot_and_mode_from_the_ui(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """A slot's start and a named battery mode are set through their entities."""
    start = _entity(hass, "time", INVERTER, "charge_slot_1_start")
    await hass.services.async_call(
        "time", "set_value", {"entity_id": start, "time": "02:15:00"}, blocking=True
    )
    assert hass.states.get(start).state == "02:15:00"
    mode = _entity(hass, "select", INVERTER, "battery_power_mode")
    await hass.services.async_call(
        "select", "select_option", {"entity_id": mode, "option": "timed_demand"}, blocking=True
    )
    assert hass.states.get(mode).state == "timed_demand"


async def test_write_settings_sets_a_slot_and_its_target_together(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Start, end and target go in one call; a bad value sends nothing."""
    device_id = _device(hass, INVERTER)
    response = await hass.services.async_call(
        DOMAIN,
        "write_settings",
        {
            "device_id": device_id,
            "settings": {"charge_slot_2": "01:00-03:00", "charge_target_soc": 90},
        },
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["changed"]["charge_slot_2"] == {"old": "00:00-00:00", "new": "01:00-03:00"}
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN,
            "write_settings",
            {
                "device_id": device_id,
                "settings": {"charge_slot_2": "02:00-04:00", "charge_target_soc": 101},
            },
            blocking=True,
        )
    session = entry.runtime_data.session
    assert session.devices[INVERTER].values["charge_slot_2"] == "01:00-03:00"


async def test_write_settings_sets_slot_3_and_its_target_on_a_ten_slot_model(
    hass: HomeAssistant, socket_enabled: None, device_registry: dr.DeviceRegistry
) -> None:
    """A Gen 3 has slots 3-10 as entities and in write_settings; its meter is a device."""
    simulator = GivEnergySimulator(Plant(Kind.GEN3, meter=True))
    entry = await _set_up(hass, simulator)
    try:
        _entity(hass, "time", INVERTER, "charge_slot_3_start")
        _entity(hass, "number", INVERTER, "charge_slot_3_target_soc")
        response = await hass.services.async_call(
            DOMAIN,
            "write_settings",
            {
                "device_id": _device(hass, INVERTER),
                "settings": {"charge_slot_3": "01:00-03:00", "charge_slot_3_target_soc": 90},
            },
            blocking=True,
            return_response=True,
        )
        assert response is not None
        assert response["changed"] == {
            "charge_slot_3": {"old": "00:00-00:00", "new": "01:00-03:00"},
            "charge_slot_3_target_soc": {"old": 100, "new": 90},
        }
        assert [simulator.plant.holding[register] for register in (246, 247, 248)] == [100, 300, 90]
        session = entry.runtime_data.session
        assert session.devices[INVERTER].values["charge_slot_3"] == "01:00-03:00"
        meter = device_by_identifier(
            device_registry, entry.entry_id, (DOMAIN, f"{INVERTER}-meter-1")
        )
        inverter = device_by_identifier(device_registry, entry.entry_id, (DOMAIN, INVERTER))
        assert meter is not None
        assert inverter is not None
        assert meter.via_device_id == inverter.id
        state = hass.states.get(_entity(hass, "sensor", f"{INVERTER}-meter-1", "grid_power"))
        assert state is not None
        power = float(state.state)
        assert power == -600
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        await simulator.stop()


async def test_forced_export_is_restored_on_time_and_after_a_restart(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Force export for 30 minutes: the schedule and mode come back, also across a restart."""
    device_id = _device(hass, INVERTER)
    session = entry.runtime_data.session
    before = {
        key: session.devices[INVERTER].values[key]
        for key in ("battery_power_mode", "discharge_slot_1")
    }
    response = await hass.services.async_call(
        DOMAIN,
        "force",
        {"device_id": device_id, "mode": "export", "minutes": 30},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["changed"]["battery_power_mode"] == {"old": "eco", "new": "timed_export"}
    # Home Assistant restarts in the middle of it.
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    session = entry.runtime_data.session
    assert session.devices[INVERTER].values["battery_power_mode"] == "timed_export"
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=31))
    await hass.async_block_till_done()
    values = session.devices[INVERTER].values
    assert {key: values[key] for key in before} == before
    assert entry.runtime_data.overrides.active(INVERTER) is None
    # A mode the family does not have is refused, naming the ones it has.
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN, "force", {"device_id": device_id, "mode": "nap", "minutes": 5}, blocking=True
        )
    assert info.value.translation_placeholders == {"mode": "nap", "modes": "charge, export"}


async def test_cancel_force_restores_now(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Ending a forced charge puts the previous values back at once."""
    device_id = _device(hass, INVERTER)
    await hass.services.async_call(
        DOMAIN,
        "force",
        {"device_id": device_id, "settings": {"charge_slot_1": "00:00-23:59"}, "minutes": 60},
        blocking=True,
    )
    response = await hass.services.async_call(
        DOMAIN, "cancel_force", {"device_id": device_id}, blocking=True, return_response=True
    )
    assert response == {"changed": {"charge_slot_1": {"old": "00:00-23:59", "new": "00:30-04:30"}}}
    response = await hass.services.async_call(
        DOMAIN, "cancel_force", {"device_id": device_id}, blocking=True, return_response=True
    )
    assert response == {"changed": {}}


async def test_search_the_local_network_finds_the_inverter(
    hass: HomeAssistant, dongle: GivEnergySimulator
) -> None:
    """The flow asks every local address on the port and lists the inverter with its serial."""
    _host, port = await dongle.start()
    # The test harness lets sockets reach 127.0.0.1 only; the search asks what it is given.
    with patch(
        "custom_components.inverter_hub.config_flow.local_hosts", return_value=["127.0.0.1"]
    ):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"family": "givenergy"}
        )
        assert result["menu_options"] == ["network", "search"]
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "search"}
        )
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"port": 9})
        assert result["errors"] == {"base": "nothing_found"}
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {"port": port})
        assert result["step_id"] == "found"
        options = result["data_schema"].schema["link"].config["options"]
        assert [option["value"] for option in options] == [f"tcp://127.0.0.1:{port}"]
        assert INVERTER in options[0]["label"]
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"link": f"tcp://127.0.0.1:{port}"}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == INVERTER
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_local_hosts_are_the_slash_24_of_each_adapter(hass: HomeAssistant) -> None:
    """Loopback and disabled adapters are left out; the computer's own address too."""
    adapters = [
        {"enabled": True, "ipv4": [{"address": "192.0.2.10", "network_prefix": 24}]},
        {"enabled": True, "ipv4": [{"address": "127.0.0.1", "network_prefix": 8}]},
        {"enabled": False, "ipv4": [{"address": "198.51.100.7", "network_prefix": 24}]},
    ]
    with patch(
        "custom_components.inverter_hub.config_flow.network.async_get_adapters",
        return_value=adapters,
    ):
        hosts = await local_hosts(hass)
    assert len(hosts) == 253
    assert "192.0.2.10" not in hosts
    assert {"192.0.2.1", "192.0.2.254"} <= set(hosts)


async def test_a_captured_three_phase_unit_is_read_only_in_home_assistant(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """A real three-phase unit's registers: sensors with its values, no controls, a clear no."""
    capture = (
        Path(__file__).parent.parent / "lib" / "fixtures" / "givenergy_capture_three_phase.json"
    )
    dongle = GivEnergySimulator(unit=CapturedUnit.from_file(capture))
    entry = await _set_up(hass, dongle)
    try:
        serial = "TC2337G000"
        assert hass.states.get(_entity(hass, "sensor", serial, "battery_soc")).state == "71"
        assert hass.states.get(_entity(hass, "sensor", serial, "grid_power")).state == "-4"
        registry = er.async_get(hass)
        platforms = {
            item.domain
            for item in er.async_entries_for_config_entry(registry, entry.entry_id)
            if item.unique_id.startswith(serial)
        }
        assert platforms <= {"sensor", "binary_sensor"}
        with pytest.raises(ServiceValidationError) as info:
            await hass.services.async_call(
                DOMAIN,
                "force",
                {"device_id": _device(hass, serial), "mode": "export", "minutes": 30},
                blocking=True,
            )
        # The export recipe needs a discharge slot and a mode, which a read-only unit lacks.
        assert info.value.translation_key == "mode_unsupported"
        assert info.value.translation_placeholders["settings"] == (
            "discharge_slot_1, battery_power_mode"
        )
        assert info.value.translation_placeholders["mode"] == "export"
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        await dongle.stop()
