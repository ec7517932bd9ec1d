"""Connect middlewares (``Router(middlewares=)``, ``Cls.use``), packet middlewares
(``use_packets``), ``recv_any`` and ``recv_any_outgoing``, with socket.io-client 4.8 under
Node (``tests/js/lifecycle_client.mjs``), python-socketio's client, and a 0.9 client on the
in-memory harness of ``tests/test_namespace.py``. The namespaces are
``tests/apps/dispatch.py``'s :func:`middleware_namespaces`, made afresh for each test.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio  # type: ignore[import-untyped]

from tests.apps.dispatch import Trail, middleware_namespaces
from tests.support.inloop import InLoopServer
from tests.support.lifecycle_driver import LifecycleDriver
from tests.support.memory_client import Client
from tornio import BaseNamespace, ConnectionRefused, EventRefused, Settings
from tornio.manager import SocketManager

pytestmark = pytest.mark.timeout(60)

WEBSOCKET = {"transports": ["websocket"], "answers": {"question": [42]}}


@pytest.fixture
async def app() -> AsyncIterator[tuple[InLoopServer, Trail]]:
    trail = Trail()
    namespaces, middlewares = middleware_namespaces(trail)
    server = await InLoopServer.start(namespaces, middlewares=middlewares)
    try:
        yield server, trail
    finally:
        await server.stop()


# -- connect middlewares -------------------------------------------------------------------


async def test_middlewares_run_in_order_before_recv_connect(
    app: tuple[InLoopServer, Trail],
) -> None:
    server, trail = app
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        node.send("open", sock="g", nsp="/guarded", manager="m", auth={"token": "ann"})
        await node.step("connected", sock="g")
        assert trail.seen == [
            ("mw", "server", "/guarded"),  # the Router's, for every namespace
            ("mw", "base", "/guarded"),  # the base class's (inherited)
            ("mw", "guarded", "/guarded"),  # the class's own, async
            ("recv_connect", "/guarded", "ann"),  # sees what the middleware stored
        ]
        assert await node.emit("g", "whoami") == ["ann"]
        await node.open("p", "/plain")  # a sibling class: the server's and the base's only
        assert trail.seen[4:] == [("mw", "server", "/plain"), ("mw", "base", "/plain"),
                                  ("recv_connect", "/plain", "ann")]
        await node.quit()


@pytest.mark.server_errors(("tornio.socket", "recv_connect of '/guarded' failed"))
async def test_a_refusal_reaches_connect_error_and_stops_the_chain(
    app: tuple[InLoopServer, Trail], caplog: pytest.LogCaptureFixture
) -> None:
    server, trail = app
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        # one Manager each: a Manager has one socket per namespace
        bad = await node.refused("a", "/guarded", manager="a", auth={"token": "bad"})
        assert bad == {"message": "not authorized", "data": {"code": 401}}
        assert trail.seen == [("mw", "server", "/guarded")]  # the first refusal stops it
        late = await node.refused("b", "/guarded", manager="b", auth={"token": "late"})
        assert late == {"message": "refused late", "data": {"why": "async"}}
        false = await node.refused("c", "/guarded", manager="c", auth={"token": "false"})
        assert false == {"message": "Connection refused", "data": None}
        with caplog.at_level(logging.ERROR, logger="tornio.socket"):
            bug = await node.refused("d", "/guarded", manager="d", auth={"token": "bug"})
        assert bug == {"message": "internal server error", "data": None}
        assert any(r.exc_info and "a bug in a middleware" in str(r.exc_info[1])
                   for r in caplog.records)
        assert trail.of("recv_connect") == []
        await node.open("ok", "/guarded", manager="e")  # the namespace still serves others
        await node.quit()


async def test_python_socketio_client_sees_the_refusal(app: tuple[InLoopServer, Trail]) -> None:
    server, _ = app
    client = socketio.AsyncClient(reconnection=False)
    errors: asyncio.Queue[Any] = asyncio.Queue()
    client.on("connect_error", errors.put_nowait, namespace="/guarded")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await asyncio.wait_for(
            client.connect(server.base, transports=["websocket"], namespaces=["/guarded"],
                           auth={"token": "bad"}, wait_timeout=5),
            10,
        )
    assert await asyncio.wait_for(errors.get(), 5) == {
        "message": "not authorized", "data": {"code": 401}
    }
    await client.disconnect()


def test_bad_middlewares_are_refused() -> None:
    with pytest.raises(TypeError, match="callable"):
        Settings(middlewares=[1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="callable"):
        BaseNamespace.use("nope")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        BaseNamespace.use_packets(None)  # type: ignore[arg-type]


async def test_use_on_an_instance_points_to_use_packets() -> None:
    class Ns(BaseNamespace):
        pass

    manager = SocketManager({"/n": Ns}, Settings())
    try:
        client = Client(manager, "/n")
        with pytest.raises(TypeError, match="use_packets"):
            client.ns("/n").use(lambda ns: None)
    finally:
        manager.close_all()


# -- packet middlewares, recv_any --------------------------------------------------------------


async def test_packet_middlewares_filter_and_change_events(
    app: tuple[InLoopServer, Trail],
) -> None:
    server, trail = app
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        await node.open("f", "/filtered")
        del trail.seen[:]
        assert await node.emit("f", "echo", 1, "two") == [1, "two"]
        assert trail.seen == [
            ("any", "echo", [1, "two"]),  # recv_any first, as node's onAny
            ("packet", "class", "echo"),  # the class's middlewares
            ("packet", "instance", "echo"),  # then the socket's
            ("handler", "echo"),
        ]
        assert await node.emit("f", "shout", "hi") == ["HI"]  # a middleware changed args

        del trail.seen[:]
        # Refused: no handler, no ack (the client's times out, as with node), recv_refused
        # runs (node's "error" on the server's socket); here it tells the client.
        assert await node.emit_waiting("f", "forbidden", 7, wait=300) is None
        told = await node.step("event", sock="f", event="refused")
        assert told["args"] == ["forbidden", "forbidden event", {"code": 403}]
        assert trail.seen == [
            ("any", "forbidden", [7]),
            ("packet", "class", "forbidden"),  # the instance's never ran
            ("refused", "forbidden", [7]),
            ("outgoing", "refused", ["forbidden", "forbidden event", {"code": 403}]),
        ]
        [error] = trail.refused
        assert isinstance(error, EventRefused) and error.data == {"code": 403}

        assert await node.emit_waiting("f", "falsy", wait=300) is None  # returned False
        told = await node.step("event", sock="f", event="refused")
        assert told["args"] == ["falsy", "event refused", None]
        assert await node.emit_waiting("f", "mine-only", wait=300) is None  # the socket's
        told = await node.step("event", sock="f", event="refused")
        assert told["args"] == ["mine-only", "not for you", {"event": "mine-only"}]
        assert trail.of("handler") == []

        assert await node.emit("f", "no-such-event") == [None]  # recv_any sees it too
        assert ("any", "no-such-event", []) in trail.seen
        assert await node.emit("f", "echo", "still") == ["still"]
        await node.quit()


# -- recv_any_outgoing -----------------------------------------------------------------------


async def test_recv_any_outgoing_sees_every_event_sent(app: tuple[InLoopServer, Trail]) -> None:
    server, trail = app
    manager = server.manager
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        await node.open("f", "/filtered", manager="a")
        await node.open("g", "/filtered", manager="b")
        await node.open("p", "/plain", manager="a")
        assert manager.outgoing_watched == {"/filtered": 2}  # /plain does not watch

        del trail.seen[:]
        await node.emit("f", "talk")
        await node.step("event", sock="f", event="told")
        await node.step("event", sock="f", event="message")
        assert await node.emit("f", "ask") == [42]  # a call, answered by the client
        assert trail.of("outgoing") == [
            ("outgoing", "told", [1]),
            ("outgoing", "message", ["plain"]),
            ("outgoing", "question", []),
        ]

        del trail.seen[:]
        await node.emit("f", "everyone", "hello")  # a broadcast: each recipient sees it
        await node.step("event", sock="f", event="news")
        await node.step("event", sock="g", event="news")
        assert trail.of("outgoing") == [("outgoing", "news", ["hello"])] * 2

        node.send("disconnect", sock="g")
        await node.step("left", sock="g")
        await trail.wait_for(lambda: manager.outgoing_watched == {"/filtered": 1})
        await node.quit()
    await trail.wait_for(lambda: manager.outgoing_watched == {})


# -- 0.9 clients -------------------------------------------------------------------------


async def test_legacy_clients_pass_the_middlewares_too() -> None:
    seen: list[str] = []

    class Closed(BaseNamespace):
        def on_echo(self, *args: Any) -> tuple[Any, ...]:
            return args

    def refuse_strangers(namespace: BaseNamespace) -> None:
        seen.append(namespace.ns_name)
        if namespace.ns_name == "/closed":
            raise ConnectionRefused("no")

    class Open(Closed):
        pass

    def no_secrets(namespace: BaseNamespace, event: str, args: list[Any]) -> None:
        if event == "secret":
            raise EventRefused()

    Open.use_packets(no_secrets)
    manager = SocketManager({"/closed": Closed, "/open": Open},
                            Settings(middlewares=[refuse_strangers]))
    try:
        client = Client(manager)
        client.send("1::/closed")
        assert client.take() == ["7::/closed:2"]  # unauthorized: the 0.9 connect_failed
        client.send("1::/open")
        assert client.take() == ["1::/open"]
        assert seen == ["/closed", "/open"]
        client.send('5:1+:/open:{"name":"secret"}')
        client.send('5:2+:/open:{"name":"echo","args":[1]}')
        assert client.take() == ["6::/open:2+[1]"]  # no ack for the refused one
    finally:
        manager.close_all()
