"""The outbox of tornio/transports/coalesce.py on the test's own loop, with an in-memory
transport (what it was handed, write by write, and how much of it the client has not taken):
the exact bound (pending plus unsent at it waits, one byte past it is handed over and judged
on what the transport then holds), FLUSH_AT, a connection that flushes itself, one
``call_soon`` for every connection that asks in a pass, and a failing connection that does
not keep the others' writes back. The wire-level behaviour is tests/test_write_coalescing.py's."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tornio.transports.coalesce import FLUSH_AT, Outbox, flush_soon

BOUND = 1000


class Wire:
    """An in-memory transport: every write kept, ``unsent`` what it holds for the client."""

    def __init__(self, unsent: int = 0, keeps: bool = False) -> None:
        self.writes: list[bytes] = []
        self.unsent = unsent
        self.keeps = keeps  # the client reads nothing: what is written stays unsent
        self.overflows: list[int] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        if self.keeps:
            self.unsent += len(data)

    def outbox(self) -> Outbox:
        return Outbox(self.write, lambda: self.unsent, BOUND, self.overflows.append)


async def next_pass() -> None:
    await asyncio.sleep(0)


async def test_what_a_pass_adds_leaves_in_one_write_after_it() -> None:
    wire = Wire()
    outbox = wire.outbox()
    assert outbox.add(b"a") and outbox.add(b"bc") and outbox.add(b"d")
    assert wire.writes == []
    await next_pass()
    assert wire.writes == [b"abcd"]
    assert outbox.add(b"e")  # the next pass asks again
    await next_pass()
    assert wire.writes == [b"abcd", b"e"]


async def test_the_bound_counts_pending_bytes_exactly() -> None:
    wire = Wire(unsent=BOUND - 10, keeps=True)
    outbox = wire.outbox()
    assert outbox.add(b"x" * 6) and outbox.add(b"y" * 4)  # pending + unsent == bound: waits
    assert wire.writes == [] and wire.overflows == []
    assert not outbox.add(b"z")  # one byte past: handed over, and the transport holds it all
    assert wire.writes == [b"x" * 6 + b"y" * 4 + b"z"]
    assert wire.overflows == [BOUND + 1]


async def test_past_the_bound_with_a_reading_client_nothing_overflows() -> None:
    wire = Wire(unsent=BOUND - 1)
    outbox = wire.outbox()
    assert outbox.add(b"ab")  # would pass the bound pending: handed over now
    assert wire.writes == [b"ab"] and wire.overflows == []
    wire.unsent = BOUND  # the transport holds exactly the bound after a write: kept
    wire.keeps = False
    assert outbox.add(b"c")
    assert wire.writes == [b"ab", b"c"] and wire.overflows == []


async def test_flush_at_sends_at_once() -> None:
    wire = Wire()
    outbox = Outbox(wire.write, lambda: wire.unsent, 10 * FLUSH_AT, wire.overflows.append)
    half = b"h" * (FLUSH_AT // 2)
    assert outbox.add(half) and outbox.add(half[:-1])
    assert wire.writes == []  # one byte short of FLUSH_AT
    assert outbox.add(b"!")
    assert wire.writes == [half + half[:-1] + b"!"]
    outbox.discard()
    assert outbox.add(b"s" * (FLUSH_AT - 1))  # the count started over
    assert len(wire.writes) == 1


async def test_counts_start_over_after_a_flush_and_a_discard() -> None:
    wire = Wire(unsent=BOUND - 3, keeps=False)
    outbox = wire.outbox()
    outbox.add(b"abc")
    outbox.flush()
    assert wire.writes == [b"abc"]
    assert outbox.add(b"def")  # 3 pending again, not 6: waits
    outbox.discard()
    assert outbox.add(b"ghi")
    await next_pass()
    assert wire.writes == [b"abc", b"ghi"] and wire.overflows == []


async def test_an_owner_that_flushes_itself_schedules_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    scheduled: list[Any] = []
    call_soon = loop.call_soon
    monkeypatch.setattr(loop, "call_soon", lambda *a, **k: scheduled.append(a) or call_soon(*a))
    wire = Wire()
    outbox = wire.outbox()
    outbox.owner_flushes = 1
    outbox.add(b"a")
    outbox.add(b"b")
    assert scheduled == []
    outbox.flush()
    assert wire.writes == [b"ab"]


async def test_one_call_soon_for_every_connection_of_a_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    scheduled: list[Any] = []
    call_soon = loop.call_soon
    monkeypatch.setattr(loop, "call_soon", lambda *a, **k: scheduled.append(a) or call_soon(*a))
    wires = [Wire() for _ in range(3)]
    outboxes = [w.outbox() for w in wires]
    for outbox in outboxes:
        outbox.add(b"1")
        outbox.add(b"2")
    assert len(scheduled) == 1
    await next_pass()
    assert [w.writes for w in wires] == [[b"12"]] * 3


@pytest.mark.server_errors(("tornio.transports.coalesce", "flushing the writes of"))
async def test_a_connection_that_fails_to_flush_does_not_hold_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def flush_pass(self) -> None:
            raise OSError("gone")

        def __repr__(self) -> str:
            return "<the broken one>"

    wire = Wire()
    outbox = wire.outbox()
    broken = Broken()
    with caplog.at_level(logging.ERROR, "tornio.transports.coalesce"):
        flush_soon(asyncio.get_running_loop(), broken)
        outbox.add(b"after it")
        await next_pass()
    assert wire.writes == [b"after it"]
    (record,) = [r for r in caplog.records if r.name == "tornio.transports.coalesce"]
    assert record.getMessage() == "flushing the writes of <the broken one> failed"
    assert record.exc_info is not None and isinstance(record.exc_info[1], OSError)


async def test_unsent_is_asked_once_after_each_flush_not_at_every_add() -> None:
    wire = Wire(unsent=BOUND - 10, keeps=True)
    asked: list[int] = []

    def unsent() -> int:
        asked.append(wire.unsent)
        return wire.unsent

    outbox = Outbox(wire.write, unsent, BOUND, wire.overflows.append)
    for _ in range(5):
        assert outbox.add(b"x")
    assert asked == [BOUND - 10] and wire.writes == []
    outbox.flush()  # the transport now holds 5 more
    assert outbox.add(b"y") and outbox.add(b"z")
    assert asked == [BOUND - 10, BOUND - 5]
    assert not outbox.add(b"w" * 4)  # 6 pending + BOUND - 5: flushed, then asked afresh
    assert asked == [BOUND - 10, BOUND - 5, BOUND + 1]
    assert wire.overflows == [BOUND + 1]
    idle = Wire()  # nothing unsent: a count of 0 is remembered too
    counted: list[int] = []
    outbox = Outbox(idle.write, lambda: counted.append(0) or 0, BOUND, idle.overflows.append)
    assert outbox.add(b"a") and outbox.add(b"b") and outbox.add(b"c")
    assert counted == [0]


async def test_a_count_gone_stale_flushes_early_and_judges_on_a_fresh_one() -> None:
    wire = Wire(unsent=BOUND - 5)
    outbox = wire.outbox()
    assert outbox.add(b"abc")  # 3 pending + BOUND - 5 unsent: waits
    wire.unsent = 0  # the transport sent it all meanwhile
    assert outbox.add(b"defgh")  # 8 + the count asked before: over, so flushed now
    assert wire.writes == [b"abcdefgh"] and wire.overflows == []
    assert outbox.add(b"i")  # asked afresh after the flush: 0, so it waits again
    assert wire.writes == [b"abcdefgh"]
    await next_pass()
    assert wire.writes == [b"abcdefgh", b"i"]
