"""Server websockets on asyncio's own transport, after Tornado has routed the upgrade request.

Tornado's ``WebSocketHandler`` reads every frame through ``IOStream`` futures (two or three
per frame), re-registers the socket with the event loop as it goes, and wraps each write in a
task. A Socket.IO server lives on many small frames, so tornio lets Tornado parse and route the
upgrade request, then takes the socket over: :func:`take_over` detaches it from Tornado and
hands it to an :class:`asyncio.Protocol` whose ``data_received`` feeds the sans-I/O
:class:`~tornio.protocol.websocket.FrameDecoder`. Writes go straight to the transport.
A TLS stream cannot change hands, so it stays with Tornado and feeds the same decoder.

A connection whose :attr:`WebSocketConnection.deflate_options` is set negotiates
permessage-deflate (:mod:`tornio.protocol.permessage_deflate`) when the client offers it:
large messages are then compressed, and the client's compressed ones inflated.

Writes are coalesced (:mod:`tornio.transports.coalesce`): the frames written while a read is
handled (acks of synchronous handlers, pongs, the close answer) leave in one write at the end
of it, and those written outside a read (async handlers, broadcasts) in one write at the end
of the loop's pass.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, SSLIOStream, StreamClosedError
from tornado.web import RequestHandler

from tornio.core.counters import Traffic
from tornio.core.fairness import SLICE
from tornio.exceptions import DeflateError, WebSocketError
from tornio.protocol import websocket as ws
from tornio.protocol.permessage_deflate import (
    Agreement,
    DeflateOptions,
    Deflater,
    Inflater,
    negotiate,
)
from tornio.transports.coalesce import Outbox
from tornio.transports.readbuffer import BufferedReads
from tornio.transports.unsent import unsent_bytes

if TYPE_CHECKING:
    from tornado.iostream import IOStream

__all__ = ["UpgradeHandler", "WebSocketConnection", "take_over", "take_socket"]

log = logging.getLogger("tornio.legacy.transports.websocket")

#: How long a server-initiated close waits for the client's close frame.
CLOSE_TIMEOUT = 5.0


class WebSocketConnection(BufferedReads):
    """One accepted websocket. Subclasses implement :meth:`on_open`, :meth:`on_message`
    and :meth:`on_close`; ``on_close`` runs exactly once, after ``on_open``.
    ``traffic`` counts its frames and bytes (:mod:`tornio.core.counters`)."""

    traffic: Traffic = Traffic()  # subclasses name their protocol's

    #: permessage-deflate's options, to negotiate it if the client offers it (None: never).
    deflate_options: DeflateOptions | None = None

    def __init__(self, max_message_size: int, max_write_buffer: int) -> None:
        self.decoder = ws.FrameDecoder(max_message_size)
        self.max_message_size = max_message_size
        #: Set once permessage-deflate is agreed.
        self.deflater: Deflater | None = None
        self.inflater: Inflater | None = None
        self.max_write_buffer = max_write_buffer
        self.wire: Any = None  # the asyncio.Transport, or a StreamTransport for TLS
        #: What is written and not handed to the wire yet (from connection_made on).
        self.outbox: Outbox
        self.closing = False
        self._response = b""
        self._leftover = b""
        self._ended = False
        self._close_timer: asyncio.TimerHandle | None = None
        #: Messages written while writes are held (:meth:`hold_writes`), else None.
        self._held: list[str | bytes] | None = None
        self._hold_timer: asyncio.TimerHandle | None = None
        # Reading in slices (tornio.core.fairness): the frames of a read not handled yet,
        # from _next on; the holds on the input (hold_input); reading is paused.
        self._backlog: list[tuple[int, Any]] | None = None
        self._next = 0
        self._holds = 0
        self._paused = False

    # -- the application's side ------------------------------------------------------------

    def on_open(self) -> None:
        """The 101 response is on its way; messages may be written."""

    def on_message(self, message: str | bytes) -> None:
        """A whole text (``str``) or binary (``bytes``) message arrived."""

    def on_close(self) -> None:
        """The connection is gone."""

    def overflowed(self, unsent: int) -> None:
        """More than ``max_write_buffer`` bytes (``unsent``) wait for a client that does not
        read: the connection has been aborted. Subclasses close their session, which logs it
        and counts it (:mod:`tornio.protocol.backlog`)."""
        log.warning("websocket client left %d bytes unread: dropped it", unsent)

    def hold_writes(self, seconds: float) -> None:
        """Keep what is written for ``seconds`` before it goes out (in order, in one write).

        A client that reads the 101 response and the first message in one read may see the
        message before it has a listener for it: node's ``ws`` emits the message in the same
        tick as the open event, before a listener added after ``await``-ing that event exists
        (the Engine.IO v3 suite's websocket tests do exactly that)."""
        if self._held is None:
            self._held = []
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        self._hold_timer = asyncio.get_running_loop().call_later(seconds, self.release_writes)

    def release_writes(self) -> None:
        """Send what was held, now; later writes go straight out again."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        held, self._held = self._held, None
        if held and not self.closing and self.write_frames(held):
            self.outbox.flush()

    def enable_deflate(self, agreement: Agreement, options: DeflateOptions) -> None:
        """permessage-deflate was agreed: compress what is sent, inflate what comes."""
        self.deflater = Deflater(agreement, options)
        self.inflater = Inflater(agreement, self.max_message_size)
        self.decoder.compressed = True

    def _deflated_frame(self, message: str | bytes) -> bytes:
        assert self.deflater is not None
        frame = self.deflater.frame(message)
        return ws.encode_frame(message) if frame is None else frame

    def write_frames(self, messages: Sequence[str | bytes]) -> bool:
        """Send messages, one frame each, with whatever else this read or this pass of the
        loop sends (in one write); False once the connection closes."""
        if self.closing:
            return False
        if self._held is not None:
            self._held.extend(messages)
            return True
        encode = ws.encode_frame if self.deflater is None else self._deflated_frame
        outbox = self.outbox
        parts = outbox.parts
        before = size = outbox.size
        for message in messages:
            frame = encode(message)
            parts.append(frame)
            size += len(frame)
        outbox.size = size
        traffic = self.traffic
        traffic.messages_out += len(messages)
        traffic.bytes_out += size - before
        return outbox.added()

    def _overflow(self, unsent: int) -> None:
        """The outbox's flush left more than ``max_write_buffer`` bytes on the wire."""
        self.closing = True
        self.wire.abort()
        self.overflowed(unsent)

    def close(self, code: int = ws.NORMAL, reason: str = "") -> None:
        """Start the closing handshake; the socket closes when the client answers, or after
        :data:`CLOSE_TIMEOUT` if it does not."""
        if self.closing or self.wire is None:
            return
        self.release_writes()  # what was written before the close goes out before it
        if self.closing:  # (that write dropped a client that reads nothing)
            return
        self.closing = True
        self.outbox.add(ws.close_frame(code, reason))
        self.outbox.flush()
        self._close_timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self._abort)

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.wire = transport
        outbox = self.outbox = Outbox(
            transport.write, transport.get_write_buffer_size, self.max_write_buffer,
            self._overflow,
        )
        outbox.owner_flushes += 1  # the 101 and what on_open writes leave together
        try:
            outbox.add(self._response)
            self._response = b""
            self.on_open()
            if self._leftover:
                leftover, self._leftover = self._leftover, b""
                self.data_received(leftover)
        finally:
            outbox.owner_flushes -= 1
            outbox.flush()

    def data_received(self, data: bytes) -> None:
        self.traffic.bytes_in += len(data)
        try:
            events = self.decoder.feed(data)
        except WebSocketError as exc:
            log.info("websocket protocol error (closing with %d): %s", exc.code, exc)
            self._fail(exc.code, str(exc))
            return
        if not events:
            return
        if self._backlog is not None:  # (a transport that read on while paused: keep order)
            self._backlog = [*self._backlog[self._next :], *events]
            self._next = 0
            return
        self._deliver(events, 0)

    # -- reading in slices (tornio.core.fairness) -------------------------------------------

    def hold_input(self) -> None:
        """Handle no more frames, and read none, until :meth:`release_input` (holds nest):
        the socket's handlers are behind, or a payload of many packets is being handled."""
        self._holds += 1
        self._pause_reading()

    def release_input(self) -> None:
        """Undo one :meth:`hold_input`; after the last, the frames go on, in a later turn."""
        self._holds -= 1
        if self._holds == 0 and self.wire is not None:
            if self._backlog is not None:
                asyncio.get_running_loop().call_soon(self._go_on)
            else:
                self._resume_reading()

    def _pause_reading(self) -> None:
        if not self._paused and self.wire is not None:
            self._paused = True
            self.wire.pause_reading()

    def _resume_reading(self) -> None:
        if self._paused and not self._ended:
            self._paused = False
            self.wire.resume_reading()

    def _go_on(self) -> None:
        """The loop had its turn: the next slice of the frames read."""
        events = self._backlog
        if events is None or self._holds or self._ended:
            return
        self._backlog = None
        self._deliver(events, self._next)

    def _deliver(self, events: list[tuple[int, Any]], index: int) -> None:
        """Handle frames from ``events[index]`` on, at most SLICE of them: the rest waits,
        with reading paused, for the loop's next turn (or the last hold's release). What
        they have written leaves in one write at the end."""
        outbox = self.outbox
        outbox.owner_flushes += 1
        try:
            self._handle(events, index)
        finally:
            outbox.owner_flushes -= 1
            outbox.flush()

    def _handle(self, events: list[tuple[int, Any]], index: int) -> None:
        traffic = self.traffic
        budget = SLICE
        count = len(events)
        while index < count:
            if self._holds or not budget:
                self._backlog, self._next = events, index
                self._pause_reading()
                if not self._holds:
                    asyncio.get_running_loop().call_soon(self._go_on)
                return
            budget -= 1
            opcode, payload = events[index]
            index += 1
            if opcode <= ws.BINARY:
                if not self.closing:
                    traffic.messages_in += 1
                    self.on_message(payload)
            elif opcode & ws.DEFLATED:
                if not self.closing and not self._inflate(opcode & ~ws.DEFLATED, payload):
                    return
            elif opcode == ws.PING:
                if not self.closing and not self.outbox.add(ws.encode_frame(payload, ws.PONG)):
                    return
            elif opcode == ws.CLOSE:
                self._close_received(payload)
                return
        if self._paused and not self._holds:
            self._resume_reading()

    def _inflate(self, opcode: int, payload: str | bytes) -> bool:
        """Deliver a compressed message; False (and the connection failed) if it is bad."""
        assert self.inflater is not None and isinstance(payload, bytes)
        try:
            data = self.inflater.inflate(payload)
            message: str | bytes = data.decode("utf-8") if opcode == ws.TEXT else data
        except DeflateError as exc:
            log.info("websocket: a compressed message is refused (closing with %d): %s",
                     exc.code, exc)
            self._fail(exc.code, str(exc))
            return False
        except UnicodeDecodeError:
            log.info("websocket: a compressed text message is not UTF-8 (closing with 1007)")
            self._fail(ws.INVALID_DATA, "text message is not UTF-8")
            return False
        self.on_message(message)
        return True

    def eof_received(self) -> bool:
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        self._held = None
        self._backlog = None
        self.outbox.discard()
        self.closing = True
        if not self._ended:
            self._ended = True
            self.on_close()

    # -- closing ----------------------------------------------------------------------------

    def _close_received(self, payload: bytes) -> None:
        if not self.closing:  # the client started it: answer with its code, then hang up
            self.closing = True
            code, _reason = ws.parse_close(payload)
            self.outbox.add(ws.close_frame(code))
        self.outbox.flush()
        self.wire.close()

    def _fail(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            self.outbox.add(ws.close_frame(code, reason))
        self.outbox.flush()
        self.wire.close()

    def _abort(self) -> None:
        self._close_timer = None
        if self.wire is not None:
            self.wire.abort()


class StreamTransport:
    """The little of ``asyncio.Transport`` a connection uses, over a Tornado ``IOStream``
    (for TLS streams, whose socket cannot leave Tornado)."""

    def __init__(self, stream: IOStream, protocol: WebSocketConnection) -> None:
        self.stream = stream
        self.protocol = protocol
        self._reading = asyncio.Event()
        self._reading.set()
        stream.set_close_callback(self._closed)

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def write(self, data: bytes) -> None:
        if not self.stream.closed():
            with contextlib.suppress(StreamClosedError):
                self.stream.write(data)

    def close(self) -> None:
        if self.stream.closed():
            return
        with contextlib.suppress(StreamClosedError):
            self.stream.write(b"").add_done_callback(lambda _: self.stream.close())

    def abort(self) -> None:
        self.stream.close()

    def is_closing(self) -> bool:
        return self.stream.closed()

    def get_write_buffer_size(self) -> int:
        return unsent_bytes(self.stream)

    async def read_loop(self) -> None:
        try:
            while True:
                if not self._reading.is_set():
                    await self._reading.wait()
                data = await self.stream.read_bytes(65536, partial=True)
                self.protocol.data_received(data)
        except StreamClosedError:
            pass

    def _closed(self) -> None:
        self._reading.set()  # the read loop ends on the closed stream
        self.protocol.connection_lost(None)


def upgrade_refusal(handler: RequestHandler) -> tuple[int, str] | None:
    """Why an upgrade request is not a valid RFC 6455 handshake (status, message), or None."""
    headers = handler.request.headers
    if handler.request.method != "GET":
        return 405, "websocket upgrades use GET"
    if headers.get("Upgrade", "").lower() != "websocket":
        return 400, 'Can "Upgrade" only to "WebSocket".'
    tokens = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
    if "upgrade" not in tokens:
        return 400, '"Connection" must be "Upgrade".'
    if headers.get("Sec-WebSocket-Version") not in ("7", "8", "13"):
        return 426, "Upgrade Required"
    if not headers.get("Sec-WebSocket-Key"):
        return 400, "Missing/Invalid WebSocket headers"
    return None


def take_socket(stream: IOStream) -> tuple[socket.socket, bytes]:
    """Take a plain (not TLS) detached stream's socket away from Tornado: the socket, and
    the bytes Tornado had read past the request. The stream keeps a socket that owns
    nothing, so closing the stream later cannot close the one returned. (Also how
    :mod:`tornio.transports.relay` takes a websocket it relays to the session's owner.)"""
    sock = stream.socket
    IOLoop.current().remove_handler(sock)
    leftover = bytes(stream._read_buffer)
    stream._read_buffer.clear()
    return socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach()), leftover


async def take_over(handler: RequestHandler, connection: WebSocketConnection) -> None:
    """Answer the (validated) upgrade with 101 and give the socket to ``connection``."""
    key = handler.request.headers["Sec-WebSocket-Key"]
    extensions = b""
    options = connection.deflate_options
    if options is not None:
        agreement = negotiate(handler.request.headers.get("Sec-WebSocket-Extensions"), options)
        if agreement is not None:
            connection.enable_deflate(agreement, options)
            extensions = b"Sec-WebSocket-Extensions: " + agreement.header.encode() + b"\r\n"
    connection._response = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + ws.accept_key(key).encode("ascii") + b"\r\n" + extensions
        + b"\r\n"
    )
    stream = handler.detach()
    if stream.closed():  # the client is gone already: nothing to open
        return
    if isinstance(stream, SSLIOStream):
        transport = StreamTransport(stream, connection)
        connection.connection_made(transport)
        await transport.read_loop()
        return
    # The leftover: bytes Tornado read past the request (a client that did not wait for
    # the 101).
    raw, connection._leftover = take_socket(stream)
    try:
        await asyncio.get_running_loop().connect_accepted_socket(lambda: connection, raw)
    except OSError:
        raw.close()


class UpgradeHandler(RequestHandler, metaclass=abc.ABCMeta):
    """A request handler that accepts an RFC 6455 upgrade with a :class:`WebSocketConnection`.

    Subclasses implement :meth:`connection` and may restrict :meth:`check_origin`."""

    def check_origin(self, origin: str) -> bool:
        return True

    @abc.abstractmethod
    def connection(self, *args: str) -> WebSocketConnection | None:
        """The connection that will own the socket, or None to refuse (having finished the
        request with an answer)."""

    async def get(self, *args: str) -> None:
        refusal = upgrade_refusal(self)
        if refusal is not None:
            status, message = refusal
            self.set_status(status)
            if status == 426:
                self.set_header("Sec-WebSocket-Version", "13")
            self.finish(message)
            return
        headers = self.request.headers
        origin = headers.get("Origin") or headers.get("Sec-WebSocket-Origin")  # hybi-07..10
        if origin is not None and not self.check_origin(origin):
            self.set_status(403)
            self.finish("Cross origin websockets not allowed")
            return
        connection = self.connection(*args)
        if connection is not None:
            await take_over(self, connection)
