"""Start every family's demo simulator, seed Home Assistant's entries for them, keep them up.

Usage (from the repository root, on PYTHONPATH): run_simulators.py CONFIG_DIR RUN_DIR
A TCP demo serves on its own port unless <FAMILY>_PORT (PI30_PORT, XCOM_PORT, ...) names
another; a pty demo serves in RUN_DIR. Once every demo serves and the entries are seeded,
RUN_DIR/simulators.ready says what serves where. SIGTERM stops them all.
"""

import asyncio
from contextlib import ExitStack, suppress
import os
from pathlib import Path
import signal
import sys
from types import FrameType

from inverterlib.families import create_client
from inverterlib.model import DeviceIdentity
from seed_storage import SeededEntry, mark_onboarding_done, seed_entries

from simulators.registry import DEMOS

READY = "simulators.ready"


async def first_device(family: str, link: str) -> DeviceIdentity:
    """Identify what answers on a link and return the first device, as the config flow does."""
    client = create_client(family, link)
    try:
        await client.connect()
        return (await client.identify())[0]
    finally:
        await client.close()


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(config: Path, run_dir: Path) -> None:
    """Start the demos, seed the entries, announce them, and serve until stopped."""
    ready = run_dir / READY
    ready.unlink(missing_ok=True)
    seeded: list[SeededEntry] = []
    lines: list[str] = []
    with ExitStack() as running:
        running.callback(ready.unlink, missing_ok=True)
        for demo in DEMOS.values():
            port = os.environ.get(f"{demo.family.upper()}_PORT")
            address = demo.address(run_dir, int(port) if port else None)
            running.enter_context(demo.running(address))
            link = demo.link(address)
            lines.append(f"{demo.summary}: {link}")
            if demo.seeded:
                device = asyncio.run(first_device(demo.family, link))
                lines.append(f"    seeded as {device.title}")
                seeded.append(
                    SeededEntry(
                        family=demo.family,
                        link=link,
                        title=device.title,
                        unique_id=device.serial_number,
                    )
                )
            else:
                lines.append(f"    {demo.how_to_add}")
        storage = config / ".storage"
        mark_onboarding_done(storage)
        seed_entries(storage, seeded)
        # Written whole, then renamed: scripts/develop waits for the file to appear.
        ready.with_suffix(".new").write_text("\n".join(lines) + "\n")
        ready.with_suffix(".new").replace(ready)
        while True:
            signal.pause()


def main() -> int:
    """Serve the demos for the config dir and run dir given on the command line."""
    signal.signal(signal.SIGTERM, _stop)
    with suppress(KeyboardInterrupt):
        serve(Path(sys.argv[1]), Path(sys.argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
