"""The Python cost of a polling round trip on the fast HTTP path, without sockets or a load
generator: a micro-benchmark for optimising ``tornio/transports/fasthttp.py`` and what it
calls. Not a substitute for ``scripts/bench --only polling`` (no syscalls, no event loop
wake-ups are counted here), but repeatable to a few per cent on a shared machine.

    python3 scripts/polling_micro.py                  # modern and legacy, µs per round trip
    python3 scripts/polling_micro.py --profile modern # cProfile's top functions
    python3 scripts/polling_micro.py --calls          # the server's calls per round trip
    python3 scripts/polling_micro.py --worker         # with a worker's session-owner check

Each round trip is what the benchmark's clients do: a GET held on one connection, a POST of
an ``echo`` event with an ack id on another; the ack answers the GET. The requests are the
bytes node's ``http`` client sends. The connections' transports only collect what is written.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_HEARTBEAT", "3600")  # no pings in the answers measured

from bench_apps.tornio_app import router as bench_router
from tornado.httpserver import HTTPServer

from tornio.fastpath import fast_server

ECHO_ARG = '{"text":"hello, tornio","n":42}'
HOST = "127.0.0.1:8000"


class Transport:
    """What the protocol writes to; the answers are checked by the caller."""

    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.out)
        self.out.clear()
        return data


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: keep-alive\r\n\r\n".encode()


def post(path: str, body: str) -> bytes:
    data = body.encode()
    return (
        f"POST {path} HTTP/1.1\r\nContent-Type: text/plain;charset=UTF-8\r\n"
        f"Content-Length: {len(data)}\r\nHost: {HOST}\r\nConnection: keep-alive\r\n\r\n"
    ).encode() + data


def body_of(answer: bytes) -> str:
    return answer.partition(b"\r\n\r\n")[2].decode()


async def turn() -> None:
    """Let the callbacks scheduled so far run (the protocol serves a request a turn later)."""
    for _ in range(3):
        await asyncio.sleep(0)


class Client:
    def __init__(self, protocol: str, server: Any) -> None:
        self.protocol = protocol
        self.polls = server.protocol(("127.0.0.1", 40001))
        self.posts = server.protocol(("127.0.0.1", 40002))
        self.poll_out, self.post_out = Transport(), Transport()
        self.polls.connection_made(self.poll_out)
        self.posts.connection_made(self.post_out)
        self.sid = ""
        self.t = 0
        self.ack = 0

    def path(self) -> str:
        self.t += 1
        if self.protocol == "modern":
            return f"/socket.io/?EIO=4&transport=polling&t={self.t}&sid={self.sid}"
        return f"/socket.io/1/xhr-polling/{self.sid}?t={self.t}"

    async def connect(self) -> None:
        if self.protocol == "modern":
            self.polls.data_received(get("/socket.io/?EIO=4&transport=polling&t=0"))
            await turn()
            opened = body_of(self.poll_out.take())
            self.sid = json.loads(opened[1:].split("\x1e")[0])["sid"]
            self.posts.data_received(post(self.path(), "40"))
            await turn()
            self.post_out.take()
            self.polls.data_received(get(self.path()))
            await turn()
            assert body_of(self.poll_out.take()).startswith("40"), "no CONNECT answer"
        else:
            self.polls.data_received(get("/socket.io/1/?t=0"))
            await turn()
            self.sid = body_of(self.poll_out.take()).split(":")[0]
            self.polls.data_received(get(self.path()))
            await turn()
            assert body_of(self.poll_out.take()).startswith("1::"), "no connect packet"

    def emit(self) -> bytes:
        self.ack += 1
        if self.protocol == "modern":
            return post(self.path(), f'42{self.ack}["echo",{ECHO_ARG}]')
        return post(self.path(), f'5:{self.ack}+::{{"name":"echo","args":[{ECHO_ARG}]}}')

    async def round_trip(self) -> None:
        self.polls.data_received(get(self.path()))
        self.posts.data_received(self.emit())
        await turn()
        answer = body_of(self.poll_out.take())
        expected = f"43{self.ack}" if self.protocol == "modern" else f"6:::{self.ack}"
        if not answer.startswith(expected):
            raise AssertionError(f"round trip {self.ack}: {answer[:80]!r}")
        self.post_out.take()


def make_server(router: Any, worker: bool) -> Any:
    """The fast path in front of ``router``; ``worker``: asking, as a ``tornio serve``
    worker does, whether each request's session is owned here (it always is)."""
    http = HTTPServer(router.application())
    if not worker:
        return fast_server(router.manager, http)
    return fast_server(router.manager, http, is_local=lambda tag: True)


async def count_calls(protocol: str, rounds: int, worker: bool = False) -> float:
    """The calls per round trip cProfile counts, the client's own (this script's functions
    and the ``asyncio.sleep`` of :func:`turn`) left out: deterministic, unlike the time."""
    router = bench_router()
    server = make_server(router, worker)
    client = Client(protocol, server)
    await client.connect()
    for _ in range(200):
        await client.round_trip()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        await client.round_trip()
    profiler.disable()
    table = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    own = str(Path(__file__).resolve())
    calls = sum(row[1] for (path, _, _), row in table.items()
                if path != own and not path.endswith("asyncio/tasks.py"))
    return calls / rounds


async def measure(
    protocol: str, rounds: int, repeats: int, profile: bool, worker: bool = False
) -> list[float]:
    router = bench_router()
    server = make_server(router, worker)
    client = Client(protocol, server)
    await client.connect()
    for _ in range(200):
        await client.round_trip()
    times = []
    profiler = cProfile.Profile() if profile else None
    for _ in range(repeats):
        gc.collect()
        if profiler is not None:
            profiler.enable()
        start = time.perf_counter()
        for _ in range(rounds):
            await client.round_trip()
        times.append((time.perf_counter() - start) / rounds * 1e6)
        if profiler is not None:
            profiler.disable()
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("protocols", nargs="*", default=["modern", "legacy"])
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--calls", action="store_true", help="calls per round trip, no timing")
    parser.add_argument("--worker", action="store_true",
                        help="with the session-owner check of a tornio serve worker")
    args = parser.parse_args()
    for protocol in args.protocols:
        if args.calls:
            calls = asyncio.run(count_calls(protocol, min(args.rounds, 1000), args.worker))
            print(f"{protocol}: {calls:.1f} calls per round trip")
            continue
        times = asyncio.run(
            measure(protocol, args.rounds, args.repeats, args.profile, args.worker))
        print(f"{protocol}: {statistics.median(times):.1f} µs per round trip "
              f"(median of {len(times)}; min {min(times):.1f}, max {max(times):.1f})")


if __name__ == "__main__":
    main()
