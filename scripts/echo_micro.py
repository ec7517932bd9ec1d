"""The Python cost of an echo (an event with an ack id, answered by the handler's return
value) over a websocket, as the benchmark's clients send it: calls per event counted by
cProfile in the server's code, and the server's ``transport.write`` calls per batch. A
deterministic companion to ``scripts/bench --only echo`` (whose time includes the load
generator and the kernel).

    python3 scripts/echo_micro.py                  # modern and legacy: calls per event
    python3 scripts/echo_micro.py --profile modern # cProfile's top functions too

The server (the benchmark's app, on the fast HTTP path as ``tornio serve`` runs it) and a
raw client share one event loop; the client's own calls are left out of the counts. Each
batch is ``--batch`` events written at once (the benchmark keeps 8 in flight per client),
then their acks read.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import os
import pstats
import re
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_HEARTBEAT", "3600")  # no pings in the counts

from bench_apps.tornio_app import router as bench_router
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tornio.fastpath import fast_server

ECHO_ARG = '{"text":"hello, tornio","n":42}'
#: The client's own frames and reads: left out of the counts.
CLIENT = str(Path(__file__).resolve())


def frame(text: str) -> bytes:
    """A client's text frame (masked with a zero key: the payload is unchanged)."""
    data = text.encode()
    size = len(data)
    if size < 126:
        head = struct.pack("!BB", 0x81, 0x80 | size)
    else:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, size)
    return head + b"\0\0\0\0" + data


def messages(data: bytearray) -> list[str]:
    """The whole server frames at the start of ``data`` (removed from it)."""
    out = []
    while len(data) >= 2:
        size = data[1] & 0x7F
        offset = 2
        if size == 126:
            if len(data) < 4:
                break
            (size,) = struct.unpack_from("!H", data, 2)
            offset = 4
        if len(data) < offset + size:
            break
        out.append(data[offset:offset + size].decode())
        del data[:offset + size]
    return out


class Client:
    def __init__(self, protocol: str, port: int) -> None:
        self.protocol = protocol
        self.port = port
        self.buffer = bytearray()
        self.ack = 0

    async def connect(self) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        if self.protocol == "modern":
            target = "/socket.io/?EIO=4&transport=websocket"
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.write(b"GET /socket.io/1/?t=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await reader.readuntil(b"\r\n\r\n")
            body = await reader.read(200)
            sid = body.decode().split(":")[0]
            writer.close()
            target = f"/socket.io/1/websocket/{sid}"
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
        await self.reader.readuntil(b"\r\n\r\n")
        if self.protocol == "modern":
            await self.expect(r"^0\{")
            self.writer.write(frame("40"))
            await self.expect(r"^40")
        else:
            await self.expect(r"^1::")

    async def expect(self, pattern: str) -> str:
        while True:
            got = messages(self.buffer)
            if got:
                assert re.match(pattern, got[0]), got
                return got[0]
            self.buffer += await self.reader.read(65536)

    def event(self) -> str:
        self.ack += 1
        if self.protocol == "modern":
            return f'42{self.ack}["echo",{ECHO_ARG}]'
        return f'5:{self.ack}+::{{"name":"echo","args":[{ECHO_ARG}]}}'

    async def batch(self, size: int) -> None:
        self.writer.write(b"".join(frame(self.event()) for _ in range(size)))
        answers: list[str] = []
        while len(answers) < size:
            self.buffer += await self.reader.read(65536)
            answers += messages(self.buffer)
        first = self.ack - size + 1
        expected = f"43{first}[" if self.protocol == "modern" else f"6:::{first}+["
        assert answers[0].startswith(expected), answers[0]


async def measure(protocol: str, batches: int, size: int, profile: bool) -> None:
    router = bench_router()
    http = HTTPServer(router.application())
    server = fast_server(router.manager, http)
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    client = Client(protocol, sockets[0].getsockname()[1])
    await client.connect()
    for _ in range(50):
        await client.batch(size)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for _ in range(batches):
        await client.batch(size)
    profiler.disable()
    elapsed = time.perf_counter() - start
    events = batches * size
    stats = pstats.Stats(profiler)
    table = stats.stats  # type: ignore[attr-defined]
    calls = sum(row[1] for (path, _, _), row in table.items()
                if path != CLIENT and "asyncio/streams.py" not in path)
    # The server's writes: _SelectorSocketTransport.write (the client writes through
    # StreamWriter.write, which calls it too: one per batch, taken off).
    writes = sum(row[1] for (path, _, name), row in table.items()
                 if path.endswith("selector_events.py") and name == "write") - batches
    print(f"{protocol}: {calls / events:.1f} server calls per event, "
          f"{writes / batches:.2f} transport writes per batch of {size} "
          f"({elapsed / events * 1e6:.1f} µs per event under cProfile, client included)")
    if profile:
        stats.sort_stats("tottime").print_stats(40)
    server.stop()
    server.close_all_connections()
    router.manager.close_all()
    client.writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("protocols", nargs="*", default=["modern", "legacy"])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    for protocol in args.protocols:
        asyncio.run(measure(protocol, args.batches, args.batch, args.profile))


if __name__ == "__main__":
    main()
