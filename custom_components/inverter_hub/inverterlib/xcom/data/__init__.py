"""Studer's published object tables, read from the JSON files devtools/xcom_params.py writes."""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
from typing import Any

from ..objects import Datapoint, Format, Level

FOLDER = Path(__file__).parent


@dataclass(frozen=True, kw_only=True, slots=True)
class Table:
    """The user infos and parameters of one device family."""

    infos: tuple[Datapoint, ...]
    parameters: tuple[Datapoint, ...]
    # The parameters whose limits differ on 120 Vac models.
    parameters_120v: tuple[Datapoint, ...]


def _datapoint(fields: dict[str, Any], *, parameter: bool) -> Datapoint:
    """Return the Datapoint of one entry of a data file (absent fields keep their defaults)."""
    fields = dict(fields, format=Format(fields["format"]), parameter=parameter)
    if "level" in fields:
        fields["level"] = Level[fields["level"].upper()]
    if "options" in fields:
        fields["options"] = tuple((code, label) for code, label in fields["options"])
    return Datapoint(**fields)


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_table(path: Path) -> Table:
    """Return the table of one family's data file."""
    data = _read(path)
    return Table(
        infos=tuple(_datapoint(fields, parameter=False) for fields in data["infos"]),
        parameters=tuple(_datapoint(fields, parameter=True) for fields in data["parameters"]),
        parameters_120v=tuple(
            _datapoint(fields, parameter=True) for fields in data.get("parameters_120v", ())
        ),
    )


def load_messages(path: Path) -> dict[int, str]:
    """Return the message texts of the messages data file, by message number."""
    return {int(code): text for code, text in _read(path)["messages"].items()}
