"""One worker process: the application's Router, served on connections the supervisor passes
in, joined to the other workers by the bus.

    python -m workers.worker MODULE:OBJECT --index I --host-tag TAG --channel FD \\
        --bus-pub ADDRESS[,ADDRESS...] --bus-sub ADDRESS[,ADDRESS...]

Everything that touches the event loop or ZeroMQ is created here, after the process started:
nothing is inherited across a fork. The channel is a Unix SEQPACKET socket: the supervisor
sends connections on it (one file descriptor and the peer address per message) and the worker
reports its session count and whether its bus flows on it every second (``L<sessions>
<forwarded> <bus ready> <relayed> <live brokers>``), and with ``--metrics`` its metrics too
(``M`` and a JSON :func:`tornio.metrics.snapshot`). When the channel closes, the supervisor
is gone and the worker drains and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any

from tornado.iostream import IOStream

from tornio.bus import ids, security
from tornio.bus.messages import MessageType
from tornio.bus.zmq import ZmqBus
from tornio.fastpath import fast_server
from tornio.metrics import snapshot
from tornio.settings import http_server_options, parse_origins, parse_trusted_proxies
from tornio.transports import forwarding, relay
from tornio.transports.forwarded import ForwardedHeaders
from tornio.transports.forwarding import ForwardingDelegate, Wire
from tornio.transports.heads import HeadLimitHTTPServer

from . import loops
from .loading import load_router

__all__ = ["main"]

log = logging.getLogger("tornio.worker")

REPORT_INTERVAL = 1.0
#: The largest metrics report (the supervisor reads this much at most).
MAX_REPORT = 256 * 1024
#: How long a starting worker waits for its siblings to appear on the bus.
SIBLINGS_WAIT = 3.0
DRAIN_GRACE = 2.0


class BusForwarder:
    """Forwards HTTP requests to their owner over the bus (see
    :mod:`tornio.transports.forwarding`)."""

    def __init__(self, bus: ZmqBus) -> None:
        self.bus = bus

    async def forward(self, node: str, request: Wire, timeout: float) -> Wire | None:
        return await self.bus.request_node(node, MessageType.HTTP_REQUEST, request, timeout)

    def abort(self, node: str, request_id: str) -> None:
        self.bus.send_node(node, MessageType.HTTP_ABORT, {"id": request_id})


class WorkerProcess:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = time.time()
        self.tag = ids.node_tag(args.host_tag, args.index)
        self.router = load_router(args.target)
        admin = os.environ.get("TORNIO_ADMIN")
        if admin:  # tornio serve --admin: the Admin UI's namespace, on every worker
            self.router.enable_admin(json.loads(admin))
        self.manager = self.router.manager
        self.manager.node_id = self.tag
        self.bus = ZmqBus(args.bus_pub, args.bus_sub, node_id=self.tag,
                          announce={"http": args.advertise} if args.advertise else None,
                          **bus_options(args))
        self.manager.use_bus(self.bus)
        store = os.environ.get("TORNIO_RECOVERY_STORE")
        if store:  # the supervisor runs this host's recovery store
            self.manager.use_recovery_store(store)
        self.app = self.router.application()
        settings = self.manager.settings
        self.delegate = ForwardingDelegate(
            self.app,
            lambda tag: tag == self.tag,
            BusForwarder(self.bus),
            timeout=max(settings.polling_duration, settings.ping_interval) + 10,
            max_body=settings.max_buffer_size,
            address_of=self._address_of,
            await_node=self._await_node,
        )
        self.manager.forwarding = self.delegate
        if args.trusted_proxies is not None:  # tornio serve --trusted-proxies
            settings.trusted_proxies = parse_trusted_proxies(args.trusted_proxies)
        if args.header_timeout is not None:  # tornio serve --header-timeout
            settings.header_timeout = args.header_timeout
        if args.origins is not None:  # tornio serve --origins
            settings.origins = parse_origins(args.origins)
        # Outside the forwarding: a request forwarded to its owner carries the client address
        # resolved here, and the owner does not read the headers again.
        # A request head over max_header_size is answered 431 (tornio.transports.heads).
        self.server = HeadLimitHTTPServer(
            ForwardedHeaders(self.delegate, settings.trusted_proxies),
            **http_server_options(settings),
        )
        # --http fast: the Socket.IO polling routes on the fast path, the rest handed to
        # self.server (tornio.fastpath).
        self.fast = None
        if getattr(args, "http", "tornado") == "fast":
            self.fast = fast_server(self.manager, self.server,
                                    trusted_proxies=settings.trusted_proxies,
                                    is_local=lambda tag: tag == self.tag)
        self.channel = socket.socket(fileno=args.channel)
        self.channel.setblocking(False)
        self.stop = asyncio.Event()

    def _address_of(self, node: str) -> tuple[str, int] | None:
        """Where a websocket for ``node``'s session is relayed: its host's address."""
        info = self.bus.node_info(node)
        return relay.parse_address(info.get("http")) if info else None

    async def _await_node(self, node: str) -> bool:
        """Whether ``node`` is in the bus's node table, waiting up to the node timeout for
        one not heard of yet (tornio.bus.arrivals)."""
        if node in self.bus.nodes:
            return True
        return await self.bus.arrivals.wait(node, self.bus.node_timeout)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.bus.set_http_handler(self._execute, forwarding.abort)
        loop.add_signal_handler(signal.SIGTERM, self.stop.set)  # SIGINT: see main()
        try:
            await self.bus.ready(timeout=10)
        except Exception:
            log.exception("worker %d: the bus is not ready; serving anyway", self.args.index)
        await self._meet_siblings()
        loop.add_reader(self.channel, self._on_channel)
        reporter = loop.create_task(self._report())
        await self.stop.wait()
        reporter.cancel()
        await self.drain()
        return 0

    async def _meet_siblings(self) -> None:
        """Before taking clients, wait (briefly) until the other workers of this host are in
        the node table, so that the first cluster queries (a chat's nickname list) already
        ask them. A restarted worker meets its running siblings at once; on a cold start the
        workers wait for each other; a sibling that never comes is not waited for long."""
        siblings = {ids.node_tag(self.args.host_tag, i) for i in range(self.args.workers)} - {
            self.tag
        }
        deadline = asyncio.get_running_loop().time() + SIBLINGS_WAIT
        while not siblings <= self.bus.nodes.keys():
            if asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.02)

    async def _execute(self, request: Wire) -> Wire | None:
        return await forwarding.execute(self.app, request)

    def _on_channel(self) -> None:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.channel, 256, 4)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, fds = b"", []
        if not data and not fds:
            log.info("worker %d: the supervisor is gone", self.args.index)
            asyncio.get_running_loop().remove_reader(self.channel)
            self.stop.set()
            return
        host, _, port = data.decode("latin-1").rpartition(":")
        for fd in fds:
            sock = socket.socket(fileno=fd)
            sock.setblocking(False)
            if self.fast is not None:
                self.fast.accept(sock, (host, int(port or 0)))
                continue
            try:
                stream = IOStream(sock, max_buffer_size=self.server.max_buffer_size)
            except Exception:
                sock.close()
                continue
            self.server.handle_stream(stream, (host, int(port or 0)))

    async def _report(self) -> None:
        while True:
            try:
                self.channel.send(b"L%d %d %d %d %d" % (
                    len(self.manager.sockets), self.delegate.forwarded, self.bus.is_ready,
                    self.delegate.relayed, len(self.bus.live_paths())))
                if self.args.metrics:
                    self._report_metrics()
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.stop.set()
                return
            await asyncio.sleep(REPORT_INTERVAL)

    def _report_metrics(self) -> None:
        report = b"M" + json.dumps(snapshot(
            self.manager, forwarded=self.delegate.forwarded, started=self.started,
        )).encode()
        if len(report) > MAX_REPORT:
            log.warning("worker %d: metrics report of %d bytes is too large, not sent",
                        self.args.index, len(report))
            return
        self.channel.send(report)

    async def drain(self) -> None:
        """Tell every client to reconnect, close connections, leave the bus."""
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.channel)
        if self.router.admin is not None:
            self.router.admin.stop()
        self.manager.close_all("server shutting down")
        await asyncio.sleep(0)  # let the closing writes go out
        if self.fast is not None:
            self.fast.close_all_connections()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.server.close_all_connections(), DRAIN_GRACE)
        await self.bus.close()
        self.channel.close()


def add_bus_flags(parser: argparse.ArgumentParser) -> None:
    """The flags :func:`bus_options` reads (the supervisor passes them to every process it
    runs on the bus)."""
    parser.add_argument("--curve-dir", help="CURVE keys: NAME.key_secret and broker.key")
    parser.add_argument("--curve-name", default="node", help="the client key pair's NAME")
    parser.add_argument("--curve-env", action="store_true", help="CURVE keys from TORNIO_CURVE_*")
    parser.add_argument("--heartbeat-interval", type=float, help="seconds between heartbeats")
    parser.add_argument("--node-timeout", type=float, help="seconds before a silent node is gone")
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"],
                        help="the event loop (workers/loops.py)")
    # Passed to every process with --loop; only workers serve HTTP.
    parser.add_argument("--http", default="tornado", choices=["fast", "tornado"],
                        help="the HTTP path of the Socket.IO routes (tornio.fastpath)")


def bus_options(args: argparse.Namespace) -> dict[str, Any]:
    """ZmqBus keyword arguments from the bus flags: CURVE keys (``--curve-dir``/``--curve-name``
    or ``--curve-env``, see :mod:`tornio.bus.security`) and heartbeat timing."""
    options: dict[str, Any] = {}
    if args.curve_dir:
        options["curve"] = security.load_client(args.curve_dir, args.curve_name)
    elif args.curve_env:
        options["curve"] = security.client_from_env()
    if args.heartbeat_interval is not None:
        options["heartbeat_interval"] = args.heartbeat_interval
    if args.node_timeout is not None:
        options["node_timeout"] = args.node_timeout
    return options


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.worker")
    parser.add_argument("target")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1, help="how many workers this host runs")
    parser.add_argument("--host-tag", required=True)
    parser.add_argument("--channel", type=int, required=True)
    parser.add_argument("--bus-pub", required=True)
    parser.add_argument("--bus-sub", required=True)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--advertise", help="HOST:PORT of this host, for websocket relays")
    parser.add_argument("--trusted-proxies", help="overrides the trusted_proxies setting")
    parser.add_argument("--header-timeout", type=float,
                        help="overrides the header_timeout setting")
    parser.add_argument("--origins", help="overrides the origins setting")
    parser.add_argument("--metrics", action="store_true", help="report metrics every second")
    add_bus_flags(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s %(levelname)s w{args.index} %(name)s: %(message)s",
    )
    # SIGTERM only: the supervisor ends workers; Ctrl-C's SIGINT, which reaches the whole
    # process group, is the supervisor's to act on (a worker quitting by itself first would
    # look like a crash, and be restarted).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    result: Any = loops.run(WorkerProcess(args).run(), args.loop)
    return int(result)


if __name__ == "__main__":
    sys.exit(main())
