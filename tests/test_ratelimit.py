"""The token bucket behind ``max_event_rate`` (tornio/core/ratelimit.py), on a fake clock:
each row is a rate, a burst, and events at given times with whether each is let through."""

from __future__ import annotations

import pytest

from tornio.core.ratelimit import TokenBucket

# (rate per second, burst, [(time, allowed), ...]); the bucket is made at time 0.
CASES: dict[str, tuple[float, int, list[tuple[float, bool]]]] = {
    "a full bucket lets a burst through, then refuses": (
        1.0, 3, [(0.0, True), (0.0, True), (0.0, True), (0.0, False), (0.0, False)],
    ),
    "one token comes back after 1/rate": (
        2.0, 1, [(0.0, True), (0.0, False), (0.25, False), (0.5, True), (0.5, False)],
    ),
    "at the rate exactly, never refused": (
        10.0, 1, [(t / 10, True) for t in range(50)],
    ),
    # 10.8 a second: each event costs 0.075 of a token more than comes back, so of a
    # burst of 2, events 0 to 13 pass and the 15th (at 14 * 0.0925 s) finds 0.95 of one.
    "a little over the rate: refused once the burst is spent": (
        10.0, 2, [(i * 0.0925, i < 14) for i in range(15)],
    ),
    "refill stops at the burst": (
        100.0, 2, [(0.0, True), (10.0, True), (10.0, True), (10.0, False)],
    ),
    "a refused event takes no token": (
        1.0, 1, [(0.0, True), (0.5, False), (0.9, False), (1.0, True)],
    ),
    "a clock going back refills nothing": (
        1.0, 1, [(5.0, True), (4.0, False), (5.5, False), (6.0, True)],
    ),
    "fractional rate": (
        0.5, 1, [(0.0, True), (1.0, False), (2.0, True)],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bucket(case: str) -> None:
    rate, burst, events = CASES[case]
    bucket = TokenBucket(rate, burst, now=0.0)
    got = [(now, bucket.take(now)) for now, _ in events]
    assert got == events


def test_sustained_rate_is_the_rate() -> None:
    """Over 100 s of a client sending 1000 a second, a bucket of 50/s and burst 20 lets
    through the burst plus 50 a second (within one event)."""
    bucket = TokenBucket(50.0, 20, now=0.0)
    allowed = sum(bucket.take(i / 1000) for i in range(100_000))
    assert 20 + 50 * 100 - 1 <= allowed <= 20 + 50 * 100 + 1


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_refuses_nonsense(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst, now=0.0)
