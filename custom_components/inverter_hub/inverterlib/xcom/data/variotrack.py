"""User infos and parameters of the variotrack family, loaded from variotrack.json."""

from __future__ import annotations

from . import FOLDER, load_table

_TABLE = load_table(FOLDER / "variotrack.json")
INFOS = _TABLE.infos
PARAMETERS = _TABLE.parameters
