"""The sessions' timers: each session armed at its next deadline, on few event-loop timers.

Sessions are sans-I/O: they say when they next need the time (``next_deadline()``) and act
when told it (their owner's ``handle_timer(now)``, which drives what the engine's returns:
:mod:`tornio.protocol.drive`). This is the adapter that owns the only clock. A timer is
re-armed only when a deadline moves *earlier*; a timer that fires early finds nothing due and
re-arms itself, so the hot paths never reschedule.

Ten thousand idle sessions each arm a deadline per heartbeat; with one loop timer each, every
arming was a push onto asyncio's heap of ten thousand handles (Python comparisons), and a
cancelled handle stayed in the heap, and alive, until its time came. So deadlines share loop
timers instead:

- A deadline that only sends a heartbeat (the session's ``heartbeat_due``) is rounded up to a
  grid of :data:`GRAIN` seconds, and the sessions due in one slot of the grid share its one
  loop timer: their heartbeats go out in one pass of the event loop, and their pongs come back
  together. Ten thousand sessions pinging every 25 s wake the loop tens of times a second
  instead of four hundred.
- Every other deadline (a timeout) fires on time. One more than :data:`BUCKET` seconds away
  waits in a bucket of that width, which shares a loop timer too and gives each of its timeouts
  a loop timer of its own when it comes due: a timeout is usually cancelled long before (a pong
  answers the ping), and then cancelling it only takes it out of its bucket.

Arming and cancelling are dictionary operations; the loop's heap holds one entry per slot and
bucket in use (a few hundred) and the timeouts less than :data:`BUCKET` away.
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

__all__ = ["BUCKET", "GRAIN", "SessionTimers", "Timer"]

log = logging.getLogger("tornio.core.timers")

#: The heartbeat grid, in seconds: a heartbeat goes out at most this much late.
GRAIN = 0.02

#: The width of a bucket of timeouts, in seconds.
BUCKET = 1.0


class Timer:
    """One session's armed deadline (what :attr:`SessionTimers.armed` holds beside it). Like
    the loop's ``TimerHandle``: ``when()``, ``cancel()``, ``cancelled()``."""

    __slots__ = ("_cancelled", "_handle", "_slot", "_when", "socket")

    def __init__(self, socket: Driven, when: float) -> None:
        self.socket = socket
        self._when = when
        self._slot: Slot | None = None  # the slot or bucket it waits in
        self._handle: asyncio.TimerHandle | None = None  # or its own loop timer
        self._cancelled = False

    def when(self) -> float:
        return self._when

    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        if self._slot is not None:
            self._slot.leave(self)
        elif self._handle is not None:
            self._handle.cancel()


class Slot:
    """Timers that come due together (a slot of the heartbeat grid, a bucket of timeouts),
    under one loop timer that calls ``due(slot)``; it leaves ``table`` when it rings or when
    its last timer is cancelled."""

    __slots__ = ("handle", "key", "table", "timers")

    def __init__(
        self, table: dict[int, Slot], key: int, when: float, due: Callable[[Slot], None]
    ) -> None:
        self.table = table
        self.key = key
        #: Session id → its timer waiting here.
        self.timers: dict[str, Timer] = {}
        self.handle: asyncio.TimerHandle | None = asyncio.get_running_loop().call_at(
            when, due, self
        )
        table[key] = self

    def leave(self, timer: Timer) -> None:
        del self.timers[timer.socket.sessid]
        if not self.timers and self.handle is not None:
            self.handle.cancel()
            self.ring()

    def ring(self) -> list[Timer]:
        """Leave the table (a later timer at this key makes a new slot) and hand over the
        timers waiting here. No reference cycle is left to the garbage collector: the slot
        lets go of its loop timer (which holds it), and its timers of it."""
        if self.table.get(self.key) is self:
            del self.table[self.key]
        self.handle = None
        timers = list(self.timers.values())
        for timer in timers:
            timer._slot = None
        return timers


def join(
    table: dict[int, Slot], key: int, when: float, timer: Timer, due: Callable[[Slot], None]
) -> None:
    """Put ``timer`` in the slot at ``key`` of ``table`` (made, due at ``when``, if none)."""
    slot = table.get(key)
    if slot is None:
        slot = Slot(table, key, when, due)
    slot.timers[timer.socket.sessid] = timer
    timer._slot = slot


class SessionTimers:
    """The timers of whatever owns sessions (held by it): ``touch`` takes objects with
    ``sessid``, ``engine`` and the methods that drive it
    (:class:`~tornio.protocol.drive.Driven`); ``clock`` is the time the sessions are told."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        #: Session id → (deadline, the timer armed for it).
        self.armed: dict[str, tuple[float, Timer]] = {}
        self._grid: dict[int, Slot] = {}  # heartbeat slots by index: due at index × GRAIN
        self._buckets: dict[int, Slot] = {}  # timeouts by bucket: opening at index × BUCKET

    def touch(self, socket: Driven) -> None:
        """Make sure the socket's timer fires no later than its session's next deadline."""
        engine = socket.engine
        deadline = engine.next_deadline()
        sid = socket.sessid
        entry = self.armed.get(sid)
        if deadline is None:
            if entry is not None:
                entry[1].cancel()
                del self.armed[sid]
            return
        heartbeat = deadline == engine.heartbeat_due
        if heartbeat:
            index = math.ceil(deadline / GRAIN)
            deadline = index * GRAIN
        if entry is not None:
            if entry[0] <= deadline:
                return
            entry[1].cancel()
        timer = Timer(socket, deadline)
        if heartbeat:
            join(self._grid, index, deadline, timer, self._ring)
        else:
            loop = asyncio.get_running_loop()
            bucket = math.floor(deadline / BUCKET)
            opening = bucket * BUCKET
            if opening <= loop.time():
                timer._handle = loop.call_at(deadline, self._fire, timer)
            else:
                join(self._buckets, bucket, opening, timer, self._open)
        self.armed[sid] = (deadline, timer)

    def _ring(self, slot: Slot) -> None:
        """A slot of the grid came due: its sessions' timers fire, in one pass."""
        for timer in slot.ring():
            if not timer._cancelled:  # by a session fired before it
                self._fire(timer)

    def _open(self, slot: Slot) -> None:
        """A bucket opened: each timeout still waiting in it gets its own loop timer."""
        call_at = asyncio.get_running_loop().call_at
        for timer in slot.ring():
            timer._handle = call_at(timer._when, self._fire, timer)

    def _fire(self, timer: Timer) -> None:
        timer._handle = None  # it held the timer: no cycle left for the garbage collector
        socket = timer.socket
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
