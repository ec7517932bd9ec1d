"""One connection's burst cannot hold the worker: a socket's input is handled in slices, and
read no faster than its handlers keep up; a socket over its event rate is cut off.

* **Slices.** A transport hands a socket at most :data:`SLICE` messages (websocket frames,
  packets of a polling payload) before the event loop gets a turn; the rest waits, and the
  connection is not read meanwhile (a websocket pauses reading, a polling POST is answered
  once its packets are handled, :meth:`InputBacklog.in_slices`). Each connection holds
  its :class:`InputBacklog` (``socket.inbox``), which sees it only as :class:`Throttled`.
* **Handlers behind.** Each ``async`` event handler of a socket still running counts; at
  :data:`MAX_PENDING_HANDLERS` the socket holds its input (its :class:`InputGate`, the
  websocket that reads it, stops reading; polling POSTs wait), until they are down to
  :data:`RESUME_PENDING`.
* **Rate.** With ``Settings.max_event_rate``, each packet a client sends takes a token of
  the socket's :class:`~tornio.core.ratelimit.TokenBucket`; one that finds none disconnects
  the socket (:meth:`InputBacklog.over_rate`), with a WARNING and the
  ``tornio_rate_limited_sockets`` metric.

The cost on the hot path is an integer decrement and a test per message; nothing is
allocated or scheduled per message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from tornio.core.counters import COUNTERS
from tornio.core.ratelimit import TokenBucket

__all__ = [
    "MAX_PENDING_HANDLERS",
    "RESUME_PENDING",
    "SLICE",
    "InputBacklog",
    "InputGate",
    "Throttled",
]

log = logging.getLogger("tornio.fairness")

#: Messages of one connection handled before the event loop gets a turn.
SLICE = 64
#: ``async`` handlers of one socket still running at which its input is held...
MAX_PENDING_HANDLERS = 256
#: ... until they are down to this many.
RESUME_PENDING = 128

T = TypeVar("T")


class InputGate(Protocol):
    """What reads a socket's input and can stop reading it (a websocket connection).
    Holds nest: the input flows again when every hold is released."""

    def hold_input(self) -> None: ...

    def release_input(self) -> None: ...


class Throttled(Protocol):
    """What an :class:`InputBacklog` needs of the connection whose input it handles (a
    :class:`~tornio.core.socket.Socket`, a plain Engine.IO connection)."""

    #: Its id and protocol generation (the log and metric of :meth:`InputBacklog.over_rate`).
    sessid: str
    protocol: str

    @property
    def closed(self) -> bool: ...

    def disconnect(self, silent: bool = False) -> None: ...


class InputBacklog:
    """A connection's input, as its transports hand it over: how far its handlers are
    behind, the gate its input comes through, its event rate (see the module docstring).
    The connection (its :class:`Throttled` side) holds one, as ``inbox``."""

    __slots__ = ("_waiting", "behind", "bucket", "handlers_pending", "input_gate", "owner",
                 "slicing")

    def __init__(self, owner: Throttled, bucket: TokenBucket | None = None) -> None:
        self.owner = owner
        #: ``async`` handlers of the connection still running.
        self.handlers_pending = 0
        #: Its handlers are behind: its input is held.
        self.behind = False
        #: The transport reading the connection's input, if it can pause (a websocket).
        self.input_gate: InputGate | None = None
        #: Its token bucket (``max_event_rate``); None: no limit.
        self.bucket = bucket
        #: A polling POST's packets are being handled in slices (another POST meanwhile
        #: overlaps it).
        self.slicing = False
        self._waiting: list[asyncio.Future[None]] | None = None

    def handler_started(self, task: asyncio.Future[Any]) -> None:
        """An ``async`` handler of this connection runs as ``task``."""
        self.handlers_pending += 1
        task.add_done_callback(self._handler_done)
        if self.handlers_pending >= MAX_PENDING_HANDLERS and not self.behind:
            self.behind = True
            gate = self.input_gate
            if gate is not None:
                gate.hold_input()

    def _handler_done(self, task: asyncio.Future[Any]) -> None:
        self.handlers_pending -= 1
        if self.behind and self.handlers_pending <= RESUME_PENDING:
            self.behind = False
            gate = self.input_gate
            if gate is not None:
                gate.release_input()
            waiting, self._waiting = self._waiting, None
            for future in waiting or ():
                if not future.done():
                    future.set_result(None)

    def set_input_gate(self, gate: InputGate | None) -> None:
        """``gate`` reads this connection's input now (None: nothing that can pause does); a
        gate that stops reading it must take itself off (:meth:`drop_input_gate`)."""
        old = self.input_gate
        if old is gate:
            return
        if old is not None and self.behind:
            old.release_input()
        self.input_gate = gate
        if gate is not None and self.behind:
            gate.hold_input()

    def drop_input_gate(self, gate: InputGate) -> None:
        """``gate`` does not read this connection any more."""
        if self.input_gate is gate:
            self.set_input_gate(None)

    async def caught_up(self) -> None:
        """Return once the connection's handlers are not behind (at once if they are not)."""
        if not self.behind:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiting is None:
            self._waiting = []
        self._waiting.append(future)
        await future

    async def in_slices(self, items: Sequence[T], handle: Callable[[Sequence[T]], Any]) -> None:
        """``handle`` the items :data:`SLICE` at a time, in order: the loop gets a turn
        between slices, and none is handled while the handlers are behind or once the
        connection is closed."""
        self.slicing = True
        owner = self.owner
        try:
            for start in range(0, len(items), SLICE):
                if start:
                    await asyncio.sleep(0)
                if self.behind:
                    await self.caught_up()
                if owner.closed:
                    return
                handle(items[start : start + SLICE])
        finally:
            self.slicing = False

    def over_rate(self) -> None:
        """A packet found the token bucket empty: disconnect the connection (once)."""
        bucket = self.bucket
        assert bucket is not None
        owner = self.owner
        log.warning(
            "socket %s sent more than %g events a second (bursts of %d): disconnecting it",
            owner.sessid, bucket.rate, int(bucket.burst),
        )
        COUNTERS.rate_limited(owner.protocol)
        owner.disconnect()
