"""A real Tornado server on 127.0.0.1, running in a background thread, for tests.

    with LiveServer(lambda: tornado.web.Application([...])) as server:
        requests.get(server.url + "/")          # any client, any thread
        server.call(lambda: state["count"])      # read state on the server thread
        server.stop()                            # clients see the server go away
        server.restart()                         # a fresh app on the same port

Each start creates a new thread, a new asyncio event loop and a new application (``app_factory``
is called on that loop thread), so a restart looks to clients like a restarted process: every
connection is closed, every timer and task of the old app is gone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import socket
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPServerConnectionDelegate
from tornado.iostream import IOStream
from tornado.netutil import bind_sockets

from tests.support.fastmode import fast_mode, serve_fast
from tornio.transports.fasthttp import FastHTTPServer

__all__ = ["LiveServer"]

log = logging.getLogger("tests.support.live")

T = TypeVar("T")

HOST = "127.0.0.1"


class _TrackingHTTPServer(HTTPServer):
    """An HTTPServer that remembers every accepted stream.

    ``HTTPServer.close_all_connections`` forgets streams that a handler has detached (websockets,
    hand-written protocols); this keeps a weak reference to each one so ``stop()`` can close them.
    """

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self.live_streams: weakref.WeakSet[IOStream] = weakref.WeakSet()

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        self.live_streams.add(stream)
        super().handle_stream(stream, address)

    def close_every_stream(self) -> None:
        for stream in list(self.live_streams):
            if not stream.closed():
                stream.close()

    def force_close_sockets(self) -> None:
        """Last resort from another thread when the loop is stuck: close the raw sockets."""
        for sock in [*self._sockets.values(), *(s.socket for s in list(self.live_streams))]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()


class LiveServer:
    """Runs ``app_factory()`` (any ``HTTPServerConnectionDelegate``, e.g. a
    ``tornado.web.Application``) behind a ``tornado.httpserver.HTTPServer`` on 127.0.0.1.

    ``port=0`` picks a free port on the first start; ``restart()`` reuses it.
    ``timeout`` bounds ``start``, ``stop``, ``call`` and ``run`` (each can override it).
    ``server_options`` are passed to ``HTTPServer`` (``xheaders``, ``max_body_size``, ...).
    Exceptions that reach the event loop's exception handler are kept in ``loop_errors``.
    """

    def __init__(
        self,
        app_factory: Callable[[], HTTPServerConnectionDelegate],
        *,
        port: int = 0,
        timeout: float = 10.0,
        server_options: dict[str, Any] | None = None,
    ) -> None:
        self.app_factory = app_factory
        self.timeout = timeout
        self.server_options: dict[str, Any] = dict(server_options or {})
        self.app: HTTPServerConnectionDelegate | None = None
        self.loop_errors: list[dict[str, Any]] = []
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: _TrackingHTTPServer | None = None
        self._fast: FastHTTPServer | None = None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("LiveServer has not been started yet, so it has no port")
        return self._port

    @property
    def host(self) -> str:
        return HOST

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> LiveServer:
        """Start the loop thread, create the app on it and listen. Returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("LiveServer is already running")
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._on_loop_exception)
        thread = threading.Thread(
            target=self._run_loop, args=(loop,), name=f"LiveServer:{self._port}", daemon=True
        )
        self._loop, self._thread = loop, thread
        thread.start()
        try:
            self.run(self._listen, timeout=timeout)
        except BaseException:
            self._teardown(timeout)
            raise
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop listening, close every open connection (detached websockets included), cancel
        the app's remaining tasks and end the loop thread. A no-op when not running.

        Raises RuntimeError if the loop thread does not finish within the timeout (a handler
        that blocks the loop, e.g. ``time.sleep``)."""
        if self._thread is None:
            return
        server = self._server
        try:
            self.run(self._close_server, timeout=timeout)
            closed = True
        except BaseException:
            closed = False
            raise
        finally:
            try:
                self._teardown(timeout)
            finally:
                if not closed and server is not None:
                    server.force_close_sockets()

    def restart(self, timeout: float | None = None) -> LiveServer:
        """``stop()`` then ``start()`` on the same port, with a fresh app from ``app_factory``."""
        self.stop(timeout)
        return self.start(timeout)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- running code on the server thread ----------------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run the plain function ``fn(*args)`` on the loop thread; return its result or raise
        its exception. Waits at most ``timeout`` (default ``self.timeout``), else TimeoutError."""
        loop = self._running_loop()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def invoke() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(invoke)
        return self._wait(future, timeout, f"call({_name(fn)})")

    def run(
        self,
        coro_fn: Callable[..., Awaitable[T]],
        *args: Any,
        timeout: float | None = None,
    ) -> T:
        """Run ``await coro_fn(*args)`` on the loop thread; return its result or raise its
        exception. On timeout the coroutine is cancelled and TimeoutError is raised."""
        loop = self._running_loop()

        async def invoke() -> T:
            return await coro_fn(*args)

        future = asyncio.run_coroutine_threadsafe(invoke(), loop)
        return self._wait(future, timeout, f"run({_name(coro_fn)})")

    # -- internals ---------------------------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._thread is None:
            raise RuntimeError("LiveServer is not running")
        return self._loop

    def _wait(self, future: concurrent.futures.Future[T], timeout: float | None, what: str) -> T:
        limit = self.timeout if timeout is None else timeout
        try:
            return future.result(limit)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"LiveServer.{what} did not finish within {limit} s") from None

    def _run_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            # stop() ended the loop: cancel whatever the app left behind, then close.
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(_settle(pending, self.timeout))
            loop.run_until_complete(loop.shutdown_asyncgens())
        except Exception:
            log.exception("LiveServer loop thread failed while shutting down")
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    async def _listen(self) -> None:
        self.app = self.app_factory()
        sockets = self._bind()
        server = _TrackingHTTPServer(self.app, **self.server_options)
        self._fast = None
        if fast_mode():
            xheaders = bool(self.server_options.get("xheaders"))
            self._fast = serve_fast(self.app, server, sockets, xheaders)
        if self._fast is None:
            server.add_sockets(sockets)
        self._server = server
        self._port = sockets[0].getsockname()[1]

    def _bind(self) -> list[socket.socket]:
        # bind_sockets sets SO_REUSEADDR, so a restart can take the port back while old
        # connections sit in TIME_WAIT; retry briefly if it is still held by something else.
        deadline = time.monotonic() + min(self.timeout, 5.0)
        while True:
            try:
                return bind_sockets(self._port, HOST, family=socket.AF_INET)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or not self._port:
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    async def _close_server(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        fast, self._fast = self._fast, None
        if fast is not None:
            fast.stop()
            fast.close_all_connections()
        server.stop()
        server.close_every_stream()
        try:
            await asyncio.wait_for(server.close_all_connections(), self.timeout / 2)
        except asyncio.TimeoutError:
            log.warning("LiveServer: connections still open after %s s", self.timeout)
        # Let close callbacks (on_close, on_connection_close) run before the loop ends.
        for _ in range(5):
            await asyncio.sleep(0)
        await asyncio.sleep(0.02)

    def _teardown(self, timeout: float | None) -> None:
        loop, thread = self._loop, self._thread
        self._loop, self._thread = None, None
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already closed itself
            loop.call_soon_threadsafe(loop.stop)
        limit = self.timeout if timeout is None else timeout
        thread.join(limit)
        if thread.is_alive():
            raise RuntimeError(
                f"LiveServer loop thread did not stop within {limit} s; "
                "is something blocking the event loop?"
            )

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.loop_errors.append(context)
        loop.default_exception_handler(context)


async def _settle(tasks: list[asyncio.Task[Any]], timeout: float) -> None:
    _done, pending = await asyncio.wait(tasks, timeout=timeout)
    if pending:
        log.warning("LiveServer: %d task(s) ignored cancellation", len(pending))


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
