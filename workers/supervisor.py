"""The supervisor: one listening socket, N Tornado worker processes, a bus broker, and the
Flash policy process, all watched and restarted.

It binds the port before any worker starts and keeps it: workers never accept connections
themselves. Each new connection's first request is peeked at (nothing consumed); a session
id in it names the worker that owns the session (:mod:`tornio.bus.ids`), so the connection is
passed to that worker's process with ``socket.send_fds`` — no sticky sessions needed. A
connection with no session id goes to the least-loaded worker (workers report their session
counts every second). Requests that later reach the wrong worker on a kept-alive connection
are forwarded by the worker itself (:mod:`tornio.transports.forwarding`).

SIGTERM or SIGINT: stop accepting, tell workers to drain (their clients are told to
reconnect), wait up to the drain timeout, then end whatever is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from tornado.netutil import bind_sockets

from tornio.bus import ids
from tornio.bus.addresses import bus_addresses
from tornio.bus.store import store_id

from .routing import PEEK_BYTES, find_sid, least_loaded, request_line_complete

__all__ = ["Supervisor", "SupervisorOptions"]

log = logging.getLogger("tornio.supervisor")

#: This package, whose modules the worker and store processes run: ``workers`` in a checkout,
#: ``tornio.workers`` when tornio is installed from its wheel.
PACKAGE = __name__.rpartition(".")[0]

#: How long a connection that came before any worker process was up is held for one.
FIRST_BYTES_TIMEOUT = 5.0
#: The default wait for a new connection's request line (``header_timeout``'s default).
HEADER_TIMEOUT = 20.0
#: A request line arriving in pieces is peeked at again after this long, then twice as long
#: each time up to :data:`PEEK_BACKOFF_MAX` (its bytes stay readable: a reader would spin).
PEEK_BACKOFF = 0.005
PEEK_BACKOFF_MAX = 0.25
#: Most connections waiting for their request line at once; past it the oldest is closed.
MAX_PEEKING = 4096
#: A worker that dies this often in a row within a minute is not restarted in a tight loop.
RESTART_BACKOFF = (0.0, 0.1, 0.5, 1.0)
#: The largest report read from a worker's channel (a metrics report is JSON).
REPORT_BYTES = 256 * 1024 + 1
#: A worker is ready while its last report is at most this old (it reports every second).
READY_WINDOW = 3.0


@dataclass
class SupervisorOptions:
    target: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    policy_port: int | None = 10843
    #: Brokers' addresses to join instead of running our own (several: separated by commas).
    bus: str | None = None
    drain_timeout: float = 10.0
    log_level: str = "info"
    #: A file the supervisor rewrites (JSON) whenever a worker reports: see ``stats()``.
    stats_file: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    #: More ``workers.worker`` flags for every worker (bus security and heartbeat timing).
    worker_args: list[str] = field(default_factory=list)
    #: Connection state recovery's ``max_disconnection_duration`` when the application turns
    #: it on: the supervisor then runs this host's recovery store (``workers/store.py``).
    recovery: float | None = None
    #: ``HOST:PORT`` where other hosts can reach this one's port, announced on the bus so
    #: that they relay websockets for this host's sessions here (None: the bound address,
    #: or this host's name's address when bound to every interface).
    advertise: str | None = None
    #: ``tornio serve --trusted-proxies``: passed to the workers (None: the application's
    #: ``trusted_proxies`` setting).
    trusted_proxies: str | None = None
    #: ``tornio serve --origins``: passed to the workers (None: the application's ``origins``
    #: setting).
    origins: str | None = None
    #: How workers serve the polling routes: ``fast`` (httptools) or ``tornado``.
    http: str = "tornado"
    #: ``tornio serve --header-timeout``: how long a new connection may take to send its
    #: request line here (then closed quietly); passed to the workers, whose wait for a
    #: whole head it is too. None: the default (20 s) here, the application's setting there.
    header_timeout: float | None = None

    #: Where ``/metrics``, ``/health`` and ``/ready`` are served (``workers/health.py``);
    #: None: nowhere, and workers report no metrics.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"


def advertised_address(host: str, port: int) -> str | None:
    """Where other hosts reach a port bound on ``host`` (see ``SupervisorOptions``)."""
    if host in ("", "0.0.0.0", "::"):
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            return None
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Worker:
    """The supervisor's view of one worker process."""

    def __init__(self, index: int, tag: str) -> None:
        self.index = index
        self.tag = tag
        self.process: asyncio.subprocess.Process | None = None
        self.channel: socket.socket | None = None
        self.load = 0
        self.assigned = 0  # new sessions handed to it since its last load report
        self.restarts = 0
        self.forwarded = 0
        self.relayed = 0
        self.ready = False
        self.reported_at = 0.0  # time.time() of its last report
        self.bus_ready = False
        #: How many brokers carried its heartbeats lately (its last report).
        self.bus_paths = 0
        #: Its last metrics report (a :func:`tornio.metrics.snapshot`), with ``--metrics-port``.
        self.metrics: dict[str, Any] | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None and self.ready


class Peeking:
    """A new connection in the supervisor, until its request line is all there."""

    __slots__ = ("address", "again", "backoff", "conn", "expiry")

    def __init__(self, conn: socket.socket, address: tuple[str, int]) -> None:
        self.conn = conn
        self.address = address
        self.backoff = PEEK_BACKOFF
        #: The header timeout's timer; the next re-peek's.
        self.expiry: asyncio.TimerHandle | None = None
        self.again: asyncio.TimerHandle | None = None


class Supervisor:
    """Runs and watches everything ``tornio serve --workers N`` needs."""

    def __init__(self, options: SupervisorOptions) -> None:
        self.options = options
        self.host_tag = ids.new_host_tag()
        self.workers = [Worker(i, ids.node_tag(self.host_tag, i)) for i in range(options.workers)]
        self.listeners: list[socket.socket] = []
        self.stopping = False
        self.handed = 0  # connections passed to workers
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runtime_dir = tempfile.mkdtemp(prefix="tornio-")
        self.bus_pub, self.bus_sub = self._bus_addresses()
        self.broker: asyncio.subprocess.Process | None = None
        self.broker_restarts = 0
        self.store: asyncio.subprocess.Process | None = None
        #: Connections that arrived before any worker process was up.
        self._parked: list[tuple[socket.socket, tuple[str, int], str | None]] = []
        #: New connections whose request line is not all there yet (oldest first).
        self._peeking: dict[socket.socket, Peeking] = {}
        #: Connections closed for not sending a request line within the header timeout.
        self.timed_out = 0
        self.store_restarts = 0
        self.policy: Any = None
        #: Requests forwarded between workers, as the workers last reported them.
        self.forwarded = 0
        #: Websocket upgrades relayed to their owner's host, as the workers last reported.
        self.relayed = 0
        self.advertise: str | None = None
        self.health: Any = None

    # -- start --------------------------------------------------------------------------------

    def _bus_addresses(self) -> tuple[str, str]:
        self.bus_address = self.options.bus or "ipc://" + os.path.join(self._runtime_dir, "bus")
        return bus_addresses(self.bus_address)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.listeners = bind_sockets(self.options.port, self.options.host or None)
        for listener in self.listeners:
            listener.setblocking(False)
        port = self.listeners[0].getsockname()[1]
        self.advertise = self.options.advertise or advertised_address(self.options.host, port)
        if not self.options.bus:
            self._spawn_task(self._keep_broker())
        self._start_policy()
        if self.options.metrics_port is not None:
            from .health import HealthServer

            self.health = HealthServer(self, self.options.metrics_host, self.options.metrics_port)
            self.health.start()
        if self.options.recovery is not None:
            self._spawn_task(self._keep_store(self.options.recovery))
        for worker in self.workers:
            self._spawn_task(self._keep_worker(worker))
        for listener in self.listeners:
            loop.add_reader(listener, self._accept, listener)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        log.info(
            "tornio serving %s on http://%s:%d/ with %d workers (host %s)",
            self.options.target,
            self.options.host or "*",
            port,
            len(self.workers),
            self.host_tag,
        )
        await self._stop.wait()
        await self.shutdown()
        return 0

    def _spawn_task(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start_policy(self) -> None:
        """The Flash policy process, when this tornio has one (see tornio/policy.py)."""
        if self.options.policy_port is None:
            return
        try:
            policy = importlib.import_module("tornio.policy")
        except ImportError:
            log.warning("no Flash policy server in this tornio")
            return
        self.policy = policy.PolicySupervisor(port=self.options.policy_port)
        self.policy.start()

    async def _keep_broker(self) -> None:
        """Run the bus broker, and run it again if it dies."""
        while not self.stopping:
            self.broker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tornio.bus.broker",
                "--bind",
                self.bus_address,
                "--log-level",
                "WARNING",
                "--supervised",  # stopped below, after the workers: not by Ctrl-C's SIGINT
                env=self._env(),
                stdout=asyncio.subprocess.DEVNULL,
            )
            code = await self.broker.wait()
            if not self.stopping:
                self.broker_restarts += 1
                log.warning("bus broker exited with %s; restarting it", code)
                await asyncio.sleep(0.05)

    async def _keep_store(self, max_disconnection_duration: float) -> None:
        """Run this host's recovery store, and run it again if it dies (what it held is
        lost then: those sessions reconnect afresh)."""
        while not self.stopping:
            self.store = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"{PACKAGE}.store",
                "--node-id",
                store_id(self.host_tag),
                "--max-disconnection-duration",
                str(max_disconnection_duration),
                "--bus-pub",
                self.bus_pub,
                "--bus-sub",
                self.bus_sub,
                "--log-level",
                self.options.log_level,
                *self.options.worker_args,
                env=self._env(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
            )
            code = await self.store.wait()
            if not self.stopping:
                self.store_restarts += 1
                log.warning("recovery store exited with %s; restarting it", code)
                await asyncio.sleep(0.05)

    def _tell_store_lost(self, worker: Worker) -> None:
        """A worker died: its sessions are lost now, not after the bus's node timeout."""
        store = self.store
        if store is None or store.stdin is None or store.returncode is not None:
            return
        with contextlib.suppress(Exception):
            store.stdin.write(f"lost {worker.tag}\n".encode())

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.options.extra_env)
        env["TORNIO_BUS"] = self.bus_address  # where an Emitter in a worker (a view) publishes
        if self.options.recovery is not None:
            env["TORNIO_RECOVERY_STORE"] = store_id(self.host_tag)
        path = os.getcwd()
        env["PYTHONPATH"] = path + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return env

    def _http_args(self) -> list[str]:
        """The flags only workers take (they serve HTTP; the store does not)."""
        args = [f"--http={self.options.http}"]
        if self.options.header_timeout is not None:
            args.append(f"--header-timeout={self.options.header_timeout}")
        if self.options.trusted_proxies is not None:
            args.append(f"--trusted-proxies={self.options.trusted_proxies}")
        if self.options.origins is not None:
            args.append(f"--origins={self.options.origins}")
        return args

    async def _keep_worker(self, worker: Worker) -> None:
        """Run one worker, and run it again (same index, same tag) whenever it dies."""
        failures = 0
        while not self.stopping:
            parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            parent.setblocking(False)
            started = asyncio.get_running_loop().time()
            worker.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"{PACKAGE}.worker",
                self.options.target,
                "--index",
                str(worker.index),
                f"--host-tag={self.host_tag}",  # a tag may start with "-"
                f"--workers={len(self.workers)}",
                "--channel",
                str(child.fileno()),
                "--bus-pub",
                self.bus_pub,
                "--bus-sub",
                self.bus_sub,
                "--log-level",
                self.options.log_level,
                *([f"--advertise={self.advertise}"] if self.advertise else []),
                *(["--metrics"] if self.options.metrics_port is not None else []),
                *self.options.worker_args,
                *self._http_args(),
                pass_fds=(child.fileno(),),
                env=self._env(),
            )
            child.close()
            worker.channel = parent
            worker.ready = worker.bus_ready = False
            worker.metrics = None
            worker.load = worker.assigned = 0
            loop = asyncio.get_running_loop()
            loop.add_reader(parent, self._on_report, worker)
            self._unpark()
            code = await worker.process.wait()
            with contextlib.suppress(Exception):
                loop.remove_reader(parent)
            parent.close()
            worker.channel = None
            worker.ready = False
            if self.stopping:
                return
            self._tell_store_lost(worker)
            worker.restarts += 1
            ran = loop.time() - started
            failures = 0 if ran > 60 else failures + 1
            delay = RESTART_BACKOFF[min(failures, len(RESTART_BACKOFF) - 1)]
            log.warning("worker %d exited with %s; restarting it", worker.index, code)
            if delay:
                await asyncio.sleep(delay)

    def _on_report(self, worker: Worker) -> None:
        channel = worker.channel
        if channel is None:
            return
        try:
            data = channel.recv(REPORT_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(channel)
            return
        if data.startswith(b"M"):  # b"M<json>": its metrics (tornio.metrics.snapshot)
            try:
                metrics = json.loads(data[1:])
            except ValueError:
                log.warning("worker %d sent a metrics report that does not parse", worker.index)
            else:
                worker.metrics = metrics if isinstance(metrics, dict) else None
        elif data.startswith(b"L"):  # b"L<sessions> <forwarded> <bus ready> <relayed> <paths>"
            with contextlib.suppress(ValueError, IndexError):
                fields = data[1:].split()
                worker.load = int(fields[0])
                worker.forwarded = int(fields[1]) if len(fields) > 1 else 0
                worker.bus_ready = len(fields) > 2 and fields[2] == b"1"
                worker.relayed = int(fields[3]) if len(fields) > 3 else 0
                worker.bus_paths = int(fields[4]) if len(fields) > 4 else 0
                worker.assigned = 0
                worker.ready = True
                worker.reported_at = time.time()
                self.forwarded = sum(w.forwarded for w in self.workers)
                self.relayed = sum(w.relayed for w in self.workers)
                self._write_stats()

    def stats(self) -> dict[str, Any]:
        """Connections handed over, requests forwarded, the bus, and each worker's state."""
        broker = self.broker
        return {
            "host": self.host_tag,
            "handed": self.handed,
            "peeking": len(self._peeking),
            "timed_out": self.timed_out,
            "forwarded": self.forwarded,
            "relayed": self.relayed,
            "bus": {"pub": self.bus_pub, "sub": self.bus_sub,
                    "brokers": len(self.bus_pub.split(","))},
            "broker": None
            if self.options.bus
            else {
                "pid": broker.pid if broker is not None and broker.returncode is None else None,
                "restarts": self.broker_restarts,
            },
            "store": None
            if self.store is None
            else {
                "pid": self.store.pid if self.store.returncode is None else None,
                "restarts": self.store_restarts,
            },
            "workers": [
                {
                    "index": w.index,
                    "tag": w.tag,
                    "alive": w.alive,
                    "sessions": w.load,
                    "forwarded": w.forwarded,
                    "relayed": w.relayed,
                    "restarts": w.restarts,
                    "pid": w.process.pid if w.process else None,
                    "reported_at": w.reported_at,
                    "bus_ready": w.bus_ready,
                    "bus_paths": w.bus_paths,
                }
                for w in self.workers
            ],
        }

    def _write_stats(self) -> None:
        path = self.options.stats_file
        if not path:
            return
        tmp = path + ".tmp"
        with open(tmp, "w") as out:
            json.dump(self.stats(), out)
        os.replace(tmp, path)

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the host serves (every worker runs, reported within
        :data:`READY_WINDOW` seconds and has a flowing bus; our broker runs), and why not."""
        now = time.time()
        workers = {
            str(w.index): {
                "alive": w.alive,
                "reported": w.reported_at > 0 and now - w.reported_at <= READY_WINDOW,
                "bus": w.bus_ready,
            }
            for w in self.workers
        }
        broker = self.broker
        broker_up = bool(self.options.bus) or (broker is not None and broker.returncode is None)
        ready = (not self.stopping and broker_up
                 and all(all(state.values()) for state in workers.values()))
        return ready, {"ready": ready, "stopping": self.stopping, "broker": broker_up,
                       "workers": workers}

    # -- connections ----------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.options.header_timeout or HEADER_TIMEOUT
        for _ in range(64):
            try:
                conn, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            conn.setblocking(False)
            if len(self._peeking) >= MAX_PEEKING:
                oldest = next(iter(self._peeking.values()))
                log.debug("too many connections without a request line: closing %s",
                          oldest.address)
                self._drop(oldest)
            peeking = Peeking(conn, address)
            self._peeking[conn] = peeking
            peeking.expiry = loop.call_later(timeout, self._expired, peeking)
            loop.add_reader(conn, self._peek, peeking)

    def _peek(self, peeking: Peeking) -> None:
        """Look at what a new connection sent so far (nothing consumed): its request line
        whole, it goes to its worker; part of it, look again later; nothing (a close, an
        error), it is dropped. Called by its reader or its re-peek timer, either of which may
        come after the connection is gone: then it does nothing."""
        peeking.again = None
        conn = peeking.conn
        if self._peeking.get(conn) is not peeking or conn.fileno() < 0:
            return
        loop = asyncio.get_running_loop()
        try:
            head = conn.recv(PEEK_BYTES, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            head = b""
        self._unwatch(peeking)
        if not head:
            log.debug("%s closed before its request line", peeking.address)
            self._drop(peeking)
            return
        if not request_line_complete(head):
            peeking.again = loop.call_later(peeking.backoff, self._peek, peeking)
            peeking.backoff = min(peeking.backoff * 2, PEEK_BACKOFF_MAX)
            return
        self._settle(peeking)
        self._hand(conn, peeking.address, find_sid(head))

    def _expired(self, peeking: Peeking) -> None:
        """No whole request line within the header timeout (a slowloris, or a client that
        connects and says nothing): closed quietly, as a worker closes a slow head."""
        peeking.expiry = None
        if self._peeking.get(peeking.conn) is not peeking:
            return
        self.timed_out += 1
        log.debug("%s sent no request line in time: closed", peeking.address)
        self._drop(peeking)

    def _unwatch(self, peeking: Peeking) -> None:
        if peeking.conn.fileno() >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(peeking.conn)

    def _settle(self, peeking: Peeking) -> None:
        """The connection leaves the peek stage: its reader and timers end."""
        self._peeking.pop(peeking.conn, None)
        self._unwatch(peeking)
        for timer in (peeking.expiry, peeking.again):
            if timer is not None:
                timer.cancel()
        peeking.expiry = peeking.again = None

    def _drop(self, peeking: Peeking) -> None:
        self._settle(peeking)
        with contextlib.suppress(OSError):
            peeking.conn.close()

    def _hand(self, conn: socket.socket, address: tuple[str, int], sid: str | None) -> None:
        # A session's connections go to its owner whatever its state, never to another
        # worker, which could only forward them into the void: an owner that is starting
        # (a replacement) reads them once it serves, and answers that the sessions of the
        # worker it replaces are unknown; an owner that is down gets none.
        worker = self._owner(sid) if sid else None
        if worker is None:
            worker = self._least_loaded()
        if worker is None or worker.channel is None:
            if not self.stopping and not any(w.channel for w in self.workers):
                self._park(conn, address, sid)  # starting up: the first worker takes it
                return
            conn.close()  # no worker to take it: the client reconnects, or retries
            return
        peer = f"{address[0]}:{address[1]}".encode()
        try:
            socket.send_fds(worker.channel, [peer], [conn.fileno()])
        except OSError as exc:
            log.warning("could not pass a connection to worker %d: %s", worker.index, exc)
        else:
            self.handed += 1
            if sid is None:
                worker.assigned += 1
        conn.close()

    def _park(self, conn: socket.socket, address: tuple[str, int], sid: str | None) -> None:
        """Hold a connection that came before any worker process was up (for at most
        :data:`FIRST_BYTES_TIMEOUT`), rather than reset it."""
        self._parked.append((conn, address, sid))
        if len(self._parked) == 1:
            asyncio.get_running_loop().call_later(FIRST_BYTES_TIMEOUT, self._drop_parked)

    def _unpark(self) -> None:
        parked, self._parked = self._parked, []
        for conn, address, sid in parked:
            self._hand(conn, address, sid)

    def _drop_parked(self) -> None:
        parked, self._parked = self._parked, []
        for conn, _, _ in parked:
            conn.close()

    def _owner(self, sid: str) -> Worker | None:
        """The worker whose index the sid names (alive or not); None for another host's."""
        tag = ids.owner_of(sid)
        if tag is None or not tag.startswith(self.host_tag):
            return None  # another host's session: any worker forwards it
        index = ids.worker_index(tag)
        return self.workers[index] if index < len(self.workers) else None

    def _least_loaded(self) -> Worker | None:
        index = least_loaded(
            [w.load + w.assigned for w in self.workers], [w.alive for w in self.workers]
        )
        if index is None:
            # None has reported yet (starting up): any worker with a process will do.
            started = [w for w in self.workers if w.channel is not None]
            return min(started, key=lambda w: w.assigned) if started else None
        return self.workers[index]

    # -- stop -----------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Stop accepting, let workers drain, then end everything."""
        self.stopping = True
        loop = asyncio.get_running_loop()
        for listener in self.listeners:
            with contextlib.suppress(Exception):
                loop.remove_reader(listener)
            listener.close()
        for peeking in list(self._peeking.values()):
            self._drop(peeking)
        processes = [w.process for w in self.workers if w.process is not None]
        for process in processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        await self._wait_or_kill(processes, self.options.drain_timeout)
        for helper in (self.store, self.broker):
            if helper is not None and helper.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    helper.terminate()
                await self._wait_or_kill([helper], 2.0)
        if self.policy is not None:
            self.policy.stop()
        if self.health is not None:  # /ready said 503 while draining; now nothing answers
            self.health.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(OSError):
            for name in os.listdir(self._runtime_dir):
                os.unlink(os.path.join(self._runtime_dir, name))
            os.rmdir(self._runtime_dir)
        self._write_stats()
        log.info(
            "tornio stopped (%d connections handed over, %d requests forwarded)",
            self.handed,
            self.forwarded,
        )

    @staticmethod
    async def _wait_or_kill(
        processes: Sequence[asyncio.subprocess.Process], timeout: float
    ) -> None:
        waits = [asyncio.ensure_future(p.wait()) for p in processes]
        if not waits:
            return
        _, pending = await asyncio.wait(waits, timeout=timeout)
        for process in processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
