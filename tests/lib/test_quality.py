"""The data-quality filter holds back implausible values, spikes and falling counters."""

from __future__ import annotations

from inverterlib.model import Point, PointKind, ValueType
from inverterlib.quality import QualityFilter, Rejection

VOLTAGE = Point(key="battery_voltage", name="Battery voltage", plausible=(0.0, 70.0), spike=5.0)
ENERGY = Point(
    key="pv_energy",
    name="PV energy",
    unit="kWh",
    device_class="energy",
    state_class="total_increasing",
)
MODE = Point(key="device_mode", name="Mode", value_type=ValueType.ENUM, options=("line", "battery"))
SETTING = Point(key="float_voltage", name="Float", kind=PointKind.SETTING, plausible=(0.0, 1.0))


def make() -> QualityFilter:
    points = {p.key: p for p in (VOLTAGE, ENERGY, MODE, SETTING)}
    return QualityFilter(points)


def test_plausible_values_pass_and_are_remembered() -> None:
    quality = make()
    assert quality.apply({"battery_voltage": 52.1, "device_mode": "line"}) == {
        "battery_voltage": 52.1,
        "device_mode": "line",
    }
    assert quality.good == {"battery_voltage": 52.1, "device_mode": "line"}
    assert quality.rejected == {}


def test_implausible_value_is_held_back_and_last_good_stays() -> None:
    quality = make()
    quality.apply({"battery_voltage": 52.1})
    assert quality.apply({"battery_voltage": 655.35}) == {}
    assert quality.good["battery_voltage"] == 52.1
    assert quality.rejected["battery_voltage"] is Rejection.IMPLAUSIBLE


def test_spike_published_only_when_it_persists() -> None:
    quality = make()
    quality.apply({"battery_voltage": 52.0})
    assert quality.apply({"battery_voltage": 40.0}) == {}
    assert quality.rejected["battery_voltage"] is Rejection.SPIKE
    assert quality.apply({"battery_voltage": 52.2}) == {"battery_voltage": 52.2}
    assert quality.apply({"battery_voltage": 45.0}) == {}
    assert quality.apply({"battery_voltage": 44.8}) == {"battery_voltage": 44.8}
    assert "battery_voltage" not in quality.rejected


def test_spike_that_moves_again_restarts_confirmation() -> None:
    quality = make()
    quality.apply({"battery_voltage": 52.0})
    assert quality.apply({"battery_voltage": 40.0}) == {}
    assert quality.apply({"battery_voltage": 30.0}) == {}
    assert quality.apply({"battery_voltage": 30.5}) == {"battery_voltage": 30.5}


def test_counter_never_drops_to_zero() -> None:
    quality = make()
    quality.apply({"pv_energy": 1234.5})
    for _ in range(5):
        assert quality.apply({"pv_energy": 0.0}) == {}
    assert quality.good["pv_energy"] == 1234.5
    assert quality.rejected["pv_energy"] is Rejection.COUNTER_DECREASE


def test_counter_reset_accepted_after_three_lower_reads() -> None:
    quality = make()
    quality.apply({"pv_energy": 1234.5})
    assert quality.apply({"pv_energy": 1.0}) == {}
    assert quality.apply({"pv_energy": 1.1}) == {}
    assert quality.apply({"pv_energy": 1.2}) == {"pv_energy": 1.2}
    assert quality.apply({"pv_energy": 1.3}) == {"pv_energy": 1.3}


def test_settings_unknown_keys_and_non_numbers_pass_unchecked() -> None:
    quality = make()
    assert quality.apply({"float_voltage": 54.0, "other": 1, "battery_voltage": "x"}) == {
        "float_voltage": 54.0,
        "other": 1,
        "battery_voltage": "x",
    }
    assert quality.apply({"battery_voltage": 52.0}) == {"battery_voltage": 52.0}


class Clock:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_counter_that_jumps_faster_than_the_device_could_is_held_back() -> None:
    clock = Clock()
    quality = QualityFilter({ENERGY.key: ENERGY}, clock=clock)
    quality.apply({"pv_energy": 1000.3})
    clock.now += 10
    assert quality.apply({"pv_energy": 50000.0}) == {}
    assert quality.rejected["pv_energy"] is Rejection.COUNTER_JUMP
    # The true value after the spike is no "decrease".
    clock.now += 10
    assert quality.apply({"pv_energy": 1000.4}) == {"pv_energy": 1000.4}
    # After a day away, a day's worth of energy is believable.
    clock.now += 86400
    assert quality.apply({"pv_energy": 1040.0}) == {"pv_energy": 1040.0}


def test_rated_counter_jump_persisting_is_accepted() -> None:
    clock = Clock()
    rated = Point(
        key="e", name="E", unit="kWh", state_class="total_increasing", max_rise_per_hour=6
    )
    quality = QualityFilter({"e": rated}, clock=clock)
    quality.apply({"e": 10.0})
    clock.now += 3600
    assert quality.apply({"e": 15.0}) == {"e": 15.0}
    assert quality.apply({"e": 30.0}) == {}
    assert quality.apply({"e": 30.0}) == {}
    assert quality.apply({"e": 30.0}) == {"e": 30.0}


def test_small_dip_is_never_a_reset() -> None:
    quality = make()
    quality.apply({"pv_energy": 900.0})
    for value in (899.9, 899.8, 899.8, 899.7):
        assert quality.apply({"pv_energy": value}) == {}
    assert quality.good["pv_energy"] == 900.0
    assert quality.apply({"pv_energy": 900.1}) == {"pv_energy": 900.1}


def test_daily_counter_starts_again_at_midnight() -> None:
    today = Point(
        key="pv_energy_today",
        name="PV today",
        unit="kWh",
        state_class="total_increasing",
        daily=True,
    )
    quality = QualityFilter({today.key: today})
    quality.apply({"pv_energy_today": 23.4})
    assert quality.apply({"pv_energy_today": 0.0}) == {"pv_energy_today": 0.0}
    # A dip in the middle of the day is still no new day.
    quality.apply({"pv_energy_today": 12.0})
    assert quality.apply({"pv_energy_today": 11.9}) == {}


def test_a_value_computed_from_a_refused_input_is_not_published() -> None:
    current = Point(key="battery_current", name="I", plausible=(-500, 500))
    power = Point(
        key="battery_power",
        name="P",
        plausible=(-40000, 40000),
        derived_from=("battery_voltage", "battery_current"),
    )
    points = {p.key: p for p in (VOLTAGE, current, power)}
    quality = QualityFilter(points)
    values = {"battery_power": 262.0, "battery_voltage": 52.4, "battery_current": 5.0}
    assert quality.apply(values) == values
    # -52.3 V is refused as implausible: the +262 W computed from it must not appear either.
    refused = {"battery_power": 262.0, "battery_voltage": -52.3, "battery_current": -5.0}
    assert quality.apply(refused) == {"battery_current": -5.0}
    assert quality.rejected["battery_power"] is Rejection.INPUT_REFUSED
    assert quality.good["battery_power"] == 262.0
