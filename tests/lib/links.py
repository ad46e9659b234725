"""In-memory links for tests: a device's answers without a port."""

from __future__ import annotations

from collections.abc import Callable

from inverterlib.transport.base import Link

type Reply = bytes | Callable[[bytes], bytes] | None


class MemoryLink(Link):
    """A link whose device answers each frame sent at once with `answer(frame)` (None: silence)."""

    def __init__(
        self,
        answer: Callable[[bytes], bytes | None] = lambda _: None,
        *,
        timeout: float = 1.0,
        description: str = "memory",
    ) -> None:
        super().__init__(timeout=timeout)
        self.answer = answer
        self.sent: list[bytes] = []
        self._description = description
        self._opened = False

    @property
    def description(self) -> str:
        return self._description

    @property
    def is_open(self) -> bool:
        return self._opened

    async def _open(self) -> None:
        self._opened = True

    async def _close(self) -> None:
        self._opened = False

    def _send(self, data: bytes) -> None:
        self.sent.append(data)
        if reply := self.answer(data):
            self.inbox.feed(reply)


class ScriptedLink(MemoryLink):
    """A link whose device answers each frame sent with the next scripted reply."""

    def __init__(self, *replies: Reply, timeout: float = 0.05) -> None:
        super().__init__(self._next, timeout=timeout, description="scripted")
        self.replies = list(replies)

    def _next(self, data: bytes) -> bytes | None:
        reply = self.replies.pop(0)
        return reply(data) if callable(reply) else reply
