"""``X-Forwarded-For`` (and ``X-Real-Ip``, ``X-Forwarded-Proto``) count only from trusted
proxies (``tornio.transports.forwarded``).

* The decision itself, case by case: an untrusted peer is the client whatever it claims; a
  trusted one's ``X-Forwarded-For`` names the client by its rightmost untrusted entry.
* ``SocketIOServer`` by default: a client that sets ``X-Forwarded-For`` keeps the address it
  connected from, as the namespace sees it (``self.request.remote_ip``, ``REMOTE_ADDR``), for
  socket.io-client 4.8 under Node (polling and websocket handshakes) and for a 0.9 client
  (xhr-polling and websocket); with its peer among ``trusted_proxies``, the header is believed.
* ``tornio serve --workers 2``: the same, with and without ``--trusted-proxies``, including a
  0.9 session whose transport requests reach another worker and are forwarded to the owner
  over the bus: the owner sees the address the first worker resolved, never the header.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.apps.transport_probe import namespaces
from tests.support.legacy_client import fetch
from tests.support.loop_thread import LoopThread
from tests.support.node_client import JS_DIR, NodeClient, node_modules_ready
from tests.support.pinned_http import PinnedConnection
from tests.support.serve_cluster import ClusterProcess, refused_flags, worker_of
from tests.support.waiting import wait_for
from tornio import Router, SocketIOServer
from tornio.protocol import legacy
from tornio.settings import Settings
from tornio.transports.forwarded import Client, TrustedProxies, resolve

FORGED = "203.0.113.7"
PEER = "127.0.0.1"
DRIVER = JS_DIR / "transport_client.mjs"


# -- the decision ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "trusted", "headers", "expected"),
    [
        # Nobody trusted (the default): the peer, whatever the headers say.
        ("127.0.0.1", "", {"forwarded_for": FORGED}, Client("127.0.0.1")),
        ("127.0.0.1", "", {"real_ip": FORGED, "forwarded_proto": "https"}, Client("127.0.0.1")),
        # A peer that is not among the trusted ones.
        ("192.0.2.9", "127.0.0.1, 10.0.0.0/8", {"forwarded_for": FORGED}, Client("192.0.2.9")),
        # A trusted peer: the rightmost entry that is not a trusted proxy.
        ("127.0.0.1", "127.0.0.1", {"forwarded_for": FORGED}, Client(FORGED)),
        (
            "10.0.0.2",
            "10.0.0.0/8",
            {"forwarded_for": f"198.51.100.1, {FORGED}, 10.1.2.3"},
            Client(FORGED),
        ),
        # Every entry trusted: the leftmost one. '*' trusts everybody: the leftmost too.
        ("10.0.0.2", "10.0.0.0/8", {"forwarded_for": "10.9.9.9, 10.1.1.1"}, Client("10.9.9.9")),
        ("192.0.2.9", "*", {"forwarded_for": f"198.51.100.1, {FORGED}"}, Client("198.51.100.1")),
        # X-Real-Ip when there is no X-Forwarded-For; the scheme from X-Forwarded-Proto.
        ("127.0.0.1", "127.0.0.1", {"real_ip": FORGED}, Client(FORGED)),
        (
            "127.0.0.1",
            "127.0.0.1",
            {"forwarded_for": FORGED, "real_ip": "198.51.100.1", "forwarded_proto": "http, https"},
            Client(FORGED, "https"),
        ),
        ("127.0.0.1", "127.0.0.1", {"forwarded_proto": "wss"}, Client("127.0.0.1", "https")),
        ("127.0.0.1", "127.0.0.1", {"forwarded_proto": "gopher"}, Client("127.0.0.1")),
        # IPv6, ports and brackets, an IPv4-mapped peer.
        ("::1", "::1", {"forwarded_for": "2001:db8::7"}, Client("2001:db8::7")),
        ("::ffff:127.0.0.1", "127.0.0.1", {"forwarded_for": FORGED}, Client(FORGED)),
        ("127.0.0.1", "127.0.0.1", {"forwarded_for": "[2001:db8::7]:4711"}, Client("2001:db8::7")),
        ("127.0.0.1", "127.0.0.1", {"forwarded_for": f"{FORGED}:4711"}, Client(FORGED)),
        # What is not an address leaves the (trusted) peer as the client.
        ("127.0.0.1", "127.0.0.1", {"forwarded_for": "unknown"}, Client("127.0.0.1")),
        ("127.0.0.1", "127.0.0.1", {"forwarded_for": " , ,"}, Client("127.0.0.1")),
        ("127.0.0.1", "127.0.0.1", {"real_ip": "<script>"}, Client("127.0.0.1")),
    ],
)
def test_the_client_of_a_request(
    peer: str, trusted: str, headers: dict[str, str], expected: Client
) -> None:
    assert resolve(peer, TrustedProxies(trusted), **headers) == expected


def test_trusted_proxies_setting_is_parsed_and_checked() -> None:
    assert Settings().trusted_proxies == ()
    assert Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8 ::1").trusted_proxies == (
        "127.0.0.1",
        "10.0.0.0/8",
        "::1",
    )
    assert Settings(trusted_proxies=["*"]).trusted_proxies == ("*",)
    for bad in ("localhost", "10.0.0.0/33", "127.0.0.1, nope"):
        with pytest.raises(ValueError, match="trusted_proxies"):
            Router(namespaces, trusted_proxies=bad)
    assert not TrustedProxies(())
    assert "10.2.3.4" in TrustedProxies("10.0.0.0/8")
    assert "11.0.0.1" not in TrustedProxies("10.0.0.0/8")


# -- clients --------------------------------------------------------------------------------------


def node_where(url: str, headers: dict[str, str], transports: list[str] | None) -> dict[str, Any]:
    """What /where told socket.io-client 4.8 (which sent ``headers`` on every request)."""
    options: dict[str, Any] = {"extraHeaders": headers}
    if transports:
        options["transports"] = transports
    with NodeClient(url, "where", options, driver=DRIVER) as client:
        told = client.step("where")["data"]
        ack = client.step("ack")
        client.wait()
    assert ack["data"] == told
    if transports == ["websocket"]:
        assert ack["transport"] == "websocket"
    return dict(told)


async def legacy_where(base: str, headers: dict[str, str], transport: str) -> dict[str, Any]:
    """What /where told a 0.9 client (every request with ``headers``)."""
    response = await fetch(f"{base}/socket.io/1/?t=1", headers=headers)
    assert response.code == 200, response
    sid = response.body.decode().split(":")[0]
    if transport == "websocket":
        request = HTTPRequest(f"{base.replace('http', 'ws', 1)}/socket.io/1/websocket/{sid}",
                              headers=headers)  # fmt: skip
        conn = await asyncio.wait_for(websocket_connect(request), 10)
        try:
            assert await asyncio.wait_for(conn.read_message(), 10) == "1::"
            await conn.write_message("1::/where")
            while True:
                message = await asyncio.wait_for(conn.read_message(), 10)
                assert isinstance(message, str), message
                found = _where_event(legacy.decode_payload(message))
                if found is not None:
                    return found
        finally:
            conn.close()
    url = f"{base}/socket.io/1/xhr-polling/{sid}"
    assert (await fetch(url + "?t=1", headers=headers)).body == b"1::"
    posted = await fetch(url + "?t=2", "POST", body=b"1::/where", headers=headers)
    assert posted.code == 200, posted
    for attempt in range(5):
        answer = await fetch(url + f"?t={3 + attempt}", headers=headers)
        found = _where_event(legacy.decode_payload(answer.body.decode()))
        if found is not None:
            await fetch(url + "?t=9", "POST", body=b"0::", headers=headers)
            return found
    raise AssertionError("no where event")


def _where_event(packets: list[str]) -> dict[str, Any] | None:
    for packet in packets:
        decoded = legacy.decode_packet(packet)
        if decoded["type"] == "event" and decoded["name"] == "where":
            return dict(decoded["args"][0])
    return None


def seen_as(told: dict[str, Any], ip: str, scheme: str = "http") -> bool:
    return (told["remote_ip"], told["remote_addr"], told["scheme"]) == (ip, ip, scheme)


# -- SocketIOServer ------------------------------------------------------------------------------


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    with LoopThread() as thread:
        yield thread


@pytest.fixture
def node_ready() -> None:
    missing = node_modules_ready()
    if missing:
        pytest.fail(missing)


def serve(loop: LoopThread, **settings: Any) -> tuple[SocketIOServer, str]:
    async def start() -> SocketIOServer:
        server = SocketIOServer(
            ("127.0.0.1", 0), None, namespaces=namespaces, policy_server=False, **settings
        )
        server.start()
        return server

    server = loop.run(start())
    return server, f"http://127.0.0.1:{server.port}"


FORGING = {"X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https", "X-Real-Ip": FORGED}


@pytest.mark.usefixtures("node_ready")
def test_a_forged_forwarded_for_is_ignored_by_default(loop: LoopThread) -> None:
    server, url = serve(loop)  # every transport: the HTTP server that also answers Flash
    try:
        for transports in (None, ["websocket"]):
            told = node_where(url, FORGING, transports)
            assert seen_as(told, PEER), (transports, told)
        for transport in ("xhr-polling", "websocket"):
            told = asyncio.run(legacy_where(url, FORGING, transport))
            assert seen_as(told, PEER), (transport, told)
    finally:
        loop.run(server.stop())


@pytest.mark.usefixtures("node_ready")
def test_forwarded_headers_from_a_trusted_proxy_name_the_client(loop: LoopThread) -> None:
    server, url = serve(
        loop, trusted_proxies="127.0.0.1", transports=["websocket", "xhr-polling"]
    )
    # The proxy appends the address it got the request from; the client may have sent one.
    headers = {"X-Forwarded-For": f"198.51.100.1, {FORGED}", "X-Forwarded-Proto": "https"}
    try:
        for transports in (None, ["websocket"]):
            told = node_where(url, headers, transports)
            assert seen_as(told, FORGED, "https"), (transports, told)
        for transport in ("xhr-polling", "websocket"):
            told = asyncio.run(legacy_where(url, headers, transport))
            assert seen_as(told, FORGED, "https"), (transport, told)
        # A request without the headers, from the same trusted peer: the peer itself.
        told = asyncio.run(legacy_where(url, {}, "xhr-polling"))
        assert seen_as(told, PEER), told
    finally:
        loop.run(server.stop())


@pytest.mark.usefixtures("node_ready")
def test_a_peer_outside_the_trusted_networks_is_not_believed(loop: LoopThread) -> None:
    server, url = serve(loop, trusted_proxies=["10.0.0.0/8", "::1"])
    try:
        assert seen_as(node_where(url, FORGING, None), PEER)
        assert seen_as(asyncio.run(legacy_where(url, FORGING, "xhr-polling")), PEER)
    finally:
        loop.run(server.stop())


# -- tornio serve ---------------------------------------------------------------------------------


def tornio_serve(workdir: Path, *args: str) -> Iterator[ClusterProcess]:
    process = ClusterProcess(
        "tests.apps.transport_probe:namespaces", workdir, workers=2, args=args
    )
    with process.running():
        yield process


async def forwarded_legacy_where(cluster: ClusterProcess, headers: dict[str, str]) -> Any:
    """A 0.9 session made on one worker, whose transport requests all go over a connection the
    supervisor handed to the other worker (so they are forwarded to the owner over the bus):
    what /where told it, and which worker owns it."""
    pinned: dict[int, PinnedConnection] = {}
    spare: list[PinnedConnection] = []
    sids: dict[int, str] = {}
    for _ in range(40):
        if len(pinned) == 2:
            break
        conn = await PinnedConnection.open("127.0.0.1", cluster.port)
        answer = await conn.request("GET", "/socket.io/1/?t=0", headers=headers)
        assert answer.status == 200, answer
        sid = answer.text.split(":")[0]
        worker = worker_of(sid)
        if worker in pinned:
            spare.append(conn)
        else:
            pinned[worker], sids[worker] = conn, sid
    for conn in spare:
        conn.close()
    assert len(pinned) == 2, "no connection reached the second worker"
    owner, other = 0, 1
    sid, conn = sids[owner], pinned[other]
    try:
        url = f"/socket.io/1/xhr-polling/{sid}"
        assert (await conn.request("GET", url + "?t=1", headers=headers)).text == "1::"
        posted = await conn.request("POST", url + "?t=2", b"1::/where", headers=headers)
        assert posted.status == 200, posted
        for attempt in range(5):
            answer = await conn.request("GET", url + f"?t={3 + attempt}", headers=headers)
            found = _where_event(legacy.decode_payload(answer.text))
            if found is not None:
                await conn.request("POST", url + "?t=9", b"0::", headers=headers)
                return found
        raise AssertionError("no where event")
    finally:
        for each in pinned.values():
            each.close()


@pytest.mark.usefixtures("node_ready")
def test_tornio_serve_ignores_forged_headers_by_default(workdir: Path) -> None:
    for cluster in tornio_serve(workdir):
        assert seen_as(node_where(cluster.url, FORGING, None), PEER)
        assert seen_as(node_where(cluster.url, FORGING, ["websocket"]), PEER)
        told = asyncio.run(forwarded_legacy_where(cluster, FORGING))
        assert seen_as(told, PEER), told
        forwarded_soon(cluster)


@pytest.mark.usefixtures("node_ready")
def test_tornio_serve_trusts_the_proxies_it_is_told_of(workdir: Path) -> None:
    headers = {"X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https"}
    for cluster in tornio_serve(workdir, "--trusted-proxies", "10.0.0.0/8,127.0.0.1"):
        assert seen_as(node_where(cluster.url, headers, None), FORGED, "https")
        assert seen_as(node_where(cluster.url, headers, ["websocket"]), FORGED, "https")
        # Forwarded to the owner: it sees the client the first worker resolved.
        told = asyncio.run(forwarded_legacy_where(cluster, headers))
        assert seen_as(told, FORGED, "https"), told
        forwarded_soon(cluster)


def forwarded_soon(cluster: ClusterProcess) -> None:
    """The requests did go through the bus (the workers report every second)."""
    wait_for(lambda: cluster.stats().get("forwarded", 0) > 0, 5, message="a forwarded request")


def test_tornio_serve_refuses_a_bad_trusted_proxies_flag() -> None:
    stderr = refused_flags("tests.apps.transport_probe:namespaces",
                           "--trusted-proxies", "127.0.0.1,not-an-address")  # fmt: skip
    assert "not-an-address" in stderr and "trusted_proxies" in stderr
