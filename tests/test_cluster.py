"""``tornio serve --workers 3`` as users run it (issue 5's acceptance): a subprocess with a
supervisor, three workers and a bus broker, real clients on every transport, and processes
killed on purpose.

- Real clients complete the chat on every transport they have (the 0.9.16 bundle in Chromium
  over websocket, xhr-polling and jsonp-polling; socket.io-client 4.x polling-only and with
  the upgrade) with no unknown-session error, and requests sent on purpose over another
  worker's connection (both protocols) are forwarded and answered by the owner.
- 200 polling clients sharing one keep-alive pool each say 50 messages to one room: each
  receives every other's messages exactly once, in order. The time and the forwarded-request
  count are printed (``pytest -s``) and logged.
- A worker killed with SIGKILL is replaced within 2 s, its clients reconnect, clients on the
  other workers lose nothing; a killed broker is restarted and broadcasts flow again within
  2 s.
- SIGTERM: every process exits within the drain timeout and clients are told to reconnect.
- Garbage and oversized bus frames are dropped; the workers carry on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import random
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import msgpack  # type: ignore[import-untyped]
import pytest
import zmq
from playwright.sync_api import BrowserContext, expect

from tests.support.chat_users import ChatPage, NodeChatter
from tests.support.legacy_client import CLOSED, LegacyClient
from tests.support.loop_thread import LoopThread
from tests.support.node_client import node_modules_ready
from tests.support.pinned_http import PinnedConnection
from tests.support.serve_cluster import ROOT, ClusterProcess, alive, worker_of
from tests.support.swarm import SwarmClient, say_packet
from tests.support.waiting import eventually, wait_for
from tornio.bus import messages
from tornio.protocol import legacy

log = logging.getLogger("tests.test_cluster")


WORKERS = 3
#: Senders a test's small swarm clients keep track of (their indexes are below it).
SENDERS = 64
#: Every HTTP request of the aiohttp clients (a long poll is held 20 s at most).
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)
#: Lines of the serve log that mean a client was told its session is unknown, or a request
#: failed: 4xx/5xx answers to Socket.IO requests.
FAILED_REQUEST = re.compile(r" (4\d\d|5\d\d) (GET|POST) /socket\.io/")


def serve(target: str, workdir: Path, cwd: Path = ROOT) -> Iterator[ClusterProcess]:
    """``tornio serve TARGET --workers 3``, ended in teardown with everything it ran."""
    with ClusterProcess(target, workdir, cwd=cwd, workers=WORKERS).running() as process:
        yield process


@pytest.fixture
def cluster(workdir: Path) -> Iterator[ClusterProcess]:
    """``tornio serve tests.apps.workers_chat:router --workers 3``."""
    yield from serve("tests.apps.workers_chat:router", workdir)

def assert_clean_log(cluster: ClusterProcess) -> None:
    """No traceback and no failed Socket.IO request in the serve log."""
    bad = [
        line
        for line in cluster.log_text().splitlines()
        if "Traceback" in line or " ERROR " in line or FAILED_REQUEST.search(line)
    ]
    assert bad == [], "\n".join(bad[:20]) + "\n" + cluster.tail()


EXAMPLE = ROOT / "examples" / "chat"
EXAMPLE_VENDOR = [
    EXAMPLE / "node_modules" / "socket.io-client" / "dist" / "socket.io.js",
    EXAMPLE / "node_modules" / "jquery" / "dist" / "jquery.min.js",
]


@pytest.fixture
def chat_cluster(workdir: Path) -> Iterator[ClusterProcess]:
    """``tornio serve chat:router --workers 3`` run from examples/chat."""
    missing = [str(path) for path in EXAMPLE_VENDOR if not path.is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run scripts/setup (npm install there)")
    yield from serve("chat:router", workdir, cwd=EXAMPLE)


@pytest.fixture
def node_ready() -> None:
    missing = node_modules_ready()
    if missing:
        pytest.fail(missing)


def unexpected_node_lines(user: NodeChatter) -> list[dict[str, Any]]:
    """Disconnections and engine closes a Node client saw, but the ones its quit caused."""
    return [
        line
        for line in user.client.lines
        if (line["step"] == "disconnect" and line["reason"] != "io client disconnect")
        or (line["step"] == "close" and line["reason"] != "forced close")
    ]


async def placed_clients(
    http: aiohttp.ClientSession,
    cluster: ClusterProcess,
    room: str,
    wanted: dict[int, int] | None = None,
) -> dict[int, list[SwarmClient]]:
    """0.9 polling clients in ``room``: ``wanted[worker]`` of them on each worker (one on each
    by default). New sessions go to the least-loaded worker: more clients are made (and the
    extra ones closed) until every worker has its share. ``http`` should not keep
    connections alive, so that each request reaches its session's owner directly."""
    wanted = wanted if wanted is not None else dict.fromkeys(range(WORKERS), 1)
    placed: dict[int, list[SwarmClient]] = {worker: [] for worker in wanted}
    spare: list[SwarmClient] = []
    for index in range(8 * sum(wanted.values())):
        if all(len(placed[w]) >= n for w, n in wanted.items()):
            break
        client = await SwarmClient(http, cluster.url, index, senders=SENDERS).connect("/chat")
        worker = worker_of(client.sid)
        if len(placed.get(worker, ())) < wanted.get(worker, 0):
            placed[worker].append(client)
        else:
            spare.append(client)
    await asyncio.gather(*(c.close() for c in spare))
    assert all(len(placed[w]) >= n for w, n in wanted.items()), f"placed {placed}"
    for clients in placed.values():
        for client in clients:
            assert await client.event("/chat", "join", room) == [True]
    return placed


class Stream:
    """A 0.9 client saying ``said`` messages to its room, one every 20 ms or so."""

    def __init__(self, sender: SwarmClient) -> None:
        self.sender = sender
        self.sent = 0  # messages posted so far (their seqs are 0 .. sent - 1)
        self.stopped = asyncio.Event()
        self.done = asyncio.Event()

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            self.done.set()

    async def _run(self) -> None:
        while not self.stopped.is_set():
            await self.sender.post([say_packet(self.sender.index, self.sent)])
            self.sent += 1
            with contextlib.suppress(asyncio.TimeoutError):  # a pace, not a wait for something
                await asyncio.wait_for(self.stopped.wait(), 0.02)

    async def stop_and_drain(self, receivers: list[SwarmClient], timeout: float = 10) -> int:
        """Stop, and wait until every receiver has the last message; how many were sent."""
        self.stopped.set()
        await asyncio.wait_for(self.done.wait(), timeout)
        last = self.sent - 1
        for receiver in receivers:
            await receiver.wait_said(self.sender.index, last, timeout)
        return self.sent


async def drain_until_closed(client: LegacyClient) -> list[str]:
    """Every packet a legacy websocket client receives until its socket is closed."""
    received: list[str] = []
    while not received or received[-1] != CLOSED:
        received.append(await client.received.get())
    return received


# -- the chat example, real clients on every transport --------------------------------------------


def test_the_chat_on_every_transport_with_three_workers(
    chat_cluster: ClusterProcess,
    browser_context: Callable[..., BrowserContext],
    node_ready: None,
) -> None:
    room = chat_cluster.url + "/?room=kitchen"
    alice = ChatPage(browser_context(), room)  # websocket, the client's first choice
    # bob and carol share a browser (its connection pool): kept-alive connections are
    # reused across their sessions, whichever worker the supervisor handed them to.
    shared = browser_context()
    bob = ChatPage(shared, room + "&transport=xhr-polling")
    carol = ChatPage(shared, room + "&transport=jsonp-polling")
    assert (alice.transport, bob.transport, carol.transport) == (
        "websocket",
        "xhr-polling",
        "jsonp-polling",
    )
    with (
        NodeChatter(chat_cluster.url, ["polling"]) as dave,
        NodeChatter(chat_cluster.url) as erin,  # polling, then the upgrade
    ):
        assert dave.transport == "polling"
        assert erin.step("upgrade")["transport"] == "websocket"
        for node_user in (dave, erin):
            assert node_user.call("join", "kitchen") == [True]

        pages = {"alice": alice, "bob": bob, "carol": carol}
        for name, page in pages.items():
            page.pick_nickname(name)
        assert dave.call("nickname", "dave") == [True]
        assert erin.call("nickname", "alice") == [False]  # taken, on some worker
        assert erin.call("nickname", "erin") == [True]
        everyone = ["alice", "bob", "carol", "dave", "erin"]
        for page in pages.values():
            page.expect_nicknames(*everyone)
        erin.event("nicknames", everyone)
        dave.event("nicknames", everyone)

        said = {name: f"{name} on {page.transport}" for name, page in pages.items()}
        said |= {"dave": "dave on polling", "erin": "erin on websocket"}
        for name, page in pages.items():
            page.say(said[name])
        assert dave.call("user message", said["dave"]) == [True]
        assert erin.call("user message", said["erin"]) == [True]
        for name, page in pages.items():
            for sender in everyone:
                if sender != name:
                    page.expect_message(sender, said[sender])
            assert sorted(page.messages()) == sorted(said.items())
        for name, node_user in (("dave", dave), ("erin", erin)):
            for sender in everyone:
                if sender != name:
                    node_user.event("msg_to_room", sender, said[sender])

        # The sessions are spread over the workers, as the stats file says too.
        sids = [page.sid for page in pages.values()] + [dave.sid, erin.sid]
        owners = Counter(worker_of(sid) for sid in sids)
        assert len(owners) > 1, owners

        def sessions_shown() -> dict[str, Any]:
            stats = chat_cluster.stats()
            shown = {w["index"]: w["sessions"] for w in stats["workers"] if w["sessions"]}
            return stats if shown == owners else {}

        stats = wait_for(sessions_shown, 5, message=f"the stats file showing {owners}")
        print(
            f"\nchat with 3 workers: sessions per worker {dict(sorted(owners.items()))}, "
            f"{stats['handed']} connections handed over, {stats['forwarded']} requests "
            "forwarded"
        )

        dave.quit()
        erin.quit()
        # Nobody was ever told that their session is unknown, nor lost their connection.
        for name, page in pages.items():
            assert page.unknown_session_answers() == [], name
            assert page.errors == [], name
            assert not [
                line for line in page.system_lines() if "Disconnected" in line or "Error" in line
            ], (name, page.system_lines())
        for node_user in (dave, erin):
            assert unexpected_node_lines(node_user) == []
        assert_clean_log(chat_cluster)


# -- requests on another worker's connection ------------------------------------------------------


async def open_pinned(
    cluster: ClusterProcess, per_worker: int
) -> dict[int, list[PinnedConnection]]:
    """Connections pinned to each worker (``per_worker`` each): each one's first request is
    a 0.9 handshake, whose session id tells which worker the supervisor handed it to."""
    pinned: dict[int, list[PinnedConnection]] = {i: [] for i in range(WORKERS)}
    extra: list[PinnedConnection] = []
    for _ in range(12 * WORKERS * per_worker):
        if all(len(conns) >= per_worker for conns in pinned.values()):
            break
        conn = await PinnedConnection.open("127.0.0.1", cluster.port)
        answer = await conn.request("GET", "/socket.io/1/?t=0")
        assert answer.status == 200, answer
        conn.worker = worker_of(answer.text.split(":")[0])
        (pinned[conn.worker] if len(pinned[conn.worker]) < per_worker else extra).append(conn)
    for conn in extra:
        conn.close()
    assert all(len(conns) >= per_worker for conns in pinned.values()), pinned
    return pinned


class CrossRoutedSession:
    """A session whose every request goes over connections pinned to other workers than its
    owner: long polls on one, posts on another. Legacy 0.9 or Engine.IO v4."""

    def __init__(
        self, kind: str, sid: str, poll_conn: PinnedConnection, post_conn: PinnedConnection
    ) -> None:
        self.kind = kind
        self.sid = sid
        self.owner = worker_of(sid)
        assert poll_conn.worker != self.owner and post_conn.worker != self.owner
        self.poll_conn = poll_conn
        self.post_conn = post_conn
        self.packets: asyncio.Queue[str] = asyncio.Queue()
        self.answers: list[Any] = []  # every HTTP answer (status and body)
        self.poller: asyncio.Task[None] | None = None

    @property
    def target(self) -> str:
        if self.kind == "legacy":
            return f"/socket.io/1/xhr-polling/{self.sid}?t=1"
        return f"/socket.io/?EIO=4&transport=polling&sid={self.sid}"

    def start(self) -> None:
        self.poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            answer = await self.poll_conn.request("GET", self.target)
            self.answers.append((answer.status, answer.body))
            assert answer.status == 200, answer
            if self.kind == "legacy":
                packets = legacy.decode_payload(answer.text)
            else:
                packets = answer.text.split("\x1e")
            for packet in packets:
                if packet == "2":  # an Engine.IO ping
                    await self.post("3")
                self.packets.put_nowait(packet)

    async def post(self, payload: str) -> None:
        answer = await self.post_conn.request("POST", self.target, payload.encode())
        self.answers.append((answer.status, answer.body))
        assert answer.status == 200 and answer.body in (b"1", b"ok"), answer

    async def expect(self, pattern: str, timeout: float = 10) -> re.Match[str]:
        """The next packet matching ``pattern`` (others before it are dropped)."""

        async def scan() -> re.Match[str]:
            while True:
                match = re.fullmatch(pattern, await self.packets.get())
                if match:
                    return match

        return await asyncio.wait_for(scan(), timeout)

    async def stop(self) -> None:
        if self.poller is not None:
            self.poller.cancel()
            await asyncio.gather(self.poller, return_exceptions=True)


async def test_requests_reaching_another_worker_are_forwarded_for_both_protocols(
    cluster: ClusterProcess,
) -> None:
    """A 0.9 session and an Engine.IO session on different workers chat in one room, every
    request of theirs sent over a connection the supervisor handed to another worker."""
    moment = time.time()
    reported = await eventually(lambda: cluster.reported_since(moment), 5, message="reports")
    before, relayed_before = reported["forwarded"], reported["relayed"]
    pinned = await open_pinned(cluster, per_worker=2)
    conns = [conn for worker in sorted(pinned) for conn in pinned[worker]]
    try:
        # The 0.9 session: the handshake made on worker 0's first connection.
        legacy_home = pinned[0][0]
        answer = await legacy_home.request("GET", "/socket.io/1/?t=1")
        legacy_sid = answer.text.split(":")[0]
        assert worker_of(legacy_sid) == 0
        # The Engine.IO session: made on worker 1's first connection.
        answer = await pinned[1][0].request("GET", "/socket.io/?EIO=4&transport=polling")
        assert answer.status == 200 and answer.text.startswith("0{"), answer
        engine_sid = re.search(r'"sid":"([^"]+)"', answer.text)
        assert engine_sid is not None
        assert worker_of(engine_sid.group(1)) == 1

        lena = CrossRoutedSession("legacy", legacy_sid, pinned[1][1], pinned[2][0])
        mona = CrossRoutedSession("engine", engine_sid.group(1), pinned[2][1], pinned[0][1])
        lena.start()
        mona.start()
        await lena.expect(r"1::")
        await lena.post("1::/chat")
        await lena.expect(r"1::/chat")
        await mona.post("40/chat,")
        await mona.expect(r'40/chat,\{"sid":"[^"]+"\}')

        await lena.post(legacy.encode_event("/chat", "join", ["den"], 1))
        await lena.expect(r"6::/chat:1\+\[true\]")
        await mona.post('42/chat,1["join","den"]')
        await mona.expect(r"43/chat,1\[true\]")
        await lena.post(legacy.encode_event("/chat", "nickname", ["lena"], 2))
        await lena.expect(r"6::/chat:2\+\[true\]")
        # The nickname is taken on another worker: the cluster query says so.
        await mona.post('42/chat,2["nickname","lena"]')
        await mona.expect(r"43/chat,2\[false\]")
        await mona.post('42/chat,3["nickname","mona"]')
        await mona.expect(r"43/chat,3\[true\]")
        await lena.expect(r'5::/chat:\{"name":"nicknames","args":\[\["lena","mona"\]\]\}')

        await lena.post(legacy.encode_event("/chat", "user message", ["hi mona"]))
        await mona.expect(r'42/chat,\["msg_to_room","lena","hi mona"\]')
        await mona.post('42/chat,["user message","hi lena"]')
        await lena.expect(r'5::/chat:\{"name":"msg_to_room","args":\["mona","hi lena"\]\}')

        # A websocket cannot be forwarded as data: one that reaches another worker (only a
        # pooling proxy would send it down a kept-alive connection) is relayed to its owner
        # through the supervisor, which answers the upgrade; the sessions go on polling (the
        # modern probe is never completed, the 0.9 one never used).
        upgrade = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        }
        for conn, target in (
            (pinned[0][0], f"/socket.io/?EIO=4&transport=websocket&sid={mona.sid}"),
            (pinned[1][0], f"/socket.io/1/websocket/{lena.sid}"),
        ):
            relayed = await conn.request("GET", target, headers=upgrade)
            assert relayed.status == 101, relayed
            assert relayed.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        await lena.post(legacy.encode_event("/chat", "user message", ["still polling?"]))
        await mona.expect(r'42/chat,\["msg_to_room","lena","still polling\?"\]')

        await lena.stop()
        await mona.stop()
        # Every request of both sessions but the handshakes and the two upgrades went over
        # another worker's connection: each one was forwarded (the held polls too).
        crossed = sum(c.requests for c in conns) - sum(1 for _ in conns) - 2 - 2
        moment = time.time()
        stats = await eventually(lambda: cluster.reported_since(moment), 5, message="reports")
        assert stats["forwarded"] - before == crossed, (stats, crossed)
        assert stats["relayed"] - relayed_before == 2, stats
        for session in (lena, mona):
            assert all(status == 200 for status, _ in session.answers), session.answers
            assert not any(b"7:::1+0" in body for _, body in session.answers)
    finally:
        for conn in conns:
            conn.close()
    assert_clean_log(cluster)


# -- many polling clients, one room --------------------------------------------------------------

CLIENTS, MESSAGES = 200, 50


async def test_200_polling_clients_each_say_50_messages_to_one_room(
    cluster: ClusterProcess,
) -> None:
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector, timeout=HTTP_TIMEOUT) as http:
        clients = [SwarmClient(http, cluster.url, i, senders=CLIENTS) for i in range(CLIENTS)]
        try:
            await asyncio.wait_for(asyncio.gather(*(c.connect("/chat") for c in clients)), 30)
            joins = [c.event("/chat", "join", "everyone") for c in clients]
            assert await asyncio.wait_for(asyncio.gather(*joins), 30) == [[True]] * CLIENTS
            spread = Counter(worker_of(c.sid) for c in clients)
            assert sorted(spread) == list(range(WORKERS)), spread
            assert min(spread.values()) >= CLIENTS // (2 * WORKERS), spread
            moment = time.time()
            before = await eventually(lambda: cluster.reported_since(moment), 5, message="reports")

            for client in clients:
                client.expected = (CLIENTS - 1) * MESSAGES

            async def say_all(client: SwarmClient) -> None:
                for seq in range(MESSAGES):
                    await client.post([say_packet(client.index, seq)])

            started = time.monotonic()
            everything = asyncio.gather(
                *(say_all(c) for c in clients), *(c.complete.wait() for c in clients)
            )
            try:
                await asyncio.wait_for(everything, 60)
            except asyncio.TimeoutError:
                counts = sorted(c.said for c in clients)
                pytest.fail(
                    f"not done after 60 s: each client should receive {clients[0].expected} "
                    f"messages; the fewest received {counts[0]}, the most {counts[-1]}; "
                    f"errors {[e for c in clients for e in c.errors][:10]}\n{cluster.tail()}"
                )
            elapsed = time.monotonic() - started
            # Every worker reports after the last message arrived: any duplicate still on
            # its way has arrived too, and the forwarded count is up to date.
            moment = time.time()
            after = await eventually(lambda: cluster.reported_since(moment), 5, message="reports")
        finally:
            await asyncio.wait_for(asyncio.gather(*(c.close() for c in clients)), 20)

    forwarded = after["forwarded"] - before["forwarded"]
    requests = sum(c.polls + c.posts for c in clients)
    report = (
        f"{CLIENTS} polling clients x {MESSAGES} messages to one room over {WORKERS} workers "
        f"(sessions per worker {dict(sorted(spread.items()))}): every message delivered to "
        f"{CLIENTS - 1} clients in {elapsed:.1f} s; {forwarded} of the ~{requests} requests "
        f"were forwarded to their owner ({after['forwarded']} in all)"
    )
    print("\n" + report)
    log.warning(report)
    errors = [error for c in clients for error in c.errors]
    assert errors == [], f"{len(errors)} errors, first ones: {errors[:10]}\n{report}"
    for client in clients:
        expected_last = [MESSAGES - 1] * CLIENTS
        expected_last[client.index] = -1  # emit_to_room leaves the sender out
        assert client.last == expected_last, f"client {client.index}\n{report}"
        assert client.said == (CLIENTS - 1) * MESSAGES, f"client {client.index}\n{report}"
    # A shared pool reuses connections across sessions: some requests had to be forwarded.
    assert forwarded > 0, report
    assert_clean_log(cluster)


# -- processes killed on purpose ------------------------------------------------------------------


def test_a_killed_worker_is_replaced_its_clients_reconnect_and_the_others_lose_nothing(
    cluster: ClusterProcess,
    browser_context: Callable[..., BrowserContext],
    node_ready: None,
) -> None:
    room = cluster.url + "/?room=kitchen"
    # The victim is the worker of a socket.io-client 4.x user (polling, then websocket)...
    nora = NodeChatter(cluster.url, reconnection=True)
    pages: list[ChatPage] = []
    loop = LoopThread()
    http: aiohttp.ClientSession | None = None
    try:
        victim = worker_of(nora.sid)
        nora.step("upgrade")
        assert nora.call("join", "kitchen") == [True]
        assert nora.call("nickname", "nora") == [True]
        # ...and of a 0.9.16 xhr-polling user in Chromium (pages are opened until one of them
        # is on the victim; the others stay, on other workers).
        for _ in range(12):
            pages.append(ChatPage(browser_context(), room + "&transport=xhr-polling"))
            if worker_of(pages[-1].sid) == victim:
                break
        paul = pages[-1]
        assert worker_of(paul.sid) == victim, "no page landed on the victim"
        bystanders = pages[:-1]
        paul.pick_nickname("paul")

        # Streams on the other workers: a sender, a receiver beside it, one on the third.
        first, second = [w for w in range(WORKERS) if w != victim]

        async def place() -> tuple[aiohttp.ClientSession, dict[int, list[SwarmClient]]]:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True), timeout=HTTP_TIMEOUT
            )
            return session, await placed_clients(session, cluster, "kitchen", {first: 2, second: 1})

        http, placed = loop.run(place())
        sender, near = placed[first]
        far = placed[second][0]
        stream = Stream(sender)
        loop.spawn(stream.run())
        loop.run(near.wait_said(sender.index, 5))

        old_pid = cluster.worker_pids()[victim]
        sent_before = stream.sent
        orphan_sid = paul.sid
        os.kill(old_pid, signal.SIGKILL)
        killed = time.monotonic()

        # A request for one of its sessions on a new connection, meanwhile, is not handed to
        # another worker to forward into the void: the connection is closed (or, if the
        # replacement already serves, it says the session is unknown). Either way the client
        # knows at once, and reconnects.
        async def orphan_request() -> str:
            conn = await PinnedConnection.open("127.0.0.1", cluster.port)
            try:
                target = f"/socket.io/1/xhr-polling/{orphan_sid}?t=9"
                return (await conn.request("GET", target, timeout=5)).text
            except (asyncio.IncompleteReadError, ConnectionError):
                return "closed"
            finally:
                conn.close()

        assert loop.run(orphan_request()) in ("closed", "7:::1+0")

        # Replaced: a new process for that index runs...
        def replacement() -> int | None:
            for pid, command in cluster.children().items():
                if f" --index {victim} " in command and pid != old_pid and alive(pid):
                    return pid
            return None

        new_pid = wait_for(replacement, 5, message=f"worker {victim}'s replacement")
        replaced_in = time.monotonic() - killed
        assert not alive(old_pid)

        # ...and serves (it joined the bus and reported: the stats file says it is alive).
        def serving() -> bool:
            worker = cluster.stats()["workers"][victim]
            return bool(worker["pid"] == new_pid and worker["alive"])

        wait_for(serving, 10, message=f"worker {victim} serving again")
        serving_in = time.monotonic() - killed

        # Its clients reconnect by themselves, to a live worker, and chat again.
        nora.step("close", 10)
        nora.step("reconnect", 15)
        nora_sid = nora.step("connect", 10)["id"]
        assert nora.call("join", "kitchen") == [True]
        assert nora.call("nickname", "nora") == [True]
        expect_line = paul.page.locator("#messages .system").filter(has_text="Reconnected")
        expect(expect_line).to_have_count(1, timeout=15_000)
        paul.expect_connected()
        assert paul.sid != "" and worker_of(paul.sid) in range(WORKERS)
        assert nora.call("user message", "nora is back") == [True]
        paul.expect_message("nora", "nora is back")
        paul.say("paul is back")
        nora.event("msg_to_room", "paul", "paul is back")
        reconnected_in = time.monotonic() - killed

        # The others lost nothing: the stream went on, every message in order, none missed.
        sent = loop.run(stream.stop_and_drain([near, far]))
        assert sent > sent_before + 10
        for receiver in (near, far):
            assert receiver.errors == [], receiver.errors
            assert receiver.last[sender.index] == sent - 1
        for page in bystanders:
            assert not [line for line in page.system_lines() if "Disconnected" in line]
        print(
            f"\nworker {victim} (pid {old_pid}) killed: pid {new_pid} running in "
            f"{replaced_in:.2f} s, serving in {serving_in:.2f} s; its 4.x and 0.9 clients "
            "chatting again after "
            f"{reconnected_in:.1f} s (nora {nora.sid} -> {nora_sid}); {sent} stream "
            "messages, none lost"
        )
        assert replaced_in < 2, f"the replacement took {replaced_in:.2f} s"
        # A new Python process takes its time to import and join the bus: well under 2 s on
        # an idle machine, about 2.5 s when other test sessions load both cores.
        assert serving_in < 5, f"the replacement served only after {serving_in:.2f} s"
    finally:
        nora.kill()
        if http is not None:
            loop.run(http.close())
        loop.close()


async def test_a_killed_broker_is_restarted_and_broadcasts_flow_again(
    cluster: ClusterProcess,
) -> None:
    broker = cluster.stats()["broker"]
    old_pid = broker["pid"]
    assert "tornio.bus.broker" in cluster.children()[old_pid]
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=HTTP_TIMEOUT) as http:
        placed = await placed_clients(http, cluster, "hall", {0: 2, 1: 1, 2: 1})
        sender, near = placed[0]
        far = [placed[1][0], placed[2][0]]  # only the bus brings them the stream
        stream = Stream(sender)
        streaming = asyncio.get_running_loop().create_task(stream.run())
        try:
            for receiver in (near, *far):
                await receiver.wait_said(sender.index, 5)
            os.kill(old_pid, signal.SIGKILL)
            killed = time.monotonic()
            sent_at_kill = stream.sent
            # A message said after the kill reaches the other workers: the broker is back.
            for receiver in far:
                await receiver.wait_said(sender.index, sent_at_kill)
            flowing_in = time.monotonic() - killed

            def new_broker() -> dict[str, Any] | None:
                broker: dict[str, Any] = cluster.stats()["broker"]
                return broker if broker["pid"] not in (None, old_pid) else None

            new = await eventually(new_broker, 5, message="the new broker in the stats")
            assert alive(new["pid"]) and new["restarts"] == 1
            assert not alive(old_pid)
            # Cluster queries work again too.
            assert await far[0].event("/chat", "nickname", "hall-monitor") == [True]
            assert await far[1].event("/chat", "nickname", "hall-monitor") == [False]
            sent = await stream.stop_and_drain([near, *far])
        finally:
            stream.stopped.set()
            await asyncio.gather(streaming, return_exceptions=True)
            await asyncio.gather(*(c.close() for clients in placed.values() for c in clients))
    # The sender's own worker delivers without the bus: nothing lost there. The others lose
    # at most what was said while there was no broker: one gap each, never a duplicate.
    assert near.errors == []
    for receiver in far:
        assert all(e.startswith("gap") for e in receiver.errors), receiver.errors
        assert len(receiver.errors) <= 1, receiver.errors
    print(
        f"\nbroker (pid {old_pid}) killed: broadcasts between workers flowing again after "
        f"{flowing_in:.2f} s (new broker pid {new['pid']}); {sent} stream messages, lost "
        f"on the way to other workers: {[e for r in far for e in r.errors]}"
    )
    assert flowing_in < 2, f"broadcasts flowed again only after {flowing_in:.2f} s"
    assert_clean_log(cluster)


def test_sigterm_drains_every_process_and_tells_clients_to_reconnect(
    cluster: ClusterProcess, node_ready: None
) -> None:
    loop = LoopThread()
    nora: NodeChatter | None = None
    conns: list[PinnedConnection] = []
    try:
        # A 0.9 xhr-polling session and an Engine.IO polling session, each with a GET held
        # on a connection its worker serves already (a plain keep-alive client).
        async def held_polls() -> tuple[concurrent.futures.Future[Any], ...]:
            legacy_conn = await PinnedConnection.open("127.0.0.1", cluster.port)
            engine_conn = await PinnedConnection.open("127.0.0.1", cluster.port)
            conns.extend([legacy_conn, engine_conn])
            sid = (await legacy_conn.request("GET", "/socket.io/1/?t=0")).text.split(":")[0]
            legacy_poll = f"/socket.io/1/xhr-polling/{sid}?t=1"
            assert (await legacy_conn.request("GET", legacy_poll)).text == "1::"
            opened = await engine_conn.request("GET", "/socket.io/?EIO=4&transport=polling")
            engine_sid = re.search(r'"sid":"([^"]+)"', opened.text)
            assert engine_sid is not None, opened
            engine_poll = f"/socket.io/?EIO=4&transport=polling&sid={engine_sid.group(1)}"
            return (
                loop.spawn(legacy_conn.request("GET", legacy_poll, timeout=30)),
                loop.spawn(engine_conn.request("GET", engine_poll, timeout=30)),
            )

        legacy_held, engine_held = loop.run(held_polls())
        websocket = loop.run(LegacyClient(cluster.url, "websocket").connect())
        nora = NodeChatter(cluster.url, reconnection=True)  # polling, then websocket
        nora.step("upgrade")
        assert nora.call("join", "kitchen") == [True]
        processes = [cluster.pid, *cluster.children()]
        assert len(processes) == 1 + WORKERS + 1  # the supervisor, the workers, the broker

        supervisor = cluster.process
        assert supervisor is not None
        started = time.monotonic()
        supervisor.send_signal(signal.SIGTERM)
        # Clients are told to reconnect: a held poll is answered (not with a disconnect)...
        legacy_answer = legacy_held.result(cluster.drain_timeout)
        assert legacy_answer.status == 200 and "0::" not in legacy_answer.text, legacy_answer
        engine_answer = engine_held.result(cluster.drain_timeout)
        assert engine_answer.status == 200, engine_answer
        assert "41" not in engine_answer.text.split("\x1e"), engine_answer
        # ...a 0.9 websocket is closed without "0::" (the client reconnects on its own)...
        received = loop.run(drain_until_closed(websocket), cluster.drain_timeout)
        assert received[-1] == CLOSED and "0::" not in received, received
        # ...and a 4.x client loses its transport and goes on reconnecting.
        nora.step("disconnect", cluster.drain_timeout, reason="transport close")
        nora.step("reconnect_attempt", 5)
        # Every process has exited, within the drain timeout.
        code = supervisor.wait(cluster.drain_timeout)
        wait_for(
            lambda: not any(alive(pid) for pid in processes),
            max(0.0, started + cluster.drain_timeout - time.monotonic()),
            message=f"every process gone: {[p for p in processes if alive(p)]} are not",
        )
        took = time.monotonic() - started
        print(
            f"\nSIGTERM: {len(processes)} processes gone in {took:.2f} s; held polls answered "
            f"{legacy_answer.text!r} (0.9) and {engine_answer.text!r} (Engine.IO)"
        )
        assert code == 0
        assert took < cluster.drain_timeout
        assert_clean_log(cluster)
    finally:
        if nora is not None:
            nora.kill()
        for conn in conns:
            conn.close()
        loop.close()


# -- garbage on the bus ---------------------------------------------------------------------------


async def test_garbage_and_oversized_bus_frames_are_dropped_and_the_workers_carry_on(
    cluster: ClusterProcess,
) -> None:
    stats = cluster.stats()
    pids = cluster.worker_pids()
    tags = [w["tag"] for w in stats["workers"]]
    room_topic = messages.room_topic("/chat", "yard")
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=HTTP_TIMEOUT) as http:
        clients = {
            w: found[0] for w, found in (await placed_clients(http, cluster, "yard")).items()
        }
        try:
            # A raw publisher on the broker's pub address. An XPUB (a PUB that shows what it
            # is subscribed to) is used so that nothing is sent before the workers'
            # subscriptions (the room's, each worker's own) have reached it.
            context = zmq.Context()
            publisher = context.socket(zmq.XPUB)
            publisher.setsockopt(zmq.LINGER, 0)
            publisher.setsockopt(zmq.SNDHWM, 0)
            publisher.connect(stats["bus"]["pub"])
            wanted = {room_topic, messages.CONTROL_TOPIC, *map(messages.direct_topic, tags)}
            seen: set[bytes] = set()
            deadline = time.monotonic() + 5
            while not wanted <= seen:
                assert time.monotonic() < deadline, f"subscriptions seen: {seen}"
                if publisher.poll(100):
                    seen.add(publisher.recv()[1:])

            rng = random.Random(5)
            control, direct = messages.CONTROL_TOPIC, [messages.direct_topic(t) for t in tags]

            def intruder(kind: int, data: dict[str, Any], **envelope: Any) -> bytes:
                wire = {"v": 1, "uid": "intruder", "type": kind, "nsp": "/chat", "data": data}
                return bytes(msgpack.packb({**wire, **envelope}))

            # A message that would be delivered (were its frames right): the room would get
            # c<first>.0 twice, a duplicate the clients would notice.
            said = {
                "event": "said",
                "args": [f"c{clients[0].index}.0"],
                "rooms": ["yard"],
                "skip": [],
            }
            ok = intruder(3, said)
            garbage: list[list[bytes]] = [
                [room_topic],  # one frame
                [room_topic, ok, b"a third frame"],
                [control, ok],  # the wrong topic for it
                [room_topic, ok + b"trailing"],
                [room_topic, ok[:-5]],  # truncated
                [room_topic, ok.replace(b"\xa1v\x01", b"\xa1v\x63")],  # version 99
                [room_topic, intruder(3, {**said, "args": None})],
                [control, b"\xc1 not msgpack"],
                [control, msgpack.packb([1, 2, 3])],
                [control, msgpack.packb({1: 2})],
                [control, b"\x91" * 100_000 + b"\x90"],  # nested too deep
                [control, msgpack.packb({"v": 1, "data": msgpack.ExtType(5, b"x")})],
                [room_topic, b"", b""],
                *([topic, rng.randbytes(rng.randrange(1, 300))] for topic in direct * 50),
                # Well-formed messages whose contents are garbage: requests to each worker
                # (a forwarded HTTP request, a cluster query).
                *(
                    [topic, intruder(20, {"method": 7}, rid=1, dst=tag)]
                    for topic, tag in zip(direct, tags, strict=True)
                ),
                *([control, intruder(7, {"room": ["not", "a", "name"]}, rid=2)] for _ in range(3)),
                # Last: a frame over the broker's max_message makes it drop this publisher's
                # connection (what came before it was forwarded).
                [room_topic, intruder(3, {**said, "pad": "x" * (2 << 20)})],  # 2 MiB: too big
                [room_topic, b"\x00" * (4 << 20)],  # 4 MiB of nothing
            ]
            for frames in garbage:
                publisher.send_multipart(frames)
            publisher.close(linger=5000)  # what is queued still goes out (5 s at most)
            context.term()

            # The workers carry on: a room emit from each worker reaches the other two...
            for client in clients.values():
                await client.post([say_packet(client.index, 0)])
            senders = [c.index for c in clients.values()]
            for client in clients.values():
                for other in senders:
                    if other != client.index:
                        await client.wait_said(other, 0)
                assert client.errors == []
            # ...and a cluster query is answered by every worker, at once: nothing in the
            # garbage made a worker wait for an answer from a node that is not there.
            asked = time.monotonic()
            assert await clients[2].event("/chat", "nickname", "first") == [True]
            assert await clients[0].event("/chat", "nickname", "first") == [False]
            assert time.monotonic() - asked < 2, "a cluster query waited for a phantom node"
        finally:
            await asyncio.gather(*(c.close() for c in clients.values()))
    assert cluster.worker_pids() == pids, "a worker died"
    assert all(w["restarts"] == 0 for w in cluster.stats()["workers"])
    text = cluster.log_text()
    assert "dropped a malformed bus message" in text, cluster.tail()
    assert "dropped a malformed forwarded request" in text, cluster.tail()
    assert_clean_log(cluster)
