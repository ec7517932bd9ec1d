"""Blocking handlers (``tornio.core.threads``), on a real server on the test's loop with real
clients: python-socketio's ``AsyncClient``, and protocol-level clients of both generations
that show every packet in the order it came.

- A gevent-style namespace (``tornio.namespace.BaseNamespace``: ``blocking = True``) whose
  handler blocks in a ``time.sleep`` loop, and whose spawned function loops with
  ``gevent.sleep`` emitting ticks, leaves a second client answered meanwhile; the spawned loop
  ends when its namespace does.
- One socket's events run one at a time, in the order they came, each one's ack before the
  next one's emits; two sockets' handlers do run at once.
- What a handler's thread calls (``emit``, ``join``, ``emit_to_room``...) runs on the event
  loop, waited for: a join is done when it returns, an emit that cannot be sent raises there.
- tornio's own ``BaseNamespace`` runs plain handlers on the loop; ``@blocking`` sends one to a
  thread, and an ``async def`` handler of a blocking namespace stays on the loop; the
  callback of a client's ack runs on a thread too.
- A socket whose blocking handlers fall behind is not read until they catch up (its queue is
  bounded as for ``async`` handlers), while another socket is answered.
- After ``gevent.monkey.patch_all()`` (in a subprocess: ``tests/apps/gevent_blocking.py``)
  the pool's threads are greenlets, and a blocked handler still leaves another answered.
- The pools are bounded: past ``size`` threads, work waits (with a WARNING) and starts when a
  thread is free; idle threads end. Their sizes are settings, checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import gevent  # type: ignore[import-untyped]
import pytest
import socketio  # type: ignore[import-untyped]

from tests.support import wait_for
from tests.support.engine_client import EngineWebSocket
from tests.support.flood_client import Peer
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import LegacyClient
from tests.support.serve_cluster import ROOT
from tornio import BaseNamespace, RoomsMixin
from tornio.core import threads
from tornio.core.fairness import MAX_PENDING_HANDLERS, SLICE
from tornio.core.threads import ThreadPool, blocking, nonblocking
from tornio.namespace import BaseNamespace as GeventNamespace
from tornio.protocol import legacy
from tornio.settings import Settings

TIMEOUT = 5.0
#: The most a test handler blocks when nothing releases it (the tree without threads, where
#: the test cannot run while the handler holds the loop): a bound, not an assertion.
GIVE_UP = 5.0
#: Events the flooder sends at once (``/f``): enough to fill its bounded queue many times.
FLOOD = 2000
#: The most the whole flood may take once released: a bound, not an assertion (it takes about
#: a second; each event goes to a thread and back).
FLOOD_BOUND = 60.0


@dataclass
class State:
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: int = 0
    most_running: int = 0
    order: list[int] = field(default_factory=list)
    threads: set[str] = field(default_factory=set)
    meet: threading.Barrier = field(default_factory=lambda: threading.Barrier(2, timeout=GIVE_UP))
    #: Where emits and joins ran: the threads ``recv_any_outgoing`` and ``rooms.join`` saw.
    sent_on: set[str] = field(default_factory=set)
    ticker_ended: threading.Event = field(default_factory=threading.Event)
    ticker_cancelled: bool = False
    disconnect_thread: str = ""
    disconnected: threading.Event = field(default_factory=threading.Event)
    answered: list[tuple[Any, str]] = field(default_factory=list)
    connect_threads: list[str] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    #: Set by the handler of the flood's last event (:data:`FLOOD` of them).
    all_held: threading.Event = field(default_factory=threading.Event)
    left: threading.Event = field(default_factory=threading.Event)


def namespaces(state: State) -> dict[str, type[BaseNamespace]]:
    class Gevent(GeventNamespace, RoomsMixin):
        def on_slow(self) -> str:
            deadline = time.monotonic() + GIVE_UP
            while not state.release.is_set():  # gevent-style: block, sleep, look again
                if time.monotonic() > deadline:
                    return "gave up"
                time.sleep(0.01)
            return "released"

        def on_ping(self) -> tuple[str, str]:
            return "pong", threading.current_thread().name

        def on_seq(self, n: int) -> int:
            with state.lock:
                state.running += 1
                state.most_running = max(state.most_running, state.running)
            state.order.append(n)
            state.threads.add(threading.current_thread().name)
            self.emit("progress", n)
            if n == 0:
                time.sleep(0.05)  # the next events arrive meanwhile: they must wait
            with state.lock:
                state.running -= 1
            return n

        def on_meet(self) -> bool:
            state.meet.wait()  # both sockets' handlers at once, or BrokenBarrierError
            return True

        def on_ticks(self) -> bool:
            self.spawn(self.ticker)
            return True

        def ticker(self) -> None:
            try:
                for n in range(int(GIVE_UP / 0.02)):
                    self.emit("tick", n)
                    gevent.sleep(0.02)  # as gevent apps wrote it (unpatched: this thread's hub)
            except asyncio.CancelledError:  # its namespace ended: the next emit says so
                state.ticker_cancelled = True
                raise
            finally:
                state.ticker_ended.set()

        def on_room(self, room: str) -> tuple[bool, bool, str]:
            self.join(room)
            joined = room in self.rooms  # read on this thread: the join is done
            self.emit_to_room(room, "hello", room)
            try:
                self.emit("unsendable", object())
            except TypeError:
                refused = True
            else:
                refused = False
            return joined, refused, threading.current_thread().name

        async def on_where_async(self) -> str:
            return threading.current_thread().name

        @nonblocking
        def on_where_nonblocking(self) -> str:
            return threading.current_thread().name

        @nonblocking
        def recv_any_outgoing(self, event: str, *args: Any) -> None:
            state.sent_on.add(threading.current_thread().name)

        def on_ask(self) -> bool:
            self.emit("question", "life?", callback=self.answered)
            return True

        def answered(self, answer: Any) -> None:
            state.answered.append((answer, threading.current_thread().name))
            self.emit("thanks", answer)

        def on_leave(self) -> str:
            self.disconnect()  # ends this namespace (and cancels this handler's wait)
            state.left.set()
            return "never acked"

        def recv_disconnect(self) -> None:
            state.disconnect_thread = threading.current_thread().name
            state.disconnected.set()

    class Door(GeventNamespace):
        def recv_connect(self) -> bool:
            state.connect_threads.append(threading.current_thread().name)
            time.sleep(0.01)  # a look-up that blocks
            return bool(self.auth.get("ok"))

        def on_where(self) -> str:
            return threading.current_thread().name

    class Plain(BaseNamespace):
        def on_where(self) -> str:
            return threading.current_thread().name

        @blocking
        def on_where_blocking(self) -> str:
            return threading.current_thread().name

    class Flood(GeventNamespace):
        def on_hold(self, n: int) -> None:
            state.held.append(n)
            if n == 0:  # the first one holds the socket's queue until released
                state.holding.set()
                state.release.wait(GIVE_UP)
            if len(state.held) == FLOOD:
                state.all_held.set()

        def on_count(self) -> int:
            return len(state.held)

    return {"/g": Gevent, "/p": Plain, "/door": Door, "/f": Flood}


@pytest.fixture
async def served() -> AsyncIterator[tuple[InLoopServer, State]]:
    state = State()
    server = await InLoopServer.start(namespaces(state), handler_threads=4, spawn_threads=2)
    join = server.manager.rooms.join

    def joined_on(*args: Any, **kwargs: Any) -> Any:  # where joins run (a spy, not a mock)
        state.sent_on.add(threading.current_thread().name)
        return join(*args, **kwargs)

    server.manager.rooms.join = joined_on  # type: ignore[method-assign]
    try:
        yield server, state
    finally:
        state.release.set()
        await server.stop()


async def connect(client: socketio.AsyncClient, base: str, nsp: str = "/g") -> None:
    await asyncio.wait_for(
        client.connect(base, transports=["websocket"], namespaces=[nsp], wait_timeout=TIMEOUT),
        TIMEOUT,
    )


def queue_of(client: socketio.AsyncClient, event: str, nsp: str = "/g") -> asyncio.Queue[Any]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    client.on(event, lambda *args: queue.put_nowait(list(args)), namespace=nsp)
    return queue


LOOP_THREAD = threading.current_thread().name  # the tests' loop runs on the main thread

_MODERN = re.compile(r"4([23])/g,(\d*)(.*)", re.S)


class Raw:
    """A protocol-level client (0.9 or Engine.IO v4 websocket) in ``/g``: it sends events with
    ack ids and reads every packet, in order, as ``('event', name, args)`` or ``('ack', id,
    args)``."""

    def __init__(self, kind: str, client: Any) -> None:
        self.kind = kind
        self.client = client

    @classmethod
    async def connect(cls, kind: str, base: str) -> Raw:
        if kind == "legacy":
            client: Any = await LegacyClient(base, "websocket").connect()
            await client.send("1::/g")
            assert await client.recv() == "1::/g"
        else:
            client = await EngineWebSocket.open(base)
            await client.join("/g")
        return cls(kind, client)

    async def emit(self, *events: tuple[str, list[Any], int]) -> None:
        """Write the events one frame each, without waiting for anything between them."""
        for name, args, ack in events:
            if self.kind == "legacy":
                await self.client.send(legacy.encode_event("/g", name, args, ack))
            else:
                await self.client.send(f"42/g,{ack}" + json.dumps([name, *args]))

    async def next(self) -> tuple[str, Any, list[Any]]:
        if self.kind == "legacy":
            packet = legacy.decode_packet(await self.client.recv(TIMEOUT))
            if packet["type"] == "ack":
                return "ack", int(packet["ackId"]), list(packet.get("args", []))
            assert packet["type"] == "event", packet
            return "event", packet["name"], list(packet.get("args", []))
        frame = await self.client.recv(TIMEOUT)
        assert isinstance(frame, str), frame
        match = _MODERN.fullmatch(frame)
        assert match is not None, frame
        kind, ack, body = match.groups()
        data = json.loads(body)
        if kind == "3":
            return "ack", int(ack), data
        return "event", data[0], data[1:]

    async def close(self) -> None:
        if self.kind == "legacy":
            await self.client.close()
        else:
            self.client.close()


async def test_a_blocking_handler_and_spawned_loop_leave_other_sockets_answered(
    served: tuple[InLoopServer, State], sio_clients: Callable[[], socketio.AsyncClient]
) -> None:
    server, state = served
    a, b = sio_clients(), sio_clients()
    ticks = queue_of(a, "tick")
    await connect(a, server.base)
    await connect(b, server.base)

    # A spawned function loops with time.sleep, emitting from its thread.
    assert await a.call("ticks", namespace="/g", timeout=TIMEOUT) is True
    assert [await asyncio.wait_for(ticks.get(), TIMEOUT) for _ in range(3)] == [[0], [1], [2]]

    # A's handler blocks; B is answered meanwhile (by another thread of the pool).
    slow: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    await a.emit("slow", namespace="/g", callback=lambda *args: slow.set_result(args))
    pong, thread = await b.call("ping", namespace="/g", timeout=TIMEOUT)
    assert (pong, thread.startswith("tornio-handler-")) == ("pong", True)
    assert not slow.done()  # B's ack came while A's handler still blocked
    state.release.set()
    assert await asyncio.wait_for(slow, TIMEOUT) == ("released",)

    # The spawned loop ends with its namespace: its next emit raises CancelledError.
    await a.disconnect()
    assert await asyncio.to_thread(state.ticker_ended.wait, TIMEOUT)
    assert state.ticker_cancelled
    assert await asyncio.to_thread(state.disconnected.wait, TIMEOUT)
    assert state.disconnect_thread.startswith("tornio-handler-")  # recv_disconnect too
    assert state.sent_on == {LOOP_THREAD}  # every emit ran on the loop


@pytest.mark.parametrize("kind", ["legacy", "modern"])
async def test_one_sockets_events_run_one_at_a_time_in_order_with_their_acks(
    served: tuple[InLoopServer, State], kind: str
) -> None:
    server, state = served
    client = await Raw.connect(kind, server.base)
    count = 20
    try:
        await client.emit(*[("seq", [n], n + 1) for n in range(count)])
        received = [await client.next() for _ in range(2 * count)]
    finally:
        await client.close()
    # Each handler's emit, then its ack, then the next handler's: never interleaved.
    expected = []
    for n in range(count):
        expected += [("event", "progress", [n]), ("ack", n + 1, [n])]
    assert received == expected
    assert state.order == list(range(count))
    assert state.most_running == 1
    assert all(name.startswith("tornio-handler-") for name in state.threads), state.threads
    assert state.sent_on == {LOOP_THREAD}


async def test_two_sockets_handlers_run_at_once(served: tuple[InLoopServer, State]) -> None:
    server, _state = served
    a, b = await Raw.connect("legacy", server.base), await Raw.connect("modern", server.base)
    try:
        await a.emit(("meet", [], 1))
        await b.emit(("meet", [], 1))
        assert await a.next() == ("ack", 1, [True])
        assert await b.next() == ("ack", 1, [True])
    finally:
        await a.close()
        await b.close()


async def test_what_a_handlers_thread_calls_runs_on_the_loop_and_is_waited_for(
    served: tuple[InLoopServer, State], sio_clients: Callable[[], socketio.AsyncClient]
) -> None:
    server, state = served
    a, b = sio_clients(), sio_clients()
    hello = queue_of(b, "hello")
    await connect(a, server.base)
    await connect(b, server.base)
    joined, refused, _ = await b.call("room", "hall", namespace="/g", timeout=TIMEOUT)
    assert (joined, refused) == (True, True)
    joined, refused, thread = await a.call("room", "hall", namespace="/g", timeout=TIMEOUT)
    # The join was done when join() returned; the unsendable emit raised in the handler.
    assert (joined, refused, thread.startswith("tornio-handler-")) == (True, True, True)
    assert await asyncio.wait_for(hello.get(), TIMEOUT) == ["hall"]  # emit_to_room from A
    assert state.sent_on == {LOOP_THREAD}


async def test_where_handlers_run(
    served: tuple[InLoopServer, State], sio_clients: Callable[[], socketio.AsyncClient]
) -> None:
    server, _state = served
    client = sio_clients()
    await asyncio.wait_for(
        client.connect(server.base, transports=["websocket"], namespaces=["/g", "/p"],
                       wait_timeout=TIMEOUT),
        TIMEOUT,
    )

    async def where(event: str, nsp: str) -> str:
        name: str = await client.call(event, namespace=nsp, timeout=TIMEOUT)
        return name

    # tornio's own BaseNamespace: the fast path, on the loop; @blocking opts one in.
    assert await where("where", "/p") == LOOP_THREAD
    assert (await where("where_blocking", "/p")).startswith("tornio-handler-")
    # A blocking namespace: async def and @nonblocking handlers stay on the loop.
    assert await where("where_async", "/g") == LOOP_THREAD
    assert await where("where_nonblocking", "/g") == LOOP_THREAD


async def test_the_callback_of_a_clients_ack_runs_on_a_thread(
    served: tuple[InLoopServer, State], sio_clients: Callable[[], socketio.AsyncClient]
) -> None:
    server, state = served
    client = sio_clients()
    client.on("question", lambda text: 42, namespace="/g")
    thanks = queue_of(client, "thanks")
    await connect(client, server.base)
    assert await client.call("ask", namespace="/g", timeout=TIMEOUT) is True
    assert await asyncio.wait_for(thanks.get(), TIMEOUT) == [42]
    [(answer, thread)] = state.answered
    assert (answer, thread.startswith("tornio-handler-")) == (42, True)


def test_a_full_pool_queues_work_until_a_thread_is_free(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threads, "IDLE", 0.05)  # idle threads end soon, for this test
    pool = ThreadPool("test-pool", 2)
    release = threading.Event()
    started: list[int] = []

    def work(n: int) -> Callable[[], None]:
        def run() -> None:
            started.append(n)
            release.wait(GIVE_UP)
        return run

    assert pool.submit(work(1)) is False
    assert pool.submit(work(2)) is False
    wait_for(lambda: sorted(started) == [1, 2], TIMEOUT, message="two threads started")
    with caplog.at_level("WARNING", logger="tornio.core.threads"):
        assert pool.submit(work(3)) is True  # full: it waits
    assert "all 2 threads are busy" in caplog.text
    assert (pool.threads, sorted(started)) == (2, [1, 2])
    release.set()
    wait_for(lambda: 3 in started, TIMEOUT, message="the queued work ran")
    wait_for(lambda: pool.threads == 0, TIMEOUT, message="idle threads ended")
    assert pool.submit(work(4)) is False  # a new thread for new work
    wait_for(lambda: 4 in started, TIMEOUT, message="work after the threads ended ran")


@pytest.mark.parametrize("name", ["handler_threads", "spawn_threads"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True, "8"])
def test_pool_sizes_are_checked(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_kwargs(**{name: value})


async def test_recv_connect_may_block_and_refuse(
    served: tuple[InLoopServer, State], sio_clients: Callable[[], socketio.AsyncClient]
) -> None:
    server, state = served
    refused = sio_clients()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await asyncio.wait_for(refused.connect(
            server.base, transports=["websocket"], namespaces=["/door"], auth={"ok": False},
            wait_timeout=TIMEOUT), TIMEOUT)
    accepted = sio_clients()
    await asyncio.wait_for(accepted.connect(
        server.base, transports=["websocket"], namespaces=["/door"], auth={"ok": True},
        wait_timeout=TIMEOUT), TIMEOUT)
    assert (await accepted.call("where", namespace="/door", timeout=TIMEOUT)).startswith(
        "tornio-handler-")
    assert len(state.connect_threads) == 2
    assert all(name.startswith("tornio-handler-") for name in state.connect_threads)


async def test_a_handler_that_disconnects_its_namespace(
    served: tuple[InLoopServer, State], sio_clients: Callable[[], socketio.AsyncClient]
) -> None:
    server, state = served
    client = sio_clients()
    gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    client.on("disconnect", lambda *args: gone.done() or gone.set_result(None), namespace="/g")
    await connect(client, server.base)
    await client.emit("leave", namespace="/g", callback=lambda *args: None)
    await asyncio.wait_for(gone, TIMEOUT)  # the client was told
    assert await asyncio.to_thread(state.left.wait, TIMEOUT)  # disconnect() returned
    # recv_disconnect ran after the handler, on the socket's queue
    assert await asyncio.to_thread(state.disconnected.wait, TIMEOUT)
    assert state.disconnect_thread.startswith("tornio-handler-")


def test_a_blocking_namespace_after_gevent_monkey_patch_all() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.apps.gevent_blocking"],
        cwd=ROOT, env=os.environ, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The slow handler ended only because the ping was answered while it blocked.
    assert json.loads(done.stdout.splitlines()[-1]) == [
        'b 43/g,1["pong"]', 'a 42/g,["from_thread",1]', 'a 43/g,1["tornio-handler-1"]',
    ]


@pytest.mark.parametrize("kind", ["modern", "legacy"])
async def test_a_socket_whose_blocking_handlers_are_behind_is_not_read(
    served: tuple[InLoopServer, State], kind: str
) -> None:
    server, state = served
    victim = await Peer.join(kind, server.base, server.port)
    flooder = await Peer.join(kind, server.base, server.port)
    socket = (server.manager.get_engine(flooder.sid) if kind == "modern"
              else server.manager.get(flooder.sid))
    assert socket is not None
    try:
        flooder.flood("hold", FLOOD)
        assert await asyncio.to_thread(state.holding.wait, TIMEOUT)

        deadline = time.monotonic() + TIMEOUT  # a bound: it stops within a few round trips
        while not socket.inbox.behind:  # the victim's round trips turn the loop while it is read
            assert await victim.ask_count() == 1  # answered; the flooder's first still holds
            assert time.monotonic() < deadline, "the flooder's input was never held"
        # Its reading stopped: what waits for a thread is bounded.
        assert MAX_PENDING_HANDLERS <= socket.inbox.handlers_pending <= MAX_PENDING_HANDLERS + SLICE
        state.release.set()
        # Awaited, not counted in the victim's round trips: how many of those the flood takes
        # depends on the machine's load (and on what earlier tests left for the GC to walk).
        assert await asyncio.to_thread(state.all_held.wait, FLOOD_BOUND)
        assert await victim.ask_count() == FLOOD
        assert state.held == list(range(FLOOD))  # all of it, in order, once released
        assert not socket.inbox.behind
    finally:
        flooder.client.close()
        victim.client.close()
