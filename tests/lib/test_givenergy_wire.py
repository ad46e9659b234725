"""The GivEnergy wire against the simulated dongle: heartbeats, matching, pace, faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import time

from inverterlib.errors import DeviceRefusedError, FrameError, LinkError, LinkTimeoutError
from inverterlib.givenergy import wire as wire_module
from inverterlib.givenergy.wire import MAX_INBOX, GivEnergyWire
from inverterlib.transport.tcp import TcpLink
import pytest

from simulators.givenergy import (
    Fault,
    GivEnergySimulator,
    Request,
    heartbeat,
    lan_broadcast,
    null_reply,
)
from simulators.givenergy_plant import Plant

# Real sockets, limited to 127.0.0.1 by the Home Assistant test plugin.
pytestmark = pytest.mark.usefixtures("socket_enabled")

# Short enough to keep fault tests quick, long enough for loopback on a busy machine.
TIMEOUT = 0.3
# "Eventually" on a shared, loaded CI machine.
PATIENCE = 20.0
INVERTER = 0x11
INPUT = 0x04
HOLDING = 0x03


class Harness:
    """Simulated dongles and wires to them; everything is closed afterwards."""

    def __init__(self) -> None:
        self.simulators: list[GivEnergySimulator] = []
        self.wires: list[GivEnergyWire] = []

    async def start(
        self, *, pace: float = 0.0, timeout: float = TIMEOUT, **options: float
    ) -> tuple[GivEnergySimulator, GivEnergyWire]:
        simulator = GivEnergySimulator(Plant(), **options)  # type: ignore[arg-type]
        await simulator.start()
        self.simulators.append(simulator)
        host, port = simulator.address
        wire = GivEnergyWire(TcpLink(host, port, timeout=timeout), pace=pace)
        self.wires.append(wire)
        return simulator, wire

    async def aclose(self) -> None:
        for wire in self.wires:
            await wire.close()
            await wire.link.close()
        for simulator in self.simulators:
            await simulator.stop()


@pytest.fixture
async def dongle() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    await harness.aclose()


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until `condition` holds, failing after a generous while."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.01)


async def test_a_read_returns_the_registers_asked_for(dongle: Harness) -> None:
    simulator, wire = await dongle.start()
    values = await wire.read(INVERTER, INPUT, 0, 60)
    assert len(values) == 60
    assert values[59] == simulator.plant.soc
    assert await wire.read(INVERTER, HOLDING, 110, 3) == (4, 50, 50)
    assert wire.transactions == 2


async def test_heartbeats_are_answered_while_the_client_is_idle(dongle: Harness) -> None:
    simulator, wire = await dongle.start(heartbeat_interval=0.05, heartbeat_deadline=2.0)
    await wire.read(INVERTER, INPUT, 59, 1)
    # The client now sits idle; the dongle keeps asking and must keep getting answers.
    await eventually(lambda: simulator.stats.heartbeats_sent >= 6)
    await eventually(lambda: len(simulator.stats.heartbeat_latencies) >= 5)
    assert simulator.stats.drops == 0
    assert wire.heartbeats >= 5
    # Still connected and serving: the same connection answers the next request.
    assert len(simulator.connections) == 1
    assert (await wire.read(INVERTER, INPUT, 59, 1)) == (simulator.plant.soc,)


async def test_a_client_that_never_answers_heartbeats_is_dropped(dongle: Harness) -> None:
    simulator, _ = await dongle.start(heartbeat_interval=0.02, heartbeat_deadline=0.05)
    host, port = simulator.address
    reader, writer = await asyncio.open_connection(host, port)
    try:
        # Three heartbeats unanswered, then the dongle hangs up.
        async with asyncio.timeout(5):
            while await reader.read(100):
                pass
        assert simulator.stats.drops == 1
        assert simulator.stats.heartbeats_sent == 3
    finally:
        writer.close()


async def test_heartbeats_inside_a_reply_burst_are_answered(dongle: Harness) -> None:
    simulator, wire = await dongle.start()
    simulator.inject(Fault.CONCATENATE)
    assert await wire.read(INVERTER, HOLDING, 110, 1) == (4,)
    assert wire.heartbeats == 1


async def test_a_reply_to_another_request_is_dropped(dongle: Harness) -> None:
    simulator, wire = await dongle.start()
    simulator.inject(Fault.OTHER_FIRST)
    assert await wire.read(INVERTER, HOLDING, 110, 3) == (4, 50, 50)
    simulator.inject(Fault.OTHER_FIRST)
    assert await wire.write(INVERTER, 110, 20) == 20


async def test_a_late_reply_is_never_taken_for_the_next_one(dongle: Harness) -> None:
    simulator, wire = await dongle.start(late_delay=TIMEOUT * 2)
    simulator.inject(Fault.LATE)
    with pytest.raises(
        LinkTimeoutError, match=r"device 0x11 did not answer the input registers 0\+60"
    ):
        await wire.read(INVERTER, INPUT, 0, 60)
    # The late input bank arrives while the holding bank is awaited, and is dropped.
    assert await wire.read(INVERTER, HOLDING, 110, 1, timeout=PATIENCE) == (4,)
    assert await wire.read(INVERTER, INPUT, 59, 1) == (simulator.plant.soc,)


async def test_an_error_frame_is_a_refusal_that_names_the_exception(dongle: Harness) -> None:
    simulator, wire = await dongle.start()
    with pytest.raises(
        DeviceRefusedError, match="refused the write of 101 to register 110: ILLEGAL_DATA_VALUE"
    ):
        await wire.write(INVERTER, 110, 101)
    with pytest.raises(DeviceRefusedError, match="ILLEGAL_DATA_ADDRESS"):
        await wire.write(INVERTER, 1000, 1)
    simulator.inject(Fault.REFUSE)
    with pytest.raises(DeviceRefusedError, match="input registers 0\\+1: SERVER_DEVICE_FAILURE"):
        await wire.read(INVERTER, INPUT, 0, 1)


async def test_an_error_frame_without_a_code_is_still_a_refusal(dongle: Harness) -> None:
    simulator, wire = await dongle.start()
    original = simulator.error
    simulator.error = lambda request, code: original(request, 0)  # type: ignore[method-assign]
    with pytest.raises(DeviceRefusedError, match="an error frame"):
        await wire.write(INVERTER, 110, 101)


async def test_silence_at_a_meter_address_is_a_timeout(dongle: Harness) -> None:
    _, wire = await dongle.start()
    with pytest.raises(LinkTimeoutError, match="device 0x01"):
        await wire.read(0x01, INPUT, 60, 30)


@pytest.mark.parametrize(
    "fault",
    [
        Fault.FRAGMENT,
        Fault.GARBAGE,
        Fault.NULL,
        Fault.LAN_BROADCAST,
        Fault.CONCATENATE,
        Fault.SLOW,
    ],
)
async def test_noisy_replies_still_give_the_right_registers(dongle: Harness, fault: Fault) -> None:
    simulator, wire = await dongle.start(slow_byte_delay=0.0005, timeout=2.0)
    clean = await wire.read(INVERTER, INPUT, 0, 60)
    simulator.inject(fault)
    assert await wire.read(INVERTER, INPUT, 0, 60) == clean


async def test_a_zeroed_crc_is_refused_and_the_request_times_out(dongle: Harness) -> None:
    simulator, wire = await dongle.start()
    simulator.inject(Fault.ZERO_CRC)
    with pytest.raises(LinkTimeoutError):
        await wire.read(INVERTER, INPUT, 0, 60)
    assert await wire.read(INVERTER, INPUT, 59, 1) == (simulator.plant.soc,)


async def test_a_dropped_socket_fails_the_request_and_the_next_one_reconnects(
    dongle: Harness,
) -> None:
    simulator, wire = await dongle.start()
    await wire.read(INVERTER, INPUT, 59, 1)
    simulator.inject(Fault.DISCONNECT)
    with pytest.raises(LinkError):
        await wire.read(INVERTER, INPUT, 0, 60)
    assert await wire.read(INVERTER, INPUT, 59, 1) == (simulator.plant.soc,)


async def test_a_half_frame_from_a_dead_connection_does_not_poison_the_next(
    dongle: Harness,
) -> None:
    simulator, wire = await dongle.start()
    await wire.read(INVERTER, INPUT, 59, 1)
    # Half a heartbeat, then the dongle goes away while the client is idle.
    simulator.broadcast(heartbeat(simulator.adapter_serial)[:9])
    await asyncio.sleep(0.05)
    simulator.drop_clients()
    await eventually(lambda: not wire.link.is_open)
    assert await wire.read(INVERTER, INPUT, 59, 1) == (simulator.plant.soc,)


async def test_unsolicited_frames_while_idle_are_ignored(dongle: Harness) -> None:
    simulator, wire = await dongle.start()
    await wire.read(INVERTER, INPUT, 59, 1)
    simulator.broadcast(null_reply(simulator.adapter_serial))
    simulator.broadcast(lan_broadcast(simulator.adapter_serial))
    stray = Request(function=2, device=INVERTER, inner_function=HOLDING, base=50, word=1)
    simulator.broadcast(simulator.other_reply(stray))
    await asyncio.sleep(0.05)
    assert await wire.read(INVERTER, HOLDING, 110, 1) == (4,)


async def test_the_pace_keeps_a_slow_dongle_answering(dongle: Harness) -> None:
    # A dongle that ignores requests sent within 0.3 s of its last reply.
    hurried, fast = await dongle.start(min_interval=0.3)
    await fast.read(INVERTER, INPUT, 59, 1)
    with pytest.raises(LinkTimeoutError):
        await fast.read(INVERTER, INPUT, 59, 1)
    assert hurried.stats.too_soon == 1
    paced_dongle, paced = await dongle.start(min_interval=0.3, pace=0.35)
    for _ in range(2):
        await paced.read(INVERTER, INPUT, 59, 1)
    assert paced_dongle.stats.too_soon == 0


async def test_a_wrong_register_count_is_a_frame_error(dongle: Harness) -> None:
    simulator, wire = await dongle.start()
    plant = simulator.plant
    original = plant.read
    plant.read = lambda device, function, base, count: original(device, function, base, 2)  # type: ignore[method-assign]
    with pytest.raises(FrameError, match="2 registers in the reply"):
        await wire.read(INVERTER, INPUT, 0, 3)


async def test_a_flooded_inbox_fails_the_request_and_the_stream_starts_afresh(
    dongle: Harness,
) -> None:
    simulator, wire = await dongle.start(timeout=PATIENCE)
    simulator.inject(Fault.SILENCE)
    pending = asyncio.create_task(wire.read(INVERTER, INPUT, 0, 60))
    await eventually(lambda: simulator.stats.total == 1)
    wire.link.inbox.feed(bytes(MAX_INBOX + 1))
    with pytest.raises(FrameError, match="without a complete frame"):
        await pending
    assert await wire.read(INVERTER, INPUT, 59, 1) == (simulator.plant.soc,)
    # Idle now: the listener survives a flood too, and still answers heartbeats.
    await eventually(wire.link.lock.locked)
    wire.link.inbox.feed(bytes(MAX_INBOX + 1))
    simulator.send_heartbeat()
    await eventually(lambda: wire.heartbeats == 1)
    assert await wire.read(INVERTER, INPUT, 59, 1) == (simulator.plant.soc,)


async def test_the_listener_keeps_listening_through_quiet_spells(
    dongle: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wire_module, "LISTEN_WINDOW", 0.01)
    simulator, wire = await dongle.start()
    await wire.read(INVERTER, INPUT, 59, 1)
    await asyncio.sleep(0.05)
    simulator.send_heartbeat()
    await eventually(lambda: wire.heartbeats == 1)


async def test_closing_stops_the_listener(dongle: Harness) -> None:
    _, wire = await dongle.start()
    await wire.read(INVERTER, INPUT, 59, 1)
    await wire.close()
    await wire.close()
    assert wire.link.lock.locked() is False
