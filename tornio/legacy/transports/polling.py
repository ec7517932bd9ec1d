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
from urllib.parse import parse_qs

from tornio.core.counters import LEGACY
from tornio.legacy.transports.base import UNKNOWN_SID
from tornio.legacy.transports.posting import PacketPostHandler
from tornio.protocol import legacy
from tornio.transports.compression import compress_answer

__all__ = ["JsonpPollingHandler", "XhrPollingHandler"]

log = logging.getLogger("tornio.legacy.transports.polling")

JSONP_INDEX = re.compile(r"^\d+$")


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
