"""Event names as the client sends them: ``@event('name')``, ``Cls.on(name, handler)``,
``self.on(name, handler)`` and the ``'*'`` catch-all, with socket.io-client 4.8 under Node
(``tests/js/lifecycle_client.mjs``) and python-socketio's client; 0.9 clients keep
gevent-socketio's mangling (``a-b``, ``a.b``, ``a:b`` and ``a b`` reach ``on_a_b``), on the
in-memory harness of ``tests/test_namespace.py``. The server is ``tests/apps/dispatch.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import socketio  # type: ignore[import-untyped]

from tests.apps.dispatch import CatchAll, Names, namespaces
from tests.support.inloop import InLoopServer
from tests.support.lifecycle_driver import LifecycleDriver
from tests.support.memory_client import Client
from tornio import BaseNamespace, event
from tornio.core import dispatch
from tornio.manager import SocketManager
from tornio.settings import Settings

pytestmark = pytest.mark.timeout(60)

WEBSOCKET = {"transports": ["websocket"]}


@pytest.fixture
async def server() -> AsyncIterator[InLoopServer]:
    srv = await InLoopServer.start(namespaces())
    try:
        yield srv
    finally:
        await srv.stop()


# -- modern clients (socket.io-client 4.8) ---------------------------------------------------


async def test_any_name_reaches_its_registered_handler(server: InLoopServer) -> None:
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        await node.open("n", "/names")
        assert await node.emit("n", "user/login", "ann", {"pw": 1}) == [
            "login", ["ann", {"pw": 1}]
        ]
        assert await node.emit("n", "ünïcode") == ["unicode"]
        assert await node.emit("n", "1st") == ["first"]
        assert await node.emit("n", "with space") == ["with space"]
        assert await node.emit("n", "chat:message", "hi") == ["chat", "hi"]  # async handler
        assert await node.emit("n", "chat.message", "ho") == ["chat", "ho"]
        assert await node.emit("n", "class/on", 1) == ["Names.on", 1, "/names"]
        assert await node.emit("n", "class/decorated", 2) == ["@Names.on", 2]
        await node.quit()


async def test_names_that_differ_by_a_separator_never_collide(server: InLoopServer) -> None:
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        await node.open("n", "/names")
        for name in ("a-b", "a.b", "a:b", "a b"):
            assert await node.emit("n", name) == [name]
        assert await node.emit("n", "a_b") == ["on_a_b"]  # the identifier alone
        await node.quit()


async def test_a_name_that_is_no_identifier_never_reaches_an_on_method_by_mangling(
    server: InLoopServer,
) -> None:
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        await node.open("n", "/names")
        assert await node.emit("n", "user_login") == ["on_user_login"]
        # on_user_login exists, but user-login is not its name: the client is told (an error
        # event, and a null ack, as for any event without a handler).
        assert await node.emit("n", "user-login") == [None]
        error = await node.step("event", sock="n", event="error")
        assert error["args"][0] == "no_such_method"
        assert "@event('user-login')" in error["args"][1]
        assert await node.emit("n", "with space") == ["with space"]  # the socket lives on
        await node.quit()


async def test_an_instance_registration_wins_over_the_class_and_the_catch_alls(
    server: InLoopServer,
) -> None:
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        await node.open("p", "/personal")
        await node.open("c", "/catchall")
        assert await node.emit("p", "a-b") == ["instance a-b"]
        assert await node.emit("p", "a.b") == ["a.b"]  # inherited from Names
        assert await node.emit("p", "no/such", 1) == ["instance catch-all", "no/such", [1]]
        assert await node.emit("c", "no/such", 1, "x") == ["caught", "no/such", [1, "x"]]
        assert await node.emit("c", "known") == ["known"]  # a handler beats the catch-all
        assert await node.emit("c", "a-b") == ["caught", "a-b", []]
        await node.quit()


async def test_python_socketio_client_sends_any_name(server: InLoopServer) -> None:
    client = socketio.AsyncClient(reconnection=False)
    try:
        await asyncio.wait_for(
            client.connect(server.base, transports=["websocket"], namespaces=["/names"]), 5
        )
        assert await client.call("user/login", "bo", namespace="/names", timeout=5) == (
            "login", ["bo"]
        )
        assert await client.call("ünïcode", namespace="/names", timeout=5) == "unicode"
        assert await client.call("a:b", namespace="/names", timeout=5) == "a:b"
        assert await client.call("a.b", namespace="/names", timeout=5) == "a.b"
    finally:
        await client.disconnect()


# -- 0.9 clients: gevent-socketio's rule, plus the registrations ---------------------------


class Legacy(BaseNamespace):
    def on_a_b(self) -> str:
        return "on_a_b"

    @event("user/login")
    def login(self) -> str:
        return "login"


class LegacyExplicit(Legacy):
    @event("a.b")
    def dot(self) -> str:
        return "a.b"


async def test_legacy_names_keep_gevent_socketios_mangling() -> None:
    manager = SocketManager({"/l": Legacy, "/x": LegacyExplicit}, Settings())
    try:
        client = Client(manager, "/l", "/x")
        for i, name in enumerate(("a-b", "a.b", "a:b", "a b", "a_b"), 1):
            client.send(f'5:{i}+:/l:{{"name":"{name}"}}')
        assert client.take() == [f'6::/l:{i}+["on_a_b"]' for i in range(1, 6)]
        client.send('5:6+:/l:{"name":"user/login"}')  # registered: reaches its handler
        client.send('5:7+:/x:{"name":"a.b"}')  # a registration wins over the mangling
        client.send('5:8+:/x:{"name":"a-b"}')
        assert client.take() == ['6::/l:6+["login"]', '6::/x:7+["a.b"]', '6::/x:8+["on_a_b"]']
        client.send('5:9+:/l:{"name":"no/such"}')  # as before: gevent-socketio's error
        [error] = client.events()
        assert error[1] == "error" and error[2][0] == "unallowed_event_name"
    finally:
        manager.close_all()


# -- registration errors and bounds --------------------------------------------------------


def test_bad_registrations_are_refused() -> None:
    with pytest.raises(ValueError, match="reserved"):
        event("disconnect")
    with pytest.raises(TypeError, match="str"):
        event(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="at least one"):
        event()
    with pytest.raises(TypeError, match="decorates a namespace method"):
        event("x")(staticmethod(lambda: None))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="two handlers"):

        class Twice(BaseNamespace):
            @event("x")
            def one(self) -> None: ...

            @event("x")
            def two(self) -> None: ...

    with pytest.raises(ValueError, match="reserved"):
        Names.on("connect", lambda self: None)
    with pytest.raises(TypeError, match="callable"):
        Names.on("fine", "not a function")  # type: ignore[arg-type]


async def test_the_route_cache_stays_bounded(server: InLoopServer) -> None:
    manager = SocketManager({"/c": CatchAll}, Settings())
    try:
        client = Client(manager, "/c")
        for i in range(dispatch._ROUTES_KEPT + 100):
            client.send(f'5::/c:{{"name":"n{i}"}}')
        routes = dispatch.info(CatchAll).tables[True]  # a 0.9 client's names
        assert len(routes) == dispatch._ROUTES_KEPT
        client.send('5:1+:/c:{"name":"known"}')  # still dispatched, uncached
        assert client.take()[-1] == '6::/c:1+["known"]'
    finally:
        manager.close_all()


def test_a_mixin_can_carry_event_handlers() -> None:
    class Mixin:
        @event("from/mixin")
        def mixed(self) -> str:
            return "mixin"

    class WithMixin(BaseNamespace, Mixin):
        pass

    route = dispatch.route(WithMixin, "from/mixin", legacy=False)
    assert route.attr == "mixed" and route.error is None
