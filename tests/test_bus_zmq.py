"""Tests for tornio.bus.zmq and tornio.bus.broker: real ZeroMQ sockets on 127.0.0.1.

Each test runs two or three :class:`ZmqBus` nodes against a real broker (in-process, or the
``python -m tornio.bus.broker`` process) with recording nodes in place of the manager.

How waits are bounded: a delivery is awaited as an event (``RecordingNode.wait_for_event``)
with a timeout. "Did not arrive" is shown with a barrier: after the messages under test, the
same publisher sends a namespace-wide emit; ZeroMQ keeps one publisher's order through the
broker, so once every node has the barrier, whatever was going to reach it has. Where only
ZeroMQ knows when something is in place (a room subscription reaching another publisher, a
broker coming back), a condition is polled with a deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio

from tests.support.ports import free_port_pair
from tests.support.waiting import eventually
from tests.support.zmq_nodes import (
    Nodes,
    RecordingNode,
    barrier,
    emit,
    free_addresses,
    known_to_each_other,
    route_ready,
)
from tornio.bus import ids
from tornio.bus.broker import Broker, broker_addresses
from tornio.bus.messages import (
    CONTROL_TOPIC,
    BusMessageError,
    MessageType,
    direct_topic,
    encode,
    make_message,
    namespace_topic,
)
from tornio.bus.zmq import ZmqBus
from tornio.exceptions import LocalError

ROOT = Path(__file__).resolve().parent.parent
_probes = itertools.count()


# --- delivery and routing ------------------------------------------------------------------------


async def test_ready_proves_the_path_and_nodes_meet(nodes: Nodes) -> None:
    a, na = await nodes("a")
    b, nb = await nodes("b")
    assert a.is_ready and b.is_ready
    await known_to_each_other(a, b)
    a.publish(emit("hello"))
    await nb.wait_for_event("hello")
    assert nb.delivered[0] == {
        "v": 1,
        "uid": "a",
        "type": MessageType.EMIT,
        "nsp": "/chat",
        "data": {"event": "hello", "args": [], "rooms": [], "skip": [], "to": None},
    }
    await barrier(b, na)
    assert na.events() == [] and nb.events() == ["hello"]  # never delivered to the publisher


async def test_room_emit_reaches_only_subscribed_nodes(nodes: Nodes) -> None:
    a, na = await nodes("a")
    b, nb = await nodes("b")
    c, nc = await nodes("c")
    b.subscribe(nb, "/chat", "a")
    c.subscribe(nc, "/chat", "ab")  # room "a" is a prefix of "ab"
    c.subscribe(nc, "/chatroom", "a")  # namespace "/chat" is a prefix of "/chatroom"
    await route_ready(a, nb, "/chat", "a")
    await route_ready(a, nc, "/chat", "ab")
    await route_ready(a, nc, "/chatroom", "a")

    a.publish(emit("to-a", rooms=["a"]))
    a.publish(emit("to-ab", rooms=["ab"]))
    a.publish(emit("to-chatroom-a", nsp="/chatroom", rooms=["a"]))
    a.publish(emit("to-nobody", rooms=["b"]))
    await barrier(a, nb, nc)

    assert nb.events() == ["to-a"]
    assert nc.events() == ["to-ab", "to-chatroom-a"]
    assert na.delivered == []


async def test_unsubscribe_stops_delivery(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    b, nb = await nodes("b")
    c, nc = await nodes("c")
    for bus, node in ((b, nb), (c, nc)):
        bus.subscribe(node, "/chat", "a")
        bus.subscribe(node, "/chat", "a")  # idempotent: one unsubscribe undoes it
        await route_ready(a, node, "/chat", "a")

    b.unsubscribe(nb, "/chat", "a")

    async def unsubscribed() -> bool:  # a room emit no longer reaches b
        probe = f"probe-{next(_probes)}"
        a.publish(emit(probe, rooms=["a"]))
        await barrier(a, nb, nc)
        return probe not in nb.all_events()

    await eventually(unsubscribed, 2.0, message="the unsubscribe to take effect", interval=0)

    for i in range(20):
        a.publish(emit(f"late-{i}", rooms=["a"]))
    await barrier(a, nb, nc)
    assert nb.events("late-") == []
    assert nc.events("late-") == [f"late-{i}" for i in range(20)]  # c is still subscribed

    b.subscribe(nb, "/chat", "a")
    await route_ready(a, nb, "/chat", "a")


async def test_namespace_wide_and_multi_room_emits(nodes: Nodes) -> None:
    a, na = await nodes("a")
    b, nb = await nodes("b")
    _, nc = await nodes("c", namespaces=["/other"])  # wants only /other's namespace messages
    b.subscribe(nb, "/chat", "x")
    await route_ready(a, nb, "/chat", "x")

    a.publish(emit("everyone"))
    a.publish(emit("rooms-x-and-y", rooms=["x", "y"]))  # once, on the namespace topic
    a.publish(emit("other-namespace", nsp="/other"))
    await barrier(a, nb)
    await barrier(a, nc, nsp="/other")

    # Each exactly once; b wants every namespace, c only /other.
    assert nb.events() == ["everyone", "rooms-x-and-y", "other-namespace"]
    assert nc.events() == ["other-namespace"]
    assert na.delivered == []


async def test_direct_messages_reach_one_node(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    _, nb = await nodes("b")
    _, nc = await nodes("c")
    a.publish(emit("for-b", to="sid-on-b", dst="b"))
    a.publish(emit("for-nobody", to="sid", dst="zz"))
    await barrier(a, nb, nc)
    assert nb.events() == ["for-b"]
    assert nb.delivered[0]["dst"] == "b"
    assert nc.events() == []


async def test_order_per_publisher_over_1000_messages(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    b, nb = await nodes("b")
    c, _ = await nodes("c")
    b.subscribe(nb, "/chat", "r")
    await route_ready(c, nb, "/chat", "r")
    for i in range(1000):
        a.publish(emit("seq-a", i))
        c.publish(emit("seq-c", i, rooms=["r"]))
    await nb.wait_for(lambda: len(nb.events("seq-")) == 2000, timeout=5.0)

    for event in ("seq-a", "seq-c"):
        assert [m["data"]["args"][0] for m in nb.delivered if m["data"]["event"] == event] == list(
            range(1000)
        )
    assert a.stats.dropped_hwm == c.stats.dropped_hwm == 0
    assert a.stats.published >= 1000


# --- requests ------------------------------------------------------------------------------------


def answering(bus: ZmqBus, *, coroutine: bool = False) -> None:
    def answer(kind: MessageType, nsp: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"node": bus.node_id, "kind": int(kind), "nsp": nsp, "asked": data}

    async def answer_later(kind: MessageType, nsp: str, data: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return answer(kind, nsp, data)

    bus.set_request_handler(answer_later if coroutine else answer)


async def test_request_gathers_one_answer_per_live_node(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    b, _ = await nodes("b")
    c, _ = await nodes("c")
    answering(a)
    answering(b)
    answering(c, coroutine=True)
    await known_to_each_other(a, b, c)

    started = time.monotonic()
    answers = await a.request(MessageType.FETCH_SESSIONS, "/chat", {"room": "x"}, timeout=5.0)
    assert time.monotonic() - started < 1.0  # all answered: no waiting for the timeout
    assert answers[0]["node"] == "a"  # the requester's own answer, given locally, first
    assert sorted(answer["node"] for answer in answers) == ["a", "b", "c"]
    for answer in answers:
        assert answer["kind"] == MessageType.FETCH_SESSIONS
        assert answer["nsp"] == "/chat" and answer["asked"] == {"room": "x"}

    with pytest.raises(LocalError):
        await a.request(MessageType.EMIT, "/chat", {})


async def test_request_returns_partial_answers_when_a_node_dies(
    nodes: Nodes, caplog: pytest.LogCaptureFixture
) -> None:
    a, _ = await nodes("a", node_timeout=5.0)
    b, _ = await nodes("b", node_timeout=5.0)
    c, _ = await nodes("c", node_timeout=5.0)
    for bus in (a, b, c):
        answering(bus)
    await known_to_each_other(a, b, c)

    await c.close(announce=False)  # as if its process died: no NODE_DOWN
    assert "c" in a.nodes
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tornio.bus.zmq"):
        answers = await a.request(MessageType.FETCH_SESSIONS, "", {}, timeout=0.3)
    elapsed = time.monotonic() - started
    assert sorted(answer["node"] for answer in answers) == ["a", "b"]
    assert 0.3 <= elapsed < 1.0
    assert "no answer from c" in caplog.text


async def test_request_stops_waiting_for_a_node_that_leaves(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    b, _ = await nodes("b")
    c, _ = await nodes("c")
    answering(a)
    answering(b)
    hung = asyncio.Event()

    async def never(kind: MessageType, nsp: str, data: dict[str, Any]) -> dict[str, Any]:
        hung.set()
        await asyncio.Event().wait()
        return {}

    c.set_request_handler(never)
    await known_to_each_other(a, b, c)

    started = time.monotonic()
    request = asyncio.ensure_future(a.request(MessageType.FETCH_SESSIONS, "", {}, timeout=5.0))
    await asyncio.wait_for(hung.wait(), 2.0)
    await c.close()  # NODE_DOWN: a stops waiting for c
    answers = await asyncio.wait_for(request, 2.0)
    assert sorted(answer["node"] for answer in answers) == ["a", "b"]
    assert time.monotonic() - started < 2.0


@pytest.mark.server_errors(
    ("tornio.bus.zmq", "bus request handler failed on FETCH_SESSIONS"),
    ("tornio.bus.zmq", "bus request handler answered FETCH_SESSIONS with list, not a map"),
)
async def test_request_handler_failures_mean_no_answer(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    b, _ = await nodes("b")
    c, _ = await nodes("c")
    answering(a)

    def fails(kind: MessageType, nsp: str, data: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("handler bug")

    def not_a_map(kind: MessageType, nsp: str, data: dict[str, Any]) -> Any:
        return ["not", "a", "map"]

    b.set_request_handler(fails)
    c.set_request_handler(not_a_map)
    await known_to_each_other(a, b, c)
    answers = await a.request(MessageType.FETCH_SESSIONS, "", {}, timeout=0.2)
    assert [answer["node"] for answer in answers] == ["a"]
    assert b.stats.deliver_errors == 1 and c.stats.deliver_errors == 1

    a.set_request_handler(None)  # no handler: no local answer either, and no exception
    assert await a.request(MessageType.FETCH_SESSIONS, "", {}, timeout=0.1) == []


async def test_ask_lists_who_did_not_answer_and_can_leave_the_asker_out(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    b, _ = await nodes("b")
    c, _ = await nodes("c")
    answering(a)
    answering(b, coroutine=True)
    c.set_request_handler(None)  # c never answers
    await known_to_each_other(a, b, c)
    kind = MessageType.SERVER_SIDE_EMIT
    data = {"event": "e", "args": [1]}
    gathered = await a.ask(kind, "", data, timeout=0.3, include_self=False)
    assert [answer["node"] for answer in gathered.answers] == ["b"]
    assert gathered.missing == ["c"]
    gathered = await a.ask(kind, "", data, timeout=0.3)
    assert [answer["node"] for answer in gathered.answers] == ["a", "b"]
    assert gathered.missing == ["c"]
    a.set_request_handler(None)
    assert (await a.ask(kind, "", data, timeout=0.1)).missing == ["a", "c"]  # itself first


async def test_a_one_way_server_side_emit_is_delivered_not_answered(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    b, node_b = await nodes("b")
    answering(b)
    await known_to_each_other(a, b)
    a.publish(make_message(MessageType.SERVER_SIDE_EMIT, "", {"event": "e", "args": []},
                           uid="a"))
    await node_b.wait_for_event("e")
    (delivered,) = node_b.delivered
    assert delivered["type"] is MessageType.SERVER_SIDE_EMIT and "rid" not in delivered


async def test_a_nodes_sid_rooms_come_through_one_prefix_subscription(nodes: Nodes) -> None:
    tag = ids.node_tag("Host", 4)
    a, _ = await nodes("a")
    b, node_b = await nodes(tag)
    b.subscribe_sid_rooms("/chat")
    b.subscribe_sid_rooms("/chat")  # idempotent
    mine, theirs = ids.make_sid(tag), ids.make_sid(ids.node_tag("Host", 5))
    await route_ready(a, node_b, "/chat", mine)  # room topics start with b's prefix: they come
    a.publish(emit("to-other", rooms=[theirs]))
    a.publish(emit("to-other-namespace", nsp="/x", rooms=[mine]))
    a.publish(emit("to-mine", rooms=[mine]))
    await node_b.wait_for_event("to-mine")
    assert node_b.events() == ["to-mine"]


async def test_request_node_asks_one_node(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    b, _ = await nodes("b")
    c, _ = await nodes("c")
    executed: list[tuple[str, dict[str, Any]]] = []
    aborted: list[tuple[str, str]] = []
    for bus in (b, c):

        async def execute(request: dict[str, Any], me: str = bus.node_id) -> dict[str, Any]:
            executed.append((me, request))
            if request["target"] == "/hold":
                await asyncio.Event().wait()
            return {"status": 200, "headers": [("X-Node", me)], "body": b"from " + me.encode()}

        def abort(request_id: str, me: str = bus.node_id) -> None:
            aborted.append((me, request_id))

        bus.set_http_handler(execute, abort)

    request = {"id": "r1", "target": "/x", "body": b"\x00\xff"}
    response = await a.request_node("b", MessageType.HTTP_REQUEST, request, timeout=2.0)
    assert response == {"status": 200, "headers": [["X-Node", "b"]], "body": b"from b"}
    assert executed == [("b", request)]  # c never saw it

    started = time.monotonic()  # a silent owner: None when the timeout passes
    held = {"id": "r2", "target": "/hold", "body": b""}
    assert await a.request_node("b", MessageType.HTTP_REQUEST, held, timeout=0.2) is None
    assert time.monotonic() - started >= 0.2
    a.send_node("b", MessageType.HTTP_ABORT, {"id": "r2"})
    await eventually(lambda: aborted == [("b", "r2")], 2.0, message="the abort")

    held = {"id": "r3", "target": "/hold", "body": b""}
    started = time.monotonic()  # an owner that leaves: None at once
    waiting = asyncio.ensure_future(a.request_node("c", MessageType.HTTP_REQUEST, held, 5.0))
    await eventually(lambda: ("c", held) in executed, 2.0, message="c running r3")
    await c.close()
    assert await asyncio.wait_for(waiting, 2.0) is None
    assert time.monotonic() - started < 2.0

    assert await a.request_node("zz", MessageType.HTTP_REQUEST, request, timeout=0.05) is None
    with pytest.raises(LocalError):
        await a.request_node("b", MessageType.FETCH_SESSIONS, {}, timeout=1.0)
    with pytest.raises(LocalError):
        await a.request(MessageType.HTTP_REQUEST, "", {})
    with pytest.raises(BusMessageError):
        a.send_node("b", MessageType.NODE_UP, {})


# --- the node table ------------------------------------------------------------------------------


async def test_node_table_drops_a_silent_node_within_node_timeout(nodes: Nodes) -> None:
    a, _ = await nodes("a", heartbeat_interval=0.05, node_timeout=0.3)
    b, _ = await nodes("b", heartbeat_interval=0.05, node_timeout=0.3)
    c, _ = await nodes("c", heartbeat_interval=0.05, node_timeout=0.3)
    await known_to_each_other(a, b, c)

    await b.close(announce=False)  # heartbeats stop, no NODE_DOWN
    stopped = time.monotonic()
    await eventually(lambda: "b" not in a.nodes, 2.0, message="b gone from a's table")
    elapsed = time.monotonic() - stopped
    assert 0.3 - 0.05 - 0.02 <= elapsed < 0.3 + 0.2
    # Heartbeats keep live nodes in the table well past node_timeout (time has to pass).
    await asyncio.sleep(0.7 - (time.monotonic() - stopped))
    assert "a" in c.nodes and "c" in a.nodes


async def test_node_up_and_down_without_waiting_for_heartbeats(nodes: Nodes) -> None:
    slow: dict[str, Any] = {"heartbeat_interval": 30.0, "node_timeout": 60.0}
    a, _ = await nodes("a", **slow)
    b, _ = await nodes("b", **slow)
    # b's NODE_UP tells a; a answers with a HEARTBEAT addressed to b.
    await known_to_each_other(a, b, timeout=1.0)
    await b.close()  # NODE_DOWN, confirmed through the broker before b's sockets close
    await eventually(lambda: "b" not in a.nodes, 1.0, message="b gone after NODE_DOWN")


async def test_only_a_node_announcing_itself_enters_the_node_table(
    broker: Broker, nodes: Nodes
) -> None:
    """A message from a uid that never sent NODE_UP or HEARTBEAT is delivered, but its
    sender is no node: cluster requests do not wait for an answer from it."""
    slow: dict[str, Any] = {"heartbeat_interval": 30.0, "node_timeout": 60.0}
    a, na = await nodes("a", **slow)
    answering(a)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    raw = context.socket(zmq.PUB)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(broker.pub_address)
    try:
        stray = encode({**emit("from-a-stranger"), "v": 1, "uid": "stranger"})

        def through() -> bool:  # the raw PUB's slow join
            raw.send_multipart(stray)
            return "from-a-stranger" in na.all_events()

        await eventually(through, 2.0, message="the raw publisher to get through")
    finally:
        raw.close(linger=0)
        context.term()
    assert "stranger" not in a.nodes
    started = time.monotonic()
    answers = await a.request(MessageType.FETCH_SESSIONS, "", {}, timeout=2.0)
    assert [answer["node"] for answer in answers] == ["a"]
    assert time.monotonic() - started < 1.0


async def test_a_restarted_node_ends_the_waits_for_the_one_that_died(nodes: Nodes) -> None:
    """A worker restarted under the same id announces itself (NODE_UP) while it is still in
    the table: what was asked of the dead one stops waiting at once."""
    slow: dict[str, Any] = {"heartbeat_interval": 30.0, "node_timeout": 60.0}
    a, _ = await nodes("a", **slow)
    b, _ = await nodes("b", **slow)
    held = asyncio.Event()

    async def hold(request: dict[str, Any]) -> dict[str, Any]:
        held.set()
        await asyncio.Event().wait()
        return {}

    b.set_http_handler(hold, lambda request_id: None)
    await known_to_each_other(a, b)
    request = {"id": "r1", "target": "/hold", "body": b""}
    waiting = asyncio.ensure_future(
        a.request_node("b", MessageType.HTTP_REQUEST, request, timeout=10.0)
    )
    await asyncio.wait_for(held.wait(), 2.0)
    await b.close(announce=False)  # it dies: no NODE_DOWN, and a's table still has it
    assert "b" in a.nodes and not waiting.done()
    started = time.monotonic()
    await nodes("b", **slow)  # its replacement
    assert await asyncio.wait_for(waiting, 2.0) is None
    assert time.monotonic() - started < 2.0


# --- bad input, back-pressure, failures ----------------------------------------------------------


async def test_garbage_sent_to_the_broker_is_dropped_and_counted(
    broker: Broker, nodes: Nodes
) -> None:
    a, na = await nodes("a", max_payload=4096)
    b, nb = await nodes("b", max_payload=4096)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    raw = context.socket(zmq.PUB)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(broker.pub_address)
    try:
        heartbeat = encode(make_message(MessageType.HEARTBEAT, "", {}, uid="raw"))

        def known() -> bool:  # the raw PUB's slow join
            raw.send_multipart(heartbeat)
            return "raw" in a.nodes and "raw" in b.nodes

        await eventually(known, 2.0, message="the raw publisher to get through")

        good = encode(make_message(MessageType.HEARTBEAT, "", {}, uid="raw"))[1]
        room_emit = encode(
            make_message(MessageType.EMIT, "/chat", emit("x", rooms=["r"])["data"], uid="raw")
        )[1]
        garbage: list[list[bytes]] = [
            [CONTROL_TOPIC, b"\xc1"],  # not msgpack
            [CONTROL_TOPIC, b"GET / HTTP/1.1\r\n\r\n"],
            [CONTROL_TOPIC, b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94."],  # pickle
            [CONTROL_TOPIC],  # one frame
            [CONTROL_TOPIC, good, b"extra"],  # three frames
            [CONTROL_TOPIC, good.replace(b"\xa1v\x01", b"\xa1v\x02")],  # version 2
            [CONTROL_TOPIC, good[:-1]],  # truncated
            [CONTROL_TOPIC, room_emit],  # topic does not match the message
            [CONTROL_TOPIC, good + b"x" * 10_000],  # oversized (max_payload 4096)
            [namespace_topic("/chat"), b"\x93\x01\x02\x03"],  # an array, not a map
        ]
        for frames in garbage:
            raw.send_multipart(frames)
        raw.send_multipart([direct_topic("a"), b"\xff\xfe"])  # only a subscribes to this
        raw.send_multipart(encode({**emit("after-garbage"), "v": 1, "uid": "raw"}))
        await na.wait_for_event("after-garbage")
        await nb.wait_for_event("after-garbage")
    finally:
        raw.close(linger=0)
        context.term()

    assert a.stats.dropped_malformed == len(garbage) + 1
    assert b.stats.dropped_malformed == len(garbage)
    a.publish(emit("still-working"))
    await nb.wait_for_event("still-working")


@pytest.mark.server_errors(("tornio.bus.zmq", "bus node b failed to deliver a EMIT message"))
async def test_deliver_exceptions_are_counted_and_the_loop_goes_on(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    b, nb = await nodes("b")
    a.publish(emit("boom"))  # RecordingNode.deliver raises on "boom"
    a.publish(emit("after-boom"))
    await nb.wait_for_event("after-boom")
    assert b.stats.deliver_errors == 1


class PausableProxy:
    """An XSUB/XPUB forwarder whose message direction can be paused (subscriptions always
    flow): a stalled broker, to fill a publisher's queue."""

    def __init__(self) -> None:
        self.context = zmq.asyncio.Context()
        self.xsub = self.context.socket(zmq.XSUB)
        self.xsub.setsockopt(zmq.RCVHWM, 1)
        self.xpub = self.context.socket(zmq.XPUB)
        for sock in (self.xsub, self.xpub):
            sock.setsockopt(zmq.LINGER, 0)
        self.pub_address = f"tcp://127.0.0.1:{self.xsub.bind_to_random_port('tcp://127.0.0.1')}"
        self.sub_address = f"tcp://127.0.0.1:{self.xpub.bind_to_random_port('tcp://127.0.0.1')}"
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.tasks = [
            asyncio.ensure_future(self._forward_subscriptions()),
            asyncio.ensure_future(self._forward_messages()),
        ]

    async def _forward_subscriptions(self) -> None:
        while True:
            await self.xsub.send_multipart(await self.xpub.recv_multipart())

    async def _forward_messages(self) -> None:
        while True:
            await self.flowing.wait()
            await self.xpub.send_multipart(await self.xsub.recv_multipart())

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.xsub.close(linger=0)
        self.xpub.close(linger=0)
        self.context.term()


async def test_high_water_mark_drops_are_counted_and_order_kept(nodes: Nodes) -> None:
    proxy = PausableProxy()
    try:
        big: dict[str, Any] = {"hwm": 4, "max_payload": 200_000}
        a, _ = await nodes("a", pub=proxy.pub_address, sub=proxy.sub_address, **big)
        _, nb = await nodes("b", pub=proxy.pub_address, sub=proxy.sub_address, max_payload=200_000)
        await barrier(a, nb)
        assert a.stats.dropped_hwm == 0

        proxy.flowing.clear()  # the broker stalls: a's queue and TCP buffers fill up
        blob = b"x" * 100_000
        started = time.monotonic()
        for i in range(300):  # 30 MB: more than loopback TCP buffers hold
            a.publish(emit("bulk", i, blob))  # never blocks, never raises
        assert time.monotonic() - started < 2.0
        dropped = a.stats.dropped_hwm
        assert dropped > 0

        proxy.flowing.set()
        await nb.wait_for(lambda: len(nb.events("bulk")) == 300 - dropped, timeout=5.0)
        got = [m["data"]["args"][0] for m in nb.delivered if m["data"]["event"] == "bulk"]
        assert got == sorted(got)  # what got through came in order
        assert got[0] == 0  # the queue filled first, then the drops began
    finally:
        await nodes.close()
        await proxy.close()


async def test_messages_wait_until_ready_and_ready_times_out(nodes: Nodes) -> None:
    pub, sub = free_addresses()
    early = ZmqBus(pub, sub, "early", max_pending=5)  # not attached: not started
    for i in range(8):
        early.publish(emit(f"early-{i}"))
    assert early.stats.dropped_hwm == 3 and early.stats.published == 0
    nodes.buses.append(early)

    lonely, _ = await nodes("lonely", ready=False, pub=pub, sub=sub)
    with pytest.raises(TimeoutError):
        await lonely.ready(timeout=0.2)  # no broker yet

    with Broker(pub, sub):
        await lonely.ready(timeout=2.0)  # it kept probing
        _, nb = await nodes("b", pub=pub, sub=sub)
        await early.ready(timeout=2.0)
        await nb.wait_for_event("early-4")
        await barrier(early, nb)
        assert nb.events() == [f"early-{i}" for i in range(5)]
        await nodes.close()


async def test_publish_checks_the_message_synchronously(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    with pytest.raises(BusMessageError):
        a.publish({"type": "emit", "nsp": "/chat", "data": {}})  # today's manager format
    with pytest.raises(BusMessageError):
        a.publish({**emit("x"), "uid": "someone-else"})
    with pytest.raises(BusMessageError):
        a.publish(emit("too-big", "x" * (2 << 20)))
    await a.close()
    published = a.stats.published
    a.publish(emit("after-close"))  # ignored
    assert a.stats.published == published
    with pytest.raises(LocalError):
        await a.ready()
    with pytest.raises(LocalError):
        await a.request(MessageType.FETCH_SESSIONS, "", {})


async def test_attach_rules(broker: Broker) -> None:
    bus = ZmqBus(broker.pub_address, broker.sub_address)
    try:
        bus.attach(RecordingNode("n1"))
        assert bus.node_id == "n1"
        with pytest.raises(LocalError):
            bus.attach(RecordingNode("n2"))
        with pytest.raises(LocalError):
            ZmqBus(broker.pub_address, broker.sub_address, "x").attach(RecordingNode("y"))
        with pytest.raises(LocalError):
            ZmqBus(broker.pub_address, broker.sub_address, "emitter")
    finally:
        await bus.close()


async def test_broker_over_ipc(tmp_path: Path) -> None:
    with Broker(f"ipc://{tmp_path}/bus") as ipc:
        assert (ipc.pub_address, ipc.sub_address) == (
            f"ipc://{tmp_path}/bus.pub",
            f"ipc://{tmp_path}/bus.sub",
        )
        made = Nodes(ipc)
        try:
            a, _ = await made("a")
            _, nb = await made("b")
            a.publish(emit("over-ipc"))
            await nb.wait_for_event("over-ipc")
        finally:
            await made.close()


def test_broker_addresses() -> None:
    assert broker_addresses("tcp://127.0.0.1:5560") == (
        "tcp://127.0.0.1:5560",
        "tcp://127.0.0.1:5561",
    )
    assert broker_addresses("tcp://*:7000") == ("tcp://*:7000", "tcp://*:7001")
    assert broker_addresses("tcp://[::1]:80") == ("tcp://[::1]:80", "tcp://[::1]:81")
    assert broker_addresses("tcp://h:0") == ("tcp://h:0", "tcp://h:0")
    assert broker_addresses("ipc:///run/t/bus") == ("ipc:///run/t/bus.pub", "ipc:///run/t/bus.sub")
    for bad in ("tcp://h", "udp://h:1", "ipc://", "h:5560"):
        with pytest.raises(ValueError):
            broker_addresses(bad)
    broker = Broker("tcp://127.0.0.1:0").start()
    assert broker.running and broker.pub_address != broker.sub_address
    broker.stop()
    broker.stop()  # idempotent
    assert not broker.running


# --- the broker process --------------------------------------------------------------------------


async def start_broker_process(*args: str) -> tuple[asyncio.subprocess.Process, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tornio.bus.broker",
        *args,
        "--log-level",
        "WARNING",
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 10.0)).decode()
    match = re.fullmatch(r"tornio-broker pub=(\S+) sub=(\S+)\n", line)
    assert match, f"unexpected broker output {line!r}"
    return process, match.group(1), match.group(2)


async def test_broker_process_killed_and_restarted(nodes: Nodes) -> None:
    port = free_port_pair()
    bind = f"tcp://127.0.0.1:{port}"
    processes: list[asyncio.subprocess.Process] = []
    try:
        process, pub, sub = await start_broker_process("--bind", bind)
        processes.append(process)
        assert (pub, sub) == (bind, f"tcp://127.0.0.1:{port + 1}")
        a, _ = await nodes("a", pub=pub, sub=sub)
        b, nb = await nodes("b", pub=pub, sub=sub)
        b.subscribe(nb, "/chat", "r")
        await route_ready(a, nb, "/chat", "r")
        a.publish(emit("before"))
        await nb.wait_for_event("before")

        process.kill()  # SIGKILL: no goodbye to anyone
        await process.wait()
        a.publish(emit("during-outage"))  # may be lost; must not raise or block

        process, _, _ = await start_broker_process("--bind", bind)
        processes.append(process)
        restarted = time.monotonic()
        # The nodes reconnect by themselves, and b's SUB socket subscribes again (room too).
        # Its subscriptions reach the new broker one by one, so a room message may flow a
        # moment before the namespace's: go on until one round brings both.
        for k in itertools.count():
            a.publish(emit(f"tick-{k}"))
            a.publish(emit(f"room-tick-{k}", rooms=["r"]))
            try:
                await nb.wait_for_event(f"room-tick-{k}", timeout=0.02)
                if f"tick-{k}" in nb.events():
                    break
            except asyncio.TimeoutError:
                pass
            assert time.monotonic() - restarted < 2.0, "messages did not flow again in 2 s"
        assert time.monotonic() - restarted < 2.0

        process.send_signal(signal.SIGTERM)  # a clean stop
        assert await asyncio.wait_for(process.wait(), 5.0) == 0
    finally:
        for running in processes:
            if running.returncode is None:
                running.kill()
                await running.wait()
