"""tornio.core.dispatch's pure parts, exactly and without a server: event names and their
refusals, gevent-socketio's 0.9 method names, routes (a registration, an ``on_`` method, the
catch-all, an error) and their caches, chains of middlewares (plain and ``async``), the
registering functions, ``hybridmethod``, and the keys of a namespaces mapping (a name, a
regex, a function, plain or ``async``) with their refusals.

Every test builds classes of its own (plain classes: the module knows nothing of
BaseNamespace), so the module's caches, keyed by class, never answer for another test.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from tornio.core import dispatch
from tornio.core.dispatch import (
    CATCH_ALL,
    CLASS_INFOS,
    CONNECT_MIDDLEWARES,
    PACKET_MIDDLEWARES,
    RESERVED_EVENTS,
    ClassInfo,
    Route,
    add_to_chain,
    check_event_name,
    check_namespace_keys,
    class_chain,
    collect_routes,
    event,
    find_namespace,
    forget_routes,
    hybridmethod,
    info,
    legacy_method_name,
    on_class,
    on_instance,
    register_route,
    route,
    run_chain,
    use_class,
    use_instance,
    use_packets_class,
    use_packets_instance,
)


def exactly(message: str) -> str:
    """A ``pytest.raises(match=)`` pattern for this whole message and nothing else."""
    return "^" + re.escape(message) + "$"


# -- event names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x", "", "*", "user/login", "a b", "connected", "Connect"])
def test_a_name_a_handler_may_take(name: str) -> None:
    assert check_event_name(name) == name


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
def test_reserved_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=exactly(
        f"{name!r} is a reserved event name: no client can send it"
    )):
        check_event_name(name)


def test_the_reserved_names() -> None:
    names = {"connect", "connect_error", "disconnect", "disconnecting", "newListener"}
    assert names | {"removeListener"} == RESERVED_EVENTS


@pytest.mark.parametrize(
    ("name", "kind"), [(1, "int"), (b"x", "bytes"), (None, "NoneType"), (["x"], "list")]
)
def test_a_name_that_is_no_str_is_refused(name: object, kind: str) -> None:
    with pytest.raises(TypeError, match=exactly(f"an event name is a str, not {kind}")):
        check_event_name(name)


def test_event_marks_a_function_with_its_names() -> None:
    def handler(self: Any) -> None: ...

    assert event("a", "b/c")(handler) is handler
    assert handler._tornio_event_names == ("a", "b/c")  # type: ignore[attr-defined]
    assert event("d")(handler) is handler  # stacked: the names add up, in order
    assert handler._tornio_event_names == ("a", "b/c", "d")  # type: ignore[attr-defined]


def test_event_refuses_what_it_cannot_mark() -> None:
    with pytest.raises(TypeError, match=exactly("@event() needs at least one event name")):
        event()
    with pytest.raises(ValueError, match="'disconnect' is a reserved"):
        event("x", "disconnect")
    with pytest.raises(TypeError, match=exactly("an event name is a str, not int")):
        event("x", 1)  # type: ignore[arg-type]
    mark = event("x")
    for wrong in (staticmethod(lambda: None), classmethod(lambda cls: None), "not callable"):
        with pytest.raises(TypeError, match=exactly("@event() decorates a namespace method")):
            mark(wrong)  # type: ignore[type-var]


# -- 0.9 method names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("a", "on_a"),
        ("Z", "on_Z"),
        ("a9", "on_a9"),
        ("a_b", "on_a_b"),
        ("a-b", "on_a_b"),
        ("a.b", "on_a_b"),
        ("a:b", "on_a_b"),
        ("a b", "on_a_b"),
        ("chat:new-message.v2 x", "on_chat_new_message_v2_x"),
        ("a--", "on_a__"),
        ("1a", None),  # a letter first
        ("_a", None),
        ("-a", None),
        ("", None),
        ("a/b", None),
        ("é", None),
        ("aé", None),
        ("a+b", None),
    ],
)
def test_legacy_method_name(name: str, method: str | None) -> None:
    assert legacy_method_name(name) == method


# -- routes -----------------------------------------------------------------------------------


def test_a_route_calls_its_method_with_the_arguments_only_when_that_is_all() -> None:
    assert Route(attr="on_x", acl="on_x").method == "on_x"
    assert Route().method is None
    assert Route(func=len, acl="len").method is None
    assert Route(attr="any", acl="any", catch_all=True).method is None
    assert Route(attr="on_x", acl="on_x", error=("no_such_method", "m")).method is None


def test_to_route() -> None:
    def handler(self: Any) -> None: ...

    nameless = functools.partial(handler)
    assert dispatch._to_route("on_x") == Route(attr="on_x", acl="on_x")
    assert dispatch._to_route("on_x", catch_all=True) == Route(
        attr="on_x", acl="on_x", catch_all=True
    )
    assert dispatch._to_route(handler) == Route(func=handler, acl="handler")
    assert dispatch._to_route(handler, True) == Route(func=handler, acl="handler", catch_all=True)
    assert dispatch._to_route(nameless) == Route(func=nameless, acl="handler")
    assert dispatch._to_route(len) == Route(func=len, acl="len")


def test_collect_routes_reads_the_marked_methods_of_the_class_body() -> None:
    class Chat:
        label = "not a handler"

        @event("user/login", "login")
        def login(self) -> None: ...

        @event("x", "x")  # one method may name a name twice
        def ex(self) -> None: ...

        def on_plain(self) -> None: ...

    info(Chat)
    collect_routes(Chat)
    assert Chat._tornio_routes == {  # type: ignore[attr-defined]
        "user/login": "login", "login": "login", "x": "ex"
    }
    assert Chat not in CLASS_INFOS  # the caches were forgotten


def test_collect_routes_refuses_two_methods_for_one_name() -> None:
    class Twice:
        @event("x")
        def one(self) -> None: ...

        @event("y", "x")
        def two(self) -> None: ...

    with pytest.raises(TypeError, match=exactly(
        "event 'x' has two handlers in Twice: 'one' and 'two'"
    )):
        collect_routes(Twice)


def test_register_route_adds_to_the_class_own_table() -> None:
    def first(self: Any) -> None: ...

    def second(self: Any) -> None: ...

    def third(self: Any) -> None: ...

    class Base:
        pass

    class Sub(Base):
        pass

    info(Base)
    register_route(Base, "x", first)
    assert Base not in CLASS_INFOS  # the caches were forgotten
    assert Base.__dict__["_tornio_routes"] == {"x": first}
    register_route(Base, "y", second)
    register_route(Sub, "x", third)  # the subclass gets a table of its own
    assert Base.__dict__["_tornio_routes"] == {"x": first, "y": second}
    assert Sub.__dict__["_tornio_routes"] == {"x": third}
    register_route(Base, "x", third)  # again: replaced
    assert Base.__dict__["_tornio_routes"] == {"x": third, "y": second}


def test_register_route_refuses_bad_registrations() -> None:
    class Ns:
        pass

    with pytest.raises(ValueError, match=exactly(
        "'connect' is a reserved event name: no client can send it"
    )):
        register_route(Ns, "connect", len)
    with pytest.raises(TypeError, match=exactly("an event name is a str, not int")):
        register_route(Ns, 1, len)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=exactly("an event handler must be callable, not str")):
        register_route(Ns, "x", "len")  # type: ignore[arg-type]
    assert "_tornio_routes" not in Ns.__dict__


def test_own_routes() -> None:
    class Registered:
        _tornio_routes: dict[str, Any] = {}

        @event("ignored")  # a class with a table of its own is not scanned
        def m(self) -> None: ...

    class Mixin:
        label = "not a handler"

        @event("a", "b")
        def first(self) -> None: ...

        @event("a", "c")
        def second(self) -> None: ...

    class Plain(Mixin):
        pass

    assert dispatch._own_routes(Registered) is Registered._tornio_routes
    assert dispatch._own_routes(Registered) == {}
    found = dispatch._own_routes(Mixin)
    assert found == {"a": "first", "b": "first", "c": "second"}  # the first method keeps it
    assert dispatch._own_routes(Mixin) is found  # scanned once
    assert dispatch._scanned[Mixin] is found
    assert dispatch._own_routes(Plain) == {}  # its own body only


def test_explicit_looks_through_the_mro() -> None:
    def handler(self: Any) -> None: ...

    class Base:
        _tornio_routes = {"x": "base_x", "y": "base_y"}

    class Empty(Base):
        _tornio_routes: dict[str, Any] = {}

    class Sub(Empty):
        _tornio_routes = {"x": handler}

    class Leaf(Sub):
        pass

    assert dispatch._explicit(Base, "x") == "base_x"
    assert dispatch._explicit(Leaf, "x") is handler
    assert dispatch._explicit(Leaf, "y") == "base_y"
    assert dispatch._explicit(Empty, "y") == "base_y"
    assert dispatch._explicit(Leaf, "z") is None
    assert dispatch._explicit(object, "x") is None


def catch_all_function(self: Any, name: str) -> None: ...


def handler_classes() -> dict[str, type]:
    """The routes' table's classes, made afresh (no registration at import: a mutant that
    breaks one fails the test, not the collection): an ``on_`` method per kind of name."""

    class Handlers:
        def on_x(self) -> None: ...

        def on_a_b(self) -> None: ...

        def on_shadowed(self) -> None: ...

        @event("user/login", "shadowed")
        def login(self) -> None: ...

        on_nothing = None  # not a method: as if absent

    class WithCatchAll(Handlers):
        @event(CATCH_ALL)
        def any_event(self, name: str) -> None: ...

    class WithCatchAllFunction(Handlers):
        pass

    collect_routes(Handlers)
    collect_routes(WithCatchAll)
    register_route(WithCatchAllFunction, CATCH_ALL, catch_all_function)
    return {cls.__name__: cls for cls in (Handlers, WithCatchAll, WithCatchAllFunction)}


NO_SUCH = "no_such_method"
UNALLOWED = ("unallowed_event_name", "name must only contains alpha numerical characters")


def missing(method: str) -> Route:
    return Route(attr=method, acl=method, error=(NO_SUCH, f'The method "{method}" was not found'))


def unhandled(name: str) -> Route:
    return Route(error=(
        NO_SUCH, f"No handler for the event {name!r}: register one with @event({name!r})"
    ))


CATCH = Route(attr="any_event", acl="any_event", catch_all=True)
CATCH_FUNCTION = Route(func=catch_all_function, acl="catch_all_function", catch_all=True)


@pytest.mark.parametrize(
    ("cls_name", "name", "legacy", "expected"),
    [
        # a registration, before anything else
        ("Handlers", "user/login", False, Route(attr="login", acl="login")),
        ("Handlers", "user/login", True, Route(attr="login", acl="login")),
        ("Handlers", "shadowed", False, Route(attr="login", acl="login")),
        ("WithCatchAll", "shadowed", True, Route(attr="login", acl="login")),
        # an on_ method: the name unchanged (modern) or mangled (0.9)
        ("Handlers", "x", False, Route(attr="on_x", acl="on_x")),
        ("Handlers", "x", True, Route(attr="on_x", acl="on_x")),
        ("WithCatchAll", "x", False, Route(attr="on_x", acl="on_x")),
        ("Handlers", "a_b", False, Route(attr="on_a_b", acl="on_a_b")),
        ("Handlers", "a-b", True, Route(attr="on_a_b", acl="on_a_b")),
        ("Handlers", "a b", True, Route(attr="on_a_b", acl="on_a_b")),
        # no method: the error, or the catch-all
        ("Handlers", "a-b", False, unhandled("a-b")),
        ("Handlers", "a/b", False, unhandled("a/b")),
        ("Handlers", "a/b", True, Route(error=UNALLOWED)),
        ("Handlers", "y", False, missing("on_y")),
        ("Handlers", "y", True, missing("on_y")),
        ("Handlers", "y-z", True, missing("on_y_z")),
        ("Handlers", "nothing", False, missing("on_nothing")),
        ("WithCatchAll", "a-b", False, CATCH),
        ("WithCatchAll", "a/b", True, CATCH),
        ("WithCatchAll", "y", False, CATCH),
        ("WithCatchAll", "nothing", True, CATCH),
        ("WithCatchAllFunction", "y", True, CATCH_FUNCTION),
        ("WithCatchAllFunction", "a/b", False, CATCH_FUNCTION),
        ("WithCatchAllFunction", "x", False, Route(attr="on_x", acl="on_x")),
    ],
)
def test_route(cls_name: str, name: str, legacy: bool, expected: Route) -> None:
    cls = handler_classes()[cls_name]
    assert route(cls, name, legacy) == expected
    assert route(cls, name, legacy) == expected  # and from the cache


def test_routes_are_cached_per_kind_of_client() -> None:
    class Ns(handler_classes()["Handlers"]):  # type: ignore[misc]
        pass

    known = info(Ns)
    first = route(Ns, "x", False)
    assert route(Ns, "x", False) is first
    assert known.tables == ({"x": first}, {})
    assert known.methods == ({"x": "on_x"}, {})
    legacy = route(Ns, "a-b", True)
    missed = route(Ns, "y", True)
    assert known.tables == ({"x": first}, {"a-b": legacy, "y": missed})
    assert known.methods == ({"x": "on_x"}, {"a-b": "on_a_b"})  # no method for an error


def test_the_route_cache_keeps_a_bounded_number_of_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dispatch, "_ROUTES_KEPT", 2)

    class Ns(handler_classes()["Handlers"]):  # type: ignore[misc]
        pass

    for name in ("x", "a_b", "y"):
        route(Ns, name, False)
    assert list(info(Ns).tables[False]) == ["x", "a_b"]
    assert list(info(Ns).methods[False]) == ["x", "a_b"]
    assert route(Ns, "y", False) == missing("on_y")  # still answered, not kept
    assert list(info(Ns).tables[False]) == ["x", "a_b"]


def test_class_info() -> None:
    def mw(*args: Any) -> None: ...

    class Ns:
        pass

    use_packets_class(Ns, mw)
    known = ClassInfo(Ns)
    assert known.tables == ({}, {}) and known.tables[0] is not known.tables[1]
    assert known.methods == ({}, {}) and known.methods[0] is not known.methods[1]
    assert known.packets == (mw,)
    assert info(Ns) is info(Ns) is CLASS_INFOS[Ns]
    assert isinstance(info(Ns), ClassInfo) and info(Ns).packets == (mw,)


def test_forget_routes_empties_every_cache() -> None:
    class Ns:
        pass

    info(Ns)
    class_chain(Ns, CONNECT_MIDDLEWARES)
    forget_routes()
    assert CLASS_INFOS == {}
    assert dispatch._chains == {}


# -- chains -----------------------------------------------------------------------------------


def test_class_chain_runs_the_most_basic_class_first() -> None:
    def a(*args: Any) -> None: ...

    def b(*args: Any) -> None: ...

    def c(*args: Any) -> None: ...

    class Base:
        pass

    class Middle(Base):
        pass

    class Leaf(Middle):
        pass

    add_to_chain(Base, "chain", a)
    add_to_chain(Middle, "chain", b)
    add_to_chain(Middle, "chain", c)
    assert Base.__dict__["chain"] == [a]
    assert Middle.__dict__["chain"] == [b, c]
    assert "chain" not in Leaf.__dict__
    found = class_chain(Leaf, "chain")
    assert found == (a, b, c)
    assert class_chain(Leaf, "chain") is found  # cached
    assert dispatch._chains["chain"][Leaf] is found
    assert class_chain(Base, "chain") == (a,)
    assert class_chain(Leaf, "other") == ()
    info(Leaf)
    add_to_chain(Leaf, "chain", a)  # a registration forgets the caches
    assert Leaf not in CLASS_INFOS
    assert class_chain(Leaf, "chain") == (a, b, c, a)


def test_add_to_chain_refuses_what_is_not_callable() -> None:
    class Ns:
        pass

    with pytest.raises(TypeError, match=exactly("a middleware must be callable, not int")):
        add_to_chain(Ns, "chain", 1)  # type: ignore[arg-type]
    assert "chain" not in Ns.__dict__


class Refused(Exception):
    pass


def recorder(trail: list[Any], label: str, answer: Any = None) -> Callable[..., Any]:
    def fn(*args: Any) -> Any:
        trail.append((label, args))
        return answer

    return fn


def async_recorder(trail: list[Any], label: str, answer: Any = None) -> Callable[..., Any]:
    async def fn(*args: Any) -> Any:
        trail.append((label, args))
        await asyncio.sleep(0)
        return answer

    return fn


def test_run_chain_calls_each_function_then_then() -> None:
    trail: list[Any] = []
    chain = [recorder(trail, "a"), recorder(trail, "b", 0), recorder(trail, "c", "")]
    assert run_chain(chain, (1, 2), lambda: "done", Refused) == "done"
    assert trail == [("a", (1, 2)), ("b", (1, 2)), ("c", (1, 2))]  # only False refuses
    assert run_chain([], (), lambda: "empty", Refused) == "empty"


def test_run_chain_stops_at_false() -> None:
    trail: list[Any] = []
    chain = [recorder(trail, "a"), recorder(trail, "b", False), recorder(trail, "c")]
    with pytest.raises(Refused):
        run_chain(chain, (1,), lambda: trail.append("then"), Refused)
    assert trail == [("a", (1,)), ("b", (1,))]


def test_what_a_function_raises_propagates() -> None:
    def boom(*args: Any) -> None:
        raise KeyError("boom")

    trail: list[Any] = []
    with pytest.raises(KeyError):
        run_chain([boom, recorder(trail, "b")], (), lambda: trail.append("then"), Refused)
    assert trail == []


async def test_run_chain_goes_on_in_a_coroutine_from_the_first_awaitable() -> None:
    trail: list[Any] = []
    chain = [
        recorder(trail, "a"),
        async_recorder(trail, "b", 0),
        recorder(trail, "c"),
        async_recorder(trail, "d"),
    ]

    async def then() -> str:
        trail.append("then")
        return "done"

    pending = run_chain(chain, ("x",), then, Refused)
    assert asyncio.iscoroutine(pending)
    assert trail == [("a", ("x",))]  # b was called: its coroutine has not run yet
    assert await pending == "done"
    assert trail == [("a", ("x",)), ("b", ("x",)), ("c", ("x",)), ("d", ("x",)), "then"]
    # a plain then(): its result as it is
    assert await run_chain([async_recorder(trail, "e")], (), lambda: "plain", Refused) == "plain"


@pytest.mark.parametrize(
    ("answers", "called"),
    [
        ([("async", False), ("sync", None)], ["0"]),
        ([("async", None), ("sync", False), ("sync", None)], ["0", "1"]),
        ([("async", None), ("async", False), ("sync", None)], ["0", "1"]),
        ([("sync", None), ("async", None), ("sync", None), ("async", False)], ["0", "1", "2", "3"]),
    ],
)
async def test_an_async_chain_stops_at_false(
    answers: list[tuple[str, Any]], called: list[str]
) -> None:
    trail: list[Any] = []
    chain = [
        (async_recorder if kind == "async" else recorder)(trail, str(i), answer)
        for i, (kind, answer) in enumerate(answers)
    ]
    pending = run_chain(chain, (), lambda: trail.append("then"), Refused)
    with pytest.raises(Refused):
        await pending
    assert trail == [(label, ()) for label in called]


# -- registering on a class or on an instance -------------------------------------------------


def test_on_class() -> None:
    def handler(self: Any) -> None: ...

    class Ns:
        pass

    assert on_class(Ns, "x", handler) is handler
    decorate = on_class(Ns, "y")
    assert Ns.__dict__["_tornio_routes"] == {"x": handler}  # nothing before the decoration
    assert decorate(len) is len
    assert Ns.__dict__["_tornio_routes"] == {"x": handler, "y": len}
    with pytest.raises(ValueError, match="'connect' is a reserved"):
        on_class(Ns, "connect")  # at once, not when decorating
    with pytest.raises(TypeError, match=exactly("an event handler must be callable, not int")):
        on_class(Ns, "z")(1)


def test_on_instance() -> None:
    def handler(*args: Any) -> None: ...

    socket = SimpleNamespace(_handlers=None)
    assert on_instance(socket, "x", handler) is handler
    assert socket._handlers == {"x": handler}
    decorate = on_instance(socket, "y")
    assert socket._handlers == {"x": handler}
    assert decorate(len) is len
    assert on_instance(socket, "x", print) is print  # again: replaced
    assert socket._handlers == {"x": print, "y": len}
    with pytest.raises(ValueError, match="'disconnect' is a reserved"):
        on_instance(socket, "disconnect")
    with pytest.raises(TypeError, match=exactly("an event handler must be callable, not str")):
        on_instance(socket, "z", "len")  # type: ignore[arg-type]
    assert socket._handlers == {"x": print, "y": len}


def test_use_and_use_packets() -> None:
    def connect(*args: Any) -> None: ...

    def packet(*args: Any) -> None: ...

    class Ns:
        pass

    assert use_class(Ns, connect) is connect
    assert use_packets_class(Ns, packet) is packet
    assert Ns.__dict__[CONNECT_MIDDLEWARES] == [connect]
    assert Ns.__dict__[PACKET_MIDDLEWARES] == [packet]
    assert CONNECT_MIDDLEWARES != PACKET_MIDDLEWARES
    with pytest.raises(TypeError, match=exactly(
        "use() registers a connect middleware on a namespace class (Chat.use(fn)); "
        "for this socket's events, use self.use_packets(fn)"
    )):
        use_instance(SimpleNamespace(), connect)

    socket = SimpleNamespace(_packet_filters=None)
    assert use_packets_instance(socket, packet) is packet
    assert use_packets_instance(socket, connect) is connect
    assert socket._packet_filters == [packet, connect]
    with pytest.raises(TypeError, match=exactly("a middleware must be callable, not int")):
        use_packets_instance(socket, 1)  # type: ignore[arg-type]
    assert socket._packet_filters == [packet, connect]


def test_hybridmethod() -> None:
    def for_class(cls: type, *args: Any) -> Any:
        return ("class", cls, args)

    def for_instance(self: Any, *args: Any) -> Any:
        """The instance's doc."""
        return ("instance", self, args)

    class Ns:
        both = hybridmethod(for_class, for_instance)

    class Sub(Ns):
        pass

    one = Sub()
    assert Ns.both(1, 2) == ("class", Ns, (1, 2))
    assert Sub.both() == ("class", Sub, ())
    assert one.both(3) == ("instance", one, (3,))
    assert Ns.__dict__["both"].__doc__ == "The instance's doc."


# -- the keys of a namespaces mapping --------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "max_name"),
    [
        ({}, None),
        ({"": 0, "/": 0, "/chat": 0}, None),
        ({re.compile(r"^/x"): 0, len: 0, (lambda name, auth: True): 0}, None),
        ({"/" + "x" * 1000: 0}, None),  # no bound without one
        ({"/abc": 0}, 4),  # exactly the bound
        ({"/é": 0}, 3),  # in UTF-8 bytes
        ({"/\ud800": 0}, 4),  # a lone surrogate is counted, not refused
        ({"": 0}, 0),
    ],
)
def test_namespace_keys_a_client_can_use(keys: dict[Any, int], max_name: int | None) -> None:
    check_namespace_keys(keys, max_name)


NOT_SLASH = "namespace 'chat' does not start with '/': no client can reach it (write '/chat')"
KEY_KIND = "a namespace key is a name, a compiled regex or a function (name, auth) -> bool, not "
LONG = "/" + "x" * 49


@pytest.mark.parametrize(
    ("keys", "max_name", "error", "message"),
    [
        (["/chat"], None, TypeError,
         "namespaces is a dict of name -> BaseNamespace subclass, not list"),
        ({"/": 0, "chat": 0}, None, ValueError, NOT_SLASH),
        ({" /": 0}, None, ValueError,
         "namespace ' /' does not start with '/': no client can reach it (write '/ /')"),
        ({re.compile(rb"^/x"): 0}, None, TypeError,
         "a namespace regex matches str, not bytes: re.compile(b'^/x')"),
        ({b"/x": 0}, None, TypeError, KEY_KIND + "bytes"),
        ({1: 0}, None, TypeError, KEY_KIND + "int"),
        ({"/abcd": 0}, 4, ValueError,
         "namespace '/abcd'... is longer than max_namespace_name (4 bytes): "
         "no client may ask for it"),
        ({"/é": 0}, 2, ValueError,
         "namespace '/é'... is longer than max_namespace_name (2 bytes): no client may ask for it"),
        ({"/\ud800": 0}, 3, ValueError, "namespace '/\\ud800'... is longer than"
         " max_namespace_name (3 bytes): no client may ask for it"),
        ({LONG: 0}, 49, ValueError, f"namespace {LONG[:40]!r}... is longer than "
         "max_namespace_name (49 bytes): no client may ask for it"),
    ],
)
def test_namespace_keys_no_client_can_use_are_refused(
    keys: Any, max_name: int | None, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=exactly(message)):
        check_namespace_keys(keys, max_name)


def test_the_default_bound_is_none() -> None:
    check_namespace_keys({"/" + "x" * 10_000: 0})


class Calls:
    """Key functions that record what they were asked."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    def plain(self, label: str, answer: Any) -> Callable[[str, dict[str, Any]], Any]:
        def key(name: str, auth: dict[str, Any]) -> Any:
            self.seen.append((label, name, auth))
            return answer

        return key

    def later(self, label: str, answer: Any) -> Callable[[str, dict[str, Any]], Any]:
        async def key(name: str, auth: dict[str, Any]) -> Any:
            self.seen.append((label, name, auth))
            await asyncio.sleep(0)
            return answer

        return key


AUTH = {"token": "t"}


def test_find_namespace_by_name_first() -> None:
    calls = Calls()
    namespaces = {calls.plain("fn", True): "dynamic", "/chat": "chat", "": "global"}
    assert find_namespace(namespaces, "/chat", AUTH) == "chat"
    assert find_namespace(namespaces, "", AUTH) == "global"
    assert calls.seen == []
    # a name's key is never called as a function, nor matched
    assert find_namespace({"/chat": "chat"}, "/other", AUTH) is None


@pytest.mark.parametrize(
    ("pattern", "endpoint", "found"),
    [
        (r"^/ws-\d+$", "/ws-12", "dyn"),
        (r"^/ws-\d+$", "/ws-", None),
        (r"ws", "/a-ws-b", "dyn"),  # searched, as node's regex.test
        (r"^/$", "", "dyn"),  # the global namespace is matched as '/'
        (r"^$", "", None),
    ],
)
def test_find_namespace_by_regex(pattern: str, endpoint: str, found: str | None) -> None:
    assert find_namespace({"/x": "x", re.compile(pattern): "dyn"}, endpoint, AUTH) == found


def test_find_namespace_by_function_in_the_mapping_order() -> None:
    calls = Calls()
    namespaces = {
        re.compile(r"^/nope$"): "regex",  # no match: the next key is tried
        calls.plain("no", 0): "no",
        "/static": "static",
        calls.plain("yes", "truthy"): "yes",
        calls.plain("after", True): "after",
    }
    assert find_namespace(namespaces, "/room", AUTH) == "yes"
    assert calls.seen == [("no", "/room", AUTH), ("yes", "/room", AUTH)]
    calls.seen.clear()
    assert find_namespace(namespaces, "", AUTH) == "yes"
    assert calls.seen == [("no", "/", AUTH), ("yes", "/", AUTH)]
    assert find_namespace({calls.plain("none", None): "x"}, "/a", AUTH) is None


@pytest.mark.parametrize(
    ("keys", "found", "asked"),
    [
        ([("later", True, "a")], "a", ["a"]),
        ([("later", False, "a")], None, ["a"]),
        ([("later", False, "a"), ("plain", True, "b"), ("plain", True, "c")], "b", ["a", "b"]),
        ([("later", 0, "a"), ("plain", 0, "b"), ("later", 1, "c"), ("plain", 1, "d")], "c",
         ["a", "b", "c"]),
        ([("plain", 0, "a"), ("later", 0, "b"), ("regex", r"^/r", "c"), ("later", 1, "d")], "c",
         ["a", "b"]),
        ([("later", 0, "a"), ("regex", r"^/x", "b"), ("later", 0, "c")], None, ["a", "c"]),
    ],
)
async def test_an_async_function_key_decides_later(
    keys: list[tuple[str, Any, str]], found: str | None, asked: list[str]
) -> None:
    calls = Calls()
    namespaces: dict[Any, str] = {
        (re.compile(answer) if kind == "regex" else getattr(calls, kind)(label, answer)): label
        for kind, answer, label in keys
    }
    pending = find_namespace(namespaces, "/room", AUTH)
    assert asyncio.iscoroutine(pending)
    assert await pending == found
    assert calls.seen == [(label, "/room", AUTH) for label in asked]


async def test_what_a_key_function_raises_propagates() -> None:
    def broken(name: str, auth: dict[str, Any]) -> bool:
        raise KeyError(name)

    async def broken_later(name: str, auth: dict[str, Any]) -> bool:
        raise LookupError(name)

    with pytest.raises(KeyError):
        find_namespace({broken: "x"}, "/a", AUTH)
    calls = Calls()
    pending = find_namespace({calls.later("no", False): "a", broken_later: "b"}, "/a", AUTH)
    with pytest.raises(LookupError):
        await pending  # type: ignore[misc]
