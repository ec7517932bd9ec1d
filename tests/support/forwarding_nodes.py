"""Processes of a cluster in one test process, for forwarding and relaying: each node an HTTP
server behind a :class:`~tornio.transports.forwarding.ForwardingDelegate` on an in-process
bus, and a forwarder that hands a request straight to its owner's application (the bus's job in a
cluster)."""

from __future__ import annotations

import asyncio
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tornio import BaseNamespace, Router
from tornio.bus import InProcessBus
from tornio.transports import forwarding
from tornio.transports.forwarding import ForwardingDelegate, Wire

__all__ = ["DirectForwarder", "Echo", "Node"]


class Echo(BaseNamespace):
    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args


class DirectForwarder:
    """Hands requests straight to the owner's application (the bus's job in a cluster)."""

    def __init__(self) -> None:
        self.apps: dict[str, tornado.web.Application] = {}
        self.aborted: list[str] = []

    async def forward(self, node: str, request: Wire, timeout: float) -> Wire | None:
        app = self.apps.get(node)
        if app is None:
            return None
        return await asyncio.wait_for(forwarding.execute(app, request), timeout)

    def abort(self, node: str, request_id: str) -> None:
        self.aborted.append(request_id)
        forwarding.abort(request_id)


class Node:
    """One process's HTTP server behind a ForwardingDelegate, with an ``/echo`` namespace."""

    def __init__(
        self,
        bus: InProcessBus,
        forwarder: DirectForwarder,
        addresses: dict[str, tuple[str, int]] | None = None,
        **settings: Any,
    ) -> None:
        """``addresses``: node id → HTTP address, where websockets are relayed (the bus's
        node table in a cluster); every node made with the same dict is in it."""
        self.router = Router({"/echo": Echo}, bus=bus, **settings)
        self.manager = self.router.manager
        self.app = self.router.application()
        forwarder.apps[self.manager.node_id] = self.app
        self.delegate = ForwardingDelegate(
            self.app,
            lambda tag: tag == self.manager.node_id,
            forwarder,
            timeout=30,
            max_body=1_000_000,
            address_of=None if addresses is None else addresses.get,
        )
        self.http = HTTPServer(self.delegate)
        sockets = bind_sockets(0, "127.0.0.1")
        self.http.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        if addresses is not None:
            addresses[self.manager.node_id] = ("127.0.0.1", self.port)

    async def stop(self) -> None:
        self.http.stop()
        self.manager.close_all()
        await self.http.close_all_connections()
