"""Constants of the inverter_hub integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "inverter_hub"
LOGGER = logging.getLogger(__package__)

CONF_FAMILY: Final = "family"
CONF_LINK: Final = "link"
CONF_BAUDRATE: Final = "baudrate"
CONF_UNITS: Final = "units"
CONF_SERIALS: Final = "serials"
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_SLOW_INTERVAL: Final = "slow_interval"
CONF_EXPERT: Final = "expert"
CONF_PROBE_INTERVAL: Final = "probe_interval"

FAMILY_PI30: Final = "pi30"
FAMILY_MODBUS: Final = "modbus"
FAMILIES: Final = (FAMILY_PI30, FAMILY_MODBUS)

DEFAULT_SCAN_INTERVAL: Final = 10
DEFAULT_SLOW_INTERVAL: Final = 300
DEFAULT_PROBE_INTERVAL: Final = 600
WRITE_LOG_SIZE: Final = 50

PI30_USB_VID: Final = 0x0665
PI30_USB_PID: Final = 0x5161
