"""Entities of a simulated Axpert: snapshots, and writes through every kind of setting."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.inverter_hub.const import DOMAIN
from custom_components.inverter_hub.inverterlib.writer import Outcome

from .conftest import PI30_SERIAL, Pi30Endpoint
from .ha_compat import device_by_identifier

PREFIX = "vmiii_5000_92932105105335"


@pytest.mark.parametrize(
    "platform",
    [
        Platform.BINARY_SENSOR,
        Platform.BUTTON,
        Platform.NUMBER,
        Platform.SELECT,
        Platform.SENSOR,
        Platform.SWITCH,
    ],
)
@pytest.mark.usefixtures("entity_registry_enabled_by_default", "frozen_session_clock")
async def test_platform_snapshot(
    hass: HomeAssistant,
    pi30_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """Every entity of the platform, its registry entry and its state, as the user sees it."""
    with patch("custom_components.inverter_hub.PLATFORMS", [platform]):
        assert await hass.config_entries.async_setup(pi30_entry.entry_id)
        await hass.async_block_till_done()
    await snapshot_platform(hass, entity_registry, snapshot, pi30_entry.entry_id)


async def test_select_writes_and_reads_back(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """Choosing an output priority reaches the inverter and shows at once."""
    entity_id = f"select.{PREFIX}_output_source_priority"
    assert hass.states.get(entity_id).state == "sbu"
    await hass.services.async_call(
        "select",
        "select_option",
        {ATTR_ENTITY_ID: entity_id, "option": "solar_first"},
        blocking=True,
    )
    assert pi30_sim.device.settings.output_priority == 1
    assert hass.states.get(entity_id).state == "solar_first"
    record = pi30_loaded.runtime_data.session.write_log[-1]
    assert (record.key, record.old, record.new, record.outcome) == (
        "output_source_priority",
        "sbu",
        "solar_first",
        Outcome.APPLIED,
    )
    assert pi30_sim.simulator.stats.requests["POP01"] == 1


async def test_unchanged_value_is_not_sent(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """Writing what the device already holds sends no setter."""
    await hass.services.async_call(
        "number",
        "set_value",
        {ATTR_ENTITY_ID: f"number.{PREFIX}_float_voltage", "value": 54.0},
        blocking=True,
    )
    assert pi30_loaded.runtime_data.session.write_log[-1].outcome is Outcome.UNCHANGED
    assert not any(command.startswith("PBFT") for command in pi30_sim.simulator.stats.requests)


async def test_number_writes(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """A voltage setting is sent in the inverter's format."""
    entity_id = f"number.{PREFIX}_float_voltage"
    await hass.services.async_call(
        "number", "set_value", {ATTR_ENTITY_ID: entity_id, "value": 54.8}, blocking=True
    )
    assert pi30_sim.device.settings.float_voltage == pytest.approx(54.8)
    assert pi30_sim.simulator.stats.requests["PBFT54.8"] == 1
    assert float(hass.states.get(entity_id).state) == pytest.approx(54.8)


async def test_off_step_value_is_refused_and_nothing_sent(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """A value between steps is a validation error; no byte reaches the inverter."""
    before = pi30_sim.simulator.stats.total
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            "number",
            "set_value",
            {ATTR_ENTITY_ID: f"number.{PREFIX}_float_voltage", "value": 54.85},
            blocking=True,
        )
    assert info.value.translation_key == "invalid_value"
    assert pi30_sim.simulator.stats.total == before


async def test_refusal_is_a_translated_error(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """An inverter that answers NAK leaves the setting as it was and tells the user."""
    entity_id = f"select.{PREFIX}_output_source_priority"
    with (
        patch.object(pi30_sim.device, "_set", return_value="NAK"),
        pytest.raises(HomeAssistantError) as info,
    ):
        await hass.services.async_call(
            "select",
            "select_option",
            {ATTR_ENTITY_ID: entity_id, "option": "utility_first"},
            blocking=True,
        )
    assert info.value.translation_key == "device_refused"
    assert hass.states.get(entity_id).state == "sbu"
    assert pi30_loaded.runtime_data.session.write_log[-1].outcome is Outcome.FAILED


async def test_read_back_mismatch_is_reported(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """An inverter that says ACK but keeps the old value is caught by the read-back."""
    with (
        patch.object(pi30_sim.device, "_set", return_value="ACK"),
        pytest.raises(HomeAssistantError) as info,
    ):
        await hass.services.async_call(
            "select",
            "select_option",
            {ATTR_ENTITY_ID: f"select.{PREFIX}_charger_source_priority", "option": "solar_first"},
            blocking=True,
        )
    assert info.value.translation_key == "read_back_mismatch"
    assert info.value.translation_placeholders["expected"] == "solar_first"


async def test_switch_turns_flag_off_and_on(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """The buzzer switch sends PDa / PEa and follows the device."""
    entity_id = f"switch.{PREFIX}_buzzer"
    assert hass.states.get(entity_id).state == "on"
    await hass.services.async_call("switch", "turn_off", {ATTR_ENTITY_ID: entity_id}, blocking=True)
    assert pi30_sim.device.settings.flags["a"] is False
    assert hass.states.get(entity_id).state == "off"
    await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: entity_id}, blocking=True)
    assert pi30_sim.device.settings.flags["a"] is True


async def test_clock_button(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """Pressing sync clock sends DAT with the current time."""
    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: f"button.{PREFIX}_synchronise_clock"}, blocking=True
    )
    assert any(command.startswith("DAT") for command in pi30_sim.simulator.stats.requests)


def _setting_entity(hass: HomeAssistant, platform: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{PI30_SERIAL}_{key}")
    assert entity_id is not None
    return entity_id


def _device_id(hass: HomeAssistant) -> str:
    [entry] = hass.config_entries.async_entries(DOMAIN)
    device = device_by_identifier(dr.async_get(hass), entry.entry_id, (DOMAIN, PI30_SERIAL))
    assert device is not None
    return device.id


async def test_write_setting_service(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """write_setting targets the setting's entity, or a device and a key."""
    entity_id = _setting_entity(hass, "number", "battery_recharge_voltage")
    response = await hass.services.async_call(
        DOMAIN,
        "write_setting",
        {"entity_id": entity_id, "value": "47"},
        blocking=True,
        return_response=True,
    )
    assert response == {"outcome": "applied", "old": 46.0, "new": 47.0}
    assert pi30_sim.device.settings.recharge_voltage == 47.0
    response = await hass.services.async_call(
        DOMAIN,
        "write_setting",
        {"device_id": _device_id(hass), "key": "battery_recharge_voltage", "value": 48},
        blocking=True,
        return_response=True,
    )
    assert response == {"outcome": "applied", "old": 47.0, "new": 48.0}
    assert pi30_sim.device.settings.recharge_voltage == 48.0


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"entity_id": "number.nope", "value": 1}, "unknown_entity"),
        ({"device_id": "nope", "key": "battery_type", "value": "agm"}, "no_setting_target"),
        ({"value": "agm"}, "no_setting_target"),
        ({"device_id": None, "key": "nope", "value": 1}, "unknown_point"),
        ({"device_id": None, "key": "battery_voltage", "value": 1}, "not_writable"),
        ({"device_id": None, "key": "output_mode", "value": "parallel"}, "expert_mode_required"),
    ],
)
async def test_write_setting_service_refuses_bad_input(
    hass: HomeAssistant,
    pi30_loaded: MockConfigEntry,
    pi30_sim: Pi30Endpoint,
    data: dict[str, object],
    key: str,
) -> None:
    """Unknown targets and keys, readings and expert settings are refused with nothing sent."""
    if "device_id" in data and data["device_id"] is None:
        data = {**data, "device_id": _device_id(hass)}
    before = pi30_sim.simulator.stats.total
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN, "write_setting", data, blocking=True, return_response=True
        )
    assert info.value.translation_key == key
    assert pi30_sim.simulator.stats.total == before


async def test_write_setting_error_names_the_entity(
    hass: HomeAssistant, pi30_loaded: MockConfigEntry
) -> None:
    """A value refused for an entity says which entity, not which hidden key."""
    entity_id = _setting_entity(hass, "number", "battery_recharge_voltage")
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN, "write_setting", {"entity_id": entity_id, "value": 99}, blocking=True
        )
    assert info.value.translation_placeholders is not None
    assert info.value.translation_placeholders["detail"].startswith(f"{entity_id}: ")
