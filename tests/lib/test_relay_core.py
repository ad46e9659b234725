"""The relay core over a real session on the PI30 simulator, with a bus that keeps messages."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path

from inverterlib.errors import DeviceRefusedError
from inverterlib.model import Snapshot
from inverterlib.relay import CommandStore, Relay, RelayOptions
from inverterlib.relay.bus import Channel
from inverterlib.relay.core import CONSUMER
from inverterlib.session import LinkSession, SessionSettings
from inverterlib.writer import WriteRecord
import pytest

from simulators.pi30 import Fault, Pi30Simulator

from .conftest import Pi30Harness
from .relay_support import MemoryBus, command, pi30_session, serial_of, writes

pytestmark = pytest.mark.usefixtures("socket_enabled")

COMMANDS = RelayOptions(commands=True)


def _relay(
    session: LinkSession,
    bus: MemoryBus,
    options: RelayOptions = COMMANDS,
    store: CommandStore | None = None,
) -> Relay:
    return Relay(session, [bus], options=options, store=store or CommandStore(None))


async def _started(
    pi30: Pi30Harness, options: RelayOptions = COMMANDS, *, expert: bool = False
) -> tuple[Pi30Simulator, LinkSession, MemoryBus, Relay]:
    simulator, client = await pi30.tcp(timeout=0.5)
    session = LinkSession(client, SessionSettings(expert=expert))
    await session.start()
    await session.poll()
    bus = MemoryBus()
    relay = _relay(session, bus, options)
    await relay.start()
    return simulator, session, bus, relay


async def test_start_publishes_model_availability_and_state(pi30: Pi30Harness) -> None:
    _, session, bus, relay = await _started(pi30)
    serial = serial_of(session)
    assert bus.attached == [serial]
    model = json.loads(bus.last(serial, Channel.MODEL))
    assert model["serial_number"] == serial
    assert model["family"] == "pi30"
    points = {point["key"]: point for point in model["points"]}
    assert points["battery_bulk_voltage"] == {
        "key": "battery_bulk_voltage",
        "name": points["battery_bulk_voltage"]["name"],
        "kind": "setting",
        "type": "float",
        "unit": "V",
        "options": [],
        "min": 48.0,
        "max": 58.4,
        "step": 0.1,
        "precision": 1,
        "device_class": points["battery_bulk_voltage"]["device_class"],
        "state_class": None,
        "writable": True,
    }
    assert points["output_source_priority"]["options"] == ["utility_first", "solar_first", "sbu"]
    assert points["ac_output_power"]["writable"] is False
    # Actions run only when named on the allow-list; expert points are not visible.
    assert points["sync_clock"]["writable"] is False
    assert "reset_to_defaults" not in points
    assert bus.last(serial, Channel.AVAILABILITY) == b"online"
    state = bus.state(serial)
    assert state["battery_bulk_voltage"] == 56.4
    assert state["output_source_priority"] in ("utility_first", "solar_first", "sbu")
    datetime.fromisoformat(state["time"])
    # The relay asked for every visible point to be polled.
    assert session._interest[CONSUMER] is None
    await relay.close()
    assert bus.last(serial, Channel.AVAILABILITY) == b"offline"
    assert bus.closed


async def test_model_writable_follows_the_policy(pi30: Pi30Harness) -> None:
    async with pi30_session(pi30) as (_, session):
        serial = serial_of(session)
        for options, expected in [
            (RelayOptions(), {"battery_bulk_voltage": False, "sync_clock": False}),
            (
                RelayOptions(commands=True, allowed_keys=frozenset({"sync_clock"})),
                {"battery_bulk_voltage": False, "sync_clock": True},
            ),
        ]:
            bus = MemoryBus()
            relay = _relay(session, bus, options)
            await relay.start()
            model = json.loads(bus.last(serial, Channel.MODEL))
            writable = {point["key"]: point["writable"] for point in model["points"]}
            assert {key: writable[key] for key in expected} == expected
            await relay.close()


async def test_state_follows_polls_with_a_deadband(pi30: Pi30Harness) -> None:
    _, session, bus, relay = await _started(pi30)
    serial = serial_of(session)
    device = session.devices[serial].identity
    values = dict(session.devices[serial].values)
    taken = datetime(2025, 1, 1, tzinfo=UTC)
    published = len(bus.messages[serial, Channel.STATE])

    def snapshot(seconds: float, **changes: object) -> Snapshot:
        return Snapshot(
            device=device,
            values={**values, **changes},  # type: ignore[dict-item]
            taken=taken + timedelta(seconds=seconds),
        )

    relay.on_snapshot(snapshot(0, ac_input_voltage=200.0))
    relay.on_snapshot(snapshot(0.5, ac_input_voltage=231.0))
    assert len(bus.messages[serial, Channel.STATE]) == published + 2
    published += 1
    # AC input voltage shows one decimal: 0.04 V is noise, 0.05 V is news.
    relay.on_snapshot(snapshot(1, ac_input_voltage=231.04))
    assert len(bus.messages[serial, Channel.STATE]) == published + 1
    relay.on_snapshot(snapshot(2, ac_input_voltage=231.05))
    assert len(bus.messages[serial, Channel.STATE]) == published + 2
    assert bus.state(serial)["ac_input_voltage"] == 231.1
    assert bus.state(serial)["time"] == (taken + timedelta(seconds=2)).isoformat()
    # Unchanged values are published again once the slow interval passed.
    relay.on_snapshot(snapshot(301, ac_input_voltage=231.05))
    assert len(bus.messages[serial, Channel.STATE]) == published + 2
    relay.on_snapshot(snapshot(302.1, ac_input_voltage=231.05))
    assert len(bus.messages[serial, Channel.STATE]) == published + 3
    # A text value compares exactly; a key that appears is news.
    other = "sbu" if values["output_source_priority"] != "sbu" else "utility_first"
    relay.on_snapshot(snapshot(303, ac_input_voltage=231.05, output_source_priority=other))
    assert bus.state(serial)["output_source_priority"] == other
    relay.on_snapshot(snapshot(304, ac_input_voltage=231.05, output_source_priority=other, x=1))
    assert len(bus.messages[serial, Channel.STATE]) == published + 5
    await relay.close()


async def test_a_command_is_applied_and_the_new_state_follows(pi30: Pi30Harness) -> None:
    simulator, session, bus, relay = await _started(pi30)
    serial = serial_of(session)
    result = await bus.send(serial, command("c1", "battery_bulk_voltage", 56.1))
    assert result == {
        "id": "c1",
        "key": "battery_bulk_voltage",
        "ok": True,
        "outcome": "applied",
        "old": 56.4,
        "new": 56.1,
        "error": None,
    }
    assert simulator.device.settings.bulk_voltage == pytest.approx(56.1)
    assert bus.state(serial)["battery_bulk_voltage"] == 56.1
    # The same value again is left alone.
    result = await bus.send(serial, command("c2", "battery_bulk_voltage", "56.1"))
    assert (result["ok"], result["outcome"], result["old"]) == (True, "unchanged", 56.1)
    assert writes(simulator, "PCVV") == 1
    await relay.close()


async def test_a_repeated_id_is_answered_not_applied_again(pi30: Pi30Harness) -> None:
    simulator, session, bus, relay = await _started(pi30)
    serial = serial_of(session)
    body = command("same", "max_charging_current", 40)
    first, second, third = await asyncio.gather(
        bus.send(serial, body), bus.send(serial, body), bus.send(serial, body)
    )
    assert first == second == third
    assert first["outcome"] == "applied"
    later = await bus.send(serial, command("same", "max_charging_current", 50))
    assert later == first
    assert writes(simulator, "MCHGC") == 1
    assert simulator.device.settings.max_charging == 40
    # Ids are per device: another device's "same" is not this one.
    assert relay.store.result("other", "same") is None
    await relay.close()


async def test_a_partial_model_is_applied_in_order(pi30: Pi30Harness) -> None:
    simulator, session, bus, relay = await _started(pi30)
    serial = serial_of(session)
    body = {
        "id": 7,
        "settings": {
            "battery_float_voltage": 53.5,
            "max_charging_current": 60,
            "output_source_priority": "sbu",
        },
    }
    result = await bus.send(serial, json.dumps(body).encode())
    assert result["id"] == 7
    assert result["ok"] is True
    assert result["error"] is None
    assert list(result["settings"]) == list(body["settings"])  # type: ignore[call-overload]
    assert result["settings"]["battery_float_voltage"] == {
        "ok": True,
        "outcome": "applied",
        "old": 54.0,
        "new": 53.5,
        "error": None,
    }
    assert result["settings"]["max_charging_current"]["outcome"] == "unchanged"
    assert result["settings"]["output_source_priority"]["new"] == "sbu"
    assert simulator.device.settings.float_voltage == pytest.approx(53.5)
    await relay.close()


async def test_a_failure_skips_the_rest_of_a_partial_model(pi30: Pi30Harness) -> None:
    simulator, session, bus, relay = await _started(pi30)
    serial = serial_of(session)
    simulator.inject(Fault.NAK, 1, command="PBFT53.0")
    body = {
        "id": "p",
        "settings": {
            "battery_bulk_voltage": 57.0,
            "battery_float_voltage": 53.0,
            "max_charging_current": 30,
        },
    }
    result = await bus.send(serial, json.dumps(body).encode())
    assert result["ok"] is False
    assert result["error"]["code"] == "device_refused"
    outcomes = {key: item["outcome"] for key, item in result["settings"].items()}
    assert outcomes == {
        "battery_bulk_voltage": "applied",
        "battery_float_voltage": "failed",
        "max_charging_current": "skipped",
    }
    assert simulator.device.settings.bulk_voltage == pytest.approx(57.0)
    assert writes(simulator, "MCHGC") == 0
    await relay.close()


@pytest.mark.parametrize(
    ("body", "code", "command_id"),
    [
        (b"{not json", "malformed_command", None),
        (b"\xff\xfe", "malformed_command", None),
        (b"[1, 2]", "malformed_command", None),
        (b'{"key": "buzzer", "value": true}', "malformed_command", None),
        (b'{"id": true, "key": "buzzer"}', "malformed_command", None),
        (b'{"id": "", "key": "buzzer"}', "malformed_command", None),
        (json.dumps({"id": "x" * 129, "key": "buzzer"}).encode(), "malformed_command", None),
        (b'{"id": "a"}', "malformed_command", "a"),
        (b'{"id": "a", "key": ""}', "malformed_command", "a"),
        (b'{"id": "a", "settings": {}}', "malformed_command", "a"),
        (b'{"id": "a", "settings": [1]}', "malformed_command", "a"),
        (b'{"id": "a", "key": "buzzer", "settings": {"buzzer": 1}}', "malformed_command", "a"),
        (
            json.dumps({"id": "a", "settings": {f"k{n}": 1 for n in range(65)}}).encode(),
            "malformed_command",
            "a",
        ),
        (b'{"id": "a", "key": "' + b"x" * 70_000 + b'"}', "malformed_command", None),
        (b'{"id": "a", "key": "no_such_point", "value": 1}', "unknown_point", "a"),
        (b'{"id": "a", "key": "ac_output_power", "value": 1}', "not_writable", "a"),
        (b'{"id": "a", "key": "battery_bulk_voltage", "value": 70}', "invalid_value", "a"),
        (b'{"id": "a", "key": "battery_bulk_voltage", "value": "high"}', "invalid_value", "a"),
        (b'{"id": "a", "key": "battery_bulk_voltage", "value": NaN}', "invalid_value", "a"),
        (b'{"id": "a", "key": "battery_bulk_voltage", "value": 56.15}', "invalid_value", "a"),
        (b'{"id": "a", "key": "output_source_priority", "value": "x"}', "invalid_value", "a"),
        (b'{"id": "a", "key": "output_mode", "value": "single"}', "expert_mode_required", "a"),
        (b'{"id": "a", "key": "sync_clock"}', "action_not_allowed", "a"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_sent(
    pi30: Pi30Harness, body: bytes, code: str, command_id: object
) -> None:
    simulator, session, bus, relay = await _started(pi30)
    serial = serial_of(session)
    before = simulator.stats.total
    result = await bus.send(serial, body)
    assert result["id"] == command_id
    assert result["ok"] is False
    assert result["error"]["code"] == code
    assert result["error"]["message"]
    assert result["outcome"] == "refused"
    assert simulator.stats.total == before
    await relay.close()


async def test_one_bad_key_refuses_a_whole_partial_model(pi30: Pi30Harness) -> None:
    simulator, session, bus, relay = await _started(pi30)
    serial = serial_of(session)
    before = simulator.stats.total
    body = {"id": "p", "settings": {"battery_bulk_voltage": 57.0, "buzzer": "maybe"}}
    result = await bus.send(serial, json.dumps(body).encode())
    assert result["ok"] is False
    assert result["error"]["code"] == "invalid_value"
    assert result["settings"]["battery_bulk_voltage"]["outcome"] == "skipped"
    assert result["settings"]["buzzer"]["outcome"] == "refused"
    assert simulator.stats.total == before
    # A refusal is not recorded: the same id may come again, corrected.
    body["settings"] = {"battery_bulk_voltage": 57.0, "buzzer": False}
    result = await bus.send(serial, json.dumps(body).encode())
    assert result["ok"] is True
    await relay.close()


async def test_commands_off_unknown_device_and_allow_list(pi30: Pi30Harness) -> None:
    async with pi30_session(pi30) as (simulator, session):
        serial = serial_of(session)
        off = MemoryBus()
        relay = _relay(session, off, RelayOptions())
        await relay.start()
        result = await off.send(serial, command("a", "buzzer", False))
        assert (result["id"], result["error"]["code"]) == ("a", "commands_disabled")
        await relay.close()

        listed = MemoryBus()
        options = RelayOptions(commands=True, allowed_keys=frozenset({"buzzer", "sync_clock"}))
        relay = _relay(session, listed, options)
        await relay.start()
        result = await listed.send(serial, command("b", "battery_bulk_voltage", 57))
        assert result["error"]["code"] == "key_not_allowed"
        result = await listed.send("nobody", command("c", "buzzer", False))
        assert result["error"]["code"] == "unknown_device"
        assert (await listed.send(serial, command("d", "buzzer", False)))["ok"] is True
        result = await listed.send(serial, command("e", "sync_clock"))
        assert (result["ok"], result["outcome"]) == (True, "applied")
        assert writes(simulator, "DAT") == 1
        await relay.close()


async def test_expert_mode_opens_expert_keys(pi30: Pi30Harness) -> None:
    simulator, session, bus, relay = await _started(pi30, expert=True)
    serial = serial_of(session)
    model = json.loads(bus.last(serial, Channel.MODEL))
    assert "reset_to_defaults" in {point["key"] for point in model["points"]}
    result = await bus.send(serial, command("x", "output_mode", "parallel"))
    assert result["ok"] is True
    assert simulator.device.settings.output_mode == 1
    await relay.close()


async def test_ids_survive_a_restart(pi30: Pi30Harness, tmp_path: Path) -> None:
    path = tmp_path / "state" / "commands.json"
    async with pi30_session(pi30) as (simulator, session):
        serial = serial_of(session)
        bus = MemoryBus()
        relay = _relay(session, bus, store=CommandStore(path))
        await relay.start()
        first = await bus.send(serial, command("keep", "max_charging_current", 40))
        await relay.close()

        bus = MemoryBus()
        relay = _relay(session, bus, store=CommandStore(path))
        await relay.start()
        again = await bus.send(serial, command("keep", "max_charging_current", 40))
        assert again == first
        assert writes(simulator, "MCHGC") == 1
        await relay.close()


async def test_a_command_cut_by_a_crash(pi30: Pi30Harness, tmp_path: Path) -> None:
    path = tmp_path / "commands.json"
    async with pi30_session(pi30) as (simulator, session):
        serial = serial_of(session)
        crashed = CommandStore(path)
        await crashed.begin(serial, "action")
        await crashed.begin(serial, "setting")

        bus = MemoryBus()
        options = replace(COMMANDS, allowed_keys=frozenset({"sync_clock", "buzzer"}))
        relay = _relay(session, bus, options, CommandStore(path))
        await relay.start()
        result = await bus.send(serial, command("action", "sync_clock"))
        assert result["error"]["code"] == "interrupted"
        assert writes(simulator, "DAT") == 0
        # A setting is safe to run again: the pipeline skips what the device already holds.
        result = await bus.send(serial, command("setting", "buzzer", False))
        assert result["ok"] is True
        await relay.close()


async def test_availability_follows_the_device(pi30: Pi30Harness) -> None:
    simulator, session, bus, relay = await _started(pi30)
    serial = serial_of(session)
    simulator.inject(Fault.SILENCE)
    await session.poll()
    assert bus.last(serial, Channel.AVAILABILITY) == b"offline"
    simulator.clear_faults()
    session.devices[serial].retry_at = 0.0
    await session.poll()
    assert bus.last(serial, Channel.AVAILABILITY) == b"online"
    await relay.close()


async def test_a_device_failing_a_write_is_an_error_result(pi30: Pi30Harness) -> None:
    simulator, session, bus, relay = await _started(pi30)
    serial = serial_of(session)
    simulator.inject(Fault.SILENCE)
    result = await bus.send(serial, command("t", "battery_bulk_voltage", 57.0))
    assert result["ok"] is False
    assert result["outcome"] == "failed"
    assert result["error"]["code"] == "link_timeout"
    simulator.clear_faults()
    await relay.close()


async def test_connection_changes_reach_the_callback(pi30: Pi30Harness) -> None:
    async with pi30_session(pi30) as (_, session):
        heard: list[tuple[str, bool]] = []
        bus = MemoryBus()
        relay = Relay(
            session,
            [bus],
            options=COMMANDS,
            store=CommandStore(None),
            on_connection=lambda name, up: heard.append((name, up)),
        )
        await relay.start()
        was_connected = relay.connected
        assert bus.on_connection is not None
        bus.connected = False
        bus.on_connection(False)
        assert (was_connected, relay.connected) == (True, False)
        assert heard == [("memory", False)]
        await relay.close()
        quiet_bus = MemoryBus()
        quiet = Relay(session, [quiet_bus], options=COMMANDS, store=CommandStore(None))
        await quiet.start()
        assert quiet_bus.on_connection is not None
        quiet_bus.on_connection(True)
        await quiet.close()


async def test_close_waits_for_a_running_command(pi30: Pi30Harness) -> None:
    _, session, bus, relay = await _started(pi30)
    serial = serial_of(session)
    release = asyncio.Event()
    written: list[WriteRecord] = []
    real_write = session.write

    async def slow_write(
        serial_number: str, key: str, value: object, *, source: str
    ) -> WriteRecord:
        await release.wait()
        record = await real_write(serial_number, key, value, source=source)
        written.append(record)
        return record

    session.write = slow_write  # type: ignore[method-assign]
    pending = asyncio.create_task(bus.send(serial, command("slow", "buzzer", False)))
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(relay.close())
    await asyncio.sleep(0.05)
    assert not closing.done()
    release.set()
    await closing
    assert written
    assert (await pending)["ok"] is True


async def test_a_write_refused_by_the_session(pi30: Pi30Harness) -> None:
    _, session, bus, relay = await _started(pi30)
    serial = serial_of(session)

    async def refusing(serial_number: str, key: str, value: object, *, source: str) -> WriteRecord:
        raise DeviceRefusedError("no")

    session.write = refusing  # type: ignore[method-assign]
    result = await bus.send(serial, command("r", "buzzer", True))
    assert result["error"] == {"code": "device_refused", "message": "no"}
    await relay.close()
