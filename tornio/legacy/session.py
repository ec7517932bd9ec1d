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
``next_deadline()`` when to call ``handle_timer(now)``. It never touches a socket: a sink is
any object with ``write(packets)`` and ``close()``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol

from tornio.protocol.backlog import Backlog, Overflow, encoded_size
from tornio.settings import Settings

__all__ = ["LegacySession", "SessionState", "Sink"]

CONNECT = "1::"
HEARTBEAT = "2::"
NOOP = "8::"


class Sink(Protocol):
    """A transport connection able to carry encoded packets to the client."""

    #: The transport's name (``'xhr-polling'``, ``'websocket'``...).
    transport: str
    #: True when one write answers the request and ends this sink (polling).
    polling: bool

    def write(self, packets: list[str]) -> None:
        """Deliver encoded packets (at least one)."""

    def close(self) -> None:
        """End the connection; nothing more will be written."""


class SessionState(enum.Enum):
    NEW = "new"  # handshaken, no transport yet
    OPEN = "open"  # a transport has connected at least once
    CLOSED = "closed"


OnClose = Callable[[str], None]


class LegacySession(Backlog):
    """One client's liveness and outgoing queue. See the module docstring. What it queues is
    bounded by ``settings.max_write_buffer`` (:class:`~tornio.protocol.backlog.Backlog`)."""

    __slots__ = (
        "_close_deadline",
        "_confirmed",
        "_handshake_deadline",
        "_heartbeat_due",
        "_last_recv",
        "_last_transport",
        "_on_close",
        "_poll_deadline",
        "close_reason",
        "settings",
        "sid",
        "sink",
        "state",
    )

    def __init__(self, sid: str, settings: Settings, now: float, on_close: OnClose) -> None:
        self.sid = sid
        self.settings = settings
        self.state = SessionState.NEW
        self.sink: Sink | None = None
        self.outbox: list[str] = []
        self.queued = 0
        self.max_queued = settings.max_write_buffer
        self.overflow: Overflow | None = None
        self.close_reason: str | None = None
        self._on_close = on_close
        self._handshake_deadline: float | None = now + settings.handshake_timeout
        self._poll_deadline: float | None = None
        self._close_deadline: float | None = None
        self._heartbeat_due: float | None = None
        self._last_recv = now
        self._last_transport: str | None = None
        self._confirmed = False

    @property
    def closed(self) -> bool:
        return self.state is SessionState.CLOSED

    @property
    def queue_transport(self) -> str:
        return self._last_transport or "none"

    # -- transport connections -------------------------------------------------------------

    def attach(self, sink: Sink, now: float) -> bool:
        """A transport connection arrived for this session.

        Returns True when this is the session's first connection (the caller then runs the
        application's connect logic).
        """
        if self.state is SessionState.CLOSED:
            raise RuntimeError("attach to a closed session")
        first = self.state is SessionState.NEW
        previous = self.sink
        if previous is not None and previous is not sink:
            self.sink = None
            if previous.polling:
                previous.write([NOOP])
            else:
                previous.close()
        self._handshake_deadline = None
        self._close_deadline = None
        self._poll_deadline = None
        self._last_recv = now
        # The first connection, or the client gave up on a transport before it saw ``1::``
        # and retries another with the same sid: (re)send the connect packet.
        resend = not self._confirmed and sink.transport != self._last_transport
        if (first or resend) and CONNECT not in self.outbox[:1]:
            self.outbox.insert(0, CONNECT)
        self.state = SessionState.OPEN
        self._last_transport = sink.transport
        self.sink = sink
        if sink.polling:
            self._heartbeat_due = None  # armed by a persistent sink this one may replace
            if self.outbox:
                self._flush()
            else:
                self._poll_deadline = now + self.settings.polling_duration
        else:
            self._heartbeat_due = now + self.settings.heartbeat_interval
            if self.outbox:
                self._flush()
        if sink.polling and self.sink is None:
            self._close_deadline = now + self.settings.close_timeout
        return first

    def detach(self, sink: Sink, now: float) -> None:
        """A transport connection went away (client closed it, network cut)."""
        if sink is not self.sink or self.state is SessionState.CLOSED:
            return
        self.sink = None
        self._poll_deadline = None
        if sink.polling:
            self._close_deadline = now + self.settings.close_timeout
        else:
            self._heartbeat_due = None
            self.close("transport closed")

    # -- data ------------------------------------------------------------------------------

    def received(self, now: float) -> None:
        """The client sent something: it is alive and has seen our connect packet."""
        self._last_recv = now
        self._confirmed = True

    def send(self, packet: str, now: float) -> None:
        """Queue one encoded packet; it goes out at once if a transport can take it."""
        if self.state is SessionState.CLOSED:
            return
        sink = self.sink
        if sink is None:  # counted here, not in a call: the hot path of a broadcast
            self.outbox.append(packet)
            self.queued += len(packet) if packet.isascii() else encoded_size(packet)
            if self.queued > self.max_queued:
                self.overflowed(self.queue_transport)
        elif sink.polling:
            self.outbox.append(packet)
            self._flush()
            self._close_deadline = now + self.settings.close_timeout
        else:
            sink.write([packet])

    def _flush(self) -> None:
        sink = self.sink
        if sink is None or not self.outbox:
            return
        packets, self.outbox = self.outbox, []
        self.queued = 0
        if sink.polling:
            self.sink = None
            self._poll_deadline = None
        sink.write(packets)

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

    def handle_timer(self, now: float) -> None:
        """Act on every deadline that has passed by ``now``."""
        if self.state is SessionState.CLOSED:
            return
        if self._handshake_deadline is not None and now >= self._handshake_deadline:
            self.close("handshake timeout")
            return
        if self._close_deadline is not None and now >= self._close_deadline:
            self.close("close timeout")
            return
        sink = self.sink
        if sink is None:
            return
        if sink.polling:
            if self._poll_deadline is not None and now >= self._poll_deadline:
                if not self.outbox:
                    self.outbox.append(NOOP)
                self._flush()
                self._close_deadline = now + self.settings.close_timeout
            return
        if now >= self._last_recv + self.settings.heartbeat_timeout:
            self.close("heartbeat timeout")
        elif self._heartbeat_due is not None and now >= self._heartbeat_due:
            sink.write([HEARTBEAT])
            self._heartbeat_due = now + self.settings.heartbeat_interval

    # -- ending ----------------------------------------------------------------------------

    def close(self, reason: str) -> None:
        """End the session: flush what can still be written, close the sink, tell the owner."""
        if self.state is SessionState.CLOSED:
            return
        self.state = SessionState.CLOSED
        self.close_reason = reason
        sink, self.sink = self.sink, None
        if sink is not None:
            if self.outbox:
                packets, self.outbox = self.outbox, []
                self.queued = 0
                sink.write(packets)
            elif sink.polling:
                # Answer a held poll so the client comes back, learns the session is gone
                # (``7:::1+0``) and reconnects, instead of hanging.
                sink.write([NOOP])
            if not sink.polling:
                sink.close()
        self.outbox = []
        self.queued = 0
        self._handshake_deadline = self._poll_deadline = self._close_deadline = None
        self._heartbeat_due = None
        self._on_close(reason)
