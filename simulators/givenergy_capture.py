"""A GivEnergy unit that answers with the registers captured from a real one.

A capture file is JSON: `devices` maps a device address ("0x11", "0x32", ...) to its
`holding` and `input` registers (register number -> value), and `inverter_serial` names the
inverter the replies carry. Devices the file leaves out stay silent, as absent meters and
packs do on a real bus; a read of a present device that asks for any register the capture
lacks is refused, so a client moves on instead of waiting and never sees a made-up value.
Writes to captured holding registers persist.

    python -m simulators.givenergy --capture tests/lib/fixtures/givenergy_capture_gen2.json
"""

from __future__ import annotations

from collections.abc import Mapping
import json
from pathlib import Path
from typing import Any

from .givenergy_plant import (
    BANK,
    HOLDING,
    ILLEGAL_ADDRESS,
    ILLEGAL_VALUE,
    INPUT,
    INVERTER,
    INVERTER_FACADE,
    Answer,
    Refused,
)

_FUNCTIONS = {"holding": HOLDING, "input": INPUT}


class CaptureError(ValueError):
    """A capture file that does not describe registers."""


def _table(device: str, name: str, registers: object) -> dict[int, int]:
    if not isinstance(registers, Mapping):
        raise CaptureError(f"{device} {name}: must map registers to values")
    table = {}
    for register, value in registers.items():
        try:
            address, word = int(register), int(value)
        except (TypeError, ValueError) as err:
            raise CaptureError(f"{device} {name} {register}: not a register value") from err
        if not (0 <= address <= 0xFFFF and 0 <= word <= 0xFFFF):
            raise CaptureError(f"{device} {name} {register}: out of range")
        table[address] = word
    return table


class CapturedUnit:
    """An inverter and its devices replaying captured registers."""

    def __init__(self, devices: Mapping[int, Mapping[int, dict[int, int]]], serial: str) -> None:
        """Serve `devices` (address -> function -> register -> value) as `serial`."""
        self.devices = {address: dict(tables) for address, tables in devices.items()}
        self.serial = serial

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CapturedUnit:
        """Return the unit a decoded capture file describes."""
        devices = data.get("devices")
        serial = data.get("inverter_serial")
        if not isinstance(devices, Mapping) or not isinstance(serial, str) or len(serial) != 10:
            raise CaptureError("a capture needs `devices` and a 10-character `inverter_serial`")
        parsed: dict[int, dict[int, dict[int, int]]] = {}
        for device, tables in devices.items():
            try:
                address = int(device, 0)
            except (TypeError, ValueError) as err:
                raise CaptureError(f"{device}: not a device address") from err
            if not isinstance(tables, Mapping) or set(tables) - set(_FUNCTIONS):
                raise CaptureError(f"{device}: only `holding` and `input` registers")
            parsed[address] = {
                _FUNCTIONS[name]: _table(device, name, registers)
                for name, registers in tables.items()
            }
        return cls(parsed, serial)

    @classmethod
    def from_file(cls, path: Path) -> CapturedUnit:
        """Return the unit a capture file describes."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise CaptureError(f"{path}: cannot read: {err}") from err
        if not isinstance(data, Mapping):
            raise CaptureError(f"{path}: must be a JSON object")
        return cls.from_data(data)

    def _tables(self, device: int) -> dict[int, dict[int, int]] | None:
        if device == INVERTER_FACADE and device not in self.devices:
            device = INVERTER
        return self.devices.get(device)

    def read(self, device: int, function: int, base: int, count: int) -> Answer:
        """Answer a read from the capture: values, a refusal, or None for silence."""
        tables = self._tables(device)
        if tables is None:
            return None
        if not 1 <= count <= BANK:
            return Refused(code=ILLEGAL_VALUE)
        table = tables.get(function, {})
        span = range(base, base + count)
        if not all(address in table for address in span):
            return Refused(code=ILLEGAL_ADDRESS)
        return [table[address] for address in span]

    def write(self, device: int, register: int, value: int) -> Answer:
        """Set a captured holding register; refuse any other."""
        tables = self._tables(device)
        if tables is None:
            return None
        holding = tables.get(HOLDING, {})
        if register not in holding:
            return Refused(code=ILLEGAL_ADDRESS)
        holding[register] = value
        return [value]
