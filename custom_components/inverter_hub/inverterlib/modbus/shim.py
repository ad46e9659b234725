"""Every use of pymodbus, behind a few functions that work on 3.8 through 3.16.

pymodbus builds and parses the PDUs (function code + data). The API moved between releases,
so each difference is detected from what the installed pymodbus offers, never from its
version string:

* the unit keyword of a PDU: `dev_id` (3.8+), `slave_id` / `slave` (3.7 and before);
* register payloads: `registers=` (3.8+) or `value=` / `values=` (3.7 and before);
* the module of the register PDUs: `register_message` (3.8+) or the older
  `register_read_message` / `register_write_message` pair;
* the reply decoder: `DecodePDU(is_server=False)` (3.7.4+) or `ClientDecoder()` (older).

An exception reply is recognised by its function code (0x80 set), which every release and the
Modbus spec agree on; `isError()` is not needed. Whatever pymodbus raises on a reply it cannot
parse (a `struct.error` for a PDU cut short, among others) becomes our FrameError.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
import importlib
import inspect
from typing import Any

from ..errors import FrameError

READ_HOLDING = 3
READ_INPUT = 4
WRITE_SINGLE = 6
WRITE_MULTIPLE = 16

_UNIT_KEYWORDS = ("dev_id", "device_id", "slave_id", "slave")


@dataclass(frozen=True, kw_only=True, slots=True)
class Reply:
    """A decoded reply PDU, free of pymodbus types."""

    function: int
    exception: int | None = None
    registers: tuple[int, ...] = ()
    address: int | None = None
    count: int | None = None


def _import_register_modules() -> tuple[Any, ...]:
    """Import the modules that hold the register PDUs in this pymodbus."""
    modules = []
    for module_name in (
        "pymodbus.pdu.register_message",
        "pymodbus.pdu.register_read_message",
        "pymodbus.pdu.register_write_message",
    ):
        try:
            modules.append(importlib.import_module(module_name))
        except ImportError:  # pragma: no cover - the module layout of another release
            continue
    return tuple(modules)


# Imported with this module (Home Assistant imports integrations off the event loop), never
# lazily during I/O, where an import would block the loop.
_REGISTER_MODULES = _import_register_modules()


@cache
def pdu_class(name: str) -> Any:
    """Return a register PDU class wherever this pymodbus keeps it."""
    for module in _REGISTER_MODULES:
        if hasattr(module, name):
            return getattr(module, name)
    raise ImportError(f"this pymodbus has no {name}")


@cache
def _keywords(cls: Any) -> frozenset[str]:
    """Return the keyword parameters a PDU class accepts (its own or its base's)."""
    names: set[str] = set()
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get("__init__")
        if init is not None:
            names.update(inspect.signature(init).parameters)
            break
    return frozenset(names)


def unit_keyword(cls: Any) -> str:
    """Return the keyword a PDU class takes the unit id by."""
    accepted = _keywords(cls)
    for name in _UNIT_KEYWORDS:
        if name in accepted:
            return name
    raise TypeError(f"{cls.__name__} takes no unit id keyword")  # pragma: no cover


def _build(class_name: str, unit: int, **fields: Any) -> Any:
    cls = pdu_class(class_name)
    return cls(**fields, **{unit_keyword(cls): unit})


def read_request(function: int, unit: int, address: int, count: int) -> bytes:
    """Return the PDU reading `count` registers (FC03 holding, FC04 input)."""
    name = (
        "ReadHoldingRegistersRequest" if function == READ_HOLDING else "ReadInputRegistersRequest"
    )
    return encode(_build(name, unit, address=address, count=count))


def write_single_request(unit: int, address: int, value: int) -> bytes:
    """Return the FC06 PDU writing one register."""
    cls = pdu_class("WriteSingleRegisterRequest")
    payload = {"registers": [value]} if "registers" in _keywords(cls) else {"value": value}
    return encode(_build("WriteSingleRegisterRequest", unit, address=address, **payload))


def write_multiple_request(unit: int, address: int, values: Sequence[int]) -> bytes:
    """Return the FC16 PDU writing consecutive registers."""
    cls = pdu_class("WriteMultipleRegistersRequest")
    payload = (
        {"registers": list(values)} if "registers" in _keywords(cls) else {"values": list(values)}
    )
    return encode(_build("WriteMultipleRegistersRequest", unit, address=address, **payload))


def encode(pdu: Any) -> bytes:
    """Return a pymodbus PDU as bytes: function code, then data."""
    return bytes([pdu.function_code]) + bytes(pdu.encode())


def _make_decoder() -> Any:
    """Return this pymodbus's client-side PDU decoder."""
    pdu_module = importlib.import_module("pymodbus.pdu")
    if hasattr(pdu_module, "DecodePDU"):
        return pdu_module.DecodePDU(False)
    return importlib.import_module("pymodbus.factory").ClientDecoder()  # pragma: no cover


_DECODER = _make_decoder()


def _decoder() -> Any:
    """Return this pymodbus's client-side PDU decoder."""
    return _DECODER


def decode_reply(data: bytes) -> Reply:
    """Return the reply PDU in `data`, or raise FrameError if pymodbus cannot parse it."""
    if not data:
        raise FrameError("empty reply")
    if data[0] & 0x80:
        if len(data) != 2:
            raise FrameError(f"exception reply of {len(data)} bytes")
        return Reply(function=data[0] & 0x7F, exception=data[1])
    try:
        return _reply(_decoder().decode(data))
    # pymodbus parses with struct and slicing, and which error a short or odd PDU raises
    # (struct.error, IndexError, ValueError, its own exceptions) differs between releases.
    except Exception as err:
        raise FrameError(f"cannot decode reply {data.hex()}: {err}") from err


def _reply(pdu: Any) -> Reply:
    """Return the fields of a decoded pymodbus PDU."""
    if pdu is None:
        raise ValueError("pymodbus knows no such reply")
    registers = tuple(int(value) for value in getattr(pdu, "registers", None) or ())
    if not registers and hasattr(pdu, "value"):  # pragma: no cover - pymodbus before 3.8
        registers = (int(pdu.value),)
    count = getattr(pdu, "count", None)
    return Reply(
        function=int(pdu.function_code),
        registers=registers,
        address=getattr(pdu, "address", None),
        count=int(count) if count is not None else None,
    )
