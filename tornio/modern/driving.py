"""An Engine.IO session's inputs as methods of whoever holds it — a Socket.IO
:class:`~tornio.modern.socket.ModernSocket`, or a plain endpoint's
:class:`~tornio.modern.endpoint.EngineConnection` — so that the transports talk to the holder,
never to the session: each method calls the session and drives what it returns
(:func:`~tornio.protocol.drive.drive`), as :class:`~tornio.legacy.socket.LegacySocket`'s
``attach``/``detach``/``receive_packet`` do for 0.9.

    transport → holder.attach_poll(sink, now) → engine.attach_poll(...) → drive(holder, outs)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from tornio.modern.session import EngineSession, EngineSink, Frame
from tornio.protocol import engineio
from tornio.protocol.drive import drive

__all__ = ["EngineDriving"]


class Holder(Protocol):
    """What an :class:`EngineDriving` is, to :func:`~tornio.protocol.drive.drive`: it holds
    the engine and is told when the session ends (``session_closed``, which each holder has
    of its own: a socket's is the protocol-neutral one)."""

    @property
    def engine(self) -> EngineSession: ...

    def session_closed(self, reason: str, /) -> None: ...


H = TypeVar("H", bound=Holder)


class EngineDriving:
    """The base of what holds an :class:`~tornio.modern.session.EngineSession`: it holds
    ``engine`` (given to ``__init__``); its methods take a holder that is also told when the
    session ends (:class:`Holder`)."""

    def __init__(self, engine: EngineSession) -> None:
        self.engine = engine

    def attach_poll(self: H, sink: EngineSink, now: float) -> None:
        """A GET to hold until there is something to send (or answered at once).

        Raises:
            EngineError: the session refuses it (closed, or upgraded: the code to answer).
        """
        drive(self, self.engine.attach_poll(sink, now))

    def attach_websocket(self: H, sink: EngineSink, now: float) -> None:
        """A websocket that opened the session."""
        drive(self, self.engine.attach_websocket(sink, now))

    def begin_upgrade(self: H, sink: EngineSink, now: float) -> None:
        """A websocket that probes to take over from polling.

        Raises:
            EngineError: the session cannot be upgraded (closed, upgraded or upgrading).
        """
        self.engine.begin_upgrade(sink, now)

    def detach(self: H, sink: EngineSink, now: float) -> None:
        """A transport connection went away (a held GET's client, a websocket)."""
        drive(self, self.engine.detach(sink, now))

    def receive(
        self: H, packets: Sequence[engineio.Packet], now: float, source: EngineSink | None = None
    ) -> list[str | bytes]:
        """Engine.IO packets from the client (a POST body, or a frame of ``source``); returns
        the messages for the layer above, which the transport hands on when it chooses (at
        once, or in slices)."""
        engine = self.engine
        messages, outs = engine.receive(packets, now, source)
        if outs or engine.pending_close is not None:  # drive's own test, without its call
            drive(self, outs)
        return messages

    def send_frames(self: H, frames: list[Frame]) -> None:
        """Frames for the client, in order (the handshake's)."""
        drive(self, self.engine.send_many(frames))

    def overflowed(self: H, transport: str, unsent: int) -> None:
        """A persistent transport holds more than ``max_write_buffer`` unsent bytes."""
        drive(self, self.engine.overflowed(transport, unsent))

    def close_session(self: H, reason: str, notify_client: bool = False) -> None:
        """End the engine; with ``notify_client`` a held poll is answered close."""
        drive(self, self.engine.close(reason, notify_client))

    def handle_timer(self: H, now: float) -> None:
        drive(self, self.engine.handle_timer(now))
