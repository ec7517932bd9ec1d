"""``SocketIOServer``: gevent-socketio's server, on Tornado.

    SocketIOServer(('', 8000), app, namespaces={'/chat': ChatNamespace}).serve_forever()

``app`` serves every path that is not Socket.IO's: a Tornado application (any
``HTTPServerConnectionDelegate``), or a WSGI callable (a Django project), which runs in a
thread pool so that it never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket as stdsocket
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPServerConnectionDelegate
from tornado.netutil import bind_sockets
from tornado.routing import AnyMatches, PathMatches, Rule, RuleRouter
from tornado.wsgi import WSGIContainer

from tornio.protocol.flashpolicy import policy_answer
from tornio.router import Router
from tornio.settings import http_server_options
from tornio.transports.forwarded import ForwardedHeaders
from tornio.transports.inline_policy import InlinePolicyHTTPServer

if TYPE_CHECKING:
    from tornio.bus import Bus
    from tornio.core.namespace import BaseNamespace
    from tornio.policy import PolicySupervisor

__all__ = ["SocketIOServer"]

log = logging.getLogger("tornio.server")


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
            function, as for :class:`~tornio.router.Router`).
        bus: the bus joining this server to others; in-process by default.
        wsgi_threads: size of the thread pool a WSGI application runs in.
        settings: any :class:`~tornio.settings.Settings` field.
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
        self.listener = listener
        self.policy_server = policy_server
        self.router = Router(namespaces or {}, resource=resource, bus=bus, **settings)
        self._executor: ThreadPoolExecutor | None = None
        fallback: Any
        if application is None:
            fallback = WSGIContainer(_not_found_app)
        elif isinstance(application, HTTPServerConnectionDelegate):
            fallback = application
        elif callable(application):
            self._executor = ThreadPoolExecutor(wsgi_threads, thread_name_prefix="tornio-wsgi")
            fallback = WSGIContainer(application, executor=self._executor)
        else:
            raise TypeError("application must be a Tornado application or a WSGI callable")
        resource_path = PathMatches("/" + re.escape(self.router.settings.resource) + r"(/.*)?$")
        self.delegate = RuleRouter(
            [
                Rule(resource_path, self.router.application()),
                Rule(AnyMatches(), fallback),
            ]
        )
        self.http_server: HTTPServer | None = None
        #: The Flash policy process's supervisor, while one runs.
        self.policy: PolicySupervisor | None = None
        self.sockets: list[stdsocket.socket] = []
        self._stopped: asyncio.Event | None = None

    @property
    def port(self) -> int:
        """The port listened on (useful with port 0)."""
        return int(self.sockets[0].getsockname()[1])

    def start(self) -> None:
        """Bind and start serving on the running event loop."""
        host, port = self.listener
        self.sockets = bind_sockets(port, host or None)
        settings = self.router.settings
        # X-Forwarded-For and friends count only from the trusted_proxies (none by default).
        delegate = ForwardedHeaders(self.delegate, settings.trusted_proxies)
        if "flashsocket" in settings.transports:
            # Flash may ask this port for the policy too (when the policy port is closed).
            self.http_server = InlinePolicyHTTPServer(
                delegate, policy_answer=policy_answer(settings.origins),
                **http_server_options(settings),
            )
        else:
            self.http_server = HTTPServer(delegate, **http_server_options(settings))
        self.http_server.add_sockets(self.sockets)
        log.info("tornio serving on %s:%d", host or "*", self.port)
        if self.policy_server and self.policy is None and "flashsocket" in settings.transports:
            # Imported here: ``python -m tornio.policy`` imports tornio (and so this module)
            # before it runs, and must not find itself imported already.
            from tornio.policy import PolicySupervisor

            self.policy = PolicySupervisor(
                port=settings.policy_port, host=host, origins=settings.origins
            ).start()

    async def stop(self) -> None:
        """Stop listening, end every session and close open connections."""
        if self.http_server is not None:
            self.http_server.stop()
            self.router.manager.close_all()
            await self.http_server.close_all_connections()
            self.http_server = None
        if self.policy is not None:
            policy, self.policy = self.policy, None
            await asyncio.get_running_loop().run_in_executor(None, policy.stop)
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
            if self._executor is not None:
                self._executor.shutdown(wait=False)
