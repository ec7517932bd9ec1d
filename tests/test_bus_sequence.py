"""The de-duplication of messages that several brokers deliver (tornio.bus.sequence), sans
I/O: tables of copies arriving on paths, and what is delivered, in which order."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tornio.bus import messages
from tornio.bus.messages import BusMessageError, MessageType
from tornio.bus.sequence import PathWatch, Sequencer, new_stream, read_stamp, stamp

# An event: (path, seq, now) a copy arrives; ("expire", now); ("switch", path).
Event = tuple[Any, ...]

SCENARIOS: list[tuple[str, list[Event], list[int]]] = [
    ("one path, in order", [(0, 1, 0), (0, 2, 0), (0, 3, 0)], [1, 2, 3]),
    ("the primary first: the other's copies dropped",
     [(0, 1, 0), (1, 1, 0), (0, 2, 0), (1, 2, 0)], [1, 2]),
    ("the other path ahead: held until the primary's copy",
     [(1, 1, 0), (1, 2, 0), (0, 1, 0), (0, 2, 0)], [1, 2]),
    ("a copy the primary lost (its high-water mark) comes from the held one, in order",
     [(1, 1, 0), (1, 2, 0), (1, 3, 0), (0, 1, 0), (0, 3, 0)], [1, 2, 3]),
    ("the primary dies: after max_hold the held copies go, in order, then the new primary",
     [(0, 1, 0), (1, 1, 0), (1, 2, 0.0), (1, 3, 0.1), ("expire", 0.4), ("expire", 0.6),
      (1, 4, 0.7), (0, 2, 0.8)], [1, 2, 3, 4]),
    ("a rejoined broker ahead of the other's backlog: nothing lost, order kept",
     [("switch", 1), (1, 7, 0), (0, 10, 0), (0, 11, 0), (1, 8, 0), (1, 9, 0), (1, 10, 0),
      (1, 11, 0), (0, 12, 0), (1, 12, 0)], [7, 8, 9, 10, 11, 12]),
    ("late copies from the old primary after a failover are dropped",
     [(0, 1, 0), (1, 2, 0), ("expire", 1.0), (0, 2, 1.1), (0, 1, 1.1), (1, 3, 1.2)],
     [1, 2, 3]),
    ("a primary that still delivers is behind, not gone: waited for, nothing lost",
     [(0, 1, 0.0), (1, 5, 0.0), (0, 2, 0.3), (0, 3, 0.6), ("expire", 0.7), (0, 4, 0.8),
      (0, 5, 0.9)], [1, 2, 3, 4, 5]),
    ("a copy held twice is held once", [(1, 5, 0), (1, 5, 0), (0, 5, 0)], [5]),
    ("a stream first seen on the other path", [(1, 5, 0), (0, 5, 0), (1, 6, 0), (0, 6, 0)],
     [5, 6]),
    ("three brokers: failing over to the oldest held copy's path loses nothing",
     [(1, 8, 0.0), (2, 10, 0.1), ("expire", 0.55), (1, 9, 0.6), (1, 10, 0.6),
      (2, 11, 0.6), (1, 11, 0.7)], [8, 9, 10, 11]),
]


def run(sequencer: Sequencer[int], events: list[Event], stream: bytes = b"s") -> list[int]:
    out: list[int] = []
    for event in events:
        if event[0] == "expire":
            out += sequencer.expire(event[1])
        elif event[0] == "switch":
            out += sequencer.switch(event[1], 0.0)
        else:
            path, seq, now = event
            out += sequencer.receive(path, stream, seq, seq, 10, now)
    return out


@pytest.mark.parametrize(("events", "expected"),
                         [pytest.param(e, x, id=name) for name, e, x in SCENARIOS])
def test_copies_merge_into_one_ordered_stream(events: list[Event], expected: list[int]) -> None:
    sequencer: Sequencer[int] = Sequencer(3, max_hold=0.5)
    assert run(sequencer, events) == expected
    assert sequencer.held == 0


def test_the_primary_changes_on_failover_and_counts() -> None:
    sequencer: Sequencer[int] = Sequencer(2, max_hold=0.5)
    run(sequencer, [(0, 1, 0), (1, 2, 0)])
    assert sequencer.next_deadline() == 0.5
    assert sequencer.expire(0.49) == []
    assert sequencer.primary == 0
    assert sequencer.expire(0.5) == [2]
    assert sequencer.primary == 1
    assert sequencer.stats.failovers == 1
    assert sequencer.next_deadline() is None


def test_too_many_held_copies_fail_over_at_once() -> None:
    sequencer: Sequencer[int] = Sequencer(2, max_held=2)
    assert run(sequencer, [(1, 1, 0), (1, 2, 0)]) == []
    assert run(sequencer, [(1, 3, 0)]) == [1, 2, 3]
    assert sequencer.primary == 1 and sequencer.held == 0


def test_too_many_held_copies_while_the_primary_delivers_drop_the_oldest() -> None:
    sequencer: Sequencer[int] = Sequencer(2, max_held=2)
    assert run(sequencer, [(0, 1, 0), (1, 5, 0), (1, 6, 0), (1, 7, 0)]) == [1]
    assert sequencer.primary == 0 and sequencer.held == 2 and sequencer.stats.dropped == 1
    assert run(sequencer, [(0, 5, 0.1), (0, 6, 0.1), (0, 7, 0.1)]) == [5, 6, 7]


def test_too_many_held_bytes_fail_over_at_once() -> None:
    sequencer: Sequencer[int] = Sequencer(2, max_held_bytes=25)  # run() says 10 bytes each
    assert run(sequencer, [(1, 1, 0), (1, 2, 0)]) == []
    assert run(sequencer, [(1, 3, 0)]) == [1, 2, 3]


def test_streams_are_independent() -> None:
    sequencer: Sequencer[int] = Sequencer(2)
    assert sequencer.receive(0, b"a", 5, 5, 1, 0) == [5]
    assert sequencer.receive(0, b"b", 1, 1, 1, 0) == [1]  # lower, but another publisher
    assert sequencer.receive(1, b"a", 5, 5, 1, 0) == []
    assert (sequencer.high(b"a"), sequencer.high(b"b"), sequencer.high(b"c")) == (5, 1, None)


def test_idle_streams_are_forgotten_and_the_table_is_bounded() -> None:
    sequencer: Sequencer[int] = Sequencer(2, stream_idle=10, max_streams=2)
    sequencer.receive(0, b"old", 1, 1, 1, 0)
    sequencer.receive(0, b"new", 1, 1, 1, 5)
    sequencer.prune(12)
    assert sequencer.streams == 1 and sequencer.high(b"old") is None
    sequencer.receive(0, b"newer", 1, 1, 1, 6)
    sequencer.receive(0, b"newest", 1, 1, 1, 7)  # the table is full: "new" is the stalest
    assert sequencer.streams == 2 and sequencer.high(b"new") is None
    assert sequencer.stats.forgotten == 2


def merged(primary: list[int], other: list[int], rng: random.Random,
           sequencer: Sequencer[int]) -> list[int]:
    """Two FIFO paths interleaved at random (as a node's two SUB sockets are read)."""
    out: list[int] = []
    now = 0.0
    queues = [list(primary), list(other)]
    while any(queues):
        path = rng.choice([p for p in (0, 1) if queues[p]])
        seq = queues[path].pop(0)
        now += 0.001
        out += sequencer.receive(path, b"s", seq, seq, 1, now)
    out += sequencer.expire(now + 1)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_random_interleavings_keep_order_lose_nothing_duplicate_nothing(seed: int) -> None:
    rng = random.Random(seed)
    sent = sorted(rng.sample(range(1, 400), 150))  # what this receiver subscribes to
    case = seed % 4
    if case == 0:  # both paths carry everything
        primary, other = sent, sent
    elif case == 1:  # the other path drops some (its high-water mark)
        primary, other = sent, [s for s in sent if rng.random() > 0.3]
    elif case == 2:  # the primary dies halfway; the other carries everything
        primary, other = sent[: len(sent) // 2], sent
    else:  # the other path comes back halfway (a restarted broker), the primary carries all
        primary, other = sent, sent[len(sent) // 2:]
    sequencer: Sequencer[int] = Sequencer(2, max_hold=0.05)
    assert merged(primary, other, rng, sequencer) == sent


def test_path_watch_says_when_the_node_is_cut_off_and_back() -> None:
    watch = PathWatch(2, timeout=1.0)
    assert watch.check(5.0) is False  # never heard of: starting, not a gap
    assert watch.echo(0, 0.0) is None
    assert watch.echo(1, 0.5) is None
    assert watch.live(1.2) == [1]
    assert watch.check(1.4) is False
    assert watch.check(1.6) is True and watch.gap_since == 0.5 and watch.gaps == 1
    assert watch.check(2.0) is False  # the same gap
    assert watch.live(2.0) == []
    assert watch.echo(1, 3.5) == pytest.approx(3.0)
    assert watch.gap_since is None and watch.live(3.5) == [1]


def test_path_watch_does_not_blame_the_paths_for_the_time_the_node_stood_still() -> None:
    watch = PathWatch(3, timeout=1.0)
    watch.echo(0, 10.0)
    watch.echo(1, 10.5)
    watch.excuse(5.0)  # the node's loop stood still from about 10.5 to 15.5
    assert watch.live(15.9) == [0, 1]  # a path never heard of stays unheard of
    assert watch.check(15.9) is False
    assert watch.live(16.2) == [1]
    assert watch.check(16.6) is True and watch.gap_since == 15.5


def test_stamps_travel_as_a_third_frame() -> None:
    stream = new_stream()
    frame = stamp(stream, 2**40 + 7)
    assert len(frame) == messages.STAMP_SIZE
    assert read_stamp(frame) == (stream, 2**40 + 7)
    frames = messages.encode(messages.make_message(MessageType.HEARTBEAT, "", {}, uid="n1"))
    assert messages.decode([*frames, frame])["uid"] == "n1"
    with pytest.raises(BusMessageError, match="stamp"):
        messages.decode([*frames, frame[:-1]])
    with pytest.raises(BusMessageError, match="2 or 3 frames"):
        messages.decode([*frames, frame, frame])
