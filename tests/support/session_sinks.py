"""In-memory transport connections ("sinks") for the session state machines on a fake clock:
a 0.9 one (:class:`FakeSink`), an Engine.IO one (:class:`EngineSink`), and :class:`Closes`,
the ``on_close`` callback that records its reasons."""

from __future__ import annotations

from tornio.modern.session import Frame

__all__ = ["Closes", "EngineSink", "FakeSink"]


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
        self.closed = True
