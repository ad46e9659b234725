"""The SCOM watchdog option: units fall back to their saved settings when the link stops."""

from __future__ import annotations

from collections.abc import AsyncIterator
import logging
from pathlib import Path

from inverterlib.families import create_client
from inverterlib.family import ClientOptions
from inverterlib.session import LinkSession
from inverterlib.xcom.client import WATCHDOG_DELAY, WATCHDOG_KEEPALIVE, XcomClient
from inverterlib.xcom.spec import SCOM_WATCHDOG, SPEC
import pytest

from simulators.xcom import XcomSimulator
from simulators.xcom_frames import ERRORS, WRITE, Request, build_reply
from simulators.xcom_units import Xtender

from .xcom_support import INPUT_LIMIT, Harness, by_address

WATCHDOGS = {101: (1628, 1629), 102: (1628, 1629), 103: (1628, 1629), 301: (10342, 10343)}


class Clock:
    """A clock the test moves by hand, shared by the simulator, the client and the session."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="xcom")
async def xcom_fixture(tmp_path: Path, socket_enabled: None) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    await harness.aclose()


def watchdog_of(simulator: XcomSimulator, address: int) -> tuple[float, float]:
    """Return the RAM values of a simulated unit's watchdog switch and delay."""
    enable, delay = (simulator.units[address].parameters[n] for n in WATCHDOGS[address])
    return enable.ram, delay.ram


def writes(simulator: XcomSimulator) -> list[str]:
    return [request for request in simulator.stats.requests if request.startswith("write")]


async def test_the_option_switches_each_watchdog_on_in_ram(xcom: Harness) -> None:
    """Even with flash writes allowed, the watchdogs go to RAM: delay first, then the switch."""
    assert SCOM_WATCHDOG in SPEC.options
    assert SCOM_WATCHDOG.expert
    simulator = XcomSimulator(variostring=True, clock=lambda: 1000.0)
    xcom.simulators.append(simulator)
    host, port = await simulator.start_tcp()
    switches = {"scom_watchdog": True, "write_to_flash": True}
    client = create_client("xcom", f"tcp://{host}:{port}", ClientOptions(switches=switches))
    xcom.links.append(client.link)
    assert isinstance(client, XcomClient)
    assert client.watchdog == WATCHDOG_DELAY
    await client.identify()
    watchdogs = {**WATCHDOGS, 701: (14218, 14219)}
    for address, (enable, delay) in watchdogs.items():
        unit = simulator.units[address]
        assert (unit.parameters[enable].ram, unit.parameters[delay].ram) == (1, WATCHDOG_DELAY)
        assert (unit.parameters[enable].flash, unit.parameters[delay].flash) == (0, 60)
        assert unit.flash_writes == 0
        order = writes(simulator)
        assert order.index(f"write parameter {delay} @{address}") < order.index(
            f"write parameter {enable} @{address}"
        )
    # Neither the BSP nor the Xcom (whose own watchdog restarts the Xcom) is touched.
    others = [request for request in writes(simulator) if request.endswith(("@601", "@501"))]
    assert others == ["write parameter 5104 @501"]
    assert simulator.gateway.parameters[5095].ram == 0
    diagnostics = client.diagnostics()
    assert diagnostics["scom_watchdog_delay"] == WATCHDOG_DELAY
    assert diagnostics["scom_watchdogs_on"] == sorted(watchdogs)
    assert diagnostics["scom_watchdog_writes"] == 2 * len(watchdogs)
    assert diagnostics["flash_writes"] == 0


async def test_without_the_option_an_installers_watchdog_is_left_alone(xcom: Harness) -> None:
    simulator = XcomSimulator(clock=lambda: 1000.0)
    installed = simulator.units[101].parameters[1628]
    installed.flash = installed.ram = 1
    _, client = await xcom.start(simulator=simulator)
    devices = by_address(await client.identify())
    await client.read(devices[101], ["battery_voltage"])
    assert writes(simulator) == ["write parameter 5104 @501"]
    assert installed.ram == 1
    diagnostics = client.diagnostics()
    assert diagnostics["scom_watchdog_delay"] is None
    assert diagnostics["scom_watchdogs_on"] == []
    assert diagnostics["scom_watchdog_writes"] == 0


@pytest.mark.parametrize("multi_info", [True, False])
async def test_polling_keeps_the_watchdogs_quiet_and_silence_lets_them_fire(
    xcom: Harness, multi_info: bool
) -> None:
    clock = Clock()
    simulator, client = await xcom.start(
        simulator=XcomSimulator(multi_info=multi_info, clock=clock),
        watchdog=WATCHDOG_DELAY,
        clock=clock,
    )
    session = LinkSession(client, clock=clock)
    await session.start()
    serials = {state.identity.address: serial for serial, state in session.devices.items()}
    await session.write(serials["101"], INPUT_LIMIT, 16, source="test")
    limit = simulator.units[101].parameters[1107]
    assert (limit.ram, limit.flash) == (16, 32)
    # Polls 10 s apart for 2.5 watchdog delays: multi-info requests go to the Xcom, so the
    # client reads each unit's watchdog switch whenever the unit heard nothing for a while.
    for _ in range(30):
        await session.poll()
        clock.now += 10.0
    assert [unit.watchdog_fallbacks for unit in simulator.units.values()] == [0] * 5
    assert limit.ram == 16
    keepalives = simulator.stats.requests["read parameter 1628 @101"] - 1
    if multi_info:
        assert keepalives >= 300 / (WATCHDOG_KEEPALIVE + 10.0)
    else:
        # Every poll reads each unit's infos directly: no keep-alive is needed.
        assert keepalives == 0
    # The link stops for longer than the delay: every unit falls back, the BSP has no watchdog.
    clock.now += WATCHDOG_DELAY + 1.0
    simulator.watch()
    assert [unit.watchdog_fallbacks for unit in simulator.units.values()] == [1, 1, 1, 1, 0]
    assert limit.ram == 32
    assert watchdog_of(simulator, 101) == (0, 60)
    # The link works again: the client finds every watchdog off and switches it on again.
    await session.poll()
    assert client.watchdog_fallbacks == len(WATCHDOGS)
    assert all(watchdog_of(simulator, a) == (1, WATCHDOG_DELAY) for a in WATCHDOGS)
    assert client.diagnostics()["scom_watchdog_fallbacks"] == len(WATCHDOGS)
    await session.close()


async def test_units_that_refuse_a_watchdog_are_left_without(
    xcom: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    simulator = XcomSimulator(clock=lambda: 1000.0)
    # 102 keeps no RAM copy (firmware before 1.6.12), 301 refuses, 103 loses its switch.
    simulator.units[102].ram = False
    original = simulator.answer

    def refuse_or_forget(request: Request) -> bytes:
        if request.service == WRITE and request.destination == 301:
            return build_reply(request, flags=simulator.flags, error=ERRORS["ACCESS_DENIED"])
        reply = original(request)
        if request.service == WRITE and (request.destination, request.object_id) == (103, 1628):
            simulator.units[103].parameters[1628].ram = 0
        return reply

    simulator.answer = refuse_or_forget  # type: ignore[method-assign]
    _, client = await xcom.start(simulator=simulator, watchdog=WATCHDOG_DELAY)
    with caplog.at_level(logging.WARNING, logger="inverterlib.xcom.client"):
        await client.identify()
    assert sorted(client.armed) == [101]
    assert simulator.units[102].parameters[1628].flash == 0
    assert simulator.units[102].flash_writes == 0
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert "watchdog of unit 102" in warned
    assert "watchdog of unit 301: write 10343 at address 301: ACCESS_DENIED" in warned
    assert "1628 reads back as False" in warned
    # Found again later, the unit without RAM is not asked again.
    caplog.clear()
    before = simulator.stats.requests["write parameter 1629 @102"]
    with caplog.at_level(logging.WARNING, logger="inverterlib.xcom.client"):
        await client.identify()
    assert simulator.stats.requests["write parameter 1629 @102"] == before
    assert "unit 102 keeps no RAM copy" in caplog.text


async def test_a_silent_unit_is_kept_alive_at_most_once_a_period(xcom: Harness) -> None:
    clock = Clock()
    simulator, client = await xcom.start(
        simulator=XcomSimulator(clock=clock), watchdog=WATCHDOG_DELAY, clock=clock, timeout=0.3
    )
    devices = by_address(await client.identify())
    simulator.hang(101)
    clock.now += WATCHDOG_KEEPALIVE
    assert await client.read(devices[103], ["battery_voltage"])
    asked = simulator.stats.requests["read parameter 1628 @101"]
    assert await client.read(devices[103], ["battery_voltage"])
    assert simulator.stats.requests["read parameter 1628 @101"] == asked
    assert client.watchdog_fallbacks == 0
    # A unit that joins later gets its watchdog too.
    simulator.units[104] = Xtender(104, simulator.installation)
    await client.scan([104])
    assert 104 in client.armed
    assert simulator.units[104].parameters[1628].ram == 1
