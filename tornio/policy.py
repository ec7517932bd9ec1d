"""The Flash socket policy server, run as its own process, and the supervisor that keeps it up.

Before Flash (the flashsocket bridge) opens a socket it connects to the policy port (843, or
10843 as socket.io-client 0.9 asks by default), sends ``<policy-file-request/>\\0`` and reads a
cross-domain policy up to a NUL (``reference/legacy.md`` §2.8). :class:`PolicyServer` answers
exactly that request with the policy built from the ``origins`` setting (:func:`policy_xml`;
``*:*`` → ``domain="*" to-ports="*"``) followed by a NUL, then closes. Anything else is closed
without a reply: bytes that cannot be the start of the request at once, silence after
``read_timeout``; at most :data:`REQUEST`'s length is ever read, and past ``max_connections``
open connections the oldest is dropped, so a flood of silent clients cannot starve real ones.

``python -m tornio.policy --port P --origins '*:*'`` runs it. It prints ``LISTENING <port>``
on stdout once bound, and exits with :data:`EXIT_PORT_UNAVAILABLE` when the port is taken (or
needs root), after printing ``UNAVAILABLE <reason>``. :class:`PolicySupervisor` runs that
process from any program (``tornio serve``, ``SocketIOServer(policy_server=True)``),
restarts it at once whenever it dies, SIGKILL included, and logs one WARNING, without failing
or retrying, when the port is unavailable. A supervised process (``--exit-with-parent``)
ignores SIGINT: Ctrl-C in a terminal reaches the whole process group, and the supervisor,
which gets it too, stops the policy process itself (SIGTERM), so that a clean shutdown is
not mistaken for a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from tornio.protocol.flashpolicy import REQUEST, policy_answer, policy_xml, split_origins

__all__ = [
    "EXIT_PORT_UNAVAILABLE",
    "REQUEST",
    "PolicyServer",
    "PolicySupervisor",
    "main",
    "policy_xml",
]

log = logging.getLogger("tornio.policy")

DEFAULT_PORT = 10843
#: The policy process's exit status when it cannot bind its port.
EXIT_PORT_UNAVAILABLE = 3
#: A policy process that dies this soon after starting is restarted with a growing delay.
_RESTART_DELAYS = (0.0, 0.2, 0.5, 1.0)


class _PolicyConnection(asyncio.Protocol):
    """One client: read at most the request's length, answer it or close."""

    def __init__(self, server: PolicyServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.received = b""
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.server.read_timeout, self.close)
        self.server.track(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.received += data[: len(REQUEST) - len(self.received)]
            if self.received == REQUEST:
                self.answer()
            elif not REQUEST.startswith(self.received):
                self.close()
        except Exception:  # never let one client take the server down
            log.exception("policy connection failed")
            self.close()

    def eof_received(self) -> bool:
        if self.received == REQUEST[:-1]:  # the request without its NUL, then end of input
            self.answer()
        else:
            self.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.server.untrack(self)

    def answer(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.server.answered += 1
            self.transport.write(self.server.answer)
            self.transport.close()  # after the answer is written

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()


class PolicyServer:
    """The asyncio policy server (see the module docstring)."""

    def __init__(
        self,
        origins: str | Sequence[str] = "*:*",
        read_timeout: float = 5.0,
        max_connections: int = 5000,
    ) -> None:
        self.answer = policy_answer(origins)
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.answered = 0
        self.server: asyncio.Server | None = None
        self._open: dict[_PolicyConnection, None] = {}  # oldest first

    async def start(self, host: str | None, port: int) -> int:
        """Listen; returns the port (useful with 0). Raises OSError if it cannot bind."""
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: _PolicyConnection(self), host or None, port, backlog=1024, reuse_address=True
        )
        return int(self.server.sockets[0].getsockname()[1])

    def track(self, connection: _PolicyConnection) -> None:
        self._open[connection] = None
        while len(self._open) > self.max_connections:
            oldest = next(iter(self._open))
            self._open.pop(oldest)
            oldest.close()

    def untrack(self, connection: _PolicyConnection) -> None:
        self._open.pop(connection, None)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for connection in list(self._open):
                connection.close()
            await self.server.wait_closed()


def _raise_fd_limit() -> None:
    """Let the process hold as many connections as the hard limit allows."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


async def _serve(args: argparse.Namespace) -> int:
    server = PolicyServer(args.origins, args.read_timeout, args.max_connections)
    try:
        port = await server.start(args.host, args.port)
    except OSError as exc:
        if args.exit_with_parent:  # the supervisor logs it, once, in its words
            reason = "in use" if exc.errno == errno.EADDRINUSE else (
                "needs root" if exc.errno == errno.EACCES else f"unavailable ({exc.strerror})"
            )
            print(f"UNAVAILABLE {reason}", flush=True)
        else:
            log.error("Flash policy server cannot listen on port %d: %s", args.port, exc)
        return EXIT_PORT_UNAVAILABLE
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    # Supervised, SIGINT is ignored (see the module docstring).
    for signum in (signal.SIGTERM,) if args.exit_with_parent else (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, done.set)
    if args.exit_with_parent:
        # The supervisor holds our stdin's other end: EOF means it is gone, even by SIGKILL.
        fd = sys.stdin.fileno()

        def on_stdin() -> None:
            if not os.read(fd, 1024):
                loop.remove_reader(fd)
                done.set()

        loop.add_reader(fd, on_stdin)
    print(f"LISTENING {port}", flush=True)
    log.info("Flash policy server on port %d", port)
    await done.wait()
    await server.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tornio.policy", description="The Flash socket policy server."
    )
    parser.add_argument("--host", default="", help="address to bind (default: all)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default 10843")
    parser.add_argument(
        "--origins", nargs="+", default=["*:*"], help="node-style origins (default *:*)"
    )
    parser.add_argument(
        "--read-timeout", type=float, default=5.0, help="seconds a client may take to ask"
    )
    parser.add_argument("--max-connections", type=int, default=5000)
    parser.add_argument("--exit-with-parent", action="store_true", help="exit on stdin EOF")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    _raise_fd_limit()
    if args.exit_with_parent:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


class PolicySupervisor:
    """Runs ``python -m tornio.policy`` and keeps it running (see the module docstring).

    ``start()`` returns at once (``wait_ready()`` waits for the port); a watcher thread
    restarts the process whenever it exits, except when it could not bind its port, which is
    logged as one WARNING (``unavailable`` turns True) while the rest of the program runs on;
    ``port_option`` names, in that warning, the option that changes the port. ``stop()``
    ends it. With ``port=0`` the first process picks a port and restarts keep it.
    """

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        host: str = "",
        origins: str | Sequence[str] = "*:*",
        read_timeout: float = 5.0,
        max_connections: int = 5000,
        log_level: str = "WARNING",
        port_option: str = "policy_port",
    ) -> None:
        self.port = port
        self.port_option = port_option
        self.host = host
        self.origins = split_origins(origins)
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.log_level = log_level
        self.restarts = 0
        self.unavailable = False
        self.process: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> PolicySupervisor:
        if self._thread is not None:
            raise RuntimeError("the policy server is already running")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._watch, name="tornio-policy", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Wait until a policy process listens; False on timeout or an unavailable port."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.unavailable or self._thread is None or time.monotonic() > deadline:
                return False
        return True

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._ready.clear()

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tornio.policy",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--origins",
            *(self.origins or ["*:*"]),  # none (same origin only): policy_xml's answer for []
            "--read-timeout",
            str(self.read_timeout),
            "--max-connections",
            str(self.max_connections),
            "--log-level",
            self.log_level,
            "--exit-with-parent",
        ]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return env

    def _watch(self) -> None:
        failures = 0
        while True:
            with self._lock:
                if self._stopping.is_set():
                    return
                started = time.monotonic()
                try:
                    process = subprocess.Popen(
                        self._command(),
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        env=self._env(),
                    )
                except OSError:
                    log.exception("cannot start the Flash policy server")
                    return
                self.process = process
            assert process.stdout is not None
            line = process.stdout.readline()
            if line.startswith(b"LISTENING "):
                self.port = int(line.split()[1])
                self._ready.set()
            reason = "unavailable"
            if line.startswith(b"UNAVAILABLE "):
                reason = line.decode(errors="replace").split(" ", 1)[1].strip()
            code = process.wait()
            self._ready.clear()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
            if self._stopping.is_set():
                return
            if code == EXIT_PORT_UNAVAILABLE:
                self.unavailable = True
                log.warning(
                    "Flash policy port %d %s: flashsocket clients (Flash) cannot connect, "
                    "the other transports are served; %s to change",
                    self.port,
                    reason,
                    self.port_option,
                )
                return
            self.restarts += 1
            if time.monotonic() - started >= 5:
                failures = 0
            delay = _RESTART_DELAYS[min(failures, len(_RESTART_DELAYS) - 1)]
            failures += 1
            log.warning("the Flash policy server exited with %s; restarting it", code)
            if self._stopping.wait(delay):
                return


if __name__ == "__main__":
    sys.exit(main())
