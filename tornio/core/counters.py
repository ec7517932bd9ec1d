"""The process's traffic counters: plain integers bumped in the hot paths, read at scrape time.

Nothing here builds a Prometheus object or takes a lock: a transport adds to an ``int``
attribute (``LEGACY.messages_in += 1``), which costs about as much as one attribute lookup.
:mod:`tornio.metrics` turns a :meth:`Counters.snapshot` into Prometheus metrics when it is
scraped, and ``tornio serve``'s workers send theirs to the supervisor once a second.

The counters are the *process's*: every ``Router`` (``SocketManager``) of one process adds to
the same ones, as a process's CPU time is the process's. Under ``tornio serve`` a process is
one worker.

- :data:`LEGACY`, :data:`MODERN`: :class:`Traffic` of the 0.9 transports and of Engine.IO:
  messages (websocket frames carrying data; the packets of a polling payload) and bytes, in
  and out, and handshakes (0.9 handshakes; Engine.IO sessions opened);
- :meth:`Counters.disconnected`: sockets that ended, by protocol and node's disconnect reason,
  and among them the sessions closed for holding more than ``max_write_buffer`` for a client
  that did not take it (:mod:`tornio.protocol.backlog`), by protocol and transport;
- :meth:`Counters.rate_limited`: sockets disconnected for sending past ``max_event_rate``,
  by protocol;
- :meth:`Counters.ack_answered`: how long clients took to answer the server's acks (a
  histogram with fixed buckets).
"""

from __future__ import annotations

import bisect
from typing import Any

__all__ = ["ACK_BUCKETS", "COUNTERS", "LEGACY", "MODERN", "Counters", "Traffic"]

#: Upper bounds (seconds) of the ack latency histogram's buckets (then +Inf).
ACK_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)


class Traffic:
    """What one protocol generation's transports carried."""

    __slots__ = ("bytes_in", "bytes_out", "handshakes", "messages_in", "messages_out")

    def __init__(self) -> None:
        self.messages_in = 0
        self.messages_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.handshakes = 0

    def snapshot(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class Counters:
    """Every counter of the process (see the module docstring)."""

    def __init__(self) -> None:
        self.traffic: dict[str, Traffic] = {"legacy": Traffic(), "modern": Traffic()}
        #: (protocol, disconnect reason) → sockets that ended so.
        self.disconnects: dict[tuple[str, str], int] = {}
        #: (protocol, transport) → sessions closed for passing ``max_write_buffer``.
        self.overflows: dict[tuple[str, str], int] = {}
        #: protocol → sockets disconnected for sending past ``max_event_rate``.
        self.rate_limits: dict[str, int] = {}
        #: Answers per bucket of :data:`ACK_BUCKETS`, the last one for slower answers.
        self.ack_buckets = [0] * (len(ACK_BUCKETS) + 1)
        self.ack_sum = 0.0

    def disconnected(self, protocol: str, reason: str, overflow: Any = None) -> None:
        """A socket ended (once per socket); ``overflow``: its session's
        :class:`~tornio.protocol.backlog.Overflow` if it passed ``max_write_buffer``."""
        key = (protocol, reason)
        self.disconnects[key] = self.disconnects.get(key, 0) + 1
        if overflow is not None:
            key = (protocol, overflow.transport)
            self.overflows[key] = self.overflows.get(key, 0) + 1

    def rate_limited(self, protocol: str) -> None:
        """A socket was disconnected for sending past its event rate."""
        self.rate_limits[protocol] = self.rate_limits.get(protocol, 0) + 1

    def ack_answered(self, seconds: float) -> None:
        """A client answered one of the server's acks ``seconds`` after it was asked."""
        self.ack_buckets[bisect.bisect_left(ACK_BUCKETS, seconds)] += 1
        self.ack_sum += seconds

    def snapshot(self) -> dict[str, Any]:
        """Every counter as plain JSON values (what a worker reports to the supervisor)."""
        return {
            "traffic": {name: traffic.snapshot() for name, traffic in self.traffic.items()},
            "disconnects": [[protocol, reason, count]
                            for (protocol, reason), count in sorted(self.disconnects.items())],
            "overflows": [[protocol, transport, count]
                          for (protocol, transport), count in sorted(self.overflows.items())],
            "rate_limited": dict(self.rate_limits),
            "acks": {"buckets": list(self.ack_buckets), "sum": self.ack_sum},
        }


#: The process's counters.
COUNTERS = Counters()
#: The 0.9 transports' traffic.
LEGACY = COUNTERS.traffic["legacy"]
#: The Engine.IO transports' traffic.
MODERN = COUNTERS.traffic["modern"]
