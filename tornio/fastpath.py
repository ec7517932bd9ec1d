"""The Socket.IO routes of a :class:`~tornio.router.Router` on the fast HTTP path
(:mod:`tornio.transports.fasthttp`): Engine.IO polling and handshakes, the 0.9 handshake,
xhr-polling and jsonp-polling. The handlers are the Tornado ones, run on a
:class:`~tornio.transports.fasthttp.FastExchange`, so both paths give the same answers.

Everything else (websocket upgrades, htmlfile, xhr-multipart, flashsocket, the client bundle,
the application's own routes, WSGI) and any request whose session another process owns
(which :class:`~tornio.transports.forwarding.ForwardingDelegate` forwards) goes to Tornado.

    http = HTTPServer(router.application())
    fast = fast_server(router.manager, http)
    fast.add_sockets(tornado.netutil.bind_sockets(8080))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tornio.bus import ids
from tornio.legacy.transports.handshake import HandshakeHandler
from tornio.legacy.transports.polling import (
    JsonpPollingHandler,
    SteadyXhrPolling,
    XhrPollingHandler,
)
from tornio.modern.endpoint import EngineEndpoint
from tornio.modern.transports import EnginePollingHandler, SteadyEnginePolling
from tornio.transports.fasthttp import AVAILABLE, FastExchange, FastHTTPServer, Route
from tornio.transports.fastrequest import path_arg, peer_client, xheaders_client
from tornio.transports.forwarded import TrustedProxies, resolve_headers

if TYPE_CHECKING:
    from tornado.httpserver import HTTPServer
    from tornado.httputil import HTTPHeaders

    from tornio.manager import SocketManager

__all__ = ["AVAILABLE", "HTTP_MODES", "fast_server", "resolve_mode"]

HTTP_MODES = ("auto", "fast", "tornado")


class FastEnginePolling(FastExchange, EnginePollingHandler):  # type: ignore[misc]
    """Engine.IO polling and handshakes on the fast path."""


class FastHandshake(FastExchange, HandshakeHandler):  # type: ignore[misc]
    """The 0.9 handshake on the fast path."""


class FastXhrPolling(FastExchange, XhrPollingHandler):  # type: ignore[misc]
    """0.9 xhr-polling on the fast path."""


class FastJsonpPolling(FastExchange, JsonpPollingHandler):  # type: ignore[misc]
    """0.9 jsonp-polling on the fast path."""


class SteadyEnginePoll(SteadyEnginePolling):
    """A steady-state Engine.IO poll; the rest is :class:`FastEnginePolling`'s."""

    general = FastEnginePolling


class SteadyXhrPoll(SteadyXhrPolling):
    """A steady-state 0.9 xhr-poll; the rest is :class:`FastXhrPolling`'s."""

    general = FastXhrPolling


LEGACY_POLLING: dict[str, type[FastExchange]] = {
    "xhr-polling": FastXhrPolling,
    "jsonp-polling": FastJsonpPolling,
}
#: A GET or POST with a session id: a steady-state exchange first (which hands what it does
#: not handle to the general one).
STEADY: dict[type[FastExchange], type[FastExchange]] = {
    FastEnginePolling: SteadyEnginePoll,
    FastXhrPolling: SteadyXhrPoll,
}


def resolve_mode(mode: str) -> str:
    """``fast`` or ``tornado`` for a ``--http`` value: ``auto`` is ``fast`` when httptools is
    installed. Raises ValueError for ``fast`` without httptools, or an unknown mode."""
    if mode not in HTTP_MODES:
        raise ValueError(f"unknown HTTP mode {mode!r} (one of {', '.join(HTTP_MODES)})")
    if mode == "auto":
        return "fast" if AVAILABLE else "tornado"
    if mode == "fast" and not AVAILABLE:
        raise ValueError("--http fast needs httptools: pip install 'tornio[speed]'")
    return mode


def socketio_routes(
    manager: SocketManager | EngineEndpoint,
    is_local: Callable[[str], bool] | None = None,
) -> Callable[[str, str, str, HTTPHeaders], Route | None]:
    """The fast path's router for the Socket.IO routes of ``manager`` (a router's), or the
    Engine.IO polling route of a plain :class:`~tornio.modern.endpoint.EngineEndpoint`.
    ``is_local(node)``: whether a session owned by that node lives in this process (None:
    every session does)."""
    never = re.compile(r"(?!)")
    if isinstance(manager, EngineEndpoint):
        modern = re.compile(re.escape(manager.path) + r"/?$")
        handshake = polling = never
    else:
        prefix = "/" + re.escape(manager.settings.resource)
        modern = re.compile(prefix + r"/?$")
        handshake = re.compile(prefix + r"/1/?$")
        polling = re.compile(prefix + r"/1/(xhr-polling|jsonp-polling)/([^/]+)/?$")
    kwargs: dict[str, Any] = {"manager": manager}
    general_modern = Route(FastEnginePolling, [], kwargs)
    steady_modern = Route(SteadyEnginePoll, [], kwargs)

    def route(method: str, uri: str, path: str, headers: HTTPHeaders) -> Route | None:
        if is_local is not None:
            sid = ids.sid_in_target(uri)
            owner = ids.owner_of(sid) if sid else None
            if owner is not None and not is_local(owner):
                return None  # forwarded to its owner by Tornado's delegate chain
        if modern.match(path):
            if method != "OPTIONS" and "sid=" in uri:
                return steady_modern
            return general_modern
        if handshake.match(path):
            return None if method == "OPTIONS" else Route(FastHandshake, [], kwargs)
        match = polling.match(path)
        if match is not None and method != "OPTIONS":
            sid = path_arg(match.group(2))
            if sid is not None:
                handler = LEGACY_POLLING[match.group(1)]
                return Route(STEADY.get(handler, handler), [sid], kwargs)
        return None

    return route


def fast_server(
    manager: SocketManager | EngineEndpoint,
    http: HTTPServer,
    *,
    trusted_proxies: TrustedProxies | str | Sequence[str] | None = None,
    xheaders: bool = False,
    is_local: Callable[[str], bool] | None = None,
) -> FastHTTPServer:
    """A :class:`FastHTTPServer` for the Socket.IO routes of ``manager`` (``router.manager``);
    ``http`` serves the rest.

    Args:
        trusted_proxies: whose forwarded headers name the client (as
            :class:`~tornio.transports.forwarded.ForwardedHeaders`).
        xheaders: believe them from everyone, as Tornado's ``HTTPServer(xheaders=True)``.
        is_local: see :func:`socketio_routes`.
    """
    client = peer_client
    if xheaders:
        client = xheaders_client
    elif trusted_proxies:
        trusted = (trusted_proxies if isinstance(trusted_proxies, TrustedProxies)
                   else TrustedProxies(trusted_proxies))

        def client(address: tuple[Any, ...], headers: HTTPHeaders) -> tuple[str, str]:
            resolved = resolve_headers(str(address[0]) if address else "", headers, trusted)
            return resolved.ip, resolved.scheme or "http"

    return FastHTTPServer(socketio_routes(manager, is_local), http, client)
