"""The legacy websocket transport (RFC 6455): one packet per frame."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tornio.core.counters import LEGACY
from tornio.core.fairness import SLICE
from tornio.legacy.transports.base import UNKNOWN_SID, TransportMixin
from tornio.transports.origins import check_request
from tornio.transports.wsconn import UpgradeHandler, WebSocketConnection

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from tornio.legacy.socket import LegacySocket

__all__ = ["LegacyWebSocketHandler"]


class LegacyWebSocket(WebSocketConnection):
    """An open websocket of a 0.9 session, and the session's sink for it."""

    polling = False
    traffic = LEGACY

    def __init__(
        self,
        socket: LegacySocket | None,
        request: HTTPServerRequest,
        transport: str,
        max_message_size: int,
        max_write_buffer: int,
    ) -> None:
        super().__init__(max_message_size, max_write_buffer)
        self.socket = socket
        self.request: HTTPServerRequest | None = request
        self.attached = False
        self.transport = transport  # the session's name for it

    #: The sink's write: one frame per packet (a closing socket: on_close detaches us).
    write = WebSocketConnection.write_frames

    def overflowed(self, unsent: int) -> None:
        socket = self.socket
        if socket is not None and self.attached and socket.engine.sink is self:
            socket.overflowed(self.transport, unsent)
        else:
            super().overflowed(unsent)

    def on_open(self) -> None:
        socket, request = self.socket, self.request
        self.request = None  # the session keeps it if it needs it
        if socket is None or request is None:
            self.write_frames([UNKNOWN_SID])
            self.close()
            return
        self.attached = True
        socket.attach(self, request)
        socket.inbox.set_input_gate(self)  # its handlers behind: this stops reading

    def on_message(self, message: str | bytes) -> None:
        socket = self.socket
        if socket is None or not self.attached:
            return
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        if not message.startswith("\ufffd"):
            socket.receive_packet(message)
            return
        packets = socket.split_payload(message)
        if len(packets) <= SLICE:
            socket.receive_packets(packets)
            return
        # A payload of many packets in one frame: handled in slices, the frames after it
        # waiting (and none read) until it is done.
        self.hold_input()
        socket.manager.run_in_background(self._receive_in_slices(socket, packets))

    async def _receive_in_slices(self, socket: LegacySocket, packets: list[str]) -> None:
        try:
            await socket.inbox.in_slices(packets, socket.receive_packets)
        finally:
            self.release_input()

    def on_close(self) -> None:
        socket = self.socket
        if socket is not None and self.attached:
            self.attached = False
            socket.inbox.drop_input_gate(self)
            socket.detach(self)


class LegacyWebSocketHandler(TransportMixin, UpgradeHandler):
    """``/<resource>/1/websocket/<sid>``."""

    transport_name = "websocket"

    async def get(self, *args: str) -> None:
        if not self.transport_enabled():
            self.refuse(400, f"transport {self.transport_name!r} is not enabled")
            return
        await super().get(*args)

    def check_origin(self, origin: str) -> bool:
        return check_request(self.request, self.manager.settings, websocket=True).allowed

    def connection(self, *args: str) -> LegacyWebSocket:
        return LegacyWebSocket(
            self.manager.get(args[-1]),
            self.request,
            self.transport_name,
            self.manager.settings.max_buffer_size,
            self.manager.settings.max_write_buffer,
        )
