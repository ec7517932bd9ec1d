"""Serving the test servers through the fast HTTP path (:mod:`tornio.fastpath`).

``TORNIO_TEST_HTTP=fast python3 -m pytest …`` runs the same test bodies with
:class:`~tests.support.inloop.InLoopServer` and :class:`~tests.support.live.LiveServer`
accepting connections on the fast path (Tornado still serving whatever the fast path hands
it); unset or ``tornado``, they are plain Tornado servers. ``tornio serve`` chooses by its own
``--http`` flag.
"""

from __future__ import annotations

import os
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.web import Application

from tornio.fastpath import fast_server
from tornio.transports.fasthttp import FastHTTPServer

__all__ = ["fast_mode", "find_manager", "serve_fast"]


def fast_mode() -> bool:
    """Whether the test servers use the fast path (``TORNIO_TEST_HTTP=fast``)."""
    mode = os.environ.get("TORNIO_TEST_HTTP", "tornado")
    if mode not in ("fast", "tornado"):
        raise ValueError(f"TORNIO_TEST_HTTP={mode!r}: fast or tornado")
    return mode == "fast"


def find_manager(app: Any) -> Any:
    """The socket manager whose routes a Tornado application serves, or None (an app that is
    not one, or has no Socket.IO routes: it is served by Tornado alone)."""
    if not isinstance(app, Application):
        return None
    for rule in app.wildcard_router.rules:
        manager = (rule.target_kwargs or {}).get("manager")
        if manager is not None and hasattr(manager, "settings"):
            return manager
    return None


def serve_fast(
    app: Any, http: HTTPServer, sockets: list[Any], xheaders: bool
) -> FastHTTPServer | None:
    """Accept ``sockets`` on the fast path in front of ``http`` (which must not listen on
    them itself), when ``app`` has Socket.IO routes; None otherwise."""
    manager = find_manager(app)
    if manager is None:
        return None
    fast = fast_server(manager, http, xheaders=xheaders)
    fast.add_sockets(sockets)
    return fast
