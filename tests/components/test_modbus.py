"""An SDM630 and a Growatt on one simulated Modbus bus, end to end through Home Assistant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import replace
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.inverter_hub.const import DOMAIN
from custom_components.inverter_hub.inverterlib.errors import UnsupportedError
from custom_components.inverter_hub.inverterlib.modbus.profile import Access, LinkRules, Profile
from custom_components.inverter_hub.inverterlib.modbus.registry import ProfileRegistry
from custom_components.inverter_hub.scan import async_scan
from simulators.modbus import ModbusSimulator

_link_rules = ProfileRegistry.link_rules


def _fast_rules(profiles: Iterable[Profile]) -> LinkRules:
    # The Growatt's 0.85 s inter-frame gap is real on RS-485; tests need not wait for it.
    return replace(_link_rules(profiles), gap=0.0, timeout=0.3)


@pytest.fixture(autouse=True)
def fast_bus() -> Iterator[None]:
    """Run the simulated bus without the vendor's pauses."""
    with patch.object(ProfileRegistry, "link_rules", staticmethod(_fast_rules)):
        yield


@pytest.fixture
async def bus(socket_enabled: None) -> AsyncIterator[tuple[ModbusSimulator, str]]:
    """Serve an SDM630 on unit 1 and a Growatt MIN on unit 2 over Modbus TCP."""
    simulator = ModbusSimulator({1: "sdm630", 2: "growatt_min"}, moving=False)
    port = await simulator.serve_tcp()
    yield simulator, f"tcp://127.0.0.1:{port}"
    await simulator.stop()


async def _add_through_the_ui(
    hass: HomeAssistant, link: str, units: tuple[str, ...] = ("1", "2")
) -> ConfigEntry:
    """Add the units that answer on the bus through the config flow; they must be `units`."""
    host, port = link.removeprefix("tcp://").split(":")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"family": "modbus"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "network"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": host, "port": int(port), "protocol": "tcp"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"first_unit": 1, "last_unit": 3}
    )
    assert result["step_id"] == "units"
    options = result["data_schema"].schema["units"].config["options"]
    assert [option["value"] for option in options] == list(units)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"units": list(units)}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    return entry


def _entity(hass: HomeAssistant, platform: str, serial: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{serial}_{key}")
    assert entity_id is not None, f"{platform} {key} of {serial}"
    return entity_id


@pytest.fixture
async def loaded(
    hass: HomeAssistant, bus: tuple[ModbusSimulator, str]
) -> AsyncIterator[tuple[ConfigEntry, ModbusSimulator, dict[str, str]]]:
    """Add both units through the config flow; yield the entry, the bus and unit -> serial."""
    simulator, link = bus
    entry = await _add_through_the_ui(hass, link)
    serials = {
        state.identity.address: serial for serial, state in entry.runtime_data.devices.items()
    }
    yield entry, simulator, serials
    await hass.config_entries.async_unload(entry.entry_id)


async def test_meter_and_inverter_become_two_devices(
    hass: HomeAssistant,
    loaded: tuple[ConfigEntry, ModbusSimulator, dict[str, str]],
    device_registry: dr.DeviceRegistry,
) -> None:
    """Both units are devices of one entry, with values matching their registers."""
    entry, _, serials = loaded
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data["devices"] == [
        {"address": 1, "profile": "sdm630", "serial": serials["1"]},
        {"address": 2, "profile": "growatt_min", "serial": serials["2"]},
    ]
    models = {
        device.model
        for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    }
    assert models == {"SDM630", "MIN TL-X"}
    voltage = hass.states.get(_entity(hass, "sensor", serials["1"], "grid_voltage_l1"))
    assert 200 < float(voltage.state) < 260
    pv = hass.states.get(_entity(hass, "sensor", serials["2"], "pv_energy"))
    assert float(pv.state) > 0
    assert pv.attributes["state_class"] == "total_increasing"


async def test_export_limit_is_written_to_the_inverter(
    hass: HomeAssistant, loaded: tuple[ConfigEntry, ModbusSimulator, dict[str, str]]
) -> None:
    """Setting the export limit writes holding register 3 of the Growatt and reads it back."""
    _entry, simulator, serials = loaded
    entity_id = _entity(hass, "number", serials["2"], "export_limit")
    await hass.services.async_call(
        "number", "set_value", {ATTR_ENTITY_ID: entity_id, "value": 40}, blocking=True
    )
    assert simulator.unit(2).banks[Access.HOLDING][3] == 40
    assert float(hass.states.get(entity_id).state) == 40


async def test_bad_export_limit_sends_nothing(
    hass: HomeAssistant, loaded: tuple[ConfigEntry, ModbusSimulator, dict[str, str]]
) -> None:
    """A value outside 0-100 % is refused before any request goes out."""
    _entry, simulator, serials = loaded
    before = simulator.counters(2).requests
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN,
            "write_setting",
            {"entity_id": _entity(hass, "number", serials["2"], "export_limit"), "value": 150},
            blocking=True,
        )
    assert info.value.translation_key == "invalid_value"
    assert simulator.counters(2).requests == before


async def test_modbus_exception_is_a_translated_error(
    hass: HomeAssistant, loaded: tuple[ConfigEntry, ModbusSimulator, dict[str, str]]
) -> None:
    """A unit that answers with an exception leaves the setting unchanged and says so."""
    _entry, simulator, serials = loaded
    simulator.unit(2).refuse(access=Access.HOLDING, addresses=range(3, 4))
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call(
            "number",
            "set_value",
            {ATTR_ENTITY_ID: _entity(hass, "number", serials["2"], "export_limit"), "value": 10},
            blocking=True,
        )
    assert info.value.translation_key == "device_refused"


async def test_sleeping_inverter_keeps_totals_and_comes_back(
    hass: HomeAssistant, loaded: tuple[ConfigEntry, ModbusSimulator, dict[str, str]]
) -> None:
    """A Growatt asleep at night: live values unavailable, totals kept, the meter unaffected."""
    entry, simulator, serials = loaded
    coordinator = entry.runtime_data
    power = _entity(hass, "sensor", serials["2"], "ac_output_power")
    total = _entity(hass, "sensor", serials["2"], "pv_energy")
    meter = _entity(hass, "sensor", serials["1"], "grid_voltage_l1")
    kept = hass.states.get(total).state
    simulator.unit(2).sleep()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(power).state == STATE_UNAVAILABLE
    assert hass.states.get(total).state == kept
    assert hass.states.get(meter).state != STATE_UNAVAILABLE
    simulator.unit(2).wake()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(power).state != STATE_UNAVAILABLE


async def test_inverter_asleep_at_start_up(
    hass: HomeAssistant,
    loaded: tuple[ConfigEntry, ModbusSimulator, dict[str, str]],
) -> None:
    """A restart at night still loads the bus; the sleeping unit waits as an unavailable device."""
    entry, simulator, serials = loaded
    await hass.config_entries.async_unload(entry.entry_id)
    simulator.unit(2).sleep()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    power = _entity(hass, "sensor", serials["2"], "ac_output_power")
    assert hass.states.get(power).state == STATE_UNAVAILABLE
    assert hass.states.get(_entity(hass, "sensor", serials["1"], "grid_voltage_l1")).state
    simulator.unit(2).wake()
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(power).state != STATE_UNAVAILABLE


async def test_raw_register_services(
    hass: HomeAssistant, loaded: tuple[ConfigEntry, ModbusSimulator, dict[str, str]]
) -> None:
    """In expert mode raw registers can be read and written."""
    entry, simulator, _ = loaded
    hass.config_entries.async_update_entry(entry, options={"expert": True})
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await hass.services.async_call(
        DOMAIN,
        "write_registers",
        {"config_entry_id": entry.entry_id, "unit": 2, "address": 3, "values": [55]},
        blocking=True,
    )
    response = await hass.services.async_call(
        DOMAIN,
        "read_registers",
        {
            "config_entry_id": entry.entry_id,
            "unit": 2,
            "access": "holding",
            "address": 3,
            "count": 1,
        },
        blocking=True,
        return_response=True,
    )
    assert response == {"registers": [55]}
    simulator.unit(2).refuse(access=Access.HOLDING)
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            DOMAIN,
            "read_registers",
            {"config_entry_id": entry.entry_id, "unit": 2, "access": "holding", "address": 3},
            blocking=True,
            return_response=True,
        )
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            DOMAIN,
            "write_registers",
            {"config_entry_id": entry.entry_id, "unit": 2, "address": 3, "values": [1]},
            blocking=True,
        )


async def test_scan_of_a_pi30_link_is_refused(hass: HomeAssistant) -> None:
    """Only links of a family that can scan are scanned."""
    with pytest.raises(UnsupportedError):
        await async_scan(hass, {"family": "pi30", "link": "tcp://127.0.0.1:9"}, range(1, 2))


async def test_unit_that_joins_later_is_added_by_the_scan_button(
    hass: HomeAssistant, bus: tuple[ModbusSimulator, str]
) -> None:
    """A unit absent at setup becomes a device after a scan, without re-adding the entry."""
    simulator, link = bus
    simulator.unit(2).sleep()
    entry = await _add_through_the_ui(hass, link, units=("1",))
    assert len(entry.runtime_data.devices) == 1
    simulator.unit(2).wake()
    scan = er.async_get(hass).async_get_entity_id(
        "button", DOMAIN, f"{entry.unique_id}_scan_for_devices"
    )
    assert scan is not None
    await hass.services.async_call("button", "press", {ATTR_ENTITY_ID: scan}, blocking=True)
    await hass.async_block_till_done()
    (serial,) = set(entry.runtime_data.devices) - {entry.unique_id}
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    power = hass.states.get(_entity(hass, "sensor", serial, "ac_output_power"))
    assert power is not None
    assert power.state != STATE_UNAVAILABLE
    await hass.config_entries.async_unload(entry.entry_id)


async def test_periodic_rescan_adds_a_unit(
    hass: HomeAssistant, loaded: tuple[ConfigEntry, ModbusSimulator, dict[str, str]]
) -> None:
    """With rescans on in the options, the session scans the entry's range on its own."""
    entry, _simulator, _serials = loaded
    hass.config_entries.async_update_entry(entry, options={"rescan": True, "rescan_interval": 5})
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    session = entry.runtime_data.session
    assert session.settings.rescan_interval == 5
    assert session.settings.scan_addresses == (1, 2, 3)
