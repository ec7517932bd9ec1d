"""Tests for tornio.bus.security: CURVE keys, a broker that lets only authorized keys in, and
the ``tornio`` command's key and security flags.

"Refused" is shown two ways: ZeroMQ's socket monitor reports the handshake's outcome
(EVENT_HANDSHAKE_FAILED_AUTH is the ZAP handler saying no), and nothing crosses: a refused
subscriber receives none of the messages authorized nodes exchange meanwhile, and an
authorized node receives none of a refused publisher's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from tests.support.multihost import ROOT
from tests.support.ports import free_port_pair
from tests.support.waiting import eventually
from tests.support.zmq_nodes import FAST, RecordingNode
from tornio import Emitter
from tornio.bus import ids, security
from tornio.bus.base import Message
from tornio.bus.broker import Broker
from tornio.bus.messages import MessageType, encode, make_message
from tornio.bus.security import CurveClient, CurveError, CurveServer
from tornio.bus.zmq import ZmqBus

pytestmark = pytest.mark.timeout(60)

def emit(event: str, nsp: str = "/s") -> Message:
    data: dict[str, Any] = {"event": event, "args": [], "rooms": [], "skip": [], "to": None}
    return {"type": MessageType.EMIT, "nsp": nsp, "data": data}


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return security.create_keys(tmp_path / "keys", ["node", "emitter", "spare"])


@pytest.fixture
def secure_broker(keys: Path) -> Iterator[Broker]:
    with Broker("tcp://127.0.0.1:0", curve=security.load_server(keys)) as running:
        yield running


class Buses:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.made: list[ZmqBus] = []

    def __call__(self, name: str, curve: CurveClient | None) -> tuple[ZmqBus, RecordingNode]:
        node = RecordingNode(ids.node_tag(name, 0))
        bus = ZmqBus(self.broker.pub_address, self.broker.sub_address, curve=curve, **FAST)
        bus.attach(node)
        self.made.append(bus)
        return bus, node


@pytest.fixture
async def buses(secure_broker: Broker) -> AsyncIterator[Buses]:
    made = Buses(secure_broker)
    try:
        yield made
    finally:
        for bus in made.made:
            await bus.close(announce=False)


def stranger_keys(keys: Path) -> CurveClient:
    """A well-formed key pair the broker never heard of (and the right server key)."""
    return CurveClient.from_secret(zmq.curve_keypair()[1], security.load_client(keys).server_key)


# -- keys ---------------------------------------------------------------------------------------


def test_create_keys_lays_out_a_directory_and_never_overwrites(tmp_path: Path) -> None:
    root = security.create_keys(tmp_path / "k")
    names = sorted(p.name for p in root.iterdir())
    assert names == [
        "authorized", "broker.key", "broker.key_secret", "emitter.key",
        "emitter.key_secret", "node.key", "node.key_secret",
    ]  # fmt: skip
    assert sorted(p.name for p in (root / "authorized").iterdir()) == ["emitter.key", "node.key"]
    for secret in root.glob("*.key_secret"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    server = security.load_server(root)
    node = security.load_client(root, "node")
    emitter = security.load_client(root, "emitter")
    assert node.server_key == emitter.server_key == server.public_key
    assert server.authorized == {node.public_key, emitter.public_key}
    assert zmq.curve_public(node.secret_key) == node.public_key
    assert "secret" not in repr(node) and node.secret_key.decode() not in repr(node)
    with pytest.raises(CurveError, match="exists already"):
        security.create_keys(root)
    with pytest.raises(CurveError, match="plain name"):
        security.create_keys(tmp_path / "other", ["../evil"])
    with pytest.raises(CurveError, match="missing"):
        security.load_client(root, "nobody")


def test_a_broker_with_no_authorized_key_is_refused(tmp_path: Path) -> None:
    root = security.create_keys(tmp_path / "k", [])
    with pytest.raises(CurveError, match="no authorized client keys"):
        security.load_server(root)


def test_keys_from_the_environment() -> None:
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    assert security.client_from_env({}) is None
    assert security.server_from_env({}) is None
    client = security.client_from_env(
        {security.ENV_SECRET: client_secret.decode(), security.ENV_SERVER: server_public.decode()}
    )
    assert client == CurveClient(client_public, client_secret, server_public)
    other = zmq.curve_keypair()[0]
    server = security.server_from_env(
        {
            security.ENV_SECRET: server_secret.decode(),
            security.ENV_AUTHORIZED: f" {client_public.decode()},\n{other.decode()} ",
        }
    )
    assert server == CurveServer(server_public, server_secret, frozenset({client_public, other}))
    with pytest.raises(CurveError, match="both"):
        security.client_from_env({security.ENV_SECRET: client_secret.decode()})
    with pytest.raises(CurveError, match="both"):
        security.server_from_env({security.ENV_AUTHORIZED: other.decode()})
    with pytest.raises(CurveError, match="Z85"):
        security.client_from_env(
            {security.ENV_SECRET: "too short", security.ENV_SERVER: server_public.decode()}
        )


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("tcp://127.0.0.1:5560", True),
        ("tcp://127.1.2.3:0", True),
        ("tcp://localhost:5560", True),
        ("tcp://[::1]:5560", True),
        ("ipc:///tmp/x/bus", True),
        ("tcp://*:5560", False),
        ("tcp://0.0.0.0:5560", False),
        ("tcp://10.1.2.3:5560", False),
        ("tcp://eth0:5560", False),
        ("tcp://broker.example:5560", False),
    ],
)
def test_which_addresses_stay_on_the_machine(address: str, local: bool) -> None:
    assert security.is_local_address(address) is local


# -- the broker lets only authorized keys in ---------------------------------------------------


async def test_authorized_nodes_talk_and_others_are_refused(
    buses: Buses, keys: Path, secure_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "tornio.bus.security")
    one, one_node = buses("One_", security.load_client(keys, "node"))
    two, _two_node = buses("Two_", security.load_client(keys, "spare"))
    await one.ready(2)
    await two.ready(2)
    two.publish(emit("hello"))
    await one_node.wait_for_event("hello")

    plain, _ = buses("Plan", None)
    rogue, _ = buses("Rogu", stranger_keys(keys))
    for refused in (plain, rogue):
        with pytest.raises(TimeoutError):
            await refused.ready(0.5)
    await asyncio.sleep(3 * FAST["heartbeat_interval"])
    assert set(one.nodes) == {two.node_id}  # neither ever joined the node table
    assert secure_broker.authenticator is not None
    assert secure_broker.authenticator.refused >= 2
    assert "refused a peer with an unknown CURVE key" in caplog.text
    assert rogue.curve is not None
    assert rogue.curve.public_key.decode() in caplog.text


async def test_raw_peers_without_an_authorized_key_can_neither_publish_nor_receive(
    buses: Buses, keys: Path, secure_broker: Broker
) -> None:
    one, one_node = buses("One_", security.load_client(keys, "node"))
    await one.ready(2)
    context = zmq.Context()
    sockets: list[zmq.Socket[bytes]] = []
    try:

        def peer(kind: int, curve: CurveClient | None) -> tuple[Any, Any]:
            sock = context.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            if curve is not None:
                curve.apply(sock)
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            monitor = sock.get_monitor_socket()
            sockets.extend((sock, monitor))
            address = secure_broker.pub_address if kind == zmq.PUB else secure_broker.sub_address
            sock.connect(address)
            return sock, monitor

        plain_pub, plain_pub_monitor = peer(zmq.PUB, None)
        plain_sub, plain_sub_monitor = peer(zmq.SUB, None)
        rogue_pub, rogue_pub_monitor = peer(zmq.PUB, stranger_keys(keys))
        rogue_sub, rogue_sub_monitor = peer(zmq.SUB, stranger_keys(keys))
        good_pub, good_pub_monitor = peer(zmq.PUB, security.load_client(keys, "spare"))
        good_sub, good_sub_monitor = peer(zmq.SUB, security.load_client(keys, "spare"))
        outcomes = await asyncio.to_thread(
            lambda: [
                handshake_outcome(m)
                for m in (
                    plain_pub_monitor, plain_sub_monitor, rogue_pub_monitor,
                    rogue_sub_monitor, good_pub_monitor, good_sub_monitor,
                )
            ]
        )  # fmt: skip
        assert zmq.EVENT_HANDSHAKE_SUCCEEDED not in outcomes[:4]
        assert outcomes[2:4] == [zmq.EVENT_HANDSHAKE_FAILED_AUTH] * 2
        assert outcomes[4:] == [zmq.EVENT_HANDSHAKE_SUCCEEDED] * 2

        # The authorized raw peers work both ways (once their subscriptions are through).
        deadline = time.monotonic() + 3
        while not good_sub.poll(20):
            one.publish(emit("for-everyone"))
            assert time.monotonic() < deadline
        injected = encode(make_message(MessageType.EMIT, "/s", emit("from-good")["data"], uid="g"))

        def good_through() -> bool:
            good_pub.send_multipart(injected)
            return "from-good" in one_node.events()

        await eventually(good_through, 3, message="the good raw publisher", interval=0.02)

        # The refused ones: what they publish never arrives, and they receive nothing, while
        # the authorized node and the authorized raw peer keep exchanging messages.
        bad = encode(make_message(MessageType.EMIT, "/s", emit("intruder")["data"], uid="x"))
        for i in range(20):
            plain_pub.send_multipart(bad)
            rogue_pub.send_multipart(bad)
            good_pub.send_multipart(injected)
            one.publish(emit(f"legit-{i}"))
            await one_node.wait_for_event("from-good")
            await asyncio.sleep(0.01)
        assert good_sub.poll(1000)
        assert "intruder" not in one_node.events()
        assert not plain_sub.poll(0) and not rogue_sub.poll(0)
    finally:
        for sock in sockets:
            sock.close(linger=0)
        context.term()


def handshake_outcome(monitor: zmq.Socket[bytes], timeout: float = 5.0) -> int:
    """The first handshake result a socket monitor reports."""
    outcomes = {
        zmq.EVENT_HANDSHAKE_SUCCEEDED,
        zmq.EVENT_HANDSHAKE_FAILED_AUTH,
        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
        zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
    }
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if monitor.poll(50):
            event = int(recv_monitor_message(monitor)["event"])
            if event in outcomes:
                return event
    raise AssertionError(f"no handshake outcome within {timeout} s")


async def test_emitters_with_and_without_an_authorized_key(
    buses: Buses, keys: Path, secure_broker: Broker
) -> None:
    one, one_node = buses("One_", security.load_client(keys, "node"))
    await one.ready(2)
    pub, sub = secure_broker.pub_address, secure_broker.sub_address
    with Emitter(
        pub, sub_address=sub, curve=keys
    ) as emitter:  # the key directory: emitter.key_secret
        await asyncio.to_thread(emitter.of("/s").emit, "from-emitter")
        await one_node.wait_for_event("from-emitter")
    for curve in (None, stranger_keys(keys)):
        with (
            Emitter(pub, sub_address=sub, curve=curve, ready_timeout=0.5) as refused,
            pytest.raises(TimeoutError),
        ):
            await asyncio.to_thread(refused.of("/s").emit, "never")
    assert "never" not in one_node.events()


async def test_malformed_and_unknown_version_messages_from_an_authorized_peer_are_dropped(
    buses: Buses, keys: Path, secure_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """Authentication is not trust in the bytes: the schema check still drops and logs."""
    caplog.set_level(logging.WARNING, "tornio.bus.zmq")
    one, one_node = buses("One_", security.load_client(keys, "node"))
    await one.ready(2)
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    security.load_client(keys, "spare").apply(pub)
    pub.connect(secure_broker.pub_address)
    try:
        good = encode(make_message(MessageType.EMIT, "/s", emit("fine")["data"], uid="raw"))

        def path_up() -> bool:
            pub.send_multipart(good)
            return "fine" in one_node.events()

        await eventually(path_up, 3, message="the spare key's path", interval=0.02)
        topic, payload = good
        import msgpack  # type: ignore[import-untyped]

        message = msgpack.unpackb(payload)
        future = msgpack.packb({**message, "v": 2, "data": {**message["data"], "event": "v2"}})
        for frames in (
            [topic, b"\xc1 not msgpack"],
            [topic, future],
            [topic, payload, b"extra frame"],
        ):
            pub.send_multipart(frames)
        after = encode(make_message(MessageType.EMIT, "/s", emit("after")["data"], uid="raw"))
        pub.send_multipart(after)
        await one_node.wait_for_event("after")
        assert one.stats.dropped_malformed == 3
        assert "v2" not in one_node.events()
        assert "dropped a malformed bus message" in caplog.text
    finally:
        pub.close(linger=0)
        context.term()


# -- the tornio command --------------------------------------------------------------------------


def run_tornio(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, **(env or {})},
    )


def test_tornio_keys_and_the_refusals_of_the_command_line(tmp_path: Path) -> None:
    made = run_tornio("keys", str(tmp_path / "k"), "--client", "web", "--client", "jobs")
    assert made.returncode == 0, made.stderr
    assert "web.key_secret" in made.stdout and "jobs.key_secret" in made.stdout
    assert security.load_server(tmp_path / "k").authorized == {
        security.load_client(tmp_path / "k", "web").public_key,
        security.load_client(tmp_path / "k", "jobs").public_key,
    }
    again = run_tornio("keys", str(tmp_path / "k"))
    assert again.returncode == 1 and "exists already" in again.stderr

    port = free_port_pair()
    exposed = run_tornio("broker", "--bind", f"tcp://0.0.0.0:{port}")
    assert exposed.returncode == 2 and "without CURVE" in exposed.stderr

    local_curve = run_tornio("serve", "tests.apps.echo:namespaces", "--curve-dir", str(tmp_path))
    assert local_curve.returncode == 2 and "--curve-dir needs --bus" in local_curve.stderr
    bad_keys = run_tornio(
        "serve", "tests.apps.echo:namespaces", "--bus", "tcp://127.0.0.1:1",
        "--curve-dir", str(tmp_path / "nowhere"),
    )  # fmt: skip
    assert bad_keys.returncode == 2 and "missing" in bad_keys.stderr


async def test_serve_takes_its_keys_from_the_environment(keys: Path, tmp_path: Path) -> None:
    """``tornio serve --bus`` with TORNIO_CURVE_SECRET_KEY and TORNIO_CURVE_SERVER_KEY: its
    worker joins the CURVE bus (it shows up in an authorized node's table)."""
    port = free_port_pair()
    with Broker(f"tcp://127.0.0.1:{port}", curve=security.load_server(keys)) as broker:
        one = ZmqBus(
            broker.pub_address, broker.sub_address, curve=security.load_client(keys), **FAST
        )
        one.attach(RecordingNode(ids.node_tag("One_", 0)))
        spare = security.load_client(keys, "spare")
        with (tmp_path / "serve.log").open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "workers", "serve", "tests.apps.echo:namespaces",
                    "--port", "0", "--workers", "1", "--no-policy-server",
                    "--bus", f"tcp://127.0.0.1:{port}", "--bus-heartbeat", "0.1",
                ],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={
                    **os.environ,
                    security.ENV_SECRET: spare.secret_key.decode(),
                    security.ENV_SERVER: spare.server_key.decode(),
                },
            )  # fmt: skip
        try:
            await one.ready(2)

            def met() -> bool:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                return bool(one.nodes)

            await eventually(met, 15, message="tornio serve's worker in the node table",
                             interval=0.05)
        finally:
            process.terminate()
            try:
                process.wait(10)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
            await one.close(announce=False)
