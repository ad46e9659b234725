"""Find a family's devices on the network: which hosts answer on its port, and who they are."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import ipaddress
import logging

from .errors import InverterError
from .families import create_client
from .model import DeviceIdentity
from .transport.tcp import host_port

_LOGGER = logging.getLogger(__name__)

# Enough to cover a /24 in a few connect timeouts without flooding a home router.
CONCURRENCY = 64
CONNECT_TIMEOUT = 1.0


def hosts_of(network: ipaddress.IPv4Network, *, own: str | None = None) -> list[str]:
    """Return the hosts of a network to ask, without the asker's own address."""
    return [str(host) for host in network.hosts() if str(host) != own]


async def _answers(host: str, port: int, limit: asyncio.Semaphore) -> bool:
    async with limit:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True


async def _identify(family: str, link: str) -> list[DeviceIdentity]:
    # Building a client may read profile files: off the event loop, where Home Assistant runs.
    client = await asyncio.to_thread(create_client, family, link)
    try:
        await client.connect()
        return await client.identify()
    except InverterError as err:
        _LOGGER.debug("%s answers but is no %s device: %s", link, family, err)
        return []
    finally:
        await client.close()


async def search(family: str, hosts: Iterable[str], port: int) -> list[tuple[str, DeviceIdentity]]:
    """Return the link and main device of every host that answers on `port` as `family`."""
    limit = asyncio.Semaphore(CONCURRENCY)
    candidates = list(hosts)
    answered = await asyncio.gather(*(_answers(host, port, limit) for host in candidates))
    found: list[tuple[str, DeviceIdentity]] = []
    for host, answers in zip(candidates, answered, strict=True):
        if not answers:
            continue
        link = f"tcp://{host_port(host, port)}"
        # One at a time: a dongle that just took a probe connection may still be closing it.
        if devices := await _identify(family, link):
            found.append((link, devices[0]))
    return found
