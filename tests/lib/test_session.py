"""The session: polling groups, interest, back-off, link loss, listeners, writes and rescans."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence

from inverterlib.client import InverterClient
from inverterlib.errors import (
    ExpertModeRequiredError,
    LinkError,
    LinkTimeoutError,
    UnknownDeviceError,
    ValidationError,
)
from inverterlib.model import DeviceIdentity, Point, PointKind, PollGroup, Snapshot, Value
from inverterlib.session import LinkSession, SessionSettings
from inverterlib.writer import Outcome
import pytest

from .links import MemoryLink

POINTS = (
    Point(key="power", name="Power", unit="W", plausible=(0, 10000)),
    Point(key="energy", name="Energy", state_class="total_increasing"),
    Point(key="rating", name="Rating", group=PollGroup.STATIC),
    Point(key="limit", name="Limit", kind=PointKind.SETTING, minimum=0, maximum=100, step=1),
    Point(key="hidden", name="Hidden", enabled_by_default=False),
    Point(key="danger", name="Danger", kind=PointKind.ACTION, expert=True),
    Point(key="slow", name="Slow", group=PollGroup.SLOW),
)


def identity(serial: str, address: str = "1", *, reachable: bool = True) -> DeviceIdentity:
    return DeviceIdentity(
        serial_number=serial,
        family="fake",
        model="Fake",
        manufacturer="Test",
        address=address,
        reachable=reachable,
    )


class FakeClient(InverterClient):
    """Devices whose values a test sets; reads are recorded; faults are raised on demand."""

    family = "fake"

    def __init__(self, devices: Sequence[DeviceIdentity]) -> None:
        super().__init__(MemoryLink(description="fake://link"))
        self.devices = list(devices)
        self.values: dict[str, dict[str, Value]] = {d.serial_number: {} for d in devices}
        self.reads: list[tuple[str, frozenset[str]]] = []
        self.writes: list[tuple[str, str, Value]] = []
        self.fault: Exception | None = None
        self.silent: set[str] = set()
        self.joining: list[DeviceIdentity] = []

    async def identify(self) -> list[DeviceIdentity]:
        return list(self.devices)

    def catalogue(self, device: DeviceIdentity) -> Sequence[Point]:
        return POINTS

    async def read(self, device: DeviceIdentity, keys: Collection[str]) -> dict[str, Value]:
        self.reads.append((device.serial_number, frozenset(keys)))
        if self.fault is not None:
            raise self.fault
        if device.serial_number in self.silent:
            raise LinkTimeoutError("silent")
        values = self.values.setdefault(device.serial_number, {})
        return {key: values[key] for key in keys if key in values}

    async def write(self, device: DeviceIdentity, point: Point, value: Value) -> None:
        self.writes.append((device.serial_number, point.key, value))
        self.values[device.serial_number][point.key] = value


class ScanningClient(FakeClient):
    """A fake client that finds the devices that joined since start."""

    async def scan(self, addresses: Iterable[int]) -> list[DeviceIdentity]:
        wanted = {str(address) for address in addresses}
        return [device for device in self.joining if device.address in wanted]


class Recorder:
    """A listener that keeps what it was told."""

    def __init__(self) -> None:
        self.snapshots: list[Snapshot] = []
        self.availability: list[tuple[str, bool]] = []

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshots.append(snapshot)

    def on_availability(self, device: DeviceIdentity, available: bool) -> None:
        self.availability.append((device.serial_number, available))


class Clock:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def started(
    client: FakeClient, settings: SessionSettings | None = None
) -> tuple[LinkSession, Clock]:
    clock = Clock()
    session = LinkSession(client, settings or SessionSettings(scan_interval=10), clock=clock)
    await session.start()
    return session, clock


async def test_default_keys_then_consumer_interest() -> None:
    client = FakeClient([identity("A")])
    client.values["A"] = {"power": 5.0, "energy": 1.0, "rating": 3.0, "slow": 1.0, "limit": 7.0}
    session, _ = await started(client)
    await session.poll()
    # Before any consumer speaks: every visible point enabled by default.
    assert client.reads[-1] == ("A", frozenset({"power", "energy", "rating", "limit", "slow"}))
    session.want("dashboard", {"A": {"power", "hidden", "danger"}})
    await session.poll()
    # Expert points stay out while expert mode is off; static points were read once already.
    assert client.reads[-1] == ("A", frozenset({"power", "hidden"}))
    session.want("relay", None)
    await session.poll()
    assert client.reads[-1] == ("A", frozenset({"power", "energy", "limit", "hidden"}))
    assert session.devices["A"].values["power"] == 5.0


async def test_slow_group_waits_for_its_interval() -> None:
    client = FakeClient([identity("A")])
    session, clock = await started(client, SessionSettings(scan_interval=10, slow_interval=60))
    session.want("x", {"A": {"slow", "power"}})
    await session.poll()
    assert client.reads[-1][1] == {"slow", "power"}
    clock.now += 30
    await session.poll()
    assert client.reads[-1][1] == {"power"}
    clock.now += 31
    await session.poll()
    assert client.reads[-1][1] == {"slow", "power"}


async def test_silent_device_rests_with_capped_backoff_and_returns() -> None:
    client = FakeClient([identity("A"), identity("B", "2")])
    client.values["B"] = {"power": 1.0}
    session, clock = await started(client, SessionSettings(scan_interval=10, backoff_cap=60))
    recorder = Recorder()
    session.subscribe(recorder)
    client.silent.add("A")
    retries = []
    for _ in range(8):
        await session.poll()
        retries.append(session.devices["A"].retry_at - clock.now)
        clock.now = max(clock.now + 10, session.devices["A"].retry_at)
    # Next cycle first, then 1, 3, 7 intervals... never longer than the cap.
    assert retries[:4] == [0, 10, 30, 60]
    assert max(retries) == 60
    assert recorder.availability == [("A", False)]
    assert session.devices["B"].available
    client.silent.clear()
    clock.now = session.devices["A"].retry_at
    await session.poll()
    assert recorder.availability == [("A", False), ("A", True)]
    assert session.health.errors == 8


async def test_link_loss_rests_every_device_and_keeps_values() -> None:
    client = FakeClient([identity("A")])
    client.values["A"] = {"energy": 12.5}
    session, clock = await started(client)
    await session.poll()
    client.fault = LinkError("cable pulled")
    await session.poll()
    assert isinstance(session.link_error, LinkError)
    assert not session.devices["A"].available
    assert session.devices["A"].values["energy"] == 12.5
    client.fault = None
    clock.now += 10
    await session.poll()
    assert session.link_error is None
    assert session.devices["A"].available
    assert session.health.last_success is not None


async def test_implausible_value_is_held_back_and_not_published() -> None:
    client = FakeClient([identity("A")])
    client.values["A"] = {"power": 100.0}
    session, _ = await started(client)
    recorder = Recorder()
    unsubscribe = session.subscribe(recorder)
    await session.poll()
    client.values["A"]["power"] = -5000.0
    await session.poll()
    assert [s.values["power"] for s in recorder.snapshots] == [100.0, 100.0]
    unsubscribe()
    await session.poll()
    assert len(recorder.snapshots) == 2


async def test_write_pipeline_records_and_publishes() -> None:
    client = FakeClient([identity("A")])
    client.values["A"] = {"limit": 10.0}
    session, _ = await started(client)
    recorder = Recorder()
    session.subscribe(recorder)
    record = await session.write("A", "limit", "20", source="test")
    assert (record.old, record.new, record.outcome) == (10.0, 20.0, Outcome.APPLIED)
    assert client.writes == [("A", "limit", 20.0)]
    assert session.devices["A"].values["limit"] == 20.0
    assert recorder.snapshots[-1].values["limit"] == 20.0
    assert session.write_log[-1].as_json()["new"] == 20.0
    with pytest.raises(ValidationError):
        await session.write("A", "limit", 500, source="test")
    assert session.write_log[-1].outcome is Outcome.FAILED
    assert len(client.writes) == 1


async def test_check_and_expert_gate_send_nothing() -> None:
    client = FakeClient([identity("A")])
    session, _ = await started(client)
    assert session.check("A", "limit", "5") == 5.0
    with pytest.raises(ExpertModeRequiredError):
        session.check("A", "danger", None)
    with pytest.raises(ExpertModeRequiredError):
        await session.write("A", "danger", None, source="test")
    with pytest.raises(ExpertModeRequiredError):
        session.require_expert()
    with pytest.raises(UnknownDeviceError):
        await session.write("Z", "limit", 1, source="test")
    expert, _ = await started(client, SessionSettings(expert=True))
    assert expert.check("A", "danger", "press") is True
    with pytest.raises(ValidationError, match="is an action"):
        expert.check("A", "danger", "no")
    assert client.writes == []


async def test_rescan_adds_devices_that_joined() -> None:
    client = ScanningClient([identity("A", "1")])
    settings = SessionSettings(scan_interval=10, scan_addresses=(1, 2, 3), rescan_interval=100)
    session, clock = await started(client, settings)
    added: list[str] = []
    session.on_device_added(lambda device: added.append(device.serial_number))
    client.joining = [identity("B", "2")]
    await session.poll()
    assert added == []
    clock.now += 100
    await session.poll()
    assert added == ["B"]
    assert set(session.devices) == {"A", "B"}
    assert await session.rescan() == []


async def test_rescan_of_a_client_that_cannot_scan_finds_nothing() -> None:
    session, _ = await started(FakeClient([identity("A")]))
    assert await session.rescan() == []


async def test_run_polls_until_stopped_and_start_failure_closes() -> None:
    client = FakeClient([identity("A")])
    session = LinkSession(client, SessionSettings(scan_interval=0.01))
    await session.start()
    stop = asyncio.Event()
    three_reads = asyncio.Event()

    class Counter(Recorder):
        def on_snapshot(self, snapshot: Snapshot) -> None:
            super().on_snapshot(snapshot)
            if len(self.snapshots) >= 3:
                three_reads.set()

    session.subscribe(Counter())
    task = asyncio.create_task(session.run(stop))
    async with asyncio.timeout(10):
        await three_reads.wait()
    stop.set()
    await task
    await session.close()
    assert not client.link.is_open

    class Broken(FakeClient):
        async def identify(self) -> list[DeviceIdentity]:
            raise LinkTimeoutError("nobody home")

    broken = Broken([])
    with pytest.raises(LinkTimeoutError):
        await LinkSession(broken).start()
    assert not broken.link.is_open


async def test_unreachable_identity_starts_unavailable() -> None:
    session, _ = await started(FakeClient([identity("A", reachable=False)]))
    assert not session.devices["A"].available
