"""Constants of the inverter_hub integration."""

from __future__ import annotations

import logging
from typing import Final

from .inverterlib.session import (
    DEFAULT_RESCAN_INTERVAL,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SLOW_INTERVAL,
)

DOMAIN: Final = "inverter_hub"
LOGGER = logging.getLogger(__package__)

CONF_FAMILY: Final = "family"
CONF_LINK: Final = "link"
CONF_BAUDRATE: Final = "baudrate"
CONF_DEVICES: Final = "devices"
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_SLOW_INTERVAL: Final = "slow_interval"
CONF_EXPERT: Final = "expert"
CONF_PROBE_INTERVAL: Final = "probe_interval"
CONF_RESCAN: Final = "rescan"
CONF_SCAN_RANGE: Final = "scan_range"
CONF_RESCAN_INTERVAL: Final = "rescan_interval"

DEFAULT_SCAN_INTERVAL_S: Final = int(DEFAULT_SCAN_INTERVAL)
DEFAULT_SLOW_INTERVAL_S: Final = int(DEFAULT_SLOW_INTERVAL)
DEFAULT_PROBE_INTERVAL: Final = 60
DEFAULT_RESCAN_INTERVAL_S: Final = int(DEFAULT_RESCAN_INTERVAL)
