"""Simulated Modbus devices behind pymodbus's own server: TCP, UDP, RTU over TCP, RTU on a pty.

Register banks are filled from the profile files, but every value is packed here from the
profile's addresses, types and scales with `struct`, following the Modbus spec, never by the
client's encoder. Each unit can refuse requests with an exception, or fall silent (a Growatt
asleep at night) and wake again. Requests, replies and bytes are counted per unit, at the
server, for the benchmarks.

    python -m simulators.modbus --tcp 127.0.0.1:5020 --unit 1=sdm630 --unit 2=growatt_min
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Mapping, Sequence
import contextlib
from dataclasses import dataclass
import logging
import os
from pathlib import Path
import random
import struct
import tty
from typing import Any, Literal

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer, ModbusUdpServer

from inverterlib.modbus.profile import (
    Access,
    Profile,
    Register,
    RegisterPoint,
)
from inverterlib.modbus.registry import ProfileRegistry

_LOGGER = logging.getLogger(__name__)

type Number = int | float
type Framing = Literal["rtu", "socket"]

_FORMATS = {"u16": ">H", "s16": ">h", "u32": ">I", "s32": ">i", "f32": ">f"}
_READ_FUNCTIONS = {3: Access.HOLDING, 4: Access.INPUT}
# Framing bytes around a PDU: RTU unit id + CRC, or the 7-byte MBAP header.
_HEADER_BYTES = {"rtu": 3, "socket": 7}

_MOVING = ("voltage", "frequency", "power", "current", "apparent_power", "reactive_power")
# What a healthy home installation shows, by Home Assistant device class.
_TYPICAL = {
    "voltage": 230.0,
    "current": 5.2,
    "power": 1500.0,
    "apparent_power": 1580.0,
    "reactive_power": 240.0,
    "frequency": 50.0,
    "power_factor": 0.95,
    "energy": 1234.5,
    "reactive_energy": 321.5,
    "temperature": 35.0,
    "battery": 65.0,
    "duration": 1500.0,
}


@dataclass
class UnitCounters:
    """Traffic of one unit as the server saw it."""

    requests: int = 0
    replies: int = 0
    exceptions: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    @property
    def bytes(self) -> int:
        """Return the bytes both ways."""
        return self.bytes_in + self.bytes_out


def _words(value: int, count: int, word_order: str) -> list[int]:
    """Split an unsigned integer into registers, high word first unless little-endian."""
    words = [(value >> (16 * (count - 1 - i))) & 0xFFFF for i in range(count)]
    return words if word_order == "big" else words[::-1]


def _join(registers: Sequence[int], word_order: str) -> int:
    """Join registers into an unsigned integer."""
    ordered = list(registers) if word_order == "big" else list(registers)[::-1]
    value = 0
    for word in ordered:
        value = value << 16 | word
    return value


def _pack(
    register: Register, value: Number | str, scale: float = 1, offset: float = 0
) -> list[int]:
    """Return the registers a device stores `value` in, per the Modbus data model."""
    kind = register.type.value
    if kind == "ascii":
        data = str(value).encode("ascii")[: 2 * register.count].ljust(2 * register.count, b" ")
        return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    raw = (float(value) - offset) / scale
    if kind != "f32":
        bits = 16 * register.count
        signed = kind.startswith("s")
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        raw = min(max(round(raw), low), high)
    packed = struct.pack(_FORMATS[kind], raw)
    return _words(int.from_bytes(packed, "big"), register.count, register.word_order.value)


def _unpack(
    register: Register, registers: Sequence[int], scale: float = 1, offset: float = 0
) -> Number | str:
    """Return the value in a register's registers."""
    kind = register.type.value
    if kind == "ascii":
        data = b"".join(word.to_bytes(2, "big") for word in registers)
        return data.decode("latin-1").strip(" \x00")
    packed = _join(registers, register.word_order.value).to_bytes(2 * register.count, "big")
    raw: Number = struct.unpack(_FORMATS[kind], packed)[0]
    if scale == 1 and offset == 0:
        return raw
    return float(raw) * scale + offset


def _typical(register_point: RegisterPoint, unit: int) -> Number | str:
    """Return a believable starting value for a reading or setting."""
    point = register_point.point
    key = point.key
    if register_point.register.type.value == "ascii":
        return f"SIM{unit:02d}{key[:4].upper()}"
    if register_point.on_value is not None:
        return register_point.on_value
    if register_point.options:
        preferred = ("normal", "on", "enabled", "load_first")
        raws = list(register_point.options)
        return next((raw for raw in raws if register_point.options[raw] in preferred), raws[0])
    if register_point.bit is not None:
        return 0
    value = _TYPICAL.get(point.device_class or "", 10.0)
    if point.device_class == "voltage":
        value = 52.0 if "battery" in key else 320.0 if "pv" in key else value
        value = 400.0 if any(pair in key for pair in ("l1_l2", "l2_l3", "l3_l1")) else value
    if point.minimum is not None and point.maximum is not None:
        value = point.maximum if value > point.maximum or value < point.minimum else value
    if point.plausible is not None and not point.plausible[0] <= value <= point.plausible[1]:
        value = (point.plausible[0] + point.plausible[1]) / 2
    return value


class SimulatedUnit:
    """One Modbus unit: its register banks, its moving values and its faults."""

    def __init__(self, unit: int, profile: Profile, *, seed: int = 1, moving: bool = True) -> None:
        """Fill the banks from the profile."""
        self.unit = unit
        self.profile = profile
        self.moving = moving
        self.counters = UnitCounters()
        self.refusals: list[tuple[Access | None, range | None, int]] = []
        self.asleep = False
        self.banks: dict[Access, dict[int, int]] = {Access.INPUT: {}, Access.HOLDING: {}}
        self._random = random.Random(seed * 1000 + unit)
        self._base: dict[str, Number] = {}
        for register_point in profile.register_points:
            value = _typical(register_point, unit)
            if not isinstance(value, str):
                self._base[register_point.key] = value
            self._store(register_point, value)
        for name, register in profile.info.items():
            serial = name == "serial_number"
            if register.type.value == "ascii":
                self._put(register, _pack(register, f"SIM{unit:04d}" if serial else "SIM1.0"))
            else:
                self._put(register, _pack(register, 2_024_000 + unit if serial else 101))
        self._pinned: set[tuple[Access, int]] = set()
        for rule in profile.identify:
            register = rule.register
            if rule.equals:
                self._put(register, _pack(register, rule.equals[0]))
                self._pinned.update(
                    (register.access, register.address + i) for i in range(register.count)
                )
        self._moving = [rp for rp in profile.points if self._moves(rp)]

    # Values -----------------------------------------------------------------------------

    def _registers(self, register: Register) -> list[int]:
        bank = self.banks[register.access]
        return [bank.get(register.address + i, 0) for i in range(register.count)]

    def _put(self, register: Register, words: Sequence[int]) -> None:
        bank = self.banks[register.access]
        for offset, word in enumerate(words):
            bank[register.address + offset] = word

    def _store(self, register_point: RegisterPoint, value: Number | str | bool) -> None:
        register = register_point.register
        if register_point.bit is not None:
            # One bit of a register that other points may share.
            word = _join(self._registers(register), register.word_order.value)
            mask = 1 << register_point.bit
            word = word | mask if value else word & ~mask
            self._put(register, _words(word, register.count, register.word_order.value))
        elif register_point.on_value is not None:
            # On/off as a bool, or any raw number (a device can hold undocumented values).
            if isinstance(value, bool):
                chosen = register_point.on_value if value else register_point.off_value
                assert chosen is not None
                value = chosen
            self._put(register, _pack(register, value))
        elif register_point.options:
            # The raw code as given: an Eastron float code may even be 2.5, which no option is.
            assert not isinstance(value, str)
            self._put(register, _pack(register, value))
        else:
            self._put(register, _pack(register, value, register_point.scale, register_point.offset))

    def _read(self, access: Access, address: int, count: int) -> list[int]:
        bank = self.banks[access]
        return [bank.get(address + i, 0) for i in range(count)]

    def value(self, key: str) -> Number | str | bool:
        """Return the value a point holds now (raw option values for enums).

        A switch holding neither of its values returns the raw number.
        """
        register_point = self.profile.register_point(key)
        derived = self.profile.derived_point(key)
        if derived is not None:
            minuend, subtrahend = (self.value(name) for name in derived.inputs)
            assert isinstance(minuend, int | float)
            assert isinstance(subtrahend, int | float)
            return minuend - subtrahend
        if register_point is None:
            raise KeyError(key)
        register = register_point.register
        registers = self._registers(register)
        if register_point.bit is not None:
            return bool(_join(registers, register.word_order.value) >> register_point.bit & 1)
        if register_point.on_value is not None:
            raw = _unpack(register, registers)
            states = {register_point.on_value: True, register_point.off_value: False}
            return states.get(raw, raw) if isinstance(raw, int | float) else raw
        if register_point.options:
            return _unpack(register, registers)
        return _unpack(register, registers, register_point.scale, register_point.offset)

    def set_value(self, key: str, value: Number | str | bool) -> None:
        """Put a point at a value (engineering units; raw option values for enums)."""
        register_point = self.profile.register_point(key)
        if register_point is None:
            raise KeyError(key)
        self._store(register_point, value)

    def _moves(self, register_point: RegisterPoint) -> bool:
        """Return whether a reading changes over time (identification registers never do)."""
        register = register_point.register
        point = register_point.point
        return (
            point.key in self._base
            and not register_point.options
            and register_point.bit is None
            and register_point.on_value is None
            and (register.access, register.address) not in self._pinned
            and (point.state_class == "total_increasing" or point.device_class in _MOVING)
        )

    def step(self) -> None:
        """Let time pass: voltages jitter, powers vary, energy counters climb."""
        for register_point in self._moving:
            point = register_point.point
            current = self.value(point.key)
            assert isinstance(current, int | float)
            base = self._base[point.key]
            if point.state_class == "total_increasing":
                # At least one raw step for integers; a few watt-hours for floats.
                integer = register_point.register.type.integer
                step = abs(register_point.scale) if integer else 0.01
                new = current + step * self._random.randint(1, 5)
            elif point.device_class in ("voltage", "frequency"):
                new = base * (1 + self._random.uniform(-0.004, 0.004))
            else:
                new = base * self._random.uniform(0.8, 1.2)
            if point.plausible is not None:
                new = min(max(new, point.plausible[0]), point.plausible[1])
            self._store(register_point, new)

    # Faults -----------------------------------------------------------------------------

    def refuse(
        self,
        code: int = ExcCodes.DEVICE_FAILURE,
        *,
        access: Access | None = None,
        addresses: range | None = None,
    ) -> None:
        """Answer requests with this exception code: all, or those touching `addresses`."""
        self.refusals.append((access, addresses, code))

    def accept(self) -> None:
        """Answer requests normally again."""
        self.refusals.clear()

    def _refusal(self, access: Access, address: int, count: int) -> ExcCodes | None:
        for refused_access, addresses, code in self.refusals:
            if refused_access not in (None, access):
                continue
            if addresses is None or any(a in addresses for a in range(address, address + count)):
                return ExcCodes(code)
        return None

    def sleep(self) -> None:
        """Stop answering, like an inverter whose PV went dark."""
        self.asleep = True

    def wake(self) -> None:
        """Answer again."""
        self.asleep = False

    # Requests ---------------------------------------------------------------------------

    def read(self, access: Access, address: int, count: int) -> list[int] | ExcCodes:
        """Serve a read of `count` registers, enforcing the device's own read rules."""
        if (refusal := self._refusal(access, address, count)) is not None:
            return refusal
        rules = self.profile.link
        if count > rules.max_registers:
            return ExcCodes.ILLEGAL_VALUE
        if rules.even_alignment and (address % 2 or count % 2):
            return ExcCodes.ILLEGAL_ADDRESS
        if any(
            address < barrier < address + count for barrier in self.profile.barriers_for(access)
        ):
            return ExcCodes.ILLEGAL_ADDRESS
        if self.moving:
            self.step()
        return self._read(access, address, count)

    def write(self, address: int, values: Sequence[int]) -> ExcCodes | None:
        """Serve a write: only whole settings, only values the device accepts."""
        if (refusal := self._refusal(Access.HOLDING, address, len(values))) is not None:
            return refusal
        for register_point in self.profile.settings:
            register = register_point.register
            if register.address != address or register.count != len(values):
                continue
            point = register_point.point
            coded = bool(register_point.options) or register_point.on_value is not None
            if coded:
                value = _unpack(register, values)
            else:
                value = _unpack(register, values, register_point.scale, register_point.offset)
            if register_point.options and value not in register_point.options:
                return ExcCodes.ILLEGAL_VALUE
            if register_point.on_value is not None and value not in (
                register_point.on_value,
                register_point.off_value,
            ):
                return ExcCodes.ILLEGAL_VALUE
            if not isinstance(value, str) and (
                (point.minimum is not None and value < point.minimum - 1e-6)
                or (point.maximum is not None and value > point.maximum + 1e-6)
            ):
                return ExcCodes.ILLEGAL_VALUE
            bank = self.banks[Access.HOLDING]
            for offset, word in enumerate(values):
                bank[address + offset] = word
            return None
        return ExcCodes.ILLEGAL_ADDRESS


class _Context(ModbusServerContext):
    """The pymodbus datastore, answered by our simulated units."""

    def __init__(self, units: Mapping[int, SimulatedUnit]) -> None:
        # The base initialiser builds pymodbus's own device model, which we replace whole.
        self._units = units
        self.simdevices = []

    def _unit(self, device_id: int) -> SimulatedUnit:
        unit = self._units.get(device_id)
        if unit is None or unit.asleep:
            # With ignore_missing_devices the server then stays silent, as a dark device does.
            raise NoSuchIdException(f"unit {device_id} is not answering")  # type: ignore[no-untyped-call]
        return unit

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        unit = self._unit(device_id)
        access = _READ_FUNCTIONS.get(func_code)
        if access is None:
            # The read-back pymodbus does after a write (FC06/FC16): the bank as it is now.
            return unit._read(Access.HOLDING, address, count)
        return unit.read(access, address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        return self._unit(device_id).write(address, [int(value) for value in values])

    def device_ids(self) -> list[int]:
        return list(self._units)


class PtyBridge:
    """Two ptys whose masters are wired together: a null-modem cable in software."""

    def __init__(self) -> None:
        """Prepare; nothing is opened yet."""
        self.device_path = ""
        self.client_path = ""
        self._masters: list[int] = []
        self._slaves: list[int] = []

    def open(self) -> None:
        """Create the ptys and start relaying between their masters."""
        loop = asyncio.get_running_loop()
        paths = []
        for _ in range(2):
            master, slave = os.openpty()
            # Raw mode before anyone opens the port: no echo, no CR/LF translation.
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._masters.append(master)
            # Holding a slave open keeps its master from reading EIO between users.
            self._slaves.append(slave)
            paths.append(os.ttyname(slave))
        self.device_path, self.client_path = paths
        first, second = self._masters
        loop.add_reader(first, self._relay, first, second)
        loop.add_reader(second, self._relay, second, first)

    @staticmethod
    def _relay(source: int, target: int) -> None:
        try:
            data = os.read(source, 4096)
        except BlockingIOError:  # pragma: no cover - a spurious wakeup
            return
        os.write(target, data)

    def close(self) -> None:
        """Stop relaying and close every descriptor."""
        loop = asyncio.get_running_loop()
        for master in self._masters:
            loop.remove_reader(master)
        for fd in self._masters + self._slaves:
            os.close(fd)
        self._masters.clear()
        self._slaves.clear()


class ModbusSimulator:
    """Several simulated units behind one or more pymodbus servers."""

    def __init__(
        self,
        units: Mapping[int, Profile | str],
        *,
        registry: ProfileRegistry | None = None,
        seed: int = 1,
        moving: bool = True,
    ) -> None:
        """Create units from profiles (or profile ids looked up in `registry`)."""
        registry = registry or ProfileRegistry.load()
        self.units = {
            unit: SimulatedUnit(
                unit,
                registry.get(profile) if isinstance(profile, str) else profile,
                seed=seed,
                moving=moving,
            )
            for unit, profile in units.items()
        }
        self._context = _Context(self.units)
        self._servers: list[Any] = []
        self._bridges: list[PtyBridge] = []

    def unit(self, unit: int) -> SimulatedUnit:
        """Return a simulated unit."""
        return self.units[unit]

    def counters(self, unit: int) -> UnitCounters:
        """Return what the server counted for a unit."""
        return self.units[unit].counters

    def reset_counters(self) -> None:
        """Zero every unit's counters."""
        for unit in self.units.values():
            unit.counters = UnitCounters()

    def _tracers(
        self, framing: Framing
    ) -> tuple[Callable[[bool, bytes], bytes], Callable[[bool, Any], Any]]:
        """Return the packet and PDU hooks that count traffic per unit for one server."""
        header = _HEADER_BYTES[framing]
        replying: list[int] = [0]

        def trace_pdu(sending: bool, pdu: Any) -> Any:
            unit = self.units.get(pdu.dev_id)
            if unit is not None:
                if sending:
                    replying[0] = pdu.dev_id
                    unit.counters.exceptions += int(pdu.function_code > 0x80)
                else:
                    # A well-formed request re-encodes to exactly the bytes that arrived.
                    unit.counters.requests += 1
                    unit.counters.bytes_in += header + 1 + len(pdu.encode())
            return pdu

        def trace_packet(sending: bool, data: bytes) -> bytes:
            if sending and (unit := self.units.get(replying[0])) is not None:
                unit.counters.replies += 1
                unit.counters.bytes_out += len(data)
            return data

        return trace_packet, trace_pdu

    async def serve_tcp(
        self, host: str = "127.0.0.1", port: int = 0, *, framing: Framing = "socket"
    ) -> int:
        """Serve Modbus TCP (or RTU frames over TCP); return the port."""
        trace_packet, trace_pdu = self._tracers(framing)
        server = ModbusTcpServer(
            self._context,
            framer=FramerType.SOCKET if framing == "socket" else FramerType.RTU,
            address=(host, port),
            ignore_missing_devices=True,
            trace_packet=trace_packet,
            trace_pdu=trace_pdu,
        )
        await server.serve_forever(background=True)
        self._servers.append(server)
        listener = server.transport
        assert isinstance(listener, asyncio.Server)
        return int(listener.sockets[0].getsockname()[1])

    async def serve_rtu_over_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve RTU frames over TCP, as a serial-to-Ethernet gateway does; return the port."""
        return await self.serve_tcp(host, port, framing="rtu")

    async def serve_udp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve Modbus UDP; return the port."""
        trace_packet, trace_pdu = self._tracers("socket")
        server = ModbusUdpServer(
            self._context,
            framer=FramerType.SOCKET,
            address=(host, port),
            ignore_missing_devices=True,
            trace_packet=trace_packet,
            trace_pdu=trace_pdu,
        )
        await server.serve_forever(background=True)
        self._servers.append(server)
        return int(server.transport.get_extra_info("sockname")[1])

    async def serve_pty(self, *, baudrate: int = 9600) -> str:
        """Serve RTU on one end of a pty pair; return the path a client opens."""
        bridge = PtyBridge()
        bridge.open()
        self._bridges.append(bridge)
        trace_packet, trace_pdu = self._tracers("rtu")
        server = ModbusSerialServer(
            self._context,
            framer=FramerType.RTU,
            port=bridge.device_path,
            baudrate=baudrate,
            ignore_missing_devices=True,
            trace_packet=trace_packet,
            trace_pdu=trace_pdu,
        )
        await server.serve_forever(background=True)
        self._servers.append(server)
        return bridge.client_path

    async def stop(self) -> None:
        """Shut every server down and close the ptys."""
        for server in self._servers:
            await server.shutdown()
        self._servers.clear()
        # Let the transports finish closing before their descriptors go.
        await asyncio.sleep(0)
        for bridge in self._bridges:
            bridge.close()
        self._bridges.clear()

    async def __aenter__(self) -> ModbusSimulator:
        """Return self; servers are started with the serve_* methods."""
        return self

    async def __aexit__(self, *_: object) -> None:
        """Stop everything."""
        await self.stop()


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def _link(path: Path, target: str) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to(target)


def _units(pairs: Sequence[str]) -> dict[int, str]:
    units = {}
    for pair in pairs:
        unit, _, profile = pair.partition("=")
        units[int(unit)] = profile
    return units


async def serve(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Run the simulator the command line describes until `stop` is set."""
    registry = ProfileRegistry.load(args.profile_dir)
    simulator = ModbusSimulator(
        _units(args.unit or ["1=sdm630"]), registry=registry, seed=args.seed
    )
    async with simulator:
        if args.tcp:
            print(f"Modbus TCP on port {await simulator.serve_tcp(*_endpoint(args.tcp))}")
        if args.rtu_over_tcp:
            port = await simulator.serve_rtu_over_tcp(*_endpoint(args.rtu_over_tcp))
            print(f"RTU over TCP on port {port}")
        if args.udp:
            print(f"Modbus UDP on port {await simulator.serve_udp(*_endpoint(args.udp))}")
        if args.pty:
            await asyncio.to_thread(_link, Path(args.pty), await simulator.serve_pty())
            print(f"Modbus RTU on {args.pty}")
        for unit in simulator.units.values():
            print(f"unit {unit.unit}: {unit.profile.manufacturer} {unit.profile.model}")
        await (stop or asyncio.Event()).wait()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.modbus",
        description="Run simulated Modbus units until interrupted.",
    )
    parser.add_argument("--tcp", metavar="HOST:PORT", help="serve Modbus TCP")
    parser.add_argument("--udp", metavar="HOST:PORT", help="serve Modbus UDP")
    parser.add_argument("--rtu-over-tcp", metavar="HOST:PORT", help="serve RTU frames over TCP")
    parser.add_argument("--pty", metavar="PATH", help="serve RTU on a pty linked at PATH")
    parser.add_argument("--unit", action="append", metavar="N=PROFILE", help="e.g. 1=sdm630")
    parser.add_argument("--profile-dir", action="append", type=Path, default=[])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not (args.tcp or args.udp or args.rtu_over_tcp or args.pty):
        parser.error("give at least one of --tcp, --udp, --rtu-over-tcp, --pty")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Run simulated Modbus units until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
