"""Fixtures for the Home Assistant tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from unittest.mock import AsyncMock, MagicMock, PropertyMock, patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.inverter_hub.const import DOMAIN
from simulators.pi30 import Pi30Simulator
from simulators.pi30_device import Pi30Device

from .ha_compat import SharedSnapshotExtension, only_suggested_display_precision


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> Generator[SnapshotAssertion]:
    """Serialise states and registry entries as Home Assistant's own tests do, on any version."""
    with only_suggested_display_precision():
        yield snapshot.use_extension(SharedSnapshotExtension)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components."""


@pytest.fixture
def mock_setup_entry() -> Generator[AsyncMock]:
    """Keep a created entry from connecting (config flow tests only)."""
    with patch(
        "custom_components.inverter_hub.async_setup_entry", return_value=True
    ) as setup_entry:
        yield setup_entry


PI30_SERIAL = "92932105105335"


@dataclass
class Pi30Endpoint:
    """A simulated PI30 inverter on a local TCP port."""

    simulator: Pi30Simulator
    host: str
    port: int

    @property
    def device(self) -> Pi30Device:
        """Return the simulated unit."""
        return self.simulator.device

    @property
    def link(self) -> str:
        """Return the link text of the endpoint."""
        return f"tcp://{self.host}:{self.port}"


@pytest.fixture
async def pi30_sim(socket_enabled: None) -> AsyncIterator[Pi30Endpoint]:
    """Serve a simulated Axpert 5 kVA 48 V on 127.0.0.1 with a fixed clock."""
    device = Pi30Device(serial=PI30_SERIAL, clock=lambda: datetime(2026, 6, 21, 12, 0, 0))
    simulator = Pi30Simulator(device)
    host, port = await simulator.start_tcp()
    # Faults that make the device silent should not make every test wait two seconds.
    with patch("custom_components.inverter_hub.inverterlib.pi30.client.TIMEOUT", 0.3):
        yield Pi30Endpoint(simulator=simulator, host=host, port=port)
    await simulator.stop()


@pytest.fixture
def pi30_entry(hass: HomeAssistant, pi30_sim: Pi30Endpoint) -> MockConfigEntry:
    """Return an entry for the simulated inverter, added to Home Assistant."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id="01JBT5PI30SIMULATOR0000000",
        title="VMIII-5000 " + PI30_SERIAL,
        unique_id=PI30_SERIAL,
        data={"family": "pi30", "link": pi30_sim.link},
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def pi30_loaded(
    hass: HomeAssistant, pi30_entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    """Set up the simulated inverter; unload it afterwards."""
    assert await hass.config_entries.async_setup(pi30_entry.entry_id)
    await hass.async_block_till_done()
    yield pi30_entry
    if pi30_entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(pi30_entry.entry_id)
        await hass.async_block_till_done()


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create every entity enabled, including those disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def frozen_session_clock() -> Generator[None]:
    """Stop the sessions' clocks, so integrated totals and link health read the same each run.

    Only the session's own clock: the links keep real time for their timeouts.
    """
    clock = MagicMock()
    clock.monotonic.return_value = 1000.0
    moment = MagicMock()
    moment.now.return_value = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)
    with (
        patch("custom_components.inverter_hub.inverterlib.session.time", clock),
        patch("custom_components.inverter_hub.inverterlib.session.datetime", moment),
    ):
        yield
