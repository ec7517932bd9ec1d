"""What one flooding websocket does to the other clients of its worker.

    python3 scripts/flood_latency.py [--events 200000] [--handler flood|aflood]

Starts ``tornio serve tests.apps.flood:namespaces --workers 2``; one Engine.IO websocket
writes ``--events`` events (``flood``: a plain handler, ``aflood``: an ``async`` one) as
fast as the kernel takes them, while the other clients of the same worker (victims) each
emit an event with an ack every 10 ms. Prints the victims' ack latency (median, p99, max)
from the first write until the flood is all handled, and how many times a worker dropped
the other from its bus node table ("timed out" in the log). The flood's frames are built
before the clock starts, so the client's own work does not count.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.flood_client import Peer
from tests.support.serve_cluster import ClusterProcess, worker_of

CHUNK = 5000


async def measure(events: int, handler: str) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        cluster = ClusterProcess("tests.apps.flood:namespaces", Path(workdir), workers=2)
        cluster.start()
        try:
            await flood(cluster, events, handler)
        finally:
            cluster.kill()


async def flood(cluster: ClusterProcess, events: int, handler: str) -> None:
    flooder = await Peer.join("modern", cluster.url, cluster.port)
    others = [await Peer.join("modern", cluster.url, cluster.port) for _ in range(6)]
    victims = [p for p in others if worker_of(p.sid) == worker_of(flooder.sid)]
    latencies: list[float] = []
    done = False

    async def victim(peer: Peer) -> None:
        while not done:
            started = time.perf_counter()
            await peer.ask("me")
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)

    blobs = [b"".join(flooder.event(handler, n) for n in range(start, start + CHUNK))
             for start in range(0, events, CHUNK)]
    tasks = [asyncio.ensure_future(victim(peer)) for peer in victims]
    started = time.perf_counter()
    for blob in blobs:
        flooder.client.send(blob)
        await flooder.client.writer.drain()
    handled = await flooder.ask_count()
    took = time.perf_counter() - started
    done = True
    await asyncio.gather(*tasks)
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(f"{events} events ({handler}) handled ({handled}) in {took:.2f} s; "
          f"{len(victims)} victims, {len(latencies)} acks: median "
          f"{statistics.median(latencies) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, "
          f"max {latencies[-1] * 1e3:.1f} ms; node timeouts: "
          f"{cluster.log_path.read_text().count('timed out')}")
    for peer in (flooder, *others):
        peer.client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--handler", choices=("flood", "aflood"), default="flood")
    args = parser.parse_args()
    asyncio.run(measure(args.events, args.handler))


if __name__ == "__main__":
    main()
