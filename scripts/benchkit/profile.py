"""``scripts/bench --profile``: a run with py-spy sampling the server while it is measured.

py-spy attaches to the server's session leader with ``--subprocesses`` (so every worker of
``tornio serve`` is sampled) for the measured duration and writes collapsed stacks
(``bench-results/profile-<server>-<scenario>.txt``: one ``frame;frame;… count`` line per
stack, which speedscope and flamegraph.pl read). A summary of the hot functions, by own time
and by time including callees, goes beside it (``….summary.txt``) and to the terminal.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchkit import procs
from benchkit.scenarios import RunContext

__all__ = ["Profiler", "ensure_py_spy", "summarize"]

_LINE_NUMBER = re.compile(r":\d+\)$")


def ensure_py_spy() -> str:
    """The py-spy executable, installed with pip when missing."""
    found = shutil.which("py-spy")
    if found:
        return found
    print("==> bench: pip install py-spy", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "py-spy"],
        check=True,
    )
    found = shutil.which("py-spy")
    if not found:
        scripts = Path(sys.executable).parent / "py-spy"
        if scripts.exists():
            return str(scripts)
        raise RuntimeError("py-spy was installed but is not on PATH")
    return found


@dataclass
class Profiler:
    """Starts py-spy when the load generator starts measuring."""

    output: Path
    duration: float
    rate: int = 100
    #: Sample without pausing the server: less overhead, but many stacks come out partial.
    nonblocking: bool = False
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path("/dev/null"))

    def attach(self, ctx: RunContext) -> None:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.log = self.output.with_suffix(".py-spy.log")
        command = [
            ensure_py_spy(),
            "record",
            "--pid",
            str(ctx.managed.pid),
            "--subprocesses",
            "--rate",
            str(self.rate),
            "--duration",
            str(max(1, int(self.duration))),
            *(["--nonblocking"] if self.nonblocking else []),
            "--format",
            "raw",
            "--output",
            str(self.output),
        ]
        # py-spy on the client core: sampling the server costs the server nothing more.
        core = ctx.config.client_core
        if core is not None:
            command = ["taskset", "-c", str(core), *command]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)

    def wait(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=self.duration + 30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _function(frame: str) -> str:
    """``name (file:line)`` without the line, and with the path shortened."""
    frame = _LINE_NUMBER.sub(")", frame)
    for marker in ("site-packages/", "/lib/python3.", "/work/main/", "scripts/"):
        at = frame.find(marker)
        if at >= 0:
            open_paren = frame.rfind("(", 0, at)
            if open_paren >= 0:
                rest = frame[at + len(marker) :]
                if marker == "/lib/python3.":
                    rest = "stdlib/" + rest.split("/", 1)[-1]
                frame = frame[: open_paren + 1] + rest
            break
    return frame


def _process_label(frame: str) -> str:
    """``process 123:"…/python3 -m workers.worker app --index 0 …"`` → a short label."""
    pid, _, command = frame[len("process ") :].partition(":")
    words = command.strip('"').split()
    if "-m" in words:
        words = words[words.index("-m") + 1 :]
    keep = [w for w in words if not w.startswith(("ipc://", "tcp://"))]
    return f"{pid} {' '.join(keep)[:70]}"


def summarize(collapsed: Path, top: int = 40) -> str:
    """Own-time and inclusive-time tables of a py-spy raw (collapsed) profile."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    processes: Counter[str] = Counter()
    stacks: list[tuple[str | None, list[str], int]] = []
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        process = None
        while frames and frames[0].startswith("process "):  # nested: supervisor;worker;…
            process = _process_label(frames.pop(0))
        stacks.append((process, frames, count))
        processes[process or "?"] += count
    everything = sum(processes.values())
    # With tornio serve, the workers are what matters: the supervisor and the broker mostly
    # wait (and py-spy does not always see their waits as idle).
    workers = {name for name in processes if "workers.worker" in name}
    total = 0
    for process, frames, count in stacks:
        if workers and process not in workers:
            continue
        total += count
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            own["(no Python frame)"] += count
            continue
        names = [_function(f) for f in frames]
        own[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
    if not total:
        return "no samples (was the server busy while it was measured?)\n"
    lines = [f"{everything} samples (CPU-busy samples only; percentages of those)", ""]
    if len(processes) > 1:
        lines.append("by process:")
        for name, count in processes.most_common():
            lines.append(f"  {100 * count / everything:5.1f}%  {name}")
        lines.append("")
    if workers:
        lines.append(f"Below: the {total} samples of the worker process(es) only, = 100%.")
        lines.append("")
    lines.append(f"top {top} by own time:")
    for name, count in own.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}%  {name}")
    lines.append("")
    lines.append(f"top {top} by time including callees (frames on every stack left out):")
    shown = 0
    for name, count in inclusive.most_common():
        if count >= 0.995 * total:
            continue
        lines.append(f"  {100 * count / total:5.1f}%  {name}")
        shown += 1
        if shown >= top:
            break
    return "\n".join(lines) + "\n"


def describe_processes(ctx: RunContext) -> dict[int, str]:
    return procs.command_lines(ctx.managed.pid)
