"""User infos and parameters of the bsp family, loaded from bsp.json."""

from __future__ import annotations

from . import FOLDER, load_table

_TABLE = load_table(FOLDER / "bsp.json")
INFOS = _TABLE.infos
PARAMETERS = _TABLE.parameters
