"""The inverter_hub integration: home solar and battery inverters in Home Assistant."""

from __future__ import annotations

from typing import Any

from homeassistant import config_entries
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.device_registry import DeviceEntry
from homeassistant.helpers.typing import ConfigType

from .bridge import async_start_relay
from .const import CONF_DEVICES, DOMAIN, LOGGER
from .coordinator import InverterConfigEntry, InverterCoordinator
from .inverterlib.errors import InverterError
from .link import async_create_session
from .services import async_setup_services
from .translations_index import async_translated_keys

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TEXT,
    Platform.TIME,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

# Newer Home Assistant reloads the entry itself after the options flow.
OPTIONS_FLOW_RELOADS = hasattr(config_entries, "OptionsFlowWithReload")


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's service actions."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: InverterConfigEntry) -> bool:
    """Connect to the link, learn its devices and add their entities."""
    try:
        session = await async_create_session(hass, entry)
    except (ValueError, InverterError) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_link",
            translation_placeholders={"detail": str(err)},
        ) from err
    coordinator = InverterCoordinator(hass, entry, session, await async_translated_keys(hass))
    try:
        await coordinator.async_config_entry_first_refresh()
    except BaseException:
        # A retried setup opens the port again; this attempt must not keep it locked.
        await session.close()
        raise
    entry.runtime_data = coordinator
    _adopt_identity(hass, entry, coordinator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    coordinator.relay = await async_start_relay(hass, entry)
    await coordinator.overrides.async_load()
    if not OPTIONS_FLOW_RELOADS:
        entry.async_on_unload(entry.add_update_listener(_async_reload_entry))
    return True


def _adopt_identity(
    hass: HomeAssistant, entry: InverterConfigEntry, coordinator: InverterCoordinator
) -> None:
    """Give an entry made without the flow (YAML seeding, old versions) the device's identity."""
    if entry.unique_id is not None or not coordinator.devices:
        return
    serial = next(iter(coordinator.devices))
    if hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, serial) is None:
        hass.config_entries.async_update_entry(entry, unique_id=serial)


async def _async_reload_entry(hass: HomeAssistant, entry: InverterConfigEntry) -> None:
    """Reload after the options changed."""
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: InverterConfigEntry) -> bool:
    """Remove the entities and close the link."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_shutdown()
    return bool(unloaded)


async def async_migrate_entry(hass: HomeAssistant, entry: InverterConfigEntry) -> bool:
    """Move entries of version 1 (units and serials as two lists) to one list of devices."""
    if entry.version > 2:
        return False
    if entry.version == 1:
        data: dict[str, Any] = {
            key: value for key, value in entry.data.items() if key not in ("units", "serials")
        }
        serials = entry.data.get("serials", ())
        if "units" in entry.data:
            data[CONF_DEVICES] = [
                {
                    "address": unit["unit"],
                    "profile": unit.get("profile"),
                    "serial": serials[index] if index < len(serials) else None,
                }
                for index, unit in enumerate(entry.data["units"])
            ]
        hass.config_entries.async_update_entry(entry, data=data, version=2)
        LOGGER.debug("Migrated %s to version 2", entry.title)
    return True


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: InverterConfigEntry, device: DeviceEntry
) -> bool:
    """Allow removing a device that is no longer on the link."""
    serials = {identifier for domain, identifier in device.identifiers if domain == DOMAIN}
    return not serials & set(entry.runtime_data.devices)
