"""The GivEnergy client against the simulated dongle and plant, over real loopback TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, time
import logging
from typing import Any

from inverterlib.errors import (
    DeviceRefusedError,
    LinkError,
    LinkTimeoutError,
    ReadBackMismatchError,
    UnsupportedError,
)
from inverterlib.family import ClientOptions
from inverterlib.givenergy.client import PACK_PROFILE, PACKS, GivEnergyClient
from inverterlib.givenergy.registry import shipped_profiles
from inverterlib.givenergy.spec import SPEC, TIMEOUT
from inverterlib.modbus.planner import ReadRules, Span, plan_reads
from inverterlib.modbus.profile import Access
from inverterlib.model import DeviceIdentity, Point, PointKind, PollGroup, Value
from inverterlib.transport.tcp import TcpLink
from inverterlib.transport.url import parse_link
from inverterlib.writer import Outcome, write_setting
import pytest

from simulators.givenergy import Fault, GivEnergySimulator
from simulators.givenergy_plant import Kind, Plant, Refused

pytestmark = pytest.mark.usefixtures("socket_enabled")

TIMEOUT_FAST = 0.3
# Loopback replies come at once; absent meters need not be awaited long.
METER_TIMEOUT_FAST = 0.05
CLOCK = datetime(2025, 7, 14, 21, 5, 9)


class Harness:
    """Simulated plants behind dongles, and clients to them; closed afterwards."""

    def __init__(self) -> None:
        self.simulators: list[GivEnergySimulator] = []
        self.clients: list[GivEnergyClient] = []

    async def start(
        self,
        plant: Plant | None = None,
        *,
        retries: int = 1,
        timeout: float = TIMEOUT_FAST,
        **options: Any,
    ) -> tuple[GivEnergySimulator, GivEnergyClient]:
        simulator = GivEnergySimulator(plant or Plant(), **options)
        await simulator.start()
        self.simulators.append(simulator)
        host, port = simulator.address
        link = TcpLink(host, port, timeout=timeout)
        client = GivEnergyClient(
            link,
            pace=0.0,
            retries=retries,
            clock=lambda: CLOCK,
            meter_timeout=METER_TIMEOUT_FAST,
        )
        self.clients.append(client)
        return simulator, client

    async def identified(
        self, kind: Kind = Kind.GEN2, packs: int = 2, **options: Any
    ) -> tuple[GivEnergySimulator, GivEnergyClient, list[DeviceIdentity]]:
        simulator, client = await self.start(Plant(kind, packs=packs), **options)
        return simulator, client, await client.identify()

    async def aclose(self) -> None:
        for client in self.clients:
            await client.close()
        for simulator in self.simulators:
            await simulator.stop()


@pytest.fixture
async def plant() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    await harness.aclose()


def points(client: GivEnergyClient, device: DeviceIdentity) -> dict[str, Point]:
    return {point.key: point for point in client.catalogue(device)}


def number(values: dict[str, Value], key: str) -> float:
    value = values[key]
    assert isinstance(value, int | float)
    return float(value)


def readable(client: GivEnergyClient, device: DeviceIdentity) -> list[str]:
    return [point.key for point in client.catalogue(device) if point.kind is not PointKind.ACTION]


# Identity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "model", "profile", "firmware"),
    [
        (Kind.GEN1, "Hybrid Gen 1", "givenergy_hybrid_gen1", "D0.449-A0.449"),
        (Kind.GEN2, "Hybrid Gen 2", "givenergy_hybrid", "D0.920-A0.920"),
        (Kind.AC, "AC-coupled", "givenergy_ac", "D0.318-A0.318"),
    ],
)
async def test_identify_finds_the_model_and_its_battery_packs(
    plant: Harness, kind: Kind, model: str, profile: str, firmware: str
) -> None:
    simulator, _, devices = await plant.identified(kind)
    inverter, *packs = devices
    assert inverter.serial_number == "SA2114G047"
    assert (inverter.model, inverter.profile, inverter.firmware) == (model, profile, firmware)
    assert inverter.manufacturer == "GivEnergy"
    assert inverter.family == "givenergy"
    assert inverter.address == "0x11"
    assert inverter.details["device_type_code"] == f"{simulator.plant.holding[0]:04x}"
    assert [pack.serial_number for pack in packs] == ["BG2207G000", "BG2207G001"]
    assert [pack.address for pack in packs] == ["0x32", "0x33"]
    assert {pack.parent_serial for pack in packs} == {inverter.serial_number}
    assert {pack.profile for pack in packs} == {PACK_PROFILE}
    assert {pack.firmware for pack in packs} == {"3005"}
    assert [pack.details["pack"] for pack in packs] == ["1", "2"]


@pytest.mark.parametrize("count", [0, 1, 6])
async def test_every_present_pack_and_no_empty_slot_is_a_device(plant: Harness, count: int) -> None:
    _, _, devices = await plant.identified(packs=count)
    assert len(devices) == 1 + count


async def test_a_silent_or_refusing_pack_slot_holds_no_pack(plant: Harness) -> None:
    simulator, client = await plant.start(Plant(packs=3))
    original = simulator.plant.read

    def read(device: int, function: int, base: int, count: int) -> list[int] | Refused | None:
        if device == 0x33:
            return None
        if device == 0x34:
            return Refused(code=2)
        return original(device, function, base, count)

    simulator.plant.read = read  # type: ignore[method-assign]
    devices = await client.identify()
    assert [device.address for device in devices] == ["0x11", "0x32"]


async def test_models_without_lv_packs_are_not_searched(plant: Harness) -> None:
    simulator, client = await plant.start(Plant(Kind.AC))
    simulator.plant.holding[0] = 0x8001
    devices = await client.identify()
    assert [device.model for device in devices] == ["All-in-One"]
    assert not [key for key in simulator.stats.requests if key[0] in PACKS]


@pytest.mark.parametrize(
    ("register", "value", "message"),
    [(0, 0x1001, "unknown"), (13, 0, "no serial number")],
)
async def test_an_inverter_this_client_cannot_serve_is_refused(
    plant: Harness, register: int, value: int, message: str
) -> None:
    simulator, client = await plant.start()
    for address in range(13, 18) if register == 13 else (register,):
        simulator.plant.holding[address] = value
    with pytest.raises(UnsupportedError, match=message):
        await client.identify()


async def test_a_silent_dongle_fails_identify(plant: Harness) -> None:
    simulator, client = await plant.start(retries=0)
    simulator.inject(Fault.SILENCE, None)
    with pytest.raises(LinkTimeoutError, match="device 0x11"):
        await client.identify()


async def test_a_device_known_from_its_stored_identity_reads_without_identify(
    plant: Harness,
) -> None:
    _, client, devices = await plant.identified()
    simulator, fresh = await plant.start()
    del simulator
    assert (await fresh.read(devices[1], ["battery_soc"])) == {"battery_soc": 56}
    assert fresh.catalogue(devices[0]) == client.catalogue(devices[0])
    stranger = DeviceIdentity(
        serial_number="X", family="givenergy", model="?", manufacturer="?", address="0x40"
    )
    with pytest.raises(UnsupportedError, match="identify it first"):
        fresh.catalogue(stranger)


# Readings ----------------------------------------------------------------------------------


async def test_every_reading_has_the_plants_value_and_home_assistants_sign(plant: Harness) -> None:
    simulator, client, devices = await plant.identified(Kind.GEN2)
    inverter, first_pack, _ = devices
    values = await client.read(inverter, readable(client, inverter))
    state = simulator.plant
    flows, counters = state.flows, state.counters
    expected: dict[str, Value] = {
        "device_mode": "normal",
        "pv1_voltage": 321.4,
        "pv2_voltage": 287.9,
        "pv1_power": round(flows.pv1),
        "pv2_power": round(flows.pv2),
        "pv_power": round(flows.pv1) + round(flows.pv2),
        "pv1_current": 5.6,
        "pv2_current": 4.2,
        # GivEnergy: +export. Home Assistant: +import; the plant exports 600 W.
        "grid_power": -round(flows.grid_export),
        # Both: + while discharging; the plant charges at 1500 W.
        "battery_power": round(flows.battery),
        "battery_current": -28.68,
        "battery_voltage": 52.31,
        "battery_soc": 56,
        "battery_charge_status": "charging",
        "load_power": 900,
        "ac_output_power": 1500,
        "ac_output_voltage": 241.2,
        "ac_output_frequency": 50.01,
        "ac_output_power_factor": 0.9876,
        "inverter_temperature": 31.2,
        "charger_temperature": 28.5,
        "battery_temperature": 22.5,
        "eps_voltage": 230,
        "eps_frequency": 50,
        "pv_energy": counters.pv_total,
        "pv_generation_energy": counters.pv_generation_total,
        "pv_energy_today": 9.5,
        "grid_export_energy": counters.export_total,
        "grid_import_energy": counters.import_total,
        "grid_export_energy_today": counters.export_today,
        "grid_import_energy_today": counters.import_today,
        "ac_charge_energy": counters.inverter_in_total,
        "battery_throughput_energy": counters.battery_throughput,
        "battery_charge_energy_today": counters.battery_charge_today,
        "battery_discharge_energy_today": counters.battery_discharge_today,
        "total_running_time": 12345,
        "battery_type": "lithium",
        "battery_capacity": 160,
        "battery_low_voltage_limit": 44,
        "battery_high_voltage_limit": 58,
        "charge_slot_1": "00:30-04:30",
        "charge_slot_1_start": time(0, 30),
        "discharge_slot_1": "16:00-19:00",
        "battery_power_mode": "eco",
        "eco_mode": True,
        "ac_charge": True,
        "timed_discharge": False,
        "battery_reserve_soc": 4,
        "charge_target_soc": 100,
    }
    assert {key: values[key] for key in expected} == expected
    assert values["grid_power"] == -600
    # Every point of the catalogue reads.
    assert set(values) == set(readable(client, inverter))
    pack = await client.read(first_pack, readable(client, first_pack))
    assert set(pack) == set(readable(client, first_pack))
    cells = state.packs[0].cells_mv
    assert pack["cell_1_voltage"] == cells[0] / 1000
    assert pack["cells_voltage"] == sum(cells) / 1000
    assert pack["battery_max_temperature"] == max(state.packs[0].temperatures)
    assert pack["battery_min_temperature"] == min(state.packs[0].temperatures)
    assert pack["battery_soc"] == 56
    assert pack["battery_current"] == -14.34
    assert pack["battery_cycles"] == 187
    assert pack["battery_remaining_capacity"] == 88.08


async def test_ac_coupled_units_discharge_into_the_house_and_import_the_rest(
    plant: Harness,
) -> None:
    simulator, client, devices = await plant.identified(Kind.AC)
    values = await client.read(devices[0], readable(client, devices[0]))
    assert values["battery_power"] == 800
    assert values["battery_current"] == 15.29
    assert values["grid_power"] == 300
    assert values["battery_charge_status"] == "discharging"
    assert values["inverter_output_energy"] == simulator.plant.counters.inverter_out_total
    assert values["battery_pause_mode"] == "disabled"
    assert not [key for key in values if key.startswith("pv")]


async def test_gen1_battery_energies_come_from_its_own_registers(plant: Harness) -> None:
    simulator, client, devices = await plant.identified(Kind.GEN1)
    counters = simulator.plant.counters
    keys = [
        "battery_charge_energy",
        "battery_discharge_energy",
        "battery_charge_energy_today",
        "battery_discharge_energy_today",
    ]
    assert await client.read(devices[0], keys) == {
        "battery_charge_energy": counters.battery_charge_total,
        "battery_discharge_energy": counters.battery_discharge_total,
        "battery_charge_energy_today": counters.battery_charge_today,
        "battery_discharge_energy_today": counters.battery_discharge_today,
    }


async def test_energy_counters_grow_with_power(plant: Harness) -> None:
    simulator, client, devices = await plant.identified()
    keys = ["pv_energy", "grid_export_energy", "grid_import_energy", "battery_throughput_energy"]
    before = await client.read(devices[0], keys)
    simulator.plant.advance(3600)
    after = await client.read(devices[0], keys)
    flows = simulator.plant.flows
    gained = {key: round(number(after, key) - number(before, key), 1) for key in keys}
    assert gained == {
        "pv_energy": (flows.pv1 + flows.pv2) / 1000,
        "grid_export_energy": flows.grid_export / 1000,
        "grid_import_energy": 0.0,
        "battery_throughput_energy": abs(flows.battery) / 1000,
    }


async def test_a_refused_bank_leaves_its_points_out_and_keeps_the_rest(plant: Harness) -> None:
    simulator, client, devices = await plant.identified()
    simulator.inject(Fault.REFUSE)
    values = await client.read(devices[0], ["battery_soc", "battery_reserve_soc"])
    assert values == {"battery_reserve_soc": 4}


# Request counts -----------------------------------------------------------------------------


def optimum(client: GivEnergyClient, device: DeviceIdentity, keys: list[str]) -> int:
    """Return the fewest requests the planner can read these points in."""
    profile = shipped_profiles()[device.profile or ""]
    rules = ReadRules(max_registers=60, alignment=60)
    return sum(len(plan_reads(spans, rules, client.cost)) for spans in profile.spans(keys).values())


async def test_a_refresh_takes_the_planners_fewest_requests(plant: Harness) -> None:
    simulator, client, devices = await plant.identified(Kind.GEN2, packs=2)
    counts = {}
    for group in (None, PollGroup.LIVE):
        sent = simulator.stats.total
        expected = 0
        for device in devices:
            keys = [
                point.key
                for point in client.catalogue(device)
                if point.kind is not PointKind.ACTION and (group is None or point.group is group)
            ]
            await client.read(device, keys)
            expected += optimum(client, device, keys)
        counts[group] = simulator.stats.total - sent
        assert counts[group] == expected
    # Full: IR 0-59, HR 0-59, HR 60-119 and each pack's IR 60-119. Live: no holding banks.
    assert counts == {None: 5, PollGroup.LIVE: 3}
    assert client.transactions == simulator.stats.total


# Writes ------------------------------------------------------------------------------------

NEW_VALUES: dict[str, object] = {
    "ac_charge": False,
    "charge_target_enabled": False,
    "charge_target_soc": 80,
    "timed_discharge": True,
    "eco_mode": False,
    "battery_reserve_soc": 20,
    "battery_charge_limit": 25,
    "battery_discharge_limit": 30,
    "active_power_rate": 70,
    "charge_slot_1_start": "23:30",
    "charge_slot_1_end": "05:30",
    "charge_slot_2_start": "12:00",
    "charge_slot_2_end": "14:00",
    "discharge_slot_1_start": "17:00",
    "discharge_slot_1_end": "20:00",
    "discharge_slot_2_start": "06:00",
    "discharge_slot_2_end": "07:15",
    "charge_slot_1": "01:00-04:00",
    "charge_slot_2": "13:00-15:30",
    "discharge_slot_1": "18:00-21:00",
    "discharge_slot_2": "07:00-08:00",
    "battery_power_mode": "timed_demand",
}
AC_VALUES: dict[str, object] = {
    "export_priority": "grid_first",
    "battery_charge_power": 50,
    "battery_discharge_power": 60,
    "eps_enabled": False,
    "battery_pause_mode": "pause_both",
    "pause_slot_start": "10:00",
    "pause_slot_end": "11:00",
    "pause_slot": "09:00-09:30",
}


TEN_SLOT_VALUES: dict[str, object] = {
    **{f"charge_slot_{n}_target_soc": 50 + n for n in range(1, 11)},
    **{f"discharge_slot_{n}_target_soc": 10 + n for n in range(1, 11)},
    **{f"charge_slot_{n}_start": f"{n:02d}:05" for n in range(3, 11)},
    **{f"charge_slot_{n}_end": f"{n:02d}:35" for n in range(3, 11)},
    **{f"discharge_slot_{n}_start": f"{n + 10:02d}:10" for n in range(3, 11)},
    **{f"discharge_slot_{n}_end": f"{n + 10:02d}:40" for n in range(3, 11)},
    **{f"charge_slot_{n}": f"{n:02d}:00-{n:02d}:30" for n in range(3, 11)},
    **{f"discharge_slot_{n}": f"{n + 10:02d}:00-{n + 10:02d}:45" for n in range(3, 11)},
}


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        (Kind.GEN2, {}),
        (Kind.AC, AC_VALUES),
        (Kind.GEN3, TEN_SLOT_VALUES),
        (Kind.AIO, AC_VALUES | TEN_SLOT_VALUES),
    ],
)
async def test_every_setting_is_written_and_reads_back(
    plant: Harness, kind: Kind, extra: dict[str, object]
) -> None:
    _, client, devices = await plant.identified(kind)
    inverter = devices[0]
    catalogue = points(client, inverter)
    settings = {key for key, point in catalogue.items() if point.kind is PointKind.SETTING}
    assert settings == set(NEW_VALUES) | set(extra)
    for key, value in {**NEW_VALUES, **extra}.items():
        record = await write_setting(client, inverter, catalogue[key], value)
        assert record.outcome is Outcome.APPLIED, key


async def test_slots_3_to_10_and_every_target_sit_in_the_ten_slot_bank(plant: Harness) -> None:
    simulator, client, devices = await plant.identified(Kind.GEN3)
    inverter = devices[0]
    assert (inverter.model, inverter.profile) == ("Hybrid Gen 3", "givenergy_hybrid_gen3")
    catalogue = points(client, inverter)
    holding = simulator.plant.holding
    await write_setting(client, inverter, catalogue["charge_slot_3"], "01:00-02:30")
    await write_setting(client, inverter, catalogue["charge_slot_3_target_soc"], 80)
    await write_setting(client, inverter, catalogue["discharge_slot_10"], "16:00-19:15")
    await write_setting(client, inverter, catalogue["discharge_slot_10_target_soc"], 20)
    await write_setting(client, inverter, catalogue["charge_slot_1_target_soc"], 65)
    assert [holding[register] for register in (246, 247, 248)] == [100, 230, 80]
    assert [holding[register] for register in (297, 298, 299)] == [1600, 1915, 20]
    assert holding[242] == 65
    values = await client.read(inverter, ["charge_slot_3", "discharge_slot_10_target_soc"])
    assert values == {"charge_slot_3": "01:00-02:30", "discharge_slot_10_target_soc": 20}


async def test_the_ten_slot_bank_refuses_what_the_device_refuses(plant: Harness) -> None:
    simulator, client, _ = await plant.identified(Kind.GEN3)
    for register, value in ((246, 2460), (277, 1275), (248, 101), (272, 3)):
        with pytest.raises(DeviceRefusedError):
            await client.write_registers(0x11, register, [value])
    held = [simulator.plant.holding[register] for register in (246, 277, 248, 272)]
    assert held == [0, 0, 100, 4]


@pytest.mark.parametrize(("kind", "ten_slot_bank"), [(Kind.GEN2, False), (Kind.GEN3, True)])
async def test_only_ten_slot_models_read_their_bank(
    plant: Harness, kind: Kind, ten_slot_bank: bool
) -> None:
    simulator, client, devices = await plant.identified(kind)
    inverter = devices[0]
    await client.read(inverter, list(points(client, inverter)))
    banks = [key for key in simulator.stats.requests if key[1] == 3 and key[2] == 240]
    assert banks == ([(0x11, 3, 240, 60)] if ten_slot_bank else [])


async def test_an_all_in_one_has_ten_slots_and_the_ac_bank(plant: Harness) -> None:
    _, client, devices = await plant.identified(Kind.AIO)
    assert [(device.model, device.profile) for device in devices] == [
        ("All-in-One", "givenergy_aio")
    ]
    values = await client.read(devices[0], ["discharge_slot_4", "export_priority"])
    assert values == {"discharge_slot_4": "00:00-00:00", "export_priority": "load_first"}


# Meters ------------------------------------------------------------------------------------


async def test_a_meter_on_the_bus_is_a_device_under_the_inverter(plant: Harness) -> None:
    simulator, client = await plant.start(Plant(Kind.GEN2, meter=True))
    inverter, *_, meter = await client.identify()
    assert (meter.address, meter.parent_serial, meter.profile) == (
        "0x01",
        inverter.serial_number,
        "givenergy_meter",
    )
    keys = ["grid_power", "grid_voltage_l1", "grid_import_energy", "grid_export_energy"]
    values = await client.read(meter, keys)
    grid = await client.read(inverter, ["grid_power"])
    # Exporting 600 W: negative on the meter as on the inverter's own CT.
    assert values["grid_power"] == grid["grid_power"] == -600
    assert values["grid_voltage_l1"] == 241.2
    simulator.plant.advance(3600)
    later = await client.read(meter, keys)
    assert number(later, "grid_export_energy") == pytest.approx(
        number(values, "grid_export_energy") + 0.6, abs=0.1
    )
    assert later["grid_import_energy"] == values["grid_import_energy"]
    simulator.plant.flows.load = 4000.0
    simulator.plant.advance(3600)
    importing = await client.read(meter, keys)
    assert importing["grid_power"] == 2500
    assert number(importing, "grid_import_energy") == pytest.approx(
        number(values, "grid_import_energy") + 2.5, abs=0.1
    )


async def test_without_meters_each_address_is_asked_once(plant: Harness) -> None:
    simulator, _, devices = await plant.identified(Kind.GEN2)
    assert [device.address for device in devices] == ["0x11", "0x32", "0x33"]
    probes = [key for key in simulator.stats.requests.elements() if key[0] in range(1, 9)]
    assert sorted(probes) == [(address, 4, 60, 30) for address in range(1, 9)]


async def test_a_refusing_or_dead_meter_address_holds_no_meter(plant: Harness) -> None:
    simulator, client = await plant.start(Plant(Kind.GEN2, meter=True, packs=0))
    original = simulator.plant.read

    def read(device: int, function: int, base: int, count: int) -> list[int] | Refused | None:
        if device == 2:
            return Refused(code=2)
        if device == 3:
            return [0] * count
        return original(device, function, base, count)

    simulator.plant.read = read  # type: ignore[method-assign]
    devices = await client.identify()
    assert [device.address for device in devices] == ["0x11", "0x01"]


async def test_a_slot_is_stored_as_hhmm(plant: Harness) -> None:
    simulator, client, devices = await plant.identified()
    catalogue = points(client, devices[0])
    await write_setting(client, devices[0], catalogue["charge_slot_2"], "23:45-06:05")
    assert (simulator.plant.holding[31], simulator.plant.holding[32]) == (2345, 605)


@pytest.mark.parametrize(
    ("mode", "registers"),
    [
        ("eco_paused", (1, 0, 100)),
        ("timed_demand", (1, 1, 100)),
        ("timed_export", (0, 1, 100)),
        ("eco", (1, 0, 4)),
    ],
)
async def test_each_battery_mode_writes_its_register_set(
    plant: Harness, mode: str, registers: tuple[int, int, int]
) -> None:
    simulator, client, devices = await plant.identified()
    holding = simulator.plant.holding
    holding[110] = 100 if mode == "eco" else holding[110]
    holding[59] = 1 if mode == "eco" else holding[59]
    point = points(client, devices[0])["battery_power_mode"]
    record = await write_setting(client, devices[0], point, mode)
    assert record.outcome is Outcome.APPLIED
    assert (holding[27], holding[59], holding[110]) == registers


async def test_a_mode_write_skips_registers_already_set(plant: Harness) -> None:
    simulator, client, devices = await plant.identified()
    point = points(client, devices[0])["battery_power_mode"]
    await client.write(devices[0], point, "eco_paused")
    # Eco already holds HR27 = 1 and HR59 = 0: only the reserve changes.
    assert simulator.stats.writes == [(0x11, 110, 100)]


async def test_a_failed_step_restores_the_steps_before_it(
    plant: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    simulator, client, devices = await plant.identified()
    point = points(client, devices[0])["charge_slot_1"]
    # The unit reads both registers first, writes the start, and the end goes unanswered
    # (applied or not: the reply is lost). Both are put back, the last first.
    simulator.inject(None, 2)
    simulator.inject(Fault.SILENCE)
    with pytest.raises(LinkTimeoutError):
        await client.write(devices[0], point, "02:00-06:00")
    assert (simulator.plant.holding[94], simulator.plant.holding[95]) == (30, 430)
    assert simulator.stats.writes[-4:] == [
        (0x11, 94, 200),
        (0x11, 95, 600),
        (0x11, 95, 430),
        (0x11, 94, 30),
    ]
    # When even the restore fails, the first error is still the one raised.
    simulator.inject(None, 2)
    simulator.inject(Fault.SILENCE, None)
    with caplog.at_level(logging.WARNING), pytest.raises(LinkTimeoutError):
        await client.write(devices[0], point, "02:00-06:00")
    assert "could not restore register 94" in caplog.text
    simulator.clear_faults()
    # This dongle applies writes and loses only the replies, so the restores landed.
    assert (await client.read(devices[0], ["charge_slot_1"])) == {"charge_slot_1": "00:30-04:30"}


async def test_a_value_the_device_refuses_is_a_refusal(plant: Harness) -> None:
    simulator, client, devices = await plant.identified()
    point = points(client, devices[0])["charge_target_soc"]
    # Past validation (as a raw caller could): the unit answers with an error frame.
    with pytest.raises(DeviceRefusedError, match="ILLEGAL_DATA_VALUE"):
        await client.write(devices[0], point, 101)
    assert simulator.plant.holding[116] == 100


async def test_an_applied_write_answered_by_an_error_frame_is_believed(plant: Harness) -> None:
    # Gen 1 BPM firmware: the write lands, the answer is function 0x86.
    simulator, client, devices = await plant.identified(Kind.GEN1)
    point = points(client, devices[0])["battery_reserve_soc"]
    simulator.inject(Fault.REFUSE)
    await client.write(devices[0], point, 30)
    assert simulator.plant.holding[110] == 30


async def test_a_device_holding_another_value_after_a_write_is_a_mismatch(plant: Harness) -> None:
    simulator, client, devices = await plant.identified()
    original = simulator.plant.write
    simulator.plant.write = lambda device, register, value: original(device, register, value - 1)  # type: ignore[method-assign]
    point = points(client, devices[0])["battery_reserve_soc"]
    with pytest.raises(ReadBackMismatchError, match="register 110 holds 29 after writing 30"):
        await client.write(devices[0], point, 30)


async def test_actions_sync_the_clock_and_reboot(plant: Harness) -> None:
    simulator, client, devices = await plant.identified()
    catalogue = points(client, devices[0])
    record = await write_setting(client, devices[0], catalogue["sync_clock"], None)
    assert record.outcome is Outcome.APPLIED
    assert [simulator.plant.holding[address] for address in range(35, 41)] == [25, 7, 14, 21, 5, 9]
    assert catalogue["reboot"].expert
    await write_setting(client, devices[0], catalogue["reboot"], "press")
    assert simulator.plant.reboots == 1


def test_identity_facts_outside_the_bank_read_are_left_out() -> None:
    pack = shipped_profiles()[PACK_PROFILE]
    assert GivEnergyClient._info(pack, Access.HOLDING, Span(60, 60), [1] * 60) == {}
    assert GivEnergyClient._info(pack, Access.INPUT, Span(0, 60), [1] * 60) == {}


async def test_raw_registers_read_and_write(plant: Harness) -> None:
    simulator, client = await plant.start()
    assert await client.read_registers(0x11, "holding", 110, 3) == [4, 50, 50]
    assert (await client.read_registers(0x11, "input", 59, 1)) == [simulator.plant.soc]
    await client.write_registers(0x11, 111, [10, 20])
    assert (simulator.plant.holding[111], simulator.plant.holding[112]) == (10, 20)


# Faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault.FRAGMENT,
        Fault.CONCATENATE,
        Fault.GARBAGE,
        Fault.NULL,
        Fault.LAN_BROADCAST,
        Fault.OTHER_FIRST,
        Fault.ZERO_CRC,
        Fault.SILENCE,
        Fault.DISCONNECT,
        Fault.LATE,
        Fault.SLOW,
        Fault.FLOOD,
    ],
)
async def test_no_fault_ever_yields_a_wrong_value(plant: Harness, fault: Fault) -> None:
    # A late reply lands 0.1 s after its request timed out, 0.9 s before the retry does.
    simulator, client, devices = await plant.identified(
        retries=1, timeout=1.0, late_delay=1.1, slow_byte_delay=0.0005
    )
    keys = readable(client, devices[0])
    clean = await client.read(devices[0], keys)
    simulator.inject(fault)
    assert await client.read(devices[0], keys) == clean
    assert await client.read(devices[1], ["battery_soc"]) == {"battery_soc": 56}


async def test_a_dongle_that_stays_away_fails_reads_until_it_is_back(plant: Harness) -> None:
    simulator, client, devices = await plant.identified(retries=1)
    simulator.inject(Fault.SILENCE, None)
    with pytest.raises(LinkTimeoutError):
        await client.read(devices[0], ["battery_soc"])
    simulator.inject(Fault.DISCONNECT, None)
    with pytest.raises(LinkError):
        await client.read(devices[0], ["battery_soc"])
    simulator.clear_faults()
    assert await client.read(devices[0], ["battery_soc"]) == {"battery_soc": 56}


# The family ----------------------------------------------------------------------------------


async def test_the_family_builds_a_client_for_a_dongle() -> None:
    client = SPEC.build(parse_link("tcp://192.0.2.1:8899"), ClientOptions())
    assert isinstance(client, GivEnergyClient)
    assert client.clock().tzinfo is not None
    assert client.link.gap == 0.0
    assert client.link.timeout == TIMEOUT
    assert SPEC.defaults("tcp").port == 8899
    with pytest.raises(UnsupportedError):
        SPEC.build(parse_link("/dev/ttyUSB0"), ClientOptions())
    keys = [point.key for point in SPEC.points()]
    assert "battery_power_mode" in keys
    assert "cell_16_voltage" in keys
