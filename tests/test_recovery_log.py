"""The recovery log on a fake clock: which sessions come back, with which missed events."""

from __future__ import annotations

from typing import Any

import pytest

from tornio.bus.recovery import RecoveryLog


def emit(event: str, *args: Any, rooms: list[str] | None = None, to: str | None = None,
         skip: list[str] | None = None, excluded: list[str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"event": event, "args": list(args), "rooms": rooms or [],
                            "to": to, "skip": skip or []}
    if excluded:
        data["except"] = excluded
    return data


@pytest.fixture
def log() -> RecoveryLog:
    log = RecoveryLog(max_disconnection_duration=120.0, max_emits=1000)
    log.session_seen("pid-a", "sid-a", "/chat", "node-1", ["lobby"], {"nick": "ann"})
    log.record_emit("o1", "/chat", emit("first"), now=1.0)
    return log


def test_a_lost_session_comes_back_once_with_what_it_missed(log: RecoveryLog) -> None:
    log.session_lost("pid-a", now=2.0)
    log.record_emit("o2", "/chat", emit("to-all", 1), now=3.0)
    log.record_emit("o3", "/chat", emit("to-lobby", rooms=["lobby"]), now=3.0)
    log.record_emit("o4", "/chat", emit("to-kitchen", rooms=["kitchen"]), now=3.0)
    log.record_emit("o5", "/chat", emit("to-me", to="sid-a"), now=3.0)
    log.record_emit("o6", "/chat", emit("to-other", to="sid-b"), now=3.0)
    log.record_emit("o7", "/other", emit("other-namespace"), now=3.0)
    log.record_emit("o8", "/chat", emit("skipped", skip=["sid-a"]), now=3.0)
    log.record_emit("o9", "/chat", emit("excepted", excluded=["lobby"]), now=3.0)
    log.record_emit("o10", "/chat", emit("own-room", rooms=["sid-a", "x"]), now=3.0)
    restored = log.restore("pid-a", "o1", now=4.0)
    assert restored == {
        "sid": "sid-a",
        "rooms": ["lobby"],
        "data": {"nick": "ann"},
        "missed": [["to-all", 1, "o2"], ["to-lobby", "o3"], ["to-me", "o5"],
                   ["own-room", "o10"]],
    }
    assert log.restore("pid-a", "o1", now=4.0) is None
    assert len(log) == 0


def test_only_what_came_after_the_offset_is_replayed(log: RecoveryLog) -> None:
    log.record_emit("o2", "/chat", emit("seen"), now=2.0)
    log.session_lost("pid-a", now=3.0)
    log.record_emit("o3", "/chat", emit("missed"), now=4.0)
    assert log.restore("pid-a", "o2", now=5.0)["missed"] == [["missed", "o3"]]  # type: ignore[index]


@pytest.mark.parametrize(
    ("pid", "offset", "lost", "now"),
    [
        ("pid-a", "o1", False, 5.0),  # still connected
        ("pid-x", "o1", True, 5.0),  # unknown session
        ("pid-a", "nope", True, 5.0),  # unknown offset
        ("pid-a", "o1", True, 200.0),  # lost too long ago
    ],
)
def test_what_cannot_be_recovered(
    log: RecoveryLog, pid: str, offset: str, lost: bool, now: float
) -> None:
    if lost:
        log.session_lost("pid-a", now=2.0)
    assert log.restore(pid, offset, now=now) is None


def test_a_session_closed_for_good_is_forgotten(log: RecoveryLog) -> None:
    log.session_lost("pid-a", now=2.0)
    log.session_closed("pid-a")
    assert log.restore("pid-a", "o1", now=3.0) is None


def test_rooms_and_data_follow_the_last_update(log: RecoveryLog) -> None:
    log.session_seen("pid-a", "sid-a", "/chat", "node-1", ["kitchen"], {"nick": "bob"})
    log.session_lost("pid-a", now=2.0, data={"nick": "carl"})
    log.record_emit("o2", "/chat", emit("lobby", rooms=["lobby"]), now=3.0)
    log.record_emit("o3", "/chat", emit("kitchen", rooms=["kitchen"]), now=3.0)
    restored = log.restore("pid-a", "o1", now=4.0)
    assert restored is not None
    assert (restored["rooms"], restored["data"]) == (["kitchen"], {"nick": "carl"})
    assert restored["missed"] == [["kitchen", "o3"]]


def test_a_dead_node_loses_its_sessions_at_once(log: RecoveryLog) -> None:
    log.session_seen("pid-b", "sid-b", "/chat", "node-2", [], {})
    assert log.node_lost("node-1", now=2.0) == 1
    log.record_emit("o2", "/chat", emit("after"), now=3.0)
    assert log.restore("pid-b", "o1", now=4.0) is None  # node-2 still serves it
    assert log.restore("pid-a", "o1", now=4.0)["missed"] == [["after", "o2"]]  # type: ignore[index]


def test_old_emits_and_sessions_are_pruned() -> None:
    log = RecoveryLog(max_disconnection_duration=10.0, max_emits=3)
    for n in range(5):
        log.record_emit(f"o{n}", "/", emit("e"), now=float(n))
    assert log.emits_kept == 3  # the count bound
    log.session_seen("p", "s", "/", "node", [], {})
    log.session_lost("p", now=5.0)
    log.prune(now=14.5)
    assert log.emits_kept == 0 and len(log) == 1  # emits older than 10 s go first
    log.prune(now=15.5)
    assert len(log) == 0


def test_a_repeated_offset_is_logged_once(log: RecoveryLog) -> None:
    log.record_emit("o1", "/chat", emit("again"), now=2.0)
    assert log.emits_kept == 1
