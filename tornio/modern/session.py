"""The Engine.IO session (protocol v4, and v3): a sans-I/O state machine for one client.

It follows the reference server's transport rules (``reference/modern.md`` §1.3–§1.9):

* a polling session holds at most one GET; a second one while the first is held closes the
  session (the first is answered ``1``, the caller answers the second 400);
* a GET that the client aborts closes the session ("transport close");
* v4: the server sends ``2`` every ``ping_interval`` and closes the session when no ``3``
  follows within ``ping_timeout``; the next ping is due ``ping_interval`` after the pong.
  v3: the client pings, the server answers ``3``, and the session closes when no ping came
  within ``ping_interval + ping_timeout``;
* upgrade: a websocket for a polling session probes (``2probe`` → ``3probe``); meanwhile
  every GET is answered ``6`` at once; ``5`` moves the session onto the websocket and the
  polling transport is dropped; anything else during the probe closes the probe;
* a session that joins no Socket.IO namespace within ``connect_timeout`` is closed (the
  layer above calls :meth:`namespace_connected`).

Outgoing packets are *frames*: a ``str`` is an encoded text packet (``'4hello'``, ``'2'``),
``bytes`` is a binary message. Sinks encode them for their transport. Incoming packets come
decoded (``engineio.Packet``); messages for the layer above are returned to the caller.
It never reads a clock, never touches a socket and never calls out: every transition
returns what the transports must do (a list of :data:`~tornio.protocol.drive.Out`, applied
by :func:`~tornio.protocol.drive.drive`), and its end is read from :attr:`pending_close`.
A GET it refuses after taking it (an overlapping poll) is returned closed without frames:
the transport answers it 400.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tornio.exceptions import EngineError
from tornio.protocol.backlog import WRITE_BUFFER_FULL, Backlog, Overflow, encoded_size
from tornio.protocol.drive import NOTHING, Frame, Out, Sink
from tornio.protocol.engineio import Packet, PacketType

if TYPE_CHECKING:
    from tornio.settings import Settings

__all__ = ["EngineSession", "EngineSettings", "EngineSink", "EngineState", "Frame", "Outs"]

#: A transport connection that carries Engine.IO frames to the client (``transport`` is
#: ``'polling'`` or ``'websocket'``).
EngineSink = Sink[Frame]
#: What a transition returns: the writes (and closes) for the transports, in order.
Outs = Sequence[Out[Frame]]

PING, PONG, NOOP, CLOSE = "2", "3", "6", "1"


#: How late a ping may go out and still have its pong deadline counted from when it was due.
LATE_PING_ALLOWANCE = 0.1

@dataclass(frozen=True)
class EngineSettings:
    """Engine.IO timings (seconds) and limits."""

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    upgrade_timeout: float = 10.0
    #: None: no Socket.IO layer above (a plain Engine.IO endpoint), so no connect timeout.
    connect_timeout: float | None = 45.0
    max_payload: int = 1_000_000
    #: Bytes of output the session may hold that its client has not taken
    #: (:mod:`tornio.protocol.backlog`).
    max_write_buffer: int = 16_000_000

    @classmethod
    def from_settings(cls, settings: Settings, socketio: bool = True) -> EngineSettings:
        """The Engine.IO part of tornio's settings; ``socketio=False`` for a plain Engine.IO
        endpoint, which has no connect timeout (no Socket.IO CONNECT to wait for)."""
        return cls(
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            upgrade_timeout=settings.upgrade_timeout,
            connect_timeout=settings.connect_timeout if socketio else None,
            max_payload=settings.max_buffer_size,
            max_write_buffer=settings.max_write_buffer,
        )


class EngineState(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class EngineSession:
    """One Engine.IO client (see the module docstring). What it queues is its
    :attr:`backlog`, bounded by ``settings.max_write_buffer``
    (:class:`~tornio.protocol.backlog.Backlog`)."""

    def __init__(
        self,
        sid: str,
        version: int,
        settings: EngineSettings,
        now: float,
        transport: str = "polling",
    ) -> None:
        self.sid = sid
        self.version = version
        self.settings = settings
        self.state = EngineState.OPEN
        #: ``state is CLOSED``, kept as a plain attribute: the socket reads it per packet.
        self.closed = False
        self.transport = transport
        self.sink: EngineSink | None = None
        #: The sink a frame goes to as it is sent, without a call: the attached websocket (or
        #: stream) while open; None when a send must be asked (see :meth:`use`).
        self.stream: EngineSink | None = None
        self.backlog: Backlog[Frame] = Backlog(sid, settings.max_write_buffer)
        self.close_reason: str | None = None
        #: The close reason, until the driver has told the owner
        #: (:func:`~tornio.protocol.drive.drive`).
        self.pending_close: str | None = None
        #: v3 polling clients that cannot take binary payloads asked for base64 (``b64=1``).
        self.b64 = False
        #: The client closed by POST while no GET was held; a GET racing that POST is still
        #: answered ``6`` (once), as if it had been held. The host keeps the session findable
        #: for a moment when this is set.
        self.owes_noop = False
        self._probe: EngineSink | None = None  # the websocket being probed for an upgrade
        self._probe_deadline: float | None = None
        self._probed = False  # the probe answered 3probe: GETs get noops now
        self._connect_deadline: float | None = (
            None if settings.connect_timeout is None else now + settings.connect_timeout
        )
        if version >= 4:
            self._ping_due: float | None = now + settings.ping_interval
            self._pong_deadline: float | None = None
        else:
            self._ping_due = None
            self._pong_deadline = now + settings.ping_interval + settings.ping_timeout

    # -- transports --------------------------------------------------------------------------

    def use(self, sink: EngineSink | None) -> None:
        """Make ``sink`` the one that carries frames (None: none does); a websocket or a
        stream becomes the :attr:`stream` as well, a poll does not."""
        self.sink = sink
        self.stream = sink if sink is not None and not sink.polling else None

    @property
    def queue_transport(self) -> str:
        return self.transport

    @property
    def outbox(self) -> list[Frame]:
        """What is queued for the next transport (the backlog's)."""
        return self.backlog.outbox

    @property
    def queued(self) -> int:
        return self.backlog.queued

    @property
    def overflow(self) -> Overflow | None:
        return self.backlog.overflow

    @property
    def upgrading(self) -> bool:
        return self._probe is not None

    def attach_poll(self, sink: EngineSink, now: float) -> Outs:
        """A GET arrived. Raises EngineError for a request the caller must answer 400 (and
        nothing else happens). A GET that overlaps a held one ends the session: the held one
        is answered ``1`` and this one is returned closed without frames (refused: 400)."""
        if self.state is EngineState.CLOSED:
            if self.owes_noop:
                self.owes_noop = False
                return [(sink, [NOOP], False)]
            raise EngineError(1, "session closed")
        if self.transport != "polling":
            raise EngineError(3, "transport mismatch")
        if self.sink is not None:
            held = self.sink
            self.use(None)
            return [(held, [CLOSE], False), *self.close("overlap from client"), (sink, [], True)]
        if self._probed:
            return [(sink, [NOOP], False)]
        self.use(sink)
        if self.backlog.outbox:
            return self._flush(sink)
        return NOTHING

    def attach_websocket(self, sink: EngineSink, now: float) -> Outs:
        """The session's first transport is this websocket (no polling before it)."""
        self.transport = "websocket"
        self.use(sink)
        if self.backlog.outbox:
            return self._flush(sink)
        return NOTHING

    def begin_upgrade(self, sink: EngineSink, now: float) -> None:
        """A websocket arrived for this polling session (nothing is written to it yet).
        Raises EngineError if refused."""
        if self.state is EngineState.CLOSED:
            raise EngineError(1, "session closed")
        if self.transport != "polling" or self._probe is not None:
            raise EngineError(3, "already upgraded or upgrading")
        self._probe = sink
        self._probe_deadline = now + self.settings.upgrade_timeout

    def detach(self, sink: EngineSink, now: float) -> Outs:
        """A transport connection went away (aborted GET, closed websocket)."""
        if self.state is EngineState.CLOSED:
            return NOTHING
        if sink is self._probe:
            return self._end_probe()
        if sink is self.sink:
            self.use(None)
            return self.close("transport close")
        return NOTHING

    def _end_probe(self) -> Outs:
        probe, self._probe = self._probe, None
        self._probe_deadline = None
        self._probed = False
        return NOTHING if probe is None else [(probe, [], True)]

    # -- incoming ----------------------------------------------------------------------------

    def receive(
        self, packets: Sequence[Packet], now: float, source: EngineSink | None = None
    ) -> tuple[list[str | bytes], Outs]:
        """Packets from the client (a POST body, or a websocket frame from ``source``).

        Returns the messages for the layer above, and what the transports must do (a v3
        pong, the end of the session: protocol violations close it).
        """
        messages: list[str | bytes] = []
        outs: Outs = NOTHING
        if source is not None and source is self._probe:
            for packet in packets:
                outs = [*outs, *self._receive_probe(packet)]
            return messages, outs
        for packet in packets:
            if self.state is EngineState.CLOSED:
                break
            kind = packet.type
            if kind is PacketType.MESSAGE:
                messages.append(packet.data if packet.data is not None else "")
            elif kind is PacketType.PONG and self.version >= 4:
                self._pong_deadline = None
                self._ping_due = now + self.settings.ping_interval
            elif kind is PacketType.PING and self.version < 4:
                self._pong_deadline = now + self.settings.ping_interval + self.settings.ping_timeout
                pong = PONG + (packet.data if isinstance(packet.data, str) else "")
                outs = [*outs, *self.send(pong)]
            elif kind is PacketType.CLOSE:
                self.owes_noop = self.transport == "polling" and self.sink is None
                outs = [*outs, *self.close("transport close")]
            elif kind is PacketType.NOOP:
                pass
            elif kind is PacketType.PING:
                outs = [*outs, *self.close("invalid heartbeat direction")]
            else:
                outs = [*outs, *self.close("parse error")]
        return messages, outs

    def _receive_probe(self, packet: Packet) -> Outs:
        probe = self._probe
        if probe is None:  # an earlier packet of the same frame ended the probe
            return NOTHING
        if packet.type is PacketType.PING and packet.data == "probe":
            outs: list[Out[Frame]] = [(probe, [PONG + "probe"], False)]
            self._probed = True
            if self.sink is not None:  # release the held GET so the client can upgrade
                held = self.sink
                self.use(None)
                outs.append((held, [NOOP], False))
            return outs
        if packet.type is PacketType.UPGRADE and self._probed:
            # No GET is held here: the probe's ping released it, and later ones got 6.
            self._probe = None
            self._probe_deadline = None
            self._probed = False
            self.transport = "websocket"
            self.use(probe)
            if self.backlog.outbox:
                return self._flush(probe)
            return NOTHING
        return self._end_probe()

    def namespace_connected(self) -> None:
        """The layer above joined a namespace: the connect timeout no longer applies."""
        self._connect_deadline = None

    # -- outgoing ----------------------------------------------------------------------------

    def send(self, frame: Frame) -> Outs:
        """Queue one frame; it goes out at once if a transport can take it."""
        if self.state is EngineState.CLOSED:
            return NOTHING
        sink = self.sink
        if sink is None:  # counted here, not in a call: the hot path of a broadcast
            backlog = self.backlog
            backlog.outbox.append(frame)
            backlog.queued += len(frame) if frame.isascii() else encoded_size(frame)
            if backlog.queued > backlog.bound:
                return self.overflowed(self.transport)
            return NOTHING
        if sink.polling:
            self.backlog.outbox.append(frame)
            return self._flush(sink)
        return [(sink, [frame], False)]

    def send_many(self, frames: list[Frame]) -> Outs:
        """Queue several frames that belong together (a packet and its attachments)."""
        if self.state is EngineState.CLOSED:
            return NOTHING
        sink = self.sink
        if sink is not None and not sink.polling:
            return [(sink, frames, False)]
        if sink is None:
            if self.backlog.hold_many(frames):
                return self.overflowed(self.transport)
            return NOTHING
        self.backlog.outbox.extend(frames)
        return self._flush(sink)

    def _flush(self, sink: EngineSink) -> Outs:
        """The queue (not empty), for ``sink``, the attached one (a poll is answered by it
        and let go)."""
        backlog = self.backlog
        frames, backlog.outbox = backlog.outbox, []
        backlog.queued = 0
        if sink.polling:
            self.use(None)
        return [(sink, frames, False)]

    # -- time --------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        if self.state is EngineState.CLOSED:
            return None
        deadline = self._ping_due
        for d in (self._pong_deadline, self._probe_deadline, self._connect_deadline):
            if d is not None and (deadline is None or d < deadline):
                deadline = d
        return deadline

    @property
    def heartbeat_due(self) -> float | None:
        """When the next ping is to be sent. Unlike every other deadline, it may be met a
        few milliseconds late: the timers group such deadlines to wake the loop less."""
        return self._ping_due

    def handle_timer(self, now: float) -> Outs:
        if self.state is EngineState.CLOSED:
            return NOTHING
        if self._pong_deadline is not None and now >= self._pong_deadline:
            return self.close("ping timeout")
        if self._connect_deadline is not None and now >= self._connect_deadline:
            return self.close("connect timeout")
        outs: Outs = NOTHING
        if self._probe_deadline is not None and now >= self._probe_deadline:
            outs = self._end_probe()
        if self._ping_due is not None and now >= self._ping_due:
            due, self._ping_due = self._ping_due, None
            # The pong is due ping_timeout after the ping was: a heartbeat timer may run a
            # little late (see heartbeat_due), and the timeout stays exact. A ping that went
            # out much later (an overloaded loop) gives the client nearly the full timeout.
            self._pong_deadline = max(due, now - LATE_PING_ALLOWANCE) + self.settings.ping_timeout
            outs = [*outs, *self.send(PING)]
        return outs

    # -- ending ------------------------------------------------------------------------------

    def overflowed(self, transport: str, unsent: int = 0) -> Outs:
        """The client left more than the bound untaken (``unsent``: bytes in ``transport``'s
        write buffer; 0 when the queue passed it): the session closes
        (:data:`~tornio.protocol.backlog.WRITE_BUFFER_FULL`)."""
        if self.state is EngineState.CLOSED:
            return NOTHING
        self.backlog.overflowed(transport, unsent)
        return self.close(WRITE_BUFFER_FULL)

    def close(self, reason: str, notify_client: bool = False) -> Outs:
        """End the session. With ``notify_client`` a held GET is answered ``1`` (close). The
        owner learns of it from :attr:`pending_close` (through the driver)."""
        if self.state is EngineState.CLOSED:
            return NOTHING
        self.state = EngineState.CLOSED
        self.closed = True
        self.close_reason = self.pending_close = reason
        sink = self.sink
        self.use(None)
        outs = list(self._end_probe()) if self._probe is not None else []
        if sink is not None:
            if sink.polling:
                outs.append((sink, [CLOSE] if notify_client else [NOOP], False))
            else:  # what is queued, then the close
                outs.append((sink, self.backlog.outbox, True))
        self.backlog.outbox = []
        self.backlog.queued = 0
        self._ping_due = self._pong_deadline = self._connect_deadline = None
        return outs
