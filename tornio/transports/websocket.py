"""The legacy websocket transport (RFC 6455 through Tornado): one packet per frame."""

from __future__ import annotations

import logging
from typing import Any

from tornado.websocket import WebSocketHandler

from tornio.origins import origin_allowed
from tornio.transports.base import UNKNOWN_SID, TransportMixin
from tornio.transports.wsframes import write_frames
from tornio.virtsocket import LegacySocket

__all__ = ["LegacyWebSocketHandler"]

log = logging.getLogger("tornio.transports.websocket")


class WebSocketSink:
    """The session's view of an open websocket."""

    polling = False
    __slots__ = ("handler", "transport")

    def __init__(self, handler: LegacyWebSocketHandler) -> None:
        self.handler = handler
        self.transport = handler.transport_name

    def write(self, packets: list[str]) -> None:
        write_frames(self.handler, packets)  # a closing socket: on_close detaches us

    def close(self) -> None:
        self.handler.close()


class LegacyWebSocketHandler(TransportMixin, WebSocketHandler):
    """``/<resource>/1/websocket/<sid>``."""

    transport_name = "websocket"

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if not self.transport_enabled():
            self.refuse(400, f"transport {self.transport_name!r} is not enabled")
            return
        await super().get(*args, **kwargs)

    def check_origin(self, origin: str) -> bool:
        return origin_allowed(self.manager.settings.origins, origin)

    @property
    def max_message_size(self) -> int:
        return self.manager.settings.max_buffer_size

    def get_compression_options(self) -> None:
        return None

    def open(self, *args: str, **kwargs: str) -> None:
        sid = args[-1]
        self.set_nodelay(True)
        self._sink: WebSocketSink | None = None
        socket = self.manager.get(sid)
        self._socket: LegacySocket | None = socket
        if socket is None:
            self.write_message(UNKNOWN_SID)
            self.close()
            return
        self._sink = WebSocketSink(self)
        socket.attach(self._sink, self.request)

    def on_message(self, message: str | bytes) -> None:
        socket = self._socket
        if socket is None or self._sink is None:
            return
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        if message.startswith("\ufffd"):
            socket.receive_payload(message)
        else:
            socket.receive_packet(message)

    def on_close(self) -> None:
        socket, sink = getattr(self, "_socket", None), getattr(self, "_sink", None)
        if socket is not None and sink is not None:
            socket.detach(sink)
