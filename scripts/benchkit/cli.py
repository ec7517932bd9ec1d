"""The command line of ``scripts/bench`` (and ``scripts/profile``)."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
import datetime
import fnmatch
import json
import os
import resource
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from benchkit import procs
from benchkit.profile import Profiler, ensure_py_spy, summarize
from benchkit.report import Row, machine, median_of, render, write_json
from benchkit.scenarios import SCENARIOS, Config, Scenario, make_scenarios, run_once
from benchkit.servers import SERVERS, ServerSpec

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent.parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Benchmark tornio against bare Tornado, python-socketio and node "
        "socket.io: each server pinned to one core, a Node load generator on another.",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (default 3)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a fast smoke run: 1 run each, short durations, small idle sizes",
    )
    parser.add_argument(
        "--only",
        metavar="SCENARIO[,…]",
        help=f"scenarios to run (default all: {','.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--servers",
        metavar="NAME[,…]",
        help="servers to run (names, prefixes or globs: 'tornio', 'psio-*'); "
        f"default all: {','.join(s.name for s in SERVERS)}",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=ROOT / "bench-results" / "results.json",
        help="where to write the results (default bench-results/results.json)",
    )
    parser.add_argument("--warmup", type=float, help="seconds before measuring (default 1)")
    parser.add_argument("--duration", type=float, help="seconds measured (default 5)")
    parser.add_argument(
        "--idle-sizes", help="idle connection counts, comma-separated (default 2000,10000)"
    )
    parser.add_argument(
        "--idle-window", type=float, help="seconds of idle CPU measured (default 10)"
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=5.0,
        help="seconds between heartbeats/pings, every server (default 5)",
    )
    parser.add_argument("--broadcast-clients", type=int, help="room members (default 500)")
    parser.add_argument("--echo-clients", type=int, help="echo clients (default 50)")
    parser.add_argument("--polling-clients", type=int, help="polling clients (default 50)")
    parser.add_argument("--server-core", type=int, default=0, help="core for servers (0)")
    parser.add_argument("--client-core", type=int, default=1, help="core for the client (1)")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin anything (machines with one core)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="one run of each selected scenario and server with py-spy attached to the "
        "server while measured (default: --only echo --servers tornio-modern-1w); writes "
        "bench-results/profile-<server>-<scenario>.txt and .summary.txt",
    )
    parser.add_argument(
        "--profile-rate", type=int, default=100, help="py-spy samples per second (100)"
    )
    parser.add_argument(
        "--profile-nonblocking",
        action="store_true",
        help="let py-spy sample without pausing the server (less overhead, but many "
        "stacks come out partial, so the 'including callees' table undercounts)",
    )
    parser.add_argument(
        "--max-noise",
        type=float,
        default=15.0,
        help="a throughput run during which other processes used more than this %% of the "
        "server's core is run again (default 15)",
    )
    parser.add_argument(
        "--noise-retries", type=int, default=2, help="how often a noisy run is retried (2)"
    )
    parser.add_argument(
        "--fail-retries", type=int, default=1, help="how often a failed run is retried (1)"
    )
    parser.add_argument("--list", action="store_true", help="list scenarios and servers")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="JSON",
        help="print the table of an earlier run's JSON file (nothing is run)",
    )
    return parser


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def select_servers(patterns: list[str]) -> list[ServerSpec]:
    if not patterns:
        return list(SERVERS)
    chosen = []
    for server in SERVERS:
        for pattern in patterns:
            if (
                server.name == pattern
                or server.name.startswith(pattern)
                or fnmatch.fnmatch(server.name, pattern)
            ):
                chosen.append(server)
                break
    return chosen


def make_config(args: argparse.Namespace) -> Config:
    config = Config(heartbeat=args.heartbeat, log_dir=args.json.parent / "logs")
    if args.quick:
        config.warmup, config.duration = 0.5, 2.0
        config.idle_sizes, config.idle_window, config.idle_settle = (200, 1000), 2.0, 1.0
        config.broadcast_clients = 100
    if args.warmup is not None:
        config.warmup = args.warmup
    if args.duration is not None:
        config.duration = args.duration
    if args.idle_sizes:
        config.idle_sizes = tuple(int(s) for s in _split(args.idle_sizes))
    if args.idle_window is not None:
        config.idle_window = args.idle_window
    if args.broadcast_clients is not None:
        config.broadcast_clients = args.broadcast_clients
    if args.echo_clients is not None:
        config.echo_clients = args.echo_clients
    if args.polling_clients is not None:
        config.polling_clients = args.polling_clients
    if args.no_pin:
        config.server_core = config.client_core = None
    else:
        config.server_core, config.client_core = args.server_core, args.client_core
    return config


def raise_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        print(
            f"warning: open files limited to {soft}; {needed} connections need more "
            "(the idle scenario may fail)",
            file=sys.stderr,
        )


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _summary(result: dict[str, Any], scenario_metrics: list[Any]) -> str:
    parts = []
    for metric in scenario_metrics:
        value = result.get(metric.key)
        if isinstance(value, (int, float)):
            parts.append(f"{value:,.{metric.digits}f} {metric.label}")
    extra = []
    if result.get("workers"):
        extra.append(f"sessions per worker {result['workers']}")
    if result.get("forwarded"):
        extra.append(f"{result['forwarded']} forwarded")
    return ", ".join(parts) + (f" ({'; '.join(extra)})" if extra else "")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    caller = Path(os.environ.get("BENCH_CALLER_DIR") or os.getcwd())
    args.json = caller / args.json
    if args.report is not None:
        args.report = caller / args.report
        return report(args.report)
    config = make_config(args)
    scenarios = make_scenarios(config)
    if args.list:
        for scenario in scenarios.values():
            names = [s.name for s in SERVERS if scenario.applies(s)]
            print(f"{scenario.name:11} {scenario.title}\n{'':11} servers: {', '.join(names)}")
        for server in SERVERS:
            print(f"{server.name:17} {server.description}")
        return 0
    only = _split(args.only) or (["echo"] if args.profile else list(SCENARIOS))
    unknown = [name for name in only if name not in scenarios]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    patterns = _split(args.servers) or (["tornio-modern-1w"] if args.profile else [])
    servers = select_servers(patterns)
    if not servers:
        print(f"no server matches {args.servers!r}", file=sys.stderr)
        return 2
    repeat = 1 if (args.quick or args.profile) else max(1, args.repeat)
    if args.profile:
        ensure_py_spy()
    plan = [
        (scenarios[name], server)
        for name in only
        for server in servers
        if scenarios[name].applies(server)
    ]
    if not plan:
        print("nothing to run: no selected server takes part in the selected scenarios")
        return 2
    if "idle" in only:
        raise_file_limit(max(config.idle_sizes) + 2000)

    atexit.register(procs.kill_all)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    if config.client_core is not None:
        # This process only waits: keep it off the server's core.
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {config.client_core})

    started = datetime.datetime.now(datetime.timezone.utc)
    machine_info = machine()  # the tree measured is the one at the start
    rows = {(sc.name, server.name): Row(sc.name, server.name) for sc, server in plan}
    config_json = dataclasses.asdict(config)
    config_json.update(repeat=repeat, scenarios=only, servers=[s.name for s in servers])
    total = len(plan) * repeat
    done = 0
    interrupted = False
    table = ""
    print(
        f"==> {total} runs: {', '.join(only)} on {len(servers)} server(s); "
        f"results to {args.json}",
        flush=True,
    )
    try:
        for name in only:
            for rep in range(repeat):
                for scenario, server in plan:
                    if scenario.name != name:
                        continue
                    done += 1
                    print(
                        f"[{done}/{total}] {name} {server.name} run {rep + 1}/{repeat} ...",
                        end="",
                        flush=True,
                    )
                    one_run(args, config, scenario, server, rows[(name, server.name)], rep)
                    median_of(list(rows.values()), scenarios)
                    write_json(
                        args.json, list(rows.values()), config_json, started, table, machine_info
                    )
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping every server", file=sys.stderr)
    finally:
        procs.kill_all()
    median_of(list(rows.values()), scenarios)
    table = render(list(rows.values()), scenarios, repeat)
    machine_line = _machine_line()
    print()
    print(f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine_line}")
    print()
    print(table)
    config_json["interrupted"] = interrupted
    write_json(args.json, list(rows.values()), config_json, started, table, machine_info)
    print(f"\nJSON: {args.json}")
    failed = any(row.errors and not row.runs for row in rows.values())
    return 130 if interrupted else (1 if failed else 0)


def one_run(
    args: argparse.Namespace,
    config: Config,
    scenario: Scenario,
    server: ServerSpec,
    row: Row,
    rep: int,
) -> None:
    """One run of a row; a failure is recorded in the row (and printed), never raised.

    A run that fails is tried once more (a fresh server) before it counts as failed. A
    throughput run during which other processes took more than ``--max-noise`` % of the
    server's core is tried again, up to ``--noise-retries`` times, and the least disturbed
    attempt is kept (the others are kept in the JSON as ``discarded``)."""
    label = f"{scenario.name}-{server.name}-{rep + 1}"
    t0 = time.monotonic()
    kept: dict[str, Any] | None = None
    discarded: list[dict[str, Any]] = []
    errors: list[str] = []
    profiled: list[Profiler] = []
    noise_tries = 0
    while True:
        profiler: Profiler | None = None
        if args.profile:
            profiler = Profiler(
                args.json.parent / f"profile-{server.name}-{scenario.name}.txt",
                config.idle_window if scenario.name == "idle" else config.duration,
                rate=args.profile_rate,
                nonblocking=args.profile_nonblocking,
            )
        try:
            result = run_once(
                scenario, server, config, label, on_measuring=profiler.attach if profiler else None
            )
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a failed server is a failed row, not the end of the run
            errors.append(f"{type(exc).__name__}: {exc}".strip())
            if len(errors) <= args.fail_retries:
                print(f" failed ({errors[-1].splitlines()[0][:80]}), again ...", end="", flush=True)
                continue
            break
        finally:
            if profiler is not None:
                profiler.wait()
                profiled.append(profiler)
        noise = result.get("other_on_server_core_pct")
        if kept is None or _noise(result) < _noise(kept):
            if kept is not None:
                discarded.append(kept)
            kept = result
        else:
            discarded.append(result)
        if (
            isinstance(noise, (int, float))
            and noise > args.max_noise
            and noise_tries < args.noise_retries
            and not args.profile
        ):
            noise_tries += 1
            print(f" noisy ({noise:.0f}% other on core), again ...", end="", flush=True)
            continue
        break
    elapsed = time.monotonic() - t0
    if kept is None:
        message = errors[-1]
        row.errors.append(message)
        lines = message.splitlines()
        print(f" FAILED ({elapsed:.0f} s): {lines[0]}")
        if len(lines) > 1:
            print("    " + "\n    ".join(lines[1:8]))
    else:
        if discarded:
            kept["discarded"] = discarded
        if errors:
            kept["failed_attempts"] = errors
        row.runs.append(kept)
        print(f" {_summary(kept, scenario.metrics)} ({elapsed:.0f} s)")
    for profiler in profiled:
        report_profile(profiler)


def _noise(result: dict[str, Any]) -> float:
    value = result.get("other_on_server_core_pct")
    return float(value) if isinstance(value, (int, float)) else 0.0


def report_profile(profiler: Profiler) -> None:
    if not profiler.output.exists():
        print(f"    no profile written; see {profiler.log}")
        return
    summary = summarize(profiler.output)
    summary_path = profiler.output.with_suffix(".summary.txt")
    summary_path.write_text(summary)
    print(f"    profile: {profiler.output}\n    summary: {summary_path}")
    print("    " + "\n    ".join(summary.splitlines()[:45]))


def report(path: Path) -> int:
    """Print the table of a results file written earlier."""
    document = json.loads(path.read_text())
    config = Config()
    names = {f.name for f in dataclasses.fields(Config)}
    for key, value in document.get("config", {}).items():
        if key in names:
            if key == "idle_sizes":
                value = tuple(value)
            elif key == "log_dir":
                value = Path(value)
            setattr(config, key, value)
    scenarios = make_scenarios(config)
    rows = [Row.from_json(r) for r in document["results"] if r["scenario"] in scenarios]
    median_of(rows, scenarios)
    started = datetime.datetime.fromisoformat(document["date"])
    print(f"Measured {started:%Y-%m-%d %H:%M} UTC on {_machine_line(document['machine'])}")
    print()
    print(render(rows, scenarios, int(document.get("config", {}).get("repeat", 1))))
    return 0


def _machine_line(info: dict[str, Any] | None = None) -> str:
    info = info or machine()
    return (
        f"{info['nproc']} cores ({info['cpu_model']}), Python {info['python']}, "
        f"Tornado {info['tornado']}, Node {info['node']}, socket.io {info['socket.io']}, "
        f"python-socketio {info['python-socketio']}"
    )
