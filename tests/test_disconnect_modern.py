"""Every way a modern client's namespace connection ends, with socket.io-client 4.8 under Node
(``tests/js/lifecycle_client.mjs``): each runs ``recv_disconnecting(reason)`` (rooms still
joined), then ``recv_disconnect(reason)`` (rooms left), exactly once per namespace, with
node's reason; the namespace's spawned jobs are cancelled and its pending acks freed (a
waiting ``call`` raises ``Disconnected``, an error-first callback gets it).

One client connects ``/life`` (hooks with a reason) and ``/old`` (gevent-socketio's
``recv_disconnect(self)``) on one Engine.IO connection; the test then ends one or both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.apps import lifecycle
from tests.apps.lifecycle import Record, Waiting, namespaces, start_waiting
from tests.support.inloop import InLoopServer
from tests.support.lifecycle_driver import LifecycleDriver
from tornio import Emitter
from tornio.bus.broker import Broker
from tornio.bus.zmq import ZmqBus

pytestmark = pytest.mark.timeout(60)

WEBSOCKET = {"transports": ["websocket"]}
POLLING = {"transports": ["polling"]}


@dataclass
class Connected:
    server: InLoopServer
    record: Record
    node: LifecycleDriver
    sids: dict[str, str]
    waiting: dict[str, Waiting]


MakeServer = Callable[..., Awaitable[tuple[InLoopServer, Record]]]


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    servers: list[InLoopServer] = []

    async def make(**settings: Any) -> tuple[InLoopServer, Record]:
        record = Record()
        server = await InLoopServer.start(namespaces(record), **settings)
        servers.append(server)
        return server, record

    yield make
    for server in servers:
        await server.stop()


async def connect_both(server: InLoopServer, record: Record, node: LifecycleDriver) -> Connected:
    """``/life`` and ``/old`` on one connection, each with a job, a pending ``call`` and a
    pending error-first callback."""
    sids = {nsp: await node.open(nsp.strip("/"), nsp) for nsp in ("/life", "/old")}
    await record.wait_for(lambda: all(key in record.instances for key in sids.items()))
    waiting = {nsp: start_waiting(record.instances[(nsp, sid)]) for nsp, sid in sids.items()}
    for nsp in sids:
        for what in ("call", "callback"):
            await node.step("event", sock=nsp.strip("/"), event="hold", args=[what], held=True)
    assert all(len(w.namespace.socket.ack_callbacks) == 4 for w in waiting.values())
    return Connected(server, record, node, sids, waiting)


async def assert_ended(state: Connected, nsp: str, reason: str) -> None:
    await lifecycle.assert_ended(state.record, state.server.manager, nsp, state.sids[nsp],
                                 state.waiting[nsp], reason)


def assert_alive(state: Connected, nsp: str) -> None:
    lifecycle.assert_alive(state.record, nsp, state.sids[nsp], state.waiting[nsp])


async def finish(state: Connected) -> None:
    """The client leaves; afterwards every namespace connection ended exactly once."""
    await state.node.quit()
    manager = state.server.manager
    await state.record.wait_for(lambda: all(len(state.record.of(n, s)) >= 2
                                            for n, s in state.sids.items()))
    for socket in list(manager.sockets.values()):  # a websocket may still be closing
        await state.record.wait_for(lambda s=socket: s.closed)  # type: ignore[misc]
    for nsp, sid in state.sids.items():
        assert [e.hook for e in state.record.of(nsp, sid)] == ["disconnecting", "disconnect"]
    for waiting in state.waiting.values():
        assert waiting.namespace.socket.ack_callbacks == {}


# -- one namespace ends, the connection stays -----------------------------------------------


async def test_the_client_leaving_a_namespace(make_server: MakeServer) -> None:
    server, record = await make_server()
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        state = await connect_both(server, record, node)
        node.send("disconnect", sock="life")
        await assert_ended(state, "/life", "client namespace disconnect")
        assert_alive(state, "/old")
        assert await node.emit("old", "echo", "still here") == ["still here"]
        await finish(state)
    # /old ended when the client quit, as a client leaving it.
    assert record.of("/old", state.sids["/old"])[0].reason == "client namespace disconnect"


async def test_the_server_disconnecting_a_namespace(make_server: MakeServer) -> None:
    server, record = await make_server()
    async with LifecycleDriver(server.base, WEBSOCKET) as node:
        state = await connect_both(server, record, node)
        node.send("emit", sock="life", event="leave_me", args=[], ack=False)
        await assert_ended(state, "/life", "server namespace disconnect")
        assert (await node.step("disconnect", sock="life"))["reason"] == "io server disconnect"
        assert_alive(state, "/old")
        assert await node.emit("old", "echo", 1) == [1]
        await finish(state)


@pytest.mark.parametrize("transports", [WEBSOCKET, POLLING], ids=["websocket", "polling"])
async def test_the_emitter_disconnecting_a_socket(
    make_server: MakeServer, transports: dict[str, Any]
) -> None:
    server, record = await make_server()
    with Broker("tcp://127.0.0.1:0") as broker:
        bus = ZmqBus(broker.pub_address, broker.sub_address, node_id=server.manager.node_id)
        server.manager.use_bus(bus)
        await bus.ready(2.0)
        emitter = Emitter(broker.pub_address, sub_address=broker.sub_address)
        try:
            async with LifecycleDriver(server.base, transports) as node:
                state = await connect_both(server, record, node)

                def disconnect() -> None:
                    emitter.of("/life").to_sid(state.sids["/life"]).disconnect_sockets()
                    emitter.flush(3)

                await asyncio.to_thread(disconnect)
                await assert_ended(state, "/life", "server namespace disconnect")
                assert (await node.step("disconnect", sock="life"))["reason"] == (
                    "io server disconnect"
                )
                assert_alive(state, "/old")
                await finish(state)
        finally:
            emitter.close(linger=0)
            await bus.close(announce=False)


# -- the whole connection ends --------------------------------------------------------------


async def end_socket(state: Connected) -> None:
    state.node.send("emit", sock="life", event="end_socket", args=[], ack=False)


async def close_engine(state: Connected) -> None:
    await state.node.engine("close")


async def mute_pongs(state: Connected) -> None:
    await state.node.engine("mute_pongs")


async def send_garbage(state: Connected) -> None:
    await state.node.engine("send", data="garbage")


async def send_to_a_namespace_not_joined(state: Connected) -> None:
    await state.node.engine("send", data='2/nowhere,["x"]')


async def post_too_much(state: Connected) -> None:
    state.node.send("emit", sock="life", event="echo", args=["x" * 5000], ack=False)


async def shut_down(state: Connected) -> None:
    state.server.manager.close_all("server shutting down")


async def shut_down_embedded(state: Connected) -> None:
    state.server.manager.close_all()  # what SocketIOServer.stop() does


WHOLE: dict[str, tuple[Callable[[Connected], Awaitable[None]], str, dict[str, Any], dict[str, Any]]]
WHOLE = {
    "server-socket-disconnect": (end_socket, "server namespace disconnect", WEBSOCKET, {}),
    "transport-close-websocket": (close_engine, "transport close", WEBSOCKET, {}),
    "transport-close-polling": (close_engine, "transport close", POLLING, {}),
    "ping-timeout": (mute_pongs, "ping timeout", WEBSOCKET,
                     {"ping_interval": 0.2, "ping_timeout": 0.3}),
    "parse-error": (send_garbage, "parse error", WEBSOCKET, {}),
    "invalid-state": (send_to_a_namespace_not_joined, "forced server close", WEBSOCKET, {}),
    "payload-too-large": (post_too_much, "transport error", POLLING, {"max_buffer_size": 2000}),
    "close-all": (shut_down, "server shutting down", WEBSOCKET, {}),
    "close-all-default": (shut_down_embedded, "server shutting down", POLLING, {}),
}


@pytest.mark.parametrize("case", WHOLE)
async def test_the_whole_connection_ending(make_server: MakeServer, case: str) -> None:
    trigger, reason, transports, settings = WHOLE[case]
    server, record = await make_server(**settings)
    async with LifecycleDriver(server.base, transports) as node:
        state = await connect_both(server, record, node)
        await trigger(state)
        for nsp in ("/life", "/old"):
            await assert_ended(state, nsp, reason)
        socket = state.waiting["/life"].namespace.socket
        assert socket.closed and socket.active_ns == {} and socket.ack_callbacks == {}
        assert socket.sessid not in server.manager.sockets
        if case == "server-socket-disconnect":
            for sock in ("life", "old"):
                assert (await node.step("disconnect", sock=sock))["reason"] == (
                    "io server disconnect"
                )
        await finish(state)
