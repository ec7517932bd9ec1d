"""``ModernSocket``: a Socket.IO v5 client (socket.io-client 3.x/4.x), or a v4 one
(socket.io-client 2.x, over Engine.IO v3), on the same namespace API as 0.9 clients.

Socket.IO packets become typed packets (:class:`~tornio.protocol.packets.Packet`) on the way in,
and back on the way out, through the codec's :func:`~tornio.protocol.socketio.to_typed` and
:func:`~tornio.protocol.socketio.from_typed`: an EVENT ``["name", *args]`` with an id is an
event that asks for a data ack; the v5 namespace ``/`` is the legacy global endpoint ``''``.
Each namespace connection has its own id (``socket.sids``, the client's ``socket.id``), made by
:func:`tornio.bus.ids.make_sid`, so that it names the process that owns it. The client's
``auth`` payload is ``namespace.auth``; ``recv_connect`` may refuse it (``CONNECT_ERROR`` with
the server's data). Binary values are ``bytes`` in handler arguments and in emits.

Connection state recovery (when on): each accepted v5 namespace
connection gets a private id (``pid``, in its CONNECT reply beside ``sid``), and every event
it receives without an ack an offset (one more argument, as node does). A CONNECT whose auth
carries a known ``pid`` and ``offset`` gets the lost connection back: the events it missed
are sent first, then the CONNECT reply with the same ``sid`` and ``pid``; its rooms and
session data are back and the namespace's ``recovered`` is True. A connection that ends for
a reason the client did not choose (:data:`~tornio.bus.store.RECOVERABLE_REASONS`) is kept,
for ``max_disconnection_duration``, by the recovery memory. The socket's side of it is its
collaborator ``recovering`` (:class:`~tornio.bus.store.SocketRecovery`); this module only
speaks the protocol.

Which parser the client speaks is seen from its first message: the default parser's first
packet is text, socket.io-msgpack-parser's is binary. A msgpack client's socket becomes a
:class:`MsgpackModernSocket`, the flavour whose broadcasts are encoded in msgpack.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tornio.bus import ids
from tornio.bus.store import SocketRecovery
from tornio.core.namespace import BaseNamespace
from tornio.core.socket import NamespaceFactory, Socket
from tornio.core.watched import WatchedDict
from tornio.exceptions import ConnectionRefused, InvalidPacket
from tornio.modern.driving import EngineDriving
from tornio.modern.session import EngineSession, EngineSettings, Frame
from tornio.protocol import msgpack_parser, socketio
from tornio.protocol.drive import drive
from tornio.protocol.endpoints import to_endpoint, to_nsp
from tornio.protocol.packets import Packet as AppPacket
from tornio.protocol.socketio import Packet, PacketType

if TYPE_CHECKING:
    from tornio.core.socket import SocketHost
    from tornio.protocol.jsoncodec import JsonCodec

__all__ = ["ModernSocket", "MsgpackModernSocket"]

log = logging.getLogger("tornio.modern.socket")

#: Event names a client may not send (socket.io's reserved names).
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)


class ModernSocket(EngineDriving, Socket):
    """One Engine.IO connection and the Socket.IO namespaces it joined."""

    protocol = "modern"
    flavour = "sio-json"
    engine: EngineSession
    #: How an Engine.IO session closes, as node's disconnect reasons.
    disconnect_reasons = {
        "transport close": "transport close",
        "ping timeout": "ping timeout",
        "parse error": "parse error",
        "invalid heartbeat direction": "parse error",
        "overlap from client": "transport error",
        "payload too large": "transport error",
        "write buffer full": "transport error",  # the client left max_write_buffer untaken
        "invalid state": "forced server close",
        "connect timeout": "forced server close",
        "server disconnect": "server namespace disconnect",  # disconnect() from the server
        "server shutdown": "server shutting down",
        "server shutting down": "server shutting down",
        "forced server close": "forced server close",
        "internal error": "forced server close",
    }

    def __init__(
        self,
        manager: SocketHost,
        engine_settings: EngineSettings,
        sid: str,
        engine_sid: str,
        eio_version: int,
        now: float,
        transport: str,
    ) -> None:
        Socket.__init__(self, manager, sid)
        self.eio_version = eio_version
        #: Socket.IO protocol revision: 5 for Engine.IO v4 clients, 4 for v3 ones.
        self.sio_version = 5 if eio_version >= 4 else 4
        EngineDriving.__init__(
            self, EngineSession(engine_sid, eio_version, engine_settings, now, transport)
        )
        self.decoder = socketio.Decoder(
            max_attachments=manager.settings.max_attachments, protocol=self.sio_version,
            json=self.json_codec,
        )
        self.msgpack = False
        self._parser_known = False
        node = manager.recovering
        if node is not None:
            recovering = self.recovering = SocketRecovery(self, node, manager.node_id,
                                                          manager.rooms)
            self.session = WatchedDict(recovering.session_changed)  # kept as it changes


    # -- broadcast encoding ------------------------------------------------------------------

    @classmethod
    def encode_event(
        cls, endpoint: str, event: str, args: list[Any], json: JsonCodec | None = None
    ) -> list[Frame]:
        parts = socketio.encode_event(to_nsp(endpoint), [event, *args], json=json)
        first = parts[0]
        frames: list[Frame] = ["4" + first if isinstance(first, str) else first]
        frames.extend(parts[1:])
        return frames

    def send_raw(self, wire: list[Frame]) -> None:
        engine = self.engine
        stream = engine.stream
        if stream is not None:  # what send would return, without building it: a broadcast
            stream.write(wire)  # to an attached websocket (the sink copies, never mutates)
            return
        outs = engine.send(wire[0]) if len(wire) == 1 else engine.send_many(wire)
        if outs or engine.pending_close is not None:  # drive's test, inlined: a broadcast's
            drive(self, outs)  # polling members between two polls return nothing

    # -- outgoing ----------------------------------------------------------------------------

    def send_packet(self, packet: AppPacket | Mapping[str, Any]) -> None:
        if type(packet) is not AppPacket:
            packet = AppPacket.from_dict(packet)  # type: ignore[arg-type]
        assert type(packet) is AppPacket
        recovering = self.recovering
        if (
            recovering is not None
            and packet.kind == "event"
            and not packet.ack
            and self.sio_version >= 5
        ):
            endpoint = packet.endpoint
            sid = self.sids.get(endpoint)
            if sid is not None:
                args = list(packet.args)
                offset = recovering.own_emit(endpoint, sid, packet.name or "", args)
                packet = AppPacket("event", endpoint, packet.name, [*args, offset])
        super().send_packet(packet)

    def _send(self, packet: AppPacket) -> None:
        self._send_sio(socketio.from_typed(packet))

    def _send_sio(self, packet: Packet) -> None:
        if self.msgpack:
            drive(self, self.engine.send(msgpack_parser.encode(packet, self.json_codec)))
            return
        parts = socketio.encode(packet, self.json_codec)
        first = parts[0]
        head: Frame = "4" + first if isinstance(first, str) else first
        if len(parts) == 1:
            stream = self.engine.stream
            if stream is not None:  # an ack to an attached websocket, as send would return it
                stream.write([head])
            else:
                drive(self, self.engine.send(head))
        else:
            drive(self, self.engine.send_many([head, *parts[1:]]))

    def _check_encodable(self, packet: AppPacket) -> None:
        sio = socketio.from_typed(packet)
        if self.msgpack:
            msgpack_parser.encode(sio, self.json_codec)
        else:
            socketio.encode(sio, self.json_codec)

    def _new_namespace_sid(self, endpoint: str) -> str:
        # Socket.IO gives every namespace connection its own id; it names this process.
        return ids.make_sid(self.manager.node_id)

    def _send_connect_ok(self, endpoint: str) -> None:
        self.engine.namespace_connected()
        if self.sio_version >= 5:
            sid = self.sids[endpoint]
            data = {"sid": sid}
            if self.recovering is not None:
                data["pid"] = self.recovering.accepted(endpoint)
            self._send_sio(Packet(PacketType.CONNECT, to_nsp(endpoint), data))
        else:
            self._send_sio(Packet(PacketType.CONNECT, to_nsp(endpoint)))

    def _send_connect_refused(self, endpoint: str, refusal: ConnectionRefused) -> None:
        data: Any
        if self.sio_version >= 5:
            data = {"message": refusal.message}
            if refusal.data is not None:
                data["data"] = refusal.data
        else:
            data = refusal.message
        self._send_sio(Packet(PacketType.CONNECT_ERROR, to_nsp(endpoint), data))

    def _default_namespace(self, endpoint: str) -> NamespaceFactory | None:
        # As node: "/" is always served, by a plain namespace if the application has none.
        return BaseNamespace if endpoint == "" else None

    def _no_such_namespace(self, endpoint: str, why: str | None = None) -> None:
        if why is not None:
            log.warning("refused namespace on %s: %s", self.sessid, why)
        data: Any = (
            {"message": "Invalid namespace"} if self.sio_version >= 5 else ("Invalid namespace")
        )
        self._send_sio(Packet(PacketType.CONNECT_ERROR, to_nsp(endpoint), data))

    # -- incoming ----------------------------------------------------------------------------

    def opened(self) -> None:
        """The Engine.IO open packet is queued. Socket.IO v4 (socket.io-client 2.x) joins the
        default namespace implicitly, and the server says so at once; v5 waits for CONNECT."""
        then = self.join_global_namespace if self.sio_version < 5 else None
        # A view that calls socketio_manage() may have to choose the namespaces first.
        if not self.begin_opening(then) and then is not None:
            then()

    def receive_messages(self, messages: Sequence[str | bytes]) -> None:
        """Engine.IO messages from the client."""
        opening = self.opening
        if opening.held is not None and opening.hold(messages):
            return
        engine = self.engine
        for message in messages:
            if engine.closed:  # (the attribute: this is the hot path)
                return
            if not self._parser_known:
                self._parser_known = True
                if isinstance(message, bytes):
                    self._use_msgpack()
            try:
                if not self.msgpack:
                    packet = self.decoder.add(message)
                elif isinstance(message, bytes):
                    packet = msgpack_parser.decode(message)
                else:  # socket.io-msgpack-parser sends every packet as binary
                    raise InvalidPacket("a text message from a msgpack-parser client")
            except InvalidPacket as exc:
                log.info("closing %s: %s", self.sessid, exc)
                self.close_session("parse error", notify_client=True)
                return
            if packet is not None:
                self.handle_sio(packet)

    def _replay_input(self, items: list[Any]) -> None:
        self.receive_messages(items)

    def _use_msgpack(self) -> None:
        """The client speaks socket.io-msgpack-parser. The manager encodes broadcasts with
        ``type(socket).encode_event``, once per flavour, so the socket becomes a
        :class:`MsgpackModernSocket`, whose ``encode_event`` writes msgpack."""
        self.msgpack = True
        self.__class__ = MsgpackModernSocket

    def handle_sio(self, packet: Packet) -> None:
        """One decoded Socket.IO packet."""
        nsp = packet.nsp
        if "?" in nsp:
            endpoint, query = self._split_nsp(nsp)
        else:  # the usual case, without a call
            endpoint, query = to_endpoint(nsp), None
        kind = packet.type
        if kind is PacketType.CONNECT:
            if not self.names_fit(AppPacket("connect", endpoint)):
                return  # before its auth is kept under that name
            recovering = self.recovering
            if (endpoint in self.active_ns or endpoint in self._connecting
                    or (recovering is not None and endpoint in recovering.restoring)):
                self.close_session("invalid state", notify_client=True)
                return
            auth = packet.data if isinstance(packet.data, dict) else {}
            if query:
                auth = {**dict(query), **auth}
            self.auth[endpoint] = auth
            pid, offset = auth.get("pid"), auth.get("offset")
            if (recovering is not None and self.sio_version >= 5
                    and isinstance(pid, str) and isinstance(offset, str)):
                recovering.restoring.add(endpoint)
                self.manager.run_in_background(self._restore(endpoint, pid, offset))
                return
            self.connect_namespace(endpoint)
            return
        if endpoint not in self.active_ns or endpoint in self._connecting:
            # also a CONNECT_ERROR sent by a client
            self.close_session("invalid state", notify_client=True)
            return
        typed = socketio.to_typed(packet, endpoint)
        if typed is not None:
            self.handle_packet(typed)
        else:
            self.close_session("invalid state", notify_client=True)

    # -- connection state recovery -----------------------------------------------------------

    async def _restore(self, endpoint: str, pid: str, offset: str) -> None:
        """A CONNECT asking to recover ``pid``: the events it missed first (if it can be
        recovered), then connect (a fresh connection when it cannot, as node)."""
        recovering = self.recovering
        assert recovering is not None
        missed = await recovering.restore(endpoint, pid, offset)
        if self.closed:
            return
        nsp = to_nsp(endpoint)
        for args in missed or ():  # before the CONNECT reply, as node
            self._send_sio(Packet(PacketType.EVENT, nsp, args))
        self.connect_namespace(endpoint)

    def _split_nsp(self, nsp: str) -> tuple[str, list[tuple[str, str]]]:
        if "?" not in nsp:
            return to_endpoint(nsp), []
        from urllib.parse import parse_qsl

        path, _, query = nsp.partition("?")
        return to_endpoint(path), parse_qsl(query)

    # -- ending ------------------------------------------------------------------------------

    def disconnect(self, silent: bool = False) -> None:
        if self.closed:
            return
        if not silent:
            for endpoint in list(self.active_ns):
                self._send_sio(Packet(PacketType.DISCONNECT, to_nsp(endpoint)))
        self.close_session("server disconnect", notify_client=True)


class MsgpackModernSocket(ModernSocket):
    """A :class:`ModernSocket` whose client speaks socket.io-msgpack-parser (one msgpack map
    per packet, in one binary Engine.IO message)."""

    flavour = "sio-msgpack"

    @classmethod
    def encode_event(
        cls, endpoint: str, event: str, args: list[Any], json: JsonCodec | None = None
    ) -> list[Frame]:
        packet = Packet(PacketType.EVENT, to_nsp(endpoint), [event, *args])
        return [msgpack_parser.encode(packet, json)]
