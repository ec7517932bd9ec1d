"""socket.io-client 4.x under Node, for tests: ``tests/js/modern_client.mjs`` in a subprocess.

    with NodeClient(server.url, "full", {"transports": ["websocket"]}) as client:
        connect = client.step("connect")        # the next {"step": "connect", ...} line
        client.send({"cmd": "emit", ...})       # interactive scenario: a command on stdin
        client.wait()                           # it exited 0, or AssertionError with its output

Every wait is bounded; a scenario that prints ``{"step": "error"}``, exits early or stays
silent too long fails the test with everything the driver printed. Binary values arrive as
``{"$bin": base64}`` and :func:`unbin` turns them back into ``bytes``.
"""

from __future__ import annotations

import base64
import json
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["DRIVER", "NodeClient", "binary", "node_modules_ready", "unbin"]

JS_DIR = Path(__file__).resolve().parent.parent / "js"
DRIVER = JS_DIR / "modern_client.mjs"
REQUIRED = ("socket.io-client", "socket.io-msgpack-parser")

_EOF = object()


def node_modules_ready() -> str | None:
    """None when node and the client libraries are installed, else what is missing."""
    if shutil.which("node") is None:
        return "node is not installed: run scripts/setup"
    missing = [name for name in REQUIRED if not (JS_DIR / "node_modules" / name).is_dir()]
    if missing:
        return f"{', '.join(missing)} missing in tests/js/node_modules: run scripts/setup"
    return None


def unbin(value: Any) -> Any:
    """The driver's output with every ``{"$bin": ...}`` turned back into ``bytes``."""
    if isinstance(value, list):
        return [unbin(item) for item in value]
    if isinstance(value, dict):
        if isinstance(value.get("$bin"), str):
            return base64.b64decode(value["$bin"])
        return {key: unbin(item) for key, item in value.items()}
    return value


def binary(data: bytes, kind: str = "Buffer") -> dict[str, str]:
    """How a command sends ``data``: a Node Buffer, or an ArrayBuffer with ``kind``."""
    return {"$bin": base64.b64encode(data).decode(), "$type": kind}


class NodeClient:
    """One run of the driver (see the module docstring)."""

    def __init__(
        self,
        url: str,
        scenario: str,
        options: dict[str, Any] | None = None,
        timeout: float = 10.0,
        driver: Path = DRIVER,
    ) -> None:
        """``driver``: another script of ``tests/js`` speaking the same line protocol."""
        self.timeout = timeout
        self.lines: list[dict[str, Any]] = []
        self._taken: set[int] = set()
        self._refs = 0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._stderr: list[str] = []
        node = shutil.which("node")
        assert node is not None, "node is not installed: run scripts/setup"
        self.process = subprocess.Popen(
            [node, str(driver), url, scenario, json.dumps(options or {})],
            cwd=JS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # -- reading ----------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        try:
            for line in self.process.stdout:
                line = line.strip()
                if not line:
                    continue
                try:
                    self._queue.put(json.loads(line))
                except json.JSONDecodeError:
                    self._queue.put({"step": "garbage", "line": line})
        except ValueError:  # the pipe was closed under the loop (the client is being closed)
            pass
        self._queue.put(_EOF)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        try:
            for line in self.process.stderr:
                self._stderr.append(line)
        except ValueError:  # closed under the loop, as above
            pass

    def _report(self) -> str:
        printed = "\n".join(json.dumps(line) for line in self.lines)
        return f"driver output:\n{printed}\nstderr:\n{''.join(self._stderr)[-4000:]}"

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"the Node client did not print what was awaited in time\n{self._report()}"
            ) from None
        if item is _EOF:
            self._queue.put(_EOF)  # every later read sees the end too
            code = self.process.wait(5)
            raise AssertionError(f"the Node client exited ({code})\n{self._report()}")
        self.lines.append(item)
        if item.get("step") in ("error", "garbage"):
            raise AssertionError(f"the Node client failed: {item}\n{self._report()}")
        return dict(item)

    def step(self, name: str, timeout: float | None = None, **match: Any) -> dict[str, Any]:
        """The first line not returned yet whose ``step`` is ``name`` (and whose fields equal
        ``match``), waiting for it if it has not come yet. Lines that do not match stay for
        later calls (the ``event`` lines of an interactive run come in any order with the
        acks)."""
        limit = self.timeout if timeout is None else timeout

        def matches(line: dict[str, Any]) -> bool:
            return line.get("step") == name and all(line.get(k) == v for k, v in match.items())

        for index, line in enumerate(self.lines):
            if index not in self._taken and matches(line):
                self._taken.add(index)
                return dict(line)
        deadline = time.monotonic() + limit
        while True:
            line = self._next(max(0.0, deadline - time.monotonic()))
            if matches(line):
                self._taken.add(len(self.lines) - 1)
                return line

    # -- commands (interactive scenario) ----------------------------------------------------

    def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def emit(self, event: str, *args: Any, ref: str | None = None) -> list[Any]:
        """Emit with an ack and return the ack's arguments (interactive scenario)."""
        self._refs += 1
        ref = ref or f"{event}-{self._refs}"
        self.send({"cmd": "emit", "event": event, "args": list(args), "ack": True, "ref": ref})
        return list(self.step("ack", ref=ref)["args"])

    # -- ending -----------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> None:
        """The driver ends by itself with status 0 (after ``{"step": "done"}``)."""
        limit = self.timeout if timeout is None else timeout
        try:
            code = self.process.wait(limit)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"the Node client did not exit in {limit} s\n{self._report()}"
            ) from None
        for thread in self._threads:
            thread.join(5)
        while True:  # collect what was printed but not read
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _EOF:
                self.lines.append(item)
        assert code == 0, f"the Node client exited with {code}\n{self._report()}"
        assert any(line.get("step") == "done" for line in self.lines), self._report()

    def quit(self) -> None:
        """Ask the interactive scenario to disconnect, and wait for it to end."""
        self.send({"cmd": "quit"})
        self.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
