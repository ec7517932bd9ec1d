"""The recovery store as a real bus node: a worker-like node reports sessions and emits to
it over a real broker, and gets them back after the session (or the node) is lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.waiting import eventually
from tests.support.zmq_nodes import FAST, RecordingNode
from tornio.bus.broker import Broker
from tornio.bus.store import BusRecovery, LocalRecovery, NodeRecovery, RecoveryStore, store_of
from tornio.bus.zmq import ZmqBus


class Cluster:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.buses: list[ZmqBus] = []

    def bus(self, node_id: str, **kwargs: Any) -> ZmqBus:
        bus = ZmqBus(self.broker.pub_address, self.broker.sub_address, node_id=node_id,
                     **{**FAST, **kwargs})
        self.buses.append(bus)
        return bus


@pytest.fixture
async def cluster(broker: Broker) -> AsyncIterator[Cluster]:
    made = Cluster(broker)
    try:
        yield made
    finally:
        for bus in made.buses:
            await bus.close(announce=False)


def emit_data(event: str, *args: Any, rooms: list[str] | None = None,
              to: str | None = None) -> dict[str, Any]:
    return {"event": event, "args": list(args), "rooms": rooms or [], "to": to, "skip": []}


async def setup(cluster: Cluster) -> tuple[RecoveryStore, ZmqBus, BusRecovery]:
    store_bus = cluster.bus("store-h1", all_rooms=True)
    store = RecoveryStore(store_bus, max_disconnection_duration=60)
    await store_bus.ready(timeout=2.0)
    worker_bus = cluster.bus("h1-w0")
    worker_bus.attach(RecordingNode("h1-w0"))
    await worker_bus.ready(timeout=2.0)
    await eventually(lambda: "store-h1" in worker_bus.nodes, message="the store in the table")
    return store, worker_bus, BusRecovery(worker_bus, "store-h1")


async def test_a_lost_session_is_restored_with_the_emits_it_missed(cluster: Cluster) -> None:
    store, worker_bus, recovery = await setup(cluster)
    pid = recovery.new_pid()
    assert store_of(pid) == "store-h1"
    recovery.seen(pid, "sid-1", "/chat", ["lobby"], {"nick": "ann"})
    # an emit to the room, published as any room emit is, with its offset
    worker_bus.publish({"type": 3, "nsp": "/chat",
                        "data": {**emit_data("before", rooms=["lobby"]), "offset": "o1"}})
    recovery.record("o2", "/chat", emit_data("to-me", to="sid-1"))  # a local emit to a sid
    await eventually(lambda: store.log.emits_kept == 2, message="two emits logged")
    recovery.lost(pid, {"nick": "bob"})
    worker_bus.publish({"type": 3, "nsp": "/chat",
                        "data": {**emit_data("missed", 7, rooms=["lobby"]), "offset": "o3"}})
    worker_bus.publish({"type": 3, "nsp": "/chat",
                        "data": {**emit_data("elsewhere", rooms=["kitchen"]), "offset": "o4"}})
    await eventually(lambda: store.log.emits_kept == 4, message="four emits logged")
    restored = await recovery.restore(pid, "o1")
    assert restored is not None
    assert (restored["sid"], restored["rooms"], restored["data"]) == (
        "sid-1", ["lobby"], {"nick": "bob"})
    assert restored["missed"] == [["to-me", "o2"], ["missed", 7, "o3"]]
    assert await recovery.restore(pid, "o1") is None  # once


async def test_the_sessions_of_a_node_that_vanished_are_lost(cluster: Cluster) -> None:
    store, worker_bus, recovery = await setup(cluster)
    pid = recovery.new_pid()
    recovery.seen(pid, "sid-1", "/", [], {})
    recovery.record("o1", "/", emit_data("e"))
    await eventually(lambda: len(store.log) == 1 and store.log.emits_kept == 1,
                     message="the session and the emit at the store")
    asker = cluster.bus("h2-w0")
    asker.attach(RecordingNode("h2-w0"))
    await asker.ready(timeout=2.0)
    other = BusRecovery(asker, "store-h2")
    await eventually(lambda: "store-h1" in asker.nodes, message="the store in h2's table")
    assert await other.restore(pid, "o1") is None  # still connected to h1-w0
    await worker_bus.close(announce=False)  # dies without a word: it times out of the table
    await eventually(lambda: store.log.lost_since(pid) is not None, timeout=3.0,
                     message="the session lost with its node")
    restored = await other.restore(pid, "o1")  # from another host, through the pid's store
    assert restored is not None and restored["sid"] == "sid-1"


async def test_a_reconnect_without_a_store_is_not_recovered(cluster: Cluster) -> None:
    bus = cluster.bus("h1-w0")
    bus.attach(RecordingNode("h1-w0"))
    await bus.ready(timeout=2.0)
    recovery = BusRecovery(bus, "store-h1", timeout=0.3)
    assert await recovery.restore("store-h1~x", "o1") is None
    assert await recovery.restore("no-store-in-it", "o1") is None


async def test_local_recovery_in_one_process() -> None:
    now = [0.0]
    local = LocalRecovery(10.0, "node", clock=lambda: now[0])
    pid = local.new_pid()
    local.seen(pid, "s", "/", ["r"], {})
    local.record("o1", "/", emit_data("a"))
    local.lost(pid, {"k": 1})
    local.record("o2", "/", emit_data("b", rooms=["r"]))
    restored = await local.restore(pid, "o1")
    assert restored is not None and restored["missed"] == [["b", "o2"]]
    now[0] = 100.0
    local.seen(pid, "s", "/", [], {})
    local.lost(pid, {})
    await asyncio.sleep(0)
    assert await local.restore(pid, "o2") is None  # o2 has expired


class Recorded(LocalRecovery):
    """The local memory, counting what it is asked to record (as a store's would be asked:
    ``hears_the_bus``)."""

    def __init__(self, hears_the_bus: bool) -> None:
        super().__init__(60.0, "node-a")
        self.hears_the_bus = hears_the_bus
        self.recorded: list[str] = []

    def record(self, offset: str, nsp: str, data: Any) -> None:
        self.recorded.append(offset)
        super().record(offset, nsp, data)


@pytest.mark.parametrize("hears_the_bus", [False, True])
async def test_a_nodes_side_of_recovery_stamps_records_and_saves_in_one_place(
    hears_the_bus: bool,
) -> None:
    """NodeRecovery, the manager's one collaborator for recovery: every emit gets an offset
    and ``to`` becomes a room; the memory records what nobody else will (a store hears the
    published emits itself); changes are saved once the loop's pass is over."""
    memory = Recorded(hears_the_bus)
    node = NodeRecovery(memory)
    data: dict[str, Any] = {"event": "e", "args": [1], "rooms": [], "to": "sid-1", "skip": []}
    offset = node.stamp(data)
    assert (data["rooms"], data["to"], data["offset"]) == (["sid-1"], None, offset)
    assert node.stamp({"to": None, "rooms": ["r"]}) != offset  # a fresh one each time
    node.emitted(offset, "/chat", data, published=True)
    node.emitted("local.1", "/chat", data, published=False)  # local=True: never on the bus
    node.heard("/chat", {**data, "offset": "other.1"})  # another node's emit
    mine = node.own_emit("/chat", "sid-1", "e", [2])
    expected = [offset, "local.1", "other.1", mine] if not hears_the_bus else ["local.1", mine]
    assert memory.recorded == expected

    saved: list[str] = []

    class Socket:
        pids = {"/chat": "pid"}

        def save_recoverable(self, endpoint: str) -> None:
            saved.append(endpoint)

    socket = Socket()
    for _ in range(3):
        node.save_soon("/chat", socket)
    node.save_soon("/other", socket)  # not recoverable there: nothing
    assert saved == []
    await asyncio.sleep(0)  # the end of this pass of the loop
    assert saved == ["/chat"]
