"""Which worker a new connection belongs to, from the first bytes of its first request.

The supervisor peeks (``MSG_PEEK``: nothing is consumed) at a new connection's request line.
A session id in it (``sid=`` for Engine.IO, ``/1/<transport>/<sid>`` for 0.9) names the
owning worker (:mod:`tornio.bus.ids`); a request without one starts a new session and goes to
the least-loaded worker.
"""

from __future__ import annotations

from collections.abc import Sequence

from tornio.bus import ids

__all__ = ["POLICY_REQUEST", "find_sid", "least_loaded", "request_line_complete"]

POLICY_REQUEST = b"<policy-file-request/>"
#: How much of a request the supervisor peeks at, at most.
PEEK_BYTES = 8192


def request_line_complete(head: bytes) -> bool:
    """Whether the peeked bytes hold the whole request line (or can never hold one)."""
    return b"\n" in head or len(head) >= PEEK_BYTES or head.startswith(POLICY_REQUEST[:8])


def find_sid(head: bytes) -> str | None:
    """The session id a request's line carries, if it is one of tornio's."""
    line = head.split(b"\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) < 2:
        return None
    return ids.sid_in_target(parts[1].decode("latin-1"))


def least_loaded(loads: Sequence[int], alive: Sequence[bool]) -> int | None:
    """The index of the live worker with the fewest sessions (the lowest index on ties)."""
    best: int | None = None
    for index, (load, up) in enumerate(zip(loads, alive, strict=True)):
        if up and (best is None or load < loads[best]):
            best = index
    return best
