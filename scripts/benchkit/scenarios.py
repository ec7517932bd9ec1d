"""The scenarios: what each one measures, on which servers, and one run of it.

A run starts a fresh server pinned to the server core, waits until it answers, drives it
with the load generator pinned to the client core, and ends both, whatever happens.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit import procs
from benchkit.servers import BENCH_JS, SCRIPTS, ServerSpec

__all__ = ["SCENARIOS", "Config", "RunContext", "Scenario", "run_once"]


@dataclass
class Config:
    """Everything a run needs to know; the command line fills it."""

    warmup: float = 1.0
    duration: float = 5.0
    echo_clients: int = 50
    echo_inflight: int = 8
    broadcast_clients: int = 500
    broadcast_window: int = 8
    polling_clients: int = 50
    polling_inflight: int = 1
    idle_sizes: tuple[int, ...] = (2000, 10000)
    idle_window: float = 10.0
    idle_settle: float = 3.0
    heartbeat: float = 5.0
    server_core: int | None = 0
    client_core: int | None = 1
    log_dir: Path = Path("bench-results/logs")
    startup_timeout: float = 60.0


@dataclass
class Metric:
    key: str
    label: str
    #: True when more is better (rates); False for costs (memory, CPU).
    higher_is_better: bool = True
    digits: int = 0
    #: Shown with its ratio against the baseline row.
    ratio: bool = False


@dataclass
class Scenario:
    name: str
    title: str
    metrics: list[Metric]
    #: Which servers it runs on.
    applies: Callable[[ServerSpec], bool]
    #: (scenario, server) whose median the primary metric is divided by.
    baseline: tuple[str, str] | None
    run: Callable[[RunContext], dict[str, Any]]

    @property
    def primary(self) -> Metric:
        """The metric the runs column lists (the first)."""
        return self.metrics[0]


@dataclass
class RunContext:
    """One run: the server it started, its port, and hooks the profiler uses."""

    scenario: str
    server: ServerSpec
    config: Config
    managed: procs.Managed
    port: int
    stats_file: Path
    label: str
    #: Called when the load generator starts measuring (the profiler attaches here).
    on_measuring: Callable[[RunContext], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def loadgen(self, scenario: str, **settings: Any) -> procs.Managed:
        config = {"scenario": scenario, "protocol": self.server.protocol, "port": self.port}
        config.update(settings)
        return procs.start(
            f"loadgen {self.label}",
            ["node", str(BENCH_JS / "loadgen.js"), json.dumps(config)],
            core=self.config.client_core,
            cwd=BENCH_JS,
            log_path=self.config.log_dir / f"{self.label}.loadgen.log",
            pipes=True,
        )

    def stats(self) -> dict[str, Any] | None:
        """The tornio supervisor's stats file (workers, sessions, forwarded requests)."""
        try:
            value: dict[str, Any] = json.loads(self.stats_file.read_text())
        except (OSError, ValueError):
            return None
        return value

    def check_server(self) -> None:
        if not self.managed.alive():
            raise procs.ServerFailed(
                f"the server died (exit {self.managed.popen.returncode}):\n"
                + self.managed.log_tail()
            )


# -- throughput scenarios ------------------------------------------------------------------------


def _throughput(ctx: RunContext, scenario: str, settings: dict[str, Any]) -> dict[str, Any]:
    cfg = ctx.config
    gen = ctx.loadgen(
        scenario, warmup=cfg.warmup, duration=cfg.duration, waitGo=True, **settings
    )
    try:
        reader = procs.LineReader(gen)
        connected = reader.until("connected", timeout=180)
        if connected.get("event") == "result":
            return _result(connected, ctx)
        spread = _sessions_per_worker(ctx, int(connected.get("n") or 0))
        reader.send("go")
        measuring = reader.until("measuring", timeout=cfg.warmup + 60)
        if measuring.get("event") == "result":
            return _result(measuring, ctx)
        probe = procs.LoadProbe(ctx.managed.pid, cfg.server_core, cfg.client_core)
        probe.start()
        if ctx.on_measuring is not None:
            ctx.on_measuring(ctx)
        result = reader.until("result", timeout=cfg.duration + 60)
        load = probe.stop()
        out = _result(result, ctx)
        out.update(load)
        if spread is not None:
            out["workers"] = spread
        final = ctx.stats()
        if final is not None:
            out["forwarded"] = final.get("forwarded")
        return out
    finally:
        gen.stop(grace=1.0)


def _sessions_per_worker(ctx: RunContext, clients: int) -> list[int] | None:
    """For ``tornio serve``: each worker's sessions once the supervisor has heard of every
    client (workers report every second), or what it knows after 10 s."""
    if ctx.server.kind != "tornio":
        return None
    deadline = time.monotonic() + 10
    spread: list[int] = []
    while True:
        stats = ctx.stats() or {}
        spread = [int(w.get("sessions") or 0) for w in stats.get("workers", [])]
        if sum(spread) >= clients or time.monotonic() > deadline:
            return spread
        time.sleep(0.2)


def _result(result: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    if not result.get("ok"):
        ctx.check_server()
        raise procs.ServerFailed(str(result.get("error") or "the load generator failed"))
    ctx.check_server()
    return {"rate": result["value"], "loadgen": result}


def run_echo(ctx: RunContext) -> dict[str, Any]:
    cfg = ctx.config
    return _throughput(
        ctx, "echo", {"clients": cfg.echo_clients, "inflight": cfg.echo_inflight}
    )


def run_broadcast(ctx: RunContext) -> dict[str, Any]:
    cfg = ctx.config
    out = _throughput(
        ctx,
        "broadcast",
        {"clients": cfg.broadcast_clients, "window": cfg.broadcast_window},
    )
    if ctx.server.workers > 1:
        spread = out.get("workers") or []
        if len([n for n in spread if n]) < 2:
            raise procs.ServerFailed(f"members were not spread over the workers: {spread}")
    return out


def run_polling(ctx: RunContext) -> dict[str, Any]:
    cfg = ctx.config
    return _throughput(
        ctx, "polling", {"clients": cfg.polling_clients, "inflight": cfg.polling_inflight}
    )


# -- idle connections ----------------------------------------------------------------------------


def run_idle(ctx: RunContext) -> dict[str, Any]:
    cfg = ctx.config
    leader = ctx.managed.pid
    time.sleep(0.5)
    base = procs.tree_memory_kb(leader)
    out: dict[str, Any] = {"baseline_rss_kb": base["rss_kb"], "baseline_pss_kb": base["pss_kb"]}
    gen = ctx.loadgen("idle", sizes=list(cfg.idle_sizes), connectConcurrency=100)
    try:
        reader = procs.LineReader(gen)
        for index, size in enumerate(cfg.idle_sizes):
            if index:
                reader.send("next")
            connected = reader.until("connected", timeout=600)
            if connected.get("event") == "result" or connected.get("n") != size:
                ctx.check_server()
                raise procs.ServerFailed(
                    f"{connected.get('n')} of {size} connected: {connected.get('firstError')}"
                )
            time.sleep(cfg.idle_settle)
            reader.send("stats")
            before = reader.until("stats", timeout=30)
            if ctx.on_measuring is not None and index == len(cfg.idle_sizes) - 1:
                ctx.on_measuring(ctx)  # the profiler samples the largest size's window
            probe = procs.LoadProbe(leader, cfg.server_core, cfg.client_core)
            probe.start()
            cpu0, t0 = procs.tree_cpu_seconds(leader), time.monotonic()
            time.sleep(cfg.idle_window)
            cpu1, t1 = procs.tree_cpu_seconds(leader), time.monotonic()
            load = probe.stop()
            out[f"other_on_server_core_pct_{size}"] = load.get("other_on_server_core_pct")
            reader.send("stats")
            after = reader.until("stats", timeout=30)
            memory = procs.tree_memory_kb(leader)
            ctx.check_server()
            if after.get("open") != size:
                raise procs.ServerFailed(
                    f"{size - int(after.get('open') or 0)} of {size} idle connections were "
                    "closed while measured"
                )
            out[f"kb_per_conn_{size}"] = (memory["rss_kb"] - base["rss_kb"]) / size
            out[f"pss_kb_per_conn_{size}"] = (memory["pss_kb"] - base["pss_kb"]) / size
            out[f"rss_mb_{size}"] = memory["rss_kb"] / 1024
            out[f"cpu_pct_{size}"] = 100 * (cpu1 - cpu0) / (t1 - t0)
            out[f"pings_{size}"] = int(after.get("pings", 0)) - int(before.get("pings", 0))
            out[f"connect_seconds_{size}"] = connected.get("seconds")
        reader.send("quit")
        reader.until("result", timeout=60)
        return out
    finally:
        gen.stop(grace=1.0)


# -- the list ----------------------------------------------------------------------------------


def _one_worker(server: ServerSpec) -> bool:
    return server.workers == 1


def _idle_metrics(sizes: tuple[int, ...]) -> list[Metric]:
    metrics = []
    for size in reversed(sizes):  # the largest size first: the primary metric
        metrics.append(Metric(f"kb_per_conn_{size}", f"KB/conn@{size}", False, 1, ratio=True))
        metrics.append(Metric(f"cpu_pct_{size}", f"CPU%@{size}", False, 1))
    return metrics


#: Shown beside every throughput: was the server saturated, and was its core shared?
LOAD_METRICS = [
    Metric("rate_per_cpu", "per CPU-s", ratio=True),
    Metric("server_cpu_pct", "server CPU%", False),
    Metric("other_on_server_core_pct", "other on its core %", False),
    Metric("client_core_busy_pct", "client core %", False),
]


def make_scenarios(config: Config) -> dict[str, Scenario]:
    rate = "rate"
    return {
        s.name: s
        for s in [
            Scenario(
                "echo",
                f"event echo: {config.echo_clients} clients × {config.echo_inflight} in flight"
                " (acks/s; bare Tornado: frames echoed/s)",
                [Metric(rate, "acks/s", ratio=True), *LOAD_METRICS],
                lambda server: True,
                ("echo", "tornado"),
                run_echo,
            ),
            Scenario(
                "broadcast",
                f"room broadcast: {config.broadcast_clients} members, one publisher "
                f"(≤ {config.broadcast_window} messages not yet everywhere), deliveries/s",
                [Metric(rate, "deliveries/s", ratio=True), *LOAD_METRICS],
                _one_worker,
                ("broadcast", "tornado"),
                run_broadcast,
            ),
            Scenario(
                "xbroadcast",
                f"broadcast across workers: tornio serve --workers 2, "
                f"{config.broadcast_clients} members spread over both, deliveries/s",
                [Metric(rate, "deliveries/s", ratio=True), *LOAD_METRICS],
                lambda server: server.kind == "tornio" and server.workers > 1,
                ("broadcast", "tornado"),
                run_broadcast,
            ),
            Scenario(
                "polling",
                f"polling round trips: {config.polling_clients} clients, emit→ack over "
                "xhr-polling (0.9) / Engine.IO polling (bare Tornado: a long-poll echo)",
                [Metric(rate, "round trips/s", ratio=True), *LOAD_METRICS],
                lambda server: True,
                ("polling", "tornado"),
                run_polling,
            ),
            Scenario(
                "idle",
                "idle websocket connections, heartbeats every "
                f"{config.heartbeat:g} s: RSS per connection, CPU % over "
                f"{config.idle_window:g} s",
                _idle_metrics(config.idle_sizes),
                lambda server: True,
                ("idle", "tornado"),
                run_idle,
            ),
        ]
    }


SCENARIOS = ("echo", "broadcast", "xbroadcast", "polling", "idle")


def run_once(
    scenario: Scenario,
    server: ServerSpec,
    config: Config,
    label: str,
    on_measuring: Callable[[RunContext], None] | None = None,
) -> dict[str, Any]:
    """One run on a fresh server; raises ServerFailed (or anything else) on failure."""
    port = procs.free_port()
    stats_dir = Path(tempfile.mkdtemp(prefix="tornio-bench-"))
    stats_file = stats_dir / "stats.json"
    env = dict(os.environ)
    env["BENCH_HEARTBEAT"] = str(config.heartbeat)
    # bench_apps from scripts/, and tornio and workers from this checkout (an editable install
    # maps workers/ as tornio.workers only; the server runs `python -m workers`).
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SCRIPTS), str(SCRIPTS.parent), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    managed = procs.start(
        server.name,
        server.command(port, stats_file),
        core=config.server_core,
        cwd=SCRIPTS,
        env=env,
        log_path=config.log_dir / f"{label}.server.log",
    )
    try:
        procs.wait_http(
            managed,
            port,
            server.probe_path,
            config.startup_timeout,
            ready=lambda: server.workers_ready(stats_file),
        )
        ctx = RunContext(
            scenario.name, server, config, managed, port, stats_file, label, on_measuring
        )
        started = time.monotonic()
        result = scenario.run(ctx)
        result["seconds"] = round(time.monotonic() - started, 1)
        return result
    finally:
        managed.stop()
        for leftover in stats_dir.glob("*"):
            leftover.unlink(missing_ok=True)
        stats_dir.rmdir()
