"""Forwarding HTTP requests to the process that owns their session.

The supervisor hands each new connection to the owner of the session its first request
names, but a browser reuses keep-alive connections: a later request on the same connection
may belong to a session another process owns (two tabs, one connection pool), and behind a
plain round-robin balancer a request may reach the wrong host altogether. Such a request is
not refused: :class:`ForwardingDelegate` sends it, as data, to its owner over the bus, and
the owner runs it through its own application (:func:`execute`) and sends the response back.
A websocket upgrade cannot travel as data: when the owner's host announced its address
(``address_of``), it is relayed there as a byte stream instead (:mod:`tornio.transports.relay`).

Both halves are transport-neutral: how the request and the response travel is a
:class:`Forwarder`'s business (the ZeroMQ bus in a cluster, a direct call in tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tornado import httputil
from tornado.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    RequestStartLine,
    ResponseStartLine,
)

from tornio.bus import ids
from tornio.transports import relay

if TYPE_CHECKING:
    from tornado.concurrent import Future

__all__ = ["Forwarder", "ForwardingDelegate", "abort", "execute"]

log = logging.getLogger("tornio.transports.forwarding")

#: A request or response carried between processes: plain msgpack-able values.
Wire = dict[str, Any]
#: The answer to a websocket upgrade that reached a process other than its session's owner.
UPGRADE_REFUSED = b"a websocket must reach the process that owns its session"


class Forwarder(Protocol):
    """Carries a request to the node that owns it and brings the response back."""

    async def forward(self, node: str, request: Wire, timeout: float) -> Wire | None:
        """The owner's response, or None if it did not answer in time."""

    def abort(self, node: str, request_id: str) -> None:
        """The client left: the owner may drop the request."""


def _set_close_callback(conn: HTTPConnection, callback: Callable[[], None] | None) -> None:
    # HTTP1Connection has it; the HTTPConnection interface does not declare it.
    setter = getattr(conn, "set_close_callback", None)
    if setter is not None:
        setter(callback)


class ForwardingDelegate(HTTPServerConnectionDelegate):
    """Wraps an application: requests for sessions that live elsewhere are forwarded.

    Args:
        app: the application that serves everything local.
        is_local: whether a node tag is this process.
        forwarder: how requests reach other nodes.
        timeout: how long a forwarded request may take (a long poll is held for up to
            the polling duration or the ping interval).
        max_body: the largest request body forwarded.
        address_of: the HTTP address of a node's host, where a websocket upgrade for a
            session it owns can be relayed (None: such upgrades are refused).
        await_node: ``await await_node(node)``: True once a node this process has not
            heard of yet has announced itself (a host that has just started hands out
            sessions before every other process knows it), False if it does not within
            the bus's node timeout or left; an upgrade whose owner has no address yet is
            relayed once it has (None: refused at once).
    """

    def __init__(
        self,
        app: HTTPServerConnectionDelegate,
        is_local: Callable[[str], bool],
        forwarder: Forwarder,
        timeout: float,
        max_body: int,
        address_of: Callable[[str], tuple[str, int] | None] | None = None,
        await_node: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.app = app
        self.address_of = address_of
        self.await_node = await_node
        #: How many websocket upgrades were relayed to their owner's host.
        self.relayed = 0
        self.is_local = is_local
        self.forwarder = forwarder
        self.timeout = timeout
        self.max_body = max_body
        #: How many requests were forwarded to another node.
        self.forwarded = 0

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        return _Inspector(self, server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self.app.on_close(server_conn)


class _Inspector(HTTPMessageDelegate):
    """Decides, from a request's start line, whether it runs here or at its owner."""

    def __init__(
        self, outer: ForwardingDelegate, server_conn: object, request_conn: HTTPConnection
    ) -> None:
        self.outer = outer
        self.server_conn = server_conn
        self.request_conn = request_conn
        self.inner: HTTPMessageDelegate | None = None
        self.owner: str | None = None
        self.start_line: RequestStartLine | None = None
        self.headers: HTTPHeaders | None = None
        self.body: list[bytes] = []
        self.size = 0
        self.request_id = ""
        self.task: asyncio.Task[None] | None = None

    def headers_received(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, RequestStartLine)
        sid = ids.sid_in_target(start_line.path)
        owner = ids.owner_of(sid) if sid else None
        if owner is None or self.outer.is_local(owner):
            self.inner = self.outer.app.start_request(self.server_conn, self.request_conn)
            return self.inner.headers_received(start_line, headers)
        self.owner, self.start_line, self.headers = owner, start_line, headers
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self.inner is not None:
            return self.inner.data_received(chunk)
        self.size += len(chunk)
        if self.size <= self.outer.max_body:
            self.body.append(chunk)
        return None

    def finish(self) -> None:
        if self.inner is not None:
            self.inner.finish()
            return
        assert self.headers is not None
        if self.headers.get("Upgrade", "").lower() == "websocket":
            # A websocket cannot travel over the bus (the owner would need this very
            # connection): it is relayed to the owner's host as a byte stream. Without an
            # address for it (or when this request is a relay already) it is refused: an
            # Engine.IO client keeps polling, a 0.9 client tries its next transport.
            # An owner not heard of yet (a host that has just started) is waited for.
            assert self.owner is not None
            address_of, await_node = self.outer.address_of, self.outer.await_node
            if address_of is None or relay.RELAYED_HEADER in self.headers:
                self._refuse_upgrade()
                return
            address = address_of(self.owner)
            loop = asyncio.get_running_loop()
            if address is not None:
                self.task = loop.create_task(self._relay(address))
            elif await_node is not None:
                self.task = loop.create_task(self._relay_once_known(address_of, await_node))
            else:
                self._refuse_upgrade()
            return
        _set_close_callback(self.request_conn, self._client_left)
        self.task = asyncio.get_running_loop().create_task(self._forward())

    def on_connection_close(self) -> None:
        if self.inner is not None:
            self.inner.on_connection_close()

    def _client_left(self) -> None:
        if self.task is not None and not self.task.done():
            assert self.owner is not None
            self.outer.forwarder.abort(self.owner, self.request_id)
            self.task.cancel()

    def _refuse_upgrade(self) -> None:
        assert self.start_line is not None
        log.warning(
            "refused a websocket to %s: its session lives on %s",
            self.start_line.path,
            self.owner,
        )
        self._respond(400, [("Content-Type", "text/plain")], UPGRADE_REFUSED)

    async def _relay_once_known(
        self,
        address_of: Callable[[str], tuple[str, int] | None],
        await_node: Callable[[str], Awaitable[bool]],
    ) -> None:
        """The owner has no address here yet: relay once it announced itself."""
        assert self.owner is not None
        address = address_of(self.owner) if await await_node(self.owner) else None
        if address is None:
            self._refuse_upgrade()
            return
        await self._relay(address)

    async def _relay(self, address: tuple[str, int]) -> None:
        assert self.start_line is not None and self.headers is not None
        context = self.request_conn.context  # type: ignore[attr-defined]
        head = relay.request_head(self.start_line, self.headers,
                                  getattr(context, "remote_ip", None) or "")
        stream = self.request_conn.detach()  # type: ignore[attr-defined]
        if await relay.relay(stream, head, address):
            self.outer.relayed += 1
            log.debug("relayed a websocket to %s (%s:%s)", self.owner, *address)

    async def _forward(self) -> None:
        assert self.owner is not None and self.start_line is not None
        assert self.headers is not None
        if self.size > self.outer.max_body:
            self._respond(413, [], b"")
            return
        context = self.request_conn.context  # type: ignore[attr-defined]
        self.request_id = ids.make_sid("fwd000")
        request: Wire = {
            "id": self.request_id,
            "method": self.start_line.method,
            "target": self.start_line.path,
            "version": self.start_line.version,
            "headers": list(self.headers.get_all()),
            "body": b"".join(self.body),
            "remote_ip": getattr(context, "remote_ip", None) or "",
            "protocol": getattr(context, "protocol", "http"),
        }
        # The address that sent it (a proxy, when ForwardedHeaders resolved a client): the
        # owner believes X-Forwarded-Host only from a trusted one (tornio.transports.origins).
        peer = getattr(context, "tornio_peer", None)
        if peer:
            request["peer"] = str(peer[0])
        self.outer.forwarded += 1
        try:
            response = await self.outer.forwarder.forward(self.owner, request, self.outer.timeout)
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("forwarding %s to %s failed", self.start_line.path, self.owner)
            response = None
        if response is None:
            # The owner is gone or silent: the session is as good as unknown. The client's
            # answer to an error is to handshake again.
            self._respond(503, [("Content-Type", "text/plain")], b"session owner unreachable")
            return
        self._respond(response["status"], response["headers"], response["body"])

    def _respond(self, status: int, headers: list[Any], body: bytes) -> None:
        response_headers = HTTPHeaders()
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                response_headers.add(name, value)
        response_headers["Content-Length"] = str(len(body))
        reason = httputil.responses.get(status, "Unknown")
        start = ResponseStartLine("HTTP/1.1", status, reason)
        try:
            _set_close_callback(self.request_conn, None)
            self.request_conn.write_headers(start, response_headers, body)
            self.request_conn.finish()
        except Exception:  # the client left meanwhile
            log.debug("could not write a forwarded response", exc_info=True)


# -- the owner's side ----------------------------------------------------------------------------


@dataclass
class _Context:
    remote_ip: str
    protocol: str
    address: tuple[str, int] = ("0.0.0.0", 0)
    trusted_downstream: set[str] = field(default_factory=set)
    #: (peer address, scheme) of the first process's connection, when it resolved a client
    #: from a trusted proxy's headers (as ForwardedHeaders keeps it); None: the client is
    #: the peer.
    tornio_peer: tuple[str, str] | None = None


class _CapturingConnection(HTTPConnection):
    """An HTTPConnection that keeps the response instead of writing it to a socket."""

    def __init__(self, context: _Context) -> None:
        self.context = context
        self.status = 500
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_callback: Callable[[], None] | None = None

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        self.close_callback = callback

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> Future[None]:
        assert isinstance(start_line, ResponseStartLine)
        self.status = start_line.code
        self.headers = list(headers.get_all())
        if chunk:
            self.chunks.append(chunk)
        return self._resolved()

    def write(self, chunk: bytes) -> Future[None]:
        self.chunks.append(chunk)
        return self._resolved()

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def abort(self) -> None:
        """The client went away at the forwarding end."""
        callback, self.close_callback = self.close_callback, None
        if callback is not None:
            callback()
        if not self.done.done():
            self.done.cancel()

    @staticmethod
    def _resolved() -> Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


#: Forwarded requests still running here, by request id (so that an abort can reach them).
_running: dict[str, _CapturingConnection] = {}


_REQUEST_FIELDS = {
    "id": str,
    "method": str,
    "target": str,
    "version": str,
    "headers": list,
    "body": bytes,
    "remote_ip": str,
    "protocol": str,
}


def _malformed(request: Any) -> str | None:
    """What is wrong with a forwarded request's shape, or None."""
    if not isinstance(request, dict):
        return "not a map"
    for name, kind in _REQUEST_FIELDS.items():
        if not isinstance(request.get(name), kind):
            return f"{name} is not a {kind.__name__}"
    for pair in request["headers"]:
        if not (
            isinstance(pair, (list, tuple))
            and len(pair) == 2
            and all(isinstance(part, str) for part in pair)
        ):
            return "headers are not [name, value] pairs of strings"
    return None


async def execute(app: HTTPServerConnectionDelegate, request: Wire) -> Wire | None:
    """Run a forwarded request through ``app``; the response as data (None if aborted, or
    if ``request`` is malformed: that is logged)."""
    problem = _malformed(request)
    if problem is not None:
        log.warning("dropped a malformed forwarded request: %s", problem)
        return None
    context = _Context(request["remote_ip"], request["protocol"])
    peer = request.get("peer")  # optional: absent from a process that trusts no proxy
    if isinstance(peer, str):
        context.tornio_peer = (peer, request["protocol"])
    conn = _CapturingConnection(context)
    request_id = request["id"]
    _running[request_id] = conn
    try:
        delegate = app.start_request(None, conn)
        headers = HTTPHeaders()
        for name, value in request["headers"]:
            headers.add(name, value)
        start = RequestStartLine(request["method"], request["target"], request["version"])
        result = delegate.headers_received(start, headers)
        if result is not None:
            await result
        if request["body"]:
            result = delegate.data_received(request["body"])
            if result is not None:
                await result
        delegate.finish()
        try:
            await conn.done
        except asyncio.CancelledError:
            return None
        return {"status": conn.status, "headers": conn.headers, "body": b"".join(conn.chunks)}
    finally:
        _running.pop(request_id, None)


def abort(request_id: str) -> None:
    """The forwarding end's client left: let the handler notice."""
    conn = _running.get(request_id)
    if conn is not None:
        conn.abort()
