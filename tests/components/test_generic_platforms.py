"""Platforms are built from points alone: a device with time, text and enum points."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import time
from unittest.mock import patch

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.inverter_hub.const import DOMAIN
from custom_components.inverter_hub.inverterlib.client import InverterClient
from custom_components.inverter_hub.inverterlib.model import (
    DeviceIdentity,
    Point,
    PointKind,
    Value,
    ValueType,
)
from custom_components.inverter_hub.inverterlib.transport.tcp import TcpLink

DEVICE = DeviceIdentity(serial_number="SLOT-1", family="test", model="Slotter", manufacturer="X")
POINTS = (
    Point(key="charge_slot_start", name="Charge slot start", kind=PointKind.SETTING,
          value_type=ValueType.TIME),
    Point(key="last_charge_start", name="Last charge start", value_type=ValueType.TIME),
    Point(key="firmware_text", name="Firmware text", value_type=ValueType.TEXT),
    Point(key="charge_window", name="Charge window", kind=PointKind.SETTING,
          value_type=ValueType.TEXT),
    Point(key="charge_state", name="Charge state", value_type=ValueType.ENUM,
          options=("idle", "charging")),
    Point(key="custom_power", name="Custom power", unit="W", device_class="not_a_class",
          icon="mdi:flash"),
)  # fmt: skip


class SlotClient(InverterClient):
    """A device with a charge slot, kept in memory."""

    family = "test"

    def __init__(self) -> None:
        super().__init__(TcpLink("127.0.0.1", 9))
        self.values: dict[str, Value] = {
            "charge_slot_start": time(2, 30),
            "last_charge_start": time(2, 30),
            "firmware_text": "D0.449-A0.449",
            "charge_window": "00:30-04:30",
            "charge_state": "charging",
            "custom_power": 120.0,
        }

    async def connect(self) -> None:
        """Connect to nothing."""

    async def close(self) -> None:
        """Close nothing."""

    async def identify(self) -> list[DeviceIdentity]:
        return [DEVICE]

    def catalogue(self, device: DeviceIdentity) -> Sequence[Point]:
        return POINTS

    async def read(self, device: DeviceIdentity, keys: Collection[str]) -> dict[str, Value]:
        return {key: self.values[key] for key in keys}

    async def write(self, device: DeviceIdentity, point: Point, value: Value) -> None:
        self.values[point.key] = value


@pytest.fixture
async def slot_entry(hass: HomeAssistant) -> MockConfigEntry:
    """Set up an entry whose client is the in-memory slot device."""
    entry = MockConfigEntry(domain=DOMAIN, data={"family": "pi30", "link": "tcp://127.0.0.1:9"})
    entry.add_to_hass(hass)
    with patch("custom_components.inverter_hub.link.create_client", return_value=SlotClient()):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    return entry


async def test_time_text_enum_and_untranslated_points(
    hass: HomeAssistant, slot_entry: MockConfigEntry
) -> None:
    """Times are time entities, texts and enums sensors; unknown keys get the point's name."""
    assert hass.states.get("time.slotter_slot_1_charge_slot_start").state == "02:30:00"
    assert hass.states.get("sensor.slotter_slot_1_last_charge_start").state == "02:30"
    assert hass.states.get("sensor.slotter_slot_1_firmware_text").state == "D0.449-A0.449"
    state = hass.states.get("sensor.slotter_slot_1_charge_state")
    assert state.state == "charging"
    assert state.attributes["options"] == ["idle", "charging"]
    power = hass.states.get("sensor.slotter_slot_1_custom_power")
    assert power.attributes["friendly_name"] == "Slotter SLOT-1 Custom power"
    assert power.attributes["icon"] == "mdi:flash"
    assert "device_class" not in power.attributes
    await hass.services.async_call(
        "time",
        "set_value",
        {ATTR_ENTITY_ID: "time.slotter_slot_1_charge_slot_start", "time": "05:45:00"},
        blocking=True,
    )
    assert slot_entry.runtime_data.session.client.values["charge_slot_start"] == time(5, 45)
    assert hass.states.get("time.slotter_slot_1_charge_slot_start").state == "05:45:00"


async def test_a_text_setting_is_a_text_entity(
    hass: HomeAssistant, slot_entry: MockConfigEntry
) -> None:
    """A setting written as one piece of text (a slot) is a text entity, not a sensor."""
    entity_id = "text.slotter_slot_1_charge_window"
    assert hass.states.get(entity_id).state == "00:30-04:30"
    assert hass.states.get("sensor.slotter_slot_1_charge_window") is None
    await hass.services.async_call(
        "text", "set_value", {ATTR_ENTITY_ID: entity_id, "value": "01:00-05:00"}, blocking=True
    )
    assert slot_entry.runtime_data.session.client.values["charge_window"] == "01:00-05:00"
    assert hass.states.get(entity_id).state == "01:00-05:00"
