"""One SCOM transaction at a time over a link: send a request, take the reply that answers it."""

from __future__ import annotations

import asyncio
import logging
import time

from ..errors import FrameError, LinkTimeoutError
from ..transport.base import Link
from .codec import (
    DTE_ADDRESS,
    Frame,
    FrameFlags,
    ServiceData,
    decode_service,
    request_frame,
    take_frame,
)
from .errors import ScomError, refusal
from .kinds import XCOM_ADDRESS

_LOGGER = logging.getLogger(__name__)

# Broadcast, all Xtenders, the phase groups, and all VarioTrack, BSP and VarioString units.
GROUP_ADDRESSES = frozenset({0, 100, 191, 192, 193, 300, 600, 700})
# The Xcom answers within 2 s, slower while its datalogger writes (every 60 s).
TIMEOUT = 2.0
BUSY_RETRIES = 3
BUSY_PAUSE = 0.5


class XcomWire:
    """Sends SCOM requests over one link and returns the replies that answer them."""

    def __init__(
        self,
        link: Link,
        *,
        source: int = DTE_ADDRESS,
        retries: int = 1,
        busy_retries: int = BUSY_RETRIES,
        busy_pause: float = BUSY_PAUSE,
    ) -> None:
        """Bind to a link; `retries` repeats a read whose reply was lost or garbled."""
        self.link = link
        self.source = source
        self.retries = retries
        self.busy_retries = busy_retries
        self.busy_pause = busy_pause
        self.transactions = 0
        self.drained = 0
        # The frame flags of the last reply: the Xcom's message and restart state.
        self.flags = FrameFlags(0)

    async def transact(
        self, destination: int, request: ServiceData, *, what: str, retry: bool = True
    ) -> ServiceData:
        """Send a request and return its reply; raise the library error of an error reply.

        A lost or garbled reply is asked again when `retry` (never for a write, whose lost
        reply may hide a write that happened); GATEWAY_BUSY is asked again after a pause.
        """
        attempt = busy = 0
        while True:
            try:
                reply = await self._exchange(destination, request)
            except (LinkTimeoutError, FrameError) as err:
                if not retry or attempt >= self.retries:
                    raise
                attempt += 1
                _LOGGER.debug("%s: %s, asking again", what, err)
                continue
            if not reply.error:
                return reply
            code = reply.error_code
            if code == ScomError.GATEWAY_BUSY and busy < self.busy_retries:
                busy += 1
                await asyncio.sleep(self.busy_pause)
                continue
            raise refusal(code, destination, what)

    async def _exchange(self, destination: int, request: ServiceData) -> ServiceData:
        data = request_frame(destination, request, source=self.source)
        async with self.link.exchange() as link:
            await link.write(data)
            self.transactions += 1
            frame, reply = await self._answer(link, destination, request)
        self.flags = frame.flags
        return reply

    async def _answer(
        self, link: Link, destination: int, request: ServiceData
    ) -> tuple[Frame, ServiceData]:
        """Read frames until one answers the request; drain replies to earlier requests."""
        deadline = time.monotonic() + link.timeout
        buffer = bytearray()
        while True:
            frame = take_frame(buffer)
            if frame is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LinkTimeoutError(f"no reply from address {destination} in time")
                buffer += await link.read_some(remaining)
                continue
            reply = decode_service(frame.data)
            if self._belongs(frame, reply, destination, request):
                return frame, reply
            self.drained += 1
            _LOGGER.debug("dropped a reply that answers another request: %s", reply)

    def _belongs(
        self, frame: Frame, reply: ServiceData, destination: int, request: ServiceData
    ) -> bool:
        if frame.destination != self.source or not reply.answers(request):
            return False
        # A unit answers from its own address; the gateway may answer for it from its own.
        return destination in GROUP_ADDRESSES or frame.source in (destination, XCOM_ADDRESS)
