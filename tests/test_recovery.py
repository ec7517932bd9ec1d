"""Connection state recovery with socket.io-client 4.8 under Node
(``tests/js/recovery_client.mjs``): a client whose connection broke comes back with the same
id, its rooms, its session data and every event it missed, in order and before anything
new; the namespace sees ``self.recovered``. In one process (the memory in the manager) and
under ``tornio serve --workers 2`` after the owner worker is SIGKILLed (the memory in the
host's recovery store process).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apps.recovery import RecoveryNamespace, namespaces
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import LegacyClient
from tests.support.node_client import JS_DIR, NodeClient, node_modules_ready
from tests.support.serve_cluster import ClusterProcess, worker_of
from tests.support.waiting import wait_for
from tornio import Emitter
from tornio.bus.broker import Broker
from tornio.bus.store import RecoveryStore
from tornio.bus.zmq import ZmqBus
from tornio.settings import Settings

pytestmark = pytest.mark.timeout(90)

DRIVER = JS_DIR / "recovery_client.mjs"


class Driver:
    """One reconnecting client on ``/chat``; every wait runs in a thread (the server may be
    on the test's loop)."""

    def __init__(self, base: str, **options: Any) -> None:
        missing = node_modules_ready()
        assert missing is None, missing
        self.client = NodeClient(base, "reconnecting", {"nsp": "/chat", "total": 60000,
                                                         **options},
                                 timeout=20, driver=DRIVER)

    async def step(self, name: str, **match: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self.client.step, name, **match)

    async def ask(self, event: str, *args: Any) -> Any:
        """Emit with an ack; the ack's value."""
        return (await asyncio.to_thread(self.client.emit, event, *args))[0]

    async def event(self, event: str) -> list[Any]:
        """The arguments of the next ``event`` the client got."""
        return list((await self.step("event", event=event))["args"])

    async def events(self, count: int) -> list[list[Any]]:
        """The next ``count`` events, in the order the client got them: [event, *args]."""
        return [[line["event"], *line["args"]] for line in
                [await self.step("event") for _ in range(count)]]

    def send(self, cmd: str, **fields: Any) -> None:
        self.client.send({"cmd": cmd, **fields})

    def close(self) -> None:
        self.client.kill()


@pytest.fixture
async def server() -> AsyncIterator[InLoopServer]:
    RecoveryNamespace.connections.clear()
    running = await InLoopServer.start(namespaces, connection_state_recovery=True)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def clients() -> Iterator[list[Driver]]:
    made: list[Driver] = []
    yield made
    for client in made:
        client.close()


async def gone(server: InLoopServer, sid: str) -> None:
    """The server has seen the connection ``sid`` end."""
    await asyncio.to_thread(
        wait_for, lambda: sid not in server.manager.rooms.members("/chat"), 10,
        message=f"{sid} gone",
    )


async def dropped(server: InLoopServer, client: Driver) -> dict[str, Any]:
    """The client connects, gets an event (so that it has an offset), loses its connection
    and stays away; the server has seen it go. Its first ``connect`` line."""
    first = await client.step("connect")
    assert await client.ask("tell_me", "x") is True
    await client.event("told")
    client.send("drop", hold=True)
    await client.step("disconnect")
    await gone(server, first["id"])
    return first


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_dropped_transport_comes_back_with_its_id_rooms_data_and_missed_events(
    server: InLoopServer, clients: list[Driver], transport: str
) -> None:
    a = Driver(server.base, transports=[transport])
    b = Driver(server.base, transports=[transport])
    clients += [a, b]
    first = await a.step("connect")
    assert first["recovered"] is False and isinstance(first["pid"], str)
    b_id = (await b.step("connect"))["id"]
    assert await a.ask("join", "lobby") == ["lobby"]
    assert await a.ask("remember", {"k": [1, 2]}) is True
    assert await b.ask("join", "lobby") == ["lobby"]
    assert await b.ask("say", "lobby", "before") is True
    said = await a.event("said")
    assert said[0] == "before" and isinstance(said[1], str)  # the offset, one more argument
    # The last event before the drop is the namespace's own emit: its offset is known too.
    assert await a.ask("tell_me", "hi") is True
    told = await a.event("told")
    assert told[0] == "hi" and isinstance(told[1], str) and told[1] != said[1]

    a.send("drop", hold=True)
    await a.step("disconnect")
    await gone(server, first["id"])
    assert await b.ask("say", "lobby", "missed 1") is True
    assert await b.ask("say", "lobby", "missed 2") is True
    manager = server.manager
    manager.emit("news", "to all", namespace="/chat")
    manager.emit("private", "for a", namespace="/chat", to=first["id"])
    manager.emit("private", "for b", namespace="/chat", to=b_id)
    manager.emit("other", "not a's room", namespace="/chat", room="elsewhere")

    a.send("reconnect")
    again = await a.step("connect")
    assert again["recovered"] is True
    assert again["id"] == first["id"] and again["pid"] == first["pid"]
    missed = await a.events(4)
    assert [event[:2] for event in missed] == [
        ["said", "missed 1"], ["said", "missed 2"], ["news", "to all"], ["private", "for a"],
    ]
    assert all(isinstance(event[2], str) for event in missed)
    me = await a.ask("whoami")
    assert me["sid"] == first["id"] and me["recovered"] is True
    assert me["rooms"] == ["lobby"] and me["remembered"] == {"k": [1, 2]}
    assert RecoveryNamespace.connections[-1] == (first["id"], True)
    # Live again: new events come, and the room still holds it.
    assert await b.ask("say", "lobby", "after") is True
    assert (await a.events(1))[0][:2] == ["said", "after"]
    assert len(manager.rooms.room("/chat", "lobby")) == 2


async def test_a_client_that_left_on_purpose_is_not_recovered(
    server: InLoopServer, clients: list[Driver]
) -> None:
    a = Driver(server.base, transports=["websocket"])
    clients.append(a)
    first = await a.step("connect")
    assert await a.ask("tell_me", "x") is True
    offset = (await a.event("told"))[1]
    a.send("quit")  # socket.disconnect(): "client namespace disconnect"
    await gone(server, first["id"])
    b = Driver(server.base, transports=["websocket"],
               auth={"pid": first["pid"], "offset": offset})
    clients.append(b)
    second = await b.step("connect")
    assert second["recovered"] is False and second["id"] != first["id"]
    assert (await b.ask("whoami"))["recovered"] is False


@pytest.mark.parametrize(
    "auth",
    [
        {"pid": "local~unknown", "offset": "nope"},
        {"pid": 5, "offset": {"a": 1}},
        {"pid": "", "offset": ""},
        {"pid": "x" * 5000, "offset": "y"},
        {"pid": "store-gone~abc", "offset": "0"},  # a store nobody runs
    ],
)
async def test_an_unknown_or_bad_recovery_request_connects_afresh(
    server: InLoopServer, clients: list[Driver], auth: dict[str, Any]
) -> None:
    a = Driver(server.base, transports=["websocket"], auth=auth)
    clients.append(a)
    connect = await a.step("connect")
    assert connect["recovered"] is False
    assert (await a.ask("whoami"))["sid"] == connect["id"]


async def test_a_connection_lost_longer_than_max_disconnection_duration_is_not_recovered(
    server: InLoopServer, clients: list[Driver]
) -> None:
    recovery: Any = server.manager.recovery
    now = [1000.0]
    recovery.clock = lambda: now[0]
    a = Driver(server.base, transports=["websocket"])
    clients.append(a)
    first = await dropped(server, a)
    now[0] += Settings().max_disconnection_duration + 1
    a.send("reconnect")
    again = await a.step("connect")
    assert again["recovered"] is False and again["id"] != first["id"]


async def test_what_an_emitter_sent_while_the_client_was_away_is_recovered(
    clients: list[Driver],
) -> None:
    with Broker("tcp://127.0.0.1:0") as broker:
        server = await InLoopServer.start(namespaces, connection_state_recovery=True)
        bus = ZmqBus(broker.pub_address, broker.sub_address, node_id=server.manager.node_id)
        server.manager.use_bus(bus)
        store_bus = ZmqBus(broker.pub_address, broker.sub_address, node_id="store-test",
                           all_rooms=True)
        store = RecoveryStore(store_bus)
        server.manager.use_recovery_store("store-test")
        emitter = Emitter(broker.pub_address, sub_address=broker.sub_address, recovery=True)
        try:
            await bus.ready(timeout=5)
            await store_bus.ready(timeout=5)
            await asyncio.to_thread(emitter.wait_ready)
            a = Driver(server.base, transports=["websocket"])
            clients.append(a)
            first = await a.step("connect")
            assert await a.ask("join", "lobby") == ["lobby"]
            assert await a.ask("tell_me", "x") is True
            await a.event("told")
            a.send("drop", hold=True)
            await a.step("disconnect")
            await gone(server, first["id"])
            log = store.log
            kept = log.emits_kept
            chat = emitter.of("/chat")
            await asyncio.to_thread(chat.to("lobby").emit, "news", "to the room")
            await asyncio.to_thread(chat.to_sid(first["id"]).emit, "dm", "to the sid")
            await asyncio.to_thread(wait_for, lambda: log.emits_kept == kept + 2, 10,
                                    message="the emitter's events logged")
            a.send("reconnect")
            again = await a.step("connect")
            assert again["recovered"] is True and again["id"] == first["id"]
            missed = await a.events(2)
            assert [event[:2] for event in missed] == [["news", "to the room"],
                                                       ["dm", "to the sid"]]
            assert all(isinstance(event[2], str) for event in missed)
        finally:
            emitter.close()
            await server.stop()
            await bus.close()
            await store_bus.close()


@pytest.mark.parametrize("skip", [True, False])
async def test_a_recovered_connection_skips_the_connect_middlewares_unless_told(
    clients: list[Driver], skip: bool
) -> None:
    passed: list[tuple[str, bool]] = []

    def middleware(namespace: Any) -> None:
        passed.append((namespace.sid, namespace.recovered))

    server = await InLoopServer.start(namespaces, connection_state_recovery=True,
                                      recovery_skip_middlewares=skip, middlewares=[middleware])
    try:
        a = Driver(server.base, transports=["websocket"])
        clients.append(a)
        first = await dropped(server, a)
        a.send("reconnect")
        again = await a.step("connect")
        assert again["recovered"] is True
        assert passed == [(first["id"], False)] + ([] if skip else [(first["id"], True)])
    finally:
        await server.stop()


async def test_a_legacy_client_in_the_same_room_never_gets_offsets(
    server: InLoopServer, clients: list[Driver]
) -> None:
    legacy = await LegacyClient(server.base, "websocket").connect()
    try:
        await legacy.send("1::/chat")
        assert await legacy.recv() == "1::/chat"
        await legacy.emit("/chat", "join", "lobby", msg_id=1)
        assert await legacy.recv() == '6::/chat:1+[["lobby"]]'
        a = Driver(server.base, transports=["websocket"])
        clients.append(a)
        await a.step("connect")
        assert await a.ask("join", "lobby") == ["lobby"]
        assert await a.ask("say", "lobby", "both") is True
        said = await a.event("said")
        assert said[0] == "both" and len(said) == 2
        assert await legacy.recv_event() == ("/chat", "said", ["both"])
        await legacy.emit("/chat", "tell_me", "own")
        assert await legacy.recv_event() == ("/chat", "told", ["own"])
    finally:
        await legacy.close()


async def test_recovery_is_off_by_default_no_pid_and_no_offsets(clients: list[Driver]) -> None:
    server = await InLoopServer.start(namespaces)
    try:
        assert server.manager.recovery is None
        a = Driver(server.base, transports=["websocket"])
        clients.append(a)
        first = await a.step("connect")
        assert first["pid"] is None
        assert await a.ask("join", "lobby") == ["lobby"]
        assert await a.ask("say", "lobby", "plain") is True
        assert await a.event("said") == ["plain"]
        assert await a.ask("tell_me", "own") is True
        assert await a.event("told") == ["own"]
    finally:
        await server.stop()


# -- under tornio serve: the owner worker dies ---------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ClusterProcess]:
    process = ClusterProcess("tests.apps.recovery:router", tmp_path, workers=2)
    try:
        yield process.start(timeout=30)
    finally:
        process.kill()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_recovery_after_the_owner_worker_is_killed(
    cluster: ClusterProcess, clients: list[Driver], transport: str
) -> None:
    assert cluster.stats().get("store", {}).get("pid"), "the recovery store is not running"
    a = Driver(cluster.url, transports=[transport])
    clients.append(a)
    first = await a.step("connect")
    assert await a.ask("join", "lobby") == ["lobby"]
    assert await a.ask("remember", "kept") is True
    assert await a.ask("say", "lobby", "before") is True
    assert (await a.event("said"))[0] == "before"
    owner_pid = (await a.ask("whoami"))["pid"]
    owner = worker_of(first["id"])
    assert cluster.worker_pids()[owner] == owner_pid
    a.send("hold")
    await a.step("holding")

    os.kill(owner_pid, signal.SIGKILL)
    await a.step("disconnect")
    await asyncio.to_thread(
        wait_for, lambda: cluster.worker_pids().get(owner) not in (None, owner_pid), 30,
        message="the killed worker replaced",
    )
    b = Driver(cluster.url, transports=[transport])
    clients.append(b)
    await b.step("connect")
    assert await b.ask("join", "lobby") == ["lobby"]
    assert await b.ask("say", "lobby", "while a was away") is True

    a.send("reconnect")
    again = await a.step("connect")
    assert again["recovered"] is True and again["id"] == first["id"]
    assert (await a.events(1))[0][:2] == ["said", "while a was away"]
    me = await a.ask("whoami")
    assert me["recovered"] is True and me["pid"] != owner_pid
    assert me["rooms"] == ["lobby"] and me["remembered"] == "kept"
    # Emits to it reach its new worker, whichever node its id names.
    assert await b.ask("say", "lobby", "after") is True
    assert (await a.events(1))[0][:2] == ["said", "after"]
