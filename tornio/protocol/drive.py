"""How a session is driven, the same for both generations and every transport.

A transport talks to its socket; the socket calls its *engine* (the sans-I/O session state
machine: :class:`~tornio.modern.session.EngineSession` or
:class:`~tornio.legacy.session.LegacySession`), and the engine **returns** what must happen
rather than calling back into a transport: a list of :data:`Out`, each "write these frames to
this sink, then close it if asked". :func:`drive` applies them, in order, and then tells the
engine's owner once if the engine closed (:meth:`SessionOwner.session_closed`): the engine
itself never calls out.

    transport → socket → engine.method(...) → [Out, ...] → drive(socket, outs) → sink.write

The types here are what both engines and their owners satisfy (mypy checks it): a
:class:`Sink` is a transport connection that carries frames to the client; an
:class:`Engine` is what ``socket.engine`` is, read by the protocol-neutral layers (timers,
metrics, the manager); a :class:`SessionOwner` is what holds one (a socket, or a plain
Engine.IO endpoint's connection).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Protocol, TypeVar

from tornio.protocol.backlog import Overflow

__all__ = ["NOTHING", "Driven", "Engine", "Frame", "Out", "SessionOwner", "Sink", "drive"]

#: An encoded outgoing packet: a text packet (``str``) or a binary message (``bytes``; the
#: Engine.IO session's only). 0.9 sessions send ``str`` only.
Frame = str | bytes

F = TypeVar("F", str, Frame)
F_sink = TypeVar("F_sink", str, Frame)


class Sink(Protocol[F_sink]):
    """A transport connection that carries frames to the client."""

    #: The transport's name (``'polling'``, ``'websocket'``, ``'xhr-polling'``…).
    transport: str
    #: True when one write answers the request and ends this sink (a poll).
    polling: bool

    def write(self, frames: list[F_sink]) -> object:
        """Deliver frames (at least one); what it returns is not read."""

    def close(self) -> None:
        """End the connection; nothing more is written to it."""


#: One thing an engine asks of its transports: ``(sink, frames, close)``: write ``frames``
#: (when there are any) to ``sink``, then close it if ``close``. ``Out[str]`` for 0.9,
#: ``Out[Frame]`` for Engine.IO.
Out = tuple[Sink[F], list[F], bool]


#: What a transition that asks for nothing returns (shared: never mutated).
NOTHING: tuple[()] = ()


class Engine(Protocol):
    """What ``socket.engine`` is, to the layers that do not know its generation."""

    @property
    def state(self) -> enum.Enum: ...

    @property
    def closed(self) -> bool: ...

    @property
    def close_reason(self) -> str | None: ...

    @property
    def overflow(self) -> Overflow | None: ...

    @property
    def pending_close(self) -> str | None:
        """The reason the engine closed, until :func:`drive` has told its owner."""

    @pending_close.setter
    def pending_close(self, value: str | None) -> None: ...

    @property
    def queue_transport(self) -> str:
        """The transport that carries (or last carried) the engine's frames."""

    @property
    def heartbeat_due(self) -> float | None: ...

    def next_deadline(self) -> float | None: ...


class SessionOwner(Protocol):
    """What holds an engine: told once when it closes, after what the close writes."""

    @property
    def engine(self) -> Engine: ...

    def session_closed(self, reason: str) -> None: ...


class Driven(SessionOwner, Protocol):
    """An owner the timers drive: its engine's deadlines, met through the owner (which knows
    its engine's generation, and so the type of what it returns)."""

    sessid: str

    def handle_timer(self, now: float) -> None:
        """``drive(self, self.engine.handle_timer(now))``."""

    def close_session(self, reason: str) -> None:
        """``drive(self, self.engine.close(reason))``."""


def drive(owner: SessionOwner, outs: Iterable[Out[F]]) -> None:
    """Apply what ``owner.engine`` returned: each write (and close) in order; then, if the
    engine has closed and the owner has not been told, tell it (once). With no ``outs`` and
    no ``pending_close`` it does nothing: a hot path (a message received) may skip the call
    on that test."""
    for sink, frames, close in outs:
        if frames:
            sink.write(frames)
        if close:
            sink.close()
    engine = owner.engine
    reason = engine.pending_close
    if reason is not None:
        engine.pending_close = None
        owner.session_closed(reason)
