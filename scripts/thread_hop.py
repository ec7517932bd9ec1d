"""What running a plain handler on a thread (``blocking = True``) costs per event.

    python3 scripts/thread_hop.py [--events 5000] [--rounds 3]

One tornio server on this process's loop (loopback, a free port), one Engine.IO websocket
client on the same loop. For a plain handler on the loop (tornio's ``BaseNamespace``), the
same handler on the handler pool (``blocking = True``) and the same one also emitting once
from its thread, it measures:

* **round trip**: one event with an ack at a time, the next sent when the ack came (the
  latency of one event);
* **pipelined**: ``--events`` events written at once, until every ack came (the cost per
  event when a socket's queue is full).

Prints microseconds per event, the best of ``--rounds``. The client shares the process, so
the figures include its work too: compare them with each other, not with other machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.engine_client import EngineWebSocket
from tests.support.inloop import InLoopServer
from tornio import BaseNamespace


class OnLoop(BaseNamespace):
    def on_echo(self, n: int) -> int:
        return n


class OnThread(OnLoop):
    blocking = True


class OnThreadEmitting(OnThread):
    def on_echo(self, n: int) -> int:
        self.emit("progress", n)  # one hop back to the loop, waited for
        return n


NAMESPACES: dict[str, type[BaseNamespace]] = {
    "/loop": OnLoop, "/thread": OnThread, "/emit": OnThreadEmitting,
}


async def read_acks(ws: EngineWebSocket, count: int) -> None:
    seen = 0
    while seen < count:
        frame = await ws.recv(30)
        if isinstance(frame, str) and frame.startswith("43"):
            seen += 1


async def round_trips(ws: EngineWebSocket, nsp: str, events: int) -> float:
    start = time.perf_counter()
    for n in range(events):
        await ws.send(f"42{nsp},{n}" + json.dumps(["echo", n]))
        await read_acks(ws, 1)
    return (time.perf_counter() - start) / events * 1e6


async def pipelined(ws: EngineWebSocket, nsp: str, events: int) -> float:
    frames = [f"42{nsp},{n}" + json.dumps(["echo", n]) for n in range(events)]
    start = time.perf_counter()
    for frame in frames:
        await ws.send(frame)
    await read_acks(ws, events)
    return (time.perf_counter() - start) / events * 1e6


async def measure(events: int, rounds: int) -> None:
    server = await InLoopServer.start(NAMESPACES)
    sockets: dict[str, EngineWebSocket] = {}
    best = {nsp: {"round trip": float("inf"), "pipelined": float("inf")} for nsp in NAMESPACES}
    try:
        for nsp in NAMESPACES:
            sockets[nsp] = await EngineWebSocket.open(server.base)
            await sockets[nsp].join(nsp)
            await round_trips(sockets[nsp], nsp, 200)  # warm up: threads started, caches
        for _ in range(rounds):  # interleaved, so that the machine's load drifts alike
            for nsp, ws in sockets.items():
                figures = best[nsp]
                figures["round trip"] = min(figures["round trip"],
                                            await round_trips(ws, nsp, events))
                figures["pipelined"] = min(figures["pipelined"], await pipelined(ws, nsp, events))
    finally:
        for ws in sockets.values():
            ws.close()
        await server.stop()
    print(f"{'handler':<28}{'round trip':>14}{'pipelined':>14}   (us per event, best of {rounds})")
    labels = {"/loop": "plain, on the loop", "/thread": "plain, on a thread",
              "/emit": "on a thread, one emit"}
    for nsp, figures in best.items():
        print(f"{labels[nsp]:<28}{figures['round trip']:>14.1f}{figures['pipelined']:>14.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(measure(args.events, args.rounds))


if __name__ == "__main__":
    main()
