"""Tests for tornio.Emitter against a real broker (in-process, on loopback ports).

The receiving end is either a :class:`ZmqBus` node recording what it is delivered, or a real
:class:`~tornio.manager.SocketManager` serving 0.9 clients on the test's event loop (its bus swapped
for a ZmqBus). The Emitter is blocking: its calls run in a thread (``asyncio.to_thread``) so
that the event loop keeps serving the node meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import zmq

from tests.support.inloop import InLoopServer
from tests.support.multihost import LegacyChatter
from tests.support.waiting import eventually
from tests.support.zmq_nodes import RecordingNode
from tornio import BaseNamespace, Emitter, RoomsMixin
from tornio.bus import ids
from tornio.bus.broker import Broker
from tornio.bus.emitter import EmitterError
from tornio.bus.messages import EMITTER_UID, BusMessageError, MessageType, decode
from tornio.bus.zmq import ZmqBus

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def node(broker: Broker) -> AsyncIterator[tuple[ZmqBus, RecordingNode]]:
    recording = RecordingNode(ids.node_tag("Test", 0))
    bus = ZmqBus(broker.pub_address, broker.sub_address, heartbeat_interval=0.05)
    bus.attach(recording)
    await bus.ready(2.0)
    try:
        yield bus, recording
    finally:
        await bus.close(announce=False)


@pytest.fixture
def make_emitter(broker: Broker) -> Iterator[Callable[..., Emitter]]:
    made: list[Emitter] = []

    def make(**kwargs: Any) -> Emitter:
        emitter = Emitter(broker.pub_address, sub_address=broker.sub_address, **kwargs)
        made.append(emitter)
        return emitter

    yield make
    for emitter in made:
        emitter.close(linger=0)


async def test_the_first_emit_waits_for_the_bus_and_arrives(
    node: tuple[ZmqBus, RecordingNode], make_emitter: Callable[..., Emitter]
) -> None:
    """No slow-joiner loss: a brand-new emitter's first message is delivered, every time."""
    _bus, recording = node
    for i in range(5):
        emitter = make_emitter()
        await asyncio.to_thread(emitter.of("/chat").emit, "hello", i)
        assert emitter.is_ready
        delivered = await recording.wait_for_count(i + 1)
        message = delivered[i]
        assert message["uid"] == EMITTER_UID and message["type"] is MessageType.EMIT
        assert message["nsp"] == "/chat"
        assert message["data"] == {
            "event": "hello", "args": [i], "rooms": [], "skip": [], "to": None,
        }  # fmt: skip


async def test_selections_become_the_bus_schema(
    broker: Broker, make_emitter: Callable[..., Emitter]
) -> None:
    """What each operator publishes, read off the broker by a raw subscriber."""
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"r")  # room topics,
    sub.setsockopt(zmq.SUBSCRIBE, b"n")  # namespace topics,
    sub.setsockopt(zmq.SUBSCRIBE, b"d\x00Test")  # and nodes tagged Test..
    sub.connect(broker.sub_address)
    emitter = make_emitter()
    sid = ids.make_sid(ids.node_tag("Test", 3))
    try:
        # The raw subscriber must be subscribed before the emitter's probe proves the path.
        deadline = time.monotonic() + 3
        while True:
            await asyncio.to_thread(emitter.of("/x").emit, "warm-up")
            if sub.poll(50):
                sub.recv_multipart()
                break
            assert time.monotonic() < deadline, "the raw subscriber never got a message"
        while sub.poll(100):
            sub.recv_multipart()

        def run() -> None:
            emitter.to("a").emit("e1", 1)  # global namespace, one room
            emitter.of("/").in_("a").to(["b", "a"]).except_("c", "sid-x").emit("e2")
            emitter.of("/chat").to_sid(sid).emit("e3", {"k": [1, 2]})
            emitter.of("/chat").to_sid("not-a-tornio-sid").emit("e4")
            emitter.of("/chat").to("r").sockets_join("j1", ["j2"])
            emitter.of("/chat").sockets_leave("l")
            emitter.of("/chat").to_sid(sid).disconnect_sockets()
            emitter.flush(3)

        await asyncio.to_thread(run)
        frames = []
        while sub.poll(200):
            frames.append(sub.recv_multipart())
    finally:
        sub.close(linger=0)
        context.term()
    got = [decode(f) for f in frames]
    assert [m["uid"] for m in got] == [EMITTER_UID] * 7
    assert [
        (f[0][:1], m["type"].name, m["nsp"], m.get("dst")) for f, m in zip(frames, got, strict=True)
    ] == [
        (b"r", "EMIT", "", None),
        (b"n", "EMIT", "", None),
        (b"d", "EMIT", "/chat", sid[:6]),
        (b"n", "EMIT", "/chat", None),
        (b"r", "SOCKETS_JOIN", "/chat", None),
        (b"n", "SOCKETS_LEAVE", "/chat", None),
        (b"d", "DISCONNECT_SOCKETS", "/chat", sid[:6]),
    ]
    data = [m["data"] for m in got]
    assert data[0] == {"event": "e1", "args": [1], "rooms": ["a"], "skip": [], "to": None}
    assert data[1] == {
        "event": "e2", "args": [], "rooms": ["a", "b"], "skip": ["c", "sid-x"],
        "except": ["c", "sid-x"], "to": None,
    }  # fmt: skip
    assert data[2] == {"event": "e3", "args": [{"k": [1, 2]}], "rooms": [], "skip": [], "to": sid}
    assert data[3]["to"] == "not-a-tornio-sid"
    assert data[4] == {"join": ["j1", "j2"], "rooms": ["r"], "skip": [], "to": None}
    assert data[5] == {"leave": ["l"], "rooms": [], "skip": [], "to": None}
    assert data[6] == {"rooms": [], "skip": [], "to": sid}


async def test_an_emitter_is_not_a_node(
    node: tuple[ZmqBus, RecordingNode], make_emitter: Callable[..., Emitter], broker: Broker
) -> None:
    bus, recording = node
    other = RecordingNode(ids.node_tag("Othr", 0))
    other_bus = ZmqBus(broker.pub_address, broker.sub_address, heartbeat_interval=0.05)
    other_bus.attach(other)
    other_bus.set_request_handler(lambda kind, nsp, data: {"from": "other"})
    bus.set_request_handler(lambda kind, nsp, data: {"from": "me"})
    try:
        await other_bus.ready(2.0)
        emitter = make_emitter()
        await asyncio.to_thread(emitter.emit, "x")
        await recording.wait_for_count(1)
        await asyncio.sleep(0.2)  # several heartbeat intervals
        assert set(bus.nodes) == {other.node_id}
        started = time.monotonic()
        answers = await bus.request(MessageType.FETCH_SESSIONS, "", {}, timeout=3.0)
        assert sorted(a["from"] for a in answers) == ["me", "other"]
        assert time.monotonic() - started < 1.0  # nobody waited for the emitter
    finally:
        await other_bus.close(announce=False)


async def test_flush_proves_the_broker_passed_everything_on_in_order(
    node: tuple[ZmqBus, RecordingNode], make_emitter: Callable[..., Emitter]
) -> None:
    _bus, recording = node
    emitter = make_emitter()

    def run() -> None:
        for i in range(300):
            emitter.of("/n").emit("seq", i)
        emitter.flush(3)

    await asyncio.to_thread(run)
    delivered = await recording.wait_for_count(300)
    assert [m["data"]["args"][0] for m in delivered] == list(range(300))
    assert emitter.published == 300


async def test_refusals(make_emitter: Callable[..., Emitter]) -> None:
    emitter = make_emitter()
    with pytest.raises(ValueError, match="reserved"):
        emitter.emit("connect")
    with pytest.raises(TypeError):
        emitter.emit(42)  # type: ignore[arg-type]
    with pytest.raises(BusMessageError):
        await asyncio.to_thread(emitter.emit, "x", object())
    with pytest.raises(TypeError):
        emitter.to(3)  # type: ignore[arg-type]
    small = make_emitter(max_payload=100)
    with pytest.raises(BusMessageError, match="exceeds"):
        await asyncio.to_thread(small.emit, "x", "y" * 200)
    with make_emitter() as closing:
        pass
    with pytest.raises(EmitterError, match="closed"):
        closing.emit("x")
    closing.close()  # idempotent
    assert "closed" in repr(closing)


def test_no_broker_means_a_timeout_not_a_hang() -> None:
    with Broker("tcp://127.0.0.1:0") as gone:
        pub, sub = gone.pub_address, gone.sub_address
    with Emitter(pub, sub_address=sub, ready_timeout=0.3) as emitter:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="no answer from the broker"):
            emitter.emit("lost")
        with pytest.raises(TimeoutError):
            emitter.wait_ready(0.2)
        assert time.monotonic() - started < 2.0
        assert not emitter.is_ready


def test_a_forked_child_gets_sockets_of_its_own(broker: Broker) -> None:
    """After fork, the child makes a new context on first use (the parent's is unusable)."""
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"n")
    sub.connect(broker.sub_address)
    emitter = Emitter(broker.pub_address, sub_address=broker.sub_address)
    try:
        deadline = time.monotonic() + 3
        while not sub.poll(50):  # the raw subscriber is in place once the parent hears itself
            emitter.of("/f").emit("parent")
            assert time.monotonic() < deadline
        pid = os.fork()
        if pid == 0:  # the child: emit, flush, and leave without running any cleanup
            code = 1
            try:
                emitter.of("/f").emit("child", os.getpid())
                emitter.flush(3)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        events = []
        while sub.poll(500):
            events.append(decode(sub.recv_multipart())["data"]["event"])
        assert "child" in events
        emitter.of("/f").emit("parent-again")  # the parent's sockets still work
    finally:
        emitter.close(linger=0)
        sub.close(linger=0)
        context.term()


# -- against a real SocketManager ------------------------------------------------------------------


class ChatNamespace(BaseNamespace, RoomsMixin):
    def on_join(self, room: str) -> bool:
        self.join(room)
        return True

    def on_rooms(self) -> list[str]:
        return sorted(self.rooms)


@pytest.fixture
async def server(broker: Broker) -> AsyncIterator[InLoopServer]:
    served = await InLoopServer.start({"/chat": ChatNamespace})
    bus = ZmqBus(broker.pub_address, broker.sub_address, node_id=served.manager.node_id)
    served.manager.use_bus(bus)
    await bus.ready(2.0)
    try:
        yield served
    finally:
        await served.stop()
        await bus.close(announce=False)


async def test_a_real_node_honours_every_selection(
    server: InLoopServer, make_emitter: Callable[..., Emitter]
) -> None:
    people = [LegacyChatter(server.base, name) for name in ("ann", "ben", "cat")]
    try:
        ann, ben, cat = people
        for chatter in people:
            await chatter.connect()
        for chatter, rooms in ((ann, ["a"]), (ben, ["a", "muted"]), (cat, ["b"])):
            for room in rooms:
                assert await chatter.call("join", room) == [True]
        emitter = make_emitter()
        chat = emitter.of("/chat")

        async def run(fn: Callable[[], None]) -> None:
            def call() -> None:
                fn()
                emitter.flush(3)

            await asyncio.to_thread(call)

        async def events_until(chatter: LegacyChatter, last: str) -> list[str]:
            seen: list[str] = []
            while last not in seen:
                event, _args = await asyncio.wait_for(chatter.events.get(), 3)
                seen.append(event)
            return seen

        await run(lambda: chat.to("a").emit("room-a"))
        await run(lambda: chat.to("a").except_("muted").emit("a-minus-muted"))
        await run(lambda: chat.to("a", "b").except_(ann.sid).emit("a-b-minus-ann"))
        await run(lambda: chat.to_sid(cat.sid).emit("just-cat", {"x": 1}))
        await run(lambda: chat.emit("all"))
        assert await events_until(ann, "all") == ["room-a", "a-minus-muted", "all"]
        assert await events_until(ben, "all") == ["room-a", "a-b-minus-ann", "all"]
        assert await events_until(cat, "all") == ["a-b-minus-ann", "just-cat", "all"]

        await run(lambda: chat.to("b").sockets_join("c", "d"))
        assert await cat.call("rooms") == [["b", "c", "d"]]
        await run(lambda: chat.to_sid(cat.sid).sockets_leave("c"))
        assert await cat.call("rooms") == [["b", "d"]]
        await run(lambda: chat.to("muted").disconnect_sockets())
        assert await ben.next_event("$disconnect") == []
        await run(lambda: chat.emit("after"))
        assert await ann.next_event("after") == []
        assert await cat.next_event("after") == []
        assert ben.events.empty()
    finally:
        for chatter in people:
            await chatter.close()


async def test_a_socket_is_in_the_room_named_by_its_id_and_server_side_events_arrive(
    server: InLoopServer, make_emitter: Callable[..., Emitter]
) -> None:
    """``to(sid)`` names the room every socket is in (its owner takes it through one prefix
    subscription per namespace), ``except_(room)`` leaves a room out, ``close=True`` ends
    the whole connection, and ``server_side_emit`` reaches the node's handler."""
    heard: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    server.manager.on_server_side("reload", lambda *args: heard.put_nowait(args))
    people = [LegacyChatter(server.base, name) for name in ("ann", "ben")]
    try:
        ann, ben = people
        for chatter in people:
            await chatter.connect()
        assert await ben.call("join", "quiet") == [True]
        emitter = make_emitter()
        chat = emitter.of("/chat")

        def run(fn: Callable[[], None]) -> Any:
            return asyncio.to_thread(lambda: (fn(), emitter.flush(3)))

        await run(lambda: chat.to(ann.sid).emit("for-ann-by-room"))
        await run(lambda: chat.to(ann.sid, ben.sid).except_("quiet").emit("not-ben"))
        await run(lambda: chat.to(ben.sid).emit("for-ben-by-room"))
        assert await ann.next_event("for-ann-by-room") == []
        assert await ann.next_event("not-ben") == []
        assert await ben.next_event("for-ben-by-room") == []
        assert ben.events.empty()

        await run(lambda: emitter.server_side_emit("reload", "config", 2))
        assert await asyncio.wait_for(heard.get(), 3) == ("config", 2)

        await run(lambda: chat.to_sid(ann.sid).disconnect_sockets(close=True))
        await eventually(lambda: ann.sid not in server.manager.sockets, 3, message="ann gone")
        assert ben.sid in server.manager.sockets
    finally:
        for chatter in people:
            await chatter.close()

