"""The chat examples as a user runs them: a server process started from an example's folder
(:class:`ExampleProcess`; :class:`ChatProcess` is ``tornio serve chat:router`` in
examples/chat). The people on their pages: ``tests/support/chat_users.py``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from tests.support.ports import free_port
from tests.support.serve_cluster import tornio_command
from tests.support.waiting import wait_for

__all__ = ["EXAMPLE", "ROOT", "VENDOR", "ChatProcess", "ExampleProcess"]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "chat"
P = TypeVar("P", bound="ExampleProcess")
VENDOR = {
    "socket.io.js": EXAMPLE / "node_modules" / "socket.io-client" / "dist" / "socket.io.js",
    "jquery.js": EXAMPLE / "node_modules" / "jquery" / "dist" / "jquery.min.js",
}


class ExampleProcess:
    """A server run from an example's folder, on a fixed free port, logging to a file; ready
    once its ``/`` answers 200. Stopped with SIGTERM (a clean shutdown, as Ctrl-C): the test
    fails if it is ignored for ``stop_timeout`` seconds, and whatever is left is killed (the
    whole process group with ``own_group``, which a server with workers wants)."""

    name = "the example"
    stop_timeout = 10.0
    own_group = False

    def __init__(self, cwd: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> Sequence[str]:
        raise NotImplementedError

    def start(self: P, timeout: float = 15.0) -> P:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                list(self.command()), cwd=self.cwd, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=self.own_group,
            )
        wait_for(self._ready, timeout, message=f"{self.name} to answer on {self.url}")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(self.url + "/", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):  # not up yet, or busy
            return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    pytest.fail(f"{self.name} ignored SIGTERM:\n{self.log()}")
        finally:
            if self.own_group:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)  # anything of its group still there
            elif process.poll() is None:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class ChatProcess(ExampleProcess):
    """``tornio serve chat:router`` run from examples/chat."""

    name = "tornio serve"

    def __init__(self, log_path: Path) -> None:
        super().__init__(EXAMPLE, log_path)

    def command(self) -> Sequence[str]:
        return [*tornio_command(), "serve", "chat:router",
                "--host", "127.0.0.1", "--port", str(self.port)]
