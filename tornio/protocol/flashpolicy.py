"""The Flash socket policy exchange, sans-I/O: the request Flash sends, the policy answer built
from node-style ``origins``, and how far a connection's first bytes are from being a request.

Flash connects, sends ``<policy-file-request/>\\0`` and reads a cross-domain policy up to a
NUL (``reference/legacy.md`` §2.8). Used by the policy process (:mod:`tornio.policy`) and by
the HTTP port's inline answer (:mod:`tornio.transports.inline_policy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

__all__ = ["COMPLETE", "GARBAGE", "PARTIAL", "REQUEST", "classify", "policy_answer", "policy_xml"]

#: What Flash sends.
REQUEST = b"<policy-file-request/>\0"

#: :func:`classify` results.
COMPLETE, PARTIAL, GARBAGE = "complete", "partial", "garbage"

_DTD = (
    '<?xml version="1.0"?><!DOCTYPE cross-domain-policy SYSTEM '
    '"http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd">'
)


def split_origins(origins: str | Sequence[str]) -> list[str]:
    return origins.split() if isinstance(origins, str) else list(origins)


def policy_xml(origins: str | Sequence[str] = "*:*") -> bytes:
    """The cross-domain policy (no NUL) for node-style origins: ``host:port``, ``host:*``,
    ``*:port``, ``*:*``; a missing port allows every port.

    No origins (the same-origin default) allow every domain: the policy only lets a Flash
    client open its socket (which carries no browser cookies), and the flashsocket handshake
    still checks its ``Origin``. ``'null'`` is no domain and is left out."""
    entries = []
    for origin in split_origins(origins) or ["*:*"]:
        if origin == "null":
            continue
        if "://" in origin:
            origin = origin.split("://", 1)[1]
        host, sep, port = origin.rpartition(":")
        if not sep:
            host, port = origin, "*"
        domain, ports = (escape(v or "*", {'"': "&quot;"}) for v in (host, port))
        entries.append(f'<allow-access-from domain="{domain}" to-ports="{ports}"/>')
    return (_DTD + "<cross-domain-policy>" + "".join(entries) + "</cross-domain-policy>").encode()


def policy_answer(origins: str | Sequence[str] = "*:*") -> bytes:
    """What is written back: the policy and a NUL."""
    return policy_xml(origins) + b"\0"


def classify(received: bytes) -> str:
    """Whether a connection's first bytes are the whole request (:data:`COMPLETE`, extra bytes
    after it allowed), its beginning (:data:`PARTIAL`), or anything else (:data:`GARBAGE`)."""
    if received.startswith(REQUEST):
        return COMPLETE
    if REQUEST.startswith(received):
        return PARTIAL
    return GARBAGE
