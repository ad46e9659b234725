"""The config flow: family, link, probe or scan, USB discovery, reconfigure and options."""

from __future__ import annotations

from collections.abc import Generator
import json
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_USB, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import selector
from homeassistant.helpers.service_info.usb import UsbServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.inverter_hub import config_flow
from custom_components.inverter_hub.config_flow import port_exists
from custom_components.inverter_hub.const import DOMAIN
from custom_components.inverter_hub.inverterlib.errors import (
    InverterError,
    LinkError,
    LinkTimeoutError,
    UnsupportedError,
)
from custom_components.inverter_hub.inverterlib.model import DeviceIdentity
from custom_components.inverter_hub.inverterlib.transport.hid import HidDeviceInfo
from custom_components.inverter_hub.inverterlib.transport.serial import SerialPortInfo

pytestmark = pytest.mark.usefixtures("mock_setup_entry", "port_present")


@pytest.fixture
def port_present() -> Generator[None]:
    """Let every serial or hidraw path a test names exist."""
    with patch.object(config_flow, "port_exists", return_value=True):
        yield


AXPERT = DeviceIdentity(
    serial_number="92931701100510",
    family="pi30",
    model="Axpert VM III 5K",
    manufacturer="Voltronic",
    firmware="00052.30",
)
SDM630 = DeviceIdentity(
    serial_number="SDM-1",
    family="modbus",
    model="SDM630",
    manufacturer="Eastron",
    address="1",
    profile="sdm630",
)
GROWATT = DeviceIdentity(
    serial_number="GW-2",
    family="modbus",
    model="MIN 3600TL-X",
    manufacturer="Growatt",
    address="2",
    profile="growatt_min",
)
FOUND = [SDM630, GROWATT]


@pytest.fixture
def probe() -> Generator[AsyncMock]:
    """Answer every probe with one Axpert."""
    with patch.object(config_flow, "async_probe", return_value=[AXPERT]) as mock:
        yield mock


@pytest.fixture
def scan() -> Generator[AsyncMock]:
    """Answer every scan with an SDM630 on unit 1 and a Growatt on unit 2."""
    with patch.object(config_flow, "async_scan", return_value=FOUND) as mock:
        yield mock


@pytest.fixture
def ports() -> Generator[None]:
    """List one serial port and one HID node."""
    serial = [
        SerialPortInfo(
            device="/dev/ttyUSB0",
            description="FT232R",
            vid=0x0403,
            pid=0x6001,
            serial_number="A1",
            manufacturer="FTDI",
        )
    ]
    hid = [
        HidDeviceInfo(
            path="/dev/hidraw0",
            vendor_id=0x0665,
            product_id=0x5161,
            serial_number=None,
            product="USB to Serial",
        )
    ]
    with (
        patch.object(config_flow, "list_serial_ports", return_value=serial),
        patch.object(config_flow, "async_list_hid_devices", return_value=hid),
    ):
        yield


async def _start(hass: HomeAssistant, family: str, link: str) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"family": family})
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "link"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": link}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == link
    return dict(result)


@pytest.mark.usefixtures("ports")
async def test_pi30_over_tcp(hass: HomeAssistant, probe: AsyncMock) -> None:
    """A PI30 inverter behind a serial-to-TCP gateway becomes an entry named after it."""
    result = await _start(hass, "pi30", "network")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "192.0.2.10", "port": 8899}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Axpert VM III 5K 92931701100510"
    assert result["data"] == {"family": "pi30", "link": "tcp://192.0.2.10:8899"}
    assert result["result"].unique_id == "92931701100510"
    probe.assert_awaited_once()


@pytest.mark.usefixtures("ports")
async def test_pi30_over_serial_lists_ports(hass: HomeAssistant, probe: AsyncMock) -> None:
    """The serial step offers the listed ports and keeps the chosen speed."""
    result = await _start(hass, "pi30", "serial")
    picker = result["data_schema"].schema["port"]
    if hasattr(selector, "SerialPortSelector"):
        # Newer Home Assistant lists the ports in its own picker.
        assert isinstance(picker, selector.SerialPortSelector)
    else:
        options = picker.config["options"]
        assert options == [{"value": "/dev/ttyUSB0", "label": "/dev/ttyUSB0 - FT232R - FTDI"}]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"port": "/dev/ttyUSB0", "baudrate": "2400"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {"family": "pi30", "link": "/dev/ttyUSB0", "baudrate": 2400}


@pytest.mark.usefixtures("ports")
async def test_pi30_over_hid(hass: HomeAssistant, probe: AsyncMock) -> None:
    """The HID step offers the hidraw nodes."""
    result = await _start(hass, "pi30", "hid")
    options = result["data_schema"].schema["port"].config["options"]
    assert options == [{"value": "/dev/hidraw0", "label": "/dev/hidraw0 - USB to Serial"}]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"port": "/dev/hidraw0"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {"family": "pi30", "link": "hid:/dev/hidraw0"}


async def test_newer_serial_port_selector_is_used_when_present() -> None:
    """Home Assistant's own serial-port picker replaces the list when it exists."""

    class SerialPortSelector:
        pass

    with patch.object(config_flow.selector, "SerialPortSelector", SerialPortSelector, create=True):
        assert isinstance(config_flow._port_selector([]), SerialPortSelector)


@pytest.mark.parametrize(
    ("error", "key"),
    [
        (ValueError("bad"), "invalid_link"),
        (UnsupportedError("PI18"), "unsupported"),
        (LinkTimeoutError("silent"), "cannot_connect"),
        (LinkError("busy"), "link_failed"),
        (InverterError("odd"), "link_failed"),
        (RuntimeError("boom"), "unknown"),
        ([], "no_devices"),
    ],
)
@pytest.mark.usefixtures("ports")
async def test_probe_errors_then_recovery(
    hass: HomeAssistant, probe: AsyncMock, error: Exception | list[Any], key: str
) -> None:
    """Each probe failure shows its error on the form; a later success still creates the entry."""
    result = await _start(hass, "pi30", "network")
    if isinstance(error, list):
        probe.return_value = error
    else:
        probe.side_effect = error
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "192.0.2.10", "port": 8899}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": key}
    probe.side_effect = None
    probe.return_value = [AXPERT]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "192.0.2.10", "port": 8899}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("ports", "probe")
async def test_known_device_on_another_port_is_not_moved(hass: HomeAssistant) -> None:
    """The same serial number on another port aborts, naming the entry's link."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=AXPERT.serial_number,
        data={"family": "pi30", "link": "/dev/ttyUSB0", "baudrate": 2400},
    )
    entry.add_to_hass(hass)
    result = await _start(hass, "pi30", "serial")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"port": "/dev/ttyUSB1", "baudrate": "2400"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured_at"
    assert result["description_placeholders"] == {"link": "/dev/ttyUSB0"}
    assert entry.data["link"] == "/dev/ttyUSB0"


@pytest.mark.usefixtures("ports")
async def test_modbus_bus_scan_adds_chosen_units(hass: HomeAssistant, scan: AsyncMock) -> None:
    """A scanned bus lists every unit found; the chosen ones become devices of one entry."""
    result = await _start(hass, "modbus", "network")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "fd00::5", "port": 502, "protocol": "udp"}
    )
    assert result["step_id"] == "scan"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"first_unit": 1, "last_unit": 3}
    )
    assert result["step_id"] == "units"
    assert scan.await_args is not None
    assert list(scan.await_args.args[2]) == [1, 2, 3]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"units": []})
    assert result["errors"] == {"base": "no_selection"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"units": ["2", "1"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "SDM630, MIN 3600TL-X"
    assert result["data"] == {
        "family": "modbus",
        "link": "udp://[fd00::5]:502",
        "devices": [
            {"address": 1, "profile": "sdm630", "serial": "SDM-1"},
            {"address": 2, "profile": "growatt_min", "serial": "GW-2"},
        ],
        "scan_range": [1, 3],
    }
    assert result["result"].unique_id == "SDM-1"


@pytest.mark.parametrize(
    ("user_input", "side_effect", "errors"),
    [
        ({"first_unit": 5, "last_unit": 2}, None, {"last_unit": "range"}),
        ({"first_unit": 1, "last_unit": 2}, ValueError("bad"), {"base": "invalid_link"}),
        ({"first_unit": 1, "last_unit": 2}, LinkError("gone"), {"base": "cannot_connect"}),
        ({"first_unit": 1, "last_unit": 2}, [], {"base": "no_devices"}),
    ],
)
@pytest.mark.usefixtures("ports")
async def test_modbus_scan_errors(
    hass: HomeAssistant,
    scan: AsyncMock,
    user_input: dict[str, int],
    side_effect: Exception | list[Any] | None,
    errors: dict[str, str],
) -> None:
    """Scan problems are shown on the scan form."""
    result = await _start(hass, "modbus", "serial")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"port": "/dev/ttyUSB0", "baudrate": "9600"}
    )
    if isinstance(side_effect, list):
        scan.return_value = side_effect
    else:
        scan.side_effect = side_effect
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["step_id"] == "scan"
    assert result["errors"] == errors


@pytest.mark.usefixtures("ports", "scan")
async def test_modbus_units_already_added_are_not_offered(hass: HomeAssistant) -> None:
    """A unit that belongs to an entry is never offered again; none left aborts."""
    MockConfigEntry(
        domain=DOMAIN,
        unique_id="SDM-1",
        data={"family": "modbus", "devices": [{"address": 1, "profile": None, "serial": "SDM-1"}]},
    ).add_to_hass(hass)
    result = await _start(hass, "modbus", "network")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "192.0.2.5", "port": 502, "protocol": "tcp"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"first_unit": 1, "last_unit": 2}
    )
    assert [option["value"] for option in _unit_options(result)] == ["2"]
    MockConfigEntry(
        domain=DOMAIN, unique_id="GW-2", data={"family": "modbus", "devices": []}
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"units": ["2"]})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


def _unit_options(result: Any) -> list[dict[str, str]]:
    options: list[dict[str, str]] = result["data_schema"].schema["units"].config["options"]
    return options


USB = UsbServiceInfo(
    device="/dev/ttyUSB3",
    vid="0665",
    pid="5161",
    serial_number=None,
    manufacturer="Cypress",
    description="USB to Serial",
)


@pytest.mark.usefixtures("ports")
async def test_usb_discovery_finds_hidraw_and_confirms(
    hass: HomeAssistant, probe: AsyncMock
) -> None:
    """A plugged-in inverter is probed on its hidraw node and added after a confirmation."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=USB
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "usb_confirm"
    assert result["description_placeholders"] == {
        "model": "Axpert VM III 5K",
        "serial_number": "92931701100510",
        "link": "hid:/dev/hidraw0",
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {"family": "pi30", "link": "hid:/dev/hidraw0"}


async def test_usb_discovery_without_hidraw_uses_the_serial_device(
    hass: HomeAssistant, probe: AsyncMock
) -> None:
    """When no hidraw node matches (other serial number), the tty path is used."""
    other = HidDeviceInfo(
        path="/dev/hidraw5", vendor_id=0x0665, product_id=0x5161, serial_number="X", product=None
    )
    usb = UsbServiceInfo(
        device="/dev/ttyUSB3",
        vid="0665",
        pid="5161",
        serial_number="Y",
        manufacturer=None,
        description=None,
    )
    with patch.object(config_flow, "async_list_hid_devices", return_value=[other]):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=usb
        )
    assert result["description_placeholders"]["link"] == "/dev/ttyUSB3"


@pytest.mark.usefixtures("ports")
async def test_usb_discovery_of_silent_or_known_device_aborts(
    hass: HomeAssistant, probe: AsyncMock
) -> None:
    """A silent device is not offered; a known one is not either, but gets the new port."""
    probe.side_effect = LinkError("silent")
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=USB
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"
    probe.side_effect = None
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=AXPERT.serial_number, data={"family": "pi30", "link": "x"}
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=USB
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data["link"] == "hid:/dev/hidraw0"


async def _reconfigure(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "network"}
    )
    return dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "192.0.2.20", "port": 8899}
        )
    )


@pytest.mark.usefixtures("ports")
async def test_reconfigure_moves_the_same_device(hass: HomeAssistant, probe: AsyncMock) -> None:
    """Reconfigure changes the link when the same device answers there."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=AXPERT.serial_number,
        data={"family": "pi30", "link": "/dev/ttyUSB0", "baudrate": 2400},
    )
    entry.add_to_hass(hass)
    result = await _reconfigure(hass, entry)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {"family": "pi30", "link": "tcp://192.0.2.20:8899", "baudrate": 2400}


@pytest.mark.usefixtures("ports")
async def test_reconfigure_refuses_another_device(hass: HomeAssistant, probe: AsyncMock) -> None:
    """Another device on the new link leaves the entry unchanged; probe errors show on the form."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="SDM-1",
        data={
            "family": "modbus",
            "link": "tcp://192.0.2.1:502",
            "devices": [{"address": 1, "profile": "sdm630", "serial": "SDM-1"}],
        },
    )
    entry.add_to_hass(hass)
    probe.side_effect = LinkTimeoutError("silent")
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "network"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "192.0.2.20", "port": 502, "protocol": "tcp"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert probe.await_args is not None
    assert probe.await_args.args[1]["devices"] == [
        {"address": 1, "profile": "sdm630", "serial": "SDM-1"}
    ]
    probe.side_effect = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "192.0.2.20", "port": 502, "protocol": "tcp"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_device"
    assert entry.data["link"] == "tcp://192.0.2.1:502"


@pytest.mark.parametrize(
    ("family", "fields"),
    [
        ("pi30", {"scan_interval", "slow_interval", "probe_interval", "expert"}),
        (
            "modbus",
            {
                "scan_interval",
                "slow_interval",
                "probe_interval",
                "rescan",
                "rescan_interval",
                "expert",
            },
        ),
        (
            "xcom",
            {
                "scan_interval",
                "slow_interval",
                "probe_interval",
                "rescan",
                "rescan_interval",
                "expert",
                "write_to_flash",
            },
        ),
    ],
)
async def test_options(hass: HomeAssistant, family: str, fields: set[str]) -> None:
    """The options flow stores intervals as whole seconds, rescans and the expert switch."""
    entry = MockConfigEntry(domain=DOMAIN, data={"family": family, "link": "x"})
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert {str(key) for key in result["data_schema"].schema} == {*fields, "relay"}
    user_input: dict[str, Any] = {
        "scan_interval": 15.0,
        "slow_interval": 600.0,
        "probe_interval": 120.0,
        "expert": True,
    }
    expected: dict[str, Any] = {
        "scan_interval": 15,
        "slow_interval": 600,
        "probe_interval": 120,
        "expert": True,
    }
    if family != "pi30":
        user_input |= {"rescan": True, "rescan_interval": 1800.0}
        expected |= {"rescan": True, "rescan_interval": 1800}
    if family == "xcom":
        user_input["write_to_flash"] = True
        expected["write_to_flash"] = True
    result = await hass.config_entries.options.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    relay = entry.options["relay"]
    assert entry.options == {**expected, "relay": relay}
    assert (relay["mqtt"], relay["commands"], relay["base_topic"]) == (False, False, "inverter_hub")


async def test_options_refuse_slow_below_live(hass: HomeAssistant) -> None:
    """Settings read more often than live values would be a mistake; the form says so."""
    entry = MockConfigEntry(domain=DOMAIN, data={"family": "pi30", "link": "x"})
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"scan_interval": 60, "slow_interval": 30, "probe_interval": 60, "expert": False},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"slow_interval": "slow_below_live"}


@pytest.mark.usefixtures("probe")
async def test_missing_port_and_port_in_use_have_their_own_errors(hass: HomeAssistant) -> None:
    """A path that does not exist and a port another entry holds are told apart."""
    MockConfigEntry(
        domain=DOMAIN, title="Garage", data={"family": "pi30", "link": "/dev/ttyUSB7"}
    ).add_to_hass(hass)
    with (
        patch.object(config_flow, "list_serial_ports", return_value=[]),
        patch.object(config_flow, "port_exists", return_value=False),
    ):
        result = await _start(hass, "pi30", "serial")
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"port": "/dev/ttyUSB9", "baudrate": "2400"}
        )
        assert result["errors"] == {"base": "port_not_found"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"port": "/dev/ttyUSB7", "baudrate": "2400"}
        )
        assert result["errors"] == {"base": "link_in_use"}
        assert result["description_placeholders"] == {"entry": "Garage"}


def test_port_exists(tmp_path: Path) -> None:
    """The existence check looks at the file system."""
    assert port_exists(str(tmp_path))
    assert not port_exists(str(tmp_path / "ttyUSB9"))


async def test_usb_device_of_no_family_aborts(hass: HomeAssistant) -> None:
    """A USB id no family lists is not taken."""
    other = UsbServiceInfo(
        device="/dev/ttyUSB4",
        vid="1234",
        pid="5678",
        serial_number=None,
        manufacturer="x",
        description="y",
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=other
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_supported"


def test_usb_matcher_is_in_the_manifest() -> None:
    """Home Assistant's USB discovery looks for 0665:5161."""
    manifest = json.loads(
        (Path(config_flow.__file__).parent / "manifest.json").read_text(encoding="utf-8")
    )
    assert {"vid": "0665", "pid": "5161"} in manifest["usb"]


async def test_expert_family_options_show_in_expert_mode_only(hass: HomeAssistant) -> None:
    """The Studer watchdog is offered only while expert mode is on."""
    entry = MockConfigEntry(domain=DOMAIN, data={"family": "xcom", "link": "x"})
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert "scom_watchdog" not in {str(key) for key in result["data_schema"].schema}
    hass.config_entries.async_update_entry(entry, options={"expert": True})
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert "scom_watchdog" in {str(key) for key in result["data_schema"].schema}
