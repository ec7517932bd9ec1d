"""flashsocket: the Flash WebSocket bridge's transport on ``/<resource>/1/flashsocket/<sid>``.

socket.io-client 0.9's ``WebSocketMain.swf`` speaks WebSocket draft hixie-76, which Tornado
dropped, so that handshake and its framing are done here by hand on the request's detached
``IOStream`` (the protocol itself, sans-I/O, is :mod:`tornio.protocol.hixie76`):

* the request must say ``Upgrade: WebSocket`` and carry ``Sec-WebSocket-Key1``/``Key2``; the
  8-byte key3 follows the headers, possibly in a later TCP segment (it is awaited, up to
  :data:`KEY3_TIMEOUT`);
* the answer is ``101 WebSocket Protocol Handshake`` with ``Sec-WebSocket-Origin`` (the
  request's Origin, which the bridge checks) and ``Sec-WebSocket-Location``, then the 16-byte
  MD5 proof;
* then one packet per ``0x00 … 0xFF`` frame both ways; ``0xFF 0x00`` closes.

A request that carries ``Sec-WebSocket-Version`` (RFC 6455, as a browser's native WebSocket
sends) is routed to :class:`FlashSocketRfc6455Handler`, the websocket transport's handler under
the flashsocket name (:class:`VersionMatches` does the dispatch). The origins setting applies
to both. :class:`FlashSwfHandler` serves the bridge's SWF files from the socket.io-client 0.9
npm package named by the ``client_package`` setting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any

from tornado.iostream import IOStream, StreamClosedError
from tornado.routing import PathMatches
from tornado.web import HTTPError, RequestHandler

from tornio.core.counters import LEGACY
from tornio.legacy.transports.base import UNKNOWN_SID, LegacyHost, TransportMixin
from tornio.legacy.transports.websocket import LegacyWebSocketHandler
from tornio.protocol import hixie76
from tornio.transports.coalesce import Outbox
from tornio.transports.origins import check_request
from tornio.transports.unsent import unsent_bytes

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from tornio.legacy.socket import LegacySocket

__all__ = [
    "FlashSocketHandler",
    "FlashSocketRfc6455Handler",
    "FlashSwfHandler",
    "VersionMatches",
    "find_swf",
]

log = logging.getLogger("tornio.legacy.transports.flashsocket")

#: How long the 8 bytes of key3 may take to follow the request headers.
KEY3_TIMEOUT = 10.0
SWF_NAMES = ("WebSocketMain.swf", "WebSocketMainInsecure.swf")


class VersionMatches(PathMatches):
    """A path that matches only requests with ``Sec-WebSocket-Version`` (RFC 6455), or only
    those without (hixie-76 and plain HTTP)."""

    def __init__(self, path_pattern: str, rfc6455: bool) -> None:
        super().__init__(path_pattern)
        self.rfc6455 = rfc6455

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        if ("Sec-WebSocket-Version" in request.headers) != self.rfc6455:
            return None
        return super().match(request)


class FlashSocketRfc6455Handler(LegacyWebSocketHandler):
    """An RFC 6455 websocket on the flashsocket path."""

    transport_name = "flashsocket"


class HixieSink:
    """The session's view of an open hixie-76 connection. What the session writes in one
    pass of the loop leaves in one write (:mod:`tornio.transports.coalesce`). A client that
    leaves more than ``max_write_buffer`` bytes unread has its session closed and the
    connection dropped."""

    polling = False
    transport = "flashsocket"
    __slots__ = ("closing", "outbox", "socket", "stream")

    def __init__(self, stream: IOStream, socket: LegacySocket, max_write_buffer: int) -> None:
        self.stream = stream
        self.socket = socket
        self.closing = False
        self.outbox = Outbox(
            self._send, lambda: unsent_bytes(stream), max_write_buffer, self._overflow
        )

    def write(self, packets: list[str]) -> None:
        if self.closing or self.stream.closed():
            return
        data = b"".join(hixie76.encode_frame(p) for p in packets)
        LEGACY.messages_out += len(packets)
        LEGACY.bytes_out += len(data)
        self.outbox.add(data)

    def _send(self, data: bytes) -> None:
        if not self.stream.closed():
            with contextlib.suppress(StreamClosedError):  # the read loop sees it, detaches us
                self.stream.write(data)

    def _overflow(self, unsent: int) -> None:
        self.closing = True
        self.socket.overflowed(self.transport, unsent)
        self.stream.close()  # the read loop ends, and what the stream holds goes

    def close(self) -> None:
        """Send what is pending and the closing frame (once), then close the connection."""
        if not self.closing:
            self.closing = True
            pending = self.outbox.parts
            close_after_write(self.stream, b"".join([*pending, hixie76.CLOSE_FRAME]))
            self.outbox.discard()


def close_after_write(stream: IOStream, data: bytes) -> None:
    if stream.closed():
        return
    with contextlib.suppress(StreamClosedError):
        stream.write(data).add_done_callback(lambda _: stream.close())


class FlashSocketHandler(TransportMixin, RequestHandler):
    """``GET /<resource>/1/flashsocket/<sid>`` without ``Sec-WebSocket-Version``: hixie-76."""

    transport_name = "flashsocket"

    async def get(self, sid: str) -> None:
        if not self.transport_enabled():
            self.refuse(400, f"transport {self.transport_name!r} is not enabled")
            return
        if self.forced_disconnect(sid):
            return
        headers = self.request.headers
        tokens = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
        if headers.get("Upgrade", "").lower() != "websocket" or "upgrade" not in tokens:
            self.refuse(400, "expected a WebSocket upgrade")
            return
        key1 = headers.get("Sec-WebSocket-Key1")
        key2 = headers.get("Sec-WebSocket-Key2")
        if key1 is None or key2 is None:
            self.refuse(400, "no Sec-WebSocket-Key1/Key2: hixie-75 is not supported")
            return
        try:
            hixie76.key_number(key1)
            hixie76.key_number(key2)
        except hixie76.HandshakeError as exc:
            self.refuse(400, str(exc))
            return
        origin = headers.get("Origin")
        if not check_request(self.request, self.manager.settings).allowed:
            self.refuse(403, "origin not allowed")
            return
        scheme = "wss" if self.request.protocol == "https" else "ws"
        try:
            head = hixie76.handshake_response(
                origin or "null",
                f"{scheme}://{self.request.host}{self.request.uri}",
                headers.get("Sec-WebSocket-Protocol"),
            )
        except hixie76.HandshakeError as exc:
            self.refuse(400, str(exc))
            return
        connection = HixieConnection(self.detach(), self.manager, self.request)
        await connection.run(sid, head, key1, key2)


class HixieConnection:
    """One hixie-76 connection after the HTTP request headers: key3, proof, then frames."""

    def __init__(
        self, stream: IOStream, manager: LegacyHost, request: HTTPServerRequest
    ) -> None:
        self.stream = stream
        self.manager = manager
        self.request = request

    async def run(self, sid: str, head: bytes, key1: str, key2: str) -> None:
        stream = self.stream
        try:
            key3 = await asyncio.wait_for(stream.read_bytes(8), KEY3_TIMEOUT)
        except (StreamClosedError, asyncio.TimeoutError):
            log.info("hixie-76 handshake for %s: no key3", sid)
            stream.close()
            return
        try:
            stream.set_nodelay(True)
            stream.write(head + hixie76.challenge_response(key1, key2, key3))
        except StreamClosedError:
            return
        socket = self.manager.get(sid)
        if socket is None:
            close_after_write(stream, hixie76.encode_frame(UNKNOWN_SID) + hixie76.CLOSE_FRAME)
            return
        sink = HixieSink(stream, socket, self.manager.settings.max_write_buffer)
        socket.attach(sink, self.request)
        try:
            await self._read_frames(socket)
        except StreamClosedError:
            pass
        except Exception:
            log.exception("flashsocket connection of %s failed", sid)
        finally:
            socket.detach(sink)
            sink.close()

    async def _read_frames(self, socket: LegacySocket) -> None:
        parser = hixie76.FrameParser(self.manager.settings.max_buffer_size)
        while not socket.closed:
            data = await self.stream.read_bytes(65536, partial=True)
            LEGACY.bytes_in += len(data)
            try:
                messages = parser.feed(data)
            except hixie76.FrameError as exc:
                log.info("bad flashsocket frame on %s: %s", socket.sessid, exc)
                return
            LEGACY.messages_in += len(messages)
            packets: list[str] = []
            for message in messages:
                if message.startswith("\ufffd"):
                    packets.extend(socket.split_payload(message))
                else:
                    packets.append(message)
            # In slices, the loop free between them; nothing is read meanwhile.
            await socket.inbox.in_slices(packets, socket.receive_packets)
            if socket.closed:
                return
            if parser.closed:
                return


def find_swf(package: str | None, name: str) -> str | None:
    """Where the socket.io-client 0.9 npm package at ``package`` keeps ``name``, if it does."""
    if not package or name not in SWF_NAMES:
        return None
    for folder in ("dist", os.path.join("lib", "vendor", "web-socket-js")):
        path = os.path.join(package, folder, name)
        if os.path.isfile(path):
            return path
    return None


class FlashSwfHandler(RequestHandler):
    """``/<resource>/static/flashsocket/WebSocketMain.swf`` (and ``…Insecure.swf``); 404 when
    flashsocket is disabled or no client package is configured. Tornado's ETag applies."""

    def initialize(self, manager: LegacyHost) -> None:
        self.manager = manager

    def get(self, name: str) -> None:
        settings = self.manager.settings
        path = find_swf(settings.client_package, name)
        if path is None or "flashsocket" not in settings.transports:
            raise HTTPError(404)
        with open(path, "rb") as swf:
            data = swf.read()
        self.set_header("Content-Type", "application/x-shockwave-flash")
        self.set_header("Cache-Control", "public, max-age=86400")
        self.finish(data)
