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
on the wire is the order of writing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Protocol

__all__ = ["FLUSH_AT", "Coalesced", "flush_soon"]

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
