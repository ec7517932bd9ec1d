"""Engine.IO v4 (and v3) over HTTP long-polling and websocket: ``/<path>/?EIO=4&transport=…``.

The handlers verify a request in the reference server's order (``reference/modern.md``
§1.9) and answer a refusal with its JSON error body; everything else is the session's
business (:class:`~tornio.modern.session.EngineSession`). They serve any *host* that
creates and finds engine sockets: the Socket.IO manager, or a plain Engine.IO endpoint.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import parse_qs

from tornado.routing import PathMatches
from tornado.web import RequestHandler, stream_request_body

from tornio.core.counters import MODERN
from tornio.core.fairness import SLICE
from tornio.exceptions import EngineError, InvalidPacket, InvalidPayload
from tornio.modern.session import EngineSession, EngineSettings, EngineSink, Frame
from tornio.protocol import engineio
from tornio.protocol.drive import Driven
from tornio.protocol.permessage_deflate import DeflateOptions
from tornio.transports.compression import compress_answer
from tornio.transports.origins import check_request
from tornio.transports.steady import SteadyExchange
from tornio.transports.wsconn import UpgradeHandler, WebSocketConnection

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from tornio.core.fairness import InputBacklog
    from tornio.settings import Settings

__all__ = [
    "EnginePollingHandler",
    "EngineWebSocketHandler",
    "SteadyEnginePolling",
    "UpgradeMatches",
    "forget_engine",
]

log = logging.getLogger("tornio.modern.transports")

JSONP_INDEX = re.compile(r"^\d+$")
#: How long an Engine.IO v3 websocket that opens a session holds its open packet (and what
#: follows) after the 101 response, so that the two never reach the client in one read.
#: node's ``ws`` emits a message that came in the same read as the 101 before a listener
#: added after the open event exists; v4 clients and the v4 suite attach theirs at once.
EIO3_OPEN_HOLD = 0.02
INVALID_HEADER_CHARS = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
ENGINE_TRANSPORTS = ("polling", "websocket")
#: What follows ``Date`` in the answer to a POST: ``ok``.
OK_LENGTH = "Content-Length: 2\r\n"
#: Whatever a host indexes its engines' owners as.
Owner = TypeVar("Owner")


class EngineOwner(Driven, Protocol):
    """What the handlers need of the holder of an engine (a Socket.IO
    :class:`~tornio.modern.socket.ModernSocket`, or a plain endpoint's
    :class:`~tornio.modern.endpoint.EngineConnection`): the session's inputs, which the
    holder passes on to its engine and drives (:class:`~tornio.modern.driving.EngineDriving`:
    a transport never calls the engine itself), its engine's state to read, and its input."""

    @property
    def engine(self) -> EngineSession: ...

    @property
    def inbox(self) -> InputBacklog: ...

    def opened(self) -> None: ...

    def receive_messages(self, messages: Sequence[str | bytes]) -> None: ...

    # The session's inputs (tornio.modern.driving.EngineDriving): each drives what it returns.

    def attach_poll(self, sink: EngineSink, now: float) -> None: ...

    def attach_websocket(self, sink: EngineSink, now: float) -> None: ...

    def begin_upgrade(self, sink: EngineSink, now: float) -> None: ...

    def detach(self, sink: EngineSink, now: float) -> None: ...

    def receive(
        self, packets: Sequence[engineio.Packet], now: float, source: EngineSink | None = None
    ) -> list[str | bytes]: ...

    def send_frames(self, frames: list[Frame]) -> None: ...

    def overflowed(self, transport: str, unsent: int) -> None: ...

    def close_session(self, reason: str, notify_client: bool = False) -> None:
        """End the engine (``drive(self, self.engine.close(reason, notify_client))``)."""


class EngineHost(Protocol):
    """What the handlers need of whoever owns the sockets."""

    settings: Settings
    engine_settings: EngineSettings

    def clock(self) -> float: ...

    def touch(self, socket: EngineOwner) -> None: ...

    def get_engine(self, engine_sid: str) -> EngineOwner | None: ...

    def create_engine_socket(
        self, eio_version: int, transport: str, request: HTTPServerRequest
    ) -> EngineOwner: ...

    def welcome(self) -> str | None: ...


class UpgradeMatches(PathMatches):
    """A path that matches only websocket upgrade requests (or only the others)."""

    def __init__(self, path_pattern: str, upgrade: bool) -> None:
        super().__init__(path_pattern)
        self.upgrade = upgrade

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        is_upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if is_upgrade != self.upgrade:
            return None
        return super().match(request)


# -- encoding frames for a transport -----------------------------------------------------------


# -- shared request checks ----------------------------------------------------------------------


class EngineRequestMixin:
    """Query parsing and verification shared by the polling and websocket handlers."""

    host: EngineHost
    request: HTTPServerRequest

    def initialize(self, manager: EngineHost) -> None:
        self.host = manager

    def query(self, name: str) -> str | None:
        values = self.request.query_arguments.get(name)
        return values[0].decode("latin-1") if values else None

    def verify(self, upgrade: bool) -> tuple[int, EngineOwner | None]:
        """(protocol version, existing socket or None); raises EngineError."""
        transport = self.query("transport")
        if transport not in ENGINE_TRANSPORTS:
            raise EngineError(0)
        origin = self.request.headers.get("Origin")
        if origin is not None and INVALID_HEADER_CHARS.search(origin):
            raise EngineError(3)
        sid = self.query("sid")
        if sid:
            socket = self.host.get_engine(sid)
            if socket is None:
                raise EngineError(1)
            if not upgrade and socket.engine.transport != transport:
                raise EngineError(3)
            return socket.engine.version, socket
        if self.request.method != "GET":
            raise EngineError(2)
        if transport == "websocket" and not upgrade:
            raise EngineError(3)
        eio = self.query("EIO")
        if eio == "4":
            return 4, None
        if eio == "3" and self.host.settings.allow_eio3:
            return 3, None
        raise EngineError(5)

    async def allowed(self) -> bool:
        authorize = self.host.settings.authorize
        if authorize is None:
            return True
        try:
            result = authorize(self.request)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            log.exception("the authorize hook failed")
            return False
        return bool(result)

    def open_frames(self, socket: EngineOwner, upgrades: list[str]) -> list[Frame]:
        return open_frames(self.host, socket, upgrades)


def forget_engine(engines: dict[str, Owner], engine: EngineSession) -> None:
    """Drop an ended Engine.IO session from its host's index. A poll racing the client's
    close still finds it for a second, to get the noop it is owed."""
    if engine.owes_noop:
        asyncio.get_running_loop().call_later(1.0, engines.pop, engine.sid, None)
    else:
        engines.pop(engine.sid, None)


def open_frames(host: EngineHost, socket: EngineOwner, upgrades: list[str]) -> list[Frame]:
    """The OPEN packet for a new session."""
    settings = host.engine_settings
    return [
        engineio.open_packet(
            socket.engine.sid,
            upgrades,
            int(settings.ping_interval * 1000),
            int(settings.ping_timeout * 1000),
            settings.max_payload,
        )
    ]


# -- polling --------------------------------------------------------------------------------------


class PollSink:
    """A held GET."""

    transport = "polling"
    polling = True

    def __init__(self, handler: EnginePollingHandler) -> None:
        self.handler: EnginePollingHandler | None = handler
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def write(self, frames: list[Frame]) -> None:
        handler = self.handler
        if handler is None or self.done.done():
            return
        # The handler holds the sink: without the cycle, both go when the request does
        # (rather than at the cyclic collector's next pass).
        self.handler = None
        handler.answer(frames)
        self.done.set_result(None)

    def close(self) -> None:
        """Closed without an answer: the session refused this GET (it overlapped a held
        one): 400, Engine.IO code 3."""
        handler = self.handler
        if handler is None or self.done.done():
            return
        self.handler = None
        handler.fail(3)
        self.done.set_result(None)


@stream_request_body
class EnginePollingHandler(EngineRequestMixin, RequestHandler):
    """GET (receive) and POST (send) of the polling transport, and the handshake."""

    SUPPORTED_METHODS = ("GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH", "HEAD")

    def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._too_large = False
        self._sink: PollSink | None = None
        self._socket: EngineOwner | None = None
        self.allow_cors()

    def allow_cors(self) -> None:
        """The origin decision (:func:`tornio.transports.origins.check_request`): its CORS
        headers, or a 403 (Engine.IO code 4) that ends the request here."""
        decision = check_request(self.request, self.host.settings)
        if not decision.allowed:
            self.refuse_origin()
            return
        for name, value in decision.headers:
            self.set_header(name, value)

    def refuse_origin(self) -> None:
        status, body = engineio.error_body(4, "Origin not allowed")
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(body)

    def compute_etag(self) -> None:
        return None

    def options(self) -> None:
        self.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        requested = self.request.headers.get("Access-Control-Request-Headers")
        if requested:
            self.set_header("Access-Control-Allow-Headers", requested)
        self.set_status(204)
        self.finish()

    def data_received(self, chunk: bytes) -> None:
        if self._too_large:
            return
        self._size += len(chunk)
        if self._size > self.host.engine_settings.max_payload:
            self._too_large = True
            self._chunks = []
            return
        self._chunks.append(chunk)

    def fail(self, code: int) -> None:
        status, body = engineio.error_body(code)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(body)

    # -- GET ----------------------------------------------------------------------------------

    def get(self) -> Awaitable[None] | None:
        """A poll of an open session is answered without a coroutine: what is returned (the
        held poll's future, or the handshake's coroutine) is what the request waits for."""
        welcome = self.host.welcome()
        if welcome is not None and not self.request.query_arguments:
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(welcome)
            return None
        try:
            version, socket = self.verify(upgrade=False)
        except EngineError as exc:
            self.fail(exc.code)
            return None
        self._version = version
        if socket is None:
            return self._open(version)
        return self._poll(socket)

    async def _open(self, version: int) -> None:
        """The handshake: a new session, whose first poll this request is."""
        if not await self.allowed():
            self.fail(4)
            return
        socket = self.host.create_engine_socket(version, "polling", self.request)
        MODERN.handshakes += 1
        socket.engine.b64 = self.query("b64") is not None
        upgrades = ["websocket"] if "websocket" in ENGINE_TRANSPORTS else []
        socket.send_frames(self.open_frames(socket, upgrades))
        socket.opened()
        waiter = self._poll(socket)
        if waiter is not None:
            await waiter

    def _poll(self, socket: EngineOwner) -> asyncio.Future[None] | None:
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None and stream.closed():
            return None
        sink = self._sink = PollSink(self)
        self._socket = socket
        try:
            # A poll the session refuses after taking it (overlapping) is answered 400.
            socket.attach_poll(sink, self.host.clock())
        except EngineError as exc:
            self.host.touch(socket)
            self.fail(exc.code)
            return None
        self.host.touch(socket)
        return sink.done

    def answer(self, frames: list[Frame]) -> None:
        jsonp = self.query("j")
        b64 = jsonp is not None or self.query("b64") is not None
        if self._socket is not None:
            b64 = b64 or self._socket.engine.b64
        body = engineio.encode_payload(frames, self._version, b64=b64)
        MODERN.messages_out += len(frames)
        MODERN.bytes_out += len(body)  # characters of a text body: bytes but for non-ASCII
        self.set_header("Cache-Control", "no-store")
        if jsonp is not None and self._version < 4 and JSONP_INDEX.match(jsonp):
            text = body if isinstance(body, str) else body.decode("latin-1")
            script = json.dumps(text, ensure_ascii=False)
            script = script.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            self.set_header("Content-Type", "text/javascript; charset=UTF-8")
            data = f"___eio[{jsonp}]({script});".encode()
        elif isinstance(body, bytes):
            self.set_header("Content-Type", "application/octet-stream")
            data = body
        else:
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            data = body.encode("utf-8")
        self.finish(compress_answer(self, data, self.host.settings.http_compression))

    def on_connection_close(self) -> None:
        sink, socket = self._sink, self._socket
        if sink is not None and socket is not None and not sink.done.done():
            socket.detach(sink, self.host.clock())
            sink.done.set_result(None)

    # -- POST ---------------------------------------------------------------------------------

    def post(self) -> Awaitable[None] | None:
        try:
            version, socket = self.verify(upgrade=False)
        except EngineError as exc:
            self.fail(exc.code)
            return None
        assert socket is not None  # verify refuses a POST without a sid (code 2)
        if socket.inbox.slicing:  # a POST while the last one's packets are still handled
            log.info("closing engine session %s: overlapping POST", socket.engine.sid)
            self.fail(3)
            socket.close_session("overlap from client", notify_client=True)
            return None
        if self._too_large:
            self.set_status(413)
            self.finish()
            socket.close_session("payload too large", notify_client=True)
            return None
        body = b"".join(self._chunks)
        content_type = self.request.headers.get("Content-Type", "")
        binary = content_type.startswith("application/octet-stream")
        try:
            if binary and version >= 4:
                raise InvalidPayload("binary bodies are for Engine.IO v3 only")
            if self.query("j") is not None:
                packets = engineio.decode_payload(self.jsonp_body(body), version)
            elif binary:
                packets = engineio.decode_payload(body, version, binary_body=True)
            else:
                packets = engineio.decode_payload(body.decode("utf-8"), version)
        except (InvalidPayload, InvalidPacket, UnicodeDecodeError) as exc:
            log.info("closing engine session %s: bad payload: %s", socket.engine.sid, exc)
            self.set_status(400)
            self.finish()
            socket.close_session("parse error", notify_client=True)
            return None
        self.set_header("Content-Type", "text/html")
        MODERN.messages_in += len(packets)
        MODERN.bytes_in += len(body)
        messages = socket.receive(packets, self.host.clock())
        if len(messages) > SLICE or socket.inbox.behind:
            return self._receive_in_slices(socket, messages)
        self.finish("ok")
        if messages:
            socket.receive_messages(messages)
        self.host.touch(socket)
        return None

    async def _receive_in_slices(
        self, socket: EngineOwner, messages: list[str | bytes]
    ) -> None:
        """Many packets (or the socket's handlers behind): handled in slices, the loop free
        between them; the POST is answered once they are (the client sends no other
        meanwhile)."""
        await socket.inbox.in_slices(messages, socket.receive_messages)
        self.finish("ok")
        self.host.touch(socket)

    def put(self) -> None:
        """Any other method: refused as the reference refuses it (``Bad handshake method``
        without a sid, ``Bad request`` with one)."""
        try:
            self.verify(upgrade=False)
        except EngineError as exc:
            self.fail(exc.code)
            return
        self.fail(3)

    delete = patch = head = put

    @staticmethod
    def jsonp_body(body: bytes) -> str:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        if "d" not in fields:
            raise InvalidPayload("no 'd' field")
        # The v3 client escapes newlines in JSONP bodies as \\n.
        return re.sub(r"(\\)?\\n", lambda m: m.group(0) if m.group(1) else "\n", fields["d"][0])


class SteadyEnginePolling(SteadyExchange):
    """A poll of an open polling session on the fast path, answered as
    :class:`EnginePollingHandler` answers it: a GET, which is the session's sink while it is
    held; a POST of packets, answered ``ok``. A request whose ``Origin`` is not the server's
    own (a refusal, CORS headers: the handler's ``prepare``) is handed on at its head; one with a
    quoted or JSONP query, a binary or bad body, for a session that is not polling here…
    is the general exchange's (:meth:`~tornio.transports.steady.SteadyExchange.fallback`)."""

    transport = "polling"
    polling = True
    host: EngineHost
    _socket: EngineOwner | None = None
    _b64 = False

    def data_received(self, chunk: bytes) -> None:
        self._chunks += (chunk,)
        self._size += len(chunk)
        if self._size > self.host.engine_settings.max_payload:
            self.fallback()  # the handler's 413

    def run(self) -> None:
        connection = self._fast
        query = connection.query
        transport = sid = None
        if "%" in query or "+" in query:  # (quoted: the handler's parsing)
            self.fallback()
            return
        # The first value of each name, as the handler's ``query`` reads it.
        for part in query.split("&"):
            if part[:9] == "transport" and part[9:10] in ("", "="):
                if transport is None:
                    transport = part[10:]
            elif part[:3] == "sid" and part[3:4] in ("", "="):
                if sid is None:
                    sid = part[4:]
            elif part[:3] == "b64" and part[3:4] in ("", "="):
                self._b64 = True
            elif part[:1] == "j" and part[1:2] in ("", "="):
                self.fallback()  # JSONP
                return
        socket = self.host.get_engine(sid) if sid and transport == "polling" else None
        if socket is None or socket.engine.transport != "polling":
            self.fallback()  # (the handler's refusals)
        elif connection.method == "GET":
            self._get(socket)
        else:
            self._post(socket)

    # -- GET ----------------------------------------------------------------------------------

    def _get(self, socket: EngineOwner) -> None:
        connection = self._fast
        if connection.lost or connection.handed_off:
            self.fallback()
            return
        self._socket = socket
        try:
            socket.attach_poll(self, self.host.clock())
        except EngineError:  # nothing changed: the handler meets the same refusal
            self._socket = None
            self.fallback()
        # (No touch: holding a GET moves no deadline, and one that overlaps ends the session,
        # whose timer is then cancelled.)

    def write(self, frames: list[Frame]) -> None:  # type: ignore[override]
        """The session's frames: the answer (:meth:`EnginePollingHandler.answer`)."""
        socket = self._socket
        if self.finished or socket is None:
            return
        engine = socket.engine
        body = engineio.encode_payload(frames, engine.version, b64=self._b64 or engine.b64)
        MODERN.messages_out += len(frames)
        MODERN.bytes_out += len(body)
        if isinstance(body, bytes):
            content_type, data = "application/octet-stream", body
        else:
            content_type, data = "text/plain; charset=UTF-8", body.encode("utf-8")
        setting, known = self.host.settings.http_compression, self._threshold
        if known[0] is setting and (known[1] is None or len(data) < known[1]):
            self.reply(data, content_type, "Cache-Control: no-store\r\n")
        else:
            data, extra = self.compressed(data, setting)
            self.reply(data, content_type, "Cache-Control: no-store\r\n" + extra)

    def close(self) -> None:
        """Refused without frames (a GET that overlapped a held one): 400, code 3."""
        if self.finished or self._socket is None:
            return
        status, body = engineio.error_body(3)
        self.reply(body.encode("utf-8"), "application/json", status=status)

    def on_connection_close(self) -> None:
        socket = self._socket
        if socket is not None and not self.finished:
            socket.detach(self, self.host.clock())
            self.finished = True

    # -- POST ---------------------------------------------------------------------------------

    def _post(self, socket: EngineOwner) -> None:
        raw = self._fast.raw
        if socket.inbox.slicing or ("content-type" in raw and raw["content-type"].startswith(
                b"application/octet-stream")):
            self.fallback()  # (an overlapping POST; a binary body)
            return
        body = b"".join(self._chunks)
        engine = socket.engine
        try:
            packets = engineio.decode_payload(body.decode("utf-8"), engine.version)
        except (InvalidPayload, InvalidPacket, UnicodeDecodeError):
            self.fallback()  # the handler closes the session and answers 400
            return
        MODERN.messages_in += len(packets)
        MODERN.bytes_in += len(body)
        host = self.host
        messages = socket.receive(packets, host.clock())
        if len(messages) > SLICE or socket.inbox.behind:
            self.slices(self._receive_in_slices(socket, messages))
            return
        self.answer(b"ok", "text/html", OK_LENGTH)
        if messages:
            socket.receive_messages(messages)
        if len(messages) != len(packets):  # a pong may move a deadline earlier; a message not
            host.touch(socket)

    async def _receive_in_slices(
        self, socket: EngineOwner, messages: list[str | bytes]
    ) -> None:
        await socket.inbox.in_slices(messages, socket.receive_messages)
        self.reply(b"ok", "text/html")
        self.host.touch(socket)


# -- websocket -------------------------------------------------------------------------------------


class EngineWebSocket(WebSocketConnection):
    """An open Engine.IO websocket: a new session, or the upgrade of a polling one. It is
    also the session's sink."""

    transport = "websocket"
    polling = False
    traffic = MODERN

    def __init__(
        self,
        host: EngineHost,
        request: HTTPServerRequest,
        version: int,
        existing: EngineOwner | None,
    ) -> None:
        super().__init__(host.engine_settings.max_payload, host.settings.max_write_buffer)
        if host.settings.per_message_deflate:
            self.deflate_options = DeflateOptions.from_setting(host.settings.per_message_deflate)
        self.host = host
        self.request: HTTPServerRequest | None = request
        self.version = version
        self.socket: EngineOwner | None = existing
        self.attached = False

    #: The sink's write: one frame per message (the session's frames as they are, v4).
    write = WebSocketConnection.write_frames

    def overflowed(self, unsent: int) -> None:
        socket = self.socket
        if socket is not None and self.attached and socket.engine.sink is self:
            socket.overflowed(self.transport, unsent)
        else:  # a probe (it carries nothing but 3probe)
            super().overflowed(unsent)

    def on_open(self) -> None:
        host, request = self.host, self.request
        self.request = None
        now = host.clock()
        socket = self.socket
        if socket is not None:
            try:
                socket.begin_upgrade(self, now)
            except EngineError:
                self.close()
                return
        else:
            assert request is not None
            if self.version < 4:
                self.hold_writes(EIO3_OPEN_HOLD)
            socket = self.socket = host.create_engine_socket(self.version, "websocket", request)
            MODERN.handshakes += 1
            socket.attach_websocket(self, now)
            socket.send_frames(open_frames(host, socket, []))
            socket.opened()
        self.attached = True
        socket.inbox.set_input_gate(self)  # its handlers behind: this stops reading
        host.touch(socket)

    def on_message(self, message: str | bytes) -> None:
        socket = self.socket
        if not self.attached or socket is None:
            return
        host = self.host
        now = host.clock()
        engine = socket.engine
        try:
            packet = engineio.decode_packet(message, self.version)
        except InvalidPacket as exc:
            log.info("bad websocket frame on %s: %s", engine.sid, exc)
            if engine.upgrading and self is not engine.sink:
                socket.detach(self, now)
            else:
                socket.close_session("parse error")
            return
        messages = socket.receive([packet], now, self)
        if messages:
            socket.receive_messages(messages)
        # A message moves no deadline earlier (what its handlers do either: a close cancels
        # the timer): the timer armed for the session still fires in time.
        if packet.type is not engineio.PacketType.MESSAGE:
            host.touch(socket)

    def on_close(self) -> None:
        socket = self.socket
        if socket is not None and self.attached:
            self.attached = False
            socket.inbox.drop_input_gate(self)
            socket.detach(self, self.host.clock())
            if not socket.engine.closed:
                self.host.touch(socket)


class EngineWebSocket3(EngineWebSocket):
    """An Engine.IO v3 websocket: its binary frames start with the message type."""

    def write(self, frames: Sequence[Frame]) -> bool:
        return self.write_frames([f if isinstance(f, str) else b"\x04" + f for f in frames])


class EngineWebSocketHandler(EngineRequestMixin, UpgradeHandler):
    """``GET /<path>/?EIO=4&transport=websocket`` with an upgrade."""

    async def get(self, *args: str) -> None:
        if not self.origin_ok():  # before the authorize hook runs for a foreign page
            self.set_status(403)
            self.finish("Cross origin websockets not allowed")
            return
        try:
            version, existing = self.verify(upgrade=True)
        except EngineError as exc:
            self.refuse_engine(exc.code)
            return
        if existing is None and not await self.allowed():
            self.refuse_engine(4)
            return
        self._engine_args = (version, existing)
        await super().get(*args)

    def refuse_engine(self, code: int) -> None:
        status, body = engineio.error_body(code)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(body)

    def origin_ok(self) -> bool:
        return check_request(self.request, self.host.settings, websocket=True).allowed

    def check_origin(self, origin: str) -> bool:
        return self.origin_ok()

    def connection(self, *args: str) -> EngineWebSocket:
        version, existing = self._engine_args
        kind = EngineWebSocket if version >= 4 else EngineWebSocket3
        return kind(self.host, self.request, version, existing)
