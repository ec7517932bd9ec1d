"""Several brokers (tornio.bus.zmq with tornio.bus.sequence): real ZeroMQ sockets on
127.0.0.1, two in-process brokers on fixed ports (so that one can come back where it was),
:class:`ZmqBus` nodes with recording nodes in place of the manager.

Delivery is awaited as an event; "nothing more arrived" is shown with a barrier (the same
publisher's last message: once it is there, whatever came before it is). Where only time
tells (a path carrying the node's heartbeats again, a gap), a condition is polled with a
deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.multihost import free_port_pair
from tests.support.waiting import eventually
from tests.support.zmq_nodes import RecordingNode, emit
from tornio.bus.addresses import bus_addresses
from tornio.bus.broker import Broker
from tornio.bus.emitter import Emitter
from tornio.bus.messages import MessageType
from tornio.bus.store import BusRecovery, RecoveryStore
from tornio.bus.zmq import ZmqBus

pytestmark = pytest.mark.timeout(60)

FAST = {"heartbeat_interval": 0.05, "node_timeout": 0.5}
#: A publisher, and receivers with their recording nodes.
Nodes = tuple[ZmqBus, list[tuple[ZmqBus, RecordingNode]]]


@pytest.mark.parametrize(("text", "pub", "sub"), [
    ("tcp://a:5560", "tcp://a:5560", "tcp://a:5561"),
    ("tcp://a:5560,tcp://b:7000", "tcp://a:5560,tcp://b:7000", "tcp://a:5561,tcp://b:7001"),
    (" tcp://a:5560 , ipc:///run/t", "tcp://a:5560,ipc:///run/t.pub", "tcp://a:5561,ipc:///run/t.sub"),
])
def test_brokers_are_separated_by_commas(text: str, pub: str, sub: str) -> None:
    assert bus_addresses(text) == (pub, sub)
    bus = ZmqBus(pub, sub)
    assert (bus.paths, bus.pub_address, bus.sub_address) == (len(pub.split(",")), pub, sub)


class Brokers:
    """Two brokers on fixed loopback ports: stop one, start it again on the same ports."""

    def __init__(self) -> None:
        self.addresses = [f"tcp://127.0.0.1:{free_port_pair()}" for _ in range(2)]
        self.running: list[Broker | None] = [None, None]

    def start(self, index: int) -> None:
        self.running[index] = Broker(self.addresses[index]).start()

    def stop(self, index: int) -> None:
        broker = self.running[index]
        if broker is not None:
            broker.stop()
        self.running[index] = None

    @property
    def pub(self) -> list[str]:
        return [a for a in self.addresses]

    @property
    def sub(self) -> list[str]:
        return [f"{a.rpartition(':')[0]}:{int(a.rpartition(':')[2]) + 1}" for a in self.addresses]

    def bus(self, node_id: str, **options: Any) -> ZmqBus:
        return ZmqBus(self.pub, self.sub, node_id=node_id, **{**FAST, **options})


@pytest.fixture
def brokers() -> Any:
    pair = Brokers()
    pair.start(0)
    pair.start(1)
    try:
        yield pair
    finally:
        pair.stop(0)
        pair.stop(1)


@pytest.fixture
async def nodes(brokers: Brokers) -> AsyncIterator[Nodes]:
    """A publisher and two receivers in room "r" of /chat, every path proven."""
    publisher = brokers.bus("pub")
    publisher.attach(RecordingNode("pub"))
    receivers = []
    for name in ("r1", "r2"):
        bus = brokers.bus(name)
        node = RecordingNode(name)
        bus.attach(node)
        bus.subscribe(node, "/chat", "r")
        receivers.append((bus, node))
    everyone = [publisher, *(bus for bus, _ in receivers)]
    try:
        for bus in everyone:
            await bus.ready()
        await eventually(lambda: all(len(b.live_paths()) == 2 for b in everyone), 5,
                         message="every node's heartbeats through both brokers")
        ids = {b.node_id for b in everyone}
        await eventually(lambda: all(set(b.nodes) == ids - {b.node_id} for b in everyone), 5,
                         message="every node in every node table")
        yield publisher, receivers
    finally:
        for bus in everyone:
            await bus.close(announce=False)


async def stream(publisher: ZmqBus, numbers: range) -> None:
    for number in numbers:
        publisher.publish(emit(f"m{number}", rooms=["r"]))
        if number % 10 == 0:
            await asyncio.sleep(0)  # let the receivers read meanwhile


async def test_every_message_once_in_order_while_the_brokers_die_in_turn(
    brokers: Brokers, nodes: Any, caplog: pytest.LogCaptureFixture
) -> None:
    publisher, receivers = nodes
    everyone = [publisher, *(bus for bus, _ in receivers)]
    caplog.set_level(logging.INFO, "tornio.bus")
    await stream(publisher, range(0, 200))
    brokers.stop(0)
    await stream(publisher, range(200, 400))
    await eventually(lambda: all(b.live_paths() == [1] for b in everyone), 5,
        message="broker 0 gone")
    brokers.start(0)
    await stream(publisher, range(400, 500))
    await eventually(lambda: all(len(b.live_paths()) == 2 for b in everyone), 5,
                     message="broker 0 back on every node")
    await stream(publisher, range(500, 600))
    brokers.stop(1)
    await stream(publisher, range(600, 800))
    publisher.publish(emit("barrier-end", rooms=["r"]))
    expected = [f"m{n}" for n in range(800)]
    for bus, node in receivers:
        await node.wait_for_event("barrier-end", timeout=5)
        assert node.events("m") == expected, bus.node_id
        assert bus.stats.duplicates > 0
        # Away from broker 1 when it died last (and away from 0 before, if it was first).
        assert bus.stats.failovers >= 1 and bus._sequencer is not None
        assert bus._sequencer.primary == 0
        # The node tables never lost anyone.
        assert set(bus.nodes) == {b.node_id for b in everyone} - {bus.node_id}
    assert "timed out" not in caplog.text and "cut off" not in caplog.text


async def test_a_request_through_two_brokers_is_run_once_and_answered_once(
    nodes: Any,
) -> None:
    publisher, receivers = nodes
    owner, _ = receivers[0]
    runs: list[dict[str, Any]] = []

    async def execute(request: dict[str, Any]) -> dict[str, Any]:
        runs.append(request)
        return {"status": 200, "n": len(runs)}

    owner.set_http_handler(execute, lambda request_id: None)
    for number in range(20):
        answer = await publisher.request_node(owner.node_id, MessageType.HTTP_REQUEST,
                                              {"id": f"q{number}"}, timeout=5)
        assert answer == {"status": 200, "n": number + 1}
    assert [r["id"] for r in runs] == [f"q{n}" for n in range(20)]

    for bus, _ in receivers:
        bus.set_request_handler(lambda kind, nsp, data, me=bus.node_id: {"me": me})
    publisher.set_request_handler(lambda kind, nsp, data: {"me": "pub"})
    answers = await publisher.ask(MessageType.FETCH_SESSIONS, "/chat", {}, timeout=5)
    assert sorted(a["me"] for a in answers.answers) == ["pub", "r1", "r2"]
    assert answers.missing == []


async def test_a_loop_that_stalls_past_the_node_timeout_forgets_no_node_and_starts_no_gap(
    nodes: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A blocking handler or an overloaded machine stalls a worker's loop for longer than
    node_timeout: the others' heartbeats wait unread meanwhile. Judged before they are read,
    every peer would be forgotten (a request in flight to one answered None) and a gap begun
    (messages published in it lost)."""
    publisher, receivers = nodes
    owner, member = receivers[0]
    caplog.set_level(logging.INFO, "tornio.bus")

    async def execute(request: dict[str, Any]) -> dict[str, Any]:
        return {"status": 200, "id": request["id"]}

    owner.set_http_handler(execute, lambda request_id: None)
    time.sleep(3 * FAST["node_timeout"])  # the stall: every bus here shares this loop
    answer = await publisher.request_node(owner.node_id, MessageType.HTTP_REQUEST,
                                          {"id": "q"}, timeout=5)
    assert answer == {"status": 200, "id": "q"}
    publisher.publish(emit("after-the-stall", rooms=["r"]))
    await member.wait_for_event("after-the-stall", timeout=5)
    everyone = [publisher, *(bus for bus, _ in receivers)]
    assert [bus.stats.gaps for bus in everyone] == [0, 0, 0]
    assert "timed out" not in caplog.text and "cut off" not in caplog.text


async def test_no_broker_for_the_node_timeout_is_a_gap_said_and_counted(
    brokers: Brokers, nodes: Any, caplog: pytest.LogCaptureFixture
) -> None:
    publisher, receivers = nodes
    caplog.set_level(logging.INFO, "tornio.bus")
    assert publisher.is_ready
    brokers.stop(0)
    brokers.stop(1)
    await eventually(lambda: not publisher.is_ready, 5, message="the publisher to see the gap")
    assert publisher.stats.gaps == 1 and publisher.live_paths() == []
    assert "cut off" in caplog.text
    publisher.publish(emit("lost", rooms=["r"]))
    assert publisher.stats.published_in_gap == 1
    # The others leave its node table; a request to one of them gives up at once, not
    # after its own timeout (here a minute: the test's bound is far shorter).
    owner = receivers[0][0].node_id
    await eventually(lambda: owner not in publisher.nodes, 5,
        message="the others gone from the table")
    request = publisher.request_node(owner, MessageType.HTTP_REQUEST, {"id": "q"}, timeout=60)
    assert await asyncio.wait_for(request, 10) is None
    brokers.start(1)
    await eventually(lambda: publisher.is_ready, 5, message="the publisher back")
    assert "reconnected through" in caplog.text
    await eventually(lambda: all(bus.is_ready for bus, _ in receivers), 5, message="receivers back")
    publisher.publish(emit("barrier-after", rooms=["r"]))
    for _, node in receivers:
        await node.wait_for_event("barrier-after", timeout=5)


async def test_an_emitter_publishes_to_every_broker_and_nodes_keep_one_copy(
    brokers: Brokers, nodes: Any
) -> None:
    _, receivers = nodes
    with Emitter(",".join(brokers.pub), sub_address=brokers.sub) as emitter:
        for number in range(50):
            emitter.of("/chat").to("r").emit(f"e{number}")
        brokers.stop(0)
        for number in range(50, 100):
            emitter.of("/chat").to("r").emit(f"e{number}")
        emitter.of("/chat").to("r").emit("barrier-emitter")
    for _, node in receivers:
        await node.wait_for_event("barrier-emitter", timeout=5)
        assert node.events("e") == [f"e{n}" for n in range(100)]


async def test_the_recovery_store_keeps_working_while_one_broker_lives(brokers: Brokers) -> None:
    store_bus = brokers.bus("store-h1", all_rooms=True)
    store = RecoveryStore(store_bus, max_disconnection_duration=60)
    worker_bus = brokers.bus("h1-w0")
    worker_bus.attach(RecordingNode("h1-w0"))
    recovery = BusRecovery(worker_bus, "store-h1")
    try:
        for bus in (store_bus, worker_bus):
            await bus.ready()
        await eventually(lambda: "store-h1" in worker_bus.nodes, 5,
            message="the store in the table")
        pid = recovery.new_pid()
        recovery.seen(pid, "sid-1", "/chat", ["lobby"], {"nick": "ann"})
        for number in range(1, 6):
            if number == 2:  # the first broker dies; the session is lost meanwhile
                brokers.stop(0)
                recovery.lost(pid, {"nick": "ann"})
            message = emit(f"e{number}", rooms=["lobby"])
            message["data"]["offset"] = f"o{number}"
            worker_bus.publish(message)
        await eventually(lambda: store.log.emits_kept == 5, 5, message="five emits logged")
        restored = await recovery.restore(pid, "o1")
        assert restored is not None
        assert restored["missed"] == [[f"e{n}", f"o{n}"] for n in range(2, 6)]
        assert await recovery.restore(pid, "o1") is None  # restored once
    finally:
        for bus in (store_bus, worker_bus):
            await bus.close(announce=False)
