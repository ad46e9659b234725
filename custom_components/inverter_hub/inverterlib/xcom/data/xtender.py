"""User infos and parameters of the xtender family, loaded from xtender.json."""

from __future__ import annotations

from . import FOLDER, load_table

_TABLE = load_table(FOLDER / "xtender.json")
INFOS = _TABLE.infos
PARAMETERS = _TABLE.parameters
PARAMETERS_120V = _TABLE.parameters_120v
