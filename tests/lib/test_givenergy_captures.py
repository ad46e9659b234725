"""Real GivEnergy units replayed from their captured registers, read over loopback TCP.

The fixtures carry the register values of dewet22/givenergy-modbus's wire captures (each
file names its source); the values asserted here are the ones that library's own golden
tests assert for the same captures, or follow from the raw registers named beside them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
from pathlib import Path
from typing import Any

from inverterlib.errors import LinkError
from inverterlib.givenergy.client import METERS, PACKS, GivEnergyClient
from inverterlib.givenergy.models import detect
from inverterlib.givenergy.registry import shipped_profiles
from inverterlib.modbus.profile import Access
from inverterlib.model import DeviceIdentity, PointKind
from inverterlib.session import LinkSession
from inverterlib.transport.tcp import TcpLink
import pytest

from simulators.givenergy import GivEnergySimulator, parse_args, serve
from simulators.givenergy_capture import CapturedUnit, CaptureError
from simulators.givenergy_plant import HOLDING, ILLEGAL_ADDRESS, INPUT, Refused

from .test_givenergy_client import Harness

pytestmark = pytest.mark.usefixtures("socket_enabled")

FIXTURES = Path(__file__).parent / "fixtures"
GEN2 = FIXTURES / "givenergy_capture_gen2.json"
GEN1 = FIXTURES / "givenergy_capture_gen1.json"
AC = FIXTURES / "givenergy_capture_ac.json"
THREE_PHASE = FIXTURES / "givenergy_capture_three_phase.json"
HV_GEN3 = FIXTURES / "givenergy_capture_hv_gen3.json"
EMS = FIXTURES / "givenergy_capture_ems.json"
GATEWAY = FIXTURES / "givenergy_capture_gateway.json"


class Replay(Harness):
    """Dongles replaying captures of real units, and clients to them; closed afterwards."""

    async def client(self, capture: Path) -> tuple[GivEnergySimulator, GivEnergyClient]:
        return await self.start(unit=CapturedUnit.from_file(capture), retries=2, timeout=0.5)


@pytest.fixture
async def replay() -> AsyncIterator[Replay]:
    harness = Replay()
    yield harness
    await harness.aclose()


def _readable(client: GivEnergyClient, device: DeviceIdentity) -> list[str]:
    return [point.key for point in client.catalogue(device) if point.kind is not PointKind.ACTION]


@pytest.mark.parametrize(
    ("capture", "identity", "others"),
    [
        (
            GEN2,
            ("Hybrid Gen 2", "EA2302G000", "D0.920-A0.920", "givenergy_hybrid"),
            [("0x32", "DF2244G000"), ("0x01", "EA2302G000-meter-1")],
        ),
        (
            GEN1,
            ("Hybrid Gen 1", "SA2114G000", "D0.449-A0.449", "givenergy_hybrid_gen1"),
            # 0x34 and 0x35 answer with stray cell values and no serial: no pack there.
            [("0x32", "BG2134G000"), ("0x33", "DZ2228G000")],
        ),
        (
            AC,
            ("AC-coupled", "CE2231G000", "D0.291-A0.282", "givenergy_ac"),
            [("0x32", "AC0000G000")],
        ),
        (
            THREE_PHASE,
            # The capture has no holding registers; the fixture adds HR0 and the serial only.
            ("Three-phase hybrid", "TC2337G000", "D0.0-A0.0", "givenergy_three_phase"),
            [("0x01", "TC2337G000-meter-1"), ("0x02", "TC2337G000-meter-2")],
        ),
        (
            EMS,
            ("EMS plant controller", "EMS2522000", "D0.0-A0.1036", "givenergy_ems"),
            # The grid and load meters on the EMS bus (dewet22's capture notes).
            [("0x01", "EMS2522000-meter-1"), ("0x03", "EMS2522000-meter-3")],
        ),
        (
            GATEWAY,
            ("Gateway", "GW2412G000", "D0.0-A0.14", "givenergy_gateway"),
            [("0x01", "GW2412G000-meter-1"), ("0x02", "GW2412G000-meter-2")],
        ),
    ],
)
async def test_a_captured_unit_is_identified_as_the_peer_classifies_it(
    replay: Replay,
    capture: Path,
    identity: tuple[str, str, str, str],
    others: list[tuple[str, str]],
) -> None:
    _, client = await replay.client(capture)
    inverter, *devices = await client.identify()
    found = (inverter.model, inverter.serial_number, inverter.firmware, inverter.profile)
    assert found == identity
    assert [(device.address, device.serial_number) for device in devices] == others
    assert all(device.parent_serial == inverter.serial_number for device in devices)


async def test_a_captured_gen2_reads_through_a_session_with_home_assistants_signs(
    replay: Replay,
) -> None:
    _, client = await replay.client(GEN2)
    session = LinkSession(client)
    await session.start()
    session.want("test", None)
    await session.poll()
    values = session.state_of("EA2302G000").values
    # dewet22 tests/model/test_fixture_golden_master.py, Gen 2 capture.
    assert values["battery_charge_energy_today"] == 4.7
    assert values["battery_discharge_energy_today"] == 5.5
    assert values["pv_energy_today"] == 28.6
    # IR52 = 443: discharging, positive; IR30 = 2: GivEnergy's export, negative here.
    assert values["battery_power"] == 443
    assert values["battery_current"] == 8.2
    assert values["grid_power"] == -2
    assert values["battery_soc"] == 46
    assert values["load_power"] == 371
    assert values["pv_power"] == 0
    assert values["device_mode"] == "normal"
    pack = session.state_of("DF2244G000").values
    assert (pack["battery_soc"], pack["battery_cycles"], pack["battery_design_capacity"]) == (
        45,
        1179,
        186,
    )
    meter = session.state_of("EA2302G000-meter-1").values
    # IR60 2443, IR63 214, IR68 1, IR80 9690, IR84 4996, IR85 52434, IR87 14994.
    assert meter["grid_voltage_l1"] == 244.3
    assert meter["grid_current_l1"] == 2.14
    assert meter["grid_power_l1"] == 1
    assert meter["grid_power_factor_l1"] == 0.969
    assert meter["grid_frequency"] == 49.96
    assert meter["grid_import_energy"] == 5243.4
    assert meter["grid_export_energy"] == 1499.4


async def test_a_captured_gen1_charges_from_pv_and_exports(replay: Replay) -> None:
    _, client = await replay.client(GEN1)
    inverter, *_ = await client.identify()
    values = await client.read(inverter, _readable(client, inverter))
    # IR52 = 0xF640 (-2496 W): charging, negative; IR30 = 304: export, negative here.
    assert values["battery_power"] == -2496
    assert values["battery_current"] == -46.18
    assert values["grid_power"] == -304
    assert values["pv_power"] == 1891 + 1799
    assert values["battery_soc"] == 81
    # Gen 1 keeps today's battery energies at IR182 (discharge 65) and IR183 (charge 85).
    assert values["battery_discharge_energy_today"] == 6.5
    assert values["battery_charge_energy_today"] == 8.5
    assert values["pv_energy_today"] == 15.5


async def test_a_captured_ac_unit_counts_its_output_not_pv(replay: Replay) -> None:
    _, client = await replay.client(AC)
    inverter, *_ = await client.identify()
    values = await client.read(inverter, _readable(client, inverter))
    # dewet22 test_ac_coupled_inverter_gets_inverter_out_identity: IR44 63, IR45/46 26438.
    assert values["inverter_output_energy_today"] == 6.3
    assert values["inverter_output_energy"] == 2643.8
    assert not [key for key in values if key.startswith("pv")]
    assert (values["battery_soc"], values["export_priority"]) == (39, "load_first")


async def test_a_captured_three_phase_unit_reads_as_the_peer_decodes_it(replay: Replay) -> None:
    simulator, client = await replay.client(THREE_PHASE)
    inverter, *_ = await client.identify()
    values = await client.read(inverter, _readable(client, inverter))
    # dewet22 tests/model/test_three_phase_from_capture.py, same frames.
    assert values["battery_soc"] == 71
    assert values["battery_current"] == -0.01
    assert values["battery_voltage"] == 470.3
    # Charging 8.1 W (IR1138/1139), discharging 0: negative, as Home Assistant wants it.
    assert values["battery_power"] == -8.1
    assert (values["battery_charge_energy"], values["battery_discharge_energy"]) == (
        11840.2,
        10753.6,
    )
    voltages = [values[f"grid_voltage_l{phase}"] for phase in (1, 2, 3)]
    assert voltages == [405.4, 406.6, 406.3]
    assert [values[f"grid_current_l{phase}"] for phase in (1, 2, 3)] == [0.9, 0.8, 0.9]
    assert values["grid_frequency"] == 50.02
    # The meter exports 4 W and imports nothing: negative.
    assert values["grid_power"] == -4
    assert (values["load_power"], values["load_power_l3"]) == (339, 26.9)
    assert values["ac_output_apparent_power"] == 652
    # The banks of 60 start at 1000, 1060, 1120 ... and only those holding points are read.
    reads = sorted(key[2] for key in simulator.stats.requests if key[:2] == (0x11, 4))
    assert reads == [1000, 1060, 1120, 1360]


async def test_a_captured_ems_reads_its_plant_with_home_assistants_signs(
    replay: Replay,
) -> None:
    simulator, client = await replay.client(EMS)
    ems, grid_meter, _ = await client.identify()
    values = await client.read(ems, _readable(client, ems))
    # dewet22's capture tests (test_ems_plant_classifies_and_decodes_topology and the
    # full-cycle `_assert_ems_rollup`), same capture: two managed inverters, both with serials.
    assert (values["inverter_count"], values["meter_count"]) == (2, 2)
    assert values["inverter_1_serial_number"] == values["inverter_2_serial_number"] == "CE2231G000"
    assert values["device_mode"] == "normal"
    # In its export slot: the inverters put out 1042 + 1469 W, IR2090 2511 W (discharge,
    # positive); IR2089 -1834 W is the export, negative, as the grid meter at 0x01 says.
    assert (values["inverter_1_power"], values["inverter_2_power"]) == (1042, 1469)
    assert values["battery_power"] == 2511
    assert values["grid_power"] == -1834
    # The calculated load balances them: 2511 - 1834.
    assert values["load_power"] == 677
    meter = await client.read(grid_meter, ["grid_power"])
    assert meter["grid_power"] == -1836
    assert (values["inverter_1_battery_soc"], values["inverter_2_battery_soc"]) == (31, 16)
    assert values["inverter_1_temperature"] == 50.3
    assert values["battery_remaining_energy"] == 4105
    # The empty slots 3 and 4 are in the catalogue but off by default.
    assert not [
        point.key
        for point in client.catalogue(ems)
        if point.key.startswith(("inverter_3", "inverter_4")) and point.enabled_by_default
    ]
    # The whole plant is one request at IR2040; no LV pack is looked for.
    assert sorted(key[2] for key in simulator.stats.requests if key[:2] == (0x11, 4)) == [2040]
    assert not [key for key in simulator.stats.requests if key[0] in PACKS]


async def test_a_captured_gateway_reads_as_the_peer_decodes_it(replay: Replay) -> None:
    simulator, client = await replay.client(GATEWAY)
    gateway, _, pv_meter = await client.identify()
    values = await client.read(gateway, _readable(client, gateway))
    # dewet22's full-cycle capture test (`_assert_gateway`), same capture: lifetime totals
    # high word first, two All-in-Ones and their serials.
    assert values["grid_import_energy"] == 12710.8
    assert values["pv_energy"] == 5087.0
    assert values["battery_charge_energy"] == 8855.9
    assert values["aio_count"] == 2
    assert (values["aio_1_serial_number"], values["aio_2_serial_number"]) == (
        "CH2414G000",
        "CH2542G000",
    )
    # IR1640 280, IR1795 191, IR1798 20, IR1801/1802 94 and 96.
    assert values["grid_import_energy_today"] == 28.0
    assert (values["battery_charge_energy_today"], values["battery_discharge_energy_today"]) == (
        19.1,
        2.0,
    )
    assert (values["aio_1_battery_soc"], values["aio_2_battery_soc"]) == (94, 96)
    # IR1617 agrees with the PV meter on the same bus (0x02, IR68).
    assert values["pv_power"] == 1997
    assert (await client.read(pv_meter, ["grid_power_l1"]))["grid_power_l1"] == 1997
    assert values["load_power"] == 1109
    # The banks of 60 start at 1600, 1660, 1720 ... and only those holding points are read.
    reads = sorted(key[2] for key in simulator.stats.requests if key[:2] == (0x11, 4))
    assert reads == [1600, 1660, 1780, 1840]
    assert not [key for key in simulator.stats.requests if key[0] in PACKS]


@pytest.mark.parametrize(
    ("capture", "inverter_reads"),
    # Gen 2: IR0, HR0, HR60. Gen 1 adds IR180; AC-coupled adds HR300. Three-phase: four
    # input banks from IR1000 and no holding bank. EMS: IR2040 alone. Gateway: IR1600,
    # IR1660, IR1780 and IR1840.
    [(GEN2, 3), (GEN1, 4), (AC, 4), (THREE_PHASE, 4), (EMS, 1), (GATEWAY, 4)],
)
async def test_a_full_read_of_a_real_unit_takes_one_request_per_bank(
    replay: Replay, capture: Path, inverter_reads: int
) -> None:
    _, client = await replay.client(capture)
    devices = await client.identify()
    for device, expected in zip(devices, [inverter_reads] + [1] * len(devices), strict=False):
        before = client.transactions
        values = await client.read(device, _readable(client, device))
        assert client.transactions - before == expected, device.title
        assert values


def test_a_real_hv_gen3_holds_its_ten_slot_targets_where_the_profile_reads_them() -> None:
    # The HV Gen 3 capture has no identity bank, so it is decoded here without identify.
    data = json.loads(HV_GEN3.read_text(encoding="utf-8"))
    tables = data["devices"]["0x11"]
    registers = {
        (Access(access), int(register)): value
        for access, table in tables.items()
        for register, value in table.items()
    }
    profile = shipped_profiles()[detect(0x8102, 0).profile]
    values = profile.values([point.key for point in profile.catalogue()], registers)
    # HR242 + 3k holds 100 for every charge slot, HR272 + 3k the discharge floors.
    assert [values[f"charge_slot_{n}_target_soc"] for n in range(1, 11)] == [100] * 10
    discharge = [values[f"discharge_slot_{n}_target_soc"] for n in range(1, 11)]
    assert discharge == [4, 10, 10, 10, 10, 10, 10, 4, 4, 10]
    # dewet22 test_hybrid_hv_gen3_from_capture.py: single-phase layout, HV battery.
    assert (values["battery_soc"], values["battery_voltage"], values["battery_power"]) == (
        100,
        240.07,
        58,
    )
    assert (values["pv1_power"], values["pv2_power"]) == (674, 4531)
    assert (values["pv1_energy_today"], values["pv2_energy_today"]) == (6.2, 14.9)
    # Exporting most of the PV: negative.
    assert values["grid_power"] == -4458


# The capture replay itself -----------------------------------------------------------------


def _unit(**devices: Any) -> CapturedUnit:
    return CapturedUnit.from_data({"inverter_serial": "CE2231G000", "devices": devices})


def test_a_capture_answers_what_it_holds_and_refuses_the_rest() -> None:
    unit = _unit(**{"0x11": {"holding": {"20": 1, "21": 449}, "input": {"59": 77}}})
    assert unit.read(0x11, INPUT, 59, 1) == [77]
    # The 0x31 facade serves the inverter's registers, as on a real dongle.
    assert unit.read(0x31, HOLDING, 20, 2) == [1, 449]
    # A register the capture lacks is never made up.
    assert unit.read(0x11, HOLDING, 19, 2) == Refused(code=ILLEGAL_ADDRESS)
    assert unit.read(0x11, HOLDING, 60, 60) == Refused(code=ILLEGAL_ADDRESS)
    assert unit.read(0x05, INPUT, 60, 30) is None
    assert unit.write(0x11, 20, 0) == [0]
    assert unit.read(0x11, HOLDING, 20, 1) == [0]
    assert unit.write(0x11, 22, 0) == Refused(code=ILLEGAL_ADDRESS)
    assert unit.write(0x05, 20, 0) is None


@pytest.mark.parametrize(
    "data",
    [
        {"devices": {}},
        {"inverter_serial": "CE2231G000", "devices": {"inverter": {}}},
        {"inverter_serial": "CE2231G000", "devices": {"0x11": {"coils": {}}}},
        {"inverter_serial": "CE2231G000", "devices": {"0x11": {"input": []}}},
        {"inverter_serial": "CE2231G000", "devices": {"0x11": {"input": {"1": "x"}}}},
        {"inverter_serial": "CE2231G000", "devices": {"0x11": {"input": {"1": 70000}}}},
    ],
)
def test_a_capture_that_is_not_registers_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(CaptureError):
        CapturedUnit.from_data(data)


def test_an_unreadable_capture_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot read"):
        CapturedUnit.from_file(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    with pytest.raises(CaptureError, match="JSON object"):
        CapturedUnit.from_file(tmp_path / "list.json")


def test_every_fixture_names_its_source() -> None:
    for path in (GEN2, GEN1, AC, THREE_PHASE, HV_GEN3, EMS, GATEWAY):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["source"].startswith("dewet22/givenergy-modbus tests/fixtures/captures/")


async def test_the_simulator_command_line_replays_a_capture(unused_tcp_port: int) -> None:
    args = parse_args(["--tcp", f"127.0.0.1:{unused_tcp_port}", "--capture", str(GEN2)])
    stop = asyncio.Event()
    task = asyncio.create_task(serve(args, stop))
    client = GivEnergyClient(TcpLink("127.0.0.1", unused_tcp_port, timeout=0.5), pace=0.0)
    try:
        for _ in range(100):
            try:
                await client.connect()
                break
            except LinkError:
                await asyncio.sleep(0.02)
        assert await client.read_registers(0x11, "holding", 0, 1) == [0x2003]
    finally:
        await client.close()
        stop.set()
        await task


def test_meters_are_looked_for_at_their_eight_addresses() -> None:
    assert list(METERS) == [1, 2, 3, 4, 5, 6, 7, 8]
