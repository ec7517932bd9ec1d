"""A tornio server on the test's own event loop (for async protocol-level tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tornio import Router
from tornio.core.namespace import BaseNamespace

__all__ = ["InLoopServer"]


class InLoopServer:
    """``await InLoopServer.start(namespaces, **settings)``; then ``.base``, ``.manager``."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.manager = router.manager
        self.http = HTTPServer(router.application(), xheaders=True)
        self.sockets = bind_sockets(0, "127.0.0.1")
        self.http.add_sockets(self.sockets)
        self.port = self.sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(
        cls, namespaces: Mapping[str, type[BaseNamespace]], **settings: Any
    ) -> InLoopServer:
        return cls(Router(namespaces, **settings))

    async def stop(self) -> None:
        self.http.stop()
        self.manager.close_all()
        await self.http.close_all_connections()
