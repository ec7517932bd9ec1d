"""SessionTimers: one loop timer per session at its next deadline; heartbeats on a grid so
that sessions due together send them together, timeouts on time."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass, field
from typing import Any

import pytest

from tornio.core import timers
from tornio.core.timers import SessionTimers


class LoopPasses:
    """Counts the passes of the event loop (a callback that reschedules itself)."""

    def __init__(self) -> None:
        self.count = 0
        self.running = True
        asyncio.get_running_loop().call_soon(self.tick)

    def tick(self) -> None:
        self.count += 1
        if self.running:
            asyncio.get_running_loop().call_soon(self.tick)


PASSES: LoopPasses | None = None


@dataclass
class FakeEngine:
    deadline: float | None
    heartbeat: bool = True  # whether the deadline only sends a heartbeat
    fired: list[tuple[float, int]] = field(default_factory=list)
    closed: bool = False

    @property
    def heartbeat_due(self) -> float | None:
        return self.deadline if self.heartbeat else None

    def next_deadline(self) -> float | None:
        return self.deadline

    def handle_timer(self, now: float) -> None:
        self.fired.append((now, PASSES.count if PASSES is not None else -1))
        self.deadline = None


@dataclass
class FakeSocket:
    sessid: str
    engine: FakeEngine

    def handle_timer(self, now: float) -> None:
        self.engine.handle_timer(now)


def loop_clock_timers() -> SessionTimers:
    return SessionTimers(clock=lambda: asyncio.get_running_loop().time())


async def test_heartbeats_round_up_to_the_grid_and_fire_together() -> None:
    owner = loop_clock_timers()
    now = asyncio.get_running_loop().time()
    # Three sessions due within one grain of each other, one much later.
    base = (int(now / timers.GRAIN) + 5) * timers.GRAIN
    sockets = [
        FakeSocket(f"s{i}", FakeEngine(base + offset))
        for i, offset in enumerate((0.001, 0.007, 0.013, 0.5))
    ]
    for socket in sockets:
        owner.touch(socket)
    whens = {s.sessid: owner.armed[s.sessid][1].when() for s in sockets}
    for socket in sockets:
        when = whens[socket.sessid]
        assert socket.engine.deadline is not None
        assert socket.engine.deadline <= when < socket.engine.deadline + timers.GRAIN + 1e-9
    assert whens["s0"] == whens["s1"] == whens["s2"] < whens["s3"]

    global PASSES
    PASSES = LoopPasses()
    try:
        done = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_at(whens["s0"] + timers.GRAIN / 2, done.set_result, None)
        await done
    finally:
        PASSES.running = False
    fired = [s.engine.fired for s in sockets]
    assert [len(f) for f in fired] == [1, 1, 1, 0]
    assert fired[0][0][1] == fired[1][0][1] == fired[2][0][1] > 0  # one pass of the loop
    assert all(f[0][0] >= base for f in fired[:3])


async def test_an_earlier_deadline_rearms_a_later_one_does_not() -> None:
    owner = loop_clock_timers()
    now = asyncio.get_running_loop().time()
    socket = FakeSocket("s", FakeEngine(now + 10))
    owner.touch(socket)
    first = owner.armed["s"][1]
    socket.engine.deadline = now + 20
    owner.touch(socket)
    assert owner.armed["s"][1] is first
    socket.engine.deadline = now + 1
    owner.touch(socket)
    assert owner.armed["s"][1] is not first and first.cancelled()
    socket.engine.deadline = None
    owner.touch(socket)
    assert "s" not in owner.armed


async def test_timeouts_are_not_rounded() -> None:
    owner = loop_clock_timers()
    now = asyncio.get_running_loop().time()
    deadline = (int(now / timers.GRAIN) + 5) * timers.GRAIN + 0.003
    socket = FakeSocket("t", FakeEngine(deadline, heartbeat=False))
    owner.touch(socket)
    assert owner.armed["t"][1].when() == deadline


class LoopTimers:
    """Counts the loop timers armed (``call_at``) and keeps their handles."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        loop = asyncio.get_running_loop()
        self.handles: list[asyncio.TimerHandle] = []
        call_at = loop.call_at

        def counting(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
            handle = call_at(when, callback, *args, **kwargs)
            self.handles.append(handle)
            return handle

        monkeypatch.setattr(loop, "call_at", counting)

    def live(self) -> list[asyncio.TimerHandle]:
        return [h for h in self.handles if not h.cancelled()]


async def test_heartbeats_of_one_slot_share_one_loop_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    loop_timers = LoopTimers(monkeypatch)
    owner = loop_clock_timers()
    now = asyncio.get_running_loop().time()
    base = (int(now / timers.GRAIN) + 5) * timers.GRAIN
    first = [FakeSocket(f"a{i}", FakeEngine(base + 0.001 + i * 1e-5)) for i in range(1000)]
    second = [FakeSocket(f"b{i}", FakeEngine(base + timers.GRAIN + 0.001)) for i in range(10)]
    for socket in first + second:
        owner.touch(socket)
    assert len(loop_timers.handles) == 2  # one per slot, not one per session
    assert owner.armed["a0"][1].cancelled() is False
    assert {h.when() for h in loop_timers.handles} == {
        owner.armed["a0"][1].when(),
        owner.armed["b0"][1].when(),
    }
    # The slot's loop timer lives as long as one of its sessions waits in it.
    for socket in second[:-1]:
        owner.cancel(socket.sessid)
    assert len(loop_timers.live()) == 2
    owner.cancel(second[-1].sessid)
    assert [h.when() for h in loop_timers.live()] == [owner.armed["a0"][1].when()]
    for socket in first:
        owner.cancel(socket.sessid)
    assert loop_timers.live() == [] and owner.armed == {}


async def test_a_far_timeout_waits_in_a_bucket_then_fires_on_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(timers, "BUCKET", 0.05)
    owner = loop_clock_timers()
    loop = asyncio.get_running_loop()
    opening = (int(loop.time() / timers.BUCKET) + 2) * timers.BUCKET
    deadlines = [opening + 0.0013 + i * 0.0004 for i in range(100)]  # all in one bucket
    done = loop.create_future()
    loop.call_at(deadlines[-1] + timers.GRAIN, done.set_result, None)
    loop_timers = LoopTimers(monkeypatch)  # counts the timers' loop timers, from here on
    sockets = [FakeSocket(f"t{i}", FakeEngine(d, heartbeat=False)) for i, d in enumerate(deadlines)]
    for socket in sockets:
        owner.touch(socket)
    # One loop timer for the bucket, at its opening; each timeout is armed at its own time.
    assert [h.when() for h in loop_timers.handles] == [opening]
    assert [owner.armed[s.sessid][1].when() for s in sockets] == deadlines
    owner.cancel("t0")  # cancelled in its bucket: never gets a loop timer
    await done
    assert len(loop_timers.handles) == 1 + 99  # the bucket's, then one per timeout left
    assert sockets[0].engine.fired == []
    for socket, deadline in zip(sockets[1:], deadlines[1:], strict=True):
        [(fired_at, _)] = socket.engine.fired
        assert fired_at >= deadline - 1e-6  # never early (the loop's clock resolution)
    assert owner.armed == {}


async def test_cancelling_every_timeout_of_a_bucket_cancels_its_loop_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop_timers = LoopTimers(monkeypatch)
    owner = loop_clock_timers()
    now = asyncio.get_running_loop().time()
    opening = (int(now / timers.BUCKET) + 10) * timers.BUCKET
    sockets = [
        FakeSocket(f"t{i}", FakeEngine(opening + 0.1 + i / 1000, heartbeat=False)) for i in range(3)
    ]
    later = FakeSocket("later", FakeEngine(opening + timers.BUCKET + 0.1, heartbeat=False))
    for socket in [*sockets, later]:
        owner.touch(socket)
    # A bucket per second: the next second's timeout waits in a bucket of its own.
    bucket, next_bucket = loop_timers.handles
    assert (bucket.when(), next_bucket.when()) == (opening, opening + timers.BUCKET)
    for socket in sockets:
        assert bucket.cancelled() is False
        owner.cancel(socket.sessid)
    assert bucket.cancelled() and not next_bucket.cancelled()
    owner.cancel("later")
    assert next_bucket.cancelled()
    # An earlier deadline takes a session out of its bucket too.
    socket = sockets[0]
    owner.touch(socket)
    socket.engine.deadline = now + 0.001
    owner.touch(socket)
    assert [h.when() for h in loop_timers.live()] == [now + 0.001]
    owner.cancel(socket.sessid)
    assert loop_timers.live() == []


async def test_a_session_cancelled_by_another_in_its_slot_does_not_fire() -> None:
    owner = loop_clock_timers()
    now = asyncio.get_running_loop().time()
    due = (int(now / timers.GRAIN) + 2) * timers.GRAIN
    victim = FakeSocket("victim", FakeEngine(due))

    class Canceller(FakeEngine):
        def handle_timer(self, now: float) -> None:
            super().handle_timer(now)
            owner.cancel("victim")

    canceller = FakeSocket("canceller", Canceller(due))
    owner.touch(canceller)
    owner.touch(victim)
    assert owner.armed["victim"][1].when() == owner.armed["canceller"][1].when()
    done = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_at(due + timers.GRAIN, done.set_result, None)
    await done
    assert len(canceller.engine.fired) == 1 and victim.engine.fired == []
    assert owner.armed == {}


async def test_fired_and_cancelled_timers_are_freed_without_the_garbage_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slot, a bucket and a timer leave no reference cycle behind (ten thousand idle
    sessions would otherwise hand the collector a few thousand objects a second)."""
    monkeypatch.setattr(timers, "BUCKET", 0.05)
    owner = loop_clock_timers()
    loop = asyncio.get_running_loop()
    now = loop.time()
    due = (int(now / timers.GRAIN) + 2) * timers.GRAIN
    opening = (int(now / timers.BUCKET) + 2) * timers.BUCKET
    sockets = [
        *(FakeSocket(f"beat{i}", FakeEngine(due)) for i in range(3)),
        *(FakeSocket(f"soon{i}", FakeEngine(now, heartbeat=False)) for i in range(2)),
        *(FakeSocket(f"far{i}", FakeEngine(opening + 0.001, heartbeat=False)) for i in range(2)),
    ]
    cancelled = FakeSocket("cancelled", FakeEngine(opening + 0.001, heartbeat=False))
    done = loop.create_future()
    loop.call_at(max(due, opening + 0.001) + timers.GRAIN, done.set_result, None)
    gc.collect()
    gc.disable()
    try:
        for socket in [*sockets, cancelled]:
            owner.touch(socket)
        owner.cancel("cancelled")
        await done
        assert all(len(s.engine.fired) == 1 for s in sockets) and owner.armed == {}
        # This test's only: servers of other tests may run meanwhile, with timers of theirs.
        ours = {id(s) for s in [*sockets, cancelled]}
        alive = [
            o
            for o in gc.get_objects()
            if (isinstance(o, timers.Timer) and id(o.socket) in ours)
            or (isinstance(o, timers.Slot) and any(id(t.socket) in ours for t in o.timers.values()))
        ]
        assert alive == []
    finally:
        gc.enable()
