"""The demo simulators: each family has one, and each serves what its family's client finds."""

from __future__ import annotations

from pathlib import Path
import sys

from inverterlib.families import FAMILIES, create_client
import pytest

from simulators.registry import DEMOS, Demo


def test_every_family_has_a_demo() -> None:
    """scripts/develop shows every family: a family without a demo fails here."""
    assert set(DEMOS) == set(FAMILIES)
    assert all(demo.family == family for family, demo in DEMOS.items())


def test_demos_can_all_serve_at_once(tmp_path: Path) -> None:
    """No two demos take the same default port or pty."""
    addresses = [demo.address(tmp_path) for demo in DEMOS.values()]
    assert len(set(addresses)) == len(addresses)


def test_addresses_links_and_commands(tmp_path: Path) -> None:
    """A TCP demo serves on loopback, a pty demo in the folder given; the link reaches it."""
    tcp, pty = DEMOS["xcom"], DEMOS["modbus"]
    assert tcp.address(tmp_path) == "127.0.0.1:18840"
    assert tcp.address(tmp_path, 4001) == "127.0.0.1:4001"
    assert tcp.link("127.0.0.1:4001") == "tcp://127.0.0.1:4001"
    assert pty.address(tmp_path) == str(tmp_path / "ttyRS485")
    assert pty.link(str(tmp_path / "ttyRS485")) == str(tmp_path / "ttyRS485")
    assert tcp.command("127.0.0.1:4001") == [
        sys.executable,
        *("-u", "-m", "simulators.xcom", "--tcp", "127.0.0.1:4001", "--xtenders", "3"),
    ]


def test_a_demo_that_exits_at_once_is_an_error(tmp_path: Path) -> None:
    """A simulator that never serves is reported, not waited for."""
    broken = Demo(family="none", module="simulators.no_such_module", endpoint="pty", summary="-")
    with (
        pytest.raises(RuntimeError, match="none simulator exited with status 1"),
        broken.running(broken.address(tmp_path)),
    ):
        pass


@pytest.mark.parametrize("family", sorted(DEMOS))
async def test_demo_serves_what_its_family_identifies(
    family: str, socket_enabled: None, unused_tcp_port: int, tmp_path: Path
) -> None:
    """Each demo, started as scripts/develop starts it, answers its family's client."""
    demo = DEMOS[family]
    address = demo.address(tmp_path, unused_tcp_port)
    with demo.running(address) as process:
        client = create_client(family, demo.link(address))
        try:
            await client.connect()
            devices = await client.identify()
        finally:
            await client.close()
        assert process.poll() is None
    assert devices
    assert {device.family for device in devices} == {family}
    assert process.returncode is not None
