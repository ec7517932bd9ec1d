"""``SocketIOServer``: gevent-socketio's server, on Tornado.

    SocketIOServer(('', 8000), app, namespaces={'/chat': ChatNamespace}).serve_forever()

``app`` serves every path that is not Socket.IO's: a Tornado application (any
``HTTPServerConnectionDelegate``), or a WSGI callable (a Django project), which runs in a
thread pool so that it never blocks the event loop. Given a WSGI callable and no
``namespaces``, the server works as gevent-socketio's: each socket's namespaces come from
the application's view calling ``socketio_manage`` (:mod:`tornio.core.opening`).

Every keyword of gevent-socketio's ``SocketIOServer``, of its handler and of gevent's
``WSGIServer`` is accepted (:data:`GEVENT_KEYWORDS` says what each becomes), beside
tornio's settings. Its JSON is gevent-socketio's too: a ``Decimal`` is written as a float,
unless ``json`` or ``json_default`` is given.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket as stdsocket
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPServerConnectionDelegate
from tornado.log import access_log as ACCESS_LOG
from tornado.netutil import bind_sockets
from tornado.routing import AnyMatches, PathMatches, Rule, RuleRouter
from tornado.web import Application
from tornado.wsgi import WSGIContainer

from tornio.protocol.flashpolicy import policy_answer
from tornio.protocol.jsoncodec import decimal_default
from tornio.router import Router
from tornio.settings import http_server_options
from tornio.transports.forwarded import ForwardedHeaders
from tornio.transports.heads import HeadLimitHTTPServer
from tornio.transports.inline_policy import InlinePolicyHTTPServer
from tornio.transports.wsgiview import finished_in_thread

if TYPE_CHECKING:
    from tornio.bus import Bus
    from tornio.core.namespace import BaseNamespace
    from tornio.policy import PolicySupervisor

__all__ = ["GEVENT_KEYWORDS", "SocketIOServer", "serve", "serve_paste"]

log = logging.getLogger("tornio.server")

#: The keywords of gevent-socketio's ``SocketIOServer`` (and of its handler and gevent's
#: ``WSGIServer``) that are not tornio settings, and what each becomes. Those "ignored" have
#: no meaning on Tornado: accepted, with one WARNING per process.
GEVENT_KEYWORDS = {
    "namespace": "the resource (gevent-socketio's deprecated name for it)",
    "policy_listener": "(host, port) of the Flash policy server: its host and policy_port",
    "log_file": "a file the access log (the tornado.access logger) is appended to",
    "log": "a file-like object the access log is written to ('default' or None: ignored)",
    "backlog": "the listening socket's backlog",
    "keyfile": "TLS: the key file",
    "certfile": "TLS: the certificate file",
    "ca_certs": "TLS: the CA certificates the client's are checked against",
    "cert_reqs": "TLS: ssl.CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED",
    "ciphers": "TLS: the ciphers allowed",
    "ssl_context": "TLS: an ssl.SSLContext, used as it is",
    "handler_class": "ignored: tornio's handlers are Tornado's",
    "ws_handler_class": "ignored: tornio's websocket handlers are its own",
    "spawn": "ignored: there are no greenlets (blocking code: see the migration guide)",
    "error_log": "ignored: errors go to the tornio and tornado loggers",
    "environ": "ignored: the WSGI environ is Tornado's",
    "ssl_version": "ignored: the TLS version is negotiated (ssl.PROTOCOL_TLS_SERVER)",
    "do_handshake_on_connect": "ignored: Tornado does the TLS handshake",
    "suppress_ragged_eofs": "ignored",
}
_TLS_KEYWORDS = ("keyfile", "certfile", "ca_certs", "cert_reqs", "ciphers", "ssl_context")
_warned: set[str] = set()


def _ignored(name: str) -> None:
    if name not in _warned:
        _warned.add(name)
        log.warning("SocketIOServer(%s=...) is accepted for gevent-socketio's sake and "
                    "ignored: %s", name, GEVENT_KEYWORDS[name].removeprefix("ignored: "))


def _tls_context(options: dict[str, Any]) -> ssl.SSLContext | None:
    """An SSL context from gevent's TLS keywords (None: no TLS)."""
    context = options.get("ssl_context")
    if context is not None:
        if not isinstance(context, ssl.SSLContext):
            raise TypeError(f"ssl_context must be an ssl.SSLContext, not {context!r}")
        return context
    if options.get("certfile") is None:
        if options:
            raise ValueError("TLS needs a certfile (and a keyfile, unless it holds the key)")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(options["certfile"], options.get("keyfile"))
    if options.get("ca_certs") is not None:
        context.load_verify_locations(options["ca_certs"])
    if options.get("cert_reqs") is not None:
        context.verify_mode = options["cert_reqs"]
    if options.get("ciphers") is not None:
        context.set_ciphers(options["ciphers"])
    return context


def _not_found_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"Not Found"]


class SocketIOServer:
    """Serve Socket.IO under ``/<resource>`` and ``application`` everywhere else.

    Args:
        listener: ``(host, port)``; port 0 picks a free one (see :attr:`port`).
        application: a Tornado application or a WSGI callable, or None.
        resource: the Socket.IO URL prefix.
        transports: the transports served, in preference order (default: all).
        policy_server: run the Flash policy server (:mod:`tornio.policy`) as a child process
            on the ``policy_port`` setting (10843) when flashsocket is served, restarted if it
            dies; a port that is taken is logged and the HTTP server runs without it. (With
            flashsocket served, the HTTP port answers a policy request too.)
        namespaces: endpoint → namespace class (a key may be a dynamic namespace's regex or
            function, as for :class:`~tornio.router.Router`). None with a WSGI
            ``application``: its view gives them (``socketio_manage``).
        bus: the bus joining this server to others; in-process by default.
        wsgi_threads: size of the thread pool a WSGI application runs in.
        settings: any :class:`~tornio.settings.Settings` field, and gevent-socketio's own
            keywords (:data:`GEVENT_KEYWORDS`).
    """

    def __init__(
        self,
        listener: tuple[str, int],
        application: Any = None,
        resource: str = "socket.io",
        transports: Sequence[str] | None = None,
        policy_server: bool = True,
        namespaces: Mapping[Any, type[BaseNamespace]] | None = None,
        bus: Bus | None = None,
        wsgi_threads: int = 16,
        **settings: Any,
    ) -> None:
        if transports is not None:
            settings["transports"] = tuple(transports)
        resource = self._gevent_keywords(settings, resource)
        if settings.get("json") is None and settings.get("json_default") is None:
            settings["json_default"] = decimal_default  # gevent-socketio's JSON
        self.listener = listener
        self.policy_server = policy_server
        wsgi_app: Any = None
        if application is None or isinstance(application, HTTPServerConnectionDelegate):
            pass
        elif callable(application):
            wsgi_app = application
        else:
            raise TypeError("application must be a Tornado application or a WSGI callable")
        self.router = Router(namespaces or {}, resource=resource, bus=bus, wsgi_app=wsgi_app,
                             wsgi_threads=wsgi_threads, **settings)
        #: The WSGI application's container (its pool is renewed by a start after a stop).
        self._wsgi_container: WSGIContainer | None = None
        fallback: Any
        if application is None:
            fallback = WSGIContainer(_not_found_app)
        elif wsgi_app is None:
            fallback = application
        else:
            fallback = self._wsgi_container = WSGIContainer(
                finished_in_thread(application), executor=self.router.wsgi_executor()
            )
        resource_path = PathMatches("/" + re.escape(self.router.settings.resource) + r"(/.*)?$")
        self.delegate = RuleRouter(
            [
                Rule(resource_path, Application([*self.router.urls, *self.router.handlers])),
                Rule(AnyMatches(), fallback),
            ]
        )
        self.http_server: HTTPServer | None = None
        #: The Flash policy process's supervisor, while one runs.
        self.policy: PolicySupervisor | None = None
        self.sockets: list[stdsocket.socket] = []
        self._stopped: asyncio.Event | None = None

    def _gevent_keywords(self, settings: dict[str, Any], resource: str) -> str:
        """Take gevent-socketio's keywords out of ``settings`` (see :data:`GEVENT_KEYWORDS`);
        the resource."""
        if "namespace" in settings:
            if "namespace" not in _warned:
                _warned.add("namespace")
                log.warning("SocketIOServer(namespace=...) is gevent-socketio's deprecated "
                            "name of resource=")
            resource = settings.pop("namespace")
        self.policy_host: str | None = None
        listener = settings.pop("policy_listener", None)
        if listener is not None:
            host, port = listener
            self.policy_host = host
            settings.setdefault("policy_port", port)
        self.backlog: int = settings.pop("backlog", None) or 128
        self.access_log: logging.Handler | None = None
        log_file, log_to = settings.pop("log_file", None), settings.pop("log", None)
        if log_file:
            self.access_log = logging.FileHandler(log_file, delay=True)
        elif log_to is not None and log_to != "default" and hasattr(log_to, "write"):
            self.access_log = logging.StreamHandler(log_to)
        self.ssl_context = _tls_context(
            {key: settings.pop(key) for key in _TLS_KEYWORDS if key in settings}
        )
        for name in [key for key in settings if key in GEVENT_KEYWORDS]:
            settings.pop(name)
            _ignored(name)
        return resource

    @property
    def port(self) -> int:
        """The port listened on (useful with port 0)."""
        return int(self.sockets[0].getsockname()[1])

    def start(self) -> None:
        """Bind and start serving on the running event loop."""
        host, port = self.listener
        if self._wsgi_container is not None:  # a new pool after stop() shut the last one
            self._wsgi_container.executor = self.router.wsgi_executor()
        self.sockets = bind_sockets(port, host or None, backlog=self.backlog)
        settings = self.router.settings
        # X-Forwarded-For and friends count only from the trusted_proxies (none by default).
        delegate = ForwardedHeaders(self.delegate, settings.trusted_proxies)
        options = http_server_options(settings)
        if self.ssl_context is not None:
            options["ssl_options"] = self.ssl_context
        if self.access_log is not None and self.access_log not in ACCESS_LOG.handlers:
            ACCESS_LOG.addHandler(self.access_log)
            ACCESS_LOG.setLevel(logging.INFO)
        if "flashsocket" in settings.transports:
            # Flash may ask this port for the policy too (when the policy port is closed).
            self.http_server = InlinePolicyHTTPServer(
                delegate, policy_answer=policy_answer(settings.origins), **options,
            )
        else:
            self.http_server = HeadLimitHTTPServer(delegate, **options)
        self.http_server.add_sockets(self.sockets)
        log.info("tornio serving on %s:%d", host or "*", self.port)
        if self.policy_server and self.policy is None and "flashsocket" in settings.transports:
            # Imported here: ``python -m tornio.policy`` imports tornio (and so this module)
            # before it runs, and must not find itself imported already.
            from tornio.policy import PolicySupervisor

            policy_host = host if self.policy_host is None else self.policy_host
            self.policy = PolicySupervisor(
                port=settings.policy_port, host=policy_host, origins=settings.origins
            ).start()

    async def stop(self) -> None:
        """Stop listening, end every session and close open connections."""
        if self.http_server is not None:
            self.http_server.stop()
            self.router.manager.close_all()
            await self.http_server.close_all_connections()
            self.http_server = None
        self.router.close_wsgi_executor()
        if self.policy is not None:
            policy, self.policy = self.policy, None
            await asyncio.get_running_loop().run_in_executor(None, policy.stop)
        if self.access_log is not None:
            ACCESS_LOG.removeHandler(self.access_log)
            self.access_log.close()
        if self._stopped is not None:
            self._stopped.set()

    def serve_forever(self) -> None:
        """Run until interrupted (Ctrl-C)."""

        async def main() -> None:
            self._stopped = asyncio.Event()
            self.start()
            await self._stopped.wait()

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            pass
        finally:
            if self.policy is not None:
                self.policy.stop()
                self.policy = None
            self.router.close_wsgi_executor()


_TRUE = ("true", "enable", "yes", "on", "1")


def serve(app: Any, **kw: Any) -> None:
    """gevent-socketio's ``serve(app, **kw)``: :class:`SocketIOServer` for ``app`` on
    ``host`` (127.0.0.1) and ``port`` (6543), until interrupted. ``transports`` may be a
    comma-separated string, ``policy_server`` a string ("true", "on"...; off by default, then
    on ``policy_listener_host``:``policy_listener_port``, 10843); the rest are
    :class:`SocketIOServer` keywords."""
    quiet = kw.pop("_quiet", False)
    host = kw.pop("host", "127.0.0.1")
    port = int(kw.pop("port", 6543))
    transports = kw.pop("transports", None)
    if isinstance(transports, str):
        transports = [name.strip() for name in transports.split(",") if name.strip()]
    policy = kw.pop("policy_server", False)
    policy_server = policy is True or str(policy).lower() in _TRUE
    listener_host = kw.pop("policy_listener_host", host)
    listener_port = int(kw.pop("policy_listener_port", 10843))
    if policy_server:
        kw["policy_listener"] = (listener_host, listener_port)
    server = SocketIOServer((host, port), app, transports=transports,
                            policy_server=policy_server, **kw)
    if not quiet:
        log.info("serving on http://%s:%s", host, port)
    server.serve_forever()


def serve_paste(app: Any, global_conf: Any, **kw: Any) -> int:
    """gevent-socketio's Paste server runner (``use = egg:...#paster``): :func:`serve`."""
    serve(app, **kw)
    return 0
