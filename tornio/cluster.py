"""Cluster operations of a :class:`~tornio.manager.SocketManager`, from server code.

Every operation selects sockets of one namespace as an emit does (``room=`` one room or
several, ``to=`` one socket id, ``except_rooms=`` rooms whose members are left out; every
socket is in the room named by its id) on every node of the bus, or on this process alone
with ``local=True``. None blocks the event loop:

- ``sockets_join``, ``sockets_leave``, ``disconnect_sockets`` act here at once and are
  published on the bus (ZeroMQ sends never block), as node's ``io.socketsJoin`` etc.;
- ``await fetch_sockets()`` asks every node (FETCH_SESSIONS with ``sockets``) and gives
  :class:`RemoteSocket` objects: ``id``, ``rooms``, ``handshake``, ``data`` (a snapshot of the
  socket's ``session`` dict) and ``emit``/``call``/``join``/``leave``/``disconnect``, which
  work whichever node owns the socket;
- ``server_side_emit`` / ``await server_side_call()`` reach the handlers registered with
  ``on_server_side`` on every *other* node (SERVER_SIDE_EMIT, with a ``rid`` for answers);
- ``await call()`` is an emit whose every recipient acks: this node sends to its own
  recipients, every other node to its own (BROADCAST_WITH_ACKS), and each node answers once
  with its recipients' acks (BROADCAST_ACKS). Each recipient gets its own ack id, so a call
  is encoded per recipient; plain emits stay encoded once per flavour.

A call that does not get every answer within ``timeout`` raises
:class:`~tornio.exceptions.CallTimeout` (a ``TimeoutError``) holding the answers that came.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

from tornio.bus import ids
from tornio.bus.base import Answers
from tornio.bus.messages import MessageType, portable_session
from tornio.exceptions import CallTimeout
from tornio.protocol.endpoints import to_endpoint, to_nsp

if TYPE_CHECKING:
    from tornio.bus import Bus
    from tornio.core.rooms import RoomIndex
    from tornio.core.socket import Socket
    from tornio.protocol.jsoncodec import JsonCodec

__all__ = ["ClusterHost", "ClusterOperations", "RemoteSocket", "handshake_of"]

log = logging.getLogger("tornio.cluster")

#: How much longer than a call's timeout the asking node waits for the other nodes' answers
#: (each answers once its own timeout has passed, with what it has).
ANSWER_GRACE = 1.0

ServerSideHandler = Callable[..., Any]


def _names(value: str | Iterable[str] | None, what: str) -> list[str]:
    names = [value] if isinstance(value, str) else list(value or ())
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what} is a string, not {type(name).__name__}")
    return names


def selection(
    room: str | Iterable[str] | None = None,
    to: str | None = None,
    except_rooms: str | Iterable[str] | None = None,
    skip_sid: str | Iterable[str] | None = None,
) -> dict[str, Any]:
    """The bus schema's socket selection (``rooms``, ``to``, ``skip``, ``except``)."""
    if to is not None and not isinstance(to, str):
        raise TypeError(f"to= is a socket id (a string), not {type(to).__name__}")
    data: dict[str, Any] = {
        "rooms": _names(room, "a room"),
        "to": to,
        "skip": _names(skip_sid, "a socket id"),
    }
    excluded = _names(except_rooms, "a room")
    if excluded:
        data["except"] = excluded
    return data


def handshake_of(socket: Socket, endpoint: str) -> dict[str, Any]:
    """node's ``socket.handshake`` of a socket's namespace connection: ``headers`` (lower-case
    names), ``time``, ``address``, ``xdomain``, ``secure``, ``issued`` (ms), ``url``,
    ``query`` (a value per name, a list when repeated) and ``auth``, from the request that
    opened the session."""
    request = socket.handshake_request or socket.request
    auth = socket.auth.get(endpoint, {})
    if request is None:
        return {"headers": {}, "time": "", "address": "", "xdomain": False, "secure": False,
                "issued": 0, "url": "", "query": {}, "auth": auth}
    started = float(getattr(request, "_start_time", 0.0))
    moment = datetime.fromtimestamp(started, timezone.utc).astimezone()
    query = {
        name: values[0] if len(values) == 1 else values
        for name, values in parse_qs(request.query, keep_blank_values=True).items()
    }
    return {
        "headers": {
            name.lower(): ", ".join(request.headers.get_list(name)) for name in request.headers
        },
        "time": moment.strftime("%a %b %d %Y %H:%M:%S GMT%z (%Z)"),
        "address": request.remote_ip,
        "xdomain": "Origin" in request.headers,
        "secure": request.protocol == "https",
        "issued": int(started * 1000),
        "url": request.uri,
        "query": query,
        "auth": auth,
    }


class RemoteSocket:
    """One socket of a namespace, wherever in the cluster it lives, as ``fetch_sockets``
    found it (node's ``RemoteSocket``). ``rooms`` includes the room named by its ``id``;
    ``data`` is a snapshot of its ``session`` dict. The methods act on the live socket,
    through the bus when another node owns it."""

    __slots__ = ("_manager", "data", "handshake", "id", "namespace", "rooms")

    def __init__(
        self, manager: ClusterOperations, namespace: str, record: Mapping[str, Any]
    ) -> None:
        self._manager = manager
        self.namespace = namespace
        self.id: str = record["id"]
        self.rooms: set[str] = set(record.get("rooms") or ()) | {self.id}
        self.handshake: dict[str, Any] = dict(record.get("handshake") or {})
        self.data: dict[str, Any] = dict(record.get("data") or {})

    def __repr__(self) -> str:
        return f"<RemoteSocket {to_nsp(self.namespace)} {self.id}>"

    def emit(self, event: str, *args: Any) -> None:
        """Send the socket an event."""
        self._manager.emit(event, *args, namespace=self.namespace, to=self.id)

    async def call(self, event: str, *args: Any, timeout: float = 5.0) -> Any:
        """Send the socket an event and return its ack (the first argument; None if none).

        Raises:
            CallTimeout: no ack within ``timeout`` seconds (or the socket is gone).
        """
        responses = await self._manager.call(
            event, *args, namespace=self.namespace, to=self.id, timeout=timeout
        )
        if not responses:
            raise CallTimeout(f"socket {self.id} is gone", [], 1)
        return responses[0]

    def join(self, room: str | Iterable[str]) -> None:
        """Put the socket in a room (or several)."""
        self._manager.sockets_join(room, namespace=self.namespace, to=self.id)

    def leave(self, room: str | Iterable[str]) -> None:
        """Take the socket out of a room (or several)."""
        self._manager.sockets_leave(room, namespace=self.namespace, to=self.id)

    def disconnect(self, close: bool = False) -> None:
        """Disconnect the socket from its namespace; ``close=True`` ends the whole client
        connection."""
        self._manager.disconnect_sockets(close, namespace=self.namespace, to=self.id)


class _LocalCall:
    """The acks this node awaits for one call: one callback per recipient."""

    def __init__(self) -> None:
        self.responses: list[Any] = []
        self.waiting: dict[int, tuple[Socket, int]] = {}
        self.done = asyncio.Event()
        self._sent = 0

    def send(self, socket: Socket, endpoint: str, event: str, args: list[Any]) -> None:
        self._sent += 1
        key = self._sent

        def answered(*values: Any) -> None:
            if self.waiting.pop(key, None) is None:
                return
            self.responses.append(values[0] if values else None)
            if not self.waiting:
                self.done.set()

        ack_id = socket.register_ack(endpoint, answered)
        packet = {"type": "event", "name": event, "args": args, "endpoint": endpoint,
                  "ack": "data", "id": ack_id}
        try:
            socket.send_packet(packet)
        except (TypeError, ValueError) as exc:
            socket.cancel_ack(ack_id)
            log.warning("cannot encode %r for %s clients: %s", event, socket.flavour, exc)
            return
        self.waiting[key] = (socket, ack_id)

    async def wait(self, timeout: float) -> tuple[list[Any], int]:
        """The acks that came within ``timeout``, and how many did not; the callbacks of
        those that did not are freed."""
        if self.waiting:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.done.wait(), timeout)
        missing = len(self.waiting)
        self.free()
        return self.responses, missing

    def free(self) -> None:
        waiting, self.waiting = self.waiting, {}
        for socket, ack_id in waiting.values():
            socket.cancel_ack(ack_id)


class ClusterHost(Protocol):
    """What the cluster operations need of their manager: this node's id, bus and room
    index, the application's JSON, and four of its operations."""

    node_id: str
    bus: Bus
    rooms: RoomIndex[Socket]
    json_codec: JsonCodec | None

    def emit(self, event: str, *args: Any, namespace: str = "", to: str | None = None) -> None:
        ...

    def check_names(self, endpoint: str, data: Mapping[str, Any]) -> None: ...

    def check_encodable(self, endpoint: str, event: str, args: list[Any]) -> None: ...

    def select(self, endpoint: str, data: Mapping[str, Any]) -> list[Socket]: ...

    def run_in_background(self, coro: Coroutine[Any, Any, Any]) -> None: ...


class ClusterOperations:
    """The cluster operations of one :class:`~tornio.manager.SocketManager` (see the module
    docstring), which holds them as ``manager.cluster`` and offers them as its own methods.
    They reach the manager only through :class:`ClusterHost`."""

    def __init__(self, host: ClusterHost) -> None:
        self.host = host
        self._server_side_handlers: dict[str, ServerSideHandler] = {}

    def emit(self, event: str, *args: Any, namespace: str = "", to: str | None = None) -> None:
        """The manager's :meth:`~tornio.manager.SocketManager.emit` (for
        :class:`RemoteSocket`)."""
        self.host.emit(event, *args, namespace=namespace, to=to)

    # -- socket operations -------------------------------------------------------------------

    def sockets_join(
        self,
        rooms: str | Iterable[str],
        *,
        namespace: str = "",
        room: str | Iterable[str] | None = None,
        to: str | None = None,
        except_rooms: str | Iterable[str] | None = None,
        local: bool = False,
    ) -> None:
        """Make the selected sockets (every socket of the namespace, or those in ``room``,
        or the one ``to`` names, minus the members of ``except_rooms``) join ``rooms``, on
        every node (``local=True``: this process only).

        Raises:
            ValueError: a room name longer than ``max_room_name`` UTF-8 bytes (or a
                namespace longer than ``max_namespace_name``): nothing changed anywhere.
        """
        data = {**selection(room, to, except_rooms), "join": _names(rooms, "a room")}
        self._operate(MessageType.SOCKETS_JOIN, namespace, data, local)

    def sockets_leave(
        self,
        rooms: str | Iterable[str],
        *,
        namespace: str = "",
        room: str | Iterable[str] | None = None,
        to: str | None = None,
        except_rooms: str | Iterable[str] | None = None,
        local: bool = False,
    ) -> None:
        """Make the selected sockets leave ``rooms`` (see :meth:`sockets_join`)."""
        data = {**selection(room, to, except_rooms), "leave": _names(rooms, "a room")}
        self._operate(MessageType.SOCKETS_LEAVE, namespace, data, local)

    def disconnect_sockets(
        self,
        close: bool = False,
        *,
        namespace: str = "",
        room: str | Iterable[str] | None = None,
        to: str | None = None,
        except_rooms: str | Iterable[str] | None = None,
        local: bool = False,
    ) -> None:
        """Disconnect the selected sockets from the namespace (see :meth:`sockets_join`);
        ``close=True`` ends each one's whole client connection, every namespace of it."""
        data = {**selection(room, to, except_rooms), "close": bool(close)}
        self._operate(MessageType.DISCONNECT_SOCKETS, namespace, data, local)

    def _operate(
        self, kind: MessageType, endpoint: str, data: dict[str, Any], local: bool
    ) -> None:
        endpoint = to_endpoint(endpoint)
        self.host.check_names(endpoint, data)  # ValueError: a name over its limit
        to = data["to"]
        owner = None if to is None else ids.owner_of(to)
        if not local and (to is None or owner != self.host.node_id):
            message: dict[str, Any] = {"uid": self.host.node_id, "type": kind, "nsp": endpoint,
                                       "data": data}
            if owner is not None:
                message["dst"] = owner
            self.host.bus.publish(message)  # first: a message the bus refuses changes nothing here
        self.apply_operation(kind, endpoint, data)

    def apply_operation(self, kind: MessageType, endpoint: str, data: Mapping[str, Any]) -> None:
        """Run a SOCKETS_JOIN, SOCKETS_LEAVE or DISCONNECT_SOCKETS on this node's sockets."""
        sockets = self.host.select(endpoint, data)
        if kind == MessageType.SOCKETS_JOIN:
            for socket in sockets:
                for room in data["join"]:
                    self.host.rooms.join(endpoint, room, socket)
        elif kind == MessageType.SOCKETS_LEAVE:
            for socket in sockets:
                for room in data["leave"]:
                    self.host.rooms.leave(endpoint, room, socket)
        elif kind == MessageType.DISCONNECT_SOCKETS:
            close = data.get("close") is True
            for socket in sockets:
                if close:
                    socket.disconnect()
                else:
                    socket.disconnect_namespace(endpoint)
        else:
            raise ValueError(f"{kind!r} is not a socket operation")

    # -- queries -----------------------------------------------------------------------------

    async def fetch_sockets(
        self,
        namespace: str = "",
        room: str | Iterable[str] | None = None,
        *,
        to: str | None = None,
        except_rooms: str | Iterable[str] | None = None,
        timeout: float = 5.0,
        local: bool = False,
    ) -> list[RemoteSocket]:
        """The selected sockets of a namespace on every node, as :class:`RemoteSocket`
        objects. Nodes that do not answer within ``timeout`` are left out, and logged (as
        :meth:`fetch_sessions`)."""
        endpoint = to_endpoint(namespace)
        data = {**selection(room, to, except_rooms), "sockets": True}
        if local:
            gathered = Answers([self.local_sockets(endpoint, data)])
        else:
            gathered = await self._ask(MessageType.FETCH_SESSIONS, endpoint, data, timeout)
        found: list[RemoteSocket] = []
        for answer in gathered.answers:
            for record in answer.get("sockets") or ():
                if isinstance(record, dict) and isinstance(record.get("id"), str):
                    found.append(RemoteSocket(self, endpoint, record))
        return found

    def local_sockets(self, endpoint: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """This node's answer to ``fetch_sockets``."""
        records = []
        for socket in self.host.select(endpoint, data):
            sid = socket.sids[endpoint]
            records.append({
                "id": sid,
                "rooms": [sid, *sorted(socket.rooms.get(endpoint, ()))],
                "handshake": portable_session(handshake_of(socket, endpoint), sid),
                "data": portable_session(socket.session, sid),
            })
        return {"sockets": records}

    async def _ask(
        self,
        kind: MessageType,
        endpoint: str,
        data: dict[str, Any],
        timeout: float,
        include_self: bool = True,
    ) -> Answers:
        ask = getattr(self.host.bus, "ask", None)
        if ask is not None:
            gathered: Answers = await ask(
                kind, endpoint, data, timeout, include_self=include_self, sender=self.host.node_id
            )
            return gathered
        if not include_self:
            return Answers()
        own = self.answer_cluster_request(kind, endpoint, data)
        answer = await own if inspect.isawaitable(own) else own
        return Answers([answer]) if isinstance(answer, dict) else Answers([], [self.host.node_id])

    def answer_cluster_request(
        self, kind: int, endpoint: str, data: Mapping[str, Any]
    ) -> dict[str, Any] | Awaitable[dict[str, Any] | None] | None:
        """This node's answer to the requests of this module."""
        if kind == MessageType.FETCH_SESSIONS:
            return self.local_sockets(endpoint, data)
        if kind == MessageType.SERVER_SIDE_EMIT:
            return self._answer_server_side(data)
        if kind == MessageType.BROADCAST_WITH_ACKS:
            return self._answer_call(endpoint, data)
        raise ValueError(f"no answer to requests of type {kind!r}")

    # -- server-side events ------------------------------------------------------------------

    def on_server_side(
        self, event: str, handler: ServerSideHandler | None = None
    ) -> Any:
        """Register ``handler(*args)`` (plain or ``async``) for the server-side event
        ``event`` that other nodes send; what it returns answers a ``server_side_call``.
        Without ``handler``, a decorator: ``@manager.on_server_side('event')``."""
        if not isinstance(event, str):
            raise TypeError("a server-side event name is a string")
        if handler is None:
            def register(fn: ServerSideHandler) -> ServerSideHandler:
                self._server_side_handlers[event] = fn
                return fn

            return register
        self._server_side_handlers[event] = handler
        return handler

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the server-side handlers of every other node (none answers)."""
        if not isinstance(event, str):
            raise TypeError("a server-side event name is a string")
        self.host.bus.publish({
            "uid": self.host.node_id, "type": MessageType.SERVER_SIDE_EMIT, "nsp": "",
            "data": {"event": event, "args": list(args)},
        })

    async def server_side_call(self, event: str, *args: Any, timeout: float = 5.0) -> list[Any]:
        """Send ``event`` to every other node's handler and return their answers, one per
        node (in no set order).

        Raises:
            CallTimeout: some node did not answer within ``timeout`` (it has no handler for
                the event, its handler failed, or it is slow or gone); ``responses`` holds
                the answers that came.
        """
        if not isinstance(event, str):
            raise TypeError("a server-side event name is a string")
        gathered = await self._ask(
            MessageType.SERVER_SIDE_EMIT, "", {"event": event, "args": list(args)}, timeout,
            include_self=False,
        )
        responses = [answer.get("value") for answer in gathered.answers]
        if gathered.missing:
            raise CallTimeout(
                f"server-side {event!r}: no answer from {len(gathered.missing)} node(s) "
                f"within {timeout} s", responses, len(gathered.missing),
            )
        return responses

    def run_server_side(self, data: Mapping[str, Any]) -> None:
        """A one-way server-side event from another node."""
        handler = self._server_side_handlers.get(data["event"])
        if handler is None:
            log.warning("no server-side handler for %r", data["event"])
            return
        try:
            result = handler(*data["args"])
        except Exception:
            log.exception("server-side handler for %r failed", data["event"])
            return
        if inspect.isawaitable(result):
            self.host.run_in_background(self._finish_server_side(data["event"], result))

    async def _finish_server_side(self, event: str, awaitable: Awaitable[Any]) -> None:
        try:
            await awaitable
        except Exception:
            log.exception("server-side handler for %r failed", event)

    async def _answer_server_side(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        event = data.get("event")
        args = data.get("args")
        handler = self._server_side_handlers.get(event) if isinstance(event, str) else None
        if handler is None or not isinstance(args, list):
            log.warning("no server-side handler for %r: not answered", event)
            return None
        try:
            result = handler(*args)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            log.exception("server-side handler for %r failed: not answered", event)
            return None
        return {"value": result}

    # -- broadcasts with acks ----------------------------------------------------------------

    async def call(
        self,
        event: str,
        *args: Any,
        namespace: str = "",
        room: str | Iterable[str] | None = None,
        to: str | None = None,
        except_rooms: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        timeout: float = 5.0,
        local: bool = False,
    ) -> list[Any]:
        """Emit to the selected sockets (as :meth:`~tornio.manager.SocketManager.emit`
        selects them) of every node, each with an ack, and return one response per
        recipient: its ack's first argument (None if it acked with none), in no set order.

        Raises:
            CallTimeout: some recipient (or node) did not answer within ``timeout``;
                ``responses`` holds the answers that came, ``missing`` counts the rest (a
                node that did not answer at all counts once).
            TypeError, ValueError: an argument cannot be encoded (as for ``emit``).
        """
        if not isinstance(event, str):
            raise TypeError("an event name is a string")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError("timeout is a number of seconds >= 0")
        endpoint = to_endpoint(namespace)
        values = list(args)
        self.host.check_encodable(endpoint, event, values)  # what cannot be raises here
        if self.host.json_codec is not None:  # the other nodes get what the JSON writes
            values = self.host.json_codec.plain(values)
        data = {**selection(room, to, except_rooms, skip_sid), "event": event,
                "args": values, "timeout": float(timeout)}
        ours = self._start_call(endpoint, data)
        owned_here = to is not None and ids.owner_of(to) == self.host.node_id
        try:
            if local or owned_here:
                responses, missing = await ours.wait(timeout)
            else:
                mine, gathered = await asyncio.gather(
                    ours.wait(timeout),
                    self._ask(MessageType.BROADCAST_WITH_ACKS, endpoint, data,
                              timeout + ANSWER_GRACE, include_self=False),
                )
                responses, missing = list(mine[0]), mine[1] + len(gathered.missing)
                for answer in gathered.answers:
                    responses.extend(answer.get("responses") or ())
                    count = answer.get("missing")
                    missing += count if isinstance(count, int) and count > 0 else 0
        finally:
            ours.free()
        if missing:
            raise CallTimeout(
                f"{event!r}: {missing} recipient(s) did not answer within {timeout} s",
                responses, missing,
            )
        return responses

    def _start_call(self, endpoint: str, data: Mapping[str, Any]) -> _LocalCall:
        pending = _LocalCall()
        args = data["args"]
        for socket in self.host.select(endpoint, data):
            pending.send(socket, endpoint, data["event"], list(args))
        return pending

    async def _answer_call(self, endpoint: str, data: Mapping[str, Any]) -> dict[str, Any]:
        pending = self._start_call(endpoint, data)
        responses, missing = await pending.wait(float(data["timeout"]))
        return {"responses": responses, "missing": missing}
