"""Config flow: family -> link -> probe (or scan a bus) -> entry; USB discovery; options."""

from __future__ import annotations

from collections.abc import Mapping
import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homeassistant import config_entries
from homeassistant.components import network
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import selector
from homeassistant.helpers.service_info.usb import UsbServiceInfo
import voluptuous as vol

from .bridge import (
    CONF_RELAY,
    CONF_RELAY_AMQP,
    CONF_RELAY_BASE_TOPIC,
    CONF_RELAY_COMMANDS,
    CONF_RELAY_EXCHANGE,
    CONF_RELAY_KEYS,
    CONF_RELAY_MQTT,
    relay_enabled,
)
from .const import (
    CONF_BAUDRATE,
    CONF_DEVICES,
    CONF_EXPERT,
    CONF_FAMILY,
    CONF_LINK,
    CONF_PROBE_INTERVAL,
    CONF_RESCAN,
    CONF_RESCAN_INTERVAL,
    CONF_SCAN_INTERVAL,
    CONF_SCAN_RANGE,
    CONF_SLOW_INTERVAL,
    DEFAULT_PROBE_INTERVAL,
    DEFAULT_RESCAN_INTERVAL_S,
    DEFAULT_SCAN_INTERVAL_S,
    DEFAULT_SLOW_INTERVAL_S,
    DOMAIN,
    LOGGER,
)
from .inverterlib.discovery import hosts_of, search
from .inverterlib.errors import InverterError, LinkTimeoutError, UnsupportedError
from .inverterlib.families import FAMILIES, family
from .inverterlib.family import FamilySpec, KnownDevice
from .inverterlib.model import DeviceIdentity
from .inverterlib.relay.amqp import DEFAULT_EXCHANGE
from .inverterlib.relay.bus import DEFAULT_BASE_TOPIC
from .inverterlib.transport.hid import async_list_hid_devices
from .inverterlib.transport.serial import list_serial_ports
from .inverterlib.transport.tcp import host_port
from .inverterlib.transport.url import parse_link
from .link import device_data
from .scan import async_probe, async_scan

if TYPE_CHECKING:
    _OptionsFlowBase = OptionsFlow
else:
    # Home Assistant 2025.8+ reloads the entry itself after an options flow of this kind.
    _OptionsFlowBase = getattr(config_entries, "OptionsFlowWithReload", OptionsFlow)

CONF_PROTOCOL = "protocol"
CONF_FIRST_UNIT = "first_unit"
CONF_LAST_UNIT = "last_unit"
CONF_SELECTED = "units"


def port_exists(path: str) -> bool:
    """Return whether a serial or hidraw node exists (a blocking call)."""
    return Path(path).exists()


def _link_menu(spec: FamilySpec) -> list[str]:
    """Return the link steps a family offers, in menu order."""
    menu: list[str] = [kind for kind in ("serial", "hid") if kind in spec.link_kinds]
    if spec.network_kinds:
        menu.append("network")
    if spec.searchable:
        menu.append("search")
    return menu


async def local_hosts(hass: HomeAssistant) -> list[str]:
    """Return every other host of the /24 networks this computer's enabled adapters are on."""
    hosts: list[str] = []
    for adapter in await network.async_get_adapters(hass):
        if not adapter["enabled"]:
            continue
        for address in adapter["ipv4"]:
            own = ipaddress.IPv4Address(address["address"])
            if own.is_loopback or own.is_link_local:
                continue
            hosts.extend(hosts_of(ipaddress.IPv4Network(f"{own}/24", strict=False), own=str(own)))
    return list(dict.fromkeys(hosts))


def _port_selector(ports: list[selector.SelectOptionDict]) -> selector.Selector[Any]:
    """Return the newest serial-port picker this Home Assistant has."""
    serial_port_selector = getattr(selector, "SerialPortSelector", None)
    if serial_port_selector is not None:
        picker: selector.Selector[Any] = serial_port_selector()
        return picker
    return selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=ports, custom_value=True, mode=selector.SelectSelectorMode.DROPDOWN
        )
    )


class InverterHubConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add an inverter, a meter or a Modbus bus."""

    VERSION = 2

    def __init__(self) -> None:
        """Start with nothing chosen."""
        self._family = next(iter(FAMILIES.values()))
        self._data: dict[str, Any] = {}
        self._identities: list[DeviceIdentity] = []
        self._found: list[DeviceIdentity] = []
        self._placeholders: dict[str, str] = {}
        self._searched: dict[str, DeviceIdentity] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> InverterHubOptionsFlow:
        """Return the options flow."""
        return InverterHubOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask which family of device to add."""
        if user_input is not None:
            self._family = family(user_input[CONF_FAMILY])
            return await self.async_step_link()
        families = [
            selector.SelectOptionDict(value=spec.id, label=spec.title) for spec in FAMILIES.values()
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_FAMILY, default=families[0]["value"]): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=families)
                )
            }
        )
        return self.async_show_form(step_id="user", data_schema=schema)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move an existing entry to a new link; the device must stay the same."""
        self._family = family(self._get_reconfigure_entry().data[CONF_FAMILY])
        return await self.async_step_link()

    async def async_step_link(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask how the device is connected."""
        return self.async_show_menu(step_id="link", menu_options=_link_menu(self._family))

    async def async_step_serial(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the serial port and its speed."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._data = {
                CONF_LINK: user_input[CONF_PORT],
                CONF_BAUDRATE: int(user_input[CONF_BAUDRATE]),
            }
            result = await self._async_link_chosen(errors)
            if result is not None:
                return result
        ports = [
            selector.SelectOptionDict(
                value=port.device,
                label=" - ".join(filter(None, (port.device, port.description, port.manufacturer))),
            )
            for port in await list_serial_ports()
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_PORT): _port_selector(ports),
                vol.Required(
                    CONF_BAUDRATE, default=str(self._family.defaults("serial").baudrate or 9600)
                ): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=[str(rate) for rate in self._family.baudrates],
                        mode=selector.SelectSelectorMode.DROPDOWN,
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="serial",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    async def async_step_hid(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the USB-HID node of the inverter."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._data = {CONF_LINK: f"hid:{user_input[CONF_PORT]}"}
            result = await self._async_link_chosen(errors)
            if result is not None:
                return result
        devices = [
            selector.SelectOptionDict(
                value=device.path,
                label=" - ".join(filter(None, (device.path, device.product, device.serial_number))),
            )
            for device in await async_list_hid_devices()
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_PORT): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=devices, custom_value=True)
                )
            }
        )
        return self.async_show_form(
            step_id="hid",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    async def async_step_network(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for host and port of a network gateway."""
        errors: dict[str, str] = {}
        protocols: list[str] = list(self._family.network_kinds)
        if user_input is not None:
            protocol = user_input.get(CONF_PROTOCOL, protocols[0])
            host = user_input[CONF_HOST].strip().strip("[]")
            self._data = {CONF_LINK: f"{protocol}://{host_port(host, int(user_input[CONF_PORT]))}"}
            result = await self._async_link_chosen(errors)
            if result is not None:
                return result
        fields: dict[Any, Any] = {
            vol.Required(CONF_HOST): selector.TextSelector(),
            vol.Required(
                CONF_PORT, default=self._family.defaults(self._family.network_kinds[0]).port or 502
            ): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=1, max=65535, mode=selector.NumberSelectorMode.BOX
                )
            ),
        }
        if len(protocols) > 1:
            fields[vol.Required(CONF_PROTOCOL, default=protocols[0])] = selector.SelectSelector(
                selector.SelectSelectorConfig(options=protocols, translation_key=CONF_PROTOCOL)
            )
        return self.async_show_form(
            step_id="network",
            data_schema=self.add_suggested_values_to_schema(vol.Schema(fields), user_input),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    async def async_step_search(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask every host of the local networks on the family's port who it is."""
        errors: dict[str, str] = {}
        port = self._family.defaults("tcp").port or 502
        if user_input is not None:
            port = int(user_input[CONF_PORT])
            hosts = await local_hosts(self.hass)
            self._searched = dict(await search(self._family.id, hosts, port))
            if self._searched:
                return await self.async_step_found()
            errors["base"] = "nothing_found"
        schema = vol.Schema(
            {
                vol.Required(CONF_PORT, default=port): selector.NumberSelector(
                    selector.NumberSelectorConfig(
                        min=1, max=65535, mode=selector.NumberSelectorMode.BOX
                    )
                )
            }
        )
        return self.async_show_form(step_id="search", data_schema=schema, errors=errors)

    async def async_step_found(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Let the user pick one of the devices the search found."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._data = {CONF_LINK: user_input[CONF_LINK]}
            result = await self._async_link_chosen(errors)
            if result is not None:
                return result
        options = [
            selector.SelectOptionDict(value=link, label=f"{identity.title} ({link})")
            for link, identity in self._searched.items()
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_LINK): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options)
                )
            }
        )
        return self.async_show_form(
            step_id="found",
            data_schema=schema,
            errors=errors,
            description_placeholders=self._placeholders,
        )

    async def _async_link_chosen(self, errors: dict[str, str]) -> ConfigFlowResult | None:
        """Probe the chosen link; return the next step, or None with `errors` filled."""
        self._data[CONF_FAMILY] = self._family.id
        if (error := self._link_taken()) is not None:
            errors["base"] = error
            return None
        if self._family.scan_range is not None and self.source != SOURCE_RECONFIGURE:
            return await self.async_step_scan()
        if self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            self._data[CONF_DEVICES] = entry.data.get(CONF_DEVICES, [])
        if error := await self._async_probe():
            errors["base"] = error
            return None
        if self.source == SOURCE_RECONFIGURE:
            return await self._async_finish_reconfigure()
        identity = self._identities[0]
        await self.async_set_unique_id(identity.serial_number)
        if (existing := self._async_entry_of_unique_id()) is not None:
            # Moving an entry silently to another port hides a mistake; reconfigure moves it.
            return self.async_abort(
                reason="already_configured_at",
                description_placeholders={"link": existing.data[CONF_LINK]},
            )
        return self.async_create_entry(title=identity.title, data=self._data)

    def _async_entry_of_unique_id(self) -> ConfigEntry | None:
        return self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, self.unique_id or ""
        )

    def _link_taken(self) -> str | None:
        """Return an error key when another entry already holds the chosen link."""
        link = self._data[CONF_LINK]
        for entry in self._async_current_entries(include_ignore=False):
            if entry.data.get(CONF_LINK) == link and (
                self.source != SOURCE_RECONFIGURE or entry.entry_id != self._reconfigure_entry_id
            ):
                self._placeholders["entry"] = entry.title
                return "link_in_use"
        return None

    async def _async_probe(self) -> str | None:
        """Identify the devices on the link; return an error key on failure."""
        link = self._data.get(CONF_LINK, "")
        try:
            spec = parse_link(link)
            if spec.kind in ("serial", "hid") and not await self.hass.async_add_executor_job(
                port_exists, spec.target
            ):
                LOGGER.debug("%s does not exist", spec.target)
                return "port_not_found"
            self._identities = await async_probe(self.hass, self._data)
        except ValueError as err:
            LOGGER.debug("Invalid link %s: %s", link, err)
            return "invalid_link"
        except UnsupportedError as err:
            LOGGER.debug("%s answers but not as %s: %s", link, self._family.title, err)
            return "unsupported"
        except LinkTimeoutError as err:
            LOGGER.debug("No answer on %s: %s", link, err)
            return "cannot_connect"
        except InverterError as err:
            LOGGER.debug("Cannot use %s: %s", link, err)
            self._placeholders["detail"] = str(err)
            return "link_failed"
        except Exception:
            LOGGER.exception("Unexpected error while probing %s", link)
            return "unknown"
        if not self._identities:
            return "no_devices"
        return None

    async def _async_finish_reconfigure(self) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        serials = {identity.serial_number for identity in self._identities}
        if entry.unique_id not in serials:
            return self.async_abort(reason="wrong_device")
        return self.async_update_reload_and_abort(
            entry,
            data_updates={key: value for key, value in self._data.items() if key != CONF_DEVICES},
        )

    async def async_step_scan(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask which unit addresses of the bus to scan, and scan them."""
        errors: dict[str, str] = {}
        if user_input is not None:
            first = int(user_input[CONF_FIRST_UNIT])
            last = int(user_input.get(CONF_LAST_UNIT, first))
            if last < first:
                errors[CONF_LAST_UNIT] = "range"
            else:
                self._data[CONF_SCAN_RANGE] = [first, last]
                try:
                    self._found = await async_scan(self.hass, self._data, range(first, last + 1))
                except ValueError:
                    errors["base"] = "invalid_link"
                except InverterError as err:
                    LOGGER.debug("Scan of %s failed: %s", self._data[CONF_LINK], err)
                    errors["base"] = "cannot_connect"
                else:
                    if not self._found:
                        errors["base"] = "no_devices"
                    else:
                        return await self.async_step_units()
        unit = selector.NumberSelector(
            selector.NumberSelectorConfig(min=0, max=255, mode=selector.NumberSelectorMode.BOX)
        )
        first_default, last_default = self._family.scan_range or (1, 1)
        schema = vol.Schema(
            {
                vol.Required(CONF_FIRST_UNIT, default=first_default): unit,
                vol.Required(CONF_LAST_UNIT, default=last_default): unit,
            }
        )
        return self.async_show_form(
            step_id="scan",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    def _known_serials(self) -> set[str]:
        """Return every serial number some entry of this integration already has."""
        known: set[str] = set()
        for entry in self._async_current_entries(include_ignore=False):
            known.update(device["serial"] for device in entry.data.get(CONF_DEVICES, ()))
            if entry.unique_id:
                known.add(entry.unique_id)
        return known

    async def async_step_units(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Let the user pick which of the units found to add."""
        known = self._known_serials()
        new = {found.address: found for found in self._found if found.serial_number not in known}
        if not new:
            return self.async_abort(reason="already_configured")
        if user_input is not None:
            chosen = [new[unit] for unit in user_input[CONF_SELECTED]]
            if not chosen:
                return self.async_show_form(
                    step_id="units",
                    data_schema=self._units_schema(new),
                    errors={"base": "no_selection"},
                )
            chosen.sort(key=lambda found: int(found.address))
            await self.async_set_unique_id(chosen[0].serial_number)
            self._abort_if_unique_id_configured()
            self._data[CONF_DEVICES] = [
                device_data(
                    KnownDevice(
                        address=int(found.address),
                        profile=found.profile,
                        serial=found.serial_number,
                    )
                )
                for found in chosen
            ]
            title = ", ".join(found.model for found in chosen)
            return self.async_create_entry(title=title, data=self._data)
        return self.async_show_form(step_id="units", data_schema=self._units_schema(new))

    @staticmethod
    def _units_schema(new: Mapping[str, DeviceIdentity]) -> vol.Schema:
        options = [
            selector.SelectOptionDict(
                value=unit, label=f"{unit}: {found.manufacturer} {found.title}"
            )
            for unit, found in new.items()
        ]
        return vol.Schema(
            {
                vol.Required(CONF_SELECTED, default=list(new)): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options, multiple=True)
                )
            }
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Ask for new broker credentials after the relay's broker refused them."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Take the broker URL with its new user and password."""
        entry = self._get_reauth_entry()
        relay = dict(entry.options.get(CONF_RELAY, {}))
        errors: dict[str, str] = {}
        if user_input is not None:
            relay[CONF_RELAY_AMQP] = user_input[CONF_RELAY_AMQP]
            errors = _relay_errors(self.hass, relay)
            if not errors:
                return self.async_update_reload_and_abort(
                    entry, options={**entry.options, CONF_RELAY: relay}
                )
        schema = vol.Schema(
            {
                vol.Required(CONF_RELAY_AMQP): selector.TextSelector(
                    selector.TextSelectorConfig(type=selector.TextSelectorType.URL)
                )
            }
        )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=schema,
            errors={"base": errors[CONF_RELAY]} if errors else {},
            description_placeholders={"title": entry.title},
        )

    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """Handle a plugged-in inverter whose USB id a family lists."""
        vendor, product = int(discovery_info.vid, 16), int(discovery_info.pid, 16)
        spec = next((spec for spec in FAMILIES.values() if (vendor, product) in spec.usb_ids), None)
        if spec is None:
            return self.async_abort(reason="not_supported")
        link = await _usb_link(discovery_info)
        self._family = spec
        self._data = {CONF_FAMILY: spec.id, CONF_LINK: link}
        if await self._async_probe():
            return self.async_abort(reason="cannot_connect")
        identity = self._identities[0]
        await self.async_set_unique_id(identity.serial_number)
        self._abort_if_unique_id_configured(updates={CONF_LINK: link})
        self.context["title_placeholders"] = {"name": identity.title}
        return await self.async_step_usb_confirm()

    async def async_step_usb_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask before adding a discovered inverter."""
        identity = self._identities[0]
        if user_input is not None:
            return self.async_create_entry(title=identity.title, data=self._data)
        self._set_confirm_only()
        return self.async_show_form(
            step_id="usb_confirm",
            description_placeholders={
                "model": identity.model,
                "serial_number": identity.serial_number,
                "link": self._data[CONF_LINK],
            },
        )


async def _usb_link(discovery_info: UsbServiceInfo) -> str:
    """Return the link of a discovered USB device: its hidraw node if it has one."""
    vendor, product = int(discovery_info.vid, 16), int(discovery_info.pid, 16)
    for device in await async_list_hid_devices(vendor_id=vendor, product_id=product):
        if not discovery_info.serial_number or device.serial_number in (
            None,
            "",
            discovery_info.serial_number,
        ):
            return f"hid:{device.path}"
    return discovery_info.device


def _relay_section(defaults: Mapping[str, Any]) -> section:
    """Return the relay's part of the options form."""
    text = selector.TextSelector()
    return section(
        vol.Schema(
            {
                vol.Required(CONF_RELAY_MQTT, default=False): selector.BooleanSelector(),
                vol.Optional(CONF_RELAY_AMQP): selector.TextSelector(
                    selector.TextSelectorConfig(type=selector.TextSelectorType.URL)
                ),
                vol.Required(CONF_RELAY_BASE_TOPIC, default=DEFAULT_BASE_TOPIC): text,
                vol.Required(CONF_RELAY_EXCHANGE, default=DEFAULT_EXCHANGE): text,
                vol.Required(CONF_RELAY_COMMANDS, default=False): selector.BooleanSelector(),
                vol.Optional(CONF_RELAY_KEYS): text,
            }
        ),
        {"collapsed": not relay_enabled({CONF_RELAY: defaults})},
    )


def _relay_errors(hass: HomeAssistant, relay: Mapping[str, Any]) -> dict[str, str]:
    """Return what is wrong with the relay's options, by field."""
    url = relay.get(CONF_RELAY_AMQP)
    if url and not str(url).startswith(("amqp://", "amqps://")):
        return {CONF_RELAY: "invalid_amqp_url"}
    if relay.get(CONF_RELAY_MQTT) and not hass.config_entries.async_entries("mqtt"):
        return {CONF_RELAY: "mqtt_not_configured"}
    return {}


class InverterHubOptionsFlow(_OptionsFlowBase):
    """Change polling intervals, rescans, expert mode and the relay."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            relay = dict(user_input.pop(CONF_RELAY, {}))
            options: dict[str, Any] = {
                key: value if isinstance(value, bool) else int(value)
                for key, value in user_input.items()
            }
            if options[CONF_SLOW_INTERVAL] < options[CONF_SCAN_INTERVAL]:
                errors[CONF_SLOW_INTERVAL] = "slow_below_live"
            errors.update(_relay_errors(self.hass, relay))
            if not errors:
                return self.async_create_entry(data={**options, CONF_RELAY: relay})
        seconds = selector.NumberSelectorConfig(
            min=5, max=86400, unit_of_measurement="s", mode=selector.NumberSelectorMode.BOX
        )
        fields: dict[Any, Any] = {
            vol.Required(
                CONF_SCAN_INTERVAL, default=DEFAULT_SCAN_INTERVAL_S
            ): selector.NumberSelector(seconds),
            vol.Required(
                CONF_SLOW_INTERVAL, default=DEFAULT_SLOW_INTERVAL_S
            ): selector.NumberSelector(seconds),
            vol.Required(
                CONF_PROBE_INTERVAL, default=DEFAULT_PROBE_INTERVAL
            ): selector.NumberSelector(seconds),
        }
        spec = family(self.config_entry.data[CONF_FAMILY])
        if spec.rescans:
            fields[vol.Required(CONF_RESCAN, default=False)] = selector.BooleanSelector()
            fields[vol.Required(CONF_RESCAN_INTERVAL, default=DEFAULT_RESCAN_INTERVAL_S)] = (
                selector.NumberSelector(seconds)
            )
        fields[vol.Required(CONF_EXPERT, default=False)] = selector.BooleanSelector()
        expert = self.config_entry.options.get(CONF_EXPERT, False)
        for option in spec.options:
            if expert or not option.expert:
                fields[vol.Required(option.key, default=option.default)] = (
                    selector.BooleanSelector()
                )
        fields[vol.Optional(CONF_RELAY, default={})] = _relay_section(
            self.config_entry.options.get(CONF_RELAY, {})
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(fields), user_input or self.config_entry.options
            ),
            errors=errors,
        )
