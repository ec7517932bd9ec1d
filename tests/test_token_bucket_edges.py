"""The edges of the token bucket behind ``max_event_rate`` (``tornio.core.ratelimit``): what
it refuses to be made with (exact messages), and the rounding slack at the rate exactly."""

from __future__ import annotations

import pytest

from tornio.core.ratelimit import TokenBucket


@pytest.mark.parametrize(
    ("rate", "burst", "message"),
    [
        (0.0, 1, "a token bucket's rate must be positive"),
        (-0.5, 5, "a token bucket's rate must be positive"),
        (float("nan"), 5, "a token bucket's rate must be positive"),
        (1.0, 0, "a token bucket holds at least one token"),
        (1.0, -3, "a token bucket holds at least one token"),
    ],
)
def test_refused_with_its_reason(rate: float, burst: int, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        TokenBucket(rate, burst, now=0.0)
    assert str(raised.value) == message


def test_a_token_short_by_no_more_than_the_slack_still_counts() -> None:
    """``(now - stamp) * rate`` may round a whole token to just under one: an event at the
    rate exactly is still let through (what the slack of 1e-9 is for), one earlier is not."""
    bucket = TokenBucket(1.0, 1, now=0.0)
    assert bucket.take(0.0)
    assert bucket.take(1.0 - 1e-9)  # 0.999999999 of a token: counts as one
    bucket = TokenBucket(1.0, 1, now=0.0)
    assert bucket.take(0.0)
    assert not bucket.take(1.0 - 1e-8)


def test_state_after_each_event() -> None:
    bucket = TokenBucket(4, 2, now=10.0)
    assert (bucket.rate, bucket.burst, bucket.tokens, bucket.stamp) == (4.0, 2.0, 2.0, 10.0)
    assert isinstance(bucket.rate, float) and isinstance(bucket.burst, float)
    assert bucket.take(10.0) and bucket.tokens == 1.0
    assert bucket.take(10.0) and bucket.tokens == 0.0
    assert not bucket.take(10.125) and (bucket.tokens, bucket.stamp) == (0.5, 10.125)
    assert bucket.take(10.25) and (bucket.tokens, bucket.stamp) == (0.0, 10.25)
    assert bucket.take(20.0) and bucket.tokens == 1.0  # refilled to the burst, then one taken
    assert bucket.take(19.0) and (bucket.tokens, bucket.stamp) == (0.0, 20.0)  # clock back
    assert not bucket.take(19.5) and (bucket.tokens, bucket.stamp) == (0.0, 20.0)
