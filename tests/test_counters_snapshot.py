"""The process's counters (tornio.core.counters) as exact snapshots: what a fresh set reads,
and what each bump adds where, ack latencies at each bucket's bound and one past it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tornio.core.counters import ACK_BUCKETS, COUNTERS, LEGACY, MODERN, Counters, Traffic

ZERO_TRAFFIC = {
    "bytes_in": 0, "bytes_out": 0, "handshakes": 0, "messages_in": 0, "messages_out": 0,
}


def test_a_fresh_set_reads_all_zero() -> None:
    assert Traffic().snapshot() == ZERO_TRAFFIC
    assert Counters().snapshot() == {
        "traffic": {"legacy": ZERO_TRAFFIC, "modern": ZERO_TRAFFIC},
        "disconnects": [],
        "overflows": [],
        "rate_limited": {},
        "acks": {"buckets": [0] * 14, "sum": 0.0},
    }
    assert len(ACK_BUCKETS) == 13


def test_the_process_counters_are_the_named_traffic() -> None:
    assert COUNTERS.traffic["legacy"] is LEGACY and COUNTERS.traffic["modern"] is MODERN


def test_each_bump_adds_one_where_it_belongs() -> None:
    counters = Counters()
    counters.traffic["legacy"].messages_in += 3
    counters.traffic["modern"].bytes_out += 7
    counters.disconnected("modern", "transport close")
    counters.disconnected("modern", "transport close")
    counters.disconnected("legacy", "ping timeout")
    counters.disconnected("legacy", "transport error", SimpleNamespace(transport="xhr-polling"))
    counters.disconnected("legacy", "transport error", SimpleNamespace(transport="xhr-polling"))
    counters.disconnected("modern", "transport error", SimpleNamespace(transport="websocket"))
    counters.rate_limited("modern")
    counters.rate_limited("modern")
    counters.rate_limited("legacy")
    snapshot = counters.snapshot()
    assert snapshot["traffic"] == {
        "legacy": {**ZERO_TRAFFIC, "messages_in": 3},
        "modern": {**ZERO_TRAFFIC, "bytes_out": 7},
    }
    assert snapshot["disconnects"] == [
        ["legacy", "ping timeout", 1],
        ["legacy", "transport error", 2],
        ["modern", "transport close", 2],
        ["modern", "transport error", 1],
    ]
    assert snapshot["overflows"] == [["legacy", "xhr-polling", 2], ["modern", "websocket", 1]]
    assert snapshot["rate_limited"] == {"modern": 2, "legacy": 1}


# (seconds, the bucket it is counted in): a bound is in its own bucket, a hair more in the next.
ACK_CASES = [
    (0.0, 0),
    (0.001, 0),
    (0.0015, 1),
    (0.0025, 1),
    (0.5, 8),
    (0.75, 9),
    (10.0, 12),
    (10.5, 13),
    (3600.0, 13),
]


@pytest.mark.parametrize(("seconds", "bucket"), ACK_CASES)
def test_an_ack_latency_is_counted_in_its_bucket(seconds: float, bucket: int) -> None:
    counters = Counters()
    counters.ack_answered(seconds)
    expected = [0] * 14
    expected[bucket] = 1
    assert counters.snapshot()["acks"] == {"buckets": expected, "sum": seconds}


def test_ack_latencies_add_up() -> None:
    counters = Counters()
    for seconds in (0.25, 0.5, 0.5, 2.0):
        counters.ack_answered(seconds)
    acks = counters.snapshot()["acks"]
    assert acks["sum"] == 3.25
    assert acks["buckets"][7:11] == [1, 2, 0, 1] and sum(acks["buckets"]) == 4
