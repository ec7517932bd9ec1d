"""The bus's fast paths on the room-broadcast path (tornio.bus.zmq, tornio.bus.paths): what
one broker puts on the wire, and a node's own messages coming back from the broker.

Real ZeroMQ sockets on 127.0.0.1 and an in-process broker; a raw SUB socket reads what the
broker forwards, a raw PUB socket sends what no node would. "Arrived" is an awaited event;
"nothing else happened" is shown with a barrier (the same publisher's later message).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import msgpack  # type: ignore[import-untyped]
import pytest
import zmq

from tests.support.waiting import eventually
from tests.support.zmq_nodes import Nodes, emit, route_ready
from tornio.bus.base import Message
from tornio.bus.broker import Broker
from tornio.bus.messages import (
    CONTROL_TOPIC,
    BusMessageError,
    MessageType,
    encode,
    make_message,
    own_prefix,
    room_topic,
)

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def raw_context() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        yield context
    finally:
        context.destroy(linger=0)


async def test_one_broker_carries_the_two_frames_encode_gives(
    broker: Broker, nodes: Nodes, raw_context: zmq.Context[zmq.Socket[bytes]]
) -> None:
    """With one broker there are no copies to tell apart: no stamp frame, as before brokers
    could be several."""
    tap = raw_context.socket(zmq.SUB)
    tap.subscribe(room_topic("/chat", "r"))
    tap.connect(broker.sub_address)
    a, _ = await nodes("a")
    b, nb = await nodes("b")
    b.subscribe(nb, "/chat", "r")
    await route_ready(a, nb, "/chat", "r")
    message = emit("on-the-wire", {"n": 1}, rooms=["r"])
    a.publish(message)
    await nb.wait_for_event("on-the-wire")
    expected = a.encode(message)
    assert len(expected) == 2
    seen = []
    while tap.poll(2000):
        frames = tap.recv_multipart()
        seen.append(frames)
        if frames == expected:
            break
    assert seen[-1] == expected
    assert all(len(frames) == 2 for frames in seen)


UIDS = ["a", "ab", "b", "x" * 128, "é\ud800", "emitter"]


@pytest.mark.parametrize("uid", UIDS)
def test_own_prefix_tells_a_nodes_payloads_from_everyone_elses(uid: str) -> None:
    made = [
        make_message(MessageType.EMIT, "/", emit("e", rooms=["r"])["data"], uid=uid),
        make_message(MessageType.EMIT, "/", emit("e", to="s")["data"], uid=uid, dst="n"),
        make_message(MessageType.HEARTBEAT, "", {"http": "x"}, uid=uid),
        make_message(MessageType.FETCH_SESSIONS, "/", {}, uid=uid, rid=7),
        make_message(MessageType.FETCH_SESSIONS_RESPONSE, "/", {}, uid=uid, rid=2**40, dst="n"),
    ]
    for message in made:
        payload = encode(message)[1]
        assert msgpack.unpackb(payload, raw=False, unicode_errors="surrogatepass")["uid"] == uid
        assert payload.startswith(own_prefix(uid), 1)
        assert [other for other in UIDS if payload.startswith(own_prefix(other), 1)] == [uid]


async def test_own_room_messages_come_back_unread_and_control_ones_are_read(
    broker: Broker, nodes: Nodes, raw_context: zmq.Context[zmq.Socket[bytes]]
) -> None:
    """A node's own messages on room and namespace topics are dropped without decoding (it
    published them and delivered them locally); on the control topic they are read (its
    heartbeats, probes, NODE_DOWN). A node whose id starts like this node's is another."""
    a, na = await nodes("a")
    ab, _ = await nodes("ab")
    a.subscribe(na, "/chat", "r")
    await route_ready(ab, na, "/chat", "r")
    raw = raw_context.socket(zmq.PUB)
    raw.connect(broker.pub_address)
    hello = encode(make_message(MessageType.HEARTBEAT, "", {}, uid="raw"))

    def raw_known() -> bool:  # the raw PUB's slow join
        raw.send_multipart(hello)
        return "raw" in a.nodes

    await eventually(raw_known, 2.0, message="the raw publisher to get through")
    # Frames that begin as a's own message and then are not msgpack at all.
    forged = b"\x85" + own_prefix("a") + b"\xc1\xc1"
    malformed = a.stats.dropped_malformed
    raw.send_multipart([room_topic("/chat", "r"), forged])
    raw.send_multipart([CONTROL_TOPIC, forged])
    raw.send_multipart(encode({**emit("from-raw", rooms=["r"]), "v": 1, "uid": "raw"}))
    await na.wait_for_event("from-raw")
    assert a.stats.dropped_malformed == malformed + 1  # the control one, read; not the room's
    ab.publish(emit("from-ab", rooms=["r"]))
    await na.wait_for_event("from-ab")
    a.publish(emit("from-a", rooms=["r"]))
    ab.publish(emit("barrier", rooms=["r"]))
    await na.wait_for_event("barrier")
    assert na.events("from-") == ["from-raw", "from-ab"]
    assert a.stats.dropped_malformed == malformed + 1


async def test_send_encoded_refuses_what_encode_does_not_give(nodes: Nodes) -> None:
    """A frame that is not bytes would leave a half-sent message on the PUB socket: refused
    before anything is sent, and the next message arrives whole."""
    a, _ = await nodes("a")
    b, nb = await nodes("b")
    frames = a.encode(emit("whole"))
    for bad in ([frames[0], "text"], [frames[0]], [*frames, b"\x00" * 16], [bytearray(frames[0]),
                                                                             frames[1]]):
        with pytest.raises(BusMessageError, match="two frames encode"):
            a.send_encoded(bad)  # type: ignore[arg-type]
    a.send_encoded(frames)
    await nb.wait_for_event("whole")
    assert b.stats.dropped_malformed == 0


async def test_a_burst_is_read_in_slices_with_the_loop_free_between(
    broker: Broker, nodes: Nodes, raw_context: zmq.Context[zmq.Socket[bytes]]
) -> None:
    """What is queued at a SUB socket is read without an await per message, but at most a
    slice (64) at a time: the loop's other tasks (the sockets' writes) run between slices."""
    a, _ = await nodes("a")
    b, nb = await nodes("b")
    b.subscribe(nb, "/chat", "r")
    await route_ready(a, nb, "/chat", "r")
    tap = raw_context.socket(zmq.SUB)
    tap.subscribe(room_topic("/chat", "r"))
    tap.connect(broker.sub_address)

    def tapped() -> bool:  # the tap's subscription has reached the broker
        a.publish(emit("tap", rooms=["r"]))
        return bool(tap.poll(10))

    await eventually(tapped, 2.0, message="the tap's subscription through the broker")
    await nb.wait_for(lambda: nb.events("tap") != [])
    while tap.poll(100):
        tap.recv_multipart()
    ticks = 0
    at_delivery: list[int] = []

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    deliver = nb.deliver

    def recording(message: Message) -> None:
        if message["data"]["event"].startswith("burst-"):
            at_delivery.append(ticks)
        deliver(message)

    nb.deliver = recording  # type: ignore[method-assign]
    count = 600
    for number in range(count):
        a.publish(emit(f"burst-{number}", rooms=["r"]))
    # The loop is held (no await) until the broker has passed the whole burst on: the tap
    # reads what b's SUB socket is sent at the same time.
    for _ in range(count):
        assert tap.poll(5000)
        tap.recv_multipart()
    task = asyncio.get_running_loop().create_task(ticker())
    try:
        await nb.wait_for(lambda: len(at_delivery) == count)
    finally:
        task.cancel()
    assert nb.events("burst-") == [f"burst-{n}" for n in range(count)]
    # The slices: the ticker ran between the first message and the last, in runs of at most
    # 64 deliveries without a tick.
    assert at_delivery[-1] > at_delivery[0]
    runs = [len(list(group)) for _, group in itertools.groupby(at_delivery)]
    assert max(runs) <= 64
