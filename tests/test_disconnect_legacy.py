"""Every way a 0.9 client's namespace connection ends, with the protocol-level 0.9 client
(``tests/support/legacy_client.py``) over real HTTP and websockets: each runs
``recv_disconnecting(reason)`` then ``recv_disconnect(reason)`` once per namespace, with the
node reason the 0.9 case maps to, and frees the namespace's jobs and pending acks.

0.9 has no parse-error close: a packet that does not decode gets an ``error`` event and the
session lives on (``tests/test_namespace.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.apps.lifecycle import (
    Record,
    Waiting,
    assert_alive,
    assert_ended,
    namespaces,
    start_waiting,
)
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import LegacyClient, fetch
from tornio import Emitter
from tornio.bus.broker import Broker
from tornio.bus.zmq import ZmqBus

pytestmark = pytest.mark.timeout(60)

NAMESPACES = ("/life", "/old")


@dataclass
class Connected:
    server: InLoopServer
    record: Record
    client: LegacyClient
    waiting: dict[str, Waiting]

    @property
    def sid(self) -> str:
        return self.client.sid

    async def ended(self, nsp: str, reason: str) -> None:
        await assert_ended(self.record, self.server.manager, nsp, self.sid, self.waiting[nsp],
                           reason)

    def alive(self, nsp: str) -> None:
        assert_alive(self.record, nsp, self.sid, self.waiting[nsp])

    async def expect(self, wire: str) -> None:
        """The next packet that is not an event (the held ``hold`` events come first)."""
        while True:
            packet = await self.client.recv()
            if not packet.startswith("5:"):
                assert packet == wire
                return

    async def finish(self) -> None:
        """The client leaves; afterwards each namespace connection ended exactly once."""
        if not self.waiting["/life"].namespace.socket.closed:
            await self.client.send("0::")
        await self.record.wait_for(
            lambda: all(len(self.record.of(nsp, self.sid)) >= 2 for nsp in NAMESPACES)
        )
        for nsp in NAMESPACES:
            assert [e.hook for e in self.record.of(nsp, self.sid)] == [
                "disconnecting", "disconnect"
            ]
        assert self.waiting["/life"].namespace.socket.ack_callbacks == {}
        assert self.sid not in self.server.manager.sockets


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


@pytest.fixture
async def clients() -> AsyncIterator[list[LegacyClient]]:
    made: list[LegacyClient] = []
    yield made
    for client in made:
        await client.close()


async def connect_both(
    server: InLoopServer, record: Record, clients: list[LegacyClient], transport: str
) -> Connected:
    client = LegacyClient(server.base, transport)
    clients.append(client)
    await client.connect()
    for nsp in NAMESPACES:
        await client.send(f"1::{nsp}")
        assert await client.recv() == f"1::{nsp}"
    await record.wait_for(lambda: all((nsp, client.sid) in record.instances for nsp in NAMESPACES))
    waiting = {nsp: start_waiting(record.instances[(nsp, client.sid)]) for nsp in NAMESPACES}
    held = sorted([(await client.recv_event())[:2] for _ in range(4)])
    assert held == [("/life", "hold")] * 2 + [("/old", "hold")] * 2
    return Connected(server, record, client, waiting)


# -- one namespace ends, the socket stays ---------------------------------------------------


@pytest.mark.parametrize("transport", ["websocket", "xhr-polling"])
async def test_the_client_leaving_a_namespace(
    make_server: MakeServer, clients: list[LegacyClient], transport: str
) -> None:
    state = await connect_both(*await make_server(), clients, transport)
    await state.client.send("0::/life")
    await state.ended("/life", "client namespace disconnect")
    state.alive("/old")
    await state.finish()


async def test_the_server_disconnecting_a_namespace(
    make_server: MakeServer, clients: list[LegacyClient]
) -> None:
    state = await connect_both(*await make_server(), clients, "websocket")
    await state.client.emit("/life", "leave_me")
    await state.expect("0::/life")
    await state.ended("/life", "server namespace disconnect")
    state.alive("/old")
    await state.finish()


async def test_the_emitter_disconnecting_a_socket(
    make_server: MakeServer, clients: list[LegacyClient]
) -> None:
    server, record = await make_server()
    with Broker("tcp://127.0.0.1:0") as broker:
        bus = ZmqBus(broker.pub_address, broker.sub_address, node_id=server.manager.node_id)
        server.manager.use_bus(bus)
        await bus.ready(2.0)
        emitter = Emitter(broker.pub_address, sub_address=broker.sub_address)
        try:
            state = await connect_both(server, record, clients, "xhr-polling")

            def disconnect() -> None:
                emitter.of("/life").to_sid(state.sid).disconnect_sockets()
                emitter.flush(3)

            await asyncio.to_thread(disconnect)
            await state.expect("0::/life")
            await state.ended("/life", "server namespace disconnect")
            state.alive("/old")
            await state.finish()
        finally:
            emitter.close(linger=0)
            await bus.close(announce=False)


# -- the whole socket ends ------------------------------------------------------------------


async def client_disconnect(state: Connected) -> None:
    await state.client.send("0::")


async def forced_disconnect(state: Connected) -> None:
    """What 0.9.16's 'sync disconnect on unload' sends."""
    response = await fetch(f"{state.server.base}/socket.io/1/xhr-polling/{state.sid}?disconnect")
    assert response.code == 200


async def end_socket(state: Connected) -> None:
    await state.client.emit("/life", "end_socket")
    await state.expect("0::")


async def close_transport(state: Connected) -> None:
    await state.client.close()


async def stay_silent(state: Connected) -> None:
    pass  # the heartbeats go unanswered


async def shut_down(state: Connected) -> None:
    state.server.manager.close_all("server shutting down")


async def shut_down_embedded(state: Connected) -> None:
    state.server.manager.close_all()


QUICK = {"heartbeat_interval": 0.1, "heartbeat_timeout": 0.4}
Case = tuple[Callable[[Connected], Awaitable[None]], str, str, dict[str, Any]]
WHOLE: dict[str, Case] = {
    "client-0::-websocket": (client_disconnect, "client namespace disconnect", "websocket", {}),
    "client-0::-polling": (client_disconnect, "client namespace disconnect", "xhr-polling", {}),
    "forced-?disconnect": (forced_disconnect, "client namespace disconnect", "xhr-polling", {}),
    "server-socket-disconnect": (end_socket, "server namespace disconnect", "websocket", {}),
    "websocket-closed": (close_transport, "transport close", "websocket", {}),
    "heartbeat-timeout": (stay_silent, "ping timeout", "websocket", QUICK),
    "close-timeout": (close_transport, "transport close", "xhr-polling",
                      {"polling_duration": 0.2, "close_timeout": 0.3}),
    "close-all": (shut_down, "server shutting down", "websocket", {}),
    "close-all-default": (shut_down_embedded, "server shutting down", "xhr-polling", {}),
}


@pytest.mark.parametrize("case", WHOLE)
async def test_the_whole_socket_ending(
    make_server: MakeServer, clients: list[LegacyClient], case: str
) -> None:
    trigger, reason, transport, settings = WHOLE[case]
    state = await connect_both(*await make_server(**settings), clients, transport)
    await trigger(state)
    for nsp in NAMESPACES:
        await state.ended(nsp, reason)
    socket = state.waiting["/life"].namespace.socket
    assert socket.closed and socket.active_ns == {} and socket.ack_callbacks == {}
    await state.finish()
