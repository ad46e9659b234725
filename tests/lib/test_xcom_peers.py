"""Parallel Xtenders checked against each other: a value far from its phase peers' is held back."""

from __future__ import annotations

from collections.abc import AsyncIterator
import logging
from pathlib import Path

from inverterlib.model import Snapshot
from inverterlib.session import LinkSession
from inverterlib.xcom.codec import Raw
from inverterlib.xcom.peers import InfoItem, Peer, strays
import pytest

from simulators.xcom import XcomSimulator
from simulators.xcom_frames import ERRORS, MULTI_INFO, Request, build_reply
from simulators.xcom_units import Xtender

from .xcom_support import Harness, by_address, identified, number

CURRENT, POWER = 3022, 3136
# Within the point's plausible range (±100 A), so the session's own filter lets it pass.
ABSURD_AMPS = 95.0
LOGGER = "inverterlib.xcom.client"


@pytest.fixture(name="xcom")
async def xcom_fixture(tmp_path: Path, socket_enabled: None) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    await harness.aclose()


def phase(*addresses: int, on: float = 1.0, volts: float = 230.0) -> dict[int, Peer]:
    return {a: Peer(address=a, phase=on, volts=volts) for a in addresses}


def values(info: int, **by_unit: float) -> dict[InfoItem, Raw]:
    return {(int(name[1:]), info): value for name, value in by_unit.items()}


# The rule --------------------------------------------------------------------------------------


def test_a_value_far_from_its_peers_median_strays() -> None:
    peers = phase(101, 102, 103)
    read = values(CURRENT, u101=ABSURD_AMPS, u102=3.5, u103=3.7)
    assert strays(read, read, peers) == {(101, CURRENT): pytest.approx(3.6)}


def test_with_two_units_only_the_one_far_above_strays() -> None:
    peers = phase(101, 102)
    read = values(CURRENT, u101=ABSURD_AMPS, u102=3.5)
    assert set(strays(read, read, peers)) == {(101, CURRENT)}


def test_a_master_carrying_a_light_load_alone_does_not_stray() -> None:
    """Slaves stand by at light load: one Xtender's full output is within the tolerance."""
    peers = phase(101, 102, 103)
    read = values(CURRENT, u101=30.0, u102=0.2, u103=0.0)
    assert strays(read, read, peers) == {}
    read = values(POWER, u101=7.0, u102=0.05, u103=0.0)
    assert strays(read, read, peers) == {}
    read = values(POWER, u101=25.0, u102=0.8, u103=0.9)
    assert set(strays(read, read, peers)) == {(101, POWER)}


def test_the_current_floor_follows_the_output_voltage() -> None:
    read = values(CURRENT, u101=60.0, u102=0.5)
    assert set(strays(read, read, phase(101, 102))) == {(101, CURRENT)}
    assert strays(read, read, phase(101, 102, volts=120.0)) == {}


def test_units_on_other_phases_or_without_numbers_are_not_compared() -> None:
    peers = phase(101, 102) | phase(103, on=2.0)
    read = values(CURRENT, u101=3.5, u102=3.6, u103=ABSURD_AMPS)
    assert strays(read, read, peers) == {}
    # Infos that are not shared outputs, text and missing values are left alone.
    odd: dict[InfoItem, Raw] = {(101, 3000): 99.0, (102, 3000): 50.0, (101, CURRENT): "?"}
    assert strays([*odd, (103, CURRENT)], odd, peers) == {}


# Through the client and a session ------------------------------------------------------------


class Published:
    """Every snapshot a session publishes."""

    def __init__(self) -> None:
        self.snapshots: list[Snapshot] = []

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshots.append(snapshot)

    def on_availability(self, device: object, available: bool) -> None:
        """Availability is read from the session's states."""

    def largest(self, key: str) -> float:
        found = [s.values[key] for s in self.snapshots if key in s.values]
        return max(float(v) for v in found if isinstance(v, int | float))


def held_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "held back" in r.getMessage()]


@pytest.mark.parametrize("multi_info", [True, False])
async def test_a_session_holds_back_an_absurd_current_while_a_unit_is_gone(
    xcom: Harness, multi_info: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # A round outlives a cycle slowed by a busy machine, so peers always meet in one.
    simulator, client = await xcom.start(
        simulator=XcomSimulator(multi_info=multi_info, clock=lambda: 1000.0), prefetch_ttl=60.0
    )
    session = LinkSession(client)
    published = Published()
    session.subscribe(published)
    await session.start()
    await session.poll()
    states = {state.identity.address: state for state in session.devices.values()}
    normal = {a: number(states[a].values, "ac_output_current") for a in ("101", "102", "103")}
    assert all(1.0 < amps < 10.0 for amps in normal.values())

    simulator.drop(102)
    simulator.units[101].overrides[CURRENT] = ABSURD_AMPS
    simulator.units[103].overrides[CURRENT] = normal["103"] + 0.5
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _ in range(2):
            await session.poll()
    assert not states["102"].available
    assert states["101"].available
    assert states["103"].available
    assert number(states["103"].values, "ac_output_current") == pytest.approx(normal["103"] + 0.5)
    # The absurd value was never published, only logged, once, with the unit and the value.
    assert published.largest("ac_output_current") < 10.0
    assert number(states["101"].values, "ac_output_current") == pytest.approx(normal["101"])
    assert held_warnings(caplog) == [
        f"unit 101 reports {ABSURD_AMPS} A for Output current (info 3022), far from its "
        f"phase peers' {normal['103'] + 0.5:.3g}; held back while it strays"
    ]
    assert client.diagnostics()["values_held_back"] == 2

    simulator.restore(102)
    simulator.units[101].overrides[CURRENT] = normal["101"] + 0.3
    states["102"].retry_at = 0
    with caplog.at_level(logging.INFO, logger=LOGGER):
        await session.poll()
    assert all(states[a].available for a in ("101", "102", "103"))
    assert number(states["101"].values, "ac_output_current") == pytest.approx(normal["101"] + 0.3)
    assert number(states["102"].values, "ac_output_current") == pytest.approx(normal["102"])
    assert "unit 101: info 3022 is no longer held back" in caplog.text
    await session.close()


async def test_a_straying_power_leaves_the_system_total_out(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    units = by_address(devices)
    simulator.units[101].overrides[POWER] = 25.0
    # Each unit's own read first, so the system's read finds every unit's power in its round.
    for address in (101, 102, 103):
        await client.read(units[address], ["ac_output_power"])
    system = await client.read(devices[0], ["ac_output_power", "pv_power"])
    assert set(system) == {"pv_power"}
    assert "ac_output_power" not in await client.read(units[101], ["ac_output_power"])
    assert "ac_output_power" in await client.read(units[103], ["ac_output_power"])


async def test_units_on_another_phase_are_not_compared(xcom: Harness) -> None:
    simulator = XcomSimulator(clock=lambda: 1000.0)
    lone = simulator.units[103]
    assert isinstance(lone, Xtender)
    lone.phase = 2.0
    lone.overrides[CURRENT] = 60.0
    _, client = await xcom.start(simulator=simulator)
    await client.identify()
    wanted: dict[int, list[str]] = {a: ["ac_output_current"] for a in (101, 102, 103)}
    read = await client.read_many(wanted)
    assert read[103] == {"ac_output_current": 60.0}
    # On the others' phase it would stray.
    lone.phase = 1.0
    _, client = await xcom.start(simulator=simulator)
    await client.identify()
    assert await client.read_many(wanted) == {**read, 103: {}}


async def test_a_lone_read_asks_no_peer(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom, multi_info=False)
    before = simulator.stats.total
    assert "ac_output_current" in await client.read(devices[1], ["ac_output_current"])
    assert simulator.stats.total - before == 1


def asked_of(simulator: XcomSimulator, address: int) -> int:
    requests = simulator.stats.requests
    return sum(count for request, count in requests.items() if request.endswith(f"@{address}"))


async def test_a_silent_peer_is_left_out_of_the_checks(xcom: Harness) -> None:
    simulator, client, devices = await identified(
        xcom, multi_info=False, timeout=0.3, prefetch_ttl=60.0
    )
    keys = ["ac_output_current", "ac_output_power"]
    for device in devices[1:4]:
        await client.read(device, keys)
    simulator.hang(102)
    simulator.units[101].overrides[CURRENT] = ABSURD_AMPS
    # 101's read asks its peers along; 102 does not answer and is left out until it does.
    before = asked_of(simulator, 102)
    assert set(await client.read(devices[1], keys)) == {"ac_output_power"}
    assert client.unreachable == {102}
    # One read and its retry; the rest of 102's values are not asked.
    assert asked_of(simulator, 102) - before == 2
    simulator.restore(102)
    await client.read(devices[2], keys)
    assert client.unreachable == set()


async def test_a_failed_peer_request_leaves_the_readers_values(xcom: Harness) -> None:
    simulator, client, devices = await identified(xcom)
    keys = ["ac_output_current"]
    for device in devices[1:4]:
        await client.read(device, keys)
    # 103's current is missing from the batch; asking for it alone finds the gateway busy.
    simulator.units[103].overrides[CURRENT] = float("nan")
    original = simulator.answer

    def busy_for_few(request: Request) -> bytes:
        if request.object_type == MULTI_INFO and len(request.data) // 3 == 1:
            return build_reply(request, flags=simulator.flags, error=ERRORS["GATEWAY_BUSY"])
        return original(request)

    simulator.answer = busy_for_few  # type: ignore[method-assign]
    before = simulator.stats.requests["read multi-info 1 @501"]
    assert "ac_output_current" in await client.read(devices[1], keys)
    assert simulator.stats.requests["read multi-info 1 @501"] - before > 1
    assert client.unreachable == set()
