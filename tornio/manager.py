"""``SocketManager``: the sockets of one process, their timers, rooms and emits.

It owns every socket of the process, legacy (0.9) and modern (Engine.IO v3/v4), and their
timers (:class:`~tornio.core.timers.SessionTimers`), which drive the sans-I/O sessions. It is
where the two generations meet: the sockets see it only as their
:class:`~tornio.core.socket.SocketHost`, and the transports as their host. Emits go
to local recipients directly and to the other nodes through the bus; each emit is encoded
once per flavour of client present and the same wire data is queued for every recipient.
On a ZeroMQ bus an emit is encoded for the bus before any local recipient has it: one the
bus cannot carry (over its ``max_payload``) raises, and nobody, here or elsewhere, gets it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from tornio.bus import Bus, InProcessBus, ids
from tornio.bus.messages import BusMessageError, MessageType, portable_session
from tornio.bus.store import BusRecovery, LocalRecovery, NodeRecovery, Recovery
from tornio.cluster import ClusterOperations
from tornio.core.dispatch import NamespaceKey, check_namespace_keys
from tornio.core.namespace import BaseNamespace
from tornio.core.requests import kept_request
from tornio.core.rooms import RoomIndex, check_name
from tornio.core.socket import Socket
from tornio.core.threads import here, in_use, on_loop
from tornio.core.timers import SessionTimers
from tornio.legacy.socket import LegacySocket
from tornio.modern.session import EngineSettings
from tornio.modern.socket import ModernSocket
from tornio.modern.transports import forget_engine
from tornio.protocol.endpoints import to_endpoint
from tornio.protocol.jsoncodec import codec_for
from tornio.settings import Settings

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from tornio.bus.base import Message
    from tornio.core.monitor import SocketMonitor
    from tornio.core.opening import Opener
    from tornio.modern.transports import EngineHost, EngineOwner
    from tornio.protocol.drive import Driven

__all__ = ["SocketManager", "check_namespace_classes"]

log = logging.getLogger("tornio.manager")

_UNENCODABLE = object()


def check_namespace_classes(namespaces: Mapping[Any, Any]) -> None:
    """Refuse, at construction rather than on every connection, a namespaces mapping value
    that is not a :class:`~tornio.core.namespace.BaseNamespace` subclass (the class itself,
    not an instance: tornio makes one per client and namespace).

    Raises:
        TypeError: such a value.
    """
    for key, value in namespaces.items():
        if not (isinstance(value, type) and issubclass(value, BaseNamespace)):
            what = (
                f"the class {value.__qualname__}" if isinstance(value, type)
                else f"an instance of {type(value).__qualname__}"
            )
            raise TypeError(
                f"namespace {key!r} is served by {what}: give a subclass of "
                f"tornio.BaseNamespace (the class itself)"
            )


P = ParamSpec("P")
R = TypeVar("R")


def _cluster_operation(
    operation: Callable[Concatenate[ClusterOperations, P], R],
) -> Callable[Concatenate[SocketManager, P], R]:
    """A method of the manager that is its :class:`~tornio.cluster.ClusterOperations`'s
    (same signature and docstring)."""

    @functools.wraps(operation)
    def forward(manager: SocketManager, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return operation(manager.cluster, *args, **kwargs)

    return forward


class SocketManager:
    """Every socket this process serves (see the module docstring). It holds two
    collaborators, each behind a narrow interface: its sessions' timers (``timers``, a
    :class:`~tornio.core.timers.SessionTimers`, which sees only the sockets it is given) and
    the cluster operations (``cluster``, a :class:`~tornio.cluster.ClusterOperations`, which
    sees the manager as its :class:`~tornio.cluster.ClusterHost`); ``sockets_join``,
    ``fetch_sockets``, ``call``, ``server_side_emit``... are the latter's, offered here."""

    #: The sessions' clock (the timers and the sockets read it).
    clock = staticmethod(time.monotonic)

    def __init__(
        self,
        namespaces: Mapping[Any, type[BaseNamespace]],
        settings: Settings,
        bus: Bus | None = None,
    ) -> None:
        check_namespace_keys(namespaces, settings.max_namespace_name)
        check_namespace_classes(namespaces)
        self.namespaces: dict[NamespaceKey, type[BaseNamespace]] = {
            to_endpoint(name) if isinstance(name, str) else name: cls
            for name, cls in namespaces.items()
        }
        self.settings = settings
        self.engine_settings = EngineSettings.from_settings(settings)
        #: Modern sockets by Engine.IO session id (which only their transport requests carry).
        self.engines: dict[str, ModernSocket] = {}
        #: This process's node tag: every session id it hands out starts with it.
        self.node_id = ids.node_tag(ids.new_host_tag(), 0)
        self.sockets: dict[str, Socket] = {}
        # Room changes matter to recovery only: without it, joins and leaves call nothing.
        self.rooms: RoomIndex[Socket] = RoomIndex(
            self._room_added, self._room_emptied, self._namespace_added,
            *([self.save_soon] if settings.connection_state_recovery else []),
            max_room_name=settings.max_room_name, max_rooms=settings.max_rooms_per_socket,
        )
        #: One loop timer per session, at its next deadline.
        self.timers = SessionTimers(self.clock)
        #: Make sure a socket's timer fires no later than its engine's next deadline (the
        #: timers' own method: on every read and poll, no call of the manager's between).
        self.touch: Callable[[Any], None] = self.timers.touch
        #: The cluster operations, offered as this manager's methods below.
        self.cluster = ClusterOperations(self)
        self.bus: Bus = bus if bus is not None else InProcessBus()
        self.bus.attach(self)
        self._background: set[asyncio.Task[Any]] = set()
        #: Endpoint → the namespace instances there that see every event sent to them.
        self.outgoing_watched: dict[str, int] = {}
        #: The application's JSON (``json_default``, ``json``); None: the built-in.
        self.json_codec = codec_for(settings.json, settings.json_default)
        #: The runtime's forwarding layer, when requests can reach this node for sessions
        #: that live elsewhere (its ``forwarded`` counts them).
        self.forwarding: Any = None
        #: Connection state recovery, this node's side of it (None: recovery is off).
        self.recovering: NodeRecovery | None = None
        if settings.connection_state_recovery:
            self.recovering = NodeRecovery(LocalRecovery(
                settings.max_disconnection_duration, self.node_id, clock=self.clock))
        #: What watches the traffic (``Router(admin=...)``: the Admin UI); None: nothing.
        self.monitor: SocketMonitor | None = None
        #: Runs the application's view when a socket opens (``socketio_manage``,
        #: :mod:`tornio.core.opening`); None: the namespaces above serve every socket.
        self.opener: Opener | None = None

    # -- sockets -----------------------------------------------------------------------------

    def new_sid(self) -> str:
        """A fresh session id naming this node (see :mod:`tornio.bus.ids`)."""
        while True:
            sid = ids.make_sid(self.node_id)
            if sid not in self.sockets and sid not in self.engines:
                return sid

    def create_socket(self, request: HTTPServerRequest | None = None) -> LegacySocket:
        """A new handshaken legacy socket; it is forgotten if no transport opens in time."""
        socket = LegacySocket(self, self.new_sid(), self.clock())
        socket.handshake_request = kept_request(request)
        self.sockets[socket.sessid] = socket
        self.touch(socket)
        return socket

    def create_engine_socket(
        self, eio_version: int, transport: str, request: HTTPServerRequest
    ) -> ModernSocket:
        """A new Engine.IO session (opened by a polling GET or a websocket)."""
        engine_sid = self.new_sid()
        socket = ModernSocket(
            self, self.engine_settings, self.new_sid(), engine_sid, eio_version, self.clock(),
            transport,
        )
        socket.handshake_request = socket.request = kept_request(request)
        self.sockets[socket.sessid] = socket
        self.engines[engine_sid] = socket
        return socket

    def welcome(self) -> str:
        """What ``GET /<resource>/`` with no query answers (node 0.9 did the same)."""
        return "Welcome to socket.io."

    def get_engine(self, engine_sid: str) -> ModernSocket | None:
        """The modern socket whose Engine.IO session id is ``engine_sid``."""
        return self.engines.get(engine_sid)

    def get(self, sid: str) -> LegacySocket | None:
        """The legacy socket whose (transport) session id is ``sid``."""
        socket = self.sockets.get(sid)
        return socket if isinstance(socket, LegacySocket) else None

    def forget(self, socket: Socket) -> None:
        """A socket ended: drop it from every index and cancel its timer."""
        if self.sockets.get(socket.sessid) is socket:
            del self.sockets[socket.sessid]
        if isinstance(socket, ModernSocket):
            forget_engine(self.engines, socket.engine)
        self.rooms.remove_socket(socket)
        self.timers.cancel(socket.sessid)

    def run_in_background(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def close_all(self, reason: str = "server shutdown") -> None:
        """End every socket (telling each client to reconnect)."""
        for socket in list(self.sockets.values()):
            socket.close_session(reason)

    # -- rooms: the bus carries a room's emits here while it has members here ---------------

    def _room_added(self, endpoint: str, room: str) -> None:
        self.bus.subscribe(self, endpoint, room)

    def _room_emptied(self, endpoint: str, room: str) -> None:
        self.bus.unsubscribe(self, endpoint, room)

    def _namespace_added(self, endpoint: str) -> None:
        # Every socket is in the room named by its id: this node takes those rooms' emits
        # with one prefix subscription per namespace (the ids it makes start with its tag).
        subscribe = getattr(self.bus, "subscribe_sid_rooms", None)
        if subscribe is not None:
            subscribe(endpoint)

    # -- the bus -----------------------------------------------------------------------------

    def use_bus(self, bus: Bus) -> None:
        """Leave the current bus for ``bus`` (the runtime joins workers to ZeroMQ this way)."""
        self.bus.detach(self)
        self.bus = bus
        bus.attach(self)
        set_handler = getattr(bus, "set_request_handler", None)
        if set_handler is not None:
            set_handler(self.answer_request)

    def answer_request(
        self, kind: int, nsp: str, data: Mapping[str, Any]
    ) -> dict[str, Any] | Awaitable[dict[str, Any] | None] | None:
        """This node's answer to a cluster request."""
        endpoint = to_endpoint(nsp)
        if kind == MessageType.FETCH_SESSIONS and not data.get("sockets"):
            room = data.get("room")
            in_room = room if isinstance(room, str) else None
            return {"sessions": self._local_sessions(endpoint, in_room)}
        return self.cluster.answer_cluster_request(kind, endpoint, data)

    # -- queries -----------------------------------------------------------------------------

    async def fetch_sessions(
        self, namespace: str = "", room: str | None = None, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """The ``session`` dicts of the sockets in a namespace (or one of its rooms), on
        every node of the bus.

        Each entry is a copy with ``'sid'`` added (sets become sorted lists, as they would
        crossing the bus). Nodes that do not answer within ``timeout`` are left out, and
        logged.
        """
        endpoint = to_endpoint(namespace)
        request = getattr(self.bus, "request", None)
        if request is None:
            return self._local_sessions(endpoint, room)
        answers = await request(
            MessageType.FETCH_SESSIONS, endpoint, {"room": room}, timeout=timeout
        )
        sessions: list[dict[str, Any]] = []
        for answer in answers:
            found = answer.get("sessions") if isinstance(answer, dict) else None
            if isinstance(found, list):
                sessions.extend(s for s in found if isinstance(s, dict))
        return sessions

    def _local_sessions(self, endpoint: str, room: str | None) -> list[dict[str, Any]]:
        members = (
            self.rooms.members(endpoint) if room is None else self.rooms.room(endpoint, room)
        )
        return [
            {**portable_session(socket.session, sid), "sid": sid}
            for sid, socket in members.items()
        ]

    # -- emitting ----------------------------------------------------------------------------

    def emit(
        self,
        event: str,
        *args: Any,
        namespace: str = "",
        room: str | Iterable[str] | None = None,
        to: str | None = None,
        skip_sid: str | Iterable[str] | None = None,
        except_rooms: str | Iterable[str] | None = None,
        local: bool = False,
    ) -> None:
        """Send an event to every socket of a namespace, of some rooms, or to one sid,
        in this process and every other node on the bus.

        Args:
            event: the event name.
            args: its arguments (JSON values; ``bytes`` for modern clients).
            namespace: ``''`` (or ``'/'``) for the global namespace.
            room: a room name or several; None for the whole namespace.
            to: one socket id instead of rooms (the same as ``room=`` that id: every
                socket is in the room named by its id).
            skip_sid: socket id(s) that must not receive it (the sender, usually).
            except_rooms: room(s) whose members must not receive it.
            local: True: the sockets of this process only, nothing goes on the bus.

        Raises:
            TypeError, ValueError: an argument JSON (the application's ``json_default`` or
                ``json`` included) cannot write, a NaN, a namespace that does not start
                with ``/``, an event, room or namespace name longer than its limit
                (``max_event_name``, ``max_room_name``, ``max_namespace_name``; a
                :class:`~tornio.exceptions.NameTooLong`), an emit that the bus cannot
                carry to the other nodes (larger than its ``max_payload``, a value msgpack
                has no type for; :class:`~tornio.bus.messages.BusMessageError`): nothing
                was sent, here or elsewhere. (``bytes``, which 0.9 clients cannot have,
                only skip them, with a log line.)

        From a blocking handler's thread it runs on the event loop, and returns once done.
        """
        if in_use and here.job is not None:
            return on_loop(self.emit, event, *args, namespace=namespace, room=room, to=to,
                           skip_sid=skip_sid, except_rooms=except_rooms, local=local)
        endpoint = to_endpoint(namespace)
        rooms = [room] if isinstance(room, str) else list(room or ())
        skip = [skip_sid] if isinstance(skip_sid, str) else list(skip_sid or ())
        data: dict[str, Any] = {
            "event": event, "args": list(args), "rooms": rooms, "to": to, "skip": skip
        }
        if except_rooms:
            data["except"] = [except_rooms] if isinstance(except_rooms, str) else list(
                except_rooms
            )
        self.check_names(endpoint, data)
        check_name(event, self.settings.max_event_name, "an event name")
        recovering = self.recovering
        # With recovery on, the emit carries an offset (modern clients get it as one more
        # argument) and ``to`` a sid becomes its room (NodeRecovery.stamp).
        offset = None if recovering is None else recovering.stamp(data)
        wires = self._encoded(  # raises here, or never
            endpoint, event, data["args"] if offset is None else [*data["args"], offset]
        )
        if local:
            self._deliver_emit(endpoint, data, wires)
            if recovering is not None and offset is not None:
                recovering.emitted(offset, endpoint, data, published=False)
            return
        message: dict[str, Any] = {
            "uid": self.node_id,
            "type": MessageType.EMIT,
            "nsp": endpoint,
            "data": data,
        }
        to = data["to"]
        if to is not None:
            owner = ids.owner_of(to)
            if owner == self.node_id or to in self.sockets:
                self._deliver_emit(endpoint, data, wires)
                return
            if owner is not None:
                message["dst"] = owner
            self._publish_emit(message, args)
        else:
            send = self._prepare_emit(message, args)  # raises before anyone has it
            self._deliver_emit(endpoint, data, wires)
            if recovering is not None and offset is not None:
                recovering.emitted(offset, endpoint, data, published=True)
            send()

    def check_names(self, endpoint: str, data: Mapping[str, Any]) -> None:
        """Refuse a socket selection (``rooms``, ``to``, ``except``; the ``join`` and
        ``leave`` of a room operation) or a namespace whose names are over their limits.

        Raises:
            NameTooLong: (a ValueError) which name is too long (its size, not its text).
        """
        settings = self.settings
        check_name(endpoint, settings.max_namespace_name, "a namespace name")
        for key in ("rooms", "except", "join", "leave"):
            for name in data.get(key) or ():
                check_name(name, settings.max_room_name, "a room name")
        check_name(data.get("to"), settings.max_room_name, "a socket id")

    def check_encodable(self, endpoint: str, event: str, args: list[Any]) -> None:
        """Raise here, in the caller's code, what an emit of these could not encode.

        Raises:
            TypeError, ValueError: see :meth:`emit`.
        """
        self._encoded(endpoint, event, args)

    def _encoded(self, endpoint: str, event: str, args: list[Any]) -> dict[str, Any]:
        """An event encoded for modern text clients (the widest flavour: bytes included),
        so that a value that cannot be encoded raises in the emitter's code; the local
        recipients of that flavour get these very frames.

        Raises:
            TypeError, ValueError: see :meth:`emit`.
        """
        return {ModernSocket.flavour: ModernSocket.encode_event(
            endpoint, event, args, self.json_codec)}

    def _publish_emit(self, message: dict[str, Any], args: tuple[Any, ...]) -> None:
        """Publish an emit that has no local recipients here.

        Raises:
            BusMessageError: see :meth:`_prepare_emit`.
        """
        self._prepare_emit(message, args)()

    def _prepare_emit(
        self, message: dict[str, Any], args: tuple[Any, ...]
    ) -> Callable[[], None]:
        """What sends an emit to the other nodes, once it is known that it can go. On a bus
        that encodes (ZeroMQ) the message is encoded now, so that an emit the bus cannot
        carry (over its ``max_payload``, a value msgpack has no type for) is refused before
        any local member has it: every node gives the same answer, nobody gets it.

        Raises:
            BusMessageError: the bus cannot carry it (logged).
        """
        bus: Any = self.bus
        encode = getattr(bus, "encode", None)
        if encode is None:  # the in-process bus: nothing to check, nothing to encode
            return functools.partial(bus.publish, message)
        try:
            try:
                frames = encode(message)
            except BusMessageError:
                if self.json_codec is None:
                    raise
                # a datetime, say: send what the application's JSON makes of it
                try:
                    plain = self.json_codec.plain(args)
                except (TypeError, ValueError):
                    raise BusMessageError("an argument the bus cannot carry") from None
                message["data"] = {**message["data"], "args": plain}
                frames = encode(message)
        except BusMessageError as exc:
            log.warning("emit of %r refused: the bus cannot carry it to the other nodes: %s",
                        message["data"]["event"], exc)
            raise
        return functools.partial(bus.send_encoded, frames)

    # -- connection state recovery ---------------------------------------------------------

    @property
    def recovery(self) -> Recovery | None:
        """Connection state recovery's memory (None: recovery is off): in this process, or
        the host's recovery store under ``tornio serve`` (:meth:`use_recovery_store`)."""
        return None if self.recovering is None else self.recovering.memory

    def use_recovery_store(self, store: str) -> None:
        """Keep the recovery memory in the recovery store ``store`` (a bus node: ``tornio
        serve`` runs one per host), so that it outlives this process. Needs a bus to it."""
        if self.recovering is not None:
            self.recovering.memory = BusRecovery(self.bus, store)

    def save_soon(self, endpoint: str, socket: Socket) -> None:
        """A recoverable connection's rooms or data changed (see
        :meth:`~tornio.bus.store.NodeRecovery.save_soon`)."""
        if self.recovering is not None and socket.recovering is not None:
            self.recovering.save_soon(endpoint, socket.recovering)

    def deliver(self, message: Message) -> None:
        """A message from another node."""
        try:
            kind = message["type"]
            endpoint = to_endpoint(message["nsp"])
            data = message["data"]
            if kind == MessageType.EMIT:
                self._deliver_emit(endpoint, data)
                if self.recovering is not None:
                    self.recovering.heard(endpoint, data)
            elif kind in (
                MessageType.SOCKETS_JOIN, MessageType.SOCKETS_LEAVE, MessageType.DISCONNECT_SOCKETS
            ):
                self.cluster.apply_operation(kind, endpoint, data)
            elif kind == MessageType.SERVER_SIDE_EMIT:
                self.cluster.run_server_side(data)
            else:
                raise ValueError(f"unknown bus message type {kind!r}")
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("dropped a bad bus message: %s", exc)

    def select(self, endpoint: str, data: Mapping[str, Any]) -> list[Socket]:
        """The local sockets a socket operation names: one sid, some rooms, or all."""
        to = data.get("to")
        rooms = data.get("rooms")
        found: Mapping[str, Socket]
        if to is not None:
            socket = self.rooms.members(endpoint).get(to)
            found = {} if socket is None else {to: socket}
        elif not rooms:
            found = self.rooms.members(endpoint)
        elif len(rooms) == 1:
            found = self.rooms.room(endpoint, rooms[0])
        else:
            union: dict[str, Socket] = {}
            for room in rooms:
                union.update(self.rooms.room(endpoint, room))
            found = union
        skip = data.get("skip") or ()
        excluded = data.get("except")  # rooms whose members are left out
        if excluded:
            skip = {*skip}.union(*(self.rooms.room(endpoint, room) for room in excluded))
        if not skip:
            return list(found.values())
        return [socket for sid, socket in found.items() if sid not in skip]

    def _deliver_emit(
        self, endpoint: str, data: Mapping[str, Any], wires: dict[str, Any] | None = None
    ) -> None:
        # Encoded once per flavour present (0.9, v5 text, v5 msgpack), then the same wire
        # data goes to every recipient of that flavour (``wires``: what emit() encoded).
        # With recovery on, modern clients get the emit's offset as one more argument.
        if wires is None:
            wires = {}
        json = self.json_codec
        offset = data.get("offset")
        if not isinstance(offset, str):
            offset = None
        recipients = self.select(endpoint, data)
        if self.monitor is not None:
            self.monitor.emitted(endpoint, data, recipients)
        for socket in recipients:
            flavour = socket.flavour
            wire = wires.get(flavour)
            if wire is None:
                args = data["args"]
                if offset is not None and socket.protocol == "modern":
                    args = [*args, offset]
                try:
                    wire = type(socket).encode_event(endpoint, data["event"], args, json)
                except (TypeError, ValueError) as exc:
                    log.warning("cannot encode %r for %s clients: %s", data["event"], flavour, exc)
                    wire = _UNENCODABLE
                wires[flavour] = wire
            if wire is not _UNENCODABLE:
                socket.send_raw(wire)
        if self.outgoing_watched.get(endpoint):  # recv_any_outgoing: not on the hot path
            for socket in recipients:
                if wires[socket.flavour] is not _UNENCODABLE:
                    socket.notify_outgoing(endpoint, data["event"], data["args"])

    # -- the cluster operations (tornio.cluster) ---------------------------------------------

    sockets_join = _cluster_operation(ClusterOperations.sockets_join)
    sockets_leave = _cluster_operation(ClusterOperations.sockets_leave)
    disconnect_sockets = _cluster_operation(ClusterOperations.disconnect_sockets)
    fetch_sockets = _cluster_operation(ClusterOperations.fetch_sockets)
    call = _cluster_operation(ClusterOperations.call)
    on_server_side = _cluster_operation(ClusterOperations.on_server_side)
    server_side_emit = _cluster_operation(ClusterOperations.server_side_emit)
    server_side_call = _cluster_operation(ClusterOperations.server_side_call)


if TYPE_CHECKING:  # the interfaces the transports and the timers drive them through (mypy)

    def _interfaces(
        manager: SocketManager, modern: ModernSocket, legacy: LegacySocket
    ) -> tuple[EngineHost, EngineOwner, Driven, Driven]:
        return manager, modern, modern, legacy
