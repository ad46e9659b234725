"""The Modbus client under every fault the simulator injects, on every transport it applies to.

While a fault lasts, the client returns the simulator's registers or raises a library error,
never a wrong value nor any other exception; once it stops, the next read is right again
without anyone reconnecting by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
import math
from pathlib import Path

from inverterlib.errors import DeviceRefusedError, FrameError, InverterError, LinkTimeoutError
from inverterlib.family import KnownDevice
from inverterlib.modbus.client import ModbusClient
from inverterlib.modbus.profile import Access
from inverterlib.modbus.registry import ProfileRegistry
from inverterlib.modbus.wire import EXCEPTION_NAMES
from inverterlib.transport import TcpLink, UdpLink
from inverterlib.transport.base import Link
from inverterlib.transport.serial import SerialLink, SerialSettings
import pytest

from simulators.modbus import ModbusSimulator
from simulators.modbus_line import Fault

pytestmark = pytest.mark.usefixtures("socket_enabled")

FIXTURES = Path(__file__).parent / "fixtures" / "modbus"
TRANSPORTS = ("pty", "tcp", "udp", "rtu_over_tcp")
RTU = ("pty", "rtu_over_tcp")
MBAP = ("tcp", "udp")
# For reads that must get their reply, on however busy a machine.
GENEROUS = 2.0
# For reads a fault is meant to time out: no reply would come in time anyway.
SHORT = 0.1
# For reads whose first request may go unanswered (or be refused) and whose second must not.
RETRIED = 0.3
# A late reply lands this long after its request: after the client gave up on it.
LATE = 0.6
UNIT = 1
# Two reads of the same length and different registers: the voltages and the currents of an
# SDM630. A reply to one taken for the other is a wrong value.
BLOCKS = (0, 6)
COUNT = 6


@dataclass
class Bench:
    """A simulated SDM630 on one transport, and a client on it."""

    simulator: ModbusSimulator
    client: ModbusClient
    link: Link

    def truth(self, address: int) -> list[int]:
        """Return the registers the unit holds at `address`."""
        bank = self.simulator.unit(UNIT).banks[Access.INPUT]
        return [bank.get(address + offset, 0) for offset in range(COUNT)]

    async def read(self, address: int) -> list[int] | InverterError:
        """Read a block; return its registers, or the library error the client raised."""
        try:
            registers = await self.client.read_registers(UNIT, Access.INPUT, address, COUNT)
        except InverterError as err:
            return err
        assert registers == self.truth(address), f"a wrong value for block {address}"
        return registers

    async def round(self, before: Callable[[], None] = lambda: None) -> list[type | None]:
        """Read every block once; return None for each right value, else the error type."""
        outcomes: list[type | None] = []
        for address in BLOCKS:
            before()
            result = await self.read(address)
            outcomes.append(type(result) if isinstance(result, InverterError) else None)
        return outcomes


class Benches:
    """Open benches; close them all at the end of a test."""

    def __init__(self, registry: ProfileRegistry) -> None:
        self._registry = registry
        self._opened: list[Bench] = []

    async def open(self, transport: str, *, timeout: float = GENEROUS, retries: int = 1) -> Bench:
        """Return a frozen SDM630 (the truth does not move) on `transport`, and a client."""
        simulator = ModbusSimulator({UNIT: "sdm630"}, registry=self._registry, moving=False)
        simulator.faults.late_delay = LATE
        simulator.faults.byte_delay = 0.004
        if transport == "pty":
            path = await simulator.serve_pty()
            link: Link = SerialLink(path, settings=SerialSettings(9600), timeout=timeout)
        elif transport == "udp":
            link = UdpLink("127.0.0.1", await simulator.serve_udp(), timeout=timeout)
        elif transport == "tcp":
            link = TcpLink("127.0.0.1", await simulator.serve_tcp(), timeout=timeout)
        else:
            link = TcpLink("127.0.0.1", await simulator.serve_rtu_over_tcp(), timeout=timeout)
        client = ModbusClient(
            link,
            framing="rtu" if transport in RTU else "socket",
            units=[KnownDevice(address=UNIT, profile="sdm630")],
            registry=self._registry,
            retries=retries,
        )
        bench = Bench(simulator=simulator, client=client, link=link)
        self._opened.append(bench)
        return bench

    async def close(self) -> None:
        """Close every client's link and stop every simulator."""
        for bench in self._opened:
            await bench.link.close()
            await bench.simulator.stop()


@pytest.fixture(name="registry", scope="module")
def registry_fixture() -> ProfileRegistry:
    return ProfileRegistry.load([FIXTURES])


@pytest.fixture(name="benches")
async def benches_fixture(registry: ProfileRegistry) -> AsyncIterator[Benches]:
    benches = Benches(registry)
    yield benches
    await benches.close()


# Where each fault applies, how long a read waits under it, and what it may make of a read.
MATRIX: dict[Fault, tuple[tuple[str, ...], float, set[type | None]]] = {
    Fault.SILENCE: (TRANSPORTS, SHORT, {LinkTimeoutError}),
    Fault.GARBAGE: (TRANSPORTS, RETRIED, {FrameError, LinkTimeoutError}),
    Fault.BAD_CRC: (RTU, RETRIED, {FrameError}),
    Fault.TRUNCATED: (TRANSPORTS, SHORT, {LinkTimeoutError}),
    Fault.FRAGMENTED: (TRANSPORTS, GENEROUS, {None}),
    Fault.WRONG_UNIT: (TRANSPORTS, RETRIED, {FrameError}),
    Fault.WRONG_TRANSACTION: (MBAP, SHORT, {LinkTimeoutError}),
    Fault.SLOW: (TRANSPORTS, GENEROUS, {None}),
    # Every other reply lost: the client asks once more, and every read succeeds (this read
    # 0 of 3 while a timeout was not retried).
    Fault.EVERY_OTHER: (TRANSPORTS, RETRIED, {None}),
}
CASES = [
    (fault, transport) for fault, (transports, *_) in MATRIX.items() for transport in transports
]


@pytest.mark.parametrize(("fault", "transport"), CASES)
async def test_a_standing_fault_never_yields_a_wrong_value(
    benches: Benches, fault: Fault, transport: str
) -> None:
    _, timeout, allowed = MATRIX[fault]
    bench = await benches.open(transport)
    assert await bench.read(0) == bench.truth(0)
    bench.simulator.inject(fault)
    bench.link.timeout = timeout
    for outcome in await bench.round():
        assert outcome in allowed
    bench.simulator.clear_faults()
    bench.link.timeout = GENEROUS
    assert await bench.round() == [None, None]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_late_reply_is_never_the_answer_to_the_next_read(
    benches: Benches, transport: str
) -> None:
    """Each read's first reply comes after the client has given up on it."""
    bench = await benches.open(transport, timeout=RETRIED)

    def late_once() -> None:
        bench.simulator.inject(Fault.LATE, 1)

    for outcome in await bench.round(late_once):
        assert outcome in {None, FrameError, LinkTimeoutError}
    bench.link.timeout = GENEROUS
    assert await bench.round() == [None, None]


@pytest.mark.parametrize("transport", RTU)
async def test_rtu_takes_no_late_reply_of_the_same_length_without_a_retry(
    benches: Benches, transport: str
) -> None:
    """Block 0 times out; its late reply, as long as block 6's, must not pass for it."""
    bench = await benches.open(transport, timeout=RETRIED, retries=0)
    bench.simulator.inject(Fault.LATE, 1)
    assert isinstance(await bench.read(0), LinkTimeoutError)
    bench.link.timeout = GENEROUS
    # The late reply lands while this read waits; the reply it displaced follows at once.
    assert isinstance(await bench.read(6), (list, FrameError))
    assert await bench.round() == [None, None]


@pytest.mark.parametrize("transport", MBAP)
async def test_mbap_skips_a_late_reply_by_its_transaction_id(
    benches: Benches, transport: str
) -> None:
    bench = await benches.open(transport, timeout=RETRIED, retries=0)
    bench.simulator.inject(Fault.LATE, 1)
    assert isinstance(await bench.read(0), LinkTimeoutError)
    bench.link.timeout = GENEROUS
    assert await bench.read(6) == bench.truth(6)


@pytest.mark.parametrize("transport", ["tcp", "rtu_over_tcp"])
async def test_a_gateway_that_hangs_up_after_each_reply(benches: Benches, transport: str) -> None:
    """The link reconnects by itself; no read is lost (the transport reopens and resends)."""
    bench = await benches.open(transport)
    bench.simulator.inject(Fault.CLOSE_AFTER_REPLY)
    for address in (0, 6, 0):
        assert await bench.read(address) == bench.truth(address)
    bench.simulator.clear_faults()
    assert await bench.round() == [None, None]


@pytest.mark.parametrize("transport", ["pty", "tcp"])
async def test_a_write_whose_reply_is_lost_is_sent_again(benches: Benches, transport: str) -> None:
    """FC06 and FC16 set registers to given values: sending one twice changes nothing more."""
    bench = await benches.open(transport, timeout=RETRIED)
    unit = bench.simulator.unit(UNIT)
    bench.simulator.inject(Fault.EVERY_OTHER)
    await bench.client.write_registers(UNIT, 0x000A, [0x4000, 0x0000])
    assert unit.value("system_type") == 2.0
    await bench.client.write_registers(UNIT, 0x0002, [0x4170, 0x0000])
    assert unit.value("demand_period") == 15.0
    bench.simulator.clear_faults()
    unit.refuse(6, access=Access.HOLDING)
    with pytest.raises(DeviceRefusedError, match="SERVER_DEVICE_BUSY"):
        await bench.client.write_registers(UNIT, 0x0002, [0, 0])
    assert unit.value("demand_period") == 15.0


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_exception_code_is_a_refusal(benches: Benches, transport: str) -> None:
    bench = await benches.open(transport)
    unit = bench.simulator.unit(UNIT)
    for code, name in EXCEPTION_NAMES.items():
        unit.refuse(code)
        refusal = await bench.read(0)
        assert isinstance(refusal, DeviceRefusedError)
        assert refusal.placeholders["exception"] == name
        unit.accept()
    assert await bench.round() == [None, None]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_nan_in_a_float_register_is_not_published(benches: Benches, transport: str) -> None:
    bench = await benches.open(transport)
    unit = bench.simulator.unit(UNIT)
    meter = (await bench.client.identify())[0]
    keys = ["grid_voltage_l1", "grid_voltage_l2", "grid_power"]
    unit.set_value("grid_voltage_l1", math.nan)
    unit.set_value("grid_power", math.inf)
    voltage = pytest.approx(unit.value("grid_voltage_l2"))
    assert await bench.client.read(meter, keys) == {"grid_voltage_l2": voltage}
    unit.set_value("grid_voltage_l1", 230.5)
    unit.set_value("grid_power", 1200.0)
    assert await bench.client.read(meter, keys) == {
        "grid_voltage_l1": 230.5,
        "grid_voltage_l2": voltage,
        "grid_power": 1200.0,
    }
