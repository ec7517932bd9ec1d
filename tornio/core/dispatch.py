"""Where an event goes, and the chains a connection and its events pass through.

* **Event names.** ``@event('user/login')`` on a method, ``Cls.on(name, handler)`` on a
  namespace class and ``namespace.on(name, handler)`` on one instance register handlers for
  event names as the client sends them, whatever they hold. Without a registration, a name
  reaches an ``on_<name>`` method: for a Socket.IO 0.9 client by gevent-socketio's rule
  (:data:`ALLOWED_EVENT_NAME`; spaces, ``.``, ``:`` and ``-`` become ``_``, so ``a b`` and
  ``a-b`` both reach ``on_a_b``), for a modern client only when the name is a Python
  identifier (``on_`` + the name unchanged: names that differ only by a separator never
  collide). The name :data:`CATCH_ALL` (``'*'``) registers the handler of every event that
  has no other: it gets the event name first.
* **Middlewares.** :func:`run_chain` runs a chain of plain or ``async`` functions in order,
  synchronously until one of them returns an awaitable (then the rest is a coroutine): the
  connect middlewares of a namespace (``Router(middlewares=)``, ``Cls.use(fn)``) and its
  packet middlewares (``use_packets``).
* **Dynamic namespaces.** :func:`find_namespace` picks the class of an endpoint from a
  namespaces mapping whose keys may be names, compiled regular expressions or functions
  ``(name, auth) -> bool`` (node's ``io.of(regex)`` and ``io.of(fn)``).

This module knows nothing of sockets or of :class:`~tornio.core.namespace.BaseNamespace`:
it works on classes and mappings, so that both can use it.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from tornio.protocol.endpoints import to_nsp

__all__ = [
    "ALLOWED_EVENT_NAME",
    "CATCH_ALL",
    "CLASS_INFOS",
    "CONNECT_MIDDLEWARES",
    "PACKET_MIDDLEWARES",
    "RESERVED_EVENTS",
    "ClassInfo",
    "NamespaceKey",
    "Route",
    "add_to_chain",
    "check_event_name",
    "check_namespace_keys",
    "class_chain",
    "collect_routes",
    "event",
    "find_namespace",
    "forget_routes",
    "hybridmethod",
    "info",
    "on_class",
    "on_instance",
    "register_route",
    "route",
    "run_chain",
    "use_class",
    "use_instance",
    "use_packets_class",
    "use_packets_instance",
]

#: Event names that may reach an ``on_<event>`` method for a 0.9 client: gevent-socketio's
#: rule, widened by the separators applications use (``user-joined``, ``chat:message``).
ALLOWED_EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_ .:-]*$")
_TO_UNDERSCORE = str.maketrans(" .:-", "____")

#: The name whose handler takes every event that has no handler of its own.
CATCH_ALL = "*"

#: Names no handler can be registered for: Socket.IO reserves them, no client may send them.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)

#: A key of a namespaces mapping: an endpoint, a compiled regex matched (``search``, as
#: node's ``regex.test``) against the endpoint (``'/'`` for the global one), or a function
#: ``(name, auth) -> bool`` (or an awaitable of it).
NamespaceKey = str | re.Pattern[str] | Callable[[str, dict[str, Any]], Any]

_EVENTS_ATTR = "_tornio_event_names"  # on a decorated function: the names it handles
_ROUTES_ATTR = "_tornio_routes"  # in a class's own __dict__: name -> attribute | function

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def check_event_name(name: object) -> str:
    """``name``, if a handler can be registered for it.

    Raises:
        TypeError: not a str.
        ValueError: a reserved name (``connect``, ``disconnect``...).
    """
    if not isinstance(name, str):
        raise TypeError(f"an event name is a str, not {type(name).__name__}")
    if name in RESERVED_EVENTS:
        raise ValueError(f"{name!r} is a reserved event name: no client can send it")
    return name


def event(*names: str) -> Callable[[F], F]:
    """Make a namespace method the handler of the events ``names``, spelled as the client
    sends them (``@event('user/login')``, ``@event('chat:message', 'chat.message')``).

    The method is called as an ``on_`` method would be: with the event's arguments, its
    return value the ack. Decorators may be stacked; a subclass that overrides the method
    (decorated or not) keeps its names.
    """
    if not names:
        raise TypeError("@event() needs at least one event name")
    checked = tuple(check_event_name(name) for name in names)

    def mark(fn: F) -> F:
        if not callable(fn) or isinstance(fn, (staticmethod, classmethod)):
            raise TypeError("@event() decorates a namespace method")
        setattr(fn, _EVENTS_ATTR, (*getattr(fn, _EVENTS_ATTR, ()), *checked))
        return fn

    return mark


# -- routes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """How one event name is handled by one class (see :func:`route`).

    Exactly one of ``attr`` (a method of the instance, looked up when called) and ``func``
    (a function registered with ``Cls.on``, called with the instance first) is set, unless
    the name has no handler at all (``error`` then says what to tell the client).
    """

    attr: str | None = None
    func: Callable[..., Any] | None = None
    #: The name the ACL checks: the method's (or the function's) name.
    acl: str = ""
    #: The handler takes the event name first (the catch-all).
    catch_all: bool = False
    #: (error name, message) for a name nothing handles.
    error: tuple[str, str] | None = None

    @property
    def method(self) -> str | None:
        """The method to call with the event's arguments as they are, if that is all."""
        if self.attr is None or self.catch_all or self.error is not None:
            return None
        return self.attr


class ClassInfo:
    """What dispatching an event to an instance of ``cls`` needs, looked up once per class
    (until a registration changes): its routes (modern, 0.9: name → :class:`Route`, filled
    as names come) and its packet middlewares."""

    __slots__ = ("methods", "packets", "tables")

    def __init__(self, cls: type) -> None:
        self.tables: tuple[dict[str, Route], dict[str, Route]] = ({}, {})
        #: (modern, 0.9): name → the method a route calls with the arguments as they are
        self.methods: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self.packets = class_chain(cls, PACKET_MIDDLEWARES)


#: The attribute of a class's own packet middlewares (``Cls.use_packets``).
PACKET_MIDDLEWARES = "_tornio_packet_middlewares"
#: The attribute of a class's own connect middlewares (``Cls.use``).
CONNECT_MIDDLEWARES = "_tornio_connect_middlewares"

# keyed by the class alone, so that the hot path hashes no tuple
#: What each namespace class's handlers are (:class:`ClassInfo`), by class; filled by :func:`info`.
CLASS_INFOS: dict[type, ClassInfo] = {}
_ROUTES_KEPT = 4096  # per class and generation: clients choose the names, keep it bounded


def info(cls: type) -> ClassInfo:
    """The :class:`ClassInfo` of ``cls``."""
    found = CLASS_INFOS.get(cls)
    if found is None:
        found = CLASS_INFOS[cls] = ClassInfo(cls)
    return found


def collect_routes(cls: type) -> None:
    """Give ``cls`` its own route table, from the methods ``@event`` marked in its body.

    Raises:
        TypeError: two methods of the class claim one event name.
    """
    routes: dict[str, str | Callable[..., Any]] = {}
    for attr, value in cls.__dict__.items():
        for name in getattr(value, _EVENTS_ATTR, ()):
            if name in routes and routes[name] != attr:
                raise TypeError(
                    f"event {name!r} has two handlers in {cls.__name__}: "
                    f"{routes[name]!r} and {attr!r}"
                )
            routes[name] = attr
    setattr(cls, _ROUTES_ATTR, routes)
    forget_routes()


def register_route(cls: type, name: str, handler: Callable[..., Any]) -> None:
    """``Cls.on(name, handler)``: ``handler(instance, *args)`` handles ``name`` for ``cls``
    and its subclasses (replacing what ``cls`` itself had registered for it)."""
    check_event_name(name)
    if not callable(handler):
        raise TypeError(f"an event handler must be callable, not {type(handler).__name__}")
    routes = cls.__dict__.get(_ROUTES_ATTR)
    if routes is None:
        routes = {}
        setattr(cls, _ROUTES_ATTR, routes)
    routes[name] = handler
    forget_routes()


def forget_routes() -> None:
    """A class's registrations changed: every cached route and chain may be stale."""
    CLASS_INFOS.clear()
    _chains.clear()


def legacy_method_name(name: str) -> str | None:
    """gevent-socketio's ``on_`` method for a 0.9 client's event name (None: none may)."""
    return "on_" + name.translate(_TO_UNDERSCORE) if ALLOWED_EVENT_NAME.match(name) else None


_scanned: dict[type, dict[str, str | Callable[..., Any]]] = {}


def _own_routes(klass: type) -> dict[str, str | Callable[..., Any]]:
    """A class's own registrations; a class that is no namespace (a mixin) is scanned for
    ``@event`` methods once."""
    routes = klass.__dict__.get(_ROUTES_ATTR)
    if routes is not None:
        return routes
    routes = _scanned.get(klass)
    if routes is None:
        routes = {}
        for attr, value in list(klass.__dict__.items()):
            for name in getattr(value, _EVENTS_ATTR, ()):
                routes.setdefault(name, attr)
        _scanned[klass] = routes
    return routes


def _explicit(cls: type, name: str) -> str | Callable[..., Any] | None:
    for klass in cls.__mro__:
        routes = _own_routes(klass)
        if routes:
            found = routes.get(name)
            if found is not None:
                return found
    return None


def _to_route(found: str | Callable[..., Any], catch_all: bool = False) -> Route:
    if isinstance(found, str):
        return Route(attr=found, acl=found, catch_all=catch_all)
    return Route(func=found, acl=getattr(found, "__name__", "handler"), catch_all=catch_all)


def route(cls: type, name: str, legacy: bool) -> Route:
    """How ``cls`` handles the event ``name`` from a 0.9 (``legacy``) or a modern client:
    a registration for the name, else its ``on_`` method, else the catch-all, else an
    error. Cached per class and name (for a bounded number of names)."""
    known = info(cls)
    table = known.tables[legacy]
    found = table.get(name)
    if found is not None:
        return found
    explicit = _explicit(cls, name)
    if explicit is not None:
        result = _to_route(explicit)
    else:
        if legacy:
            method = legacy_method_name(name)
        else:
            method = "on_" + name if name.isidentifier() else None
        if method is not None and inspect.getattr_static(cls, method, None) is not None:
            result = Route(attr=method, acl=method)
        else:
            catch_all = _explicit(cls, CATCH_ALL)
            if catch_all is not None:
                result = _to_route(catch_all, catch_all=True)
            elif method is not None:
                result = Route(
                    attr=method, acl=method,
                    error=("no_such_method", f'The method "{method}" was not found'),
                )
            elif legacy:
                result = Route(error=(
                    "unallowed_event_name", "name must only contains alpha numerical characters"
                ))
            else:
                result = Route(error=(
                    "no_such_method",
                    f"No handler for the event {name!r}: register one with @event({name!r})",
                ))
    if len(table) < _ROUTES_KEPT:
        table[name] = result
        if result.method is not None:
            known.methods[legacy][name] = result.method
    return result


# -- chains -------------------------------------------------------------------------------

# attribute -> class -> chain
_chains: dict[str, dict[type, tuple[Callable[..., Any], ...]]] = {}


def class_chain(cls: type, attr: str) -> tuple[Callable[..., Any], ...]:
    """The functions the classes of ``cls``'s MRO registered in their own ``attr`` list,
    the most basic class's first (cached until a registration changes)."""
    chains = _chains.get(attr)
    if chains is None:
        chains = _chains[attr] = {}
    found = chains.get(cls)
    if found is None:
        found = chains[cls] = tuple(
            fn
            for klass in reversed(cls.__mro__)
            for fn in klass.__dict__.get(attr, ())
        )
    return found


def add_to_chain(cls: type, attr: str, fn: Callable[..., Any]) -> None:
    """Append ``fn`` to ``cls``'s own ``attr`` list (not its bases')."""
    if not callable(fn):
        raise TypeError(f"a middleware must be callable, not {type(fn).__name__}")
    own = cls.__dict__.get(attr)
    if own is None:
        own = []
        setattr(cls, attr, own)
    own.append(fn)
    forget_routes()


def run_chain(
    chain: Sequence[Callable[..., Any]],
    args: tuple[Any, ...],
    then: Callable[[], Any],
    refusal: Callable[[], Exception],
) -> Any:
    """Call each function of ``chain`` with ``args``, in order, then return ``then()``.

    A function may be ``async``: from the first one that returns an awaitable, the rest
    runs in the coroutine this returns (which gives ``then()``'s result, awaited if it is
    awaitable too). A function that returns False stops the chain by raising
    ``refusal()``; what a function raises propagates (a refusal is one).
    """
    for index, fn in enumerate(chain):
        result = fn(*args)
        if inspect.isawaitable(result):
            return _finish_chain(result, chain[index + 1 :], args, then, refusal)
        if result is False:
            raise refusal()
    return then()


async def _finish_chain(
    pending: Awaitable[Any],
    rest: Sequence[Callable[..., Any]],
    args: tuple[Any, ...],
    then: Callable[[], Any],
    refusal: Callable[[], Exception],
) -> Any:
    if await pending is False:
        raise refusal()
    for fn in rest:
        result = fn(*args)
        if inspect.isawaitable(result):
            result = await result
        if result is False:
            raise refusal()
    result = then()
    if inspect.isawaitable(result):
        result = await result
    return result


# -- registering, on a class or on one instance -----------------------------------------


def on_class(cls: type, name: str, handler: Callable[..., Any] | None = None) -> Any:
    if handler is None:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            register_route(cls, name, fn)
            return fn

        check_event_name(name)
        return register
    register_route(cls, name, handler)
    return handler


def on_instance(
    self: Any, name: str, handler: Callable[..., Any] | None = None
) -> Any:
    """Register ``handler`` for the event ``name`` (any string, as the client sends it).

    On the class, ``Chat.on(name, handler)`` (or ``@Chat.on(name)``) registers
    ``handler(namespace, *args)`` for every instance of ``Chat`` and its subclasses; on an
    instance, ``self.on(name, handler)`` registers ``handler(*args)`` (a bound method, a
    closure) for this socket's namespace alone, ahead of the class's. ``'*'`` registers the
    catch-all, called ``handler(..., event, *args)`` for events that have no other handler.
    Registering a name again replaces its handler. Returns ``handler`` (without one: a
    decorator).
    """
    check_event_name(name)

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(fn):
            raise TypeError(f"an event handler must be callable, not {type(fn).__name__}")
        if self._handlers is None:
            self._handlers = {}
        self._handlers[name] = fn
        return fn

    return register if handler is None else register(handler)


def use_class(cls: type, middleware: Callable[..., Any]) -> Callable[..., Any]:
    add_to_chain(cls, CONNECT_MIDDLEWARES, middleware)
    return middleware


def use_instance(self: Any, middleware: Callable[..., Any]) -> Callable[..., Any]:
    """``Chat.use(fn)``: a connect middleware, ``fn(namespace)`` (plain or ``async``), run
    for every connection to ``Chat`` (and its subclasses) after the Router's
    ``middlewares`` and before ``recv_connect``; raising
    :class:`~tornio.exceptions.ConnectionRefused` (or returning False) refuses it. Returns
    ``fn``, so it works as a decorator. On an instance it raises TypeError: a socket's
    events are filtered with ``self.use_packets(fn)``."""
    raise TypeError(
        "use() registers a connect middleware on a namespace class (Chat.use(fn)); "
        "for this socket's events, use self.use_packets(fn)"
    )


def use_packets_class(cls: type, middleware: Callable[..., Any]) -> Callable[..., Any]:
    add_to_chain(cls, PACKET_MIDDLEWARES, middleware)
    return middleware


def use_packets_instance(
    self: Any, middleware: Callable[..., Any]
) -> Callable[..., Any]:
    """A packet middleware (node's ``socket.use``): ``fn(namespace, event, args)``, plain or
    ``async``, runs for every event before its handler, after ``recv_any``; ``args`` is the
    event's argument list, which it may change. Raising
    :class:`~tornio.exceptions.EventRefused` (or returning False) refuses the event: its
    handler does not run, no ack is sent, and ``recv_refused(error)`` runs.
    ``Chat.use_packets(fn)`` filters every instance's events, ``self.use_packets(fn)`` this
    socket's alone (after the class's). Returns ``fn``."""
    if not callable(middleware):
        raise TypeError(f"a middleware must be callable, not {type(middleware).__name__}")
    if self._packet_filters is None:
        self._packet_filters = []
    self._packet_filters.append(middleware)
    return middleware


# -- a method of the class and of each instance -------------------------------------------


class hybridmethod(Generic[T]):
    """A method with one meaning on the class (``for_class(cls, ...)``) and another on an
    instance (``for_instance(self, ...)``): ``Cls.on(...)`` and ``self.on(...)``."""

    def __init__(
        self, for_class: Callable[..., T], for_instance: Callable[..., T]
    ) -> None:
        self.for_class = for_class
        self.for_instance = for_instance
        self.__doc__ = for_instance.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> Callable[..., T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Callable[..., T]: ...

    def __get__(self, obj: object, owner: type | None = None) -> Callable[..., T]:
        if obj is None:
            return functools.partial(self.for_class, owner)
        return functools.partial(self.for_instance, obj)


# -- dynamic namespaces -------------------------------------------------------------------


def check_namespace_keys(
    namespaces: Mapping[Any, Any], max_name: int | None = None
) -> None:
    """Refuse a namespaces mapping key no client could use, at construction rather than on
    the first connection: neither a name, a compiled regex nor a function; a name that is
    not ``''`` (gevent-socketio's default namespace) and does not start with ``/`` (no
    client can ask for it); a name longer than ``max_name`` UTF-8 bytes (the
    ``max_namespace_name`` setting: a client asking for it is refused).

    Raises:
        TypeError: a key of the wrong kind, or not a mapping.
        ValueError: a name that does not start with ``/`` or is too long.
    """
    if not isinstance(namespaces, Mapping):
        raise TypeError(
            f"namespaces is a dict of name -> BaseNamespace subclass, not "
            f"{type(namespaces).__name__}"
        )
    for key in namespaces:
        if isinstance(key, re.Pattern) and not isinstance(key.pattern, str):
            raise TypeError(f"a namespace regex matches str, not bytes: {key!r}")
        if isinstance(key, str):
            if key and not key.startswith("/"):
                raise ValueError(
                    f"namespace {key!r} does not start with '/': no client can reach it "
                    f"(write {'/' + key!r})"
                )
            if max_name is not None and len(key.encode("utf-8", "surrogatepass")) > max_name:
                raise ValueError(
                    f"namespace {key[:40]!r}... is longer than max_namespace_name "
                    f"({max_name} bytes): no client may ask for it"
                )
        elif not isinstance(key, re.Pattern) and not callable(key):
            raise TypeError(
                f"a namespace key is a name, a compiled regex or a function "
                f"(name, auth) -> bool, not {type(key).__name__}"
            )


def find_namespace(
    namespaces: Mapping[Any, T], endpoint: str, auth: dict[str, Any]
) -> T | Awaitable[T | None] | None:
    """The class serving ``endpoint``: its own key's, else the first dynamic key's that
    matches it (in the mapping's order), else None. A matching function may be ``async``:
    then an awaitable of the answer is returned.

    Raises:
        Exception: what a matching function raised.
    """
    found = namespaces.get(endpoint)
    if found is not None:
        return found
    name = to_nsp(endpoint)
    dynamic = [(key, cls) for key, cls in namespaces.items() if not isinstance(key, str)]
    return _match(dynamic, name, auth)


def _match(
    dynamic: Iterable[tuple[Any, T]], name: str, auth: dict[str, Any]
) -> T | Awaitable[T | None] | None:
    candidates = list(dynamic)
    for index, (key, cls) in enumerate(candidates):
        if isinstance(key, re.Pattern):
            if key.search(name) is not None:
                return cls
            continue
        answer = key(name, auth)
        if inspect.isawaitable(answer):
            return _match_later(answer, cls, candidates[index + 1 :], name, auth)
        if answer:
            return cls
    return None


async def _match_later(
    answer: Awaitable[Any],
    cls: T,
    rest: list[tuple[Any, T]],
    name: str,
    auth: dict[str, Any],
) -> T | None:
    if await answer:
        return cls
    found = _match(rest, name, auth)
    if inspect.isawaitable(found):
        return await found
    return found
