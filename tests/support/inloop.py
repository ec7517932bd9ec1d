"""A tornio server on the test's own event loop (for async protocol-level tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.support.fastmode import fast_mode, serve_fast
from tornio import Router
from tornio.core.namespace import BaseNamespace
from tornio.transports.fasthttp import FastHTTPServer

__all__ = ["InLoopServer"]


class InLoopServer:
    """``await InLoopServer.start(namespaces, **settings)``; then ``.base``, ``.manager``."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.manager = router.manager
        app = router.application()
        self.http = HTTPServer(app, xheaders=True)
        self.sockets = bind_sockets(0, "127.0.0.1")
        #: The fast HTTP path in front of ``http`` (TORNIO_TEST_HTTP=fast), or None.
        self.fast: FastHTTPServer | None = None
        if fast_mode():
            self.fast = serve_fast(app, self.http, self.sockets, xheaders=True)
        if self.fast is None:
            self.http.add_sockets(self.sockets)
        self.port = self.sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(
        cls, namespaces: Mapping[str, type[BaseNamespace]], **settings: Any
    ) -> InLoopServer:
        return cls(Router(namespaces, **settings))

    async def stop(self) -> None:
        if self.fast is not None:
            self.fast.stop()
            self.fast.close_all_connections()
        self.http.stop()
        self.manager.close_all()
        await self.http.close_all_connections()
