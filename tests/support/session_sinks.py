"""In-memory transport connections ("sinks") for the session state machines on a fake clock:
a 0.9 one (:class:`FakeSink`), an Engine.IO one (:class:`EngineSink`), :class:`Closes`, the
owner's hook that records the close reasons, and :class:`Driven`, a session with its driver
(what a socket does with what the session returns)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tornio.exceptions import EngineError
from tornio.legacy.session import LegacySession, SessionState
from tornio.modern.session import EngineSession, Frame
from tornio.protocol.drive import drive

__all__ = ["Closes", "Driven", "EngineSink", "FakeSink"]

#: The session methods whose return value is the output to drive.
TRANSITIONS = frozenset(
    {"attach_websocket", "detach", "send", "send_many", "handle_timer", "close", "overflowed"}
)


class FakeSink:
    """A transport connection that records what the session does to it.

    ``log``, when given, is shared by several sinks and records every packet written, in
    order, across all of them.
    """

    def __init__(
        self,
        transport: str = "xhr-polling",
        polling: bool | None = None,
        log: list[str] | None = None,
    ) -> None:
        self.transport = transport
        self.polling = transport.endswith("polling") if polling is None else polling
        self.writes: list[list[str]] = []
        self.closes = 0
        #: Set once the session must not write here again (answered, closed, gone).
        self.dead = False
        self.log = log

    def write(self, packets: list[str]) -> None:
        assert not self.dead, f"write {packets!r} to a finished {self.transport} sink"
        assert packets, "write() of no packets"
        self.writes.append(list(packets))
        if self.log is not None:
            self.log.extend(packets)
        if self.polling:
            self.dead = True

    def close(self) -> None:
        self.closes += 1
        self.dead = True

    @property
    def packets(self) -> list[str]:
        return [p for batch in self.writes for p in batch]


class Closes:
    """The ``on_close`` callback: records every reason it was called with."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def __call__(self, reason: str) -> None:
        self.reasons.append(reason)


class EngineSink:
    """An Engine.IO transport connection recording the frames written to it (a poll is
    answered once)."""

    def __init__(self, transport: str = "polling") -> None:
        self.transport = transport
        self.polling = transport == "polling"
        self.frames: list[Frame] = []
        self.writes = 0
        self.closed = False

    def write(self, frames: list[Frame]) -> None:
        assert not self.closed, "write after close"
        if self.polling:
            assert self.writes == 0, "a poll is answered once"
        self.writes += 1
        self.frames.extend(frames)

    def close(self) -> None:
        if self.polling and self.writes == 0:  # a poll closed unanswered: refused (400)
            self.refused = True
            return
        self.closed = True

    refused = False


class Driven:
    """A session state machine and its driver: each transition's output is applied to the
    sinks at once (:func:`tornio.protocol.drive.drive`, as a socket does) and the owner's hook
    ``on_close`` is told the close reason once. What the old in-place API returned is
    returned: :meth:`attach` of a 0.9 session says whether it was the first; ``receive``
    returns the messages; a poll the session refuses raises ``EngineError`` (code 3), as the
    transport answers it 400. Anything else is the session's own attribute."""

    def __init__(
        self, engine: LegacySession | EngineSession, on_close: Callable[[str], object]
    ) -> None:
        self.engine = engine
        self.on_close = on_close

    def session_closed(self, reason: str) -> None:
        self.on_close(reason)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.engine, name)
        if name not in TRANSITIONS:
            return value

        def driven(*args: Any, **kwargs: Any) -> None:
            drive(self, value(*args, **kwargs))

        return driven

    def attach(self, sink: FakeSink, now: float) -> bool:
        assert isinstance(self.engine, LegacySession)
        first = self.engine.state is SessionState.NEW
        drive(self, self.engine.attach(sink, now))
        return first

    def attach_poll(self, sink: EngineSink, now: float) -> None:
        assert isinstance(self.engine, EngineSession)
        drive(self, self.engine.attach_poll(sink, now))
        if sink.refused:
            raise EngineError(3, "refused")

    def receive(self, *args: Any, **kwargs: Any) -> list[str | bytes]:
        assert isinstance(self.engine, EngineSession)
        messages, outs = self.engine.receive(*args, **kwargs)
        drive(self, outs)
        return messages
