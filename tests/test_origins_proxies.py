"""The request's own origin behind a proxy: from a trusted proxy, ``X-Forwarded-Proto`` and
``X-Forwarded-Host`` name it (also for a request forwarded to its owner over the bus); from
anyone else they count for nothing. And ``tornio serve --origins``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.inloop import InLoopServer
from tests.support.legacy_client import fetch
from tests.support.pinned_http import PinnedConnection
from tests.support.raw_websocket import EIO_WS, RawWebSocket
from tests.support.serve_cluster import ClusterProcess, refused_flags, worker_of
from tests.support.waiting import wait_for
from tornio import BaseNamespace, SocketIOServer

SITE = "https://chat.example"  # what the browser shows; the proxy reaches us by plain HTTP
PROXIED = {"X-Forwarded-Host": "chat.example", "X-Forwarded-Proto": "https"}
CLIENT = {"X-Forwarded-For": "203.0.113.7"}  # the browser's address, as the proxy tells it
PATHS = ["/socket.io/?EIO=4&transport=polling", "/socket.io/1/?t=1"]


class Quiet(BaseNamespace):
    pass


async def start(**settings: Any) -> SocketIOServer:
    server = SocketIOServer(
        ("127.0.0.1", 0), None, namespaces={"": Quiet}, policy_server=False, **settings
    )
    server.start()
    return server


async def answers(server: SocketIOServer, headers: dict[str, str]) -> list[int]:
    base = f"http://127.0.0.1:{server.port}"
    codes = [(await fetch(base + path, headers=headers)).code for path in PATHS]
    upgrade = await RawWebSocket.connect(server.port, EIO_WS, headers=headers)
    upgrade.writer.close()
    return [*codes, upgrade.status]


async def test_a_trusted_proxy_names_the_own_origin() -> None:
    server = await start(trusted_proxies=["127.0.0.1"])
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert await answers(server, {**PROXIED, **CLIENT, "Origin": SITE}) == [200, 200, 101]
        # The address the proxy reached us at is no longer the page's origin.
        assert await answers(server, {**PROXIED, "Origin": base}) == [403, 403, 403]
        # Each proxy appends its own view: the last value is the trusted proxy's.
        chain = {**PROXIED, "X-Forwarded-Host": "evil.example, chat.example"}
        assert await answers(server, {**chain, "Origin": SITE}) == [200, 200, 101]
        assert await answers(server, {**chain, "Origin": "https://evil.example"}) == [403] * 3
    finally:
        await server.stop()


@pytest.mark.parametrize("trusted", [(), ("10.0.0.0/8",)])
async def test_forwarded_host_from_an_untrusted_peer_counts_for_nothing(
    trusted: tuple[str, ...],
) -> None:
    server = await start(trusted_proxies=trusted)
    try:
        assert await answers(server, {**PROXIED, "Origin": SITE}) == [403, 403, 403]
        own = f"http://127.0.0.1:{server.port}"
        assert await answers(server, {**PROXIED, "Origin": own}) == [200, 200, 101]
    finally:
        await server.stop()


async def test_a_client_named_by_xheaders_is_not_the_peer() -> None:
    """Under Tornado's own ``xheaders=True`` (as the in-loop test server runs), ``remote_ip``
    is whatever ``X-Real-Ip`` claims: the proxy check looks at the connection's peer."""
    server = await InLoopServer.start({"": Quiet}, trusted_proxies=["10.0.0.0/8"])
    try:
        forged = {**PROXIED, "X-Real-Ip": "10.0.0.1", "Origin": SITE}
        response = await fetch(server.base + PATHS[0], headers=forged)
        assert response.code == 403
    finally:
        await server.stop()


# -- tornio serve ---------------------------------------------------------------------------------


def tornio_serve(workdir: Path, *args: str) -> Iterator[ClusterProcess]:
    process = ClusterProcess("tests.apps.transport_probe:namespaces", workdir, workers=2,
                             args=args)  # fmt: skip
    with process.running():
        yield process


async def across_workers(cluster: ClusterProcess) -> tuple[str, PinnedConnection, list[Any]]:
    """A 0.9 session owned by one worker, and a kept-alive connection that the supervisor
    handed to the other one (its requests for the session are forwarded over the bus)."""
    pinned: dict[int, PinnedConnection] = {}
    sids: dict[int, str] = {}
    opened: list[PinnedConnection] = []
    for _ in range(40):
        if len(pinned) == 2:
            break
        conn = await PinnedConnection.open("127.0.0.1", cluster.port)
        opened.append(conn)
        answer = await conn.request("GET", "/socket.io/1/?t=0")
        assert answer.status == 200, answer
        sid = answer.text.split(":")[0]
        pinned.setdefault(worker_of(sid), conn)
        sids.setdefault(worker_of(sid), sid)
    assert len(pinned) == 2, "no connection reached the second worker"
    return sids[0], pinned[1], opened


async def forwarded_answers(cluster: ClusterProcess) -> None:
    sid, conn, opened = await across_workers(cluster)
    url = f"/socket.io/1/xhr-polling/{sid}"
    try:
        # The page's own origin, as the proxy names it: no CORS needed.
        first = await conn.request(
            "GET", url + "?t=1", headers={**PROXIED, **CLIENT, "Origin": SITE}
        )
        assert (first.status, first.text) == (200, "1::"), first
        assert "access-control-allow-origin" not in first.headers
        listed = await conn.request(
            "POST", url + "?t=2", b"2::", headers={"Origin": "http://app.example"}
        )
        assert listed.status == 200, listed
        assert listed.headers["access-control-allow-origin"] == "http://app.example"
        assert listed.headers["access-control-allow-credentials"] == "true"
        foreign = await conn.request(
            "POST", url + "?t=3", b"2::", headers={"Origin": "http://evil.example"}
        )
        assert foreign.status == 403, foreign
        assert "access-control-allow-origin" not in foreign.headers
    finally:
        for each in opened:
            each.close()


def test_tornio_serve_origins_and_a_proxy_s_host_across_the_bus(workdir: Path) -> None:
    flags = ("--trusted-proxies", "127.0.0.1", "--origins", "http://app.example")
    for cluster in tornio_serve(workdir, *flags):
        asyncio.run(forwarded_answers(cluster))
        wait_for(lambda c=cluster: c.stats().get("forwarded", 0) >= 3, 5,
                 message="the requests were forwarded")  # fmt: skip


def test_tornio_serve_refuses_a_bad_origins_flag() -> None:
    stderr = refused_flags("tests.apps.transport_probe:namespaces",
                           "--origins", "https://ok.example,app.example")  # fmt: skip
    assert "--origins" in stderr and "'app.example'" in stderr
