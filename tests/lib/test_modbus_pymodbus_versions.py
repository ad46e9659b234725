"""pymodbus 3.8 to 3.16: each API difference is found by feature, never by version number.

The whole Modbus test set runs against one installed pymodbus; these tests also walk the
branches for the API shapes of the other releases, with stand-ins where a release differs:
the exception for a missing unit (`NoSuchSlaveException` until 3.9, `NoSuchIdException` since
3.10), the server option that silences it (`ignore_missing_slaves`, `ignore_missing_devices`),
the device context (`ModbusSlaveContext`, `ModbusDeviceContext`), and the datastore method of
a request (`update_datastore(context)` until 3.11, `datastore_update(context, device_id)` since).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
import re
import tomllib
from types import SimpleNamespace
from typing import Any

from inverterlib.modbus import shim
import pymodbus
import pytest

from simulators import modbus as simulator_module

ROOT = Path(__file__).parents[2]


def test_the_requirement_is_a_floor_without_a_ceiling() -> None:
    manifest = json.loads((ROOT / "custom_components/inverter_hub/manifest.json").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirements in (manifest["requirements"], project["dependencies"]):
        (pin,) = (item for item in requirements if item.startswith("pymodbus"))
        assert re.fullmatch(r"pymodbus>=3\.8(\.0)?", pin)
    major, minor = (int(part) for part in pymodbus.__version__.split(".")[:2])
    assert (major, minor) >= (3, 8)


def test_the_missing_unit_exception_is_found_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    exceptions = importlib.import_module("pymodbus.exceptions")
    renamed = type("NoSuchIdException", (Exception,), {})
    before = type("NoSuchSlaveException", (Exception,), {})
    monkeypatch.setattr(exceptions, "NoSuchIdException", renamed, raising=False)
    monkeypatch.setattr(exceptions, "NoSuchSlaveException", before, raising=False)
    assert simulator_module._no_such_unit() is renamed
    monkeypatch.delattr(exceptions, "NoSuchIdException")
    assert simulator_module._no_such_unit() is before


class _ServerBefore310:
    def __init__(self, context: Any, *, ignore_missing_slaves: bool = False) -> None:
        pass


class _ServerSince310:
    def __init__(self, context: Any, *, ignore_missing_devices: bool = False) -> None:
        pass


def test_the_silencing_server_option_is_found_in_the_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(simulator_module, "ModbusTcpServer", _ServerBefore310)
    assert simulator_module._silent_for_missing_units() == {"ignore_missing_slaves": True}
    monkeypatch.setattr(simulator_module, "ModbusTcpServer", _ServerSince310)
    assert simulator_module._silent_for_missing_units() == {"ignore_missing_devices": True}


def test_the_idle_context_uses_the_device_context_of_the_release(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[str, bool]] = []

    class SlaveContext:
        pass

    class ServerContext:
        def __init__(self, device: object, single: bool) -> None:
            made.append((type(device).__name__, single))

    datastore = SimpleNamespace(ModbusSlaveContext=SlaveContext, ModbusServerContext=ServerContext)
    real_import = importlib.import_module
    monkeypatch.setattr(
        importlib,
        "import_module",
        lambda name: datastore if name == "pymodbus.datastore" else real_import(name),
    )
    simulator_module._idle_context.cache_clear()
    try:
        simulator_module._idle_context()
    finally:
        simulator_module._idle_context.cache_clear()
    assert made == [("SlaveContext", True)]


async def test_requests_answer_by_either_datastore_method() -> None:
    asked: list[Any] = []

    async def answer(request: Any) -> str:
        asked.append(request)
        return f"reply to FC{request.function_code}"

    classes = simulator_module._request_classes(answer)
    assert [cls.function_code for cls in classes] == [3, 4, 6, 16]
    read = classes[0](address=10, count=2)
    # pymodbus 3.8 to 3.11 pass a device context; 3.12 and later the server context and id.
    assert await read.update_datastore(object()) == "reply to FC3"
    assert await read.datastore_update(object(), 7) == "reply to FC3"
    assert asked == [read, read]
    assert isinstance(read, shim.pdu_class("ReadHoldingRegistersRequest"))


def test_every_pdu_class_the_simulator_answers_with_exists() -> None:
    for name in (
        *simulator_module._REQUESTS,
        "ReadHoldingRegistersResponse",
        "ReadInputRegistersResponse",
        "WriteSingleRegisterResponse",
        "WriteMultipleRegistersResponse",
    ):
        assert shim.pdu_class(name).__name__ == name
    with pytest.raises(ImportError, match="no MaskWriteRegisterNothing"):
        shim.pdu_class("MaskWriteRegisterNothing")
