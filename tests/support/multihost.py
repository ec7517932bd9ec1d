"""A tornio cluster on loopback for tests: a ``tornio broker`` process, ``tornio serve``
instances that join it (``--bus``), a round-robin TCP balancer in front of them, and the
clients that talk to it (0.9 protocol-level clients, socket.io-client 4.x under Node).

Every process is started in a session of its own (so that a whole ``tornio serve`` — the
supervisor and its workers — can be killed at once, as a crashed host would be), logs to a
file under the test's tmp_path, and is killed in teardown whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.legacy_client import CLOSED, LegacyClient, handshake
from tests.support.ports import HOST, free_port, free_port_pair
from tests.support.waiting import wait_for
from tornio.bus import security
from tornio.protocol import legacy

__all__ = [
    "ROOT",
    "Balancer",
    "BrokerProcess",
    "LegacyChatter",
    "NodeClients",
    "People",
    "ServeProcess",
    "balancing",
    "curve_keys",
    "host_of",
    "node_clients",
    "people",
    "spread_modern",
]

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "tests" / "js"


def tornio_command() -> list[str]:
    return [sys.executable, "-m", "workers"]


class _Process:
    """A subprocess in its own session, logging to a file."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                list(argv),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"{self.process.args!r} exited with {self.process.returncode}:\n{self.log()}"
            )

    def kill(self) -> None:
        """SIGKILL the whole session at once: no goodbye to anyone, as a crashed host."""
        process = self.process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)

    def stop(self, timeout: float = 8.0) -> None:
        """SIGTERM (a clean stop), then SIGKILL for the whole session."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        self.kill()  # whatever is left of the session (workers)
        self.process = None


class BrokerProcess(_Process):
    """``tornio broker --bind tcp://127.0.0.1:PORT``."""

    def __init__(self, log_path: Path, curve_dir: Path | None = None) -> None:
        super().__init__(log_path)
        self.port = free_port_pair()
        self.address = f"tcp://{HOST}:{self.port}"
        self.curve_dir = curve_dir

    def start(self, timeout: float = 10.0) -> BrokerProcess:
        """Start it (again, after a kill: on the same ports, logging to the same file)."""
        curve = ["--curve-dir", str(self.curve_dir)] if self.curve_dir else []
        started = self.log().count("tornio-broker pub=")
        self._spawn([*tornio_command(), "broker", "--bind", self.address, *curve])

        def bound() -> bool:
            self.check_alive()
            return self.log().count("tornio-broker pub=") > started

        wait_for(bound, timeout, message=f"the broker to bind {self.address}")
        return self


class ServeProcess(_Process):
    """``tornio serve tests.apps.hosts_chat:router --bus ...`` on a port of its own (the
    ``/chat`` namespace, and the chat example's page for browsers)."""

    def __init__(
        self,
        name: str,
        tmp: Path,
        bus: str,
        workers: int = 2,
        curve_dir: Path | None = None,
        heartbeat: float = 0.2,
        node_timeout: float = 1.0,
        extra: Sequence[str] = (),
    ) -> None:
        super().__init__(tmp / f"serve-{name}.log")
        #: More ``tornio serve`` flags.
        self.extra = list(extra)
        self.name = name
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.bus = bus
        self.workers = workers
        self.curve_dir = curve_dir
        self.heartbeat = heartbeat
        self.node_timeout = node_timeout
        self.stats_path = tmp / f"stats-{name}.json"

    def start(self, timeout: float = 20.0) -> ServeProcess:
        curve = ["--curve-dir", str(self.curve_dir)] if self.curve_dir else []
        self._spawn(
            [
                *tornio_command(), "serve", "tests.apps.hosts_chat:router",
                "--host", HOST, "--port", str(self.port), "--workers", str(self.workers),
                "--no-policy-server", "--bus", self.bus, "--stats-file", str(self.stats_path),
                "--drain-timeout", "3", "--log-level", "info",
                "--bus-heartbeat", str(self.heartbeat),
                "--bus-node-timeout", str(self.node_timeout),
                *curve, *self.extra,
            ]
        )  # fmt: skip

        def all_alive() -> bool:
            self.check_alive()
            stats = self.stats()
            return bool(stats) and all(w["alive"] for w in stats["workers"])

        wait_for(all_alive, timeout, message=f"tornio serve {self.name}'s workers")
        return self

    def stats(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.stats_path.read_text()))
        except (OSError, ValueError):
            return {}

    @property
    def host_tag(self) -> str:
        return str(self.stats()["host"])

    @property
    def node_ids(self) -> list[str]:
        return [w["tag"] for w in self.stats()["workers"]]


class Balancer:
    """A plain round-robin TCP balancer: each new client connection goes to the next backend
    (skipping one that refuses the connection), bytes are piped both ways, nothing is
    inspected. No stickiness whatsoever.

    ``steer`` sends every new connection to one backend while it is set: a test that needs a
    browser's session on a given host cannot count on the browser's connection pattern
    (pages, bundles, keep-alive) to make round-robin parity land it there."""

    def __init__(self, backends: Sequence[int]) -> None:
        self.backends = list(backends)
        self.connections: Counter[int] = Counter()
        self.refused: Counter[int] = Counter()
        self._next = itertools.count()
        #: When set, the port every new connection goes to (set from any thread).
        self.steer: int | None = None
        #: When set, the port every new connection whose first request is a websocket
        #: upgrade goes to (the balancer then reads that request's head before choosing).
        self.upgrades_to: int | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def start(self) -> Balancer:
        self._server = await asyncio.start_server(self._handle, HOST, 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://{HOST}:{port}"
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            first = next(self._next)
            count = len(self.backends)
            order = [self.backends[(first + i) % count] for i in range(count)]
            if self.steer is not None:
                order = [self.steer]
            head = b""
            if self.upgrades_to is not None:
                with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    head = await reader.readuntil(b"\r\n\r\n")
                if b"\r\nupgrade: websocket" in head.lower():
                    order = [self.upgrades_to]
            for port in order:
                try:
                    up_reader, up_writer = await asyncio.open_connection(HOST, port)
                except OSError:
                    self.refused[port] += 1
                    continue
                self.connections[port] += 1
                up_writer.write(head)
                try:
                    pipes = (self._pipe(reader, up_writer), self._pipe(up_reader, writer))
                    await asyncio.gather(*pipes)
                finally:
                    up_writer.close()
                return
        except asyncio.CancelledError:
            # stop() cancels the connections in flight. A connection task of start_server
            # must not end cancelled: asyncio's streams (3.11) then log the CancelledError
            # as an error in a callback.
            return
        finally:
            writer.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class LegacyChatter:
    """A 0.9 client (xhr-polling unless told otherwise) on the ``/chat`` namespace, with
    acks: ``await call(event, *args)`` returns the ack's arguments; other events wait in
    ``events``."""

    def __init__(self, base: str, name: str, transport: str = "xhr-polling") -> None:
        self.name = name
        self.client = LegacyClient(base, transport)
        self.events: asyncio.Queue[tuple[str, list[Any]]] = asyncio.Queue()
        self._acks: dict[int, asyncio.Future[list[Any]]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        #: How the transport ended ("HTTP 503", or a closed websocket), if it did.
        self.ended: str | None = None
        #: Set by the namespace's connect or by the transport's end.
        self._answered = asyncio.Event()

    @property
    def sid(self) -> str:
        return self.client.sid

    async def handshake(self) -> None:
        """Only the handshake: the session exists (owned by whoever answered)."""
        self.client.sid, *_ = await handshake(self.client.base)

    async def connect(self) -> LegacyChatter:
        """Open the transport (handshaking first if not done) and the /chat namespace."""
        if not self.client.sid:
            await self.handshake()
        await self.client.open()
        assert await self.client.recv() == "1::"
        self._reader = asyncio.ensure_future(self._read())
        await self.client.send("1::/chat")
        await asyncio.wait_for(self._answered.wait(), 10)
        if not self._connected.is_set():
            raise AssertionError(f"{self.name} ({self.sid}): {self.ended} before /chat's connect")
        return self

    async def _read(self) -> None:
        while True:
            item = await self.client.received.get()
            if item == CLOSED or item.startswith("HTTP "):
                self._end(item)
                return
            packet = legacy.decode_packet(item)
            kind = packet["type"]
            if kind == "connect" and packet["endpoint"] == "/chat":
                self._connected.set()
                self._answered.set()
            elif kind == "ack":
                future = self._acks.pop(int(packet["ackId"]), None)
                if future is not None and not future.done():
                    future.set_result(list(packet.get("args", [])))
            elif kind == "event":
                self.events.put_nowait((packet["name"], list(packet.get("args", []))))
            elif kind == "disconnect" and packet["endpoint"] == "/chat":
                self.events.put_nowait(("$disconnect", []))

    def _end(self, how: str) -> None:
        """The transport ended (an error status, a closed websocket): nothing more comes, and
        whoever waits is told why at once, rather than timing out."""
        self.ended = how
        self._answered.set()
        for future in self._acks.values():
            if not future.done():
                future.set_exception(AssertionError(f"{self.name} ({self.sid}): {how}"))
        self._acks.clear()

    async def call(self, event: str, *args: Any, timeout: float = 10) -> list[Any]:
        if self.ended is not None:
            raise AssertionError(f"{self.name} ({self.sid}): {self.ended}")
        msg_id = next(self._ids)
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._acks[msg_id] = future
        await self.client.emit("/chat", event, *args, msg_id=msg_id)
        return await asyncio.wait_for(future, timeout)

    async def next_event(self, name: str, timeout: float = 10) -> list[Any]:
        """The arguments of the next ``name`` event (others before it are dropped)."""

        async def scan() -> list[Any]:
            while True:
                event, args = await self.events.get()
                if event == name:
                    return args

        return await asyncio.wait_for(scan(), timeout)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self.client.close()


class NodeClients:
    """socket.io-client 4.x sockets in one Node process (tests/js/hosts_client.mjs)."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: dict[str, asyncio.Queue[tuple[str, list[Any]]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.output: list[str] = []

    async def start(self) -> NodeClients:
        if not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
            raise AssertionError(
                f"{JS_DIR / 'node_modules'} has no socket.io-client: run scripts/setup"
            )
        self.process = await asyncio.create_subprocess_exec(
            "node", "hosts_client.mjs",
            cwd=JS_DIR, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            text = line.decode(errors="replace").strip()
            self.output.append(text)
            try:
                item = json.loads(text)
            except ValueError:
                continue
            if "id" in item and item["id"] in self._replies:
                future = self._replies.pop(item["id"])
                if not future.done():
                    future.set_result(item)
            elif "event" in item:
                queue = self.events.setdefault(item["name"], asyncio.Queue())
                queue.put_nowait((item["event"], item["args"]))
        for future in self._replies.values():
            if not future.done():
                future.set_exception(AssertionError(f"node exited:\n{self.output[-20:]}"))

    async def _request(self, op: str, timeout: float = 15, **fields: Any) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        command = {"id": request_id, "op": op, **fields}
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        reply = await asyncio.wait_for(future, timeout)
        assert reply.get("ok"), f"{command} failed: {reply}"
        return reply

    async def open(self, name: str, url: str, transports: Sequence[str] = ("polling",)) -> str:
        """Connect socket ``name`` (polling only, by default); its sid."""
        self.events.setdefault(name, asyncio.Queue())
        reply = await self._request("open", name=name, url=url, transports=list(transports))
        return str(reply["sid"])

    async def call(self, name: str, event: str, *args: Any) -> list[Any]:
        """Emit with an ack; the ack's arguments."""
        return list((await self._request("emit", name=name, event=event, args=list(args)))["ack"])

    async def next_event(self, name: str, event: str, timeout: float = 10) -> list[Any]:
        queue = self.events.setdefault(name, asyncio.Queue())

        async def scan() -> list[Any]:
            while True:
                got, args = await queue.get()
                if got == event:
                    return args

        return await asyncio.wait_for(scan(), timeout)

    async def close(self, name: str) -> None:
        await self._request("close", name=name)

    async def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, BrokenPipeError, ConnectionError):
                assert process.stdin is not None
                process.stdin.write(b'{"op": "quit"}\n')
                await process.stdin.drain()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


def host_of(sid: str) -> str:
    return sid[:4]


class People:
    """Legacy chatters, closed at the end of a test."""

    def __init__(self) -> None:
        self.legacy: list[LegacyChatter] = []

    async def spread_legacy(self, base: str, hosts: set[str], names: list[str]) -> list[Any]:
        """One 0.9 client per name, handshaken until the first two are on different hosts
        (two handshakes in a row take consecutive connections: the balancer alternates)."""
        made: list[LegacyChatter] = []
        spare: list[LegacyChatter] = []
        for _ in range(6):
            chatter = LegacyChatter(base, names[len(made)])
            await chatter.handshake()
            if len(made) == 1 and host_of(chatter.sid) == host_of(made[0].sid):
                spare.append(chatter)
                continue
            made.append(chatter)
            if len(made) == len(names):
                break
        assert len(made) == len(names), "the balancer never alternated"
        if len(names) > 1:
            assert {host_of(c.sid) for c in made[:2]} == hosts
        for chatter in made:
            self.legacy.append(chatter)
            await chatter.connect()
        return made

    async def close(self) -> None:
        for chatter in self.legacy:
            await chatter.close()


async def spread_modern(
    node: NodeClients, url: str, hosts: set[str], prefix: str,
    transports: Sequence[str] = ("polling",),
) -> dict[str, str]:
    """Open socket.io-client sockets (polling only, by default) until one is on each host:
    {name: sid} of those two."""
    chosen: dict[str, str] = {}
    for i in range(8):
        name = f"{prefix}{i}"
        sid = await node.open(name, url, transports)
        if host_of(sid) in {host_of(s) for s in chosen.values()}:
            await node.close(name)
            continue
        chosen[name] = sid
        if {host_of(s) for s in chosen.values()} == hosts:
            return chosen
    raise AssertionError(f"8 socket.io-client sockets never reached both hosts: {chosen}")


# -- fixtures (tests/conftest.py makes them everyone's) -----------------------------------------


@pytest.fixture(scope="module")
def curve_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CURVE key directory (``tornio keys``' layout) with a node and an emitter key pair."""
    directory = tmp_path_factory.mktemp("keys")
    security.create_keys(directory, ["node", "emitter"])
    return directory


@pytest.fixture
async def node_clients() -> AsyncIterator[NodeClients]:
    clients = await NodeClients().start()
    try:
        yield clients
    finally:
        await clients.stop()


@pytest.fixture
async def people() -> AsyncIterator[People]:
    crowd = People()
    try:
        yield crowd
    finally:
        await crowd.close()


@contextlib.asynccontextmanager
async def balancing(backends: Sequence[int]) -> AsyncIterator[Balancer]:
    """A :class:`Balancer` in front of ``backends`` (ports), stopped afterwards."""
    balancer = await Balancer(backends).start()
    try:
        yield balancer
    finally:
        await balancer.stop()
