"""User infos and parameters of the xcom family, loaded from xcom.json."""

from __future__ import annotations

from . import FOLDER, load_table

_TABLE = load_table(FOLDER / "xcom.json")
INFOS = _TABLE.infos
PARAMETERS = _TABLE.parameters
