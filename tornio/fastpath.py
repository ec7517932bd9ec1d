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
from tornio.transports.fasthttp import (
    AVAILABLE,
    FastExchange,
    FastHTTPServer,
    Route,
    RouteFinder,
)
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
#: How many 0.9 sessions' steady-state routes are kept (a client chooses the ids).
MAX_ROUTES = 4096


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
) -> RouteFinder:
    """The fast path's router for the Socket.IO routes of ``manager`` (a router's), or the
    Engine.IO polling route of a plain :class:`~tornio.modern.endpoint.EngineEndpoint`.
    ``is_local(node)``: whether a session owned by that node lives in this process (None:
    every session does).

    A GET or POST with a session id goes to a steady-state exchange when nothing the
    handler's ``prepare`` decides applies to it (for 0.9, a disabled transport,
    ``?disconnect``, quoting, a declared body over the limit; an ``Origin`` other than the
    server's own is handed to the general exchange as the request's head is read:
    :meth:`~tornio.transports.steady.SteadyExchange.own_origin`)."""
    if isinstance(manager, EngineEndpoint):
        modern = (manager.path, manager.path + "/")
        handshake: tuple[str, ...] = ()
        legacy = "\0"  # (no path starts with it)
    else:
        base = "/" + manager.settings.resource
        modern = (base, base + "/")
        handshake = (base + "/1", base + "/1/")
        legacy = base + "/1/"
    start = len(legacy)
    kwargs: dict[str, Any] = {"manager": manager}
    general_modern = Route(FastEnginePolling, [], kwargs)
    steady_modern = Route(SteadyEnginePoll, [], kwargs)
    steady_legacy: dict[str, Route] = {}  # by session id

    def route(method: str, uri: str, path: str, raw: dict[str, bytes]) -> Route | None:
        if is_local is not None:
            sid = ids.sid_in_target(uri)  # (one of ours: its owner's tag is its start)
            if sid is not None and not is_local(sid[:ids.NODE_TAG_LENGTH]):
                return None  # forwarded to its owner by Tornado's delegate chain
        if path in modern:
            if method == "OPTIONS" or "sid=" not in uri:
                return general_modern
            return steady_modern
        if path in handshake:
            return None if method == "OPTIONS" else Route(FastHandshake, [], kwargs)
        if method == "OPTIONS" or path[:start] != legacy:
            return None
        # <legacy>(xhr-polling|jsonp-polling)/<sid>, a slash after it or not
        transport, slash, sid = path[start:].partition("/")
        if sid[-1:] == "/":
            sid = sid[:-1]
        if not slash or not sid or "/" in sid or transport not in LEGACY_POLLING:
            return None
        if "%" in sid:
            decoded = path_arg(sid)
            if decoded is None:
                return None
            sid = decoded
        elif transport == "xhr-polling" and steady_xhr(manager, method, uri, raw):
            if sid not in steady_legacy:
                if len(steady_legacy) >= MAX_ROUTES:
                    steady_legacy.clear()
                steady_legacy[sid] = Route(SteadyXhrPoll, [sid], kwargs)
            return steady_legacy[sid]
        return Route(LEGACY_POLLING[transport], [sid], kwargs)

    return route


def steady_xhr(
    manager: SocketManager | EngineEndpoint, method: str, uri: str, raw: dict[str, bytes]
) -> bool:
    """Whether an xhr-polling request is for a steady-state exchange: nothing that
    ``PacketPostHandler.prepare`` refuses or handles applies to it."""
    settings = manager.settings
    if ("xhr-polling" not in settings.transports or "disconnect" in uri
            or "%" in uri or "+" in uri):
        return False
    if method == "POST" and "content-length" in raw:
        length = raw["content-length"]
        return not (length.isdigit() and int(length) > settings.max_buffer_size)
    return True


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
