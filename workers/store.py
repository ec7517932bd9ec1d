"""``python -m workers.store``: a host's recovery store (:mod:`tornio.bus.store`), run and
restarted by ``tornio serve``'s supervisor when the application turns connection state
recovery on. It holds the recoverable sessions of the host's workers, so they outlive the
worker that served them.

Its standard input is the supervisor's: a line ``lost NODE`` says that worker process
died, so its sessions are lost now (the bus would notice too, after its node timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from tornio.bus.store import RecoveryStore
from tornio.bus.zmq import ZmqBus

from . import loops
from .worker import add_bus_flags, bus_options

__all__ = ["main"]

log = logging.getLogger("tornio.store")


async def run(args: argparse.Namespace) -> int:
    bus = ZmqBus(args.bus_pub, args.bus_sub, node_id=args.node_id, all_rooms=True,
                 **bus_options(args))
    store = RecoveryStore(bus, max_disconnection_duration=args.max_disconnection_duration)
    await bus.ready(timeout=10.0)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)  # SIGINT: see main()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def read_commands() -> None:
        while line := await reader.readline():
            word, _, node = line.decode(errors="replace").strip().partition(" ")
            if word == "lost" and node:
                store.node_lost(node)
        stop.set()  # the supervisor is gone

    tasks = [loop.create_task(store.run()), loop.create_task(read_commands())]
    await stop.wait()
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks)
    await bus.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.store")
    parser.add_argument("--node-id", required=True)
    parser.add_argument("--max-disconnection-duration", type=float, default=120.0)
    parser.add_argument("--bus-pub", required=True)
    parser.add_argument("--bus-sub", required=True)
    parser.add_argument("--log-level", default="info")
    add_bus_flags(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s store %(name)s: %(message)s")
    # SIGTERM only: the supervisor stops the store after the workers (Ctrl-C's SIGINT
    # reaches the whole process group, and is the supervisor's to act on).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return loops.run(run(args), args.loop)


if __name__ == "__main__":
    sys.exit(main())
