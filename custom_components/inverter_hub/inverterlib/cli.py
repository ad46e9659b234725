"""Command line: identify, read or write any supported device from a shell, JSON out."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import asdict
import json
import os
from pathlib import Path
import sys

from .client import InverterClient
from .errors import InverterError, UnknownPointError
from .families import ClientOptions, ModbusUnit, create_client, families
from .model import DeviceIdentity, Snapshot, json_value
from .writer import find_point, write_setting


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inverter",
        description="Talk to a home inverter or meter. LINK is a serial path (/dev/ttyUSB0), "
        "hid:/dev/hidraw0, tcp://HOST:PORT, udp://HOST:PORT or rtu-over-tcp://HOST:PORT.",
    )
    parser.add_argument("action", choices=["identify", "read", "write"])
    parser.add_argument("family", choices=sorted(families()))
    parser.add_argument("link")
    parser.add_argument("key", nargs="?", help="point key to write")
    parser.add_argument("value", nargs="?", help="new value")
    parser.add_argument("--baud", type=int, help="serial speed, overriding the family default")
    parser.add_argument("--unit", type=int, default=1, help="Modbus unit address (default 1)")
    parser.add_argument("--profile", help="Modbus profile id (detected when omitted)")
    parser.add_argument(
        "--profile-dir", type=Path, action="append", default=[], help="extra Modbus profiles"
    )
    parser.add_argument("--device", help="serial number of one device of several on the link")
    return parser


def _options(args: argparse.Namespace) -> ClientOptions:
    return ClientOptions(
        baudrate=args.baud,
        units=(ModbusUnit(unit=args.unit, profile=args.profile),),
        profile_dirs=tuple(args.profile_dir),
    )


def _pick(devices: list[DeviceIdentity], serial_number: str | None) -> DeviceIdentity:
    if serial_number is None:
        return devices[0]
    for device in devices:
        if device.serial_number == serial_number:
            return device
    raise UnknownPointError(f"no device with serial number {serial_number} on the link")


async def _run(args: argparse.Namespace) -> object:
    client: InverterClient = create_client(args.family, args.link, _options(args))
    try:
        await client.connect()
        devices = await client.identify()
        if args.action == "identify":
            return [
                {**asdict(device), "points": len(client.catalogue(device))} for device in devices
            ]
        device = _pick(devices, args.device)
        points = {point.key: point for point in client.catalogue(device)}
        if args.action == "read":
            values = await client.read(device, list(points))
            return Snapshot(device=device, values=values).as_json()
        point = find_point(points, args.key)
        record = await write_setting(client, device, point, args.value, source="cli")
        return {
            "key": record.key,
            "old": json_value(record.old),
            "new": json_value(record.new),
            "outcome": record.outcome.value,
        }
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.action == "write" and (args.key is None or args.value is None):
        parser.error("write needs KEY and VALUE")
    try:
        result = asyncio.run(_run(args))
    except (InverterError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    try:
        json.dump(result, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) left early; silence the final flush at exit as well.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
