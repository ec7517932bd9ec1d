"""What the bus costs per message, counted rather than timed: the xbroadcast path (one worker
publishes a room emit, another worker with members in the room receives it, and the publisher,
which has members too, gets its own copy back) through real ZeroMQ sockets and in-process
brokers on loopback.

Run it from a tree (``PYTHONPATH`` chooses which tree's tornio is measured)::

    PYTHONPATH=$PWD python scripts/bus_micro.py              # one broker
    PYTHONPATH=$PWD python scripts/bus_micro.py --brokers 2  # two brokers (a tree with --bus a,b)

It prints, per published message: Python function calls in the process (both nodes:
publisher and receiver), the calls of the functions that matter on this path, and the frames
and bytes a subscriber reads off the broker (a raw SUB socket subscribed to the room's topic,
outside the profile). Call counts do not depend on the machine's load; times do, and are
left out on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import socket
import sys
from typing import Any

import zmq

from tornio.bus.broker import Broker
from tornio.bus.messages import MessageType, room_topic
from tornio.bus.zmq import ZmqBus

#: Functions whose calls per message are printed (matched on the function's name).
WATCH = (
    "publish", "encode", "validate", "_normalized", "check_topic", "topic_for", "_send",
    "_send_now", "stamp", "send_multipart", "send", "recv_multipart", "recv", "_on_frames",
    "_handle", "decode", "_check_decoded", "receive", "read_stamp", "echo", "deliver",
    "_deliver", "packb", "unpackb", "getsockopt",
)


class Counter:
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.count = 0
        self.waiter: asyncio.Event = asyncio.Event()

    def deliver(self, message: Any) -> None:
        self.count += 1
        self.waiter.set()


def free_port_pair() -> int:
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
        if port < 65535:
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port


def emit(event: str) -> dict[str, Any]:
    data = {"event": event, "args": [{"user": "bench", "text": "x" * 64}], "rooms": ["r"],
            "skip": [], "to": None}
    return {"type": MessageType.EMIT, "nsp": "/", "data": data}


async def wait_count(counter: Counter, count: int) -> None:
    while counter.count < count:
        counter.waiter.clear()
        await asyncio.wait_for(counter.waiter.wait(), 10)


async def run(brokers: int, count: int, batch: int) -> dict[str, Any]:
    running = [Broker(f"tcp://127.0.0.1:{free_port_pair()}").start() for _ in range(brokers)]
    pub = ",".join(b.pub_address for b in running)
    sub = ",".join(b.sub_address for b in running)
    options: dict[str, Any] = {"heartbeat_interval": 30.0, "node_timeout": 60.0}
    buses = {name: ZmqBus(pub if brokers > 1 else running[0].pub_address,
                          sub if brokers > 1 else running[0].sub_address,
                          node_id=name, **options) for name in ("a", "b")}
    counters = {name: Counter(name) for name in buses}
    context = zmq.Context()
    tap = context.socket(zmq.SUB)
    tap.setsockopt(zmq.RCVHWM, 0)
    tap.subscribe(room_topic("/", "r"))
    tap.connect(running[0].sub_address)
    try:
        for name, bus in buses.items():
            bus.attach(counters[name])
            bus.subscribe(counters[name], "/", "r")
            await bus.ready()
        a, b = buses["a"], buses["b"]
        warm = 0
        while counters["b"].count == 0:  # the room's route through every broker
            a.publish(emit("warmup"))
            warm += 1
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        while tap.poll(0):
            tap.recv_multipart()
        base_b = counters["b"].count
        base_received = a.stats.received + b.stats.received
        profile = cProfile.Profile()
        profile.enable()
        for start in range(0, count, batch):
            for number in range(start, min(count, start + batch)):
                a.publish(emit(f"m{number}"))
            await wait_count(counters["b"], base_b + min(count, start + batch))
        profile.disable()
        while a.stats.received + b.stats.received - base_received < 2 * count:
            await asyncio.sleep(0.01)  # the publisher's own copies, read after the profile
        frames = sizes = taps = 0
        while tap.poll(500):
            parts = tap.recv_multipart()
            frames += len(parts)
            sizes += sum(map(len, parts))
            taps += 1
        stats = pstats.Stats(profile)
        calls: dict[str, int] = {}
        every: dict[str, int] = {}
        total = 0
        for (path, line, name), (_, ncalls, *_rest) in stats.stats.items():  # type: ignore[attr-defined]
            total += ncalls
            where = f"{path.rsplit('/', 1)[-1]}:{line}:{name}" if line else name
            every[where] = every.get(where, 0) + ncalls
            if name.strip("<>").split(" ")[-1].split(".")[-1] in WATCH:
                key = name.split(" of ")[0].strip("<>").replace("method '", "").strip("'")
                calls[key] = calls.get(key, 0) + ncalls
        return {
            "brokers": brokers,
            "messages": count,
            "calls_per_message": total / count,
            "watched": {k: v / count for k, v in sorted(calls.items())},
            "wire_frames_per_message": frames / max(1, taps),
            "wire_bytes_per_message": sizes / max(1, taps),
            "tapped": taps,
            "every": {k: v / count for k, v in sorted(every.items())},
        }
    finally:
        for bus in buses.values():
            await bus.close(announce=False)
        tap.close(linger=0)
        context.term()
        for broker in running:
            broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", type=int, default=1)
    parser.add_argument("-n", "--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--all", action="store_true",
                        help="list every function called at least once per 10 messages")
    args = parser.parse_args()
    result = asyncio.run(run(args.brokers, args.messages, args.batch))
    print(f"brokers {result['brokers']}, {result['messages']} messages "
          f"({result['tapped']} read by the tap)")
    print(f"python calls per message (publisher + receiver + own copy): "
          f"{result['calls_per_message']:.2f}")
    for name, value in result["watched"].items():
        print(f"  {value:8.3f}  {name}")
    if args.all:
        print("every function:")
        for name, value in result["every"].items():
            if value >= 0.1:
                print(f"  {value:8.3f}  {name}")
    print(f"on the wire: {result['wire_frames_per_message']:.2f} frames, "
          f"{result['wire_bytes_per_message']:.1f} bytes per message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
