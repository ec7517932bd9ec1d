"""The bound on what one session holds for its client, shared by both generations' sessions.

A session's *backlog* is the encoded output it holds that the client has not taken yet:
the packets queued for the next poll (counted here, by the session, as they are queued and
reset when they are handed to a transport), plus, for a persistent transport (websocket,
flashsocket, htmlfile, xhr-multipart), the bytes still in that connection's write buffer
(counted by the transport, which reports them to the session's ``overflowed`` once they are
past the bound; while such a transport is attached nothing is queued, so the two never
overlap). Past ``Settings.max_write_buffer`` the session is closed with
:data:`WRITE_BUFFER_FULL`, a WARNING is logged and :attr:`Backlog.overflow` records how, for
the metric (``tornio_write_buffer_overflows``).

A queued packet counts its UTF-8 bytes (an ASCII ``str`` costs ``len``, which is O(1), so the
common case costs one addition), not the transport's framing around it. Sans-I/O: no socket,
no clock.
"""

from __future__ import annotations

import logging
from typing import Generic, NamedTuple, TypeVar

__all__ = ["WRITE_BUFFER_FULL", "Backlog", "Overflow", "encoded_size"]

log = logging.getLogger("tornio.protocol.backlog")

#: The close reason of a session whose backlog passed the bound.
WRITE_BUFFER_FULL = "write buffer full"


class Overflow(NamedTuple):
    """How a session passed its bound: on which transport, holding how many bytes."""

    transport: str
    size: int


#: What a session queues: ``str`` (0.9), ``str | bytes`` (Engine.IO).
F = TypeVar("F", str, "str | bytes")


def encoded_size(frame: str | bytes) -> int:
    """The bytes an encoded packet takes on the wire: UTF-8 for text."""
    if type(frame) is str and not frame.isascii():
        return len(frame.encode("utf-8", "surrogatepass"))
    return len(frame)


class Backlog(Generic[F]):
    """A session's queue and its bound (see the module docstring), held by the session as
    ``session.backlog``. The session appends one packet and adds its size to :attr:`queued`
    itself (inlined in its ``send``, the hot path of a broadcast), queues several with
    :meth:`hold_many`, and empties the queue and the count together as it hands the queue
    over. Past the bound it records the overflow here (:meth:`overflowed`) and closes."""

    __slots__ = ("bound", "outbox", "overflow", "queued", "sid")

    def __init__(self, sid: str, bound: int) -> None:
        self.sid = sid
        #: What is queued for the client, in order.
        self.outbox: list[F] = []
        #: Bytes of the packets in ``outbox`` (as :func:`encoded_size` counts them).
        self.queued = 0
        #: The bound: ``Settings.max_write_buffer``.
        self.bound = bound
        #: Set when the session was closed for passing the bound.
        self.overflow: Overflow | None = None

    def hold_many(self, frames: list[F]) -> bool:
        """Queue frames that belong together (a packet and its attachments); True when the
        queue is past the bound now."""
        self.outbox.extend(frames)
        queued = self.queued = self.queued + sum(map(encoded_size, frames))
        return queued > self.bound

    def overflowed(self, transport: str, unsent: int) -> None:
        """The client left too much untaken: ``unsent`` bytes in the write buffer of its
        ``transport`` (0 when the queue itself passed the bound). Recorded and logged; the
        session closes with :data:`WRITE_BUFFER_FULL`."""
        size = self.queued + unsent
        self.overflow = Overflow(transport, size)
        log.warning(
            "session %s (%s) holds %d bytes its client has not taken, past max_write_buffer"
            " (%d): closing it", self.sid, transport, size, self.bound,
        )
