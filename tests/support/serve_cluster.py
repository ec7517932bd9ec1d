"""``tornio serve TARGET --workers N`` on one host, in a subprocess, for ``tests/test_cluster.py``.

    cluster = ClusterProcess("tests.apps.workers_chat:namespaces", tmp_path).start()
    cluster.stats()              # the supervisor's --stats-file, parsed
    cluster.worker_pids()        # {index: pid}
    cluster.terminate(10)        # SIGTERM; waits for the supervisor to exit
    cluster.interrupt(10)        # SIGINT to its process group, as Ctrl-C in a terminal
    cluster.kill()               # teardown: every process it ran is gone afterwards

Every process the supervisor runs (workers, broker) is found in ``/proc`` by its parent pid
and remembered, so that teardown ends each of them by its pid, even when the supervisor
itself was killed first.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.ports import HOST, free_port
from tests.support.waiting import wait_for
from tornio.bus import ids

__all__ = ["ROOT", "ClusterProcess", "alive", "children_of", "refused_flags", "worker_of"]

ROOT = Path(__file__).resolve().parent.parent.parent


def tornio_command() -> list[str]:
    """The ``tornio`` console script of this Python when it runs this checkout's runtime, else
    the same CLI as a module (``python -m workers``, this checkout's)."""
    script = Path(sys.executable).with_name("tornio")
    if script.is_file() and os.access(script, os.X_OK) and _runtime_is_ours():
        return [str(script)]
    return [sys.executable, "-m", "workers"]


def _runtime_is_ours() -> bool:
    """Whether ``tornio.workers``, which the console script runs, is this checkout's workers/.
    It is not when tornio is installed editable from another checkout (a git worktree's tests
    on the main checkout's venv, with the worktree on PYTHONPATH)."""
    try:
        spec = importlib.util.find_spec("tornio.workers")
    except ImportError:
        return False
    origin = spec.origin if spec is not None else None
    return origin is not None and Path(origin).resolve() == ROOT / "workers" / "__init__.py"


def refused_flags(target: str, *flags: str) -> str:
    """``tornio serve TARGET FLAGS --port 0`` with a flag value it refuses: it must exit 2
    (argparse's usage error) without serving. Its stderr."""
    result = subprocess.run(
        [*tornio_command(), "serve", target, *flags, "--port", "0"],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
    )
    assert result.returncode == 2, result
    return result.stderr


def worker_of(sid: str) -> int:
    """The index of the worker that owns a session id (tornio.bus.ids)."""
    tag = ids.owner_of(sid)
    assert tag is not None, f"{sid!r} is not one of tornio's session ids"
    return ids.worker_index(tag)


def _stat(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()
    except OSError:
        return []


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    fields = _stat(pid)
    return bool(fields) and fields[0] not in ("Z", "X")


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if len(fields) > 1 and fields[1] == str(pid) and fields[0] not in ("Z", "X"):
                found.append(int(entry))
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ours(pid: int) -> bool:
    command = cmdline(pid)
    return "workers.worker" in command or "tornio.bus.broker" in command


class ClusterProcess:
    """One ``tornio serve`` (see the module docstring)."""

    def __init__(
        self,
        target: str,
        workdir: Path,
        *,
        cwd: Path = ROOT,
        workers: int = 3,
        drain_timeout: float = 5.0,
        log_level: str = "info",
        args: Sequence[str] = (),
        policy_port: int | None = None,
        command: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.target = target
        #: How ``tornio`` is run (default: :func:`tornio_command`), and its environment (None:
        #: this process's).
        self.command = list(command) if command is not None else tornio_command()
        self.env = dict(env) if env is not None else None
        #: More ``tornio serve`` flags.
        self.args = list(args)
        self.cwd = cwd
        self.workers = workers
        self.drain_timeout = drain_timeout
        self.log_level = log_level
        #: The Flash policy server's port (None: ``--no-policy-server``).
        self.policy_port = policy_port
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.stats_path = workdir / "tornio-stats.json"
        self.log_path = workdir / "tornio-serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        #: Every pid the supervisor was seen running (workers, brokers), for teardown.
        self.seen: set[int] = set()

    # -- starting ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def running(self, timeout: float = 20.0) -> Iterator[ClusterProcess]:
        """Started for a ``with`` block (a fixture's ``yield``), then killed with everything
        it ran (:meth:`kill`); the block fails if any of those outlived the supervisor."""
        try:
            yield self.start(timeout)
        finally:
            leftovers = self.kill()
        assert leftovers == [], f"processes outlived tornio serve: {leftovers}\n{self.tail()}"

    def start(self, timeout: float = 20.0) -> ClusterProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *self.command, "serve", self.target,
                    "--workers", str(self.workers),
                    "--host", HOST, "--port", str(self.port),
                    *(
                        ["--no-policy-server"] if self.policy_port is None
                        else ["--policy-port", str(self.policy_port)]
                    ),
                    "--stats-file", str(self.stats_path),
                    "--drain-timeout", str(self.drain_timeout),
                    "--log-level", self.log_level,
                    *self.args,
                ],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, for interrupt()
            )  # fmt: skip
        try:
            wait_for(self.ready, timeout, message=f"{self.workers} workers ready")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.tail()}") from None
        return self

    def ready(self) -> bool:
        """Every worker is alive, has joined the bus and reported to the supervisor."""
        self.check_running()
        self.remember()
        workers = self.stats().get("workers", [])
        return len(workers) == self.workers and all(w["alive"] for w in workers)

    def check_running(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"tornio serve exited with {self.process.returncode}\n{self.tail()}"
            )

    # -- looking at it -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """The stats file ({} before its first write)."""
        try:
            return dict(json.loads(self.stats_path.read_text()))
        except (OSError, ValueError):
            return {}

    def worker_pids(self) -> dict[int, int]:
        return {w["index"]: w["pid"] for w in self.stats().get("workers", [])}

    def sessions(self) -> dict[int, int]:
        """Sessions per worker, as last reported."""
        return {w["index"]: w["sessions"] for w in self.stats().get("workers", [])}

    def reported_since(self, moment: float) -> dict[str, Any] | None:
        """The stats once every worker has reported after ``moment`` (``time.time()``)."""
        stats = self.stats()
        workers = stats.get("workers", [])
        if workers and all(w["reported_at"] > moment for w in workers):
            return stats
        return None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def children(self) -> dict[int, str]:
        """The supervisor's live children: pid → command line."""
        if self.process is None or self.process.poll() is not None:
            return {}
        return {pid: cmdline(pid) for pid in children_of(self.process.pid)}

    def remember(self) -> None:
        self.seen.update(self.children())

    def tail(self, lines: int = 80) -> str:
        text = self.log_text()
        return "tornio serve log (last lines):\n" + "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- ending ------------------------------------------------------------------------------

    def terminate(self, timeout: float) -> None:
        """SIGTERM to the supervisor, and wait for it to exit."""
        assert self.process is not None
        self.remember()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout)

    def interrupt(self, timeout: float) -> int:
        """Ctrl-C: SIGINT to every process of the supervisor's group (itself, its workers,
        broker and policy server), as a terminal sends it; wait for the supervisor to exit
        and return its exit status."""
        assert self.process is not None
        self.remember()
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout)

    def kill(self) -> list[int]:
        """Teardown: end the supervisor and everything it ran, each by its pid. Returns the
        processes that outlived the supervisor and had to be killed."""
        process = self.process
        if process is None:
            return []
        self.remember()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.drain_timeout + 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        leftovers = [pid for pid in sorted(self.seen) if alive(pid) and _ours(pid)]
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return leftovers
