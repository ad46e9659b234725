"""The PI30 client under every fault the simulator injects, on a pty, over TCP and over HID.

Whatever the line does, the client returns the simulator's truth or raises a library error, and
it reads again by itself once the fault stops.
"""

from __future__ import annotations

import asyncio
import math

from hypothesis import HealthCheck, given, settings, strategies as st
from inverterlib.errors import FrameError, InverterError
from inverterlib.model import DeviceIdentity, PointKind, Value
from inverterlib.pi30 import enums, parse
from inverterlib.pi30.catalogue import DERIVED, QUERIES
from inverterlib.pi30.client import Pi30Client
import pytest

from simulators.pi30 import Fault, Pi30Simulator, wire_crc
from simulators.pi30_device import Pi30Device, Profile

from .conftest import PI30_TEST_TIMEOUT, Pi30Harness
from .links import MemoryLink

# The TCP transport needs real sockets, still limited to 127.0.0.1 by the test plugin.
pytestmark = pytest.mark.usefixtures("socket_enabled")

TRANSPORTS = ("pty", "tcp", "hid")
# For exchanges that must get their reply, on however busy a machine.
GENEROUS = 5.0
# Short, for exchanges a fault is meant to time out; a retry that needs a reply may fail too.
SHORT = PI30_TEST_TIMEOUT
# One value from each of five queries; QET and QLT answer in the same width, so a reply of one
# taken for the other shows up here.
KEYS = ("ac_output_voltage", "device_mode", "battery_bulk_voltage", "pv_energy", "load_energy")


async def connected(
    pi30: Pi30Harness, transport: str, profile: Profile | None = None
) -> tuple[Pi30Simulator, Pi30Client, DeviceIdentity]:
    """Return a simulator, a client on `transport` and the identified unit."""
    if transport == "pty":
        simulator, client = await pi30.serial(profile, timeout=GENEROUS)
    elif transport == "tcp":
        simulator, client = await pi30.tcp(profile, timeout=GENEROUS)
    else:
        simulator, client = await pi30.hid(profile, timeout=GENEROUS)
    device = (await client.identify())[0]
    return simulator, client, device


def truth(simulator: Pi30Simulator) -> dict[str, Value]:
    """Return what the simulated unit holds for KEYS right now."""
    device = simulator.device
    return {
        "ac_output_voltage": 230.0,
        "device_mode": {"B": "battery", "L": "line", "F": "fault"}[device.mode],
        "battery_bulk_voltage": device.settings.bulk_voltage,
        "pv_energy": round(int(device.physics.pv_wh) / 1000, 3),
        "load_energy": round(int(device.physics.load_wh) / 1000, 3),
    }


async def read_truth_or_error(
    simulator: Pi30Simulator, client: Pi30Client, device: DeviceIdentity
) -> bool:
    """Read KEYS; return True for the truth, False for a library error; fail on anything else."""
    try:
        values = await client.read(device, KEYS)
    except InverterError:
        return False
    assert values == truth(simulator), client.link.description
    return True


async def fault_once(pi30: Pi30Harness, fault: Fault, transport: str) -> None:
    """Hit QET with `fault` once: truth or a library error, then the truth again unaided."""
    simulator, client, device = await connected(pi30, transport)
    simulator.reply_delay = SHORT + 0.05
    simulator.slow_byte_delay = 0.05  # QET's 12 bytes take longer than SHORT
    client.link.timeout = SHORT
    simulator.inject(fault, count=1, command="QET")
    await read_truth_or_error(simulator, client, device)
    assert simulator.stats.requests["QET"] >= 2, transport  # the faulty exchange happened
    simulator.clear_faults()
    await simulator.drain()  # a flood or a delayed reply under way ends: the fault has stopped
    client.link.timeout = GENEROUS
    # Recovered by itself: nothing reopened or reset by hand.
    assert await read_truth_or_error(simulator, client, device), transport


@pytest.mark.parametrize("fault", list(Fault))
async def test_fault_never_yields_a_wrong_value(pi30: Pi30Harness, fault: Fault) -> None:
    # Each transport has its own simulator and client; they run side by side.
    async with asyncio.TaskGroup() as group:
        for transport in TRANSPORTS:
            group.create_task(fault_once(pi30, fault, transport))


async def one_behind(pi30: Pi30Harness, transport: str) -> None:
    """Hold every reply back until the next request; only errors, then the truth again."""
    simulator, client, device = await connected(pi30, transport)
    client.link.timeout = SHORT
    simulator.inject(Fault.LATE)
    for _ in range(2):
        assert not await read_truth_or_error(simulator, client, device), transport
    simulator.clear_faults()
    await simulator.drain()
    client.link.timeout = GENEROUS
    assert await read_truth_or_error(simulator, client, device), transport


async def test_unit_staying_one_reply_behind_never_yields_a_wrong_value(
    pi30: Pi30Harness,
) -> None:
    # Draining alone cannot see a unit that answers each request only when the next arrives.
    async with asyncio.TaskGroup() as group:
        for transport in TRANSPORTS:
            group.create_task(one_behind(pi30, transport))


async def test_late_energy_reply_is_not_published_as_load_energy(pi30: Pi30Harness) -> None:
    # The field report: the first QET answered past the timeout, the retry took that late
    # reply, and the retry's own reply arrived after QLT went out and became load_energy.
    simulator, client, device = await connected(pi30, "pty")
    client.link.timeout = SHORT
    client.link.quiet = 0.3
    simulator.latency = 0.1
    simulator.reply_delay = SHORT + 0.1
    simulator.inject(Fault.DELAYED, count=1, command="QET")
    keys = ["pv_energy", "load_energy"]
    try:
        values = await client.read(device, keys)
    except InverterError:
        pass  # on a busy machine the retry may miss the short timeout too
    else:
        assert values == {key: truth(simulator)[key] for key in keys}
    client.link.timeout = GENEROUS
    assert await client.read(device, keys) == {key: truth(simulator)[key] for key in keys}


@pytest.mark.parametrize("fault", [Fault.NAN, Fault.INFINITE, Fault.OVERFLOW, Fault.UNDERSCORE])
async def test_non_finite_live_reply_is_refused_whole(pi30: Pi30Harness, fault: Fault) -> None:
    simulator, client, device = await connected(pi30, "pty")
    keys = ["battery_voltage", "battery_current", "battery_power", "pv1_power", "pv_power"]
    simulator.inject(fault, command="QPIGS")
    with pytest.raises(FrameError, match="does not fit"):
        await client.read(device, keys)
    simulator.clear_faults()
    values = await client.read(device, keys)
    assert all(isinstance(value, int | float) and math.isfinite(value) for value in values.values())
    assert set(values) == set(keys)


async def test_non_finite_fields_at_identify_leave_their_points_out(pi30: Pi30Harness) -> None:
    simulator, client = await pi30.serial(timeout=GENEROUS)
    real = simulator.device.handle
    replies = {"QBEQI": "0 NAN", "QET": "     inf", "QLT": "00001_00"}
    simulator.device.handle = lambda command: replies.get(command) or real(command)  # type: ignore[method-assign]
    device = (await client.identify())[0]
    points = {point.key for point in client.catalogue(device)}
    assert "equalization_enabled" in points
    assert not {"equalization_time", "pv_energy", "load_energy"} & points
    assert (await client.read(device, ["equalization_enabled"])) == {"equalization_enabled": False}


async def test_hid_framing_recovers_after_a_fragment(pi30: Pi30Harness) -> None:
    # A fragment of another frame read as a reply: `reply does not start with '('`.
    simulator, client, device = await connected(pi30, "hid")
    simulator.inject(Fault.FRAGMENT, count=2)
    with pytest.raises(FrameError, match=r"does not start with '\('"):
        await client.read(device, ["device_mode"])
    for _ in range(3):
        assert await client.read(device, ["device_mode"]) == {"device_mode": "battery"}


@pytest.mark.parametrize(
    "text",
    ["nan", "inf", "-inf", "1e999", "1_0", " 12", "+5", "١٢", "12.", ".5", "0x1F", "9" * 400],
)
def test_parser_refuses_what_no_unit_sends(text: str) -> None:
    assert parse.decimal(text) is None
    assert parse.integer(text) is None
    assert parse.scaled(0.001)(text) is None
    assert enums.OUTPUT_MODE.parse(text) is None


def test_parser_reads_what_units_send() -> None:
    assert parse.decimal("057.50") == 57.5
    assert parse.decimal("-012") == -12.0
    assert parse.integer("0012.6") == 13
    assert parse.scaled(1e-300, digits=3)("1" + "0" * 300) == 1.0


def test_derived_values_that_overflow_are_left_out() -> None:
    # Finite inputs (a field of 300 digits reads as 1e300) whose product or sum is not.
    huge = 1.5e308
    rules = {rule.key: rule for rule in DERIVED}
    assert rules["pv1_power"].compute({"pv1_voltage": 1e300, "pv1_current": 1e300}) is None
    assert rules["pv_power"].compute({"pv1_power": huge, "pv2_power": huge}) is None
    currents = {"battery_discharge_current": huge, "battery_charging_current": -huge}
    assert rules["battery_current"].compute(currents) is None
    assert (
        rules["battery_power"].compute({"battery_voltage": 52.5, "battery_current": -2.0}) == -105
    )


# --- fuzzing the decoders ---------------------------------------------------------------------

# Tokens Python's float() or int() take that no unit sends, and other trouble.
NASTY = (
    *("nan", "NAN", "inf", "-inf", "1e999", "0001e999", "1_0", "00001_0", "9" * 400, "-", ""),
    *(" 12", "0x1F", "+5", "1.", ".5", "١٢", "12.5.1", "E", "D", "(", "NAK"),
)


def _real_payloads() -> dict[str, str]:
    device = Pi30Device(Profile(parallel=True))
    commands = [query.command for query in QUERIES] + ["QPGS0", "QPGS1", "QPGS2"]
    return {command: payload for command in commands if (payload := device.handle(command))}


REAL = _real_payloads()


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, str]:
    """Return real replies with some fields swapped for nasty tokens or random text."""
    payloads = dict(REAL)
    for command in draw(st.lists(st.sampled_from(sorted(REAL)), min_size=1, max_size=6)):
        fields = payloads[command].split(" ")
        if draw(st.booleans()):
            index = draw(st.integers(0, len(fields) - 1))
            fields[index] = draw(st.sampled_from(NASTY) | st.text(max_size=12))
        else:
            fields = [draw(st.sampled_from(NASTY)) if draw(st.booleans()) else f for f in fields]
        payloads[command] = " ".join(fields)
    return payloads


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=mutated_payloads())
async def test_any_crc_valid_payload_yields_finite_values_or_library_errors(
    payloads: dict[str, str],
) -> None:
    def answer(data: bytes) -> bytes:
        body = b"(" + payloads.get(data[:-3].decode("ascii"), "NAK").encode()
        return body + wire_crc(body) + b"\r"

    link = MemoryLink(answer)
    client = Pi30Client(link)
    link.quiet = 0.0
    try:
        devices = await client.identify()
        for device in devices:
            keys = [p.key for p in client.catalogue(device) if p.kind is PointKind.READING]
            for value in (await client.read(device, keys)).values():
                assert not isinstance(value, float) or math.isfinite(value)
    except InverterError:
        pass
