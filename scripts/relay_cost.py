"""What a relayed websocket costs per message, against one that reached its owner directly.

    python3 scripts/relay_cost.py [--messages 5000] [--repeat 3] [--loop asyncio|uvloop]

Two nodes in this process (as two hosts would be, minus the network): B owns an Engine.IO
session; one websocket client connects straight to B, another to A, which relays it to B
(``tornio/transports/relay.py``). Each runs ``--messages`` event round trips with an ack, one at a
time. The process's CPU time per round trip is the same work in both cases (client, owner)
plus, for the relayed one, the relay's two extra socket hops: the difference is the relay's
cost per message (a message and its ack). Prints medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.websocket import websocket_connect

from tornio import BaseNamespace, Router
from tornio.bus import InProcessBus
from tornio.transports.forwarding import ForwardingDelegate, Wire
from workers import loops


class Echo(BaseNamespace):
    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args


class NoForwarding:
    async def forward(self, node: str, request: Wire, timeout: float) -> Wire | None:
        return None

    def abort(self, node: str, request_id: str) -> None:
        pass


class Node:
    def __init__(self, bus: InProcessBus, addresses: dict[str, tuple[str, int]]) -> None:
        self.router = Router({"/echo": Echo}, bus=bus)
        self.manager = self.router.manager
        self.delegate = ForwardingDelegate(
            self.router.application(), lambda tag: tag == self.manager.node_id,
            NoForwarding(), timeout=30, max_body=1_000_000, address_of=addresses.get,
        )
        self.http = HTTPServer(self.delegate)
        sockets = bind_sockets(0, "127.0.0.1")
        self.http.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        addresses[self.manager.node_id] = ("127.0.0.1", self.port)


async def round_trips(via: Node, owner: Node, messages: int) -> float:
    """CPU seconds per round trip over a websocket that reaches ``via``."""
    client = AsyncHTTPClient(force_instance=True)
    opened = await client.fetch(f"http://127.0.0.1:{owner.port}/socket.io/?EIO=4&transport=polling")
    sid = json.loads(opened.body.decode()[1:])["sid"]
    client.close()
    ws = await websocket_connect(
        f"ws://127.0.0.1:{via.port}/socket.io/?EIO=4&transport=websocket&sid={sid}")
    await ws.write_message("2probe")
    assert await ws.read_message() == "3probe"
    await ws.write_message("5")
    await ws.write_message("40/echo,")
    assert str(await ws.read_message()).startswith("40/echo,")
    started = time.process_time()
    for number in range(messages):
        await ws.write_message(f'42/echo,{number}["echo","hello",{number}]')
        answer = await ws.read_message()
        assert answer == f'43/echo,{number}["hello",{number}]', answer
    spent = time.process_time() - started
    ws.close()
    return spent / messages


async def measure(messages: int, repeat: int) -> dict[str, float]:
    bus, addresses = InProcessBus(), {}
    a, b = Node(bus, addresses), Node(bus, addresses)
    direct, relayed = [], []
    for _ in range(repeat):
        direct.append(await round_trips(b, b, messages))
        relayed.append(await round_trips(a, b, messages))
    assert a.delegate.relayed == repeat
    return {"direct": statistics.median(direct), "relayed": statistics.median(relayed)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    args = parser.parse_args()
    result = loops.run(measure(args.messages, args.repeat), args.loop)
    direct, relayed = result["direct"] * 1e6, result["relayed"] * 1e6
    print(f"loop {args.loop}, {args.messages} round trips x {args.repeat} (medians), "
          "CPU µs per round trip (client + owner [+ relay], one process):")
    print(f"  direct to its owner: {direct:.1f}")
    print(f"  relayed by another node: {relayed:.1f}")
    print(f"  the relay's cost: {relayed - direct:.1f} µs per round trip "
          f"({relayed / direct:.2f} x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
