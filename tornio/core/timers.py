"""One event-loop timer per session, armed at the session's next deadline.

Sessions are sans-I/O: they say when they next need the time (``next_deadline()``) and act
when told it (their owner's ``handle_timer(now)``, which drives what the engine's returns:
:mod:`tornio.protocol.drive`). This is the adapter that owns the only clock. A timer is
re-armed only when a deadline moves *earlier*; a timer that fires early finds nothing due and
re-arms itself, so the hot paths never reschedule.

A deadline that only sends a heartbeat (the session's ``heartbeat_due``) is rounded up to a
grid of :data:`GRAIN` seconds, so the heartbeats of sessions due within the same few
milliseconds go out in one pass of the event loop: ten thousand idle sessions pinging every
25 s wake the loop tens of times a second instead of four hundred, and their pongs come back
together. Every other deadline (a timeout) fires on time.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tornio.protocol.drive import Driven

__all__ = ["SessionTimers"]

log = logging.getLogger("tornio.core.timers")

#: The heartbeat grid, in seconds: a heartbeat goes out at most this much late.
GRAIN = 0.02


class SessionTimers:
    """The timers of whatever owns sessions (held by it): ``touch`` takes objects with
    ``sessid``, ``engine`` and the methods that drive it
    (:class:`~tornio.protocol.drive.Driven`); ``clock`` is the time the sessions are told."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        #: Session id → (deadline, the loop timer armed for it).
        self.armed: dict[str, tuple[float, asyncio.TimerHandle]] = {}

    def touch(self, socket: Driven) -> None:
        """Make sure the socket's timer fires no later than its session's next deadline."""
        deadline = socket.engine.next_deadline()
        sid = socket.sessid
        entry = self.armed.get(sid)
        if deadline is None:
            if entry is not None:
                entry[1].cancel()
                del self.armed[sid]
            return
        if deadline == socket.engine.heartbeat_due:
            deadline = math.ceil(deadline / GRAIN) * GRAIN
        if entry is not None:
            if entry[0] <= deadline:
                return
            entry[1].cancel()
        handle = asyncio.get_running_loop().call_at(deadline, self._fire, socket)
        self.armed[sid] = (deadline, handle)

    def _fire(self, socket: Driven) -> None:
        self.armed.pop(socket.sessid, None)
        try:
            socket.handle_timer(self.clock())
        except Exception:
            log.exception("timer of session %s failed", socket.sessid)
            socket.close_session("internal error")
        if not socket.engine.closed:
            self.touch(socket)

    def cancel(self, sid: str) -> None:
        entry = self.armed.pop(sid, None)
        if entry is not None:
            entry[1].cancel()
