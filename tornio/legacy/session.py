"""The legacy (0.9) session: a sans-I/O state machine for one client's liveness and queue.

It knows which transport connection (a *sink*) currently carries packets to the client, what
is queued while none does, and every deadline of node socket.io 0.9's liveness model
(``reference/legacy.md`` §1.8):

* the first transport connection gets ``1::`` first;
* a polling GET is held until a packet is queued, or answered ``8::`` after
  ``polling_duration``; once answered, the session ends unless a new request arrives within
  ``close_timeout``;
* a persistent transport gets ``2::`` every ``heartbeat_interval`` and is closed after
  ``heartbeat_timeout`` with nothing from the client; when it closes, the session ends;
* a handshake that never opens a transport is forgotten after ``handshake_timeout``.

It never reads a clock: every method that depends on time takes ``now``, and the adapter asks
``next_deadline()`` when to call ``handle_timer(now)``. It never touches a socket and never
calls out: a sink is any object with ``write(packets)`` and ``close()``, and every transition
returns what must be done to sinks (a list of :data:`~tornio.protocol.drive.Out`, applied by
:func:`~tornio.protocol.drive.drive`); its end is read from :attr:`LegacySession.pending_close`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from tornio.protocol.backlog import WRITE_BUFFER_FULL, Backlog, Overflow, encoded_size
from tornio.protocol.drive import NOTHING, Out
from tornio.protocol.drive import Sink as AnySink
from tornio.settings import Settings

__all__ = ["LegacySession", "Outs", "SessionState", "Sink"]

CONNECT = "1::"
HEARTBEAT = "2::"
NOOP = "8::"


#: A transport connection able to carry encoded 0.9 packets to the client (``transport``:
#: ``'xhr-polling'``, ``'websocket'``…; ``polling``: one write answers it).
Sink = AnySink[str]
#: What a transition returns: the writes (and closes) for the transports, in order.
Outs = Sequence[Out[str]]


class SessionState(enum.Enum):
    NEW = "new"  # handshaken, no transport yet
    OPEN = "open"  # a transport has connected at least once
    CLOSED = "closed"


class LegacySession:
    """One client's liveness and outgoing queue. See the module docstring. What it queues is
    its :attr:`backlog`, bounded by ``settings.max_write_buffer``
    (:class:`~tornio.protocol.backlog.Backlog`)."""

    __slots__ = (
        "_close_deadline",
        "_confirmed",
        "_handshake_deadline",
        "_heartbeat_due",
        "_last_recv",
        "_last_transport",
        "_poll_deadline",
        "backlog",
        "close_reason",
        "closed",
        "pending_close",
        "settings",
        "sid",
        "sink",
        "state",
        "stream",
    )

    def __init__(self, sid: str, settings: Settings, now: float) -> None:
        self.sid = sid
        self.settings = settings
        self.state = SessionState.NEW
        #: ``state is CLOSED``, kept as a plain attribute: the socket reads it per packet.
        self.closed = False
        self.sink: Sink | None = None
        #: The sink a frame goes to as it is sent, without a call: the attached websocket (or
        #: stream) while open; None when a send must be asked (see :meth:`use`).
        self.stream: Sink | None = None
        self.backlog: Backlog[str] = Backlog(sid, settings.max_write_buffer)
        self.close_reason: str | None = None
        #: The close reason until the driver has told the owner.
        self.pending_close: str | None = None
        self._handshake_deadline: float | None = now + settings.handshake_timeout
        self._poll_deadline: float | None = None
        self._close_deadline: float | None = None
        self._heartbeat_due: float | None = None
        self._last_recv = now
        self._last_transport: str | None = None
        self._confirmed = False

    def use(self, sink: Sink | None) -> None:
        """Make ``sink`` the one that carries frames (None: none does); a websocket or a
        stream becomes the :attr:`stream` as well, a poll does not."""
        self.sink = sink
        self.stream = sink if sink is not None and not sink.polling else None

    @property
    def queue_transport(self) -> str:
        return self._last_transport or "none"

    @property
    def outbox(self) -> list[str]:
        """What is queued for the next transport connection (the backlog's)."""
        return self.backlog.outbox

    @property
    def queued(self) -> int:
        return self.backlog.queued

    @property
    def overflow(self) -> Overflow | None:
        return self.backlog.overflow

    # -- transport connections -------------------------------------------------------------

    def attach(self, sink: Sink, now: float) -> Outs:
        """A transport connection arrived for this session (the first one if ``state`` was
        ``NEW``: the caller then runs the application's connect logic)."""
        if self.state is SessionState.CLOSED:
            raise RuntimeError("attach to a closed session")
        first = self.state is SessionState.NEW
        outs: list[Out[str]] = []
        previous = self.sink
        if previous is not None and previous is not sink:
            if previous.polling:
                outs.append((previous, [NOOP], False))
            else:
                outs.append((previous, [], True))
        self._handshake_deadline = None
        self._close_deadline = None
        self._poll_deadline = None
        self._last_recv = now
        # The first connection, or the client gave up on a transport before it saw ``1::``
        # and retries another with the same sid: (re)send the connect packet.
        outbox = self.backlog.outbox
        resend = not self._confirmed and sink.transport != self._last_transport
        if (first or resend) and CONNECT not in outbox[:1]:
            outbox.insert(0, CONNECT)
        self.state = SessionState.OPEN
        self._last_transport = sink.transport
        self.use(sink)
        if sink.polling:
            self._heartbeat_due = None  # armed by a persistent sink this one may replace
            if outbox:
                outs.extend(self._flush(sink))
            else:
                self._poll_deadline = now + self.settings.polling_duration
        else:
            self._heartbeat_due = now + self.settings.heartbeat_interval
            if outbox:
                outs.extend(self._flush(sink))
        if self.sink is None:  # a poll, answered at once
            self._close_deadline = now + self.settings.close_timeout
        return outs

    def detach(self, sink: Sink, now: float) -> Outs:
        """A transport connection went away (client closed it, network cut)."""
        if sink is not self.sink or self.state is SessionState.CLOSED:
            return NOTHING
        self.use(None)
        self._poll_deadline = None
        if sink.polling:
            self._close_deadline = now + self.settings.close_timeout
            return NOTHING
        return self.close("transport closed")

    # -- data ------------------------------------------------------------------------------

    def received(self, now: float) -> None:
        """The client sent something: it is alive and has seen our connect packet."""
        self._last_recv = now
        self._confirmed = True

    def send(self, packet: str, now: float) -> Outs:
        """Queue one encoded packet; it goes out at once if a transport can take it."""
        if self.state is SessionState.CLOSED:
            return NOTHING
        sink = self.sink
        if sink is None:  # counted here, not in a call: the hot path of a broadcast
            backlog = self.backlog
            backlog.outbox.append(packet)
            backlog.queued += len(packet) if packet.isascii() else encoded_size(packet)
            if backlog.queued > backlog.bound:
                return self.overflowed(self.queue_transport)
            return NOTHING
        if sink.polling:
            self.backlog.outbox.append(packet)
            self._close_deadline = now + self.settings.close_timeout
            return self._flush(sink)
        return [(sink, [packet], False)]

    def _flush(self, sink: Sink) -> Outs:
        """The queue (not empty), for ``sink``, the attached one (a poll is answered by it
        and let go)."""
        backlog = self.backlog
        packets, backlog.outbox = backlog.outbox, []
        backlog.queued = 0
        if sink.polling:
            self.use(None)
            self._poll_deadline = None
        return [(sink, packets, False)]

    # -- time ------------------------------------------------------------------------------

    @property
    def heartbeat_due(self) -> float | None:
        """When the next ``2::`` is to be sent. Unlike every other deadline, it may be met a
        few milliseconds late: the timers group such deadlines to wake the loop less."""
        return self._heartbeat_due

    def next_deadline(self) -> float | None:
        """When ``handle_timer`` must next be called, or None if nothing is pending."""
        if self.state is SessionState.CLOSED:
            return None
        candidates = [
            d
            for d in (
                self._handshake_deadline,
                self._poll_deadline,
                self._close_deadline,
                self._heartbeat_due,
            )
            if d is not None
        ]
        if self.sink is not None and not self.sink.polling:
            candidates.append(self._last_recv + self.settings.heartbeat_timeout)
        return min(candidates) if candidates else None

    def handle_timer(self, now: float) -> Outs:
        """Act on every deadline that has passed by ``now``."""
        if self.state is SessionState.CLOSED:
            return NOTHING
        if self._handshake_deadline is not None and now >= self._handshake_deadline:
            return self.close("handshake timeout")
        if self._close_deadline is not None and now >= self._close_deadline:
            return self.close("close timeout")
        sink = self.sink
        if sink is None:
            return NOTHING
        if sink.polling:
            if self._poll_deadline is not None and now >= self._poll_deadline:
                if not self.backlog.outbox:
                    self.backlog.outbox.append(NOOP)
                self._close_deadline = now + self.settings.close_timeout
                return self._flush(sink)
            return NOTHING
        if now >= self._last_recv + self.settings.heartbeat_timeout:
            return self.close("heartbeat timeout")
        if self._heartbeat_due is not None and now >= self._heartbeat_due:
            self._heartbeat_due = now + self.settings.heartbeat_interval
            return [(sink, [HEARTBEAT], False)]
        return NOTHING

    # -- ending ----------------------------------------------------------------------------

    def overflowed(self, transport: str, unsent: int = 0) -> Outs:
        """The client left more than the bound untaken (``unsent``: bytes in ``transport``'s
        write buffer; 0 when the queue passed it): the session closes
        (:data:`~tornio.protocol.backlog.WRITE_BUFFER_FULL`)."""
        if self.state is SessionState.CLOSED:
            return NOTHING
        self.backlog.overflowed(transport, unsent)
        return self.close(WRITE_BUFFER_FULL)

    def close(self, reason: str) -> Outs:
        """End the session: flush what can still be written, close the sink; the owner learns
        of it from :attr:`pending_close` (through the driver)."""
        if self.state is SessionState.CLOSED:
            return NOTHING
        self.state = SessionState.CLOSED
        self.closed = True
        self.close_reason = self.pending_close = reason
        sink = self.sink
        self.use(None)
        backlog = self.backlog
        outs: Outs = NOTHING
        if sink is not None:
            if backlog.outbox:
                outs = [(sink, backlog.outbox, not sink.polling)]
            elif sink.polling:
                # Answer a held poll so the client comes back, learns the session is gone
                # (``7:::1+0``) and reconnects, instead of hanging.
                outs = [(sink, [NOOP], False)]
            else:
                outs = [(sink, [], True)]
        backlog.outbox = []
        backlog.queued = 0
        self._handshake_deadline = self._poll_deadline = self._close_deadline = None
        self._heartbeat_due = None
        return outs
