"""Under ``tornio serve --workers 2``, a flood on one worker does not silence it on the bus:
while a websocket pours 50,000 events (``async`` handlers) into worker A, worker B's node
table keeps A (heartbeats every 0.1 s, a node silent for 1 s would leave the table), a
victim on A is answered before the flood is done, and the flood is handled whole."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.flood_client import Peer
from tests.support.serve_cluster import ClusterProcess, worker_of

FLOOD = 50_000


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ClusterProcess]:
    process = ClusterProcess(
        "tests.apps.flood:namespaces", tmp_path, workers=2,
        args=["--bus-heartbeat", "0.1", "--bus-node-timeout", "1.0"],
    )
    with process.running():
        yield process


async def test_a_flooded_worker_stays_in_the_other_workers_node_table(
    cluster: ClusterProcess,
) -> None:
    flooder = await Peer.join("modern", cluster.url, cluster.port)
    others = [await Peer.join("modern", cluster.url, cluster.port) for _ in range(4)]
    victim = next(p for p in others if worker_of(p.sid) == worker_of(flooder.sid))
    observer = next(p for p in others if worker_of(p.sid) != worker_of(flooder.sid))
    flooded = await flooder.ask("me")
    assert flooded in await observer.ask("nodes")

    flooder.flood("aflood", FLOOD)
    # Asked on the flood's own connection, after it: answered once it is all handled.
    done = asyncio.ensure_future(flooder.ask_count())
    assert await victim.ask_count() < FLOOD
    tables = []
    while not done.done():
        tables.append(await observer.ask("nodes"))
    assert done.result() == FLOOD
    assert tables, "the flood was over before B was asked once"
    assert all(flooded in table for table in tables), tables
    assert await victim.ask_count() == FLOOD
    log = cluster.log_path.read_text()
    assert "timed out" not in log, cluster.tail()
    for peer in (flooder, *others):
        peer.client.close()
