"""A token bucket: how many events one socket may send per second (``max_event_rate``), with
bursts of up to ``max_event_burst`` above it.

Sans-I/O: the bucket reads no clock; the caller passes the time (a monotonic clock, in
seconds) with each event. The bucket starts full; each event takes one token; tokens come
back at ``rate`` a second, up to ``burst``. An event that finds no token is refused: the
socket is over its rate (what it does then is the caller's: tornio disconnects it).
"""

from __future__ import annotations

__all__ = ["TokenBucket"]

#: What a token may lack and still count as one: events exactly at the rate must not be
#: refused for the rounding of ``(now - stamp) * rate``.
_SLACK = 1e-9


class TokenBucket:
    """``take(now)`` is True while the events up to ``now`` average at most ``rate`` a
    second, with at most ``burst`` at once above it."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if not rate > 0:
            raise ValueError("a token bucket's rate must be positive")
        if burst < 1:
            raise ValueError("a token bucket holds at least one token")
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now: float) -> bool:
        """One event at ``now``: True if the bucket had a token for it (then taken)."""
        tokens = self.tokens
        if now > self.stamp:  # a clock that goes back (it must not) refills nothing
            tokens += (now - self.stamp) * self.rate
            if tokens > self.burst:
                tokens = self.burst
            self.stamp = now
        if tokens < 1.0 - _SLACK:
            self.tokens = tokens
            return False
        self.tokens = tokens - 1.0
        return True
