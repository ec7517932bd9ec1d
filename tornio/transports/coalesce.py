"""Writes coalesced: what one connection is sent during one pass of the event loop leaves in
one write, one ``send()``.

On a selector loop every ``transport.write`` to an idle socket is a ``send()`` system call
there and then. A server that answers each event of a burst on its own (an ack per event,
a broadcast per packet) pays a whole system call per frame; the ``echo`` benchmark spent
half the worker's time in them. So the connections that write often gather what they are
given into a pending list of their own, and flush it:

* at the end of handling a read (its acks from synchronous handlers, its pongs): the
  connection flushes itself, before the loop goes on;
* otherwise (async handlers, broadcasts, timers) at the start of the loop's next pass: the
  first connection of a pass to have something pending calls :func:`flush_soon`, which
  schedules one ``loop.call_soon`` for every connection that asks in that pass — the frames
  wait no longer than a callback scheduled when they were written;
* at once when what is pending reaches :data:`FLUSH_AT` bytes, or would take the
  connection's unsent bytes past its ``max_write_buffer``: the transport then holds it, and
  its own buffer is what the bound is checked against, as for any write
  (:mod:`tornio.protocol.backlog`). Pending bytes never pass the bound.

Close frames, pongs and the websocket's 101 response go through the same list, so the order
on the wire is the order of writing. :class:`Outbox` is that list, for any connection: the
websocket connection (:mod:`tornio.transports.wsconn`), the 0.9 streaming GETs and hixie-76.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Protocol

__all__ = ["FLUSH_AT", "Coalesced", "Outbox", "flush_soon"]

log = logging.getLogger("tornio.transports.coalesce")

#: Pending bytes that go out at once, without waiting for the end of the read or pass.
FLUSH_AT = 64 * 1024


class Coalesced(Protocol):
    """A connection that gathers its writes: :meth:`flush_pass` sends what is pending."""

    def flush_pass(self) -> None: ...


class _Pass(threading.local):
    """This thread's connections waiting for the end of the current loop pass."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.due: list[Coalesced] | None = None


_pass = _Pass()


def flush_soon(loop: asyncio.AbstractEventLoop, connection: Coalesced) -> None:
    """Have ``connection.flush_pass()`` called once the loop's current pass is done (one
    ``call_soon`` for all the connections that ask in a pass). Called on the loop's thread;
    a connection asks once a pass (it keeps a flag until its ``flush_pass``)."""
    state = _pass
    due = state.due
    if due is None or state.loop is not loop:  # (a loop that stopped with a pass scheduled)
        due = state.due = [connection]
        state.loop = loop
        loop.call_soon(_flush, due)
    else:
        due.append(connection)


def _flush(due: list[Coalesced]) -> None:
    state = _pass
    if state.due is due:
        state.due = None
    for connection in due:
        try:
            connection.flush_pass()
        except Exception:  # one connection's failure is not the others'
            log.exception("flushing the writes of %r failed", connection)


class Outbox:
    """What one connection is sent and has not handed to its transport yet.

    ``write`` hands bytes to the transport (one call per flush); ``unsent`` says how many
    the transport holds that the client has not taken; a flush that leaves more than
    ``bound`` there calls ``overflowed(unsent)`` (the connection is then dropped by its
    owner, :mod:`tornio.protocol.backlog`). While :attr:`owner_flushes` is non-zero the owner
    flushes it itself (at the end of a read it is handling), and nothing waits for the end
    of the pass.

    The transport's unsent bytes are asked once after each flush, not at every ``add``: they
    only grow by this outbox's own writes (it is the connection's only writer) and shrink
    while the loop runs, so the count asked is an upper bound until the next flush; a bound
    check it fails is made again with a fresh count after flushing."""

    __slots__ = (
        "bound", "due", "known", "loop", "overflowed", "owner_flushes", "parts", "size",
        "unsent", "write",
    )

    def __init__(
        self,
        write: Callable[[bytes], object],
        unsent: Callable[[], int],
        bound: int,
        overflowed: Callable[[int], object],
    ) -> None:
        self.write = write
        self.unsent = unsent
        self.bound = bound
        self.overflowed = overflowed
        self.loop = asyncio.get_running_loop()
        self.parts: list[bytes] = []
        self.size = 0
        self.owner_flushes = 0
        self.due = False
        #: ``unsent()`` as asked since the last flush (an upper bound), or -1.
        self.known = -1

    def add(self, data: bytes) -> bool:
        """Queue ``data``; False if that took the unsent bytes past the bound (then
        ``overflowed`` has been called)."""
        self.parts.append(data)
        self.size += len(data)
        return self.added()

    def added(self) -> bool:
        """``parts`` and ``size`` have grown (the owner appended to them itself): have it
        flushed, now if it is much or would take the unsent bytes past the bound."""
        size = self.size
        known = self.known
        if known < 0:
            known = self.known = self.unsent()
        if size >= FLUSH_AT or size + known > self.bound:
            self.flush()
            unsent = self.unsent()
            if unsent > self.bound:
                self.overflowed(unsent)
                return False
        elif not self.owner_flushes and not self.due:
            self.due = True
            flush_soon(self.loop, self)
        return True

    def flush(self) -> None:
        """Hand what is pending to the transport, in one write."""
        parts = self.parts
        if not parts:
            return
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        self.size = 0
        self.known = -1  # the write adds to what the transport holds
        self.write(data)

    def flush_pass(self) -> None:
        self.due = False
        self.flush()

    def discard(self) -> None:
        """The connection is gone: what is pending never leaves."""
        self.parts.clear()
        self.size = 0
