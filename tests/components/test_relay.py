"""The relay inside Home Assistant: Home Assistant's MQTT, a real RabbitMQ, reauth, repairs."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from unittest.mock import MagicMock

from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message

from custom_components.inverter_hub.const import DOMAIN
from custom_components.inverter_hub.diagnostics import async_get_config_entry_diagnostics

from .conftest import PI30_SERIAL, Pi30Endpoint

RELAY = {
    "mqtt": True,
    "base_topic": "test_hub",
    "exchange": "inverter_hub",
    "commands": True,
    "allowed_keys": "battery_recharge_voltage",
}


@pytest.fixture(autouse=True)
def private_config_dir(hass: HomeAssistant, tmp_path: Any) -> None:
    """Keep each test's command record (ids already applied) to itself."""
    hass.config.config_dir = str(tmp_path)


def _published(mqtt_mock: MagicMock, topic: str) -> list[Any]:
    return [
        call.args[1] for call in mqtt_mock.async_publish.call_args_list if call.args[0] == topic
    ]


async def _eventually(check: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - the relay publishes from background tasks
            await asyncio.sleep(0.05)


async def test_mqtt_relay_publishes_and_takes_commands(
    hass: HomeAssistant, mqtt_mock: MagicMock, pi30_entry: MockConfigEntry, pi30_sim: Pi30Endpoint
) -> None:
    """State, availability and model go out; a command comes back through the write pipeline."""
    hass.config_entries.async_update_entry(pi30_entry, options={"relay": RELAY})
    assert await hass.config_entries.async_setup(pi30_entry.entry_id)
    await hass.async_block_till_done()
    base = f"test_hub/{PI30_SERIAL}"
    await _eventually(lambda: _published(mqtt_mock, f"{base}/state"))
    state = json.loads(_published(mqtt_mock, f"{base}/state")[-1])
    assert 40 < state["battery_voltage"] < 60
    assert _published(mqtt_mock, f"{base}/availability")[-1] == b"online"
    model = json.loads(_published(mqtt_mock, f"{base}/model")[-1])
    writable = {point["key"] for point in model["points"] if point["writable"]}
    assert writable == {"battery_recharge_voltage"}
    async_fire_mqtt_message(
        hass,
        f"{base}/set",
        json.dumps({"id": "c1", "key": "battery_recharge_voltage", "value": 47}),
    )
    await _eventually(lambda: _published(mqtt_mock, f"{base}/result"))
    result = json.loads(_published(mqtt_mock, f"{base}/result")[-1])
    assert (result["id"], result["ok"], result["new"]) == ("c1", True, 47.0)
    assert pi30_sim.device.settings.recharge_voltage == 47.0
    # A bad value: an error result, nothing sent.
    before = pi30_sim.simulator.stats.total
    async_fire_mqtt_message(
        hass, f"{base}/set", json.dumps({"id": "c2", "key": "battery_recharge_voltage", "value": 1})
    )
    await _eventually(lambda: len(_published(mqtt_mock, f"{base}/result")) == 2)
    refused = json.loads(_published(mqtt_mock, f"{base}/result")[-1])
    assert (refused["ok"], refused["error"]["code"]) == (False, "invalid_value")
    assert pi30_sim.simulator.stats.total == before
    diagnostics = await async_get_config_entry_diagnostics(hass, pi30_entry)
    assert diagnostics["relay"] == {"mqtt": True}
    assert await hass.config_entries.async_unload(pi30_entry.entry_id)
    assert _published(mqtt_mock, f"{base}/availability")[-1] == b"offline"


async def test_mqtt_relay_without_the_mqtt_integration_raises_an_issue(
    hass: HomeAssistant, pi30_entry: MockConfigEntry
) -> None:
    """The entry still loads and polls; a repair issue says what is missing."""
    hass.config_entries.async_update_entry(pi30_entry, options={"relay": RELAY})
    assert await hass.config_entries.async_setup(pi30_entry.entry_id)
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"relay_mqtt_{pi30_entry.entry_id}")
    assert issue is not None
    assert issue.translation_key == "relay_mqtt_missing"
    assert await hass.config_entries.async_unload(pi30_entry.entry_id)


async def test_refused_rabbitmq_credentials_start_reauth(
    hass: HomeAssistant, pi30_entry: MockConfigEntry
) -> None:
    """A broker that refuses the relay's login asks the user for new credentials."""
    relay = {"mqtt": False, "amqp_url": "amqp://guest:wrong-password@127.0.0.1:5672/"}
    hass.config_entries.async_update_entry(pi30_entry, options={"relay": relay})
    assert await hass.config_entries.async_setup(pi30_entry.entry_id)
    await hass.async_block_till_done()

    def reauth_flows() -> list[Any]:
        return [
            flow
            for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
            if flow["context"]["source"] == SOURCE_REAUTH
        ]

    await _eventually(reauth_flows)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"relay_amqp_{pi30_entry.entry_id}")
    assert issue is not None
    flow = reauth_flows()[0]
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"amqp_url": "http://nope"}
    )
    assert result["errors"] == {"base": "invalid_amqp_url"}
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"amqp_url": "amqp://guest:guest@127.0.0.1:5672/"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert pi30_entry.options["relay"]["amqp_url"] == "amqp://guest:guest@127.0.0.1:5672/"
    await _eventually(lambda: pi30_entry.runtime_data.relay.connected)
    await _eventually(
        lambda: (
            ir.async_get(hass).async_get_issue(DOMAIN, f"relay_amqp_{pi30_entry.entry_id}") is None
        )
    )
    diagnostics = await async_get_config_entry_diagnostics(hass, pi30_entry)
    assert diagnostics["entry"]["options"]["relay"]["amqp_url"] == "**REDACTED**"
    assert await hass.config_entries.async_unload(pi30_entry.entry_id)


@pytest.mark.parametrize(
    ("relay", "error"),
    [
        ({"amqp_url": "http://x"}, "invalid_amqp_url"),
        ({"mqtt": True}, "mqtt_not_configured"),
    ],
)
async def test_relay_options_are_checked(
    hass: HomeAssistant, relay: dict[str, Any], error: str
) -> None:
    """A wrong broker URL, or MQTT without the MQTT integration, is refused on the form."""
    entry = MockConfigEntry(domain=DOMAIN, version=2, data={"family": "pi30", "link": "x"})
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "scan_interval": 10,
            "slow_interval": 300,
            "probe_interval": 60,
            "expert": False,
            "relay": relay,
        },
    )
    assert result["errors"] == {"relay": error}
