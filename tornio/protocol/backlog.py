"""The bound on what one session holds for its client, shared by both generations' sessions.

A session's *backlog* is the encoded output it holds that the client has not taken yet:
the packets queued for the next poll (counted here, by the session, as they are queued and
reset when they are handed to a transport), plus, for a persistent transport (websocket,
flashsocket, htmlfile, xhr-multipart), the bytes still in that connection's write buffer
(counted by the transport, which reports them with :meth:`Backlog.overflowed` once they are
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
from typing import TYPE_CHECKING, Any, NamedTuple

__all__ = ["WRITE_BUFFER_FULL", "Backlog", "Overflow", "encoded_size"]

log = logging.getLogger("tornio.protocol.backlog")

#: The close reason of a session whose backlog passed the bound.
WRITE_BUFFER_FULL = "write buffer full"


class Overflow(NamedTuple):
    """How a session passed its bound: on which transport, holding how many bytes."""

    transport: str
    size: int


def encoded_size(frame: str | bytes) -> int:
    """The bytes an encoded packet takes on the wire: UTF-8 for text."""
    if type(frame) is str and not frame.isascii():
        return len(frame.encode("utf-8", "surrogatepass"))
    return len(frame)


class Backlog:
    """Mixed into a session: its queue's running byte count and the bound (see the module
    docstring). The session keeps ``outbox``, ``queued`` and ``max_queued``, adds to
    ``queued`` as it queues (one packet: inlined in its ``send``, the hot path of a broadcast;
    several: :meth:`_hold_many`) and sets it to 0 as it hands the queue over."""

    __slots__ = ("max_queued", "outbox", "overflow", "queued")

    sid: str
    outbox: list[Any]
    #: Bytes of the packets in ``outbox`` (as :func:`encoded_size` counts them).
    queued: int
    #: The bound: ``Settings.max_write_buffer``.
    max_queued: int
    #: Set when the session was closed for passing the bound.
    overflow: Overflow | None

    if TYPE_CHECKING:  # what the class this is mixed into provides

        @property
        def closed(self) -> bool: ...

        @property
        def queue_transport(self) -> str:
            """The transport name to report for a queue that passes the bound."""

        def close(self, reason: str) -> None: ...

    def _hold_many(self, frames: list[Any]) -> None:
        """Queue frames that belong together (a packet and its attachments)."""
        self.outbox.extend(frames)
        queued = self.queued = self.queued + sum(map(encoded_size, frames))
        if queued > self.max_queued:
            self.overflowed(self.queue_transport)

    def overflowed(self, transport: str, unsent: int = 0) -> None:
        """The client left too much untaken: ``unsent`` bytes in the write buffer of its
        ``transport`` (0 when the queue itself passed the bound). Closes the session."""
        if self.closed:
            return
        size = self.queued + unsent
        self.overflow = Overflow(transport, size)
        log.warning(
            "session %s (%s) holds %d bytes its client has not taken, past max_write_buffer"
            " (%d): closing it", self.sid, transport, size, self.max_queued,
        )
        self.close(WRITE_BUFFER_FULL)
