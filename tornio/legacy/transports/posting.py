"""Packets in by HTTP POST: what xhr-polling, jsonp-polling, htmlfile and xhr-multipart share.

Node 0.9's behaviour (``reference/legacy.md`` §2.2): the POST body is read whole (so packets
with newlines arrive intact) up to ``max_buffer_size`` (413 beyond), answered ``1``, then its
packets are processed. Subclasses add the ``get`` that carries packets out and may override
:meth:`PacketPostHandler.read_payload` (jsonp-polling's ``d=`` form field).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from tornado.web import RequestHandler, stream_request_body

from tornio.core.counters import LEGACY
from tornio.core.fairness import SLICE
from tornio.legacy.transports.base import UNKNOWN_SID, TransportMixin

if TYPE_CHECKING:
    from tornio.legacy.socket import LegacySocket

__all__ = ["PacketPostHandler"]

log = logging.getLogger("tornio.legacy.transports.posting")


@stream_request_body
class PacketPostHandler(TransportMixin, RequestHandler):
    """``POST /<resource>/1/<transport>/<sid>``: a payload from the client.

    ``prepare`` also refuses a disabled transport and an origin the ``origins`` setting
    refuses (403), and handles ``?disconnect`` for every method, so the ``get`` of a
    subclass runs only for an enabled transport and an allowed origin.
    """

    #: A JSONP transport: a ``<script>`` sends no Origin, so its Referer is checked when it
    #: has one. (Neither is fine here: only the page the handshake answered knows the sid,
    #: and the JSONP handshake had to show one.)
    jsonp = False

    #: The session this request serves, once known. A class default: a request Tornado
    #: refuses before ``prepare`` (a bad URL) still reaches ``on_connection_close``.
    _socket: LegacySocket | None = None

    def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._socket = None
        if not self.transport_enabled():
            self.refuse(400, f"transport {self.transport_name!r} is not enabled")
            return
        if not self.check_origin_allowed(referer=self.jsonp):
            return
        sid = self.path_args[0]
        if self.forced_disconnect(sid):
            return
        if self.request.method == "POST":
            length = self.request.headers.get("Content-Length")
            limit = self.manager.settings.max_buffer_size
            if length is not None and length.isdigit() and int(length) > limit:
                self.refuse(413, "payload too large")

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        self._size += len(chunk)
        if self._size > self.manager.settings.max_buffer_size:
            self._chunks = []
            self.refuse(413, "payload too large")
            return
        self._chunks.append(chunk)

    def post(self, sid: str) -> Awaitable[None] | None:
        if self._finished:
            return None
        self.allow_cors()
        self.set_header("X-XSS-Protection", "0")
        socket = self.manager.get(sid)
        if socket is None:
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(UNKNOWN_SID)
            return None
        if socket.inbox.slicing:  # the last POST's packets are still being handled
            self.refuse(400, "a POST overlaps the last one")
            return None
        body = b"".join(self._chunks)
        self._chunks = []
        try:
            payload = self.read_payload(body)
        except ValueError as exc:
            self.refuse(400, f"bad request body: {exc}")
            return None
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        LEGACY.bytes_in += len(body)
        LEGACY.messages_in += payload.count("\ufffd") // 2 if payload.startswith("\ufffd") else 1
        packets = socket.split_payload(payload)
        if len(packets) > SLICE or socket.inbox.behind:
            return self._receive_in_slices(socket, packets)
        self.finish("1")
        socket.receive_packets(packets)
        if socket.connected:
            self.manager.touch(socket)
        return None

    async def _receive_in_slices(self, socket: LegacySocket, packets: list[str]) -> None:
        """Many packets (or the socket's handlers behind): handled in slices, the loop free
        between them; answered once they are (the client posts nothing else meanwhile)."""
        await socket.inbox.in_slices(packets, socket.receive_packets)
        self.finish("1")
        if socket.connected:
            self.manager.touch(socket)

    def read_payload(self, body: bytes) -> str:
        """The packet payload carried by a POST body; ValueError if it is malformed."""
        return body.decode("utf-8")
