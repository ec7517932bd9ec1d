"""SessionTimers' edges, each with an exact answer: a deadline equal to the armed one keeps the
armed timer; a timer that fires drops its entry and re-arms at the session's next deadline
unless the session closed; a session whose timer raises is logged and closed with "internal
error" and keeps no timer; ``cancel`` cancels and forgets, and an unknown sid is no
error. (``tests/test_timers.py`` has the grid and the re-arming order.)"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import pytest

from tornio.core.timers import SessionTimers


@dataclass
class Engine:
    """A session that says its next deadline and records what it is told."""

    deadline: float | None
    then: float | None = None  # the deadline after the timer fired
    fail: bool = False
    closed: bool = False
    close_on_fire: bool = False
    fired: list[float] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)
    heartbeat_due: float | None = None  # never only a heartbeat: no rounding

    def next_deadline(self) -> float | None:
        return self.deadline

    def handle_timer(self, now: float) -> None:
        self.fired.append(now)
        if self.fail:
            raise RuntimeError("boom")
        self.deadline = self.then
        self.closed = self.close_on_fire

    def close(self, reason: str) -> None:
        self.closes.append(reason)
        self.closed = True


@dataclass
class Sock:
    sessid: str
    engine: Engine

    def handle_timer(self, now: float) -> None:
        self.engine.handle_timer(now)

    def close_session(self, reason: str) -> None:
        self.engine.close(reason)


def loop_timers() -> SessionTimers:
    """Timers whose clock is the loop's, as the deadlines' ``call_at`` is."""
    return SessionTimers(clock=lambda: asyncio.get_running_loop().time())


async def fire(owner: SessionTimers, sid: str) -> None:
    """Wait until the armed timer of ``sid`` has run (its callback, then one more pass)."""
    handle = owner.armed[sid][1]
    done = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_at(handle.when(), done.set_result, None)
    await done


async def test_an_equal_deadline_keeps_the_armed_timer() -> None:
    owner = loop_timers()
    now = asyncio.get_running_loop().time()
    sock = Sock("s", Engine(now + 10))
    owner.touch(sock)
    armed = owner.armed["s"]
    owner.touch(sock)
    assert owner.armed["s"] is armed
    assert not armed[1].cancelled()
    owner.cancel("s")


async def test_a_fired_timer_rearms_at_the_next_deadline() -> None:
    owner = loop_timers()
    loop = asyncio.get_running_loop()
    now = loop.time()
    sock = Sock("s", Engine(now, then=now + 60))
    owner.touch(sock)
    await fire(owner, "s")
    assert len(sock.engine.fired) == 1
    deadline, handle = owner.armed["s"]
    assert deadline == now + 60 and handle.when() == now + 60 and not handle.cancelled()
    owner.cancel("s")
    assert handle.cancelled() and owner.armed == {}


async def test_a_session_closed_by_its_timer_is_not_rearmed() -> None:
    owner = loop_timers()
    now = asyncio.get_running_loop().time()
    sock = Sock("s", Engine(now, then=now + 60, close_on_fire=True))
    owner.touch(sock)
    await fire(owner, "s")
    assert sock.engine.fired and owner.armed == {}


@pytest.mark.server_errors(("tornio.core.timers", r"^timer of session s failed"))
async def test_a_timer_that_raises_closes_its_session_with_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner = loop_timers()
    now = asyncio.get_running_loop().time()
    sock = Sock("s", Engine(now, fail=True))
    owner.touch(sock)
    with caplog.at_level(logging.ERROR, logger="tornio.core.timers"):
        await fire(owner, "s")
    assert sock.engine.closes == ["internal error"]
    assert owner.armed == {}
    [record] = [r for r in caplog.records if r.name == "tornio.core.timers"]
    assert record.getMessage() == "timer of session s failed"
    assert record.exc_info is not None and str(record.exc_info[1]) == "boom"


def test_cancel_timer_of_an_unknown_session_is_no_error() -> None:
    owner = loop_timers()
    owner.cancel("nobody")
    assert owner.armed == {}


async def test_cancel_timer_cancels_only_its_own_session() -> None:
    owner = loop_timers()
    now = asyncio.get_running_loop().time()
    a, b = Sock("a", Engine(now + 10)), Sock("b", Engine(now + 20))
    owner.touch(a)
    owner.touch(b)
    handle_a, handle_b = owner.armed["a"][1], owner.armed["b"][1]
    owner.cancel("a")
    assert handle_a.cancelled() and not handle_b.cancelled()
    assert list(owner.armed) == ["b"]
    owner.cancel("b")
    assert handle_b.cancelled() and owner.armed == {}
