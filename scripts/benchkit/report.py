"""Medians, ratios against bare Tornado, the table, the JSON file, and the machine."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit.scenarios import Scenario
from benchkit.servers import BENCH_JS, SCRIPTS

__all__ = ["Row", "machine", "median_of", "render", "write_json"]

ROOT = SCRIPTS.parent


@dataclass
class Row:
    scenario: str
    server: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    medians: dict[str, float] = field(default_factory=dict)
    #: metric key → this row's median over the baseline row's.
    ratios: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "server": self.server,
            "ok": self.ok,
            "medians": self.medians,
            "ratios_vs_tornado": self.ratios,
            "runs": self.runs,
            "errors": self.errors,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        return cls(data["scenario"], data["server"], data["runs"], data["errors"])


def derive(run: dict[str, Any]) -> None:
    """Per-run values computed from measured ones: the rate per second of server CPU (how
    much work one core's second buys, whatever else shared the core)."""
    rate, cpu = run.get("rate"), run.get("server_cpu_pct")
    if isinstance(rate, (int, float)) and isinstance(cpu, (int, float)) and cpu > 5:
        run["rate_per_cpu"] = rate / (cpu / 100)


def median_of(rows: list[Row], scenarios: dict[str, Scenario]) -> None:
    """Fill in each row's medians (over its successful runs) and its ratios."""
    for row in rows:
        scenario = scenarios[row.scenario]
        for run in row.runs:
            derive(run)
        for metric in scenario.metrics:
            values = [
                r[metric.key] for r in row.runs if isinstance(r.get(metric.key), (int, float))
            ]
            if values:
                row.medians[metric.key] = statistics.median(values)
    by_key = {(row.scenario, row.server): row for row in rows}
    for row in rows:
        scenario = scenarios[row.scenario]
        if scenario.baseline is None:
            continue
        base = by_key.get(scenario.baseline)
        if base is None:
            continue
        for metric in scenario.metrics:
            if not metric.ratio:
                continue
            key = metric.key
            if key in base.medians and key in row.medians and base.medians[key]:
                row.ratios[key] = row.medians[key] / base.medians[key]


def _fmt(value: float, digits: int) -> str:
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def render(rows: list[Row], scenarios: dict[str, Scenario], repeat: int) -> str:
    """Markdown tables, one per scenario."""
    out: list[str] = []
    for name, scenario in scenarios.items():
        mine = [r for r in rows if r.scenario == name]
        if not mine:
            continue
        out.append(f"### {name}: {scenario.title}")
        out.append("")
        baseline = scenario.baseline
        base_label = ""
        if baseline is not None:
            base_label = "× " + baseline[1] + ("" if baseline[0] == name else f" {baseline[0]}")
        heads = ["server"]
        for metric in scenario.metrics:
            heads.append(metric.label)
            if metric.ratio and baseline is not None:
                heads.append(base_label)
        heads.append(f"runs ({scenario.primary.label})")
        out.append("| " + " | ".join(heads) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(heads) - 2) + ["---"]) + "|")
        for row in mine:
            cells = [row.server]
            for metric in scenario.metrics:
                value = row.medians.get(metric.key)
                cells.append("—" if value is None else _fmt(value, metric.digits))
                if metric.ratio and baseline is not None:
                    ratio = row.ratios.get(metric.key)
                    cells.append("—" if ratio is None else f"{ratio:.2f}")
            runs = [
                _fmt(r[scenario.primary.key], scenario.primary.digits)
                for r in row.runs
                if scenario.primary.key in r
            ]
            note = ", ".join(runs)
            if row.errors:
                failed = f"FAILED {len(row.errors)}/{len(row.errors) + len(row.runs)}: "
                note = (note + "; " if note else "") + failed + row.errors[0].splitlines()[0][:90]
            cells.append(note)
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out.append(
        f"Medians of {repeat} run(s) each. × = the row's median over bare Tornado's (for "
        "memory and CPU, lower is better). per CPU-s = the rate divided by the server's CPU "
        "use (its whole process tree) while measured: the work one second of a core buys, "
        "which stays comparable when other processes share the core. \"other on its core\" = "
        "what the rest of the machine took of the server's core while measured."
    )
    return "\n".join(out)


def _version(command: list[str]) -> str | None:
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=20, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _package(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _node_package(name: str) -> str | None:
    try:
        data = json.loads((BENCH_JS / "node_modules" / name / "package.json").read_text())
    except (OSError, ValueError):
        return None
    version = data.get("version")
    return str(version) if version else None


def machine() -> dict[str, Any]:
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "tornado": _package("tornado"),
        "tornio": _package("tornio"),
        "python-socketio": _package("python-socketio"),
        "python-engineio": _package("python-engineio"),
        "aiohttp": _package("aiohttp"),
        "node": _version(["node", "--version"]),
        "git_commit": _version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        # The tree measured may differ from the commit (uncommitted work in the server code).
        "git_uncommitted": (
            _version(["git", "-C", str(ROOT), "status", "--porcelain", "--", "tornio", "workers"])
            or ""
        ).split("\n"),
        "socket.io": _node_package("socket.io"),
        "ws": _node_package("ws"),
    }


def write_json(
    path: Path,
    rows: list[Row],
    config: dict[str, Any],
    started: datetime.datetime,
    table: str,
    machine_info: dict[str, Any] | None = None,
) -> None:
    """Write the results; ``machine_info`` is the machine (and tree) as the run started."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "date": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info or machine(),
        "config": config,
        "results": [row.to_json() for row in rows],
        "table": table,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
