"""The units' own parameter ranges: which are read at setup, which ranges count, the checks."""

from __future__ import annotations

import math

from inverterlib.errors import ValidationError
from inverterlib.xcom.catalogue import unit_catalogue
from inverterlib.xcom.kinds import XTENDER
from inverterlib.xcom.limits import bounded, check, limited, narrowest, read_at_setup, usable
import pytest

BINDINGS = unit_catalogue(XTENDER).bindings
CHARGE = BINDINGS["battery_charge_current_1138"]


def test_only_basic_numeric_settings_are_read_at_setup() -> None:
    assert read_at_setup(CHARGE)
    feeding = BINDINGS["max_grid_feeding_current_1523"]
    assert bounded(feeding)
    assert not read_at_setup(feeding)
    assert not bounded(BINDINGS["inverter_allowed_1124"])
    assert not bounded(BINDINGS["battery_voltage"])
    at_setup = [b for b in BINDINGS.values() if read_at_setup(b)]
    assert [b.datapoint.number for b in at_setup] == [1107, 1138, 1187]
    # In expert mode the expert settings are entities too, so theirs are read as well.
    assert read_at_setup(feeding, expert=True)
    in_expert_mode = [b for b in BINDINGS.values() if read_at_setup(b, expert=True)]
    assert len(in_expert_mode) > len(at_setup)
    assert {1107, 1138, 1187, 1523} <= {b.datapoint.number for b in in_expert_mode}


def test_a_reported_range_must_be_one() -> None:
    assert usable(0.0, 120.0) == (0.0, 120.0)
    assert usable(2, 50) == (2.0, 50.0)
    for low, high in ((None, 1.0), (1.0, None), (math.nan, 1.0), (5.0, 1.0), ("a", 1.0)):
        assert usable(low, high) is None


def test_units_in_one_group_share_the_narrowest_range() -> None:
    assert narrowest([(0.0, 120.0), None, (10.0, 200.0)]) == (10.0, 120.0)
    assert narrowest([None, None]) is None
    assert narrowest([(0.0, 1.0), (2.0, 3.0)]) is None


def test_a_limited_point_keeps_its_step_where_it_fits() -> None:
    point = CHARGE.point
    assert (limited(point, (0.0, 120.0)).maximum, limited(point, (0.0, 120.0)).step) == (120, 1)
    assert limited(point, (0.5, 120.0)).step is None


def test_values_outside_the_range_are_refused() -> None:
    check(CHARGE.point, 120.0, (0.0, 120.0), "unit 101")
    check(CHARGE.point, True, (0.0, 120.0), "unit 101")
    with pytest.raises(ValidationError, match="between 0 and 120 on unit 101"):
        check(CHARGE.point, 120.5, (0.0, 120.0), "unit 101")
