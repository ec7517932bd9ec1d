"""``Socket``: one client (gevent-socketio's virtual socket), whichever protocol carries it.

The base class is protocol-neutral: it owns the client's namespace instances, its ack callbacks
and the ``session`` dict its namespaces share, and turns packets (typed
:class:`~tornio.protocol.packets.Packet`, whichever generation decoded them) into namespace calls;
what the namespaces send reaches the subclass's encoder as a ``Packet`` too.
:class:`~tornio.legacy.socket.LegacySocket` speaks Socket.IO 0.9 over a 0.9 session;
:class:`~tornio.modern.socket.ModernSocket` speaks Socket.IO v5 over an Engine.IO session. A
socket reaches the rest of the process only through its host (:class:`SocketHost`: the manager),
and its namespace instances only through :class:`Namespace` (what
:class:`~tornio.core.namespace.BaseNamespace` provides): this module imports neither the manager
nor the namespace API.

Each subclass also says how a broadcast is encoded for it (``flavour`` and
``encode_event``): the manager encodes an emit once per flavour present among the
recipients and hands the same wire data to each of them (``send_raw``).

However a namespace connection ends (the client leaves it, the server disconnects it or the
whole socket, the session closes for any reason), :meth:`Socket.end_namespace` runs once for
it: ``recv_disconnecting(reason)`` while the rooms are still joined, then the rooms are left,
``recv_disconnect(reason)``, its jobs are cancelled and its pending acks freed. ``reason`` is
one of node's disconnect reasons (:data:`DISCONNECT_REASONS`); each protocol maps its
session's close reasons onto them (``disconnect_reasons``).
"""

from __future__ import annotations

import abc
import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from tornio.core.acks import PendingAck, run_ack_error
from tornio.core.counters import COUNTERS
from tornio.core.dispatch import find_namespace
from tornio.core.fairness import InputBacklog
from tornio.core.opening import VirtualSocket
from tornio.core.ratelimit import TokenBucket
from tornio.core.requests import request_environ
from tornio.core.rooms import refused_name
from tornio.exceptions import ConnectionRefused, Disconnected, EventRefused, NameTooLong
from tornio.protocol.jsoncodec import JsonCodec
from tornio.protocol.packets import Packet

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from tornio.bus.store import NodeRecovery, SocketRecovery
    from tornio.core.monitor import SocketMonitor
    from tornio.core.rooms import RoomIndex
    from tornio.protocol.drive import Engine
    from tornio.settings import Settings

__all__ = ["DISCONNECT_REASONS", "Namespace", "NamespaceFactory", "PendingAck", "Socket",
           "SocketHost", "request_environ"]

log = logging.getLogger("tornio.socket")

# What a handler usually returns: no awaitable, whatever it holds (no isawaitable() call).
_PLAIN = frozenset({type(None), str, int, float, bool, dict, list, tuple, bytes})

#: node's disconnect reasons (socket.io 4.8 ``DisconnectReason``): what ``recv_disconnect``
#: and ``recv_disconnecting`` receive.
DISCONNECT_REASONS = frozenset(
    {
        "client namespace disconnect",
        "server namespace disconnect",
        "transport close",
        "transport error",
        "ping timeout",
        "parse error",
        "server shutting down",
        "forced close",
        "forced server close",
    }
)


class Namespace(Protocol):
    """A namespace instance, as its socket sees it: all the socket calls (what
    :class:`~tornio.core.namespace.BaseNamespace` provides)."""

    ns_name: str

    def receive_packet(self, packet: Packet) -> Any:
        """Dispatch one packet from the client; returns what becomes the data ack."""
        ...

    def run_disconnect_hook(self, hook: str, reason: str) -> Any:
        """Call ``recv_disconnecting`` or ``recv_disconnect`` (``hook``), with ``reason``
        unless the method takes none."""
        ...

    def kill_local_jobs(self) -> None:
        """Cancel the tasks the namespace runs."""
        ...

    @property
    def watches_outgoing(self) -> bool:
        """It wants to see every event sent to its client (``recv_any_outgoing``)."""
        ...

    def sent_event(self, event: str, args: Any) -> None:
        """``event`` with ``args`` went to the client."""
        ...

    def run_job(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a handler's coroutine as a task that ends with the namespace."""
        ...


#: A namespace class: ``cls(environ, endpoint, request)``.
NamespaceFactory = Callable[[dict[str, Any], str, "HTTPServerRequest | None"], Namespace]


class SocketHost(Protocol):
    """The owner of a process's sockets, as a socket sees it."""

    settings: Settings
    #: Namespace members and rooms of this process's sockets.
    rooms: RoomIndex[Socket]
    #: This process's node tag: the ids it makes name it (:mod:`tornio.bus.ids`).
    node_id: str
    #: Connection state recovery, this node's side of it; None when recovery is off.
    recovering: NodeRecovery | None
    #: Endpoint → how many of this process's namespace instances there watch what they
    #: are sent (``watches_outgoing``): broadcasts there call them.
    outgoing_watched: dict[str, int]
    #: What watches the traffic (the Admin UI); None when nothing does.
    monitor: SocketMonitor | None

    @property
    def namespaces(self) -> Mapping[Any, NamespaceFactory]:
        """Endpoint → namespace class (``''`` is the global namespace); a key may also be
        a dynamic namespace's regex or function (:func:`~tornio.core.dispatch.find_namespace`)."""
        ...

    def clock(self) -> float:
        """The time, as the sessions' deadlines count it."""
        ...

    def touch(self, socket: Any) -> None:
        """The socket's session may have a new deadline: re-arm its timer."""
        ...

    def run_in_background(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine to its end, whatever becomes of the socket that started it."""
        ...

    def forget(self, socket: Socket) -> None:
        """The socket ended: drop it from every index."""
        ...

    def emit(
        self,
        event: str,
        *args: Any,
        namespace: str = "",
        room: str | Iterable[str] | None = None,
        to: str | None = None,
        skip_sid: str | Iterable[str] | None = None,
    ) -> None:
        """Send an event to sockets of this process and every other node."""
        ...

    async def fetch_sessions(
        self, namespace: str = "", room: str | None = None, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """The ``session`` dicts of the sockets in a namespace (or a room of it), on every
        node."""
        ...


class Socket(VirtualSocket):
    """One connected client, whatever its protocol. See the module docstring. Its base,
    :class:`~tornio.core.opening.VirtualSocket`, is gevent-socketio's virtual socket; it
    holds its collaborators, each of which sees it through a narrow interface: its input
    (``inbox``, sliced and rate-limited: :mod:`tornio.core.fairness`), its opening by a
    view (``opening``: :mod:`tornio.core.opening`), its connection state recovery
    (``recovering``, when on: :class:`~tornio.bus.store.SocketRecovery`)."""

    #: Which protocol generation: ``'legacy'`` (0.9) or ``'modern'`` (v5).
    protocol = ""
    #: Event names reach ``on_`` methods as gevent-socketio's 0.9 server mapped them
    #: (:func:`tornio.core.dispatch.legacy_method_name`): what a namespace's dispatch asks.
    legacy_names = False
    #: How broadcasts are encoded for this socket; sockets of one flavour share the bytes.
    flavour = ""
    engine: Engine  # the session state machine, driven by tornio.protocol.drive.drive
    #: The session's close reasons → node's disconnect reasons; any other is
    #: ``"transport error"``.
    disconnect_reasons: Mapping[str, str] = {}
    #: Connection state recovery of the socket's namespace connections; None: off.
    recovering: SocketRecovery | None = None
    manager: SocketHost
    #: The Tornado request of the first transport connection.
    request: HTTPServerRequest | None
    active_ns: dict[str, Namespace]

    def __init__(self, manager: SocketHost, sid: str) -> None:
        super().__init__(manager, sid)
        #: The socket's id in each namespace it is in (endpoint → id): ``to=`` in emits,
        #: room membership. A modern client's namespace connections each have their own.
        self.sids: dict[str, str] = {}
        #: The handshake request.
        self.handshake_request: HTTPServerRequest | None = None
        #: Ack id → what waits for the client's ack of it (:meth:`register_ack`).
        self.ack_callbacks: dict[int, PendingAck] = {}
        self.ack_counter = 0
        #: Rooms joined, per namespace.
        self.rooms: dict[str, set[str]] = {}
        #: The auth payload each namespace was joined with (modern clients).
        self.auth: dict[str, Any] = {}
        # Namespaces whose connect handler is still deciding: what they send waits here.
        self._connecting: dict[str, list[Packet]] = {}
        # How each namespace that ended ended (what a late ack request is told).
        self._ended: dict[str, str] = {}
        rate = manager.settings.max_event_rate
        #: Its input as its transports hand it over: slices, handlers behind, event rate.
        self.inbox = InputBacklog(self, None if rate is None else TokenBucket(
            rate, manager.settings.max_event_burst, manager.clock()))

    @property
    def recovered(self) -> frozenset[str] | set[str]:
        """The endpoints whose connection was recovered (connection state recovery)."""
        recovering = self.recovering
        return recovering.recovered if recovering is not None else frozenset()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.sessid} {self.engine.state.value}>"

    # -- what a protocol provides ------------------------------------------------------------

    @classmethod
    @abc.abstractmethod
    def encode_event(
        cls, endpoint: str, event: str, args: list[Any], json: JsonCodec | None = None
    ) -> Any:
        """The wire form of an event for every socket of this flavour (``json``: the
        application's JSON)."""

    @abc.abstractmethod
    def _check_encodable(self, packet: Packet) -> None:
        """Raise what sending ``packet`` would raise (TypeError, ValueError), if any."""

    @abc.abstractmethod
    def send_raw(self, wire: Any) -> None:
        """Send what :meth:`encode_event` produced."""

    @abc.abstractmethod
    def _send(self, packet: Packet) -> None:
        """Encode and send one packet now."""

    @abc.abstractmethod
    def _send_connect_ok(self, endpoint: str) -> None:
        """Tell the client it joined ``endpoint``."""

    @abc.abstractmethod
    def _send_connect_refused(self, endpoint: str, refusal: ConnectionRefused) -> None:
        """Tell the client it may not join ``endpoint``."""

    def _new_namespace_sid(self, endpoint: str) -> str:
        """The id of a new namespace connection: the session id, unless the protocol gives
        each namespace its own."""
        return self.sessid

    def _no_such_namespace(self, endpoint: str, why: str | None = None) -> None:
        self.error(
            "no_such_namespace",
            why or f"The endpoint you tried to connect to doesn't exist: {endpoint}",
            endpoint=endpoint,
        )

    # -- incoming ----------------------------------------------------------------------------

    def handle_packet(self, packet: Packet | Mapping[str, Any]) -> None:
        """Run one decoded packet through the namespaces: where every packet of a client
        enters dispatch, so where its event rate is counted. (A gevent-socketio packet dict
        is taken too, and read as a :class:`~tornio.protocol.packets.Packet`.)"""
        if self.engine.closed:  # (self.closed without its call: the hot path)
            return  # a message still in flight when the socket ended must not revive it
        inbox = self.inbox
        if inbox.bucket is not None and not inbox.bucket.take(self.manager.clock()):
            inbox.over_rate()
            return
        self.dispatch_packet(
            packet if type(packet) is Packet else Packet.from_dict(packet)  # type: ignore[arg-type]
        )

    def dispatch_packet(self, packet: Packet) -> None:
        """One packet the client may send: to its namespace."""
        kind = packet.kind
        endpoint = packet.endpoint
        name = packet.name
        settings = self.manager.settings
        # A name of at most a quarter of its limit in characters fits whatever they are.
        if (len(endpoint) * 4 > settings.max_namespace_name
                or (name is not None and len(name) * 4 > settings.max_event_name)
                ) and not self.names_fit(packet):
            return
        if kind == "connect":
            self.connect_namespace(endpoint, packet)
            return
        if kind == "disconnect":
            self.end_namespace(endpoint, "client namespace disconnect")
            return
        namespace = self.active_ns.get(endpoint)
        if namespace is None:
            namespace = self._namespace(endpoint)
            if namespace is None:
                return
        if self.manager.monitor is not None and kind != "ack":
            self.manager.monitor.received(self, packet)
        self._call(namespace, packet, namespace.receive_packet, packet)

    def names_fit(self, packet: Packet) -> bool:
        """Whether a packet's namespace and event names are within their limits; if not,
        the client is answered as for one that does not exist (and it is logged)."""
        refusal = refused_name(packet.endpoint, packet.name if packet.kind == "event" else None,
                               self.manager.settings)
        if refusal is not None:
            if refusal[0] == "no_such_namespace":
                self._no_such_namespace(packet.endpoint, refusal[1])
            else:
                self.error(*refusal, endpoint=packet.endpoint, msg_id=packet.id)
        return refusal is None

    def join_global_namespace(self) -> None:
        """The client joins the global namespace without asking (0.9 with its first
        transport, Socket.IO v4 with the Engine.IO open): its ``recv_connect`` runs when the
        application has one; otherwise the socket is a member at once."""
        if "" in self.served_namespaces:
            self.connect_namespace("")
        else:
            if "" not in self.sids:
                self.sids[""] = self._new_namespace_sid("")
            self.manager.rooms.add_member("", self)
            self._send_connect_ok("")

    def connect_namespace(self, endpoint: str, packet: Packet | None = None) -> None:
        """The client asks to join a namespace: find its class (a dynamic namespace's
        function may decide later), run its connect middlewares and ``recv_connect``, which
        may refuse (return False, or raise :class:`~tornio.exceptions.ConnectionRefused`);
        then answer."""
        if packet is None:
            packet = Packet("connect", endpoint)
        namespace = self.active_ns.get(endpoint)
        if namespace is None:
            if endpoint in self._connecting:
                return  # a 0.9 client asking again while its class is looked for
            cls = self._namespace_class(endpoint)
            if inspect.isawaitable(cls):
                self._connecting[endpoint] = []  # a second CONNECT meanwhile is refused
                self.manager.run_in_background(self._connect_when_found(endpoint, cls, packet))
                return
            if cls is None:
                self._no_such_namespace(endpoint)
                return
            namespace = self._create_namespace(endpoint, cls)
        self._connect(namespace, packet)

    async def _connect_when_found(
        self, endpoint: str, pending: Awaitable[NamespaceFactory | None], packet: Packet
    ) -> None:
        try:
            cls = await pending
        except Exception:
            log.exception("the namespace function for %r failed", endpoint)
            cls = None
        if self._connecting.pop(endpoint, None) is None or self.closed:
            return  # the socket (or the client's wish to join) ended meanwhile
        if cls is None:
            self._no_such_namespace(endpoint)
            return
        self._connect(self._create_namespace(endpoint, cls), packet)

    def _connect(self, namespace: Namespace, packet: Packet) -> None:
        endpoint = namespace.ns_name
        self._connecting[endpoint] = []
        try:
            result = namespace.receive_packet(packet)
        except ConnectionRefused as refusal:
            self._connected(namespace, refusal)
            return
        except Exception:
            log.exception("recv_connect of %r failed", endpoint)
            self._connected(namespace, ConnectionRefused("internal server error"))
            return
        if inspect.isawaitable(result):
            self.manager.run_in_background(self._await_connect(namespace, result))
        else:
            self._connected(namespace, result)

    async def _await_connect(self, namespace: Namespace, awaitable: Any) -> None:
        try:
            result = await awaitable
        except ConnectionRefused as refusal:
            result = refusal
        except Exception:
            log.exception("recv_connect of %r failed", namespace.ns_name)
            result = ConnectionRefused("internal server error")
        self._connected(namespace, result)

    def _connected(self, namespace: Namespace, result: Any) -> None:
        endpoint = namespace.ns_name
        held = self._connecting.pop(endpoint, [])
        if self.closed or self.active_ns.get(endpoint) is not namespace:
            return
        if result is False or isinstance(result, ConnectionRefused):
            refusal = result if isinstance(result, ConnectionRefused) else ConnectionRefused()
            # never connected, so no disconnect hooks; but leave what recv_connect joined
            self._forget_instance(endpoint)
            self.manager.rooms.remove_member(endpoint, self)
            self.sids.pop(endpoint, None)
            namespace.kill_local_jobs()
            self._drop_acks(endpoint, "server namespace disconnect")
            self._send_connect_refused(endpoint, refusal)
            return
        self.manager.rooms.add_member(endpoint, self)
        self._send_connect_ok(endpoint)
        for packet in held:
            self._send(packet)

    def _namespace(self, endpoint: str) -> Namespace | None:
        """The client's instance for ``endpoint``, made now if the client sends something
        there without having connected it (0.9 clients may): the class must be known at
        once (a dynamic namespace's ``async`` function is only asked by a connect)."""
        namespace = self.active_ns.get(endpoint)
        if namespace is not None:
            return namespace
        cls = self._namespace_class(endpoint)
        if inspect.isawaitable(cls):
            self.manager.run_in_background(self._ignore(cls))
            cls = None
        if cls is None:
            self._no_such_namespace(endpoint)
            return None
        return self._create_namespace(endpoint, cls)

    @staticmethod
    async def _ignore(pending: Awaitable[Any]) -> None:
        try:
            await pending
        except Exception:
            log.exception("a namespace function failed")

    def _namespace_class(
        self, endpoint: str
    ) -> NamespaceFactory | Awaitable[NamespaceFactory | None] | None:
        """The class of ``endpoint``: its key's in the application's namespaces, a dynamic
        key's (a regex, a function; an ``async`` one gives an awaitable), else the
        protocol's default."""
        try:
            found = find_namespace(self.served_namespaces, endpoint, self.auth.get(endpoint, {}))
        except Exception:
            log.exception("the namespace function for %r failed", endpoint)
            found = None
        if inspect.isawaitable(found):
            return self._or_default(endpoint, found)
        return found if found is not None else self._default_namespace(endpoint)

    async def _or_default(
        self, endpoint: str, pending: Awaitable[NamespaceFactory | None]
    ) -> NamespaceFactory | None:
        found = await pending
        return found if found is not None else self._default_namespace(endpoint)

    def _default_namespace(self, endpoint: str) -> NamespaceFactory | None:
        """The class serving an endpoint the application has none for: none, unless the
        protocol always has it."""
        return None

    def _create_namespace(self, endpoint: str, cls: NamespaceFactory) -> Namespace:
        if endpoint not in self.sids:
            self.sids[endpoint] = self._new_namespace_sid(endpoint)
        if self._environ is None:
            self._environ = request_environ(self.request)
            self._environ["socketio"] = self
        namespace = cls(self._environ, endpoint, self.request)
        self.active_ns[endpoint] = namespace
        if namespace.watches_outgoing:
            watched = self.manager.outgoing_watched
            watched[endpoint] = watched.get(endpoint, 0) + 1
        # As gevent-socketio: the initialize() of every class in the MRO, mixins included, so
        # none needs super(); but each class's own only, so an inherited one runs once.
        for klass in type(namespace).__mro__:
            initialize = klass.__dict__.get("initialize")
            if initialize is None:
                continue
            try:
                initialize(namespace)
            except Exception:
                log.exception("initialize() of %s failed", klass.__name__)
        return namespace

    def _forget_instance(self, endpoint: str) -> Namespace | None:
        namespace = self.active_ns.pop(endpoint, None)
        if namespace is not None and namespace.watches_outgoing:
            watched = self.manager.outgoing_watched
            left = watched.get(endpoint, 0) - 1
            if left > 0:
                watched[endpoint] = left
            else:
                watched.pop(endpoint, None)
        return namespace

    def notify_outgoing(self, endpoint: str, event: str, args: list[Any]) -> None:
        """A broadcast on ``endpoint`` went to this client: tell its namespace instance, if
        it watches what it is sent."""
        namespace = self.active_ns.get(endpoint)
        if namespace is not None and namespace.watches_outgoing:
            namespace.sent_event(event, args)

    def _call(
        self,
        namespace: Namespace,
        packet: Packet,
        method: Callable[..., Any],
        *args: Any,
        tracked: bool = True,
    ) -> None:
        """Call a namespace method, then send the data ack from what it returned.

        An ``async`` handler runs as a task; ``tracked`` tasks are cancelled with the
        namespace, untracked ones (the disconnect hooks) run to their end.
        """
        try:
            result = method(*args)
        except EventRefused:
            return  # a packet middleware refused it: no ack (the namespace was told)
        except NameTooLong as exc:  # a handler passed on a client's name: tell the client
            return self._name_too_long(packet, exc)
        except Exception:
            log.exception("handler for %s packet on %r failed", packet.kind, packet.endpoint)
            return
        if type(result) not in _PLAIN and inspect.isawaitable(result):
            coro = self._finish_async(packet, result)
            if tracked:
                self.inbox.handler_started(namespace.run_job(coro))
            else:
                self.manager.run_in_background(coro)
        elif packet.ack == "data" and packet.id is not None:
            self._send_data_ack(packet, result)

    async def _finish_async(self, packet: Packet, awaitable: Any) -> None:
        try:
            result = await awaitable
        except asyncio.CancelledError:
            raise
        except EventRefused:
            return
        except NameTooLong as exc:  # a handler passed on a client's name: tell the client
            return self._name_too_long(packet, exc)
        except Exception:
            log.exception("handler for %s packet on %r failed", packet.kind, packet.endpoint)
            return
        if packet.ack == "data" and packet.id is not None:
            self._send_data_ack(packet, result)

    def _name_too_long(self, packet: Packet, exc: NameTooLong) -> None:
        self.error("name_too_long", f"handler for {packet.kind} packet: {exc}",
                   endpoint=packet.endpoint, msg_id=packet.id)

    def _send_data_ack(self, packet: Packet, result: Any) -> None:
        args = list(result) if isinstance(result, tuple) else [result]
        assert packet.id is not None
        answer = Packet("ack", packet.endpoint, None, args, packet.id)
        try:
            if self._connecting or self.manager.monitor is not None:
                self.send_packet(answer)
            else:
                self._send(answer)  # what send_packet would do with an ack
        except (TypeError, ValueError):
            log.exception("the ack of %s packet on %r (a handler's return value) is not JSON",
                          packet.kind, packet.endpoint)

    # -- outgoing ----------------------------------------------------------------------------

    def send_packet(self, packet: Packet | Mapping[str, Any]) -> None:
        """Encode and send one packet (or a gevent-socketio packet dict: it is read as a
        :class:`~tornio.protocol.packets.Packet`).

        Raises:
            ValueError: a dict of no known packet type; a packet the protocol cannot carry.
            TypeError: values JSON cannot represent (and ValueError for some).
        """
        if type(packet) is not Packet:
            packet = Packet.from_dict(packet)  # type: ignore[arg-type]
        assert type(packet) is Packet
        if self.manager.monitor is not None:
            self.manager.monitor.sent(self, packet)
        if self._connecting:
            held = self._connecting.get(packet.endpoint)
            if held is not None:
                self._check_encodable(packet)  # an emit that cannot be sent raises now
                held.append(packet)  # sent once the namespace's connection is confirmed
                return
        self._send(packet)

    def error(
        self,
        error_name: str,
        error_message: str,
        endpoint: str = "",
        msg_id: int | None = None,
        quiet: bool = False,
    ) -> None:
        """gevent-socketio's error report: an ``error`` event ``[name, message]``, and a log."""
        log.warning(
            "client error on %s: %s, %s (endpoint=%r, msg_id=%s)",
            self.sessid, error_name, error_message[:300],
            endpoint if len(endpoint) <= 100 else endpoint[:100] + "...", msg_id,
        )
        if not quiet:
            self.send_packet(Packet("event", endpoint, "error", [error_name, error_message]))

    # -- acks ------------------------------------------------------------------------------

    def register_ack(
        self,
        endpoint: str,
        on_answer: Callable[..., Any],
        timeout: float | None = None,
        on_error: Callable[[Exception], Any] | None = None,
    ) -> int:
        """Keep ``on_answer`` for the client's ack of a packet about to be sent on
        ``endpoint``; returns the ack id to send with it.

        ``on_answer(*args)`` runs when the ack comes. With ``timeout`` (seconds, on the event
        loop's clock) ``on_error(TimeoutError)`` runs instead if none came in time, and when
        the namespace or the socket ends first ``on_error(Disconnected)`` runs at once. At most
        one of them runs, and then the entry and its timer are gone; without ``on_error`` an
        ack that never comes is just dropped. A namespace that is not connected any more gets
        ``on_error(Disconnected)`` soon after (never from inside this call).
        """
        self.ack_counter += 1
        ack_id = self.ack_counter
        if not self._in_namespace(endpoint):
            if on_error is not None:
                error = Disconnected(self.ended_reason(endpoint))
                asyncio.get_running_loop().call_soon(self._run_ack_error, on_error, error)
            return ack_id
        timer = None
        if timeout is not None:
            timer = asyncio.get_running_loop().call_later(
                timeout, self._ack_timed_out, ack_id, timeout
            )
        self.ack_callbacks[ack_id] = PendingAck(endpoint, on_answer, on_error, timer)
        return ack_id

    def cancel_ack(self, ack_id: int) -> None:
        """Forget an ack nobody waits for any more (its waiter was cancelled); nothing runs."""
        pending = self.ack_callbacks.pop(ack_id, None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()

    def take_ack(self, ack_id: int | None) -> Callable[..., Any] | None:
        """The client acked ``ack_id``: what to call with the ack's arguments, or None (it
        is logged)."""
        pending = self.ack_callbacks.pop(ack_id, None) if ack_id is not None else None
        if pending is None:
            if isinstance(ack_id, int) and 0 < ack_id <= self.ack_counter:
                log.debug("ignored a late ack %s on %s (timed out, answered, or its "
                          "namespace ended)", ack_id, self.sessid)
            else:
                log.warning("no callback for ack id %r on %s", ack_id, self.sessid)
            return None
        if pending.timer is not None:
            pending.timer.cancel()
        COUNTERS.ack_answered(time.monotonic() - pending.sent)
        return pending.on_answer

    def _ack_timed_out(self, ack_id: int, timeout: float) -> None:
        pending = self.ack_callbacks.pop(ack_id, None)
        if pending is None:
            return
        log.debug("no ack %s from %s within %s s", ack_id, self.sessid, timeout)
        if pending.on_error is not None:
            self._run_ack_error(
                pending.on_error,
                TimeoutError(f"operation has timed out: no ack within {timeout} s"),
            )

    def _drop_acks(self, endpoint: str | None, reason: str) -> None:
        """Free the pending acks of a namespace that ended (of every namespace: None)."""
        if not self.ack_callbacks:
            return
        ended = [
            ack_id
            for ack_id, pending in self.ack_callbacks.items()
            if endpoint is None or pending.endpoint == endpoint
        ]
        for ack_id in ended:
            pending = self.ack_callbacks.pop(ack_id)
            if pending.timer is not None:
                pending.timer.cancel()
            if pending.on_error is not None:
                self._run_ack_error(pending.on_error, Disconnected(reason))

    def _run_ack_error(self, on_error: Callable[[Exception], Any], error: Exception) -> None:
        run_ack_error(on_error, error, self.manager.run_in_background, self.sessid)

    # -- ending ------------------------------------------------------------------------------

    def _in_namespace(self, endpoint: str) -> bool:
        """The client is in ``endpoint`` (or being let in): there is something to end."""
        return not self.closed and (
            endpoint in self.active_ns
            or self.manager.rooms.members(endpoint).get(self.sessid) is self
        )

    def ended_reason(self, endpoint: str) -> str:
        """How the client left ``endpoint`` (it is not in it): node's disconnect reason."""
        if self.closed:
            return self.disconnect_reason(self.engine.close_reason)
        return self._ended.get(endpoint, "server namespace disconnect")  # never joined

    def disconnect_reason(self, close_reason: str | None) -> str:
        """node's disconnect reason for the way the session closed."""
        return self.disconnect_reasons.get(close_reason or "", "transport error")

    def disconnect_namespace(self, endpoint: str, silent: bool = False) -> None:
        """Take the client out of one namespace; unless ``silent`` it is told."""
        if not self._in_namespace(endpoint):
            return
        if not silent:
            self.send_packet(Packet("disconnect", endpoint))
        self.end_namespace(endpoint, "server namespace disconnect")

    def remove_namespace(self, endpoint: str) -> None:
        """gevent-socketio's name: end a namespace without telling the client."""
        self.end_namespace(endpoint, "server namespace disconnect")

    def end_namespace(self, endpoint: str, reason: str) -> None:
        """The namespace connection ends, whichever way (see the module docstring): once per
        connection, whatever calls it again. A connection ``recv_connect`` has not accepted
        yet gets no hooks; its jobs are cancelled all the same."""
        if self.recovering is not None:  # before its hooks run: what it has now is kept
            self.recovering.ending(endpoint, reason)
        namespace = self._forget_instance(endpoint)
        if namespace is None:  # a membership without an instance: the global namespace of
            self.manager.rooms.remove_member(endpoint, self)  # an application without one
            self._connecting.pop(endpoint, None)  # (or a class still being looked for)
            self._drop_acks(endpoint, reason)
            return
        accepted = self._connecting.pop(endpoint, None) is None
        self._ended[endpoint] = reason
        packet = Packet("disconnect", endpoint)
        # Async hooks run untracked: cancelling the namespace's jobs must not cancel them.
        if accepted:
            self._call(namespace, packet, namespace.run_disconnect_hook, "recv_disconnecting",
                       reason, tracked=False)
        self.manager.rooms.remove_member(endpoint, self)
        self.sids.pop(endpoint, None)
        if accepted:
            self._call(namespace, packet, namespace.run_disconnect_hook, "recv_disconnect",
                       reason, tracked=False)
        namespace.kill_local_jobs()
        self._drop_acks(endpoint, reason)

    @abc.abstractmethod
    def close_session(self, reason: str) -> None:
        """End the engine: ``drive(self, self.engine.close(reason))``."""

    @abc.abstractmethod
    def handle_timer(self, now: float) -> None:
        """The engine's deadline passed: ``drive(self, self.engine.handle_timer(now))``."""

    def session_closed(self, close_reason: str) -> None:
        reason = self.disconnect_reason(close_reason)
        log.debug("socket %s closed: %s (%s)", self.sessid, close_reason, reason)
        COUNTERS.disconnected(self.protocol, reason, self.engine.overflow)
        for endpoint in list(self.active_ns):
            self.end_namespace(endpoint, reason)
        self._connecting.clear()
        self._drop_acks(None, reason)
        self.kill_jobs()
        self.manager.forget(self)
