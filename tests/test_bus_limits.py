"""The bus's own bounds, on real ZeroMQ sockets (127.0.0.1): no topic over
:data:`~tornio.bus.messages.MAX_TOPIC` reaches libzmq (from a node or from the Emitter),
the broker takes no frame over its ``max_message``, the queue of messages waiting for
readiness is bounded in bytes, the high-water marks are the documented ones, and lone
surrogates cross the bus unchanged. (The helpers are ``tests/support/zmq_nodes.py``'s.)
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
import zmq
import zmq.asyncio

from tests.support.zmq_nodes import (
    Nodes,
    barrier,
    emit,
    free_addresses,
    route_ready,
)
from tornio.bus.broker import DEFAULT_HWM as BROKER_HWM
from tornio.bus.broker import DEFAULT_MAX_MESSAGE, Broker
from tornio.bus.emitter import Emitter
from tornio.bus.messages import MAX_TOPIC, BusMessageError, encode, namespace_topic, room_topic
from tornio.bus.zmq import DEFAULT_HWM, ZmqBus

pytestmark = pytest.mark.timeout(30)

_unique = itertools.count()


def room_of_topic_size(size: int, nsp: str = "/chat") -> str:
    """A room whose topic in ``nsp`` is exactly ``size`` bytes."""
    room = "r" * (size - len(room_topic(nsp, "")))
    assert len(room_topic(nsp, room[: MAX_TOPIC // 2])) <= MAX_TOPIC
    return room


async def test_no_topic_over_the_hard_cap_reaches_libzmq(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    b, nb = await nodes("b")
    at_cap = room_of_topic_size(MAX_TOPIC)
    over = at_cap + "r"
    published = a.stats.published  # no await below until the check: no heartbeat either
    subscribed = set(b._rooms)
    for call in (b.subscribe, b.unsubscribe):
        with pytest.raises(BusMessageError, match=f"exceeds the hard limit of {MAX_TOPIC}"):
            call(nb, "/chat", over)
    with pytest.raises(BusMessageError, match="hard limit"):
        a.publish(emit("over", rooms=[over]))
    with pytest.raises(BusMessageError, match="hard limit"):
        a.publish(emit("over", nsp="/" + "n" * MAX_TOPIC))
    frames = encode({**emit("hand-made"), "v": 1, "uid": a.node_id})
    with pytest.raises(BusMessageError, match="hard limit"):  # whoever encoded it
        a.send_encoded([b"r\x00" + b"x" * MAX_TOPIC, frames[1]])
    assert a.stats.published == published and b._rooms == subscribed  # nothing went out
    # A topic of exactly MAX_TOPIC bytes is fine: subscribed, published, unsubscribed.
    b.subscribe(nb, "/chat", at_cap)
    await route_ready(a, nb, "/chat", at_cap)
    b.unsubscribe(nb, "/chat", at_cap)
    await barrier(a, nb)


async def test_the_emitter_refuses_a_topic_over_the_hard_cap(broker: Broker) -> None:
    with Emitter(broker.pub_address, sub_address=broker.sub_address) as emitter:
        with pytest.raises(BusMessageError, match="hard limit"):
            emitter.of("/chat").to(room_of_topic_size(MAX_TOPIC + 1)).emit("e")
        with pytest.raises(BusMessageError, match="hard limit"):
            emitter.of("/chat").to(room_of_topic_size(MAX_TOPIC + 1)).sockets_join("x")
        assert emitter.published == 0


async def test_the_broker_takes_no_frame_over_its_max_message(nodes: Nodes) -> None:
    # b would deliver a 1.5 MiB message (its max_payload allows it): only the broker stops it.
    _, nb = await nodes("b", max_payload=4 << 20)
    context = zmq.asyncio.Context()
    raw = context.socket(zmq.PUB)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(nodes.broker.pub_address)
    topic = namespace_topic("/chat")

    def frames(name: str, size: int = 0) -> list[bytes]:
        return encode({**emit(name, "x" * size), "v": 1, "uid": "raw"}, max_payload=4 << 20)

    async def until_delivered(prefix: str) -> str:
        for _ in range(400):  # the PUB socket learns the subscription asynchronously
            name = f"{prefix}-{next(_unique)}"
            await raw.send_multipart(frames(name))
            try:
                await nb.wait_for_event(name, timeout=0.05)
                return name
            except asyncio.TimeoutError:
                continue
        raise AssertionError(f"{prefix}: nothing from the raw publisher reached b")

    try:
        await until_delivered("before")
        big = frames("big", 3 << 19)
        assert big[0] == topic and DEFAULT_MAX_MESSAGE < len(big[1]) <= 4 << 20
        await raw.send_multipart(big)
        # The broker drops the connection that sent it; the PUB socket reconnects, and what
        # it sends then comes through. Had the broker forwarded "big", it would have come
        # first: one connection keeps its order.
        await until_delivered("after")
        assert "big" not in nb.all_events()
    finally:
        raw.close(linger=0)
        context.term()
    assert nodes.broker.running


async def test_messages_waiting_for_readiness_are_bounded_in_bytes() -> None:
    pub, sub = free_addresses()
    early = ZmqBus(pub, sub, "early", max_pending=1000, max_pending_bytes=250_000)
    try:
        for i in range(5):
            early.publish(emit(f"early-{i}", "x" * 100_000))  # ~100 KB each
        assert early.stats.dropped_hwm == 3 and early.stats.published == 0
        early.publish(emit("small"))  # still fits
        assert early.stats.dropped_hwm == 3
    finally:
        await early.close(announce=False)


async def test_queues_have_the_documented_high_water_marks(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    assert a._pub is not None and a._sub is not None
    assert a._pub.getsockopt(zmq.SNDHWM) == DEFAULT_HWM == 1000
    assert a._sub.getsockopt(zmq.RCVHWM) == DEFAULT_HWM
    assert nodes.broker.hwm == BROKER_HWM == 1000
    with Emitter(nodes.broker.pub_address, sub_address=nodes.broker.sub_address) as emitter:
        assert emitter.hwm == 1000


async def test_lone_surrogates_cross_the_bus_unchanged(nodes: Nodes) -> None:
    a, _ = await nodes("a")
    b, nb = await nodes("b")
    room = "\udc80room"
    b.subscribe(nb, "/chat", room)
    await route_ready(a, nb, "/chat", room)
    a.publish(emit("lone", "a\ud800b", {"k\udfff": ["\ud83d"]}, rooms=[room]))
    await nb.wait_for_event("lone")
    (got,) = [m for m in nb.delivered if m["data"]["event"] == "lone"]
    assert got["data"]["args"] == ["a\ud800b", {"k\udfff": ["\ud83d"]}]
    assert got["data"]["rooms"] == [room]
