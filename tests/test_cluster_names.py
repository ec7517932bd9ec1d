"""Hostile names against ``tornio serve --workers 2`` (``tests/apps/hostile_names.py``, whose
handlers pass a client's room name straight to ``join``/``leave``/emits), with 0.9
protocol-level clients over websocket: a room name of 150,000 characters (a bus topic that
used to crash libzmq's unsubscribe, in a worker and in the broker), a leave of one of
200,000, an emit too large for the bus, and a lone surrogate sent between workers. Each
time the client gets the defined answer, the worker and broker pids do not change, and two
chatters, one on each worker, keep talking through the bus.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster_sockets import Sockets
from tests.support.legacy_client import LegacyClient
from tests.support.node_client import node_modules_ready
from tests.support.serve_cluster import ClusterProcess, alive, worker_of
from tornio.protocol import legacy

pytestmark = pytest.mark.timeout(90)

ROOM = "hall"


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterProcess]:
    with tempfile.TemporaryDirectory(prefix="tornio-cluster-names-") as path:
        process = ClusterProcess("tests.apps.hostile_names:router", Path(path), workers=2)
        with process.running():
            yield process


class Chatter:
    """A 0.9 websocket client in ``/chat`` that tells acks from events (kept in order)."""

    def __init__(self, client: LegacyClient) -> None:
        self.client = client
        self.next_id = 0
        #: Event packets read while waiting for something else: (raw packet, decoded).
        self.events: list[tuple[str, dict[str, Any]]] = []

    @classmethod
    async def connect(cls, base: str) -> Chatter:
        client = await LegacyClient(base, "websocket").connect()
        await client.send("1::/chat")
        assert await client.recv() == "1::/chat"
        return cls(client)

    @property
    def worker(self) -> int:
        return worker_of(self.client.sid)

    async def ask(self, event: str, *args: Any) -> dict[str, Any]:
        """Emit with an ack id; the ack's packet, or the error event that came instead."""
        self.next_id += 1
        await self.client.emit("/chat", event, *args, msg_id=self.next_id)
        while True:
            raw = await self.client.recv()
            packet: dict[str, Any] = dict(legacy.decode_packet(raw))
            if packet["type"] == "ack" and packet.get("ackId") == self.next_id:
                return packet
            if packet["type"] == "event" and packet["name"] == "error":
                return packet
            if packet["type"] == "event":
                self.events.append((raw, packet))

    async def said(self) -> tuple[str, list[Any]]:
        """The next ``said`` event: its raw packet and its arguments."""
        while True:
            if self.events:
                raw, packet = self.events.pop(0)
            else:
                raw = await self.client.recv()
                packet = dict(legacy.decode_packet(raw))
            if packet["type"] == "event" and packet["name"] == "said":
                return raw, list(packet.get("args", []))

    async def close(self) -> None:
        await self.client.close()


@pytest.fixture
async def chatters(cluster: ClusterProcess) -> AsyncIterator[dict[int, Chatter]]:
    """One chatter in ROOM on each worker (new sessions go to the least-loaded worker)."""
    placed: dict[int, Chatter] = {}
    spare: list[Chatter] = []
    try:
        for _ in range(12):
            chatter = await Chatter.connect(cluster.url)
            if chatter.worker in placed:
                spare.append(chatter)
            else:
                placed[chatter.worker] = chatter
            if len(placed) == 2:
                break
        assert sorted(placed) == [0, 1], placed
        for chatter in placed.values():
            assert (await chatter.ask("join", ROOM))["args"] == [True]
        yield placed
    finally:
        await asyncio.gather(*(c.close() for c in [*placed.values(), *spare]))


def pids(cluster: ClusterProcess) -> dict[str, int]:
    stats = cluster.stats()
    found = {f"worker {w['index']}": w["pid"] for w in stats["workers"]}
    found["broker"] = stats["broker"]["pid"]
    return found


async def still_chatting(chatters: dict[int, Chatter], tag: str) -> None:
    """Each chatter says something to ROOM, and the one on the other worker hears it."""
    for worker, chatter in chatters.items():
        text = f"{tag} from worker {worker}"
        assert (await chatter.ask("say", ROOM, text))["args"] == [True]
        assert (await chatters[1 - worker].said())[1] == [text]


def name_too_long(packet: dict[str, Any]) -> str:
    assert packet["type"] == "event" and packet["name"] == "error", packet
    name, why = packet["args"]
    assert name == "name_too_long", packet
    return str(why)


async def test_huge_room_names_get_an_error_and_crash_nothing(
    cluster: ClusterProcess, chatters: dict[int, Chatter]
) -> None:
    before = pids(cluster)
    for worker in (0, 1):
        attacker = await Chatter.connect(cluster.url)
        why = name_too_long(await attacker.ask("join", "j" * 150_000))
        assert "150000 bytes" in why and "1024" in why
        # join then leave a 200,000-character room: both refused
        name_too_long(await attacker.ask("join", "l" * 200_000))
        name_too_long(await attacker.ask("leave", "l" * 200_000))
        await attacker.client.send("0::")  # disconnects: its rooms are left
        await attacker.close()
        await still_chatting(chatters, f"after attacker {worker}")
    after = pids(cluster)
    assert after == before and all(alive(pid) for pid in after.values())


async def test_an_emit_too_large_for_the_bus_reaches_nobody(
    cluster: ClusterProcess, chatters: dict[int, Chatter]
) -> None:
    before = pids(cluster)
    shouter = chatters[0]
    # 1,100,000 bytes of text: over the bus's 1 MiB payload. Refused before local delivery,
    # so no member anywhere gets it, the shouter included; no ack either (the handler raised).
    shouter.next_id += 1
    await shouter.client.emit("/chat", "shout", ROOM, "x" * 1000, 1100, msg_id=shouter.next_id)
    assert (await shouter.ask("shout", ROOM, "small", 1))["args"] == [True]
    for chatter in chatters.values():
        assert (await chatter.said())[1] == ["small"]  # the first they hear is the small one
    await still_chatting(chatters, "after the large emit")
    assert pids(cluster) == before
    assert "the bus cannot carry it" in cluster.log_text()


async def test_a_lone_surrogate_reaches_both_workers_alike(
    chatters: dict[int, Chatter],
) -> None:
    # JSON carries "\ud800" (JSON.stringify writes it escaped); the sender's worker and the
    # other one must write the very same packet (before: the bus could not encode it).
    for worker, chatter in chatters.items():
        assert (await chatter.ask("shout", ROOM, "a\ud800b", 1))["args"] == [True]
        packets = {w: await listener.said() for w, listener in chatters.items()}
        assert packets[0] == packets[1], worker
        raw, args = packets[worker]
        assert args == ["a\ud800b"] and "\\ud800" in raw


def test_socket_io_client_4_across_two_workers(cluster: ClusterProcess) -> None:
    """The same with socket.io-client 4.8 under Node (``tests/test_cluster_ops.py``'s
    driver, which waits for every ack): JSON.stringify escapes a lone surrogate, and both
    workers deliver it alike (the refused names are the 0.9 tests' and tests/test_names.py's:
    no ack comes for them)."""
    if node_modules_ready():
        pytest.fail(str(node_modules_ready()))
    before = pids(cluster)
    with Sockets(cluster.url) as sockets:
        for worker in (0, 1):
            sockets.open_on(worker, f"n{worker}", nsp="/chat")
            assert sockets.emit(f"n{worker}", "join", ROOM) is True
        assert sockets.emit("n0", "shout", ROOM, "a\ud800b", 1) is True
        assert sockets.event("n0", "said") == sockets.event("n1", "said") == ["a\ud800b"]
        assert sockets.emit("n1", "shout", ROOM, "still here", 1) is True
        assert sockets.event("n0", "said") == ["still here"]
    assert pids(cluster) == before
