"""SessionTimers: one loop timer per session at its next deadline; heartbeats on a grid so
that sessions due together send them together, timeouts on time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

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
