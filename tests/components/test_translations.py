"""Generated translations are fresh and every error the code raises has a message."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from custom_components.inverter_hub import coordinator
from custom_components.inverter_hub.inverterlib import errors
from devtools import translations

STRINGS = json.loads(
    (Path(coordinator.__file__).parent / "translations" / "en.json").read_text(encoding="utf-8")
)


def test_generated_files_are_fresh() -> None:
    """en.json and icons.json match strings.json and the catalogues (run devtools.translations)."""
    assert translations.main(["--check"]) == 0


def test_every_error_has_a_translated_message() -> None:
    """Each library error and each key the Home Assistant layer raises has a message."""
    classes = [
        cls
        for module in (errors, coordinator)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, errors.InverterError)
    ]
    keys = {cls.translation_key for cls in classes} | {
        "unknown_device",
        "unknown_entry",
        "entry_not_loaded",
        "cannot_connect",
        "link_lost",
        "invalid_link",
    }
    assert keys <= set(STRINGS["exceptions"])


def test_every_entity_name_is_translated_per_platform() -> None:
    """Every shipped point has a name under the platform that shows it."""
    entity = STRINGS["entity"]
    assert entity["sensor"]["battery_voltage"]["name"] == "Battery voltage"
    assert entity["select"]["output_source_priority"]["state"]["sbu"].startswith("Solar, battery")
