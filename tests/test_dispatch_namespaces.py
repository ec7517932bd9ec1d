"""Dynamic namespaces (a compiled regex or a function, plain or ``async``, as a key of the
namespaces mapping: node's ``io.of(regex)`` and ``io.of(fn)``) and the default ``/`` a
modern client can always connect, with socket.io-client 4.8 under Node
(``tests/js/lifecycle_client.mjs``), python-socketio's client, and a 0.9 client on the
in-memory harness of ``tests/test_namespace.py``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import socketio  # type: ignore[import-untyped]

from tests.support.inloop import InLoopServer
from tests.support.lifecycle_driver import LifecycleDriver
from tests.support.memory_client import Client
from tornio import BaseNamespace, ConnectionRefused, RoomsMixin, Router, Settings
from tornio.manager import SocketManager

pytestmark = pytest.mark.timeout(60)

WEBSOCKET = {"transports": ["websocket"]}


class Dyn(BaseNamespace, RoomsMixin):
    def on_whoami(self) -> tuple[str, str, str]:
        return type(self).__name__, self.ns_name, self.sid

    def on_join(self, room: str) -> bool:
        self.join(room)
        return True


class Other(Dyn):
    pass


class Static(Dyn):
    pass


class Chat(Dyn):
    pass



def workspace(name: str, auth: dict[str, Any]) -> bool:
    return name.startswith("/ws-") and auth.get("token") == "ok"


async def known_room(name: str, auth: dict[str, Any]) -> bool:
    await asyncio.sleep(0)
    if name == "/rooms-broken":
        raise RuntimeError("the lookup failed")
    return name in ("/rooms-a", "/rooms-b")


def namespaces() -> dict[Any, type[BaseNamespace]]:
    return {
        "/dyn-7": Static,  # an endpoint's own key wins over any pattern
        re.compile(r"^/dyn-\d+$"): Dyn,
        re.compile(r"^/dyn-"): Other,  # only what the first pattern leaves
        workspace: Dyn,
        known_room: Other,
        "/chat": Chat,
    }


MakeServer = Callable[..., Awaitable[InLoopServer]]


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    servers: list[InLoopServer] = []

    async def make(spaces: dict[Any, type[BaseNamespace]] | None = None,
                   **settings: Any) -> InLoopServer:
        server = InLoopServer(Router(spaces if spaces is not None else namespaces(),
                                     **settings))
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


async def test_a_regex_key_serves_every_matching_name(make_server: MakeServer) -> None:
    server = await make_server()
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        one = await node.open("one", "/dyn-1")
        await node.open("two", "/dyn-22")
        await node.open("also-one", "/dyn-1", manager="b")
        assert await node.emit("one", "whoami") == ["Dyn", "/dyn-1", one]
        assert (await node.emit("two", "whoami"))[:2] == ["Dyn", "/dyn-22"]
        assert (await node.emit("also-one", "whoami"))[:2] == ["Dyn", "/dyn-1"]
        await node.open("seven", "/dyn-7")
        assert (await node.emit("seven", "whoami"))[:2] == ["Static", "/dyn-7"]
        await node.open("x", "/dyn-x")  # the first pattern does not match; the second does
        assert (await node.emit("x", "whoami"))[:2] == ["Other", "/dyn-x"]
        refused = await node.refused("no", "/nope-1")
        assert refused == {"message": "Invalid namespace", "data": None}

        # Broadcasts name the actual namespace (and its rooms).
        server.router.emit("news", "for dyn-1", namespace="/dyn-1")
        await node.step("event", sock="one", event="news")
        await node.step("event", sock="also-one", event="news")
        assert await node.emit("two", "join", "r") == [True]
        server.router.emit("news", "for the room", namespace="/dyn-22", room="r")
        got = await node.step("event", sock="two", event="news")
        assert got["args"] == ["for the room"]
        assert await node.emit("one", "whoami")  # a round trip: nothing else came
        assert [line for line in node.client.lines
                if line.get("event") == "news" and line["sock"] not in ("one", "also-one",
                                                                          "two")] == []
        await node.quit()


async def test_a_function_key_decides_with_the_auth(make_server: MakeServer) -> None:
    server = await make_server()
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        node.send("open", sock="ws", nsp="/ws-acme", manager="a", auth={"token": "ok"})
        await node.step("connected", sock="ws")
        assert (await node.emit("ws", "whoami"))[:2] == ["Dyn", "/ws-acme"]
        refused = await node.refused("bad", "/ws-acme", manager="b", auth={"token": "no"})
        assert refused["message"] == "Invalid namespace"
        await node.quit()


@pytest.mark.server_errors(("tornio.socket", "the namespace function for '/rooms-broken' failed"))
async def test_an_async_function_key_decides_later(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_server()
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        await node.open("a", "/rooms-a")
        assert (await node.emit("a", "whoami"))[:2] == ["Other", "/rooms-a"]
        assert (await node.refused("z", "/rooms-z"))["message"] == "Invalid namespace"
        with caplog.at_level(logging.ERROR, logger="tornio.socket"):
            broken = await node.refused("broken", "/rooms-broken")
        assert broken["message"] == "Invalid namespace"
        assert any("the lookup failed" in str(r.exc_info[1]) for r in caplog.records
                   if r.exc_info)
        await node.open("b", "/rooms-b")  # the connection lived on
        await node.quit()


async def test_the_default_namespace_serves_slash_and_its_middlewares(
    make_server: MakeServer,
) -> None:
    def no_bad_tokens(namespace: BaseNamespace) -> None:
        if namespace.auth.get("token") == "bad":
            raise ConnectionRefused("bad token", {"nsp": namespace.ns_name})

    server = await make_server({"/chat": Chat}, middlewares=[no_bad_tokens])
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        root = await node.open("root", "/")
        assert root
        await node.open("chat", "/chat")
        assert (await node.emit("chat", "whoami"))[:2] == ["Chat", "/chat"]
        assert await node.emit("root", "anything") == [None]  # a plain BaseNamespace
        error = await node.step("event", sock="root", event="error")
        assert error["args"][0] == "no_such_method"
        refused = await node.refused("bad", "/", manager="b", auth={"token": "bad"})
        assert refused == {"message": "bad token", "data": {"nsp": ""}}
        server.router.emit("hello", namespace="/")
        await node.step("event", sock="root", event="hello")
        await node.quit()


async def test_python_socketio_connects_to_slash_by_default(make_server: MakeServer) -> None:
    server = await make_server({"/chat": Chat})
    client = socketio.AsyncClient(reconnection=False)
    got: asyncio.Queue[Any] = asyncio.Queue()
    client.on("hello", got.put_nowait)
    try:
        await asyncio.wait_for(client.connect(server.base, transports=["websocket"]), 5)
        assert client.connected and client.get_sid("/")
        server.router.emit("hello", "you", namespace="/")
        assert await asyncio.wait_for(got.get(), 5) == "you"
    finally:
        await client.disconnect()


# -- 0.9 clients and bad keys ------------------------------------------------------------


async def test_legacy_clients_reach_dynamic_namespaces() -> None:
    opened = asyncio.Event()
    answer: list[bool] = []

    async def gated(name: str, auth: dict[str, Any]) -> bool:
        await opened.wait()
        return answer[0]

    manager = SocketManager({re.compile(r"^/dyn-\d+$"): Dyn, gated: Other}, Settings())
    try:
        client = Client(manager, "/dyn-3")
        assert client.ns("/dyn-3").ns_name == "/dyn-3"
        client.send('5:1+:/dyn-3:{"name":"whoami"}')
        [ack] = client.take()
        assert ack.startswith('6::/dyn-3:1+["Dyn","/dyn-3"')
        client.send("1::/gated")
        client.send("1::/gated")  # asked again while the function decides: ignored
        answer.append(True)
        opened.set()
        await client.sink.wait_for(lambda: "1::/gated" in client.sink.packets)
        assert client.take() == ["1::/gated"]
        assert type(client.ns("/gated")) is Other
    finally:
        manager.close_all()


async def test_a_socket_that_ends_while_a_function_decides_is_left_alone() -> None:
    release = asyncio.Event()
    asked = asyncio.Event()

    async def slow(name: str, auth: dict[str, Any]) -> bool:
        asked.set()
        await release.wait()
        return True

    manager = SocketManager({slow: Dyn}, Settings())
    try:
        client = Client(manager)
        client.send("1::/late")
        await asyncio.wait_for(asked.wait(), 5)
        client.socket.disconnect()
        release.set()
        await asyncio.gather(*manager._background)
        assert "/late" not in client.socket.active_ns
        assert client.take() == ["0::"]  # nothing after the disconnect
    finally:
        manager.close_all()


def test_bad_namespace_keys_are_refused() -> None:
    with pytest.raises(TypeError, match="namespace key"):
        Router({b"/x": Dyn})
    with pytest.raises(TypeError, match="bytes"):
        Router({re.compile(rb"^/x"): Dyn})
