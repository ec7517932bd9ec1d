"""xhr-polling and jsonp-polling: a GET long-polls for packets, a POST carries packets in.

Node 0.9's behaviour (``reference/legacy.md`` §2.2–§2.3): one answer per GET (a packet, or
several framed, or ``8::`` when the polling duration passes); POSTs
are :class:`~tornio.legacy.transports.posting.PacketPostHandler`'s (``1`` for each,
the whole body read).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from tornio.core.counters import LEGACY
from tornio.core.fairness import SLICE
from tornio.legacy.session import SessionState
from tornio.legacy.transports.base import UNKNOWN_SID
from tornio.legacy.transports.posting import PacketPostHandler
from tornio.protocol import legacy
from tornio.transports.compression import compress_answer
from tornio.transports.steady import SteadyExchange

if TYPE_CHECKING:
    from tornio.legacy.socket import LegacySocket
    from tornio.legacy.transports.base import LegacyHost

__all__ = ["JsonpPollingHandler", "SteadyXhrPolling", "XhrPollingHandler"]

log = logging.getLogger("tornio.legacy.transports.polling")

JSONP_INDEX = re.compile(r"^\d+$")
#: What follows ``Date`` in the answer to a POST: ``1``.
POSTED = "X-Xss-Protection: 0\r\nContent-Length: 1\r\n"


class PollingSink:
    """One held GET: the session writes to it once, which answers the request."""

    polling = True
    __slots__ = ("done", "handler", "transport")

    def __init__(self, handler: XhrPollingHandler) -> None:
        self.handler: XhrPollingHandler | None = handler
        self.transport = handler.transport_name
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def write(self, packets: list[str]) -> None:
        handler = self.handler
        if handler is None or self.done.done():
            return
        self.handler = None  # no handler-sink cycle left for the collector
        LEGACY.messages_out += len(packets)
        handler.send_payload(legacy.encode_payload(packets))
        self.done.set_result(None)

    def close(self) -> None:
        self.write(["8::"])


class XhrPollingHandler(PacketPostHandler):
    """``/<resource>/1/xhr-polling/<sid>``: the POST side is :class:`PacketPostHandler`'s."""

    transport_name = "xhr-polling"
    content_type = "text/plain; charset=UTF-8"

    #: The held poll (a class default, as ``_socket``'s).
    _sink: PollingSink | None = None

    def prepare(self) -> None:
        self._sink = None
        super().prepare()

    # -- GET: long poll ---------------------------------------------------------------------

    def get(self, sid: str) -> asyncio.Future[None] | None:
        """What the request waits for (the held poll's future) is returned, not awaited: a
        poll costs no coroutine."""
        if self._finished:
            return None
        self.allow_cors()
        socket = self.manager.get(sid)
        if socket is None:
            self.send_payload(UNKNOWN_SID)
            return None
        if not self.check_request():
            return None
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None and stream.closed():
            return None  # the client left before we got here: on_connection_close won't come
        sink = self._sink = PollingSink(self)
        self._socket = socket
        socket.attach(sink, self.request)
        return sink.done

    def check_request(self) -> bool:
        """Transport-specific query checks; False once an error was answered."""
        return True

    def send_payload(self, payload: str) -> None:
        self.set_header("Content-Type", self.content_type)
        body = self.wrap(payload).encode("utf-8", "replace")
        LEGACY.bytes_out += len(body)
        self.finish(compress_answer(self, body, self.manager.settings.http_compression))

    def wrap(self, payload: str) -> str:
        return payload

    def on_connection_close(self) -> None:
        sink, socket = self._sink, self._socket
        if sink is not None and socket is not None and not sink.done.done():
            socket.detach(sink)
            sink.close()


class JsonpPollingHandler(XhrPollingHandler):
    """``/<resource>/1/jsonp-polling/<sid>?i=N``: answers are ``io.j[N]("<payload>");``."""

    transport_name = "jsonp-polling"
    jsonp = True
    content_type = "text/javascript; charset=UTF-8"

    def check_request(self) -> bool:
        index = self.get_query_argument("i", "0")
        if not JSONP_INDEX.match(index):
            self.refuse(400, "invalid jsonp index")
            return False
        return True

    def send_payload(self, payload: str) -> None:
        index = self.get_query_argument("i", "0")
        if not JSONP_INDEX.match(index):
            self.refuse(400, "invalid jsonp index")
            return
        self.set_header("X-XSS-Protection", "0")
        super().send_payload(payload)

    def wrap(self, payload: str) -> str:
        # ensure_ascii keeps U+2028/U+2029 escaped, which old script engines reject raw.
        return f"io.j[{self.get_query_argument('i', '0')}]({json.dumps(payload)});"

    def read_payload(self, body: bytes) -> str:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        if "d" not in fields:
            raise ValueError("no 'd' field")
        data = json.loads(fields["d"][0])
        if not isinstance(data, str):
            raise ValueError("'d' is not a JSON string")
        return data


class SteadyXhrPolling(SteadyExchange):
    """xhr-polling of an open session on the fast path, answered as
    :class:`XhrPollingHandler` answers it: a GET, which is the session's sink while it is held;
    a POST of packets, answered ``1``. The route sends it only requests that the handler's
    ``prepare`` has nothing to say about (the transport enabled; the server's own ``Origin``
    or none, no ``?disconnect``, a declared body within ``max_buffer_size``:
    ``tornio.fastpath``); one for an unknown session, a session's first poll, a body over the
    limit… is the general exchange's (:meth:`~tornio.transports.steady.SteadyExchange.fallback`)."""

    transport = "xhr-polling"
    polling = True
    content_type = XhrPollingHandler.content_type
    host: LegacyHost
    _socket: LegacySocket | None = None

    def data_received(self, chunk: bytes) -> None:
        self._chunks += (chunk,)
        self._size += len(chunk)
        if self._size > self.host.settings.max_buffer_size:
            self.fallback()  # the handler's 413

    def run(self) -> None:
        socket = self.host.get(self.path_args[0])
        if socket is None:
            self.fallback()  # (the handler's "not handshaken")
        elif self._fast.method == "GET":
            self._get(socket)
        else:
            self._post(socket)

    # -- GET ----------------------------------------------------------------------------------

    def _get(self, socket: LegacySocket) -> None:
        # A session's first poll (its request kept) and a closed one are the handler's.
        connection = self._fast
        if (socket.engine.state is not SessionState.OPEN or connection.lost
                or connection.handed_off):
            self.fallback()
            return
        self._socket = socket
        socket.attach(self, None)

    def write(self, packets: list[str]) -> None:  # type: ignore[override]
        """The session's packets: the answer (:meth:`XhrPollingHandler.send_payload`)."""
        if self.finished:
            return
        LEGACY.messages_out += len(packets)
        body = legacy.encode_payload(packets).encode("utf-8", "replace")
        LEGACY.bytes_out += len(body)
        setting, known = self.host.settings.http_compression, self._threshold
        if known[0] is setting and (known[1] is None or len(body) < known[1]):
            self.reply(body, self.content_type)
        else:
            data, extra = self.compressed(body, setting)
            self.reply(data, self.content_type, extra)

    def close(self) -> None:
        self.write(["8::"])

    def on_connection_close(self) -> None:
        socket = self._socket
        if socket is not None and not self.finished:
            socket.detach(self)
            self.close()

    # -- POST ---------------------------------------------------------------------------------

    def _post(self, socket: LegacySocket) -> None:
        if socket.inbox.slicing:
            self.fallback()
            return
        body = b"".join(self._chunks)
        try:
            payload = body.decode("utf-8")
        except UnicodeDecodeError:
            self.fallback()
            return
        LEGACY.bytes_in += len(body)
        LEGACY.messages_in += payload.count("\ufffd") // 2 if payload.startswith("\ufffd") else 1
        packets = socket.split_payload(payload)
        if len(packets) > SLICE or socket.inbox.behind:
            self.slices(self._receive_in_slices(socket, packets))
            return
        self.answer(b"1", self.content_type, POSTED)
        socket.receive_packets(packets)
        if socket.connected:
            self.host.touch(socket)

    async def _receive_in_slices(self, socket: LegacySocket, packets: list[str]) -> None:
        await socket.inbox.in_slices(packets, socket.receive_packets)
        self.answer(b"1", self.content_type, POSTED)
        if socket.connected:
            self.host.touch(socket)
