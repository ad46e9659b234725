"""Command line: identify, read or write any supported device from a shell, JSON out."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import asdict
import json
import math
import os
from pathlib import Path
import sys

from .errors import InverterError, LinkTimeoutError
from .families import FAMILIES, create_client
from .family import ClientOptions, KnownDevice
from .model import DeviceIdentity, Point, Value, json_value
from .relay.serve import add_arguments, serve
from .session import DeviceState, LinkSession, SessionSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inverter",
        description="Talk to a home inverter or meter. LINK is a serial path (/dev/ttyUSB0), "
        "hid:/dev/hidraw0, tcp://HOST:PORT, udp://HOST:PORT or rtu-over-tcp://HOST:PORT. "
        "Options may stand anywhere on the line.",
    )
    parser.add_argument("action", choices=["identify", "read", "write", "serve"])
    parser.add_argument("family", choices=sorted(FAMILIES))
    parser.add_argument("link")
    parser.add_argument("key", nargs="?", help="point key to write")
    parser.add_argument("value", nargs="?", help="new value (none for an action)")
    parser.add_argument("--baud", type=int, help="serial speed, overriding the family default")
    parser.add_argument(
        "--address",
        "--unit",
        dest="address",
        type=int,
        action="append",
        help="bus address of a device (Modbus unit); repeat for several (default 1)",
    )
    parser.add_argument("--profile", help="device profile id (detected when omitted)")
    parser.add_argument(
        "--profile-dir", type=Path, action="append", default=[], help="extra device profiles"
    )
    parser.add_argument("--device", help="serial number of one device of several on the link")
    parser.add_argument(
        "--expert", action="store_true", help="allow expert settings and dangerous actions"
    )
    # serve: run the link and relay it to MQTT and RabbitMQ until SIGTERM.
    add_arguments(parser)
    return parser


def _options(args: argparse.Namespace) -> ClientOptions:
    return ClientOptions(
        baudrate=args.baud,
        devices=tuple(
            KnownDevice(address=address, profile=args.profile) for address in args.address or ()
        ),
        profile_dirs=tuple(args.profile_dir),
        expert=args.expert,
    )


def _session(args: argparse.Namespace) -> LinkSession:
    """Return the unstarted session of the link the command line names."""
    client = create_client(args.family, args.link, _options(args))
    # Reading shows every point; expert mode only gates what a write may touch.
    return LinkSession(client, SessionSettings(expert=args.expert or args.action == "read"))


def _rounded(point: Point | None, value: Value) -> object:
    """Return a value as JSON data, rounded to its point's precision (no float noise)."""
    data = json_value(value)
    if isinstance(data, float) and point is not None and point.precision is not None:
        return round(data, point.precision)
    return data


def _values(state: DeviceState) -> dict[str, object]:
    return {
        key: _rounded(state.points.get(key), value)
        for key, value in sorted(state.values.items())
        if not (isinstance(value, float) and not math.isfinite(value))
    }


def _nested(devices: list[DeviceState]) -> dict[str, object]:
    """Return every device's values keyed by serial, each child under its parent's "devices"."""
    values = {state.identity.serial_number: _values(state) for state in devices}
    children: dict[str, dict[str, object]] = {}
    roots: dict[str, object] = {}
    for state in devices:
        serial, parent = state.identity.serial_number, state.identity.parent_serial
        if parent in values:
            values[parent]["devices"] = children.setdefault(parent, {})
            children[parent][serial] = values[serial]
        else:
            roots[serial] = values[serial]
    return roots


def _chosen(session: LinkSession, serial_number: str | None) -> list[DeviceState]:
    if serial_number is not None:
        return [session.state_of(serial_number)]
    return list(session.devices.values())


async def _run(args: argparse.Namespace) -> object:
    session = _session(args)
    try:
        await session.start()
        devices = _chosen(session, args.device)
        if args.action == "identify":
            return [_identity(state.identity, len(state.points)) for state in devices]
        if args.action == "read":
            session.want("cli", None)
            await session.poll()
            if session.link_error is not None:
                raise session.link_error
            if silent := [state.identity.title for state in devices if not state.available]:
                raise LinkTimeoutError(f"{', '.join(silent)} did not answer")
            if len(devices) == 1:
                return _values(devices[0])
            return _nested(devices)
        device = devices[0].identity
        record = await session.write(device.serial_number, args.key, args.value, source="cli")
        return {key: record.as_json()[key] for key in ("key", "old", "new", "outcome")}
    finally:
        await session.close()


def _identity(identity: DeviceIdentity, points: int) -> dict[str, object]:
    return {**asdict(identity), "points": points}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    parser = _parser()
    args = parser.parse_intermixed_args(argv)
    if args.action == "write" and args.key is None:
        parser.error("write needs KEY (and VALUE, except for an action)")
    try:
        if args.action == "serve":
            return asyncio.run(serve(_session, args))
        result = asyncio.run(_run(args))
    except (InverterError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    try:
        json.dump(result, sys.stdout, indent=2, default=str, allow_nan=False)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) left early; silence the final flush at exit as well.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
