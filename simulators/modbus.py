"""Simulated Modbus devices behind pymodbus's own servers: TCP, UDP, RTU over TCP, RTU on a pty.

Register banks are laid out from the profile files (addresses, types, scales); the values come
from a physical model of the house a device sits in (simulators.modbus_physics) and are packed
here with `struct`, following the Modbus spec, never by the client's encoder. A unit can
refuse requests with any exception code, or fall silent (a Growatt asleep at night) and wake
again; between each server and its client, a fault plan (simulators.modbus_line) can lose,
delay, split or damage replies. Requests, replies and bytes are counted per unit, at the
server, for the benchmarks.

pymodbus answers through request classes of ours, registered as its custom PDUs: their
datastore method (`update_datastore` before pymodbus 3.12, `datastore_update` since) asks the
simulated unit, so no pymodbus datastore API is relied on, whichever release is installed.

    python -m simulators.modbus --tcp 127.0.0.1:5020 --unit 1=sdm630 --unit 2=growatt_min
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
import contextlib
from dataclasses import dataclass
from functools import cache
import importlib
import inspect
import logging
from pathlib import Path
import random
import struct
from typing import Any

from inverterlib.modbus import shim
from inverterlib.modbus.profile import (
    Access,
    Profile,
    Register,
    RegisterPoint,
)
from inverterlib.modbus.registry import ProfileRegistry
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse
from pymodbus.server import ModbusSerialServer, ModbusTcpServer, ModbusUdpServer

from simulators.modbus_line import Fault, FaultPlan, Framing, PtyBridge, TcpRelay, UdpRelay
from simulators.modbus_physics import TICK, DeviceModel, model_for

type Number = int | float

_FORMATS = {"u16": ">H", "s16": ">h", "u32": ">I", "s32": ">i", "f32": ">f"}
_READ_FUNCTIONS = {3: Access.HOLDING, 4: Access.INPUT}
# Framing bytes around a PDU: RTU unit id + CRC, or the 7-byte MBAP header.
_HEADER_BYTES = {"rtu": 3, "socket": 7}

# Exception codes of the Modbus application protocol (V1.1b3, section 7).
ILLEGAL_ADDRESS = 0x02
ILLEGAL_VALUE = 0x03
DEVICE_FAILURE = 0x04
# What a healthy installation shows, by Home Assistant device class, where no model applies.
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
_REQUESTS = (
    "ReadHoldingRegistersRequest",
    "ReadInputRegistersRequest",
    "WriteSingleRegisterRequest",
    "WriteMultipleRegistersRequest",
)


def _no_such_unit() -> type[Exception]:
    """Return the exception that keeps a pymodbus server silent (with missing units ignored)."""
    exceptions = importlib.import_module("pymodbus.exceptions")
    renamed: type[Exception] | None = getattr(exceptions, "NoSuchIdException", None)
    return renamed or exceptions.NoSuchSlaveException


def _silent_for_missing_units() -> dict[str, bool]:
    """Return the server option that leaves requests to an absent unit unanswered."""
    options = inspect.signature(ModbusTcpServer.__init__).parameters
    name = (
        "ignore_missing_devices" if "ignore_missing_devices" in options else "ignore_missing_slaves"
    )
    return {name: True}


@cache
def _idle_context() -> Any:
    """Return a pymodbus server context with one empty device; our requests never read it.

    Made once: pymodbus 3.13 and later log a deprecation warning for every one made.
    """
    datastore = importlib.import_module("pymodbus.datastore")
    device = getattr(datastore, "ModbusDeviceContext", None) or datastore.ModbusSlaveContext
    return datastore.ModbusServerContext(device(), single=True)


def _request_classes(answer: Callable[[Any], Awaitable[Any]]) -> list[type[Any]]:
    """Return the register request classes of pymodbus, answered by `answer` instead."""

    async def serve(request: Any, *_datastore: Any) -> Any:
        return await answer(request)

    return [
        type(
            f"Simulated{name}",
            (shim.pdu_class(name),),
            {"update_datastore": serve, "datastore_update": serve},
        )
        for name in _REQUESTS
    ]


_NO_SUCH_UNIT = _no_such_unit()
_SILENT_FOR_MISSING_UNITS = _silent_for_missing_units()


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
    """Return a believable starting value for a point no physical model covers."""
    point = register_point.point
    key = point.key
    if register_point.register.type.value == "ascii":
        return f"SIM{unit:02d}{key[:4].upper()}"
    if register_point.bits is not None:
        # A field of a packed register (a time period): disabled, at midnight, load first.
        return 0
    if register_point.on_value is not None:
        return register_point.on_value
    if register_point.options:
        preferred = ("normal", "on", "enabled", "load_first")
        raws = list(register_point.options)
        return next((raw for raw in raws if register_point.options[raw] in preferred), raws[0])
    if register_point.bit is not None:
        return 0
    value = _TYPICAL.get(point.device_class or "", 10.0)
    if point.minimum is not None and point.maximum is not None:
        value = point.maximum if value > point.maximum or value < point.minimum else value
    if point.plausible is not None and not point.plausible[0] <= value <= point.plausible[1]:
        value = (point.plausible[0] + point.plausible[1]) / 2
    return value


class SimulatedUnit:
    """One Modbus unit: its register banks, its moving values and its faults."""

    def __init__(self, unit: int, profile: Profile, *, seed: int = 1, moving: bool = True) -> None:
        """Fill the banks from the profile and the physical model of the device."""
        self.unit = unit
        self.profile = profile
        self.moving = moving
        self.counters = UnitCounters()
        self.refusals: list[tuple[Access | None, range | None, int]] = []
        self.asleep = False
        self.actions_run = 0
        # Where each command's write starts: its clock, or its first fixed value.
        self._action_starts = {
            action.clock_address if action.clock_address is not None else action.writes[0].address
            for action in profile.actions
            if action.clock_address is not None or action.writes
        }
        self.banks: dict[Access, dict[int, int]] = {Access.INPUT: {}, Access.HOLDING: {}}
        for register_point in profile.register_points:
            self._store(register_point, _typical(register_point, unit))
        for name, register in profile.info.items():
            serial = name == "serial_number"
            if register.type.value == "ascii":
                self._put(register, _pack(register, f"SIM{unit:04d}" if serial else "SIM1.0"))
            else:
                self._put(register, _pack(register, 2_024_000 + unit if serial else 101))
        pinned: set[tuple[Access, int]] = set()
        for rule in profile.identify:
            register = rule.register
            if rule.equals:
                self._put(register, _pack(register, rule.equals[0]))
                pinned.update(
                    (register.access, register.address + i) for i in range(register.count)
                )
        # The readings a model may set: all but the identification registers, which never move.
        self._measured = [
            register_point
            for register_point in profile.register_points
            if register_point.write is None
            and (register_point.register.access, register_point.register.address) not in pinned
        ]
        keys = [register_point.key for register_point in profile.register_points]
        self.model: DeviceModel | None = model_for(keys, random.Random(seed * 1000 + unit))
        if self.model is not None:
            for key, value in self.model.wiring.items():
                if (setting := profile.register_point(key)) is not None:
                    self._store(setting, value)
            self._measure()

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
        if register_point.bits is not None:
            # A raw field of a register that other settings share.
            low, high = register_point.bits
            mask = ((1 << (high - low + 1)) - 1) << low
            word = self._registers(register)[0] & ~mask | (int(value) << low) & mask
            self._put(register, [word])
        elif register_point.bit is not None:
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
        if register_point.bits is not None:
            # The raw field; a time period's time as hour * 256 + minute.
            low, high = register_point.bits
            return registers[0] >> low & ((1 << (high - low + 1)) - 1)
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

    def _measure(self) -> None:
        """Store what the model measures now in the registers of the readings."""
        assert self.model is not None
        readings = self.model.readings()
        for register_point in self._measured:
            value = readings.get(register_point.key)
            if value is not None:
                self._store(register_point, value)

    def step(self) -> None:
        """Let `TICK` seconds of simulated time pass: the model moves, the readings follow."""
        if self.model is not None:
            self.model.step(TICK)
            self._measure()

    # Faults -----------------------------------------------------------------------------

    def refuse(
        self,
        code: int = DEVICE_FAILURE,
        *,
        access: Access | None = None,
        addresses: range | None = None,
    ) -> None:
        """Answer requests with this exception code: all, or those touching `addresses`."""
        self.refusals.append((access, addresses, code))

    def accept(self) -> None:
        """Answer requests normally again."""
        self.refusals.clear()

    def _refusal(self, access: Access, address: int, count: int) -> int | None:
        for refused_access, addresses, code in self.refusals:
            if refused_access not in (None, access):
                continue
            if addresses is None or any(a in addresses for a in range(address, address + count)):
                return code
        return None

    def sleep(self) -> None:
        """Stop answering, like an inverter whose PV went dark."""
        self.asleep = True

    def wake(self) -> None:
        """Answer again."""
        self.asleep = False

    # Requests ---------------------------------------------------------------------------

    def read(self, access: Access, address: int, count: int) -> list[int] | int:
        """Serve a read of `count` registers, enforcing the device's own read rules."""
        if (refusal := self._refusal(access, address, count)) is not None:
            return refusal
        rules = self.profile.link
        if count > rules.max_registers:
            return ILLEGAL_VALUE
        if rules.even_alignment and (address % 2 or count % 2):
            return ILLEGAL_ADDRESS
        if any(
            address < barrier < address + count for barrier in self.profile.barriers_for(access)
        ):
            return ILLEGAL_ADDRESS
        if self.moving:
            self.step()
        return self._read(access, address, count)

    def write(self, address: int, values: Sequence[int]) -> int | None:
        """Serve a write: only whole settings, only values the device accepts."""
        if (refusal := self._refusal(Access.HOLDING, address, len(values))) is not None:
            return refusal
        fields = [
            setting
            for setting in self.profile.settings
            if setting.bits is not None and setting.register.address == address
        ]
        if fields:
            return self._write_fields(fields, values)
        if address in self._action_starts:
            return self._run_action(address, values)
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
                return ILLEGAL_VALUE
            if register_point.on_value is not None and value not in (
                register_point.on_value,
                register_point.off_value,
            ):
                return ILLEGAL_VALUE
            if not isinstance(value, str) and (
                (point.minimum is not None and value < point.minimum - 1e-6)
                or (point.maximum is not None and value > point.maximum + 1e-6)
            ):
                return ILLEGAL_VALUE
            bank = self.banks[Access.HOLDING]
            for offset, word in enumerate(values):
                bank[address + offset] = word
            return None
        return ILLEGAL_ADDRESS

    def _run_action(self, address: int, values: Sequence[int]) -> int | None:
        """Run a write that is one of the device's commands; return its exception code.

        Return ILLEGAL_ADDRESS for a write that is no command: fixed values, or its clock.
        """
        for action in self.profile.actions:
            written = list(zip(range(address, address + len(values)), values, strict=True))
            fixed = [(write.address, write.value) for write in action.writes]
            is_clock = action.clock_address == address and len(values) == 6
            if not is_clock and fixed != written:
                continue
            if is_clock:
                # Year (after the offset), month, day, hour, minute, second.
                _year, month, day, hour, minute, second = values
                if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24):
                    return ILLEGAL_VALUE
                if max(minute, second) > 59:
                    return ILLEGAL_VALUE
            self.banks[Access.HOLDING].update(written)
            self.actions_run += 1
            return None
        return ILLEGAL_ADDRESS

    def _write_fields(self, fields: Sequence[RegisterPoint], values: Sequence[int]) -> int | None:
        """Store a packed register whole, if every field in it holds a value the device takes."""
        if len(values) != 1:
            return ILLEGAL_VALUE
        (word,) = values
        for setting in fields:
            assert setting.bits is not None
            low, high = setting.bits
            field = word >> low & ((1 << (high - low + 1)) - 1)
            # Growatt V1.24: hour in bits 8-12 and minutes in bits 0-7 of a period's time.
            hour, minute = divmod(field, 256)
            bad_time = setting.time_format is not None and (hour > 23 or minute > 59)
            bad_code = bool(setting.options) and field not in setting.options
            bad_switch = setting.on_value is not None and field not in (
                setting.on_value,
                setting.off_value,
            )
            if bad_time or bad_code or bad_switch:
                return ILLEGAL_VALUE
        self.banks[Access.HOLDING][fields[0].register.address] = word
        return None


class ModbusSimulator:
    """Several simulated units behind one or more pymodbus servers, with a faulty line."""

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
        self.faults = FaultPlan(seed=seed)
        self._requests = _request_classes(self._answer)
        self._servers: list[Any] = []
        self._relays: list[TcpRelay | UdpRelay] = []
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

    def inject(self, fault: Fault, count: int | None = None) -> None:
        """Spoil the next `count` replies on every endpoint, or every reply until cleared."""
        self.faults.inject(fault, count)

    def clear_faults(self) -> None:
        """Let replies through untouched again."""
        self.faults.clear()

    async def _answer(self, request: Any) -> Any:
        """Return the reply PDU of a unit to a request PDU, or stay silent."""
        unit = self.units.get(request.dev_id)
        if unit is None or unit.asleep:
            # With missing units ignored, the server then sends nothing, as a dark device.
            raise _NO_SUCH_UNIT(f"unit {request.dev_id} is not answering")
        function = request.function_code
        if function in _READ_FUNCTIONS:
            result = unit.read(_READ_FUNCTIONS[function], request.address, request.count)
            if isinstance(result, int):
                return ExceptionResponse(function, result)
            name = "ReadHoldingRegistersResponse" if function == 3 else "ReadInputRegistersResponse"
            return shim.pdu_class(name)(registers=result)
        values = [int(value) for value in request.registers]
        if (refusal := unit.write(request.address, values)) is not None:
            return ExceptionResponse(function, refusal)
        # A write is acknowledged by echoing its address and values (FC06) or count (FC16).
        if function == shim.WRITE_SINGLE:
            return shim.pdu_class("WriteSingleRegisterResponse")(
                address=request.address, registers=values
            )
        return shim.pdu_class("WriteMultipleRegistersResponse")(
            address=request.address, count=len(values)
        )

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

    def _options(self, framing: Framing) -> dict[str, Any]:
        """Return what every pymodbus server of this simulator is built with."""
        trace_packet, trace_pdu = self._tracers(framing)
        return {
            "framer": FramerType.SOCKET if framing == "socket" else FramerType.RTU,
            "trace_packet": trace_packet,
            "trace_pdu": trace_pdu,
            "custom_pdu": self._requests,
            **_SILENT_FOR_MISSING_UNITS,
        }

    async def _start(self, server: Any) -> Any:
        await server.serve_forever(background=True)
        self._servers.append(server)
        return server

    async def serve_tcp(
        self, host: str = "127.0.0.1", port: int = 0, *, framing: Framing = "socket"
    ) -> int:
        """Serve Modbus TCP (or RTU frames over TCP); return the port."""
        server = await self._start(
            ModbusTcpServer(_idle_context(), address=("127.0.0.1", 0), **self._options(framing))
        )
        listener = server.transport
        assert isinstance(listener, asyncio.Server)
        relay = TcpRelay(("127.0.0.1", listener.sockets[0].getsockname()[1]), framing, self.faults)
        self._relays.append(relay)
        return await relay.start(host, port)

    async def serve_rtu_over_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve RTU frames over TCP, as a serial-to-Ethernet gateway does; return the port."""
        return await self.serve_tcp(host, port, framing="rtu")

    async def serve_udp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve Modbus UDP; return the port."""
        server = await self._start(
            ModbusUdpServer(_idle_context(), address=("127.0.0.1", 0), **self._options("socket"))
        )
        relay = UdpRelay(("127.0.0.1", server.transport.get_extra_info("sockname")[1]), self.faults)
        self._relays.append(relay)
        return await relay.start(host, port)

    async def serve_pty(self, *, baudrate: int = 9600) -> str:
        """Serve RTU on one end of a pty pair; return the path a client opens."""
        bridge = PtyBridge(self.faults)
        bridge.open()
        self._bridges.append(bridge)
        await self._start(
            ModbusSerialServer(
                _idle_context(),
                port=bridge.device_path,
                baudrate=baudrate,
                **self._options("rtu"),
            )
        )
        return bridge.client_path

    async def stop(self) -> None:
        """Shut every server and relay down and close the ptys."""
        for relay in self._relays:
            await relay.close()
        self._relays.clear()
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
