"""Many Socket.IO 0.9 xhr-polling clients in one asyncio loop, cheaply: aiohttp (one
``ClientSession``, so one keep-alive connection pool, may serve them all) and each reply
decoded as a whole.

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        clients = [SwarmClient(http, base, index, senders=200) for index in range(200)]
        await asyncio.gather(*(c.connect("/chat") for c in clients))
        await asyncio.gather(*(c.event("/chat", "join", "room") for c in clients))
        await clients[0].post([say_packet(0, 0)])

A pooled connection is reused by whichever client asks next, so a request often travels on a
connection the supervisor handed to a worker other than its session's owner: tornio forwards
those. (``TCPConnector(force_close=True)`` instead gives every request a connection of its
own, which the supervisor hands straight to the owner.)

The tests' messages are ``said`` events whose one argument is ``"c<sender>.<seq>"``: one
regular expression finds them all in a reply, and :meth:`SwarmClient.feed` checks each
sender's sequence as it goes (no duplicate, no gap, in order). Every other packet is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from tornio.protocol import legacy

__all__ = ["SAID", "UNKNOWN_SESSION", "SwarmClient", "say_packet"]

#: A ``said`` event as the server encodes it: its sender and sequence number.
SAID = re.compile(r'5::[^:]*:\{"name":"said","args":\["c(\d+)\.(\d+)"\]\}')
UNKNOWN_SESSION = "7:::1+0"
_ACK = re.compile(r"^6:[^:]*:[^:]*:(\d+)\+?(.*)$", re.S)


def say_packet(sender: int, seq: int, endpoint: str = "/chat") -> str:
    """The packet that makes the server send ``said`` ``c<sender>.<seq>`` to the room."""
    return legacy.encode_event(endpoint, "say", [f"c{sender}.{seq}"])


class SwarmClient:
    """One xhr-polling client (see the module docstring).

    Args:
        http: the aiohttp session (and connection pool) it sends through.
        base: ``http://host:port``.
        index: its number: the ``<sender>`` of the messages it says.
        senders: how many senders' sequences it keeps track of.
    """

    def __init__(
        self, http: aiohttp.ClientSession, base: str, index: int, *, senders: int = 0
    ) -> None:
        self.http = http
        self.base = base
        self.index = index
        self.sid = ""
        #: The last sequence number received from each sender (-1: none yet).
        self.last = [-1] * senders
        #: How many ``said`` events arrived.
        self.said = 0
        #: :attr:`complete` is set once this many ``said`` events arrived.
        self.expected = 0
        self.complete = asyncio.Event()
        #: What went wrong: duplicates, gaps, unknown-session answers, HTTP errors.
        self.errors: list[str] = []
        #: Every packet other than ``said`` events and noops, in order.
        self.packets: list[str] = []
        #: Why polling stopped (None while it goes on).
        self.ended: str | None = None
        self.polls = 0
        self.posts = 0
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_ack = 0
        self._changed = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"{self.base}/socket.io/1/xhr-polling/{self.sid}"

    # -- connecting --------------------------------------------------------------------------

    async def connect(self, endpoint: str, timeout: float = 20) -> SwarmClient:
        """Handshake, start polling, open ``endpoint``."""
        async with self.http.get(f"{self.base}/socket.io/1/?t={time.time_ns()}") as response:
            body = await response.text()
        assert response.status == 200, (response.status, body)
        self.sid = body.split(":")[0]
        self._poller = asyncio.get_running_loop().create_task(self._poll())
        await self.wait(lambda: "1::" in self.packets, timeout, "1::")
        await self.post(["1::" + endpoint])
        await self.wait(lambda: "1::" + endpoint in self.packets, timeout, "1::" + endpoint)
        return self

    async def wait(self, condition: Callable[[], object], timeout: float, what: str) -> None:
        """Until ``condition()`` holds after some reply; AssertionError after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            if self.ended is not None:
                raise AssertionError(f"client {self.index} stopped ({self.ended}) before {what}")
            self._changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(
                    f"client {self.index} waited {timeout} s for {what}; got {self.packets[-10:]}"
                )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def wait_said(self, sender: int, seq: int, timeout: float = 10) -> None:
        """Until ``c<sender>.<seq>`` (or a later one of that sender's) has arrived."""
        await self.wait(lambda: self.last[sender] >= seq, timeout, f"c{sender}.{seq}")

    # -- receiving ---------------------------------------------------------------------------

    async def _poll(self) -> None:
        while self.ended is None:
            try:
                async with self.http.get(self.url, params={"t": str(self.polls)}) as response:
                    body = await response.read()
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self.errors.append(f"poll failed: {exc!r}")
                self.ended = "poll failed"
                break
            self.polls += 1
            if status != 200:
                self.errors.append(f"poll answered HTTP {status}: {body[:200]!r}")
                self.ended = f"HTTP {status}"
                break
            self.feed(body.decode("utf-8"))
        self._changed.set()

    def feed(self, payload: str) -> None:
        """One reply: ``said`` events checked in bulk, the other packets kept."""
        self._changed.set()
        framed = payload.startswith("\ufffd")
        count = payload.count("\ufffd") // 2 if framed else int(bool(payload))
        found = SAID.findall(payload)
        if found:
            last, errors = self.last, self.errors
            for sender_text, seq_text in found:
                sender, seq = int(sender_text), int(seq_text)
                if seq != last[sender] + 1:
                    kind = "duplicate" if seq <= last[sender] else "gap"
                    errors.append(f"{kind}: c{sender}.{seq} after c{sender}.{last[sender]}")
                last[sender] = seq
            self.said += len(found)
            if self.said >= self.expected > 0:
                self.complete.set()
            if len(found) == count:
                return  # nothing but ``said`` events
        # The tests' packets never hold U+FFFD, so frames split on it: lengths at odd
        # positions, packets at even ones.
        for packet in payload.split("\ufffd")[2::2] if framed else [payload]:
            if packet == "8::" or SAID.fullmatch(packet):
                continue
            self.packets.append(packet)
            if packet in ("0::", UNKNOWN_SESSION):
                self.ended = packet
                if packet == UNKNOWN_SESSION:
                    self.errors.append(f"the server does not know this session ({packet})")
            ack = _ACK.match(packet)
            if ack:
                future = self._acks.pop(int(ack.group(1)), None)
                if future is not None and not future.done():
                    future.set_result(json.loads(ack.group(2) or "[]"))

    # -- sending -----------------------------------------------------------------------------

    async def post(self, packets: Sequence[str]) -> None:
        """One POST carrying ``packets``; it must be answered ``1``."""
        body = packets[0] if len(packets) == 1 else legacy.encode_payload(list(packets))
        async with self.http.post(self.url, params={"t": "p"}, data=body.encode()) as response:
            answer = await response.read()
        self.posts += 1
        if response.status != 200 or answer != b"1":
            error = f"POST answered HTTP {response.status}: {answer[:200]!r}"
            self.errors.append(error)
            raise AssertionError(f"client {self.index}: {error}")

    async def event(self, endpoint: str, name: str, *args: Any, timeout: float = 20) -> Any:
        """Emit an event asking for an ack; the ack's arguments."""
        self._next_ack += 1
        ack_id = self._next_ack
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        await self.post([legacy.encode_event(endpoint, name, list(args), ack_id)])
        return await asyncio.wait_for(future, timeout)

    async def close(self) -> None:
        """Disconnect (``0::``) if still polling, and stop."""
        polling, self.ended = self.ended is None, self.ended or "closed"
        if self._poller is not None and polling:
            # The poller stops after its held poll: the next one would be told the session
            # is unknown, rightly.
            failures = (AssertionError, aiohttp.ClientError, asyncio.TimeoutError, OSError)
            with contextlib.suppress(*failures):
                await asyncio.wait_for(self.post(["0::"]), 5)
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
