"""Cluster operations between two nodes in one process (two servers on one in-process bus),
with real 0.9 clients over websocket, and the answers to bad input: broadcasts with acks
from 0.9 clients, server-side events, ``local=True``, what ``fetch_sockets`` leaves out of
a session, and the room index's rooms named by socket ids. (The same operations across
``tornio serve`` workers, with socket.io-client 4.8: ``tests/test_cluster_ops.py``.)
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.inloop import InLoopServer
from tests.support.legacy_client import LegacyClient
from tornio import BaseNamespace, CallTimeout, RoomsMixin, Router
from tornio.bus import InProcessBus
from tornio.core.rooms import RoomIndex
from tornio.manager import SocketManager
from tornio.protocol import legacy
from tornio.settings import Settings

pytestmark = pytest.mark.timeout(30)


class ChatNamespace(BaseNamespace, RoomsMixin):
    def on_join(self, room: str) -> str:
        self.join(room)
        return self.sid

    def on_keep(self, key: str) -> bool:
        self.session[key] = object() if key == "opaque" else {"k": [1, {2, 3}]}
        return True


class Answering:
    """A 0.9 websocket client in ``/chat`` that answers every event asking for an ack with
    ``answers.get(event, [name])`` (``None``: never answers)."""

    def __init__(self, base: str, name: str, answers: dict[str, Any] | None = None) -> None:
        self.name = name
        self.client = LegacyClient(base, "websocket")
        self.answers = answers or {}
        self.events: asyncio.Queue[tuple[str, list[Any]]] = asyncio.Queue()
        self._acks: dict[int, asyncio.Future[list[Any]]] = {}
        self._next = 0
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> Answering:
        await self.client.connect()
        await self.client.send("1::/chat")
        assert await self.client.recv() == "1::/chat"
        self._reader = asyncio.ensure_future(self._read())
        return self

    @property
    def sid(self) -> str:
        return self.client.sid

    async def _read(self) -> None:
        while True:
            packet = legacy.decode_packet(await self.client.recv(timeout=60))
            if packet["type"] == "ack":
                future = self._acks.pop(int(packet["ackId"]), None)
                if future is not None:
                    future.set_result(list(packet.get("args", [])))
            elif packet["type"] == "event":
                name, args = packet["name"], list(packet.get("args", []))
                self.events.put_nowait((name, args))
                answer = self.answers.get(name, [self.name])
                if packet.get("ack") == "data" and answer is not None:
                    await self.client.send(f"6::/chat:{packet['id']}+{json.dumps(answer)}")

    async def call(self, event: str, *args: Any) -> list[Any]:
        self._next += 1
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._acks[self._next] = future
        await self.client.emit("/chat", event, *args, msg_id=self._next)
        return await asyncio.wait_for(future, 10)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self.client.close()


@dataclass
class TwoNodes:
    one: InLoopServer
    two: InLoopServer
    clients: list[Answering] = field(default_factory=list)

    async def client(self, server: InLoopServer, name: str, **answers: Any) -> Answering:
        made = await Answering(server.base, name, answers).connect()
        self.clients.append(made)
        return made


@pytest.fixture
async def nodes() -> AsyncIterator[TwoNodes]:
    bus = InProcessBus()
    made = TwoNodes(
        InLoopServer(Router({"/chat": ChatNamespace}, bus=bus)),
        InLoopServer(Router({"/chat": ChatNamespace}, bus=bus)),
    )
    try:
        yield made
    finally:
        for client in made.clients:
            await client.close()
        await made.one.stop()
        await made.two.stop()


async def test_a_call_gathers_every_0_9_clients_ack_on_both_nodes(nodes: TwoNodes) -> None:
    ann = await nodes.client(nodes.one, "ann")
    ben = await nodes.client(nodes.two, "ben")
    cat = await nodes.client(nodes.two, "cat", question=["cat", "extra"])
    for client in (ann, ben, cat):
        assert await client.call("join", "r") == [client.sid]  # 0.9: the session id
    manager = nodes.one.manager
    responses = await manager.call("question", 1, namespace="/chat", room="r", timeout=5)
    assert sorted(responses) == ["ann", "ben", "cat"]  # each ack's first argument
    assert await manager.call("question", namespace="/chat", to=ben.sid) == ["ben"]
    assert await manager.call("question", namespace="/chat", room="r", except_rooms=[ann.sid],
                              skip_sid=cat.sid) == ["ben"]
    assert await manager.call("question", namespace="/chat", room="r", local=True) == ["ann"]
    assert await manager.call("question", namespace="/chat", room="nobody") == []
    # What the remote sockets' callbacks were is freed once answered.
    for socket in nodes.two.manager.sockets.values():
        assert socket.ack_callbacks == {}

    # One that never answers: CallTimeout with what came; its callback is freed.
    dan = await nodes.client(nodes.two, "dan", question=None)
    assert await dan.call("join", "r") == [dan.sid]
    with pytest.raises(CallTimeout) as raised:
        await manager.call("question", namespace="/chat", room="r", timeout=0.3)
    assert isinstance(raised.value, TimeoutError)
    assert sorted(map(str, raised.value.responses)) == ["ann", "ben", "cat"]
    assert raised.value.missing == 1
    assert nodes.two.manager.sockets[dan.sid].ack_callbacks == {}
    remote = (await manager.fetch_sockets("/chat", to=dan.sid))[0]
    with pytest.raises(CallTimeout):
        await remote.call("question", timeout=0.2)
    assert await (await manager.fetch_sockets("/chat", to=ben.sid))[0].call("question") == "ben"


@pytest.mark.server_errors(("tornio.cluster", "server-side handler for 'broken' failed"))
async def test_server_side_events_reach_the_other_node_only(nodes: TwoNodes) -> None:
    one, two = nodes.one.manager, nodes.two.manager
    heard: dict[str, list[Any]] = {"one": [], "two": []}
    one.on_server_side("note", lambda *args: heard["one"].append(args))

    @two.on_server_side("note")
    def note(*args: Any) -> None:
        heard["two"].append(args)

    async def slow_double(n: int) -> int:
        await asyncio.sleep(0)
        return n * 2

    one.on_server_side("double", lambda n: n * 3)
    two.on_server_side("double", slow_double)
    two.on_server_side("broken", lambda: 1 / 0)

    one.server_side_emit("note", "a", 1)
    assert heard == {"one": [], "two": [("a", 1)]}
    assert await one.server_side_call("double", 5) == [10]
    assert await two.server_side_call("double", 5) == [15]
    for event in ("broken", "missing"):
        with pytest.raises(CallTimeout) as raised:
            await one.server_side_call(event, timeout=0.2)
        assert (raised.value.responses, raised.value.missing) == ([], 1)
    with pytest.raises(TypeError):
        one.server_side_emit(5)  # type: ignore[arg-type]


async def test_local_emits_and_fetches_stay_on_their_node(nodes: TwoNodes) -> None:
    ann = await nodes.client(nodes.one, "ann")
    ben = await nodes.client(nodes.two, "ben")
    for client in (ann, ben):
        await client.call("join", "r")
    manager = nodes.one.manager
    manager.emit("here-only", 1, namespace="/chat", room="r", local=True)
    manager.emit("everywhere", 2, namespace="/chat", room="r")
    assert await ann.events.get() == ("here-only", [1])
    assert await ann.events.get() == ("everywhere", [2])
    assert await ben.events.get() == ("everywhere", [2])
    assert [s.id for s in await manager.fetch_sockets("/chat", local=True)] == [ann.sid]
    assert {s.id for s in await manager.fetch_sockets("/chat")} == {ann.sid, ben.sid}
    manager.sockets_join("local-room", namespace="/chat", local=True)
    assert [s.id for s in await manager.fetch_sockets("/chat", "local-room")] == [ann.sid]
    manager.sockets_join("both", namespace="/chat", except_rooms="local-room")
    assert [s.id for s in await manager.fetch_sockets("/chat", "both")] == [ben.sid]


async def test_session_values_the_bus_cannot_carry_are_left_out(
    nodes: TwoNodes, caplog: pytest.LogCaptureFixture
) -> None:
    ann = await nodes.client(nodes.two, "ann")
    for key in ("opaque", "plain"):
        assert await ann.call("keep", key) == [True]
    with caplog.at_level(logging.WARNING, logger="tornio.cluster"):
        (found,) = await nodes.one.manager.fetch_sockets("/chat")
    assert found.data["plain"] == {"k": [1, [2, 3]]}
    assert "opaque" not in found.data
    assert "session['opaque']" in caplog.text
    assert found.rooms == {ann.sid}
    assert found.handshake["url"].startswith("/socket.io/1/")
    assert found.handshake["address"] == "127.0.0.1"


async def test_a_session_reads_the_same_from_every_node_and_every_operation(
    nodes: TwoNodes, caplog: pytest.LogCaptureFixture
) -> None:
    """One way a session is made portable: ``fetch_sessions`` from its own node and from
    another, ``fetch_sockets``, all read what crossing the bus leaves (sets as sorted lists,
    what the bus cannot carry left out and logged)."""
    ann = await nodes.client(nodes.two, "ann")
    for key in ("opaque", "plain"):
        assert await ann.call("keep", key) == [True]
    with caplog.at_level(logging.WARNING):
        here = await nodes.two.manager.fetch_sessions("/chat")
        there = await nodes.one.manager.fetch_sessions("/chat")
        (found,) = await nodes.two.manager.fetch_sockets("/chat", local=True)
    assert here == there == [{**found.data, "sid": ann.sid}]
    assert here[0]["plain"] == {"k": [1, [2, 3]]} and "opaque" not in here[0]
    assert "session['opaque']" in caplog.text


async def test_bad_arguments_are_refused_before_anything_is_sent() -> None:
    manager = SocketManager({}, Settings.from_kwargs())
    with pytest.raises(ValueError):
        await manager.call("e", timeout=-1)
    with pytest.raises(TypeError):
        await manager.call(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await manager.call("e", room=["a", 5])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        manager.sockets_join(["a", None])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        manager.disconnect_sockets(to=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await manager.fetch_sockets(except_rooms=[1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        manager.on_server_side(1, print)  # type: ignore[arg-type]
    assert await manager.server_side_call("alone") == []  # no other node to ask
    assert await manager.call("e") == []  # nobody to ask


class Member:
    def __init__(self, sids: dict[str, str]) -> None:
        self.sids = sids
        self.rooms: dict[str, set[str]] = {}


def test_every_member_is_in_the_room_named_by_its_id() -> None:
    added: list[str] = []
    index: RoomIndex[Member] = RoomIndex(on_namespace_added=added.append)
    a, b = Member({"/c": "idA", "/d": "idA-d"}), Member({"/c": "idB"})
    for member in (a, b):
        index.add_member("/c", member)
    index.add_member("/d", a)
    assert added == ["/c", "/d"]
    assert index.room("/c", "idA") == {"idA": a}
    assert index.room("/d", "idA") == {}  # ids are per namespace
    assert index.room("/d", "idA-d") == {"idA-d": a}
    index.join("/c", "idA", b)  # a room called like a socket id: both are in it
    assert index.room("/c", "idA") == {"idB": b, "idA": a}
    assert index.rooms_of("/c") == ["idA"]
    index.remove_socket(a)
    assert index.room("/c", "idA") == {"idB": b}
    assert index.members("/d") == {}


async def test_the_router_runs_the_same_operations(nodes: TwoNodes) -> None:
    ann = await nodes.client(nodes.one, "ann")
    ben = await nodes.client(nodes.two, "ben")
    router = nodes.one.router
    nodes.two.router.on_server_side("where", lambda: "two")
    router.sockets_join("club", namespace="/chat", to=ben.sid)
    assert [s.id for s in await router.fetch_sockets("/chat", room="club")] == [ben.sid]
    assert await router.call("question", namespace="/chat", room="club") == ["ben"]
    assert await router.server_side_call("where") == ["two"]
    router.sockets_leave("club", namespace="/chat", room="club")
    assert await router.fetch_sockets("/chat", room="club") == []
    router.disconnect_sockets(close=True, namespace="/chat", to=ann.sid)
    assert ann.sid not in nodes.one.manager.sockets
