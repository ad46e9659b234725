"""User infos and parameters of the variostring family, loaded from variostring.json."""

from __future__ import annotations

from . import FOLDER, load_table

_TABLE = load_table(FOLDER / "variostring.json")
INFOS = _TABLE.infos
PARAMETERS = _TABLE.parameters
