"""Session ids that name their owner.

Every id tornio hands out is 20 characters of ``[A-Za-z0-9_-]`` (what Engine.IO clients and
load balancers expect): a 6-character *node tag* — 4 for the host (the ``tornio serve``
instance), 2 for the worker process on it — then 14 random characters from ``secrets``
(84 bits). Whoever sees a request can tell which process owns its session without asking
anyone, which is how tornio routes polling requests without sticky sessions.
"""

from __future__ import annotations

import re
import secrets
import string

__all__ = [
    "ALPHABET",
    "make_sid",
    "new_host_tag",
    "node_tag",
    "owner_of",
    "sid_in_target",
    "worker_index",
]

ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
HOST_TAG_LENGTH = 4
NODE_TAG_LENGTH = 6
SID_LENGTH = 20
MAX_WORKERS = len(ALPHABET) ** 2
_SID = re.compile(r"[A-Za-z0-9_-]{20}\Z")
_QUERY_SID = re.compile(r"[?&]sid=([A-Za-z0-9_-]{20})(?=[&#\s]|$)")
_LEGACY_SID = re.compile(r"/1/[^/?\s]*/([A-Za-z0-9_-]{20})(?=[/?#\s]|$)")


def new_host_tag() -> str:
    """A random tag for one host (one ``tornio serve`` instance)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(HOST_TAG_LENGTH))


def node_tag(host_tag: str, worker: int) -> str:
    """The tag of worker ``worker`` on the host tagged ``host_tag``."""
    if len(host_tag) != HOST_TAG_LENGTH or any(c not in ALPHABET for c in host_tag):
        raise ValueError(f"a host tag is {HOST_TAG_LENGTH} characters of {ALPHABET!r}")
    if not 0 <= worker < MAX_WORKERS:
        raise ValueError(f"worker index must be in [0, {MAX_WORKERS})")
    return host_tag + ALPHABET[worker // len(ALPHABET)] + ALPHABET[worker % len(ALPHABET)]


def make_sid(tag: str) -> str:
    """A new session id owned by the node ``tag``."""
    return tag + secrets.token_urlsafe(11)[: SID_LENGTH - NODE_TAG_LENGTH]


def owner_of(sid: str) -> str | None:
    """The node tag inside a session id, or None if ``sid`` is not one of ours."""
    if not _SID.match(sid):
        return None
    return sid[:NODE_TAG_LENGTH]


def sid_in_target(target: str) -> str | None:
    """The session id a request target (path and query) carries: ``sid=`` (Engine.IO) or
    ``/1/<transport>/<sid>`` (0.9); None if it carries none of ours."""
    # As ``_QUERY_SID.search(target) or _LEGACY_SID.search(target)``, trying the regexes
    # only where a literal part of them is (a search tries every position: a few times more).
    match = None
    start = target.find("sid=", 1)
    while start > 0 and match is None:
        match = _QUERY_SID.match(target, start - 1)
        start = target.find("sid=", start + 1)
    start = target.find("/1/") if match is None else -1
    while start >= 0 and match is None:
        match = _LEGACY_SID.match(target, start)
        start = target.find("/1/", start + 1)
    if match is None:
        return None
    sid = match.group(1)
    return sid if owner_of(sid) is not None else None


def worker_index(tag: str) -> int:
    """The worker number inside a node tag."""
    high, low = tag[HOST_TAG_LENGTH], tag[HOST_TAG_LENGTH + 1]
    return ALPHABET.index(high) * len(ALPHABET) + ALPHABET.index(low)
