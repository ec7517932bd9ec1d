"""A fast HTTP/1.1 path for a few routes: requests parsed by httptools (llhttp, uvicorn's
parser) on an ``asyncio.Protocol``, answered by the transports' own handler code without
Tornado's per-request machinery (``IOStream``, ``HTTP1Connection``, routing, handler set-up).

Everything else is handed to Tornado: the connection becomes an ``IOStream`` whose read buffer
holds the bytes already received (from the start of the request that is not ours), and the
``HTTPServer`` takes it as if it had accepted it. "Not ours" is anything a route does not
claim, and anything unusual: not HTTP/1.1, a method other than GET/POST/OPTIONS, an upgrade,
``Expect``, a head that does not end in CRLF CRLF, a parse error (Tornado then answers it as
it always did), a body larger than the server takes. So the answers to bad input are
Tornado's, or the handlers' own, but one: a request head larger than the HTTPServer's
``max_header_size`` is answered here, 431, however it arrives (one read or many), and the
connection closed (Tornado closes such a connection without an answer).

A handler class for this path is :class:`FastExchange` mixed in front of an ordinary
``RequestHandler`` subclass: the handler's methods run unchanged on the subset of the
``RequestHandler`` interface that the exchange provides (``request``, ``path_args``,
``set_status``, ``set_header``, ``get_query_argument``, ``finish``, ``prepare``,
``data_received``, ``on_connection_close``); the answer is written as Tornado writes it
(same status line, default headers, ``Content-Length``, ``Connection: close``).

Requests on one connection are served one at a time, in order (as Tornado does): while an
answer is pending (a held long poll), later bytes wait in the buffer; a client that leaves
meanwhile is noticed (``on_connection_close``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import socket
import time
from collections.abc import Callable
from types import CoroutineType
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPHeaders
from tornado.iostream import IOStream
from tornado.netutil import add_accept_handler

from tornio.transports.fastexchange import SERVER, FastExchange, Route
from tornio.transports.fastrequest import (
    HEADER_KEYS,
    FastRequest,
    head_end,
    header_keys,
    peer_client,
    request_headers,
)
from tornio.transports.handoff import hand_off
from tornio.transports.heads import HEAD_TOO_LARGE
from tornio.transports.readbuffer import BufferedReads, shared_buffer

try:
    import httptools
except ImportError:  # pragma: no cover - the extra is not installed
    httptools = None  # type: ignore[assignment]

__all__ = [
    "AVAILABLE",
    "SERVER",
    "FastConnection",
    "FastExchange",
    "FastHTTPServer",
    "FastRequest",
    "Route",
]

log = logging.getLogger("tornio.transports.fasthttp")

#: Whether httptools is importable (``pip install 'tornio[speed]'``).
AVAILABLE = httptools is not None

#: Tornado's default ``max_header_size``, used when the HTTPServer names none: a longer
#: request head is refused with 431 (:meth:`FastConnection.refuse_head`).
MAX_HEADER_SIZE = 65536
#: A Host header the fast path takes (a subset of what Tornado takes: anything else, or none,
#: goes to Tornado, which refuses a missing, repeated or malformed one).
PLAIN_HOST = re.compile(rb"[A-Za-z0-9\-._~!$&'()*+;=\[\]:]*")
#: The methods served here, as httptools names them -> as ``str``.
FAST_METHODS = {name.encode(): name for name in ("GET", "POST", "OPTIONS")}
HANDLER_METHODS = {method: method.lower() for method in FAST_METHODS.values()}  # the handler's
#: Up to how many bytes a part of a body is fed to the parser as a copy (a memoryview's
#: set-up costs more than copying a small body).
FEED_COPY = 65536
_BLANKS = (b" ", b"\t")  # what may end a header value and not be part of it


def _no_loop(*args: Any) -> asyncio.Handle:
    raise RuntimeError("the connection is not made yet")


#: ``(method, uri, path, raw headers) -> Route | None`` (the headers by lower-case name, as
#: :attr:`FastConnection.raw`); None hands the request to Tornado.
RouteFinder = Callable[[str, str, str, dict[str, bytes]], "Route | None"]


class FastConnection(BufferedReads):
    """One client connection on the fast path (until it is handed to Tornado)."""

    def __init__(self, server: FastHTTPServer, address: tuple[Any, ...] | None = None) -> None:
        self.server = server
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.buffer = bytearray()
        self.exchange: FastExchange | None = None
        self.task: asyncio.Task[None] | None = None
        self.reading_head = True
        self.remaining = 0  # body bytes still to read (Content-Length)
        self.chunked = False
        self.complete = False  # the parser saw the end of the current request
        self.waiting = False  # a request is complete, its answer pending
        self.processing = False
        self.scheduled = False  # process() is to run soon
        self.handed_off = False
        self.lost = False
        #: Answered 431: what else arrives is dropped until the client closes, or the
        #: header timeout does (a lingering close, so that the answer is not lost to a reset).
        self.refused = False
        self.paused = False
        self.drain_waiter: asyncio.Future[None] | None = None
        self._url = b""
        #: The request's header fields: (name as ``HTTPHeaders`` writes it, value) in turn.
        self._fields: list[Any] = []
        #: The request in flight as an ``HTTPServerRequest``, once something asked for it.
        self._request: FastRequest | None = None
        #: Its headers by lower-case name (values as received; a repeated one's joined by
        #: commas, as ``HTTPHeaders.get`` joins them).
        self.raw: dict[str, bytes] = {}
        # The request in flight's method, URI and Host (set by _route); peer_client's answer.
        self.method = self.uri = self.query = ""  # (the query: what follows the URI's "?")
        self._plain_host = b""  # the last Host value seen to be plain
        self._host: bytes | None = None
        self._peer: tuple[str, str] | None = None
        self.call_soon: Callable[..., asyncio.Handle] = _no_loop
        #: When the wait for the current request's head (or body) began.
        self.since = 0.0

    # The handlers look at ``request.connection.stream.closed()``.
    @property
    def stream(self) -> FastConnection:
        return self

    def closed(self) -> bool:
        return self.lost or self.handed_off

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = transport  # type: ignore[assignment]
        self.call_soon = asyncio.get_running_loop().call_soon
        if self.address is None:
            self.address = transport.get_extra_info("peername") or ("", 0)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.since = time.monotonic()
        self.server.connections.add(self)
        self.server.watch()

    def buffer_updated(self, nbytes: int) -> None:
        with shared_buffer()[:nbytes] as data:
            self.data_received(data)

    def data_received(self, data: bytes | memoryview) -> None:
        if self.refused:
            return
        self.buffer += data
        if not self.processing and not self.scheduled:
            # Served after the other events of this turn of the loop: a client that closed a
            # held poll's connection and sent its next request on another connection in the
            # same moment has its close seen first (eof_received), as Tornado would.
            self.scheduled = True
            pending = self.server.pending  # (FastHTTPServer.schedule, inline)
            if not pending:
                self.call_soon(self.server.run_pending)
            pending += (self,)
        if len(self.buffer) > self.server.max_buffer_size and not self.paused:
            self.paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]

    def eof_received(self) -> None:
        """The client closed: what it sent whole is served, a request held is abandoned now
        (not a turn later, in connection_lost); then the transport closes."""
        if self.scheduled and not self.processing:
            self.process()
        if not self.handed_off:
            self.lost = True
            self._abandon()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.lost = True
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)
        if not self.handed_off:
            self._abandon()

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)

    def timed_out(self, now: float, header_timeout: float | None,
                  body_timeout: float | None) -> bool:
        """Close the connection if it waited too long for a request's head or body, as
        Tornado's ``HTTP1Connection`` does (a body's timeout is logged). A request read
        whole and waiting for its answer (a held poll) has no such limit."""
        if self.waiting or self.lost or self.handed_off:
            return False
        limit = header_timeout if self.reading_head or self.refused else body_timeout
        if limit is None or now - self.since < limit:
            return False
        if not self.reading_head and not self.refused:
            log.info("Timeout reading body from %s", self.address)
        self._close()
        return True

    # -- httptools callbacks ------------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if value[-1:] in _BLANKS:  # llhttp strips the leading blanks, not the trailing ones
            value = value.strip(b" \t")
        keys = HEADER_KEYS[name] if name in HEADER_KEYS else header_keys(name)
        # The ``HTTPHeaders`` are made from the fields when a request is (new_request).
        self._fields += (keys[0], value)
        raw, lower = self.raw, keys[1]
        raw[lower] = raw[lower] + b"," + value if lower in raw else value

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        if exchange is None or exchange.finished:
            return
        if exchange.streams_body:
            exchange.data_received(body)  # type: ignore[attr-defined]
        else:
            exchange.request.body += body

    def on_message_complete(self) -> None:
        self.complete = True

    # -- reading requests ---------------------------------------------------------------------

    def process(self) -> None:
        """Serve what the buffer holds, one request at a time."""
        self.scheduled = False
        self.processing = True
        try:
            while self.buffer and not self.waiting and not (self.lost or self.handed_off):
                if self.reading_head:
                    if not self._read_head():
                        break
                elif not self._read_body():
                    break
        except Exception:
            log.exception("the fast HTTP path failed; closing the connection")
            self._close()
        finally:
            self.processing = False
        if (self.paused and len(self.buffer) <= self.server.max_buffer_size
                and not (self.lost or self.handed_off)):
            self.paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]

    def _feed(self, size: int) -> None:
        if size <= FEED_COPY:
            self.parser.feed_data(self.buffer[:size])
        else:
            with memoryview(self.buffer) as view, view[:size] as part:
                self.parser.feed_data(part)
        del self.buffer[:size]

    def _read_head(self) -> bool:
        end = head_end(self.buffer)
        limit = self.server.max_header_size
        if end == 0:
            if len(self.buffer) > limit:
                self.refuse_head()
            return False
        if end > limit:  # whole, but too large (Tornado's limit counts the blank line too)
            self.refuse_head()
            return False
        if end < 0 or self.buffer[:1] in (b"\r", b"\n"):
            self.hand_off()  # bare LFs, leading blank lines: Tornado's business
            return False
        self._url = b""
        self._fields = []
        self._request = None
        self.raw = {}
        self.complete = False
        try:
            self.parser.feed_data(self.buffer[:end])  # (a copy of the head: it is small)
        except httptools.HttpParserUpgrade:
            self.hand_off()
            return False
        except httptools.HttpParserError:
            self.hand_off()  # Tornado answers a malformed request as it always did
            return False
        route = self._route()
        if route is None:
            self.hand_off()
            return False
        del self.buffer[:end]
        self.reading_head = False
        exchange = self.exchange = route.handler(self, route)
        if not exchange.steady:  # (a steady-state exchange has nothing to prepare)
            try:
                exchange.prepare()  # type: ignore[attr-defined]
            except Exception as exc:
                exchange.uncaught(exc)
        elif "origin" in self.raw and not exchange.own_origin():  # type: ignore[attr-defined]
            # The general exchange, prepared (it may have answered: a refusal).
            exchange = exchange.fallback(serve=False)  # type: ignore[attr-defined]
        if self.complete:
            self.message_done(exchange)
        else:
            self.since = time.monotonic()  # the body's time starts (an answer restarts it)
        return not (self.lost or self.handed_off)

    def new_request(self) -> FastRequest:
        """The request in flight (its head read) as an ``HTTPServerRequest``, made once: a
        steady-state exchange that looked at it and the general one it hands the request to
        share it."""
        if self._request is not None:
            return self._request
        headers, client = request_headers(self._fields), self.server.client
        if client is peer_client:  # the same for every request of the connection
            if self._peer is None:
                self._peer = peer_client(self.address, headers)  # type: ignore[arg-type]
            remote_ip, protocol = self._peer
        else:
            remote_ip, protocol = client(self.address, headers)  # type: ignore[arg-type]
        host = self._host
        request = self._request = FastRequest(
            self.method, self.uri, headers, self, remote_ip, protocol,
            None if host is None else host.decode("latin-1"))
        return request

    def _route(self) -> Route | None:
        parser = self.parser
        if parser.get_http_version() != "1.1" or parser.should_upgrade():
            return None
        name = parser.get_method()
        raw = self.raw
        if name not in FAST_METHODS or "expect" in raw or "upgrade" in raw:
            return None
        method = self.method = FAST_METHODS[name]
        host = self._host = raw["host"] if "host" in raw else None  # noqa: SIM401
        if host is None:
            return None
        if host != self._plain_host:  # (checked once for a connection's requests)
            if not PLAIN_HOST.fullmatch(host):  # a repeated one has a comma
                return None
            self._plain_host = host
        encoding = raw["transfer-encoding"] if "transfer-encoding" in raw else None  # noqa: SIM401
        length = raw["content-length"] if "content-length" in raw else None  # noqa: SIM401
        if encoding is not None:
            if encoding.lower() != b"chunked" or length is not None:
                return None
            self.chunked, self.remaining = True, 0
        elif length is not None:
            size = int(length) if length.isdigit() else -1
            if size < 0 or size > self.server.max_body_size:
                return None
            self.chunked, self.remaining = False, size
        else:
            self.chunked, self.remaining = False, 0
        uri = self.uri = self._url.decode("latin-1")
        path, _, self.query = uri.partition("?")
        return self.server.router(method, uri, path, raw)

    def _read_body(self) -> bool:
        try:
            if self.chunked:
                # The end of a chunked body is a line end: feed line by line, so that the
                # parser stops exactly there (what follows is the next request).
                while self.buffer and not self.complete:
                    newline = self.buffer.find(b"\n")
                    self._feed(len(self.buffer) if newline < 0 else newline + 1)
            else:
                size = min(self.remaining, len(self.buffer))
                self._feed(size)
                self.remaining -= size
        except httptools.HttpParserError as exc:
            log.info("bad request body from %s: %s", self.address, exc)
            self._bad_body()
            return False
        if self.complete:
            exchange = self.exchange
            if exchange is None:
                # Answered before its body was read (a refusal in prepare, a 413): that
                # answer closed the connection; the body is dropped, nothing more is read.
                self.reading_head = True
                return False
            self.message_done(exchange)
            return not (self.lost or self.handed_off)
        return False

    def refuse_head(self) -> None:
        """A request head over the limit (however it arrived): 431, then a lingering close
        (our side shut, what the client still sends dropped) rather than a close that could
        reset the connection before the answer is read."""
        log.info("request head over %d bytes from %s: 431", self.server.max_header_size,
                 self.address)
        self.refused = True
        self.server.refused += 1
        self.buffer.clear()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(HEAD_TOO_LARGE)
        if self.paused:
            self.paused = False
            transport.resume_reading()
        try:
            transport.write_eof()
        except (NotImplementedError, OSError, RuntimeError):
            self._close()

    def _bad_body(self) -> None:
        """What Tornado does with a body it cannot read: a bare 400, then close."""
        exchange = self.exchange
        if exchange is not None and not exchange.finished:
            exchange.finished = True
            if self.transport is not None and not (self.lost or self.handed_off):
                self.transport.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        self._close()

    def message_done(self, exchange: FastExchange) -> None:
        """The request is read whole: run its method (unless prepare answered already)."""
        self.reading_head = True
        if exchange.finished:
            return
        self.waiting = True
        if exchange.steady:
            try:
                exchange.run()  # type: ignore[attr-defined]
            except Exception as exc:
                exchange.uncaught(exc)
            return
        method = getattr(exchange, HANDLER_METHODS[self.method])
        try:
            result = method(*exchange.path_args)
        except Exception as exc:
            exchange.uncaught(exc)
            return
        if result is None:
            if not exchange.finished:
                exchange.finish()
            return
        if isinstance(result, CoroutineType):  # (inspect.iscoroutine, without the call)
            self.step(exchange, result)
        elif isinstance(result, asyncio.Future) or asyncio.isfuture(result):
            result.add_done_callback(functools.partial(self._future_done, exchange))
        else:
            self.task = asyncio.ensure_future(self._complete(exchange, result))

    def _future_done(self, exchange: FastExchange, future: asyncio.Future[Any]) -> None:
        """The future a handler method returned is done (a held poll's, answered)."""
        if future.cancelled():
            exchange.uncaught(asyncio.CancelledError())
            return
        exc = future.exception()
        if exc is not None:
            exchange.uncaught(exc)
        elif not exchange.finished and not (self.lost or self.handed_off):
            exchange.finish()

    def step(self, exchange: FastExchange, coro: Any, _: Any = None) -> None:
        """Run the handler's coroutine up to its next suspension, without a Task: it is
        resumed by a done callback on the future it waits for (a held poll's), which costs
        less than a Task per request. What it awaits is always an asyncio future (or a bare
        ``yield``, as ``asyncio.sleep(0)``): anything else is an error, as in a Task."""
        try:
            waited = coro.send(None)
        except StopIteration:
            if not exchange.finished and not (self.lost or self.handed_off):
                exchange.finish()
            return
        except Exception as exc:
            exchange.uncaught(exc)
            return
        if waited is None:
            self.call_soon(self.step, exchange, coro)
        elif asyncio.isfuture(waited) and getattr(waited, "_asyncio_future_blocking", False):
            waited._asyncio_future_blocking = False
            waited.add_done_callback(functools.partial(self.step, exchange, coro))
        else:
            coro.close()
            exchange.uncaught(RuntimeError(f"a handler awaited {waited!r}, not a future"))

    async def _complete(self, exchange: FastExchange, awaitable: Any) -> None:
        try:
            await awaitable
        except Exception as exc:
            exchange.uncaught(exc)
            return
        if not exchange.finished and not (self.lost or self.handed_off):
            exchange.finish()

    # -- answering ----------------------------------------------------------------------------

    def respond(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        """Write the answer of the request in flight, then go on with the next one."""
        head = "".join([f"HTTP/1.1 {status} {reason}\r\n",
                         *[f"{name}: {value}\r\n" for name, value in headers.items()]])
        self.answer(head, body)

    def answer(self, head: str, body: bytes) -> None:
        """Write an answer: ``head`` is its status line and headers (each line ending in
        CRLF), but for ``Connection: close`` (added here when the connection ends after it)
        and the blank line."""
        # An answer given before the request was read whole (a refusal in prepare) closes
        # the connection after it, as Tornado does.
        keep_alive = self.complete
        raw = self.raw
        if "connection" in raw:
            connection = raw["connection"]
            if connection != b"keep-alive" and connection.lower() == b"close":
                keep_alive = False
        data = (head + "\r\n" if keep_alive else head + "Connection: close\r\n\r\n").encode(
            "latin-1")
        transport = self.transport
        if not (self.lost or self.handed_off) and transport is not None:
            transport.write(data + body if body else data)
        self.server.served += 1
        self.exchange = None
        self.task = None
        self.waiting = False
        self.since = time.monotonic()  # the next request's time starts
        if not keep_alive:
            self._close()
        elif (self.buffer and not self.processing and not self.scheduled
              and not (self.lost or self.handed_off)):
            # After the current callback (as Tornado reads the next request later).
            self.scheduled = True
            self.server.schedule(self)

    def _close(self) -> None:
        self.lost = True  # nothing more read or written (what is pipelined after it too)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _abandon(self) -> None:
        exchange, self.exchange = self.exchange, None
        if exchange is not None and not exchange.finished:
            try:
                exchange.on_connection_close()  # type: ignore[attr-defined]
            except Exception:
                log.exception("on_connection_close failed")

    # -- handing over to Tornado ----------------------------------------------------------------

    def hand_off(self) -> None:
        """Give the connection, and the bytes not served yet, to Tornado's HTTPServer."""
        hand_off(self)


class FastHTTPServer:
    """Serves connections on the fast path; hands the rest to ``http`` (a Tornado
    ``HTTPServer`` that need not listen itself).

    Args:
        router: claims requests (see :data:`RouteFinder`).
        http: the HTTPServer that gets every connection not served here.
        client: ``(peer address, headers) -> (remote_ip, protocol)`` of a request (trusted
            proxies); the peer and ``http`` by default.
    """

    def __init__(
        self,
        router: RouteFinder,
        http: HTTPServer,
        client: Callable[[tuple[Any, ...], HTTPHeaders], tuple[str, str]] | None = None,
    ) -> None:
        if not AVAILABLE:
            raise RuntimeError("the fast HTTP path needs httptools: pip install 'tornio[speed]'")
        self.router = router
        self.http = http
        self.client = client or peer_client
        self.max_buffer_size: int = http.max_buffer_size or 104857600
        self.max_body_size: int = getattr(http, "max_body_size", None) or self.max_buffer_size
        self.connections: set[FastConnection] = set()
        #: Answers given on the fast path; connections handed to Tornado.
        self.served = 0
        self.handed_off = 0
        self.listeners: list[socket.socket] = []
        self.stoppers: list[Callable[[], None]] = []
        self.tasks: set[asyncio.Task[None]] = set()
        # The HTTPServer's timeouts (``idle_connection_timeout``, default 3600 s, is the wait
        # for a request's head; ``body_timeout``, none by default, for its body).
        params = getattr(http, "conn_params", None)
        self.header_timeout: float | None = getattr(params, "header_timeout", 3600.0)
        self.body_timeout: float | None = getattr(params, "body_timeout", None)
        #: A longer request head is refused with 431 (the HTTPServer's ``max_header_size``).
        self.max_header_size: int = getattr(params, "max_header_size", None) or MAX_HEADER_SIZE
        #: Request heads refused for their size.
        self.refused = 0
        self._sweep: asyncio.TimerHandle | None = None
        #: Connections closed for waiting too long.
        self.timed_out = 0
        #: Connections with input to serve after the loop's current pass, in arrival order.
        self.pending: list[FastConnection] = []

    def schedule(self, connection: FastConnection) -> None:
        """Serve ``connection``'s input after the events of this pass of the loop."""
        if not self.pending:
            connection.call_soon(self.run_pending)
        self.pending.append(connection)

    def run_pending(self) -> None:
        """Serve the connections scheduled (those served meanwhile, at an EOF, are not)."""
        pending, self.pending = self.pending, []
        for connection in pending:
            if connection.scheduled:
                try:
                    connection.process()
                except Exception:  # never the others' turn lost to one connection
                    log.exception("the fast HTTP path failed; closing the connection")
                    connection._close()

    def protocol(self, address: tuple[Any, ...] | None = None) -> FastConnection:
        return FastConnection(self, address)

    def add_sockets(self, sockets: list[socket.socket]) -> None:
        """Accept connections on bound listening sockets (as ``HTTPServer.add_sockets``)."""
        for sock in sockets:
            self.listeners.append(sock)
            self.stoppers.append(add_accept_handler(sock, self.accept))

    def accept(self, sock: socket.socket, address: Any) -> None:
        """Serve a connection accepted elsewhere (a worker gets them from the supervisor)."""
        task = asyncio.ensure_future(self.accepted(sock, address))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def accepted(self, sock: socket.socket, address: tuple[Any, ...]) -> None:
        """Serve a connection someone else accepted (a worker's, from the supervisor)."""
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(lambda: self.protocol(address), sock)
        except OSError:
            sock.close()

    def give_to_tornado(self, sock: socket.socket, data: bytes, address: tuple[Any, ...]) -> None:
        try:
            stream = IOStream(sock, max_buffer_size=self.max_buffer_size)
        except Exception:
            sock.close()
            return
        if data:
            stream._read_buffer += data
            stream._read_buffer_size += len(data)
        self.http.handle_stream(stream, address)

    def sweep_interval(self) -> float | None:
        """How often connections are checked against the timeouts: a tenth of the shorter
        one (a connection is closed between 1 and 1.1 times its timeout), 30 s at most."""
        limits = [t for t in (self.header_timeout, self.body_timeout) if t]
        return min(30.0, max(0.01, min(limits) / 10)) if limits else None

    def watch(self) -> None:
        """Check the connections' timeouts periodically while there are connections (one
        timer for the server, not one per request)."""
        if self._sweep is None and self.connections:
            interval = self.sweep_interval()
            if interval is not None:
                self._sweep = asyncio.get_running_loop().call_later(interval, self._swept)

    def _swept(self) -> None:
        self._sweep = None
        now = time.monotonic()
        header_timeout, body_timeout = self.header_timeout, self.body_timeout
        for connection in list(self.connections):
            if connection.timed_out(now, header_timeout, body_timeout):
                self.timed_out += 1
        self.watch()

    def stop(self) -> None:
        """Stop listening (connections stay open)."""
        for stopper in self.stoppers:
            stopper()
        for sock in self.listeners:
            sock.close()
        self.stoppers, self.listeners = [], []

    def close_all_connections(self) -> None:
        for connection in list(self.connections):
            connection._close()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
