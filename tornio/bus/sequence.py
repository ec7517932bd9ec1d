r"""Redundant brokers: one copy of each message, in its publisher's order. Sans-I/O.

A cluster may run two or more brokers (``--bus tcp://a:5560,tcp://b:5560``). Brokers do not
know each other: every node publishes each message to **every** broker (one PUB socket per
broker) and reads from every broker (one SUB socket per broker, a *path*), so while one
broker lives every message arrives at least once, and usually once per live broker. This
module turns those copies back into one stream per publisher, as a single broker gives.

**Stamps.** With several brokers, every message leaves with a third frame, its *stamp*
(:func:`stamp`; with one broker there are no copies and no stamp): 8 bytes
of sequence number (big-endian, +1 per message the publisher sends) and 8 random bytes
naming the publisher's *stream* (one per :class:`~tornio.bus.zmq.ZmqBus` or
:class:`~tornio.bus.emitter.Emitter` incarnation: a restarted worker keeps its node id but
starts a new stream). A receiver reads the stamp, not the payload, to drop a copy: the
per-message cost is one dict lookup and one comparison.

**Why not "first copy wins".** Receivers do not get every message of a publisher (SUB
sockets filter by topic: a node gets the rooms it has members in), so a receiver cannot
tell a gap in the numbers from messages that were not for it. And the copies race: a broker
that comes back starts with empty queues, so its path is *ahead* of the other's backlog, and
dropping every number at or below the highest seen would lose the backlog's messages; a
broker that drops one copy at its high-water mark leaves a hole the other path fills later.

**What the sequencer does.** Each path is FIFO per publisher (a ZeroMQ connection keeps
order, and a broker forwards in order). One path is the *primary*:

- a message from the primary with a number above the stream's ``high`` (the highest number
  delivered) is delivered at once, after any copies held from other paths with lower
  numbers (holes the primary's path left, filled in order); at or below ``high`` it is a
  copy, dropped;
- a message from another path above ``high`` is *held* (the primary will normally deliver
  it too, which drops the held copy); at or below ``high``, dropped;
- a copy held for ``max_hold`` seconds while the primary delivered nothing at all for
  ``max_hold`` seconds means the primary is gone: the path of the oldest held copy becomes
  the primary (*failover*), and every stream releases, in order, what it held up to the
  highest number held from the new primary. A primary that still delivers is only behind
  (a broker that comes back has empty queues, so its path is *ahead* of the other's
  backlog): it is waited for, since switching to the path that is ahead would drop the
  backlog. Past ``max_held`` copies (or ``max_held_bytes``) held, the oldest held copy is
  dropped if the primary still delivers (it will deliver that message itself), and the node
  fails over if it does not. The bus also fails over when the primary stops carrying the
  node's own heartbeats while another path does (:class:`PathWatch`).

**What "order kept" means, and why it holds.** Per stream, messages are delivered in
increasing sequence order and none twice: delivery only ever raises ``high``, and nothing at
or below ``high`` is delivered. Nothing a live path carries is lost: a primary's message is
delivered; another path's copy is either below ``high`` (its number was delivered already,
from the primary or a release) or held until the primary passes it, delivers it, or a
failover releases it. The one loss left: a copy that *only* a non-primary path carries is
dropped if the primary has already delivered a later number (the primary lost it at its
high-water mark, and the other path was slower than the primary by the whole gap). Order
between different publishers is what it is with one broker: none.

**Bounds.** At most ``max_streams`` streams are tracked (the stalest is forgotten first);
a stream silent for ``stream_idle`` seconds is forgotten (:meth:`Sequencer.prune`): a copy
arriving later than that would be delivered again, which needs a broker holding a message
that long (a stopped broker: ZeroMQ heartbeats drop its connections long before). Held
copies are bounded by ``max_held`` and ``max_held_bytes``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Hashable
from dataclasses import asdict, dataclass
from typing import Generic, TypeVar

from tornio.bus.messages import STAMP_SIZE

__all__ = [
    "SEQ_SIZE",
    "STAMP_SIZE",
    "PathWatch",
    "Sequencer",
    "SequencerStats",
    "new_stream",
    "read_stamp",
    "stamp",
]

#: A stamp frame starts with this many bytes of sequence number; the stream id follows.
SEQ_SIZE = 8

T = TypeVar("T")


def new_stream() -> bytes:
    """A fresh stream id (8 random bytes)."""
    return os.urandom(STAMP_SIZE - SEQ_SIZE)


def stamp(stream: bytes, seq: int) -> bytes:
    """The stamp frame of message number ``seq`` of ``stream``."""
    return seq.to_bytes(SEQ_SIZE, "big") + stream


def read_stamp(frame: bytes) -> tuple[bytes, int]:
    """(stream, seq) of a stamp frame (the caller checks its length: :data:`STAMP_SIZE`)."""
    return frame[SEQ_SIZE:], int.from_bytes(frame[:SEQ_SIZE], "big")


@dataclass
class SequencerStats:
    """Counters of a sequencer (they only grow)."""

    duplicates: int = 0  #: copies dropped (a number already delivered or held)
    held: int = 0  #: copies held because their path was ahead of the primary
    released: int = 0  #: held copies delivered (a hole in the primary filled, or a failover)
    failovers: int = 0  #: times another path became the primary
    forgotten: int = 0  #: streams forgotten (idle, or to make room)
    dropped: int = 0  #: held copies dropped past ``max_held`` while the primary delivered

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class _Stream(Generic[T]):
    __slots__ = ("held", "high", "seen")

    def __init__(self, high: int, seen: float) -> None:
        self.high = high
        self.seen = seen
        #: seq → (path, item, size) of copies held from non-primary paths (None: none).
        self.held: dict[int, tuple[int, T, int]] | None = None


class Sequencer(Generic[T]):
    """Merges the copies of stamped messages arriving on several paths (see the module
    docstring). ``T`` is whatever the caller carries (the bus: a message's frames).

    Args:
        paths: how many paths (brokers).
        max_hold: seconds a copy may wait for a primary that delivers nothing before the
            primary is given up.
        max_held: copies held at most (all streams), before the primary is given up.
        max_held_bytes: bytes (``size`` of each held copy) held at most, likewise.
        max_streams: streams tracked at most.
        stream_idle: seconds after which a silent stream is forgotten by :meth:`prune`.
    """

    def __init__(
        self,
        paths: int,
        *,
        max_hold: float = 0.5,
        max_held: int = 10_000,
        max_held_bytes: int = 64 << 20,
        max_streams: int = 10_000,
        stream_idle: float = 60.0,
    ) -> None:
        if paths < 1:
            raise ValueError("a sequencer needs at least one path")
        self.paths = paths
        self.max_hold = max_hold
        self.max_held = max_held
        self.max_held_bytes = max_held_bytes
        self.max_streams = max_streams
        self.stream_idle = stream_idle
        #: The path whose messages are delivered at once.
        self.primary = 0
        #: When the primary last delivered anything (a copy included).
        self._primary_seen = float("-inf")
        self.stats = SequencerStats()
        self._streams: dict[Hashable, _Stream[T]] = {}
        self._held_count = 0
        self._held_bytes = 0
        #: (when, stream, seq) of held copies, oldest first (released ones removed lazily).
        self._ages: deque[tuple[float, Hashable, int]] = deque()

    @property
    def streams(self) -> int:
        return len(self._streams)

    @property
    def held(self) -> int:
        """Copies held now."""
        return self._held_count

    def high(self, stream: Hashable) -> int | None:
        """The highest number delivered of ``stream`` (None: unknown stream, or nothing
        delivered yet)."""
        state = self._streams.get(stream)
        return None if state is None or state.high < 0 else state.high

    def receive(self, path: int, stream: Hashable, seq: int, item: T, size: int,
                now: float) -> list[T]:
        """A copy of message ``seq`` of ``stream`` arrived on ``path``: what to deliver now,
        in order (often ``[item]``, ``[]`` for a copy or a held one)."""
        if path == self.primary:
            self._primary_seen = now
        state = self._streams.get(stream)
        if state is None:
            if len(self._streams) >= self.max_streams:
                self._forget_stalest()
            if path == self.primary:
                self._streams[stream] = _Stream(seq, now)
                return [item]
            state = self._streams[stream] = _Stream(-1, now)
        else:
            state.seen = now
            if seq <= state.high:
                self.stats.duplicates += 1
                return []
        if path == self.primary:
            held = state.held
            if not held:
                state.high = seq
                return [item]
            copy = held.pop(seq, None)
            if copy is not None:
                self._unhold(copy[2])
                self.stats.duplicates += 1
            out = self._release(state, seq - 1)
            out.append(item)
            state.high = seq
            return out
        held = state.held
        if held is None:
            held = state.held = {}
        elif seq in held:
            self.stats.duplicates += 1
            return []
        held[seq] = (path, item, size)
        self.stats.held += 1
        self._held_count += 1
        self._held_bytes += size
        self._ages.append((now, stream, seq))
        if len(self._ages) > 2 * self.max_held + 64:
            self._compact()
        if self._held_count > self.max_held or self._held_bytes > self.max_held_bytes:
            if now - self._primary_seen < self.max_hold:
                self._drop_oldest()
                return []
            return self.switch(path, now)
        return []

    def switch(self, path: int, now: float, *, failover: bool = True) -> list[T]:
        """Make ``path`` the primary: what the streams held up to the highest number held
        from it, in order per stream. ``failover=False``: the first choice of a primary,
        not counted."""
        if path == self.primary:
            return []
        self.primary = path
        self._primary_seen = now
        self.stats.failovers += failover
        out: list[T] = []
        for state in self._streams.values():
            held = state.held
            if not held:
                continue
            top = max((seq for seq, copy in held.items() if copy[0] == path), default=None)
            if top is not None:
                out.extend(self._release(state, top))
                state.high = max(state.high, top)
        return out

    def expire(self, now: float) -> list[T]:
        """Fail over if a copy has been held for ``max_hold`` seconds and the primary has
        delivered nothing for as long: what that releases."""
        out: list[T] = []
        while True:
            oldest = self._oldest()
            if oldest is None or now - oldest[0] < self.max_hold:
                return out
            _, stream, seq = oldest
            state = self._streams[stream]
            assert state.held is not None
            path = state.held[seq][0]
            if path == self.primary:  # held before a switch back: nothing to wait for
                out.extend(self._release(state, seq))
                state.high = max(state.high, seq)
            elif now - self._primary_seen < self.max_hold:
                return out  # the primary delivers: it is behind, not gone
            else:
                out.extend(self.switch(path, now))

    def next_deadline(self) -> float | None:
        """When :meth:`expire` may have something to do (None: nothing held)."""
        oldest = self._oldest()
        if oldest is None:
            return None
        return max(oldest[0], self._primary_seen) + self.max_hold

    def prune(self, now: float) -> None:
        """Forget the streams silent for ``stream_idle`` seconds (and holding nothing)."""
        horizon = now - self.stream_idle
        for key in [k for k, s in self._streams.items() if s.seen < horizon and not s.held]:
            del self._streams[key]
            self.stats.forgotten += 1

    # -- inside ------------------------------------------------------------------------------

    def _release(self, state: _Stream[T], upto: int) -> list[T]:
        """Pop the held copies numbered ``upto`` or less, in order."""
        held = state.held
        if not held:
            return []
        out = []
        for seq in sorted(s for s in held if s <= upto):
            _, item, size = held.pop(seq)
            self._unhold(size)
            self.stats.released += 1
            out.append(item)
        if not held:
            state.held = None
        return out

    def _drop_oldest(self) -> None:
        oldest = self._oldest()
        if oldest is None:
            return
        state = self._streams[oldest[1]]
        assert state.held is not None
        self._unhold(state.held.pop(oldest[2])[2])
        if not state.held:
            state.held = None
        self.stats.dropped += 1

    def _unhold(self, size: int) -> None:
        self._held_count -= 1
        self._held_bytes -= size

    def _is_held(self, stream: Hashable, seq: int) -> bool:
        state = self._streams.get(stream)
        return state is not None and state.held is not None and seq in state.held

    def _oldest(self) -> tuple[float, Hashable, int] | None:
        ages = self._ages
        while ages and not self._is_held(ages[0][1], ages[0][2]):
            ages.popleft()
        return ages[0] if ages else None

    def _compact(self) -> None:
        self._ages = deque(entry for entry in self._ages if self._is_held(entry[1], entry[2]))

    def _forget_stalest(self) -> None:
        key = min(self._streams, key=lambda k: self._streams[k].seen)
        state = self._streams.pop(key)
        for _, _, size in (state.held or {}).values():
            self._unhold(size)
        self.stats.forgotten += 1


class PathWatch:
    """Which paths carry this node's own messages (its heartbeats come back on each path
    that works), and whether the node is cut off: no path for longer than ``timeout``.

    Sans-I/O: :meth:`echo` when an own message comes back on a path (it returns how long
    the gap it ends lasted, or None), :meth:`check` now and then (True when a gap starts).
    """

    def __init__(self, paths: int, timeout: float) -> None:
        self.paths = paths
        self.timeout = timeout
        self._last: list[float | None] = [None] * paths
        #: When the current gap started (the last echo on any path), or None.
        self.gap_since: float | None = None
        #: Gaps so far.
        self.gaps = 0

    def echo(self, path: int, now: float) -> float | None:
        self._last[path] = now
        since = self.gap_since
        if since is not None:
            self.gap_since = None
            return now - since
        return None

    def excuse(self, seconds: float) -> None:
        """This node stood still for ``seconds``: no path is blamed for them."""
        self._last = [None if last is None else last + seconds for last in self._last]

    def live(self, now: float) -> list[int]:
        """The paths that carried an own message within ``timeout``."""
        return [p for p, last in enumerate(self._last)
                if last is not None and now - last <= self.timeout]

    def check(self, now: float) -> bool:
        if self.gap_since is not None:
            return False
        seen = [last for last in self._last if last is not None]
        if seen and now - max(seen) > self.timeout:
            self.gap_since = max(seen)
            self.gaps += 1
            return True
        return False
