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
It never reads a clock and never touches a socket.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tornio.exceptions import EngineError
from tornio.protocol.backlog import Backlog, Overflow, encoded_size
from tornio.protocol.engineio import Packet, PacketType

if TYPE_CHECKING:
    from tornio.settings import Settings

__all__ = ["EngineSession", "EngineSettings", "EngineSink", "EngineState", "Frame"]

#: An outgoing Engine.IO packet, encoded: text packet (str) or binary message (bytes).
Frame = str | bytes

PING, PONG, NOOP, CLOSE = "2", "3", "6", "1"


#: How late a ping may go out and still have its pong deadline counted from when it was due.
LATE_PING_ALLOWANCE = 0.1

class EngineSink(Protocol):
    """A transport connection that carries frames to the client."""

    #: ``'polling'`` or ``'websocket'``.
    transport: str
    #: True when one write answers the request and ends this sink.
    polling: bool

    def write(self, frames: list[Frame]) -> None:
        """Deliver frames (at least one)."""

    def close(self) -> None:
        """End the connection."""


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


class EngineSession(Backlog):
    """One Engine.IO client (see the module docstring). What it queues is bounded by
    ``settings.max_write_buffer`` (:class:`~tornio.protocol.backlog.Backlog`)."""

    def __init__(
        self,
        sid: str,
        version: int,
        settings: EngineSettings,
        now: float,
        on_close: Callable[[str], None],
        transport: str = "polling",
    ) -> None:
        self.sid = sid
        self.version = version
        self.settings = settings
        self.state = EngineState.OPEN
        self.transport = transport
        self.sink: EngineSink | None = None
        self.outbox: list[Frame] = []
        self.queued = 0
        self.max_queued = settings.max_write_buffer
        self.overflow: Overflow | None = None
        self.close_reason: str | None = None
        #: v3 polling clients that cannot take binary payloads asked for base64 (``b64=1``).
        self.b64 = False
        #: The client closed by POST while no GET was held; a GET racing that POST is still
        #: answered ``6`` (once), as if it had been held. The host keeps the session findable
        #: for a moment when this is set.
        self.owes_noop = False
        self._on_close = on_close
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

    @property
    def closed(self) -> bool:
        return self.state is EngineState.CLOSED

    @property
    def queue_transport(self) -> str:
        return self.transport

    @property
    def upgrading(self) -> bool:
        return self._probe is not None

    def attach_poll(self, sink: EngineSink, now: float) -> None:
        """A GET arrived. Raises EngineError for a request the caller must answer 400."""
        if self.state is EngineState.CLOSED:
            if self.owes_noop:
                self.owes_noop = False
                sink.write([NOOP])
                return
            raise EngineError(1, "session closed")
        if self.transport != "polling":
            raise EngineError(3, "transport mismatch")
        if self.sink is not None:
            held, self.sink = self.sink, None
            held.write([CLOSE])
            self.close("overlap from client")
            raise EngineError(3, "overlapping poll")
        if self._probed:
            sink.write([NOOP])
            return
        self.sink = sink
        if self.outbox:
            self._flush()

    def attach_websocket(self, sink: EngineSink, now: float) -> None:
        """The session's first transport is this websocket (no polling before it)."""
        self.transport = "websocket"
        self.sink = sink
        if self.outbox:
            self._flush()

    def begin_upgrade(self, sink: EngineSink, now: float) -> None:
        """A websocket arrived for this polling session. Raises EngineError if refused."""
        if self.state is EngineState.CLOSED:
            raise EngineError(1, "session closed")
        if self.transport != "polling" or self._probe is not None:
            raise EngineError(3, "already upgraded or upgrading")
        self._probe = sink
        self._probe_deadline = now + self.settings.upgrade_timeout

    def detach(self, sink: EngineSink, now: float) -> None:
        """A transport connection went away (aborted GET, closed websocket)."""
        if self.state is EngineState.CLOSED:
            return
        if sink is self._probe:
            self._end_probe()
        elif sink is self.sink:
            self.sink = None
            self.close("transport close")

    def _end_probe(self) -> None:
        probe, self._probe = self._probe, None
        self._probe_deadline = None
        self._probed = False
        if probe is not None:
            probe.close()

    # -- incoming ----------------------------------------------------------------------------

    def receive(
        self, packets: Sequence[Packet], now: float, source: EngineSink | None = None
    ) -> list[str | bytes]:
        """Packets from the client (a POST body, or a websocket frame from ``source``).

        Returns the messages for the layer above. Protocol violations close the session.
        """
        messages: list[str | bytes] = []
        if source is not None and source is self._probe:
            for packet in packets:
                self._receive_probe(packet, now)
            return messages
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
                self.send(PONG + (packet.data if isinstance(packet.data, str) else ""))
            elif kind is PacketType.CLOSE:
                self.owes_noop = self.transport == "polling" and self.sink is None
                self.close("transport close")
            elif kind is PacketType.NOOP:
                pass
            elif kind is PacketType.PING:
                self.close("invalid heartbeat direction")
            else:
                self.close("parse error")
        return messages

    def _receive_probe(self, packet: Packet, now: float) -> None:
        probe = self._probe
        assert probe is not None
        if packet.type is PacketType.PING and packet.data == "probe":
            probe.write([PONG + "probe"])
            self._probed = True
            if self.sink is not None:  # release the held GET so the client can upgrade
                held, self.sink = self.sink, None
                held.write([NOOP])
        elif packet.type is PacketType.UPGRADE and self._probed:
            self._probe = None
            self._probe_deadline = None
            self._probed = False
            if self.sink is not None:
                held, self.sink = self.sink, None
                held.write([NOOP])
            self.transport = "websocket"
            self.sink = probe
            if self.outbox:
                self._flush()
        else:
            self._end_probe()

    def namespace_connected(self) -> None:
        """The layer above joined a namespace: the connect timeout no longer applies."""
        self._connect_deadline = None

    # -- outgoing ----------------------------------------------------------------------------

    def send(self, frame: Frame) -> None:
        """Queue one frame; it goes out at once if a transport can take it."""
        if self.state is EngineState.CLOSED:
            return
        sink = self.sink
        if sink is None:  # counted here, not in a call: the hot path of a broadcast
            self.outbox.append(frame)
            self.queued += len(frame) if frame.isascii() else encoded_size(frame)
            if self.queued > self.max_queued:
                self.overflowed(self.queue_transport)
        elif sink.polling:
            self.outbox.append(frame)
            self._flush()
        else:
            sink.write([frame])

    def send_many(self, frames: list[Frame]) -> None:
        """Queue several frames that belong together (a packet and its attachments)."""
        if self.state is EngineState.CLOSED:
            return
        sink = self.sink
        if sink is not None and not sink.polling:
            sink.write(frames)
            return
        if sink is None:
            self._hold_many(frames)
            return
        self.outbox.extend(frames)
        self._flush()

    def _flush(self) -> None:
        sink = self.sink
        if sink is None or not self.outbox:
            return
        frames, self.outbox = self.outbox, []
        self.queued = 0
        if sink.polling:
            self.sink = None
        sink.write(frames)

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

    def handle_timer(self, now: float) -> None:
        if self.state is EngineState.CLOSED:
            return
        if self._pong_deadline is not None and now >= self._pong_deadline:
            self.close("ping timeout")
            return
        if self._connect_deadline is not None and now >= self._connect_deadline:
            self.close("connect timeout")
            return
        if self._probe_deadline is not None and now >= self._probe_deadline:
            self._end_probe()
        if self._ping_due is not None and now >= self._ping_due:
            due, self._ping_due = self._ping_due, None
            # The pong is due ping_timeout after the ping was: a heartbeat timer may run a
            # little late (see heartbeat_due), and the timeout stays exact. A ping that went
            # out much later (an overloaded loop) gives the client nearly the full timeout.
            self._pong_deadline = max(due, now - LATE_PING_ALLOWANCE) + self.settings.ping_timeout
            self.send(PING)

    # -- ending ------------------------------------------------------------------------------

    def close(self, reason: str, notify_client: bool = False) -> None:
        """End the session. With ``notify_client`` a held GET is answered ``1`` (close)."""
        if self.state is EngineState.CLOSED:
            return
        self.state = EngineState.CLOSED
        self.close_reason = reason
        sink, self.sink = self.sink, None
        if self._probe is not None:
            self._end_probe()
        if sink is not None:
            if sink.polling:
                sink.write([CLOSE] if notify_client else [NOOP])
            else:
                if self.outbox:
                    sink.write(self.outbox)
                sink.close()
        self.outbox = []
        self.queued = 0
        self._ping_due = self._pong_deadline = self._connect_deadline = None
        self._on_close(reason)
