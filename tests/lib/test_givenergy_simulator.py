"""The simulated GivEnergy plant and dongle on their own: physics, refusals, framing, CLI."""

from __future__ import annotations

import asyncio

import pytest

from simulators import givenergy as sim
from simulators.givenergy_plant import (
    ILLEGAL_ADDRESS,
    ILLEGAL_VALUE,
    Kind,
    Plant,
    Refused,
)

INVERTER = 0x11
INPUT = 0x04
HOLDING = 0x03


def test_the_grid_balances_pv_battery_and_load() -> None:
    plant = Plant()
    flows = plant.flows
    assert flows.grid_export == flows.pv1 + flows.pv2 + flows.battery - flows.load
    registers = plant.inverter_inputs()
    assert registers[44] == registers[17] + registers[19]
    assert registers[30] == round(flows.grid_export)


def test_energy_and_charge_follow_power_over_time() -> None:
    plant = Plant()
    before = plant.counters.pv_total, plant.counters.export_total, plant.soc
    plant.advance(3600)
    assert plant.counters.pv_total - before[0] == pytest.approx(3.0)
    assert plant.counters.export_total - before[1] == pytest.approx(0.6)
    # 1.5 kWh into 16.4 kWh of packs.
    assert plant.soc == before[2] + 9
    assert plant.pack_inputs(0)[100] == plant.soc


def test_a_discharging_ac_unit_imports_and_counts_its_output() -> None:
    plant = Plant(Kind.AC)
    counters = plant.counters
    before = counters.import_total, counters.inverter_out_total, counters.battery_discharge_total
    plant.advance(3600)
    assert counters.import_total - before[0] == pytest.approx(0.3)
    assert counters.inverter_out_total - before[1] == pytest.approx(0.8)
    assert counters.battery_discharge_total - before[2] == pytest.approx(0.8)
    plant.advance(20 * 3600)
    assert plant.soc == 0


@pytest.mark.parametrize(
    ("request_", "answer"),
    [
        ((INVERTER, INPUT, 0, 0), Refused(code=ILLEGAL_VALUE)),
        ((INVERTER, INPUT, 240, 10), Refused(code=ILLEGAL_ADDRESS)),
        ((INVERTER, HOLDING, 360, 10), Refused(code=ILLEGAL_ADDRESS)),
        ((INVERTER, 0x16, 0, 10), Refused(code=ILLEGAL_ADDRESS)),
        # Hybrids time out on the AC-config bank.
        ((INVERTER, HOLDING, 300, 60), None),
        ((0x32, HOLDING, 60, 60), Refused(code=ILLEGAL_ADDRESS)),
        # No meter: silence.
        ((0x01, INPUT, 60, 30), None),
    ],
)
def test_reads_a_unit_refuses_or_ignores(
    request_: tuple[int, int, int, int], answer: object
) -> None:
    assert Plant().read(*request_) == answer


def test_the_ac_config_bank_and_empty_pack_slots_answer() -> None:
    plant = Plant(Kind.AC, packs=1)
    assert plant.read(INVERTER, HOLDING, 311, 1) == [0]
    assert plant.read(0x33, INPUT, 60, 60) == [0] * 60
    assert plant.read(0x31, INPUT, 59, 1) == [plant.soc]


@pytest.mark.parametrize(
    ("kind", "device", "register", "value", "answer"),
    [
        (Kind.GEN2, INVERTER, 116, 80, [80]),
        (Kind.GEN2, INVERTER, 116, 101, Refused(code=ILLEGAL_VALUE)),
        (Kind.GEN2, INVERTER, 94, 2360, Refused(code=ILLEGAL_VALUE)),
        (Kind.GEN2, INVERTER, 0, 1, Refused(code=ILLEGAL_ADDRESS)),
        (Kind.GEN2, INVERTER, 318, 1, Refused(code=ILLEGAL_ADDRESS)),
        (Kind.AC, INVERTER, 318, 3, [3]),
        (Kind.GEN2, 0x32, 110, 1, Refused(code=ILLEGAL_ADDRESS)),
        (Kind.GEN2, 0x05, 110, 1, None),
    ],
)
def test_writes_a_unit_takes_or_refuses(
    kind: Kind, device: int, register: int, value: int, answer: object
) -> None:
    plant = Plant(kind)
    assert plant.write(device, register, value) == answer
    if isinstance(answer, list):
        assert plant.holding[register] == value


def test_a_reboot_is_counted_not_stored() -> None:
    plant = Plant()
    assert plant.write(INVERTER, 163, 100) == [100]
    assert (plant.reboots, plant.holding[163]) == (1, 0)


def test_malformed_client_frames_are_ignored() -> None:
    good = sim.transparent("AB1234G567", bytes((INVERTER, INPUT, 0, 0, 0, 60)))
    bad_crc = good[:-1] + bytes((good[-1] ^ 1,))
    no_count = good[:18] + bytes(8) + good[26:]
    long_frame = sim.outer(sim.TRANSPARENT, good[8:] + b"\x00")
    odd_function = sim.outer(0x05, b"AB1234G567\x01")
    assert sim.next_request(bytearray(sim.MARKER + b"\x00\x1c")) is None
    buffer = bytearray(b"noise" + bad_crc + no_count + long_frame + odd_function + good[:20])
    assert sim.next_request(buffer) is None
    buffer += good[20:] + b"\x59\x59"
    assert sim.next_request(buffer) == sim.Request(
        function=2, device=INVERTER, inner_function=INPUT, base=0, word=60
    )
    assert sim.next_request(buffer) is None
    assert buffer == b"\x59\x59"
    assert sim.next_request(bytearray(b"no marker at all")) is None


async def test_the_command_line_serves_until_stopped(
    capsys: pytest.CaptureFixture[str], socket_enabled: None
) -> None:
    stop = asyncio.Event()
    args = sim.parse_args(["--tcp", "127.0.0.1:0", "--kind", "ac", "--packs", "1"])
    serving = asyncio.create_task(sim.serve(args, stop))
    deadline = asyncio.get_running_loop().time() + 20
    while "serving" not in (out := capsys.readouterr().out):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    host, port = out.rsplit("tcp://", 1)[1].strip().rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(sim.transparent("AB1234G567", bytes((INVERTER, HOLDING, 0, 0, 0, 1))))
    reply = await reader.read(100)
    assert reply.startswith(sim.MARKER)
    writer.close()
    stop.set()
    await serving


async def test_a_heartbeat_answered_with_another_adapter_type_is_a_miss(
    socket_enabled: None,
) -> None:
    async with sim.GivEnergySimulator(heartbeat_interval=0.02, heartbeat_deadline=0.05) as dongle:
        reader, writer = await asyncio.open_connection(*dongle.address)
        writer.write(sim.heartbeat(dongle.adapter_serial, adapter_type=7))
        async with asyncio.timeout(20):
            while await reader.read(100):
                writer.write(sim.heartbeat(dongle.adapter_serial, adapter_type=7))
        writer.close()
        assert dongle.stats.drops == 1
        assert dongle.stats.heartbeat_latencies == []


def test_main_runs_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    async def served(args: object, stop: asyncio.Event) -> None:
        seen.append((args, stop.is_set()))

    monkeypatch.setattr(sim, "serve", served)
    assert sim.main(["--kind", "gen1"]) == 0
    assert len(seen) == 1


def test_a_meter_answers_its_bank_only_and_counts_import_positive() -> None:
    plant = Plant(Kind.GEN2, meter=True)
    bank = plant.read(0x01, INPUT, 60, 30)
    assert isinstance(bank, list)
    # Exporting 600 W: the meter's active power (IR71) is negative.
    assert (bank[0], bank[11]) == (2412, 0x10000 - 600)
    assert plant.read(0x01, HOLDING, 60, 30) == Refused(code=ILLEGAL_ADDRESS)
    assert plant.read(0x01, INPUT, 0, 60) == Refused(code=ILLEGAL_ADDRESS)
    assert Plant(Kind.GEN2).read(0x01, INPUT, 60, 30) is None
    assert plant.write(0x01, 60, 1) is None
