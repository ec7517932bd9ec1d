"""The servers the benchmark measures: how to start each one, how to tell it is ready, and
which protocol the load generator speaks to it."""

from __future__ import annotations

import json
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SCRIPTS", "SERVERS", "ServerSpec"]

SCRIPTS = Path(__file__).resolve().parent.parent
BENCH_JS = SCRIPTS / "bench-js"


@dataclass(frozen=True)
class ServerSpec:
    name: str
    #: What the load generator speaks: "modern", "legacy" or "raw" (bare websockets).
    protocol: str
    #: "tornio", "tornado", "psio-aiohttp", "psio-tornado" or "node".
    kind: str
    workers: int = 1
    description: str = ""
    #: tornio with connection state recovery on (offsets, the recovery store).
    recovery: bool = False
    #: tornio's event loop (``tornio serve --loop``).
    loop: str = "asyncio"
    #: tornio serve --metrics-port: every worker reports its metrics once a second.
    metrics: bool = False
    #: how tornio serves the polling routes (``tornio serve --http``).
    http: str = "auto"
    #: tornio serve --bus with this many brokers of its own (``python -m tornio.bus.broker``
    #: processes in the server's process group, so their CPU counts); 0: the private broker.
    brokers: int = 0

    @property
    def python(self) -> bool:
        return self.kind != "node"

    def command(self, port: int, stats_file: Path) -> list[str]:
        if self.kind == "tornio" and self.brokers:
            return _with_brokers(self.brokers, self._serve(port, stats_file))
        if self.kind == "tornio":
            return self._serve(port, stats_file)
        if self.kind == "node":
            return ["node", str(BENCH_JS / "node_server.js"), str(port)]
        module = {
            "tornado": "bench_apps.tornado_app",
            "psio-aiohttp": "bench_apps.psio_aiohttp_app",
            "psio-tornado": "bench_apps.psio_tornado_app",
        }[self.kind]
        return [sys.executable, "-m", module, "--port", str(port)]

    def _serve(self, port: int, stats_file: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "workers",
            "serve",
            "bench_apps.tornio_app:"
            + ("router_with_recovery" if self.recovery else "router"),
            "--port",
            str(port),
            "--workers",
            str(self.workers),
            "--no-policy-server",
            "--loop",
            self.loop,
            "--http",
            self.http,
            "--drain-timeout",
            "1",
            "--log-level",
            "warning",
            "--stats-file",
            str(stats_file),
            *(["--metrics-port", str(_free_port())] if self.metrics else []),
        ]

    @property
    def probe_path(self) -> str:
        """A GET that any HTTP answer to means the server is up (and opens no session)."""
        return "/health" if self.kind == "tornado" else "/socket.io/"

    def workers_ready(self, stats_file: Path) -> bool:
        """For ``tornio serve``: every worker has reported to the supervisor."""
        if self.kind != "tornio":
            return True
        try:
            stats = json.loads(stats_file.read_text())
        except (OSError, ValueError):
            return False
        workers = stats.get("workers", [])
        return len(workers) == self.workers and all(w.get("alive") for w in workers)


def _with_brokers(count: int, serve: list[str]) -> list[str]:
    """``serve`` with ``--bus`` naming ``count`` brokers on loopback, started first by a shell
    in the same process group (stopped with the server, their CPU counted with it)."""
    ports = [_free_port_pair() for _ in range(count)]
    brokers = " ".join(
        f"{shlex.quote(sys.executable)} -m tornio.bus.broker --bind tcp://127.0.0.1:{p} &"
        for p in ports
    )
    bus = ",".join(f"tcp://127.0.0.1:{p}" for p in ports)
    return ["sh", "-c", f"{brokers} exec {shlex.join([*serve, '--bus', bus])}"]


def _free_port_pair() -> int:
    """A free port whose next port is free too (a broker binds both)."""
    while True:
        port = _free_port()
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVERS: list[ServerSpec] = [
    ServerSpec("tornio-modern-1w", "modern", "tornio", 1, "tornio serve --workers 1, EIO4/SIO5"),
    ServerSpec("tornio-legacy-1w", "legacy", "tornio", 1, "tornio serve --workers 1, 0.9"),
    ServerSpec("tornio-modern-2w", "modern", "tornio", 2, "tornio serve --workers 2, EIO4/SIO5"),
    ServerSpec("tornio-legacy-2w", "legacy", "tornio", 2, "tornio serve --workers 2, 0.9"),
    ServerSpec("tornio-modern-2w-2b", "modern", "tornio", 2,
               "tornio serve --workers 2 --bus with two brokers, EIO4/SIO5", brokers=2),
    ServerSpec("tornio-legacy-2w-2b", "legacy", "tornio", 2,
               "tornio serve --workers 2 --bus with two brokers, 0.9", brokers=2),
    ServerSpec("tornio-modern-1w-uvloop", "modern", "tornio", 1,
               "tornio serve --workers 1 --loop uvloop, EIO4/SIO5", loop="uvloop"),
    ServerSpec("tornio-legacy-1w-uvloop", "legacy", "tornio", 1,
               "tornio serve --workers 1 --loop uvloop, 0.9", loop="uvloop"),
    ServerSpec("tornio-modern-1w-th", "modern", "tornio", 1,
               "tornio serve --workers 1 --http tornado, EIO4/SIO5", http="tornado"),
    ServerSpec("tornio-legacy-1w-th", "legacy", "tornio", 1,
               "tornio serve --workers 1 --http tornado, 0.9", http="tornado"),
    ServerSpec("tornio-modern-1w-rec", "modern", "tornio", 1,
               "tornio serve --workers 1, EIO4/SIO5, connection state recovery on",
               recovery=True),
    ServerSpec("tornio-modern-1w-metrics", "modern", "tornio", 1,
               "tornio serve --workers 1 --metrics-port, EIO4/SIO5", metrics=True),
    ServerSpec("tornado", "raw", "tornado", 1, "bare Tornado websockets, no protocol"),
    ServerSpec("psio-aiohttp", "modern", "psio-aiohttp", 1, "python-socketio AsyncServer, aiohttp"),
    ServerSpec("psio-tornado", "modern", "psio-tornado", 1, "python-socketio AsyncServer, Tornado"),
    ServerSpec("node-socketio", "modern", "node", 1, "node socket.io 4.x"),
]
