"""Every shipped Modbus profile as the user sees it: one snapshot of all entities per profile."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from unittest.mock import patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.inverter_hub.const import DOMAIN
from custom_components.inverter_hub.entity import platform_of
from custom_components.inverter_hub.inverterlib.modbus.registry import ProfileRegistry
from simulators.modbus import ModbusSimulator

PROFILES = ["sdm120", "sdm230", "sdm630", "growatt_min", "growatt_tlx_legacy", "growatt_tlxh"]
_SHIPPED = ProfileRegistry.load()
# One case per platform a profile has entities on (snapshot_platform wants exactly one).
CASES = sorted(
    {
        (profile, platform_of(point))
        for profile in PROFILES
        for point in _SHIPPED.get(profile).catalogue()
        if not point.expert
    }
)
_link_rules = ProfileRegistry.link_rules


@pytest.fixture(autouse=True)
def no_vendor_gap() -> Iterator[None]:
    """Skip the Growatt's 0.85 s inter-frame pause on the simulated bus."""
    with patch.object(
        ProfileRegistry,
        "link_rules",
        staticmethod(lambda profiles: replace(_link_rules(profiles), gap=0.0)),
    ):
        yield


@pytest.mark.parametrize(("profile", "platform"), CASES)
@pytest.mark.usefixtures(
    "entity_registry_enabled_by_default", "socket_enabled", "frozen_session_clock"
)
async def test_profile_snapshot(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    profile: str,
    platform: Platform,
) -> None:
    """A unit of this profile on a simulated bus: every entity, its registry entry and state."""
    simulator = ModbusSimulator({1: profile}, moving=False)
    port = await simulator.serve_tcp()
    try:
        entry = MockConfigEntry(
            domain=DOMAIN,
            entry_id=f"01JBT5MODBUS{profile.upper():0<14}"[:26],
            title=profile,
            data={
                "family": "modbus",
                "link": f"tcp://127.0.0.1:{port}",
                "units": [{"unit": 1, "profile": profile}],
            },
        )
        entry.add_to_hass(hass)
        with patch("custom_components.inverter_hub.PLATFORMS", [platform]):
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
        await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await simulator.stop()
