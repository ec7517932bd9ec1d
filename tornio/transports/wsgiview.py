"""The WSGI application's view for a socket being opened: gevent-socketio's way of giving a
socket its namespaces (``socketio_manage``), run in a thread.

:class:`WsgiOpener` is the socket manager's *opener* (:mod:`tornio.core.opening` says when
it runs and what happens around it). It calls the WSGI application once per socket, as
gevent-socketio's handler did on a socket's first transport connection: with the environ of
the request that opened the socket (a 0.9 client's first transport request, a modern
client's Engine.IO handshake), its path ``/socket.io/...`` unchanged so that the
application's URL dispatch finds its Socket.IO view, and ``environ['socketio']`` the socket.
The view calls :func:`~tornio.core.opening.socketio_manage`; its response is read to the end
in the same thread (a Django response's ``close()``, which ends the request and closes its
database connections, runs there too) and dropped.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from tornado.httputil import HTTPHeaders
from tornado.wsgi import WSGIContainer

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from tornio.core.socket import Socket

__all__ = ["WsgiOpener", "finished_in_thread", "run_view", "wsgi_environ"]

log = logging.getLogger("tornio.transports.wsgiview")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def finished_in_thread(app: WSGIApp) -> WSGIApp:
    """``app`` with its response read and closed in the thread that made it, and header
    values Tornado accepts: what tornio's WSGI containers serve.

    Tornado's WSGI container buffers the whole response anyway; closing it here means
    Django's ``request_finished`` (which closes that thread's database connections) runs in
    the same thread as the request, not on the event loop. Django writes ``Set-Cookie``
    values with a leading space (``cookie.output(header="")``), which Tornado >= 6.5
    rejects: they are stripped.
    """
    if getattr(app, "finished_in_thread", False):
        return app

    def finished(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            return start_response(status, [(k, v.strip()) for k, v in headers], *exc_info)

        response = app(environ, start)
        try:
            return [b"".join(response)]
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()

    finished.finished_in_thread = True  # type: ignore[attr-defined]
    return finished


def wsgi_environ(container: WSGIContainer, request: HTTPServerRequest | None) -> dict[str, Any]:
    """A full WSGI environ for ``request`` (Tornado's), which is left as it was."""
    if request is None:
        return {}
    copied = copy.copy(request)
    copied.headers = HTTPHeaders(request.headers)  # WSGIContainer.environ pops from them
    return container.environ(copied)


def run_view(app: WSGIApp, environ: dict[str, Any]) -> str | None:
    """Call ``app`` (in the calling thread), read its response to the end (None, which a
    view may return after ``socketio_manage``, is no response) and close it; the status line
    it answered (None: it never started a response).

    Raises:
        Exception: what the application raised.
    """
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
        status[:] = [line]
        return lambda data: None  # the legacy write(): nobody reads this response

    response = app(environ, start_response)
    if response is None:
        # A view that called socketio_manage and returned nothing (gevent-socketio's own
        # jstests app does): gevent-socketio never read what a Socket.IO view returned.
        return status[0] if status else None
    try:
        for _ in response:
            pass
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()
    return status[0] if status else None


class WsgiOpener:
    """Runs the WSGI application for a socket being opened, on ``executor`` (a callable
    returning the thread pool, made when first needed: after a worker process forked)."""

    def __init__(self, app: WSGIApp, executor: Callable[[], Executor]) -> None:
        self.app = app
        self.executor = executor

    async def __call__(self, socket: Socket) -> str | None:
        pool = self.executor()
        environ = wsgi_environ(WSGIContainer(self.app, pool), socket.request)
        environ["socketio"] = socket
        status = await asyncio.get_running_loop().run_in_executor(
            pool, run_view, self.app, environ
        )
        log.debug("socket %s opened by its view: %s", socket.sessid, status)
        return status
