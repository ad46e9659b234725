"""The relay's small parts: the outbox, the command record, back-off, URLs, deadband."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from inverterlib.model import Point, ValueType
from inverterlib.relay.bus import Backoff, redact, uses_tls
from inverterlib.relay.deadband import changed, moved
from inverterlib.relay.outbox import Outbox
from inverterlib.relay.store import CommandStore
import pytest


async def test_outbox_sends_results_then_the_latest_retained_messages() -> None:
    box = Outbox()
    sent: list[tuple[str, bytes, bool]] = []

    async def sender(topic: str, body: bytes, retain: bool) -> None:
        sent.append((topic, body, retain))

    box.keep("a", b"1")
    box.keep("b", b"1")
    box.keep("a", b"2")
    box.send("r", b"x")
    box.send("r", b"y")
    drain = asyncio.create_task(box.drain(sender))
    assert await box.flush(5)
    assert sent == [("r", b"x", False), ("r", b"y", False), ("a", b"2", True), ("b", b"1", True)]
    box.resend_all()
    assert await box.flush(5)
    assert sent[4:] == [("a", b"2", True), ("b", b"1", True)]
    drain.cancel()


async def test_outbox_keeps_what_the_broker_did_not_take() -> None:
    box = Outbox()
    sent: list[bytes] = []
    fail = True

    async def sender(topic: str, body: bytes, retain: bool) -> None:
        if fail:
            raise ConnectionError
        sent.append(body)

    box.keep("a", b"1")
    box.send("r", b"x")
    with pytest.raises(ConnectionError):
        await box.drain(sender)
    assert not await box.flush(0.01)
    fail = False
    drain = asyncio.create_task(box.drain(sender))
    assert await box.flush(5)
    assert sent == [b"x", b"1"]
    drain.cancel()


async def test_outbox_sends_a_body_kept_while_the_older_one_was_on_its_way() -> None:
    box = Outbox()
    sent: list[bytes] = []

    async def sender(topic: str, body: bytes, retain: bool) -> None:
        if body == b"1":
            box.keep("a", b"2")
        sent.append(body)

    box.keep("a", b"1")
    drain = asyncio.create_task(box.drain(sender))
    assert await box.flush(5)
    assert sent == [b"1", b"2"]
    drain.cancel()


async def test_store_keeps_the_newest_ids_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "commands.json"
    store = CommandStore(path, limit=3)
    await store.load()
    await store.begin("s", "1")
    assert store.pending("s", "1")
    assert store.result("s", "1") is None
    for token in "1234":
        await store.finish("s", token, {"id": token})
    assert not store.pending("s", "4")
    again = CommandStore(path, limit=3)
    await again.load()
    assert again.result("s", "1") is None
    assert [again.result("s", token) for token in "234"] == [{"id": t} for t in "234"]
    assert again.result("other", "4") is None
    assert json.loads(path.read_text())["format"] == 1
    smaller = CommandStore(path, limit=2)
    await smaller.load()
    assert smaller.result("s", "2") is None


async def test_store_starts_afresh_from_a_damaged_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "commands.json"
    for text in ("{", '{"commands": 5}', "[]", '{"commands": [[1, 2]]}'):
        path.write_text(text)
        store = CommandStore(path)
        with caplog.at_level(logging.WARNING):
            await store.load()
        assert store.result("1", "2") is None
    assert "damaged command record" in caplog.text
    path.write_text('{"commands": [["s", "1", 5], ["s", "2", null]]}')
    store = CommandStore(path)
    await store.load()
    assert not store.pending("s", "1")
    assert store.pending("s", "2")


async def test_store_in_memory_only() -> None:
    store = CommandStore(None)
    await store.load()
    await store.finish("s", "1", {"ok": True})
    assert store.result("s", "1") == {"ok": True}


def test_backoff_doubles_to_a_ceiling_and_resets() -> None:
    backoff = Backoff(initial=1.0, maximum=5.0)
    assert [backoff.next_delay() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_urls() -> None:
    assert redact("amqp://user:secret@host:5672/vh") == "amqp://user:***@host:5672/vh"
    assert redact("mqtts://user:secret@host") == "mqtts://user:***@host"
    assert redact("mqtt://host:1883") == "mqtt://host:1883"
    assert uses_tls("amqps://host")
    assert uses_tls("mqtts://host")
    assert not uses_tls("amqp://host")
    assert not uses_tls("mqtt://host")


def test_deadband() -> None:
    volts = Point(key="v", name="V", precision=1)
    exact = Point(key="e", name="E")
    mode = Point(key="m", name="M", value_type=ValueType.ENUM, options=("a", "b"))
    assert not moved(volts, 230.0, 230.04)
    assert moved(volts, 230.0, 230.05)
    assert moved(volts, 230.15, 230.1)
    assert moved(exact, 1.0, 1.0001)
    assert moved(mode, "a", "b")
    assert moved(None, 1, 2)
    assert not moved(volts, True, True)
    points = {"v": volts}
    assert not changed(points, {"v": 230.0}, {"v": 230.01})
    assert changed(points, {"v": 230.0}, {"v": 230.01, "w": 1})
