"""python-socketio's ``socketio.AsyncClient`` against a tornio server over websocket, with the
default serializer and with msgpack: auth, acks both ways, binary both ways, a room, a second
namespace, refusals as ``connect_error``. The server is ``tests/apps/probe.py``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import socketio  # type: ignore[import-untyped]

from tests.apps.probe import Record, namespaces
from tests.support.inloop import InLoopServer
from tests.support.waiting import eventually
from tornio.bus.ids import owner_of

TIMEOUT = 5


@pytest.fixture
async def server() -> AsyncIterator[tuple[InLoopServer, Record]]:
    record = Record()
    srv = await InLoopServer.start(namespaces(record))
    try:
        yield srv, record
    finally:
        await srv.stop()


async def connect(
    client: socketio.AsyncClient, base: str, namespaces: list[str], auth: Any = None
) -> None:
    await asyncio.wait_for(
        client.connect(
            base, transports=["websocket"], namespaces=namespaces, auth=auth, wait_timeout=TIMEOUT
        ),
        TIMEOUT,
    )


class Waiter:
    """Every ``event`` the client receives on ``namespace``, in a queue."""

    def __init__(self, client: socketio.AsyncClient, event: str, namespace: str) -> None:
        self.queue: asyncio.Queue[list[Any]] = asyncio.Queue()
        client.on(event, self._received, namespace=namespace)

    async def _received(self, *args: Any) -> None:
        self.queue.put_nowait(list(args))

    async def __call__(self) -> list[Any]:
        """The next one (bounded wait)."""
        return await asyncio.wait_for(self.queue.get(), TIMEOUT)


@pytest.mark.parametrize("serializer", ["default", "msgpack"])
async def test_python_socketio_async_client(
    server: tuple[InLoopServer, Record],
    sio_clients: Callable[..., socketio.AsyncClient],
    serializer: str,
) -> None:
    srv, record = server
    a = sio_clients(serializer=serializer)

    @a.on("question", namespace="/test")
    async def question(text: str) -> tuple[Any, ...]:
        return f"answer to {text}", 42, {"bytes": b"\x07\x08"}

    answered = Waiter(a, "answered", "/test")
    binary_back = Waiter(a, "binary_back", "/test")
    await connect(a, srv.base, ["/test", "/other"], auth={"token": "good"})
    assert a.transport() == "websocket"

    # A handler's return value is the ack.
    assert await a.call("echo", (1, "two", {"three": [3]}), namespace="/test", timeout=TIMEOUT) == (
        1,
        "two",
        {"three": [3]},
    )
    who = await a.call("whoami", namespace="/test", timeout=TIMEOUT)
    assert who["sid"] == a.get_sid("/test")
    assert (who["nsp"], who["auth"], who["protocol"]) == ("/test", {"token": "good"}, "modern")

    # The server's emit with callback=: our handler's return value reaches the callback.
    assert await a.call("ask", "life?", namespace="/test", timeout=TIMEOUT) == "asked"
    assert await answered() == ["answer to life?", 42, {"bytes": b"\x07\x08"}]
    assert record.answers == [("answer to life?", 42, {"bytes": b"\x07\x08"})]

    # Binary both ways, nested.
    sent = {"buf": b"\x01\x02\x03", "nested": {"list": [b"xyz", "text", bytearray(b"\xff")]}}
    ack = await a.call("binary", sent, namespace="/test", timeout=TIMEOUT)
    echoed = {"buf": b"\x01\x02\x03", "nested": {"list": [b"xyz", "text", b"\xff"]}}
    assert ack == {"echo": echoed, "made": b"\x00\x01\x02\x03\x04"}
    assert await binary_back() == [{"got": echoed, "extra": [b"\x00\xff"]}, b"top-level"]
    assert record.received_binary == [echoed]

    # A room: b (kitchen) hears a's shout; c (den) does not, nor does a.
    b, c = sio_clients(serializer=serializer), sio_clients(serializer=serializer)
    heard = {
        name: Waiter(client, "shouted", "/test") for name, client in (("a", a), ("b", b), ("c", c))
    }
    await connect(b, srv.base, ["/test"], auth={"token": "good"})
    await connect(c, srv.base, ["/test"], auth={"token": "good"})
    assert await a.call("join", "kitchen", namespace="/test", timeout=TIMEOUT) == ["kitchen"]
    assert await b.call("join", "kitchen", namespace="/test", timeout=TIMEOUT) == ["kitchen"]
    assert await c.call("join", "den", namespace="/test", timeout=TIMEOUT) == ["den"]
    assert await a.call("shout", ("kitchen", "hi"), namespace="/test", timeout=TIMEOUT) is True
    assert await heard["b"]() == [a.get_sid("/test"), "hi"]
    # Round trips after the shout: anything sent to a or c would have come before them.
    await a.call("echo", "sync", namespace="/test", timeout=TIMEOUT)
    await c.call("echo", "sync", namespace="/test", timeout=TIMEOUT)
    assert heard["a"].queue.empty() and heard["c"].queue.empty()

    # The second namespace rides on the same connection: one server socket for both.
    other = await a.call("whoami", namespace="/other", timeout=TIMEOUT)
    assert (other["nsp"], other["auth"]) == ("/other", {"token": "good"})
    assert other["engine_sid"] == who["engine_sid"]
    # Each namespace connection has its own id (the client's too), naming the same owner.
    assert other["sid"] == a.get_sid("/other") != who["sid"]
    assert owner_of(other["sid"]) == owner_of(who["sid"]) == srv.manager.node_id
    assert set(srv.manager.engines[who["engine_sid"]].active_ns) == {"/test", "/other"}

    # Refusals: ConnectionRefused(message, data), a False from recv_connect, no such namespace.
    for namespace, auth, expected in [
        (
            "/test",
            {"token": "bad"},
            {"message": "not authorized", "data": {"reason": "bad token", "code": 401}},
        ),
        ("/test", {"token": "none"}, {"message": "Connection refused"}),
        ("/nowhere", None, {"message": "Invalid namespace"}),
    ]:
        refused = sio_clients(serializer=serializer)
        errors = Waiter(refused, "connect_error", namespace)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await connect(refused, srv.base, [namespace], auth=auth)
        assert await errors() == [expected]

    # Disconnects reach recv_disconnect, and the server forgets the sockets.
    for client in (a, b, c):
        await client.disconnect()
    expected_gone = sorted([(nsp, sid) for nsp, sid, _ in record.connected])

    await eventually(
        lambda: sorted(record.disconnected) == expected_gone and not srv.manager.sockets,
        TIMEOUT,
        message="every socket disconnected and forgotten",
    )
