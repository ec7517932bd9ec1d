"""Processes: starting servers and the load generator pinned to cores, waiting until a server
answers, reading a process tree's memory and CPU time from /proc, and ending everything."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = [
    "LineReader",
    "LoadProbe",
    "Managed",
    "ServerFailed",
    "free_port",
    "kill_all",
    "session_pids",
    "start",
    "tree_cpu_seconds",
    "tree_memory_kb",
    "wait_http",
]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: Every process group started and not yet ended: `kill_all` ends them.
_LIVE: dict[int, Managed] = {}


class ServerFailed(Exception):
    """A server did not start, died, or did not answer."""


@dataclass
class Managed:
    """A started process, leader of its own session (and so of its own process group)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path | None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM to the whole group, SIGKILL to whatever is left after ``grace``."""
        _LIVE.pop(self.pid, None)
        pids = session_pids(self.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if self.popen.poll() is not None and not any(_exists(p) for p in pids):
                break
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        for pid in pids:  # children that left the group (none of ours do)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        if self.popen.stdout is not None:
            with contextlib.suppress(OSError):
                self.popen.stdout.close()


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _read_stat(pid)
    return stat is not None and stat[0] != "Z"


def start(
    name: str,
    command: Sequence[str],
    *,
    core: int | None,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    pipes: bool = False,
) -> Managed:
    """Start ``command`` in a new session, pinned to ``core`` with taskset.

    With ``pipes``, stdin and stdout are pipes (stderr still goes to the log)."""
    argv = list(command)
    if core is not None:
        argv = ["taskset", "-c", str(core), *argv]
    log: IO[bytes] | int = subprocess.DEVNULL
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "wb")  # noqa: SIM115 - handed to the child, closed below
    try:
        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else log,
            stderr=log,
            start_new_session=True,
        )
    finally:
        if not isinstance(log, int):
            log.close()
    managed = Managed(name, popen, log_path)
    _LIVE[popen.pid] = managed
    return managed


def kill_all() -> None:
    """End every process group this run started (at exit, on errors, on Ctrl-C)."""
    for managed in list(_LIVE.values()):
        managed.stop(grace=1.0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_http(
    managed: Managed, port: int, path: str, timeout: float, ready: Any = None
) -> None:
    """Wait until the server answers ``GET path`` with any HTTP status (and ``ready()``, when
    given, is true). Raises ServerFailed if the process exits or the time runs out."""
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    while time.monotonic() < deadline:
        if not managed.alive():
            raise ServerFailed(
                f"{managed.name} exited with {managed.popen.returncode}:\n{managed.log_tail()}"
            )
        if ready is None or ready():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                    conn.sendall(request.encode())
                    head = conn.recv(64)
                if head.startswith(b"HTTP/1."):
                    return
            except OSError:
                pass
        time.sleep(0.1)
    raise ServerFailed(
        f"{managed.name} did not answer within {timeout:.0f} s:\n{managed.log_tail()}"
    )


# -- /proc -----------------------------------------------------------------------------------


def _read_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is [0])."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def session_pids(leader: int) -> list[int]:
    """Every live process in the session ``leader`` started (servers never leave it)."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _read_stat(int(entry.name))
        # fields: state ppid pgrp session ...
        if fields is not None and int(fields[3]) == leader and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def tree_cpu_seconds(leader: int, exclude: Sequence[int] = ()) -> float:
    """User + system CPU seconds of every process in the session, so far."""
    total = 0
    for pid in session_pids(leader):
        if pid in exclude:
            continue
        fields = _read_stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def tree_memory_kb(leader: int, exclude: Sequence[int] = ()) -> dict[str, int]:
    """Summed RSS and PSS (kB) of every process in the session. PSS splits shared pages
    between the processes that share them, so several workers are not over-counted."""
    rss = pss = 0
    for pid in session_pids(leader):
        if pid in exclude:
            continue
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return {"rss_kb": rss, "pss_kb": pss}


def core_ticks() -> dict[int, tuple[int, int]]:
    """core → (busy, total) clock ticks since boot, from /proc/stat."""
    found = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, _, rest = line.partition(" ")
        if name.startswith("cpu") and name[3:].isdigit():
            values = [int(v) for v in rest.split()]
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            total = sum(values[:8])
            found[int(name[3:])] = (total - idle, total)
    return found


class LoadProbe:
    """How busy the server was, and how busy each core was, between start() and stop()."""

    def __init__(self, leader: int, server_core: int | None, client_core: int | None) -> None:
        self.leader = leader
        self.server_core = server_core
        self.client_core = client_core
        self.started: tuple[float, float, dict[int, tuple[int, int]]] | None = None

    def start(self) -> None:
        self.started = (time.monotonic(), tree_cpu_seconds(self.leader), core_ticks())

    def stop(self) -> dict[str, float]:
        if self.started is None:
            return {}
        t0, cpu0, cores0 = self.started
        t1, cpu1, cores1 = time.monotonic(), tree_cpu_seconds(self.leader), core_ticks()
        elapsed = max(t1 - t0, 1e-6)
        out = {"server_cpu_pct": 100 * (cpu1 - cpu0) / elapsed}
        for label, core in (("server_core", self.server_core), ("client_core", self.client_core)):
            if core is None or core not in cores0 or core not in cores1:
                continue
            busy = cores1[core][0] - cores0[core][0]
            total = max(cores1[core][1] - cores0[core][1], 1)
            out[f"{label}_busy_pct"] = 100 * busy / total
        if "server_core_busy_pct" in out:
            # What else ran on the server's core: other sessions' tests, the kernel.
            out["other_on_server_core_pct"] = max(
                0.0, out["server_core_busy_pct"] - out["server_cpu_pct"]
            )
        return out


def command_lines(leader: int) -> dict[int, str]:
    """pid → command line of every process in the session."""
    found = {}
    for pid in session_pids(leader):
        with contextlib.suppress(OSError):
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            found[pid] = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


# -- reading the load generator -------------------------------------------------------------


class LineReader:
    """JSON lines from a child's stdout, with timeouts."""

    def __init__(self, managed: Managed) -> None:
        assert managed.popen.stdout is not None
        self.managed = managed
        self.fd = managed.popen.stdout.fileno()
        self.buffer = b""
        self.eof = False

    def next(self, timeout: float) -> dict[str, Any] | None:
        """The next JSON object, or None at end of output; TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            newline = self.buffer.find(b"\n")
            if newline >= 0:
                line, self.buffer = self.buffer[:newline], self.buffer[newline + 1 :]
                if not line.strip():
                    continue
                try:
                    value: dict[str, Any] = json.loads(line)
                except ValueError:
                    continue
                return value
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.managed.name}: no output for {timeout:.0f} s")
            readable, _, _ = select.select([self.fd], [], [], left)
            if readable:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self.eof = True
                self.buffer += chunk

    def until(self, event: str, timeout: float) -> dict[str, Any]:
        """Skip to the next ``{"event": event}`` (a result, even a failed one, ends the wait)."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.next(max(0.0, deadline - time.monotonic()))
            if message is None:
                raise ServerFailed(
                    f"the load generator ended early:\n{self.managed.log_tail()}"
                )
            if message.get("event") == event or message.get("event") == "result":
                return message

    def send(self, line: str) -> None:
        stdin = self.managed.popen.stdin
        assert stdin is not None
        stdin.write(line.encode() + b"\n")
        stdin.flush()
