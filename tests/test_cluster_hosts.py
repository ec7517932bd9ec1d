"""A tornio cluster across "hosts": a ``tornio broker`` process and two ``tornio serve``
instances on different loopback ports, both ``--bus`` to that broker, behind a plain
round-robin TCP balancer written here (no stickiness: each new connection goes to the next
instance). Clients are socket.io-client 0.9 protocol-level xhr-polling clients
(tests/support/legacy_client.py) and socket.io-client 4.x polling clients under Node
(tests/js/hosts_client.mjs), which make one TCP connection per request: their requests keep
landing on the instance that does not own their session and must be forwarded. And the real
socket.io-client 0.9.16 bundle in headless Chromium, on xhr-polling, loads the chat example's
page through the balancer too (the browser keeps its connections alive: each connection,
not each request, goes to the next instance).

The first tests share one cluster with CURVE on (``tornio keys``, ``tornio broker
--curve-dir``, ``tornio serve --curve-dir``, an Emitter with the emitter key); the last one
runs its own cluster without CURVE (the loopback default) and kills an instance.

Waits are bounded and event-driven: a delivery is awaited with a timeout; where only time
tells (a node leaving a node table), a condition is polled with a deadline and the time it
took is asserted.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from playwright.sync_api import BrowserContext, expect

from tests.support.chat_users import ChatPage
from tests.support.loop_thread import LoopThread
from tests.support.multihost import (
    ROOT,
    Balancer,
    BrokerProcess,
    LegacyChatter,
    NodeClients,
    People,
    ServeProcess,
    balancing,
    host_of,
    spread_modern,
)
from tests.support.waiting import eventually, wait_for
from tornio.bus import messages, security
from tornio.bus.broker import broker_addresses
from tornio.bus.ids import owner_of
from tornio.bus.messages import MessageType

pytestmark = pytest.mark.timeout(80)

EMITTER_SCRIPT = """
import json, sys
from tornio import Emitter

address, keys = sys.argv[1], sys.argv[2] or None
with Emitter(address, curve=keys) as emitter:
    for line in sys.stdin:
        command = json.loads(line)
        target = emitter.of(command.get("nsp", "/chat"))
        if command.get("to"):
            target = target.to(*command["to"])
        if command.get("sids"):
            target = target.to_sid(*command["sids"])
        if command.get("except"):
            target = target.except_(*command["except"])
        try:
            op = command["op"]
            if op == "emit":
                target.emit(command["event"], *command.get("args", []))
            elif op == "join":
                target.sockets_join(*command["rooms"])
            elif op == "leave":
                target.sockets_leave(*command["rooms"])
            elif op == "disconnect":
                target.disconnect_sockets()
            elif op == "ready":
                emitter.wait_ready(command.get("timeout", 5))
            emitter.flush(5)
            print(json.dumps({"ok": True}), flush=True)
        except Exception as exc:
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
"""


class Cluster:
    def __init__(self, broker: BrokerProcess, a: ServeProcess, b: ServeProcess) -> None:
        self.broker, self.a, self.b = broker, a, b

    @property
    def hosts(self) -> set[str]:
        return {self.a.host_tag, self.b.host_tag}

    @property
    def node_ids(self) -> set[str]:
        return {*self.a.node_ids, *self.b.node_ids}


def start_cluster(tmp: Path, curve_dir: Path | None, workers: tuple[int, int]) -> Cluster:
    broker = BrokerProcess(tmp / "broker.log", curve_dir)
    a = ServeProcess("a", tmp, broker.address, workers[0], curve_dir)
    b = ServeProcess("b", tmp, broker.address, workers[1], curve_dir)
    cluster = Cluster(broker, a, b)
    try:
        broker.start()
        a.start()
        b.start()
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    for process in (cluster.a, cluster.b, cluster.broker):
        process.stop()


@pytest.fixture(scope="module")
def secure_cluster(
    tmp_path_factory: pytest.TempPathFactory, curve_keys: Path
) -> Iterator[Cluster]:
    cluster = start_cluster(tmp_path_factory.mktemp("secure"), curve_keys, (2, 2))
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture
async def balancer(secure_cluster: Cluster) -> AsyncIterator[Balancer]:
    async with balancing([secure_cluster.a.port, secure_cluster.b.port]) as lb:
        yield lb


# -- the chat scenario -------------------------------------------------------------------------


async def test_chat_through_a_round_robin_balancer(
    secure_cluster: Cluster, balancer: Balancer, node_clients: NodeClients, people: People
) -> None:
    cluster = secure_cluster
    alice, bob = await people.spread_legacy(balancer.url, cluster.hosts, ["alice", "bob"])
    modern = await spread_modern(node_clients, balancer.url + "/chat", cluster.hosts, "v4-")
    carol, dave = sorted(modern)
    sids = {"alice": alice.sid, "bob": bob.sid, carol: modern[carol], dave: modern[dave]}
    assert {host_of(alice.sid), host_of(bob.sid)} == cluster.hosts
    assert {host_of(modern[carol]), host_of(modern[dave])} == cluster.hosts

    # Every node knows every other one (and never an emitter).
    for chatter in (alice, bob):
        me, _sid = await chatter.call("whoami")
        assert set((await chatter.call("nodes"))[0]) == cluster.node_ids - {me}

    for chatter in (alice, bob):
        assert await chatter.call("join", "lobby") == [True]
    for name in (carol, dave):
        assert await node_clients.call(name, "join", "lobby") == [True]

    # Nicknames are unique across the cluster: bob cannot take alice's, who is elsewhere.
    assert await alice.call("nickname", "alice") == [True]
    assert await bob.call("nickname", "alice") == [False]
    assert await bob.call("nickname", "bob") == [True]
    assert await node_clients.call(carol, "nickname", "bob") == [False]
    assert await node_clients.call(carol, "nickname", "carol") == [True]
    assert await node_clients.call(dave, "nickname", "dave") == [True]

    # A room emit from a 0.9 client reaches members on both instances, of both protocols.
    assert await alice.call("user_message", "hello from 0.9") == [True]
    assert await bob.next_event("msg_to_room") == ["alice", "hello from 0.9"]
    for name in (carol, dave):
        assert await node_clients.next_event(name, "msg_to_room") == ["alice", "hello from 0.9"]
    # ... and one from a v4 client too.
    assert await node_clients.call(dave, "user_message", "hello from v4") == [True]
    for chatter in (alice, bob):
        assert await chatter.next_event("msg_to_room") == ["dave", "hello from v4"]
    assert await node_clients.next_event(carol, "msg_to_room") == ["dave", "hello from v4"]

    # Who is in the room, asked of the cluster from each protocol.
    who = (await bob.call("who", "lobby"))[0]
    assert who["nicknames"] == ["alice", "bob", "carol", "dave"]
    assert who["sids"] == sorted(sids.values())
    assert (await node_clients.call(carol, "who", "lobby"))[0]["nicknames"] == who["nicknames"]

    # The balancer used both instances, and each forwarded requests to the other.
    assert balancer.connections[cluster.a.port] > 3 and balancer.connections[cluster.b.port] > 3

    async def both_forwarded() -> bool:
        return cluster.a.stats()["forwarded"] > 0 and cluster.b.stats()["forwarded"] > 0

    await eventually(
        both_forwarded, 5, message="both instances to report forwarded requests", interval=0.05
    )


EXAMPLE_VENDOR = [
    ROOT / "examples" / "chat" / "node_modules" / "socket.io-client" / "dist" / "socket.io.js",
    ROOT / "examples" / "chat" / "node_modules" / "jquery" / "dist" / "jquery.min.js",
]


@pytest.fixture
def threaded_balancer(secure_cluster: Cluster) -> Iterator[Balancer]:
    """The round-robin balancer in front of the secure cluster, on an event loop of its own
    thread: for a sync test (Playwright's sync API owns the main thread)."""
    missing = [str(path) for path in EXAMPLE_VENDOR if not path.is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run scripts/setup (npm install there)")
    with LoopThread() as loop:
        lb = loop.run(Balancer([secure_cluster.a.port, secure_cluster.b.port]).start())
        try:
            yield lb
        finally:
            loop.run(lb.stop(), timeout=10)


def test_browsers_on_xhr_polling_chat_through_the_balancer(
    secure_cluster: Cluster,
    threaded_balancer: Balancer,
    browser_context: Callable[..., BrowserContext],
) -> None:
    """socket.io-client 0.9.16 in Chromium, forced onto xhr-polling: the page, the bundle and
    every Socket.IO request go through the balancer. pia and quinn are on different
    instances; rosa's room emit reaches both of them."""
    cluster, lb = secure_cluster, threaded_balancer
    ports = (cluster.a.port, cluster.b.port)
    connections_before = {port: lb.connections[port] for port in ports}
    forwarded_before = cluster.a.stats()["forwarded"] + cluster.b.stats()["forwarded"]
    room = lb.url + "/?room=attic&transport=xhr-polling"

    def owner_host(page: ChatPage) -> str:
        owner = owner_of(page.sid)
        assert owner is not None, page.sid
        return owner[:4]

    pia = ChatPage(browser_context(), room)
    # quinn's page loads while the balancer steers new connections to the other instance, so
    # that its session is owned there; afterwards round-robin resumes for everyone.
    other = cluster.b if owner_host(pia) == cluster.a.host_tag else cluster.a
    lb.steer = other.port
    try:
        quinn = ChatPage(browser_context(), room)
    finally:
        lb.steer = None
    rosa = ChatPage(browser_context(), room)  # whichever instance
    users = {"pia": pia, "quinn": quinn, "rosa": rosa}
    assert {owner_host(pia), owner_host(quinn)} == cluster.hosts
    assert {page.transport for page in users.values()} == {"xhr-polling"}

    pia.pick_nickname("pia")
    # Taken on the other instance: the cluster says so.
    quinn.page.fill("#nickname-input", "pia")
    quinn.page.press("#nickname-input", "Enter")
    expect(quinn.page.locator("#nickname-error")).to_be_visible()
    quinn.pick_nickname("quinn")
    rosa.pick_nickname("rosa")
    # Announcements go to the whole namespace, on both instances.
    for page in users.values():
        for name in users:
            line = page.page.locator("#messages .announcement").filter(has_text=f"{name} connected")
            expect(line).to_have_count(1)

    said = {name: f"{name} on {owner_host(page)}" for name, page in users.items()}
    for name, page in users.items():
        page.say(said[name])
        for other, other_page in users.items():
            if other != name:
                other_page.expect_message(name, said[name])
    for page in users.values():
        assert sorted(page.messages()) == sorted(said.items())
        assert page.unknown_session_answers() == []
        assert page.errors == []

    # Both instances served connections of this test, and requests that reached the
    # instance not owning their session were forwarded to the owner.
    assert all(lb.connections[port] > connections_before[port] for port in ports), lb.connections

    def forwarded() -> int:
        return cluster.a.stats()["forwarded"] + cluster.b.stats()["forwarded"] - forwarded_before

    wait_for(lambda: forwarded() > 0, 5, message="a browser request to be forwarded")


# -- the Emitter -------------------------------------------------------------------------------


class EmitterProcess:
    """A separate Python process with an Emitter, driven line by line."""

    def __init__(self, script: Path, address: str, keys: Path | None) -> None:
        self.args = [sys.executable, str(script), address, str(keys) if keys else ""]
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> EmitterProcess:
        self.process = await asyncio.create_subprocess_exec(
            *self.args,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return self

    async def run(self, **command: Any) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), 15)
        assert line, "the emitter process exited"
        return dict(json.loads(line))

    async def ok(self, **command: Any) -> None:
        answer = await self.run(**command)
        assert answer == {"ok": True}, answer

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()


def relayed(*instances: ServeProcess) -> int:
    """Websocket upgrades the instances relayed, as their workers last reported."""
    return sum(int(instance.stats().get("relayed", 0)) for instance in instances)


async def test_modern_clients_through_the_balancer_all_end_on_websocket_missing_nothing(
    secure_cluster: Cluster, balancer: Balancer, node_clients: NodeClients
) -> None:
    """socket.io-client 4.x in its default mode (polling, then the upgrade) through plain
    round robin: the upgrade lands on either host, and one that lands on the host that does
    not own the session is relayed to the owner. Every client ends on websocket, and every
    room message reaches every other member once, in order."""
    cluster, lb = secure_cluster, balancer
    before = relayed(cluster.a, cluster.b)
    names = [f"ws{i}" for i in range(100)]
    sids = {}
    for number, name in enumerate(names):
        # Each client's session lands on the two hosts in turn; every other client's upgrade
        # is steered to the host that does not own it (plain round robin keeps a parity that
        # could land every upgrade at home), the rest go round robin.
        home, away = (cluster.a, cluster.b) if number % 2 else (cluster.b, cluster.a)
        lb.steer, lb.upgrades_to = home.port, away.port if number % 4 < 2 else None
        try:
            sids[name] = await node_clients.open(name, lb.url + "/chat",
                                                 ["polling", "websocket"])
            assert await node_clients.next_event(name, "$upgrade", timeout=20) == ["websocket"]
        finally:
            lb.steer = lb.upgrades_to = None
    assert {host_of(sid) for sid in sids.values()} == cluster.hosts
    for name in names:
        assert await node_clients.call(name, "join", "relayed") == [True]
    speaker, *listeners = names
    said = [f"message {number}" for number in range(15)]
    for text in said:
        await node_clients.call(speaker, "say", text)
    for name in listeners:
        got = [(await node_clients.next_event(name, "said"))[0] for _ in said]
        assert got == said, name
    # Exactly once: a duplicate of the last message would come before this one.
    await node_clients.call(speaker, "say", "the end")
    for name in listeners:
        assert (await node_clients.next_event(name, "said"))[0] == "the end", name
    # The steered upgrades (and whichever round robin sent astray) were relayed.
    await asyncio.to_thread(
        wait_for, lambda: relayed(cluster.a, cluster.b) >= before + 50, 10,
        message="relayed upgrades reported",
    )


def test_a_0916_page_on_websocket_through_the_balancer_is_relayed_to_its_owner(
    secure_cluster: Cluster,
    threaded_balancer: Balancer,
    browser_context: Callable[..., BrowserContext],
) -> None:
    """socket.io-client 0.9.16 in Chromium on websocket: the page and its handshake reach one
    instance, its websocket the other (the balancer steers them so), which relays it to the
    owner. Two such pages, owned by different instances, chat."""
    cluster, lb = secure_cluster, threaded_balancer
    before = relayed(cluster.a, cluster.b)
    room = lb.url + "/?room=relay&transport=websocket"
    pages = []
    for home, away in ((cluster.a, cluster.b), (cluster.b, cluster.a)):
        lb.steer, lb.upgrades_to = home.port, away.port
        try:
            pages.append(ChatPage(browser_context(), room))
        finally:
            lb.steer = lb.upgrades_to = None
        owner = owner_of(pages[-1].sid)
        assert owner is not None and owner[:4] == home.host_tag
        assert pages[-1].transport == "websocket"
    sam, tess = pages
    sam.pick_nickname("sam")
    tess.pick_nickname("tess")
    sam.say("hello over a relay")
    tess.expect_message("sam", "hello over a relay")
    tess.say("and back")
    sam.expect_message("tess", "and back")
    for page in pages:
        assert page.errors == []
    wait_for(lambda: relayed(cluster.a, cluster.b) >= before + 2, 10,
             message="both websockets relayed")


@pytest.fixture
def emitter_script(tmp_path: Path) -> Path:
    path = tmp_path / "emit.py"
    path.write_text(EMITTER_SCRIPT)
    return path


async def test_emitter_in_another_process_reaches_rooms_across_instances_and_sids(
    secure_cluster: Cluster,
    balancer: Balancer,
    node_clients: NodeClients,
    people: People,
    emitter_script: Path,
    curve_keys: Path,
) -> None:
    cluster = secure_cluster
    erin, frank, gina = await people.spread_legacy(
        balancer.url, cluster.hosts, ["erin", "frank", "gina"]
    )
    modern = await spread_modern(node_clients, balancer.url + "/chat", cluster.hosts, "em-")
    hank, ivy = sorted(modern)
    for chatter in (erin, frank):
        assert await chatter.call("join", "news") == [True]
    assert await gina.call("join", "elsewhere") == [True]
    for name in (hank, ivy):
        assert await node_clients.call(name, "join", "news") == [True]
    assert await frank.call("join", "muted") == [True]
    news = {erin.sid, frank.sid, *modern.values()}
    assert {host_of(sid) for sid in news} == cluster.hosts

    emitter = await EmitterProcess(emitter_script, cluster.broker.address, curve_keys).start()
    try:
        await emitter.ok(op="ready")

        # A room whose members are spread over both instances.
        await emitter.ok(op="emit", to=["news"], event="bulletin", args=["to the room", 1])
        for chatter in (erin, frank):
            assert await chatter.next_event("bulletin") == ["to the room", 1]
        for name in (hank, ivy):
            assert await node_clients.next_event(name, "bulletin") == ["to the room", 1]

        # One sid on either instance.
        await emitter.ok(op="emit", sids=[erin.sid], event="private", args=["for erin"])
        await emitter.ok(op="emit", sids=[frank.sid], event="private", args=["for frank"])
        await emitter.ok(op="emit", sids=[modern[ivy]], event="private", args=["for ivy"])
        await emitter.ok(op="emit", sids=[modern[hank]], event="private", args=["for hank"])
        assert await erin.next_event("private") == ["for erin"]
        assert await frank.next_event("private") == ["for frank"]
        assert await node_clients.next_event(ivy, "private") == ["for ivy"]
        assert await node_clients.next_event(hank, "private") == ["for hank"]

        # A room minus another room; then the whole namespace. Events arrive in order, so
        # whoever gets "everyone" without "bulletin2" first did not get bulletin2.
        await emitter.ok(op="emit", to=["news"], event="bulletin2", args=[])
        await emitter.ok(op="emit", to=["news"], event="quiet", args=[], **{"except": ["muted"]})
        await emitter.ok(op="emit", event="everyone", args=["all of /chat"])
        for chatter in (erin, frank, gina):
            seen: list[str] = []
            while not seen or seen[-1] != "everyone":
                event, _args = await asyncio.wait_for(chatter.events.get(), 10)
                seen.append(event)
            expected = {
                erin: ["bulletin2", "quiet", "everyone"],
                frank: ["bulletin2", "everyone"],  # in "muted"
                gina: ["everyone"],  # not in "news"
            }[chatter]
            assert [e for e in seen if e in ("bulletin2", "quiet", "everyone")] == expected

        # sockets_join / sockets_leave on a sid of the other instance, seen by a cluster query.
        async def news_sids() -> set[str]:
            return set((await erin.call("who", "news"))[0]["sids"])

        await emitter.ok(op="join", sids=[gina.sid], rooms=["news"])
        await eventually(
            lambda: _contains(news_sids(), gina.sid), 5, message="gina to join news", interval=0.05
        )
        await emitter.ok(op="leave", sids=[gina.sid], rooms=["news"])
        await eventually(
            lambda: _lacks(news_sids(), gina.sid), 5, message="gina to leave news", interval=0.05
        )
        await emitter.ok(op="join", to=["elsewhere"], rooms=["news"])  # a room joins a room
        await eventually(
            lambda: _contains(news_sids(), gina.sid), 5, message="elsewhere to join news",
            interval=0.05,
        )

        # The emitter never became a node.
        me, _sid = await erin.call("whoami")
        assert set((await erin.call("nodes"))[0]) == cluster.node_ids - {me}

        # disconnect_sockets: a 0.9 socket and a v4 socket, one on each instance at least.
        await emitter.ok(op="disconnect", sids=[frank.sid, modern[hank]])
        assert await frank.next_event("$disconnect") == []
        assert await node_clients.next_event(hank, "$disconnect") == ["io server disconnect"]
        assert erin.events.empty()

        # Reserved names and values msgpack cannot carry are refused in the emitter process.
        refused = await emitter.run(op="emit", to=["news"], event="disconnect", args=[])
        assert refused["ok"] is False and "reserved" in refused["error"]
    finally:
        await emitter.stop()


async def _contains(values: Any, item: str) -> bool:
    return item in await values


async def _lacks(values: Any, item: str) -> bool:
    return item not in await values


# -- strangers on a CURVE bus --------------------------------------------------------------------


async def test_a_stranger_cannot_publish_or_listen_on_the_secure_bus(
    secure_cluster: Cluster,
    balancer: Balancer,
    people: People,
    curve_keys: Path,
    emitter_script: Path,
) -> None:
    """Against the real ``tornio broker --curve-dir``: peers with no key or an unknown key
    are refused at the handshake (proven by the socket monitor), read nothing and inject
    nothing; an Emitter with an unknown key is never ready; the right key works."""
    cluster = secure_cluster
    (jack,) = await people.spread_legacy(balancer.url, cluster.hosts, ["jack"])
    assert await jack.call("join", "vault") == [True]
    pub_address, sub_address = broker_addresses(cluster.broker.address)
    server_key = security.load_client(curve_keys, "node").server_key
    stranger = security.CurveClient.from_secret(zmq.curve_keypair()[1], server_key)
    intruder = messages.encode(
        messages.make_message(
            MessageType.EMIT,
            "/chat",
            {"event": "intruder", "args": [], "rooms": ["vault"], "skip": [], "to": None},
            uid="intruder",
        )
    )
    context = zmq.Context()
    monitors: list[zmq.Socket[bytes]] = []
    try:

        def peer(kind: int, address: str, curve: security.CurveClient | None) -> Any:
            sock = context.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            if curve is not None:
                curve.apply(sock)
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            monitor = sock.get_monitor_socket()
            monitors.append(monitor)
            sock.connect(address)
            return sock, monitor

        plain_pub, plain_pub_events = peer(zmq.PUB, pub_address, None)
        plain_sub, plain_sub_events = peer(zmq.SUB, sub_address, None)
        rogue_pub, rogue_pub_events = peer(zmq.PUB, pub_address, stranger)
        rogue_sub, rogue_sub_events = peer(zmq.SUB, sub_address, stranger)

        def handshake_outcome(monitor: zmq.Socket[bytes]) -> int:
            from zmq.utils.monitor import recv_monitor_message

            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if monitor.poll(100):
                    event = recv_monitor_message(monitor)["event"]
                    if event in (
                        zmq.EVENT_HANDSHAKE_SUCCEEDED,
                        zmq.EVENT_HANDSHAKE_FAILED_AUTH,
                        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
                        zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
                    ):
                        return int(event)
            raise AssertionError("no handshake outcome within 5 s")

        outcomes = await asyncio.to_thread(
            lambda: [
                handshake_outcome(m)
                for m in (plain_pub_events, plain_sub_events, rogue_pub_events, rogue_sub_events)
            ]
        )
        assert zmq.EVENT_HANDSHAKE_SUCCEEDED not in outcomes
        assert outcomes[2:] == [zmq.EVENT_HANDSHAKE_FAILED_AUTH] * 2  # ZAP said no

        # They publish an emit to the room, repeatedly; meanwhile the real Emitter talks.
        emitter = await EmitterProcess(emitter_script, cluster.broker.address, curve_keys).start()
        try:
            for round_ in range(5):
                for sock in (plain_pub, rogue_pub):
                    sock.send_multipart(intruder)
                await emitter.ok(op="emit", to=["vault"], event="legit", args=[round_])
                assert await jack.next_event("legit") == [round_]
            while not jack.events.empty():
                assert jack.events.get_nowait()[0] != "intruder"
            for sock in (plain_sub, rogue_sub):
                assert not sock.poll(0), "a stranger received a bus message"
        finally:
            await emitter.stop()

        # An Emitter with an unknown key, in another process, is never ready.
        strange_dir = curve_keys.parent / "strange-keys"
        security.create_keys(strange_dir, ["emitter"])
        (strange_dir / "broker.key").write_text((curve_keys / "broker.key").read_text())
        rogue = await EmitterProcess(emitter_script, cluster.broker.address, strange_dir).start()
        try:
            answer = await rogue.run(op="ready", timeout=1.0)
            assert answer["ok"] is False and answer["error"].startswith("TimeoutError")
        finally:
            await rogue.stop()
    finally:
        for monitor in monitors:
            monitor.close(linger=0)
        context.destroy(linger=0)


# -- killing an instance -------------------------------------------------------------------------


@pytest.fixture
def plain_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """CURVE off (the loopback default); B has one worker."""
    cluster = start_cluster(tmp_path, None, (2, 1))
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


async def test_killing_one_instance_leaves_the_other_serving(
    plain_cluster: Cluster, node_clients: NodeClients, people: People
) -> None:
    cluster = plain_cluster
    lb = await Balancer([cluster.a.port, cluster.b.port]).start()
    try:
        # kate talks to A and liam to B directly: a poll that the balancer had sent through
        # B when it dies would be cut (a 0.9 client then handshakes again).
        kate, liam = LegacyChatter(cluster.a.url, "kate"), LegacyChatter(cluster.b.url, "liam")
        people.legacy += [kate, liam]
        await kate.connect()
        await liam.connect()
        for chatter, nickname in ((kate, "kate"), (liam, "liam")):
            assert await chatter.call("join", "lobby") == [True]
            assert await chatter.call("nickname", nickname) == [True]
        assert (await kate.call("who", "lobby"))[0]["nicknames"] == ["kate", "liam"]
        b_nodes = set(cluster.b.node_ids)
        assert b_nodes <= set((await kate.call("nodes"))[0])

        cluster.b.kill()  # supervisor and workers, SIGKILL: no NODE_DOWN, just silence
        killed = time.monotonic()
        node_timeout = cluster.a.node_timeout

        # A cluster query at once: answered with the live nodes' sessions, no error, and
        # without waiting for the request timeout (5 s) for the dead ones.
        who = (await kate.call("who", "lobby"))[0]
        assert who["nicknames"] == ["kate"]
        assert who["seconds"] < node_timeout + 1.0

        async def b_gone() -> bool:
            return not b_nodes & set((await kate.call("nodes"))[0])

        await eventually(
            b_gone, node_timeout + 1.0, message="B's node to leave A's node table", interval=0.05
        )
        assert time.monotonic() - killed < node_timeout + 1.0
        who = (await kate.call("who", "lobby"))[0]
        assert who["nicknames"] == ["kate"] and who["seconds"] < 0.5

        # A keeps serving, through the balancer (which skips the dead backend): a new 0.9
        # client and a new v4 client chat with kate.
        (mona,) = await people.spread_legacy(lb.url, {cluster.a.host_tag}, ["mona"])
        assert await mona.call("join", "lobby") == [True]
        assert await mona.call("nickname", "mona") == [True]
        nico = await node_clients.open("nico", lb.url + "/chat")
        assert host_of(nico) == cluster.a.host_tag
        assert await node_clients.call("nico", "join", "lobby") == [True]
        assert await node_clients.call("nico", "nickname", "nico") == [True]
        assert await kate.call("user_message", "still here") == [True]
        assert await mona.next_event("msg_to_room") == ["kate", "still here"]
        assert await node_clients.next_event("nico", "msg_to_room") == ["kate", "still here"]
        who = (await mona.call("who", "lobby"))[0]
        assert who["nicknames"] == ["kate", "mona", "nico"]
        assert lb.refused[cluster.b.port] > 0
    finally:
        await lb.stop()
