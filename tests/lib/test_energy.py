"""Energy totals integrated from power, where a device has no counter of its own."""

from __future__ import annotations

from inverterlib.energy import INTEGRALS, EnergyIntegrator, integral_point, integrals_for
from inverterlib.model import Point
from inverterlib.session import LinkSession, SessionSettings
import pytest

from .test_session import POINTS, Clock, FakeClient, identity

BATTERY = Point(key="battery_power", name="Battery power", unit="W", plausible=(-10000, 10000))
GRID_KW = Point(key="grid_power", name="Grid power", unit="kW")


def test_integrals_need_a_power_in_watts_and_no_counter() -> None:
    points = {BATTERY.key: BATTERY, GRID_KW.key: GRID_KW}
    assert [i.key for i in integrals_for(points)] == [
        "battery_discharge_energy",
        "battery_charge_energy",
    ]
    counter = integral_point(INTEGRALS[0])
    points[counter.key] = counter
    assert [i.key for i in integrals_for(points)] == ["battery_charge_energy"]
    assert counter.state_class == "total_increasing"


def test_trapezoid_of_each_direction_and_no_energy_across_a_gap() -> None:
    integrator = EnergyIntegrator(integrals_for({BATTERY.key: BATTERY}), {})
    assert integrator.add({"battery_power": 1000.0}, 0.0) == {}
    # Six minutes at 1 kW discharging: 0.1 kWh.
    assert integrator.add({"battery_power": 1000.0}, 360.0) == {
        "battery_discharge_energy": pytest.approx(0.1)
    }
    # From -1 kW to +1 kW over six minutes: a quarter of 0.1 kWh each way.
    integrator.add({"battery_power": -1000.0}, 360.0 + 1e-9)
    grown = integrator.add({"battery_power": 1000.0}, 720.0)
    assert grown["battery_charge_energy"] == pytest.approx(0.025)
    assert grown["battery_discharge_energy"] == pytest.approx(0.125)
    before = dict(integrator.totals)
    # Readings an outage apart add nothing for the outage.
    assert integrator.add({"battery_power": 5000.0}, 720.0 + 3600) == {}
    assert integrator.add({"battery_power": "x"}, 720.0 + 3700) == {}
    assert integrator.totals == before


async def test_session_adds_and_keeps_integrated_totals() -> None:
    client = FakeClient([identity("A")])
    client.values["A"] = {"battery_power": -2000.0}
    clock = Clock()
    kept = {"A": {"battery_charge_energy": 10.0}}
    session = LinkSession(
        client, SessionSettings(scan_interval=10), energy_totals=kept, clock=clock
    )
    client_points = (*POINTS, BATTERY)
    client.catalogue = lambda device: client_points  # type: ignore[method-assign]
    await session.start()
    state = session.devices["A"]
    assert state.values["battery_charge_energy"] == 10.0
    assert "battery_discharge_energy" not in state.values
    session.want("x", {"A": {"battery_charge_energy"}})
    await session.poll()
    # The total is never asked of the device; its power is.
    assert client.reads[-1] == ("A", frozenset({"battery_power"}))
    clock.now += 360
    await session.poll()
    assert state.values["battery_charge_energy"] == pytest.approx(10.2)
    assert session.energy_totals() == {
        "A": {"battery_charge_energy": pytest.approx(10.2), "battery_discharge_energy": 0.0}
    }
    # A refused power adds nothing.
    client.values["A"]["battery_power"] = -99999.0
    clock.now += 360
    await session.poll()
    assert state.values["battery_charge_energy"] == pytest.approx(10.2)
