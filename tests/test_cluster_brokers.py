"""A cluster with no single point of failure (issue 26): two ``tornio broker`` processes and
two ``tornio serve --workers 2`` hosts on loopback, every node and client going through both
brokers (``--bus tcp://A,tcp://B``), CURVE on (one broker key pair for both brokers), behind
the round-robin balancer of tests/support/multihost.py.

Members of one room, spread over both hosts: socket.io-client 4.x on polling and on
websocket, 0.9 clients on xhr-polling (one TCP connection per request, so their requests
keep landing on the host that does not own their session and are forwarded over the bus)
and on websocket (relayed to the owner when it lands elsewhere). A socket.io-client 4.x
streams 1,000 room messages; meanwhile one broker is SIGKILLed, brought back, and once every
worker says its heartbeats go through both brokers again, the other one is SIGKILLed. Every
member gets all 1,000 in order and none twice, a 0.9 polling client asking a question of
its node again and again is answered every time, and no node ever left a node table.

Waits are bounded and event-driven where an event exists (a delivery, an ack); what only
the workers' reports tell (which brokers carry their heartbeats) is polled with a deadline.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.multihost import (
    HOST,
    Balancer,
    BrokerProcess,
    LegacyChatter,
    NodeClients,
    People,
    ServeProcess,
    balancing,
    free_port,
    host_of,
    spread_modern,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(180)

MESSAGES = 1000


class TwoBrokers:
    def __init__(self, tmp: Path, keys: Path) -> None:
        self.brokers = [BrokerProcess(tmp / f"broker-{name}.log", keys) for name in "AB"]
        bus = ",".join(broker.address for broker in self.brokers)
        #: Host a's /ready, /health and /metrics.
        self.metrics_port = free_port()
        metrics = ["--metrics-port", str(self.metrics_port), "--metrics-host", HOST]
        self.hosts = [ServeProcess("a", tmp, bus, 2, keys, extra=metrics),
                      ServeProcess("b", tmp, bus, 2, keys)]

    @property
    def host_tags(self) -> set[str]:
        return {host.host_tag for host in self.hosts}

    def live_brokers(self) -> list[int]:
        """How many brokers carried each worker's heartbeats lately (its last report)."""
        return [int(w.get("bus_paths", 0)) for host in self.hosts
                for w in host.stats().get("workers", [])]

    def logs(self) -> str:
        return "".join(host.log() for host in self.hosts)

    def ready(self) -> tuple[int, dict[str, Any]]:
        """Host a's ``GET /ready``: the status and the JSON body."""
        url = f"http://{HOST}:{self.metrics_port}/ready"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture
def cluster(tmp_path: Path, curve_keys: Path) -> Iterator[TwoBrokers]:
    two = TwoBrokers(tmp_path, curve_keys)
    try:
        for process in [*two.brokers, *two.hosts]:
            process.start()
        yield two
    finally:
        for process in [*two.hosts, *two.brokers]:
            process.stop()


@pytest.fixture
async def balancer(cluster: TwoBrokers) -> AsyncIterator[Balancer]:
    async with balancing([host.port for host in cluster.hosts]) as lb:
        yield lb


async def until(condition: Any, timeout: float, what: str) -> None:
    """Wait (off the event loop, which the clients need meanwhile) for a reported state."""
    await asyncio.to_thread(wait_for, condition, timeout, message=what)


async def test_room_stream_survives_each_broker_killed_in_turn(
    cluster: TwoBrokers, balancer: Balancer, node_clients: NodeClients, people: People
) -> None:
    hosts = cluster.host_tags
    legacy = await people.spread_legacy(balancer.url, hosts, ["p1", "p2", "pinger"])
    *legacy_members, pinger = legacy
    legacy_ws = LegacyChatter(balancer.url, "lws", "websocket")
    people.legacy.append(legacy_ws)
    await legacy_ws.connect()
    polling = await spread_modern(node_clients, balancer.url + "/chat", hosts, "poll")
    websocket = await spread_modern(node_clients, balancer.url + "/chat", hosts, "ws",
                                    ["websocket"])
    streamer, *modern_ws = sorted(websocket)
    modern_members = [*sorted(polling), *modern_ws]
    sids = [c.sid for c in [*legacy_members, legacy_ws]] + [polling[n] for n in polling]
    sids += [websocket[n] for n in websocket]
    assert {host_of(sid) for sid in sids} == hosts
    for chatter in [*legacy_members, legacy_ws]:
        assert await chatter.call("join", "stream") == [True]
    for name in [*modern_members, streamer]:
        assert await node_clients.call(name, "join", "stream") == [True]
    me, _ = await pinger.call("whoami")

    # The 0.9 polling client asks its node a question again and again, throughout.
    answered = 0
    stop_pinging = asyncio.Event()

    async def ping() -> None:
        nonlocal answered
        while not stop_pinging.is_set():
            assert (await pinger.call("whoami", timeout=15))[0] == me
            answered += 1

    pinging = asyncio.ensure_future(ping())
    texts = [f"message {n}" for n in range(MESSAGES)]
    sent = 0

    async def stream(upto: int) -> None:
        nonlocal sent
        while sent < upto:
            await node_clients.call(streamer, "say", texts[sent])
            sent += 1

    first, second = cluster.brokers
    try:
        await stream(200)
        first.kill()  # SIGKILL, mid-stream
        await stream(400)
        await until(lambda: set(cluster.live_brokers()) == {1}, 20,
                    "every worker to see the first broker gone")
        first.start()
        while sent < 700 and set(cluster.live_brokers()) != {2}:
            await stream(sent + 1)
        await until(lambda: set(cluster.live_brokers()) == {2}, 20,
                    "every worker's heartbeats through both brokers again")
        await stream(750)
        second.kill()
        await stream(MESSAGES)
        await node_clients.call(streamer, "say", "the end")
        pings_during_stream = answered
    finally:
        stop_pinging.set()
        await asyncio.wait_for(pinging, 20)

    async def said(next_event: Any) -> list[str]:
        got: list[str] = []
        while (text := (await next_event("said"))[0]) != "the end":
            got.append(text)
        return got

    for chatter in [*legacy_members, legacy_ws]:
        assert await said(lambda event, c=chatter: c.next_event(event, 20)) == texts, chatter.name
    for name in modern_members:
        got = await said(lambda event, n=name: node_clients.next_event(n, event, 20))
        assert got == texts, name
    assert pings_during_stream > 10
    # Polling requests went to both hosts, and some were forwarded to their owner.
    assert all(balancer.connections[host.port] > 0 for host in cluster.hosts)
    assert sum(host.stats()["forwarded"] for host in cluster.hosts) > 0
    # Each kill was noticed and handled by failing over; no node ever left a node table.
    logs = cluster.logs()
    assert "failing over" in logs
    assert "timed out (silent" not in logs and "cut off" not in logs
    nodes = {tag for host in cluster.hosts for tag in host.node_ids}
    assert set((await pinger.call("nodes"))[0]) == nodes - {me}

    # Both brokers gone: every worker is cut off, says so, and its host is not ready; a
    # broker back, and the cluster carries on (the websockets: a polling request forwarded
    # to another host meanwhile got 503, and such a client handshakes again).
    assert (await asyncio.to_thread(cluster.ready))[0] == 200
    first.kill()

    def cut_off() -> bool:
        status, detail = cluster.ready()
        return status == 503 and not any(w["bus"] for w in detail["workers"].values())

    await until(cut_off, 20, "host a's /ready to say 503: no worker's bus flows")
    await until(lambda: cluster.logs().count("cut off") >= 4, 20, "every worker's log line")
    first.start()
    await until(lambda: cluster.ready()[0] == 200, 20, "host a ready again")
    assert "reconnected through" in cluster.logs()
    await node_clients.call(streamer, "say", "after the gap")
    assert await legacy_ws.next_event("said", 20) == ["after the gap"]
    for name in modern_ws:
        assert await node_clients.next_event(name, "said", 20) == ["after the gap"]
