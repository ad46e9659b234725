"""User infos and parameters of the bms family, loaded from bms.json."""

from __future__ import annotations

from . import FOLDER, load_table

_TABLE = load_table(FOLDER / "bms.json")
INFOS = _TABLE.infos
PARAMETERS = _TABLE.parameters
