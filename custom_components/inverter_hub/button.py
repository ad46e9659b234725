"""Buttons: one-shot actions such as syncing the clock, and a search for new devices."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import InverterConfigEntry, InverterCoordinator, translate_error
from .entity import InverterEntity, add_entities_for, primary_serial
from .inverterlib.capabilities import Scanning
from .inverterlib.errors import InverterError

PARALLEL_UPDATES = 1


class InverterButton(InverterEntity, ButtonEntity):
    """An action of a device."""

    async def async_press(self) -> None:
        """Run the action."""
        await self.write(True)


class ScanButton(CoordinatorEntity[InverterCoordinator], ButtonEntity):
    """Look for devices that joined the link since it was set up."""

    _attr_has_entity_name = True
    _attr_translation_key = "scan_for_devices"
    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, coordinator: InverterCoordinator, serial_number: str) -> None:
        """Put the button on the entry's first device."""
        super().__init__(coordinator)
        self._attr_unique_id = f"{serial_number}_scan_for_devices"
        self._attr_device_info = coordinator.device_info(
            coordinator.devices[serial_number].identity
        )

    @property
    def available(self) -> bool:
        """Return True: a scan is what finds devices while the known ones are silent."""
        return True

    async def async_press(self) -> None:
        """Scan the entry's addresses and add what answers."""
        try:
            await self.coordinator.session.rescan()
        except InverterError as err:
            raise translate_error(err) from err


async def async_setup_entry(
    hass: HomeAssistant,
    entry: InverterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a button for every action, and a scan button where the link can be scanned."""
    add_entities_for(entry, async_add_entities, Platform.BUTTON, InverterButton)
    coordinator = entry.runtime_data
    serial = primary_serial(entry)
    if isinstance(coordinator.session.client, Scanning) and serial is not None:
        async_add_entities([ScanButton(coordinator, serial)])
