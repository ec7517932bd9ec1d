"""``LegacySocket``: a Socket.IO 0.9 client over a :class:`~tornio.legacy.session.LegacySession`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tornio.core.requests import kept_request
from tornio.core.socket import Socket
from tornio.exceptions import ConnectionRefused, InvalidPacket, InvalidPayload
from tornio.legacy.session import LegacySession, SessionState, Sink
from tornio.protocol import legacy
from tornio.protocol.drive import drive
from tornio.protocol.packets import Packet

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from tornio.core.socket import SocketHost
    from tornio.protocol.jsoncodec import JsonCodec

__all__ = ["LegacySocket"]


class LegacySocket(Socket):
    """A Socket.IO 0.9 client over a :class:`~tornio.legacy.session.LegacySession`."""

    protocol = "legacy"
    flavour = "legacy"
    legacy_names = True
    engine: LegacySession
    #: How a 0.9 session closes, as node's disconnect reasons (docs/reference/disconnects-acks.md).
    disconnect_reasons = {
        "client disconnect": "client namespace disconnect",  # 0:: or ?disconnect
        "server disconnect": "server namespace disconnect",  # disconnect() from the server
        "transport closed": "transport close",  # a websocket or flashsocket closed
        "close timeout": "transport close",  # a polling client stopped coming back
        "heartbeat timeout": "ping timeout",
        "handshake timeout": "transport close",  # no transport ever came (no namespaces)
        "server shutdown": "server shutting down",
        "server shutting down": "server shutting down",
        "internal error": "forced server close",
        "write buffer full": "transport error",  # the client left max_write_buffer untaken
    }

    def __init__(self, manager: SocketHost, sid: str, now: float) -> None:
        super().__init__(manager, sid)
        self.engine = LegacySession(sid, manager.settings, now)

    @classmethod
    def encode_event(
        cls, endpoint: str, event: str, args: list[Any], json: JsonCodec | None = None
    ) -> str:
        return legacy.encode_event(endpoint, event, args, json=json)

    def send_raw(self, wire: str) -> None:
        engine = self.engine
        stream = engine.stream
        if stream is not None:  # what send would return, without building it: a broadcast
            stream.write([wire])  # to an attached websocket or stream
            return
        outs = engine.send(wire, self.manager.clock())
        if outs or engine.pending_close is not None:  # drive's test, inlined: a broadcast's
            drive(self, outs)  # polling members between two polls return nothing

    def _send(self, packet: Packet) -> None:
        wire = legacy.encode(packet, self.json_codec)
        stream = self.engine.stream
        if stream is not None:  # as send would return it, without building it
            stream.write([wire])
        else:
            drive(self, self.engine.send(wire, self.manager.clock()))

    def _check_encodable(self, packet: Packet) -> None:
        legacy.encode(packet, self.json_codec)

    def _send_connect_ok(self, endpoint: str) -> None:
        if endpoint:  # the global namespace's connect packet went out with the transport
            self._send(Packet("connect", endpoint))

    def _send_connect_refused(self, endpoint: str, refusal: ConnectionRefused) -> None:
        # The 0.9 client turns an "unauthorized" error without advice into connect_failed.
        self._send(Packet("error", endpoint, reason="unauthorized"))
        if not endpoint:
            self.disconnect()

    # -- the engine, driven (tornio.protocol.drive) -----------------------------------------

    def close_session(self, reason: str) -> None:
        drive(self, self.engine.close(reason))

    def handle_timer(self, now: float) -> None:
        drive(self, self.engine.handle_timer(now))

    def overflowed(self, transport: str, unsent: int) -> None:
        """A persistent transport holds more than ``max_write_buffer`` unsent bytes."""
        drive(self, self.engine.overflowed(transport, unsent))

    # -- transports --------------------------------------------------------------------------

    def attach(self, sink: Sink, request: HTTPServerRequest | None) -> None:
        """A transport connection for this socket arrived (``request``: the one that
        brought it, kept if it is the session's first; None only for a later one)."""
        first = self.engine.state is SessionState.NEW
        drive(self, self.engine.attach(sink, self.manager.clock()))
        self.incr_hits()  # gevent-socketio's count of a socket's requests: here, its polls
        if first and not self.closed:  # (its first write may have passed max_write_buffer)
            if request is not None:
                self.request = kept_request(request)
            # A view that calls socketio_manage() may have to choose the namespaces first.
            if not self.begin_opening(self.join_global_namespace):
                self.join_global_namespace()
        self.manager.touch(self)

    def detach(self, sink: Sink) -> None:
        drive(self, self.engine.detach(sink, self.manager.clock()))
        if not self.closed:
            self.manager.touch(self)

    def receive_payload(self, data: str) -> None:
        """A polling POST body: one packet, or several framed."""
        self.receive_packets(self.split_payload(data))

    def split_payload(self, data: str) -> list[str]:
        """The packets of a payload (one packet, or several framed); none, and the client
        told, if it does not split."""
        try:
            return legacy.decode_payload(data)
        except InvalidPayload as exc:
            self.engine.received(self.manager.clock())
            self.error("invalid_packet", f"could not split the payload: {exc}")
            return []

    def receive_packets(self, packets: Sequence[str]) -> None:
        """Encoded packets from the client, in order (until the socket closes)."""
        for packet in packets:
            if self.closed:
                break
            self.receive_packet(packet)

    def receive_packet(self, data: str) -> None:
        """One encoded packet from the client."""
        self.engine.received(self.manager.clock())
        if self.opening.held is not None and self.opening.hold((data,)):
            return
        try:
            packet = legacy.decode(data, self.json_codec)
        except InvalidPacket as exc:
            self.error(
                "invalid_packet",
                f"There was a decoding error when dealing with packet {data[:20]!r}: {exc}",
                endpoint=exc.endpoint if exc.endpoint in self.active_ns else "",
            )
            return
        self.handle_packet(packet)

    def _replay_input(self, items: list[Any]) -> None:
        self.receive_packets(items)

    def dispatch_packet(self, packet: Packet) -> None:
        packet_type = packet.kind
        endpoint = packet.endpoint
        if packet_type in ("heartbeat", "noop"):
            return  # (handle_packet, the one caller, returned already if the socket closed)
        if packet_type == "disconnect" and endpoint == "":
            self.close_session("client disconnect")
            return
        if packet.ack is True:
            # Automatic ack (an id without '+'): answered before dispatch, as node does (an
            # ack's ``id`` is the one it answers: its own is in the decoder's dict).
            msg_id = packet.id if packet_type != "ack" else packet.as_dict().get("id")
            if msg_id is not None:
                self.send_packet(Packet("ack", endpoint, None, [], msg_id))
        if packet_type == "connect" and endpoint == "":
            return  # the global namespace connects with the transport
        super().dispatch_packet(packet)

    def disconnect(self, silent: bool = False) -> None:
        if self.closed:
            return
        if not silent:
            self.send_raw("0::")
        self.close_session("server disconnect")

    def disconnect_namespace(self, endpoint: str, silent: bool = False) -> None:
        if endpoint == "":
            self.disconnect(silent=silent)  # the 0.9 global namespace is the socket
        else:
            super().disconnect_namespace(endpoint, silent=silent)
