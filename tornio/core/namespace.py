"""``BaseNamespace``: gevent-socketio's namespace API, one instance per socket per endpoint.

Handlers are ``on_<event>`` methods, methods marked ``@event('any name')``, functions
registered with ``on(name, handler)`` (see :mod:`tornio.core.dispatch` for which name
reaches which handler), and the ``recv_*`` hooks. A handler may be a plain method or
``async def``; what it returns becomes the client's acknowledgement arguments when the
client asked for one (a tuple gives several arguments, anything else one). See
``reference/legacy.md`` §3.3 for the original.

A connection passes the connect middlewares (``Router(middlewares=)``, then ``Cls.use(fn)``)
before ``recv_connect``; an event passes ``recv_any`` (node's ``onAny``: every event) and the
packet middlewares (``use_packets``, node's ``socket.use``) before its handler, and every
event the namespace sends passes ``recv_any_outgoing`` (node's ``onAnyOutgoing``).

``recv_disconnecting(reason)`` and ``recv_disconnect(reason)`` receive node's disconnect
reason; the gevent-socketio form ``recv_disconnect(self)`` still works (each class's
signature is read once). Acks the server asks for may time out: ``emit(..., callback=cb,
timeout=s)`` makes ``cb`` error-first, and ``await call(event, *args, timeout=s)`` returns
the client's answer.

Packets arrive typed (:class:`~tornio.protocol.packets.Packet`,
:meth:`BaseNamespace.receive_packet`); gevent-socketio's packet dict is made only for what
asks for it: a handler or hook taking ``packet``, or a class that overrides
``process_packet`` or ``process_event`` (they are called with dicts, as in
gevent-socketio). What the namespace sends goes to its socket as a
``Packet``.

A class with ``blocking = True`` runs its plain handlers, hooks and spawned functions on a
thread pool, one at a time per socket (:mod:`tornio.core.threads`); by default they run on
the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import types
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tornio.core import dispatch, threads
from tornio.core.dispatch import ALLOWED_EVENT_NAME, CATCH_ALL, event, hybridmethod
from tornio.core.signatures import (
    DECORATED,
    SIGNATURES,
    describe,
    describe_registered,
    has_decorator,
    takes_reason,
)
from tornio.core.threads import here, in_use, on_loop
from tornio.exceptions import ConnectionRefused, Disconnected, EventRefused
from tornio.protocol.packets import Packet

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from tornio.core.socket import Socket

__all__ = ["ALLOWED_EVENT_NAME", "AnyPacket", "BaseNamespace", "event"]

log = logging.getLogger("tornio.core.namespace")

#: What the dispatch methods take: a typed packet, or (from an application's own
#: ``process_packet``/``process_event``) gevent-socketio's packet dict.
AnyPacket = Packet | Mapping[str, Any]


def _as_dict(packet: AnyPacket) -> Any:
    """gevent-socketio's packet dict, for a handler that takes ``packet``."""
    return packet.as_dict() if type(packet) is Packet else packet


def _msg_id(packet: AnyPacket) -> int | None:
    """The id an error report about ``packet`` names (an ack's is the ack id: none)."""
    if type(packet) is Packet:
        return packet.id if packet.kind != "ack" else None
    return packet.get("id")  # type: ignore[union-attr]


# hook name -> class -> the class overrides BaseNamespace's hook
_overrides_cache: dict[str, dict[type, bool]] = {"recv_any": {}, "recv_any_outgoing": {}}


def _overrides(cls: type, hook: str) -> bool:
    classes = _overrides_cache[hook]
    found = classes.get(cls)
    if found is None:
        found = classes[cls] = getattr(cls, hook) is not getattr(BaseNamespace, hook)
    return found


_CONNECT_MIDDLEWARES = dispatch.CONNECT_MIDDLEWARES
_infos = dispatch.CLASS_INFOS  # the hot path reads it directly
_any_hooks = _overrides_cache["recv_any"]

#: How a class's packets are dispatched: typed (0), or as gevent-socketio's dicts to its own
#: ``process_packet`` (1), or only its events to its own ``process_event`` (2).
_TYPED, _OWN_PROCESS_PACKET, _OWN_PROCESS_EVENT = 0, 1, 2
_dispatch_modes: dict[type, int] = {}


def _dispatch_mode(cls: type) -> int:
    mode = _dispatch_modes.get(cls)
    if mode is None:
        if getattr(cls, "process_packet") is not BaseNamespace.process_packet:  # noqa: B009
            mode = _OWN_PROCESS_PACKET
        elif getattr(cls, "process_event") is not BaseNamespace.process_event:  # noqa: B009
            mode = _OWN_PROCESS_EVENT
        else:
            mode = _TYPED
        _dispatch_modes[cls] = mode
    return mode


#: Per class, the handler methods an event may call straight (``getattr(self, name)(*args)``)
#: once the ACL allows it: what ``call_method_with_acl`` would do, for a class that keeps
#: BaseNamespace's ``call_method_with_acl``, ``call_method`` and ``is_method_allowed`` and
#: has no ``exception_handler_decorator``, and a method that takes ``self`` and the
#: arguments (not the packet) on the loop. Filled as ``call_method`` meets them.
_direct_calls: dict[type, set[str]] = {}


def _calls_plainly(cls: type) -> bool:
    """Whether ``cls`` calls its handlers as BaseNamespace does (no override of the three
    methods between an event and its handler, no decorator around it)."""
    return (
        getattr(cls, "call_method_with_acl") is BaseNamespace.call_method_with_acl  # noqa: B009
        and getattr(cls, "call_method") is BaseNamespace.call_method  # noqa: B009
        and getattr(cls, "is_method_allowed") is BaseNamespace.is_method_allowed  # noqa: B009
        and not has_decorator(cls)
    )


def _refuse_event() -> EventRefused:
    return EventRefused("event refused")


def _refuse_connection() -> ConnectionRefused:
    return ConnectionRefused()


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0
    ):
        raise ValueError(f"timeout must be a number of seconds >= 0 or None, not {timeout!r}")


class BaseNamespace:
    """The base class of every namespace (see the module docstring).

    Attributes:
        socket: the client's :class:`~tornio.core.socket.Socket`.
        session: a dict shared by every namespace of the socket.
        request: the Tornado request that opened the socket (real remote IP, headers, cookies).
        environ: a WSGI-style dict of that request, with ``environ['socketio']`` the socket.
        ns_name: the endpoint, ``''`` for the global namespace.
        sid: this socket's id in this namespace.
        blocking: (class attribute) run the plain handlers, hooks and spawned functions
            on a thread pool, so that they may block (:mod:`tornio.core.threads`); read
            once per class. False here: they run on the event loop.
    """

    blocking: ClassVar[bool] = False
    socket: Socket
    #: gevent-socketio's rule: an ``on_*`` or ``recv_*`` method whose first parameter is not
    #: named ``self`` answers ``invalid_method_args`` (``tornio.namespace.BaseNamespace``
    #: sets it). Off here: any first positional parameter (or ``*args``) takes the instance.
    self_named_handlers: bool = False
    # What one instance registered (``self.on``, ``self.use_packets``), once it does.
    _handlers: dict[str, Callable[..., Any]] | None = None
    _packet_filters: list[Callable[..., Any]] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dispatch.collect_routes(cls)

    on = hybridmethod(dispatch.on_class, dispatch.on_instance)
    use = hybridmethod(dispatch.use_class, dispatch.use_instance)
    use_packets = hybridmethod(dispatch.use_packets_class, dispatch.use_packets_instance)

    def __init__(
        self, environ: dict[str, Any], ns_name: str, request: HTTPServerRequest | None = None
    ) -> None:
        self.environ = environ
        self.socket = environ["socketio"]
        self.session: dict[str, Any] = self.socket.session
        self.request = request
        self.ns_name = ns_name
        self._sid: str = self.socket.sids.get(ns_name, self.socket.sessid)
        self.allowed_methods: set[str] | None = None
        self.jobs: list[asyncio.Task[Any]] = []
        self.reset_acl()
        super().__init__()

    @property
    def sid(self) -> str:
        """This socket's id in this namespace: ``to=`` in emits, ``skip_sid``, the room named
        by it, ``fetch_sessions``' ``sid``, what the client sees as ``socket.id``. Each
        namespace connection of a modern client has its own (naming the process that owns
        it); for a 0.9 client it is the session id, ``self.socket.sessid``."""
        return self.socket.sids.get(self.ns_name, self._sid)  # still known once it left

    @property
    def recovered(self) -> bool:
        """This connection is a lost one come back (connection state recovery): same
        ``sid``, its rooms and session data, and the events it missed already sent."""
        return self.ns_name in self.socket.recovered

    @property
    def auth(self) -> dict[str, Any]:
        """The ``auth`` payload a modern client joined this namespace with (``{}`` for 0.9
        clients). ``recv_connect`` may refuse it."""
        return self.socket.auth.get(self.ns_name, {})

    # -- hooks for subclasses ----------------------------------------------------------------

    def initialize(self) -> None:
        """Called once after construction; override instead of ``__init__``.

        As in gevent-socketio, the ``initialize`` of every class in the MRO that defines one
        runs, most derived first (mixins included, no ``super()`` call needed), each once.
        """

    def get_initial_acl(self) -> Iterable[str] | None:
        """The method names a new socket may call; None (the default) allows all."""
        return None

    def recv_connect(self) -> Any:
        """The client connected this namespace."""

    def recv_message(self, data: Any) -> Any:
        """A ``send()``-style message arrived; the return value is the data ack."""
        return data

    def recv_json(self, data: Any) -> Any:
        """A JSON message arrived; the return value is the data ack."""
        return data

    # The hooks below are called ``hook(reason)``; their ``*args, **kwargs`` signature lets an
    # override be typed ``(self, reason: str)`` or gevent-socketio's ``(self)``.

    def recv_disconnecting(self, *args: Any, **kwargs: Any) -> Any:
        """``recv_disconnecting(reason)``: the namespace connection is ending; the socket is
        still in its rooms (``self.rooms``). ``reason`` as for :meth:`recv_disconnect`. Make
        it a plain method: an ``async`` one runs after the rooms are left."""

    def recv_disconnect(self, *args: Any, **kwargs: Any) -> Any:
        """``recv_disconnect(reason)``: the namespace connection ended, whichever way: once
        per connection, after the rooms were left; the namespace's jobs are cancelled after
        it returns.

        ``reason`` is node's: ``client namespace disconnect``, ``server namespace
        disconnect``, ``transport close``, ``transport error``, ``ping timeout``, ``parse
        error``, ``server shutting down``, ``forced close`` or ``forced server close``. An
        override may leave it out (gevent-socketio's ``recv_disconnect(self)``).
        """
        self.disconnect(silent=True)  # gevent-socketio's default; a no-op by now

    def recv_error(self, packet: dict[str, Any]) -> Any:
        """The client sent an error packet."""

    def recv_any(self, event: str, *args: Any) -> Any:
        """Every event the client sends, handled or not, before the packet middlewares and
        its handler (node's ``socket.onAny``). Its return value is ignored (an ``async``
        one runs as a job of the namespace); the handler's is the ack."""

    def recv_any_outgoing(self, event: str, *args: Any) -> Any:
        """Every event this namespace sent its client (``emit``, ``send``: ``"message"``,
        ``call``, and the broadcasts it received), once it was sent (node's
        ``socket.onAnyOutgoing``). Acks and ``error`` reports are not events."""

    def recv_refused(self, error: EventRefused) -> Any:
        """A packet middleware refused an event (``error.event``, ``error.event_args``): its
        handler did not run and no ack went out (node emits ``"error"`` on the server's
        socket). By default a log line; the client is told nothing unless this emits or
        disconnects."""
        log.info("event %r refused on %s %r: %s", error.event, self.sid, self.ns_name, error)

    # -- dispatch ----------------------------------------------------------------------------

    def receive_packet(self, packet: Packet) -> Any:
        """One packet from the client, from the socket; returns what becomes the data ack.
        A class that overrides ``process_packet`` (or ``process_event``, for events) gets it
        as gevent-socketio's dict."""
        mode = _dispatch_modes.get(type(self))
        if mode is None:
            mode = _dispatch_mode(type(self))
        if mode == _TYPED and packet.kind == "event":  # the usual case
            return self._event(packet)
        if mode == _OWN_PROCESS_PACKET:
            return self.process_packet(packet.as_dict())
        return self._dispatch(packet)

    def process_packet(self, packet: AnyPacket) -> Any:
        """Dispatch one decoded packet (gevent-socketio's dict, or a
        :class:`~tornio.protocol.packets.Packet`); returns what becomes the data ack."""
        return self._dispatch(packet if isinstance(packet, Packet) else Packet.from_dict(packet))

    def _dispatch(self, packet: Packet) -> Any:
        kind = packet.kind
        if kind == "event":
            if _dispatch_mode(type(self)) == _OWN_PROCESS_EVENT:
                return self.process_event(packet.as_dict())
            return self._event(packet)
        if kind == "message":
            data = packet.data
            return self.call_method_with_acl("recv_message", packet, "" if data is None else data)
        if kind == "json":
            return self.call_method_with_acl("recv_json", packet, packet.data)
        if kind == "connect":
            # The socket answers the client once the middlewares and recv_connect accepted.
            settings = self.socket.manager.settings
            chain = (*settings.middlewares,
                     *dispatch.class_chain(type(self), _CONNECT_MIDDLEWARES))
            if chain and self.recovered and settings.recovery_skip_middlewares:
                chain = ()  # a recovered connection passed them once (node's skipMiddlewares)
            if not chain:
                return self.call_method_with_acl("recv_connect", packet)
            return dispatch.run_chain(
                chain, (self,), functools.partial(self.call_method_with_acl, "recv_connect",
                                                  packet), _refuse_connection,
            )
        if kind == "error":
            return self.call_method_with_acl("recv_error", packet)
        if kind == "ack":
            callback = self.socket.take_ack(packet.id)
            if callback is None:
                return None  # the socket logged it
            ack_args = tuple(packet.args)
            if self.blocking and threads.wants_thread(callback, True):
                return threads.serial_queue(self.socket).run(callback, ack_args)
            return callback(*ack_args)
        if kind == "disconnect":
            return self.call_method_with_acl("recv_disconnect", packet)
        log.warning("unprocessed packet type %r", kind)
        return None

    def process_event(self, packet: dict[str, Any]) -> Any:
        """One event (gevent-socketio's dict): ``recv_any``, the packet middlewares, then its
        handler (see :meth:`dispatch_event`). Called for the events of a class that overrides
        it (or ``process_packet``); the others' events go straight to the handler."""
        return self._event(Packet.from_dict(packet))

    def _event(self, packet: Packet) -> Any:
        name: str = packet.name  # type: ignore[assignment]  # an event has one
        args = packet.args
        cls = type(self)
        info = _infos.get(cls) or dispatch.info(cls)
        any_hook = _any_hooks.get(cls)
        if any_hook is None:
            any_hook = _overrides(cls, "recv_any")
        if any_hook:
            self._run_hook("recv_any", name, *args)
        chain = info.packets
        if self._packet_filters:
            chain = (*chain, *self._packet_filters)
        if not chain:
            if self._handlers is None:  # the usual case: straight to the on_ method
                method = info.methods[self.socket.legacy_names].get(name)
                if method is not None:
                    direct = _direct_calls.get(cls)
                    if direct is not None and method in direct:
                        allowed = self.allowed_methods
                        if allowed is None or method in allowed:
                            return getattr(self, method)(*args)
                    return self.call_method_with_acl(method, packet, *args)
            return self.dispatch_event(name, args, packet)
        try:
            result = dispatch.run_chain(
                chain, (self, name, args),
                functools.partial(self.dispatch_event, name, args, packet), _refuse_event,
            )
        except EventRefused as refusal:
            self._refused(refusal, name, args)
            raise
        if inspect.isawaitable(result):
            return self._await_filtered(result, name, args)
        return result

    async def _await_filtered(self, result: Any, name: str, args: list[Any]) -> Any:
        try:
            return await result
        except EventRefused as refusal:
            self._refused(refusal, name, args)
            raise

    def _refused(self, refusal: EventRefused, name: str, args: list[Any]) -> None:
        if refusal.event is None:
            refusal.event, refusal.event_args = name, list(args)
        self._run_hook("recv_refused", refusal)

    def dispatch_event(self, name: str, args: list[Any], packet: AnyPacket) -> Any:
        """Call the handler of the event ``name`` and return its result (the ack): this
        instance's registration for it, else its class's (``@event``, ``Cls.on``), else
        its ``on_`` method (see :mod:`tornio.core.dispatch`), else a catch-all (``'*'``:
        this instance's, then the class's), else an error event to the client."""
        handlers = self._handlers
        if handlers is not None:
            handler = handlers.get(name)
            if handler is not None:
                return self._call_registered(handler, packet, args, False)
        route = dispatch.route(type(self), name, self.socket.legacy_names)
        if route.catch_all or route.error is not None:
            handler = handlers.get(CATCH_ALL) if handlers is not None else None
            if handler is not None:
                return self._call_registered(handler, packet, [name, *args], False)
        if route.catch_all:
            args = [name, *args]
        if route.attr is not None:
            return self.call_method_with_acl(route.attr, packet, *args)
        if route.func is not None:
            return self._call_registered(route.func, packet, args, True, route.acl)
        assert route.error is not None
        self.error(*route.error, msg_id=_msg_id(packet))
        return None

    def _call_registered(
        self,
        handler: Callable[..., Any],
        packet: AnyPacket,
        args: list[Any],
        takes_self: bool,
        acl: str | None = None,
    ) -> Any:
        """Call a handler registered with ``on()``: ``handler(self, *args)`` for the class's
        (``takes_self``), ``handler(*args)`` for this instance's."""
        if acl is None:
            acl = getattr(handler, "__name__", "handler")
        if not self.is_method_allowed(acl):
            self.error(
                "method_access_denied",
                f'You do not have access to method "{acl}"',
                msg_id=_msg_id(packet),
            )
            return None
        threaded = threads.wants_thread(handler, self.blocking)
        if takes_self:
            has_self, wants_packet = describe_registered(handler)
            if not has_self:
                return self._invalid_method_args(packet)
            handler = types.MethodType(handler, self)
        else:
            wants_packet = False
        if has_decorator(type(self)):
            handler = self.exception_handler_decorator(handler)  # type: ignore[attr-defined]
        call_args = (_as_dict(packet),) if wants_packet else tuple(args)
        if threaded:
            return threads.serial_queue(self.socket).run(handler, call_args)
        return handler(*call_args)

    def _run_hook(self, hook: str, *args: Any) -> None:
        """Call ``recv_any``, ``recv_any_outgoing`` or ``recv_refused``: a failure is logged,
        an ``async`` one runs as a job of the namespace."""
        method = getattr(self, hook)
        if has_decorator(type(self)):
            method = self.exception_handler_decorator(method)  # type: ignore[attr-defined]
        if describe(type(self), hook)[2]:
            self.run_job(self._await_hook(hook, threads.serial_queue(self.socket).run(
                method, args)))
            return
        try:
            result = method(*args)
        except Exception:
            log.exception("%s of %r failed", hook, self.ns_name)
            return
        if inspect.isawaitable(result):
            self.run_job(self._await_hook(hook, result))

    async def _await_hook(self, hook: str, awaitable: Any) -> None:
        try:
            await awaitable
        except Exception:
            log.exception("%s of %r failed", hook, self.ns_name)

    @property
    def watches_outgoing(self) -> bool:
        """The class has a ``recv_any_outgoing`` (its socket tells the manager, which then
        calls it for the broadcasts this namespace receives)."""
        return _overrides(type(self), "recv_any_outgoing")

    def sent_event(self, event: str, args: Any) -> None:
        """``event`` with ``args`` went to the client (from the socket, for broadcasts):
        ``recv_any_outgoing``, when the class has one."""
        if _overrides(type(self), "recv_any_outgoing"):
            self._run_hook("recv_any_outgoing", event, *args)

    def call_method_with_acl(self, method_name: str, packet: AnyPacket, *args: Any) -> Any:
        if not self.is_method_allowed(method_name):
            self.error(
                "method_access_denied",
                f'You do not have access to method "{method_name}"',
                msg_id=_msg_id(packet),
            )
            return None
        return self.call_method(method_name, packet, *args)

    def call_method(self, method_name: str, packet: AnyPacket, *args: Any) -> Any:
        method = getattr(self, method_name, None)
        if method is None:
            self.error(
                "no_such_method",
                f'The method "{method_name}" was not found',
                msg_id=_msg_id(packet),
            )
            return None
        cls = type(self)
        info = SIGNATURES.get((cls, method_name))  # the hot path: no call to find it
        if info is None:
            info = describe(cls, method_name)
        has_self, wants_packet, threaded = info
        if not has_self:
            return self._invalid_method_args(packet)
        decorated = DECORATED.get(cls)
        if decorated is None:
            decorated = has_decorator(cls)
        if decorated:
            method = self.exception_handler_decorator(method)  # type: ignore[attr-defined]
        if threaded:  # blocking: on the socket's serial queue; a future of the result
            return threads.serial_queue(self.socket).run(
                method, (_as_dict(packet),) if wants_packet else args)
        if wants_packet:
            return method(_as_dict(packet))
        if not decorated and _calls_plainly(cls):  # the next time, _event calls it straight
            _direct_calls.setdefault(cls, set()).add(method_name)
        return method(*args)

    def _invalid_method_args(self, packet: AnyPacket) -> None:
        """gevent-socketio's answer to a handler that cannot take ``self``."""
        self.error(
            "invalid_method_args",
            "The server-side method is invalid, as it doesn't "
            "have 'self' as its first argument",
            msg_id=_msg_id(packet),
        )

    def run_disconnect_hook(self, hook: str, reason: str) -> Any:
        """Call ``recv_disconnecting`` or ``recv_disconnect`` (``hook``) with ``reason``, or
        without it when the method takes none. The ACL does not apply: a namespace always
        learns that it ended. ``recv_disconnecting`` runs on the loop even in a blocking
        namespace: after it, the rooms are left."""
        method = getattr(self, hook)
        if has_decorator(type(self)):
            method = self.exception_handler_decorator(method)  # type: ignore[attr-defined]
        args = (reason,) if takes_reason(type(self), hook) else ()
        if hook == "recv_disconnect" and describe(type(self), hook)[2]:
            return threads.serial_queue(self.socket).run(method, args)
        return method(*args)

    # -- ACL ---------------------------------------------------------------------------------

    def reset_acl(self) -> None:
        acl = self.get_initial_acl()
        self.allowed_methods = None if acl is None else set(acl)

    def is_method_allowed(self, method_name: str) -> bool:
        return self.allowed_methods is None or method_name in self.allowed_methods

    def add_acl_method(self, method_name: str) -> None:
        if self.allowed_methods is None:
            self.allowed_methods = set()
        self.allowed_methods.add(method_name)

    def del_acl_method(self, method_name: str) -> None:
        if self.allowed_methods is None:
            raise ValueError(
                "Trying to delete an ACL method, but none were defined yet! "
                "Or: No ACL restrictions yet, why would you delete one?"
            )
        self.allowed_methods.discard(method_name)

    def lift_acl_restrictions(self) -> None:
        self.allowed_methods = None

    # -- sending -----------------------------------------------------------------------------

    def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Send an event to this client; ``callback=`` asks the client for an ack.

        Without ``timeout=``, ``callback(*ack_args)`` runs when the ack comes. With
        ``timeout=`` (seconds) the callback is error-first, as node's
        ``socket.timeout(ms).emit``: ``callback(None, *ack_args)`` on the ack,
        ``callback(TimeoutError(...))`` when none came in time, and
        ``callback(Disconnected(reason))`` at once if the namespace ends first.
        """
        if in_use and here.job is not None:  # a blocking function's thread: on the loop, waited for
            return on_loop(self.emit, event, *args, **kwargs)
        callback = kwargs.pop("callback", None)
        timeout = kwargs.pop("timeout", None)
        if kwargs:
            raise ValueError(
                "emit() only supports positional arguments (and callback=, timeout=), to stay "
                "compatible with the Socket.IO protocol. You can however pass a dictionary "
                "as the first argument"
            )
        if callback is None:
            if timeout is not None:
                raise ValueError("emit(timeout=) needs a callback= whose ack can time out")
            self.socket.send_packet(Packet("event", self.ns_name, event, list(args)))
        else:
            self._send_asking(Packet("event", self.ns_name, event, list(args), None, "data"),
                              callback, timeout)
        self.sent_event(event, args)

    def send(
        self,
        message: Any,
        json: bool = False,
        callback: Callable[..., Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Send a message (or a JSON value with ``json=True``) to this client; ``callback``
        and ``timeout`` as for :meth:`emit`."""
        if in_use and here.job is not None:
            return on_loop(self.send, message, json, callback, timeout)
        packet = Packet("json" if json else "message", self.ns_name, data=message)
        if callback is None:
            if timeout is not None:
                raise ValueError("send(timeout=) needs a callback= whose ack can time out")
            self.socket.send_packet(packet)
        else:
            packet.ack = True
            self._send_asking(packet, callback, timeout)
        self.sent_event("message", (message,))

    def _send_asking(
        self, packet: Packet, callback: Callable[..., Any], timeout: float | None
    ) -> None:
        _check_timeout(timeout)
        if timeout is None:
            ack_id = self.socket.register_ack(self.ns_name, callback)
        else:
            ack_id = self.socket.register_ack(
                self.ns_name, functools.partial(callback, None), timeout, callback
            )
        packet.id = ack_id
        try:
            self.socket.send_packet(packet)
        except BaseException:
            self.socket.cancel_ack(ack_id)  # it never went out: nothing will answer it
            raise

    async def call(self, event: str, *args: Any, timeout: float | None = 60.0) -> Any:
        """Emit ``event`` and wait for the client's ack: its value (several values: a
        tuple; none: None).

        Raises:
            TimeoutError: no ack within ``timeout`` seconds (None: wait as long as the
                namespace lasts).
            tornio.exceptions.Disconnected: the namespace or the socket ended first (at
                once; also when it had already ended). ``.reason`` says how.
        """
        _check_timeout(timeout)
        socket = self.socket
        if socket.active_ns.get(self.ns_name) is not self or not socket.connected:
            raise Disconnected(socket.ended_reason(self.ns_name))
        answer: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

        def answered(*ack_args: Any) -> None:
            if not answer.done():
                answer.set_result(ack_args)

        def failed(error: Exception) -> None:
            if not answer.done():
                answer.set_exception(error)

        ack_id = socket.register_ack(self.ns_name, answered, timeout, failed)
        try:
            socket.send_packet(Packet("event", self.ns_name, event, list(args), ack_id, "data"))
            self.sent_event(event, args)
            ack_args = await answer
        finally:
            socket.cancel_ack(ack_id)  # a caller cancelled while waiting leaves nothing behind
        if not ack_args:
            return None
        return ack_args[0] if len(ack_args) == 1 else ack_args

    def error(
        self,
        error_name: str,
        error_message: str,
        msg_id: int | None = None,
        quiet: bool = False,
    ) -> None:
        """Report an error to the client as gevent-socketio did (an ``error`` event)."""
        if in_use and here.job is not None:
            return on_loop(self.error, error_name, error_message, msg_id, quiet)
        self.socket.error(error_name, error_message, endpoint=self.ns_name, msg_id=msg_id,
                          quiet=quiet)

    def disconnect(self, silent: bool = False) -> None:
        """Leave this namespace. Unless ``silent``, the client is told with a disconnect
        packet. For a 0.9 client, leaving the global namespace ends the whole socket (as in
        gevent-socketio); a modern client's connection stays open for its other namespaces.
        """
        if in_use and here.job is not None:
            return on_loop(self.disconnect, silent)
        try:
            if self.socket.active_ns.get(self.ns_name) is self:  # not ended yet
                self.socket.disconnect_namespace(self.ns_name, silent=silent)
        finally:
            self.kill_local_jobs()

    # -- jobs --------------------------------------------------------------------------------

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        """Run ``fn(*args, **kwargs)`` as a task that is cancelled when this namespace ends.

        ``fn`` may be a coroutine function or a plain function. ``exception_handler_decorator``
        applies, as for handlers. In a blocking namespace (or marked ``@blocking``) a plain
        ``fn`` runs on a thread of the spawn pool; cancelling the task cancels the job
        (:mod:`tornio.core.threads`).
        """
        if in_use and here.job is not None:
            return on_loop(self.spawn, fn, *args, **kwargs)
        threaded = threads.wants_thread(fn, self.blocking)
        decorate = getattr(self, "exception_handler_decorator", None)
        if decorate is not None:
            fn = decorate(fn)
        if threaded:
            return self.run_job(self._in_thread(fn, args, kwargs))

        task = asyncio.get_running_loop().create_task(
            threads.run_job(fn, args, kwargs, f"namespace {self.ns_name!r}", log))
        self.jobs.append(task)
        task.add_done_callback(self._job_done)
        return task

    async def _in_thread(self, fn: Callable[..., Any], args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> Any:
        try:
            return await threads.run_spawned(self.socket.manager, fn, args, kwargs)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %r of namespace %r failed", fn, self.ns_name)
            return None

    def _job_done(self, task: asyncio.Task[Any]) -> None:
        with contextlib.suppress(ValueError):
            self.jobs.remove(task)

    def kill_local_jobs(self) -> None:
        """Cancel every job this namespace spawned."""
        if in_use and here.job is not None:
            return on_loop(self.kill_local_jobs)
        jobs, self.jobs = self.jobs, []
        for job in jobs:
            job.cancel()

    def run_job(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a coroutine (an ``async`` handler's) as a task cancelled with the namespace."""
        task = asyncio.get_running_loop().create_task(coro)
        self.jobs.append(task)
        task.add_done_callback(self._job_done)
        return task
