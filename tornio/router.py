"""``Router``: tornio's URL specs, to drop into any ``tornado.web.Application``.

    router = tornio.Router({'/chat': ChatNamespace}, resource='socket.io')
    app = tornado.web.Application(router.urls + my_handlers)

The router also owns the process's :class:`~tornio.manager.SocketManager`, which is the
public way to emit from outside any handler: ``router.emit('news', data, namespace='/chat',
room='lobby')``, and to run the cluster operations (``router.fetch_sockets()``,
``router.sockets_join()``, ``await router.call()``, ``@router.on_server_side('event')``...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import tornado.web
from tornado.routing import AnyMatches, Rule
from tornado.web import URLSpec
from tornado.wsgi import WSGIContainer

from tornio.admin import install
from tornio.legacy.transports.base import ProtocolVersionHandler, UnknownTransportHandler
from tornio.legacy.transports.flashsocket import (
    FlashSocketHandler,
    FlashSocketRfc6455Handler,
    FlashSwfHandler,
    VersionMatches,
)
from tornio.legacy.transports.handshake import HandshakeHandler
from tornio.legacy.transports.htmlfile import HtmlFileHandler
from tornio.legacy.transports.multipart import XhrMultipartHandler
from tornio.legacy.transports.polling import JsonpPollingHandler, XhrPollingHandler
from tornio.legacy.transports.websocket import LegacyWebSocketHandler
from tornio.manager import SocketManager
from tornio.modern.transports import (
    EnginePollingHandler,
    EngineWebSocketHandler,
    UpgradeMatches,
)
from tornio.protocol.jsoncodec import decimal_default
from tornio.settings import Settings
from tornio.transports.client_bundle import BUNDLE_PATTERN, ClientBundleHandler
from tornio.transports.wsgiview import WsgiOpener, finished_in_thread

if TYPE_CHECKING:
    from tornio.admin import Instrument
    from tornio.bus import Bus
    from tornio.cluster import RemoteSocket
    from tornio.core.namespace import BaseNamespace

__all__ = ["Router"]

HandlerSpec = URLSpec | Rule | tuple[Any, ...]


class Router:
    """URL specs and the socket manager for a set of namespaces.

    Args:
        namespaces: endpoint → namespace class (``''`` or ``'/'`` is the global namespace);
            a key may also be a compiled regex or a function ``(name, auth) -> bool`` (plain
            or ``async``): a dynamic namespace, serving every endpoint it matches. Checked
            here: a name must start with ``/`` (or be ``''``) and fit
            ``max_namespace_name``, a value must be a BaseNamespace subclass (TypeError or
            ValueError otherwise).
        resource: the URL prefix, ``socket.io`` by default.
        handlers: extra Tornado URL specs served beside Socket.IO by :meth:`application`
            (pages, static files).
        bus: the bus joining this process to others; in-process by default.
        wsgi_app: a WSGI callable (a Django project) that :meth:`application` serves every
            other path with, on a pool of ``wsgi_threads`` threads, off the event loop.
        wsgi_manage: each socket's namespaces come from ``wsgi_app``, gevent-socketio's way:
            when a socket opens, the application runs (on the same pool) for the request
            that opened it, with ``environ['socketio']`` the socket, and its view calls
            ``socketio_manage(environ, namespaces, request)`` (:mod:`tornio.core.opening`).
            By default: when ``wsgi_app`` is given and ``namespaces`` is empty. Then, unless
            ``json`` or ``json_default`` is given, ``json_default`` is gevent-socketio's
            (a ``Decimal`` is written as a float).
        admin: the Socket.IO Admin UI's settings (:mod:`tornio.admin`): its namespace and
            its page are served; None (default): not.
        settings: any :class:`~tornio.settings.Settings` field.
    """

    def __init__(
        self,
        namespaces: Mapping[Any, type[BaseNamespace]],
        resource: str = "socket.io",
        handlers: Sequence[HandlerSpec] = (),
        bus: Bus | None = None,
        wsgi_app: Callable[..., Any] | None = None,
        wsgi_threads: int = 16,
        admin: Mapping[str, Any] | bool | None = None,
        wsgi_manage: bool | None = None,
        **settings: Any,
    ) -> None:
        if wsgi_app is not None and not callable(wsgi_app):
            raise TypeError(f"wsgi_app must be a WSGI callable, not {type(wsgi_app).__name__}")
        if isinstance(wsgi_threads, bool) or not isinstance(wsgi_threads, int) or wsgi_threads < 1:
            raise ValueError(f"wsgi_threads must be a whole number >= 1, not {wsgi_threads!r}")
        if wsgi_manage is None:
            wsgi_manage = wsgi_app is not None and not namespaces
        elif wsgi_manage and wsgi_app is None:
            raise ValueError("wsgi_manage=True needs a wsgi_app, whose view calls socketio_manage")
        if wsgi_manage and settings.get("json") is None and settings.get("json_default") is None:
            settings["json_default"] = decimal_default
        self.settings = Settings.from_kwargs(resource=resource, **settings)
        self.manager = SocketManager(namespaces, self.settings, bus=bus)
        self.handlers = list(handlers)
        self.wsgi_app = wsgi_app
        self.wsgi_threads = wsgi_threads
        self._wsgi_executor: ThreadPoolExecutor | None = None
        #: Each socket's namespaces come from the WSGI application's view.
        self.wsgi_manage = bool(wsgi_manage)
        if wsgi_manage:
            assert wsgi_app is not None
            self.manager.opener = WsgiOpener(wsgi_app, self.wsgi_executor)
        self.admin: Instrument | None = None
        if admin is not None and admin is not False:
            self.enable_admin(admin)

    def enable_admin(self, config: Mapping[str, Any] | bool) -> None:
        """Serve the Admin UI (see :mod:`tornio.admin`); before :meth:`application`.

        Raises:
            ValueError, TypeError: a bad config; ``RuntimeError``: it is on already.
        """
        if self.admin is not None:
            raise RuntimeError("the Admin UI is on already")
        self.admin, rules = install(self.manager, config)
        self.handlers.extend(rules)

    @property
    def urls(self) -> list[Rule]:
        """The URL rules that serve Socket.IO under ``/<resource>``: Engine.IO (modern
        clients) at ``/<resource>/?EIO=…``, the 0.9 protocol at ``/<resource>/1/…``."""
        prefix = "/" + re.escape(self.settings.resource)
        kwargs = {"manager": self.manager}
        sid = r"([^/]+)"
        flash = prefix + r"/1/flashsocket/" + sid + r"/?$"
        return [
            Rule(UpgradeMatches(prefix + r"/?$", upgrade=True), EngineWebSocketHandler, kwargs),
            Rule(UpgradeMatches(prefix + r"/?$", upgrade=False), EnginePollingHandler, kwargs),
            URLSpec(prefix + r"/1/?", HandshakeHandler, kwargs),
            URLSpec(prefix + r"/1/websocket/" + sid + r"/?", LegacyWebSocketHandler, kwargs),
            URLSpec(prefix + r"/1/xhr-polling/" + sid + r"/?", XhrPollingHandler, kwargs),
            URLSpec(prefix + r"/1/jsonp-polling/" + sid + r"/?", JsonpPollingHandler, kwargs),
            URLSpec(prefix + r"/1/htmlfile/" + sid + r"/?", HtmlFileHandler, kwargs),
            URLSpec(prefix + r"/1/xhr-multipart/" + sid + r"/?", XhrMultipartHandler, kwargs),
            # Sec-WebSocket-Version present: RFC 6455 (Tornado); absent: hixie-76 (Flash).
            Rule(VersionMatches(flash, rfc6455=True), FlashSocketRfc6455Handler, kwargs),
            Rule(VersionMatches(flash, rfc6455=False), FlashSocketHandler, kwargs),
            URLSpec(
                prefix + r"/static/flashsocket/(WebSocketMain(?:Insecure)?\.swf)",
                FlashSwfHandler,
                kwargs,
            ),
            URLSpec(prefix + BUNDLE_PATTERN, ClientBundleHandler, kwargs),  # client_bundle
            URLSpec(prefix + r"/1/([^/]*)/" + sid + r"/?", UnknownTransportHandler, kwargs),
            URLSpec(prefix + r"/(?!1/)\d+(?:/.*)?", ProtocolVersionHandler),
        ]

    def application(self, **tornado_settings: Any) -> tornado.web.Application:
        """A Tornado application serving Socket.IO, the router's extra handlers, then the WSGI
        application (if any) for every other path."""
        rules: list[Any] = [*self.urls, *self.handlers]
        if self.wsgi_app is not None:
            app = finished_in_thread(self.wsgi_app)
            rules.append(Rule(AnyMatches(), WSGIContainer(app, self.wsgi_executor())))
        return tornado.web.Application(rules, **tornado_settings)

    def wsgi_executor(self) -> ThreadPoolExecutor:
        """The pool of ``wsgi_threads`` threads the WSGI application runs on (made on first
        use, in the process that serves: after a worker forked)."""
        if self._wsgi_executor is None:
            self._wsgi_executor = ThreadPoolExecutor(
                self.wsgi_threads, thread_name_prefix="tornio-wsgi"
            )
        return self._wsgi_executor

    def close_wsgi_executor(self) -> None:
        """Shut the WSGI thread pool down (its threads end once their request is answered);
        the next :meth:`wsgi_executor` call makes a new one."""
        pool, self._wsgi_executor = self._wsgi_executor, None
        if pool is not None:
            pool.shutdown(wait=False)

    def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Emit from outside any handler; see :meth:`SocketManager.emit`."""
        self.manager.emit(event, *args, **kwargs)

    # The cluster operations of the manager (tornio.cluster), from outside any handler.

    async def call(self, event: str, *args: Any, **kwargs: Any) -> list[Any]:
        """An emit whose every recipient acks; see :meth:`SocketManager.call`."""
        return await self.manager.call(event, *args, **kwargs)

    def sockets_join(self, rooms: str | Iterable[str], **kwargs: Any) -> None:
        """See :meth:`SocketManager.sockets_join`."""
        self.manager.sockets_join(rooms, **kwargs)

    def sockets_leave(self, rooms: str | Iterable[str], **kwargs: Any) -> None:
        """See :meth:`SocketManager.sockets_leave`."""
        self.manager.sockets_leave(rooms, **kwargs)

    def disconnect_sockets(self, close: bool = False, **kwargs: Any) -> None:
        """See :meth:`SocketManager.disconnect_sockets`."""
        self.manager.disconnect_sockets(close, **kwargs)

    async def fetch_sockets(self, namespace: str = "", **kwargs: Any) -> list[RemoteSocket]:
        """See :meth:`SocketManager.fetch_sockets`."""
        return await self.manager.fetch_sockets(namespace, **kwargs)

    def on_server_side(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Register a server-side event handler (or, without one, a decorator for it); see
        :meth:`SocketManager.on_server_side`."""
        return self.manager.on_server_side(event, handler)

    def server_side_emit(self, event: str, *args: Any) -> None:
        """See :meth:`SocketManager.server_side_emit`."""
        self.manager.server_side_emit(event, *args)

    async def server_side_call(self, event: str, *args: Any, timeout: float = 5.0) -> list[Any]:
        """See :meth:`SocketManager.server_side_call`."""
        return await self.manager.server_side_call(event, *args, timeout=timeout)
