"""A Flask-like WSGI application written for gevent-socketio, imports renamed: its
``/socket.io/...`` view calls ``socketio_manage(environ, namespaces, request)`` with the
namespaces of the view its ``view`` query argument names (``a``, ``b``; ``wait`` is ``a``
once the test opens ``App.gate``; ``boom`` raises; anything else answers 404 without
calling it). Used by tests/test_compat_manage.py, in process under ``SocketIOServer`` and
as ``tornio serve tests.apps.gevent_wsgi:router --workers 2``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from tornio import BaseNamespace as TornioNamespace
from tornio import Router, socketio_manage
from tornio.mixins import BroadcastMixin
from tornio.namespace import BaseNamespace

__all__ = ["JOBS", "App", "Global", "OtherProbe", "Probe", "ViewRequest", "router"]


class ViewRequest:
    """What a framework's view passes as ``request`` (Flask's, Pyramid's...)."""

    def __init__(self, environ: dict[str, Any], view: str) -> None:
        self.environ = environ
        self.view = view


class Probe(BaseNamespace, BroadcastMixin):
    """The ``/chat`` namespace of view ``a``."""

    def on_whoami(self) -> dict[str, Any]:
        return {
            "view": self.request.view,
            "path": self.environ["PATH_INFO"],
            "request_is_the_views": self.socket.request is self.request,
            "environ_is_the_views": self.environ is self.request.environ,
        }

    def on_price(self) -> Decimal:
        return Decimal("1.5")

    def on_shout(self) -> bool:
        self.broadcast_event("price", Decimal("2.25"))
        return True

    def on_attributes(self) -> dict[str, Any]:
        socket = self.socket
        return {
            "state": socket.state,
            "hits": socket.hits,
            "server_has_me": socket.server.sockets.get(socket.sessid) is socket,
            "namespaces": sorted(socket.namespaces),
            "environ": socket.environ is self.environ,
            "in_chat": "/chat" in socket,
        }

    def on_spawn(self) -> bool:
        async def forever() -> None:
            await asyncio.Event().wait()

        JOBS.append(self.socket.spawn(forever))
        return True

    def on_no_self(this, x: int) -> int:  # gevent-socketio refuses it
        return x


class Global(BaseNamespace):
    def on_hello(self) -> str:
        return "global " + self.request.view


class OtherProbe(TornioNamespace):
    """The ``/chat`` namespace of view ``b``: tornio's own class, whose rule for the first
    parameter is tornio's."""

    def on_whoami(self) -> dict[str, Any]:
        return {"view": self.request.view}

    def on_no_self(this, x: int) -> int:  # tornio takes it
        return x


JOBS: list[asyncio.Task[Any]] = []


class App:
    """A Flask-like WSGI application: ``/socket.io/...`` goes to the Socket.IO view, which
    picks the namespaces by the ``view`` query argument."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # (view, path)
        self.threads: set[int] = set()
        self.gate = threading.Event()
        self.gate.set()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if not path.startswith("/socket.io/"):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"a page"]
        view = parse_qs(environ["QUERY_STRING"]).get("view", ["a"])[0]
        self.calls.append((view, path))
        self.threads.add(threading.get_ident())
        if view == "wait":
            self.gate.wait(10)
        if view in ("a", "wait"):
            socketio_manage(environ, {"": Global, "/chat": Probe}, ViewRequest(environ, "a"))
        elif view == "b":
            socketio_manage(environ, {"/chat": OtherProbe}, ViewRequest(environ, view))
        elif view == "boom":
            raise RuntimeError("the view failed")
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no such view"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]



#: For ``tornio serve``: no namespaces, each socket's come from the view.
router = Router({}, wsgi_app=App())
