"""Origin checks with node socket.io 0.9's ``origins`` semantics (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

__all__ = ["origin_allowed"]


def origin_allowed(allowed: Sequence[str], origin: str | None) -> bool:
    """Whether a request's ``Origin`` (or ``Referer``) passes the ``origins`` setting.

    ``allowed`` holds ``'*:*'``, ``'host:port'``, ``'host:*'`` or ``'*:port'`` entries. A
    missing port is 80 (443 for https). A missing origin passes only ``'*:*'``.
    """
    if "*:*" in allowed:
        return True
    if not origin or origin == "null":
        return False
    try:
        parts = urlsplit(origin)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError:
        return False
    return (
        f"{host}:{port}" in allowed or f"{host}:*" in allowed or f"*:{port}" in allowed
    )
