"""``max_write_buffer`` on a real server, for every transport of both generations: a client
that joined a room and then stops polling (or stops reading its stream) gets broadcasts until
what the server holds for it passes the bound; then its session is closed (the next poll gets
the protocol's answer for an unknown session, the stream is closed), a WARNING names it and
``tornio_write_buffer_overflows`` counts it, while a client that reads, in the same room,
receives every broadcast. A polling session holding exactly the bound is not closed.

The stalled stream clients are raw sockets with a small receive buffer that stop reading
(:class:`~tests.support.stream_clients.StalledConnection`); the broadcasts go in lockstep
with the reading client, so it never falls behind.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.apps.probe import Record, namespaces
from tests.support.engine_client import EnginePolling, EngineWebSocket, error_of
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import LegacyClient, fetch
from tests.support.raw_websocket import EIO_WS, client_frame
from tests.support.stream_clients import StalledConnection
from tornio import Router, metrics
from tornio.protocol import hixie76, legacy
from tornio.protocol import websocket as ws

if TYPE_CHECKING:
    from tornio.manager import SocketManager

BOUND = 64_000
TLS = Path(__file__).parent / "support" / "tls"
ROOM = "r"
JOIN_EVENT = json.dumps(["join", ROOM])


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class Env:
    def __init__(self, manager: SocketManager, port: int, reader: EngineWebSocket) -> None:
        self.manager = manager
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.reader = reader  # the well-behaved client, in the room too

    async def broadcast(
        self, payload: str, stalled: Any, limit: int, room: str | None = ROOM
    ) -> int:
        """Emit ``payload`` to the room (or all of /test) until the stalled socket is closed
        (at most ``limit`` times); the reader receives each before the next goes. Returns
        how many went."""
        sent = 0
        expected = "42/test," + compact(["big", payload])
        while not stalled.closed and sent < limit:
            self.manager.emit("big", payload, namespace="/test", room=room)
            sent += 1
            assert await self.reader.recv() == expected
        return sent

    def overflows(self, protocol: str, transport: str) -> int:
        snap = metrics.snapshot(self.manager)
        return sum(c for p, t, c in snap.get("overflows", ()) if (p, t) == (protocol, transport))


@pytest.fixture
async def env(caplog: pytest.LogCaptureFixture) -> AsyncIterator[Env]:
    caplog.set_level(logging.WARNING, "tornio.protocol.backlog")
    server = await InLoopServer.start(namespaces(Record()), max_write_buffer=BOUND)
    reader = await EngineWebSocket.open(server.base)
    try:
        await reader.join("/test")
        await reader.send("42/test,7" + JOIN_EVENT)
        assert str(await reader.recv()).startswith("43/test,7")
        yield Env(server.manager, server.port, reader)
        assert await reader.exchange("/test", "still here")  # the reader carries on
    finally:
        reader.close()
        await server.stop()


def warned(caplog: pytest.LogCaptureFixture, sid: str, transport: str) -> bool:
    return any(
        r.levelno == logging.WARNING and f"{sid} ({transport})" in r.getMessage()
        and "past max_write_buffer (64000)" in r.getMessage()
        for r in caplog.records
    )


# -- polling: what waits for the next poll ---------------------------------------------------


async def legacy_polling(env: Env, transport: str) -> LegacyClient:
    """A 0.9 polling client in /test and the room, that polls no more."""
    client = LegacyClient(env.base, transport)
    client.sid = (await legacy_handshake(env))[0]

    async def poll() -> list[str]:
        response = await client.poll_once()
        assert response.code == 200
        return legacy.decode_payload(client.decode_answer(response.body))

    assert await poll() == ["1::"]
    await client.send("1::/test")
    assert await poll() == ["1::/test"]
    await client.send(f'5:1+:/test:{{"name":"join","args":["{ROOM}"]}}')
    [ack] = await poll()
    assert ack.startswith("6::/test:1+"), ack
    return client


async def legacy_handshake(env: Env) -> list[str]:
    response = await fetch(f"{env.base}/socket.io/1/?t=1")
    return response.body.decode().split(":")


async def engine_polling(env: Env) -> tuple[EnginePolling, Any]:
    """An Engine.IO v4 polling client in /test and the room, that polls no more."""
    client = await EnginePolling.open(env.base)
    await client.join("/test")
    await client.post("42/test,1" + JOIN_EVENT)
    assert (await client.get_text()).startswith("43/test,1")
    return client, env.manager.engines[client.sid]


@pytest.mark.parametrize("transport", ["xhr-polling", "jsonp-polling"])
async def test_a_legacy_client_that_stops_polling_is_closed_past_the_bound(
    env: Env, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = await legacy_polling(env, transport)
    socket = env.manager.get(client.sid)
    before = env.overflows("legacy", transport)
    sent = await env.broadcast("x" * 1000, socket, limit=200)
    assert socket is not None and socket.closed, f"open after {sent} broadcasts"
    assert sent < 70  # 64 packets of some 1,030 bytes pass 64,000
    response = await client.poll_once()
    assert legacy.decode_payload(client.decode_answer(response.body)) == ["7:::1+0"]
    assert env.overflows("legacy", transport) == before + 1
    assert warned(caplog, client.sid, transport)


async def test_an_engine_client_that_stops_polling_is_closed_past_the_bound(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    client, socket = await engine_polling(env)
    before = env.overflows("modern", "polling")
    sent = await env.broadcast("x" * 1000, socket, limit=200)
    assert socket.closed, f"open after {sent} broadcasts"
    assert sent < 70
    assert error_of(await client.get()) == (400, {"code": 1, "message": "Session ID unknown"})
    assert env.overflows("modern", "polling") == before + 1
    assert warned(caplog, client.sid, "polling")


async def test_an_engine_v3_client_that_stops_polling_is_closed_past_the_bound(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    base = f"{env.base}/socket.io/?EIO=3&transport=polling"
    opened = (await fetch(base)).body.decode()
    sid = re.search(r'"sid":"([^"]+)"', opened).group(1)  # type: ignore[union-attr]
    url = f"{base}&sid={sid}"
    join = "42/test,1" + JOIN_EVENT
    for body in ("8:40/test,", f"{len(join)}:{join}"):
        assert (await fetch(url, method="POST", body=body.encode())).body == b"ok"
    answers = ""
    while "43/test,1" not in answers:
        answers += (await fetch(url)).body.decode()
    socket = env.manager.engines[sid]
    sent = await env.broadcast("x" * 1000, socket, limit=200)
    assert socket.closed and sent < 70, f"open after {sent} broadcasts"
    assert error_of(await fetch(url))[1]["code"] == 1
    assert warned(caplog, sid, "polling")


def exact_payload(overhead: int, count: int) -> str:
    """A payload whose packet, ``overhead`` bytes more, takes ``count`` times to fill the
    bound exactly."""
    assert BOUND % count == 0
    return "x" * (BOUND // count - overhead)


async def test_an_engine_poll_holding_exactly_the_bound_is_not_closed(env: Env) -> None:
    client, socket = await engine_polling(env)
    overhead = len('42/test,["big",""]')
    payload = exact_payload(overhead, 16)
    assert await env.broadcast(payload, socket, limit=16) == 16
    assert not socket.closed and socket.engine.queued == BOUND
    records = (await client.get_text()).split("\x1e")
    assert records == ["42/test," + compact(["big", payload])] * 16
    assert await env.broadcast(payload, socket, limit=17) == 17  # and then one more
    assert socket.closed


async def test_a_legacy_poll_holding_exactly_the_bound_is_not_closed(env: Env) -> None:
    client = await legacy_polling(env, "xhr-polling")
    socket = env.manager.get(client.sid)
    assert socket is not None
    overhead = len('5::/test:{"name":"big","args":[""]}')
    payload = exact_payload(overhead, 16)
    assert await env.broadcast(payload, socket, limit=16) == 16
    assert not socket.closed and socket.engine.queued == BOUND
    response = await client.poll_once()
    packets = legacy.decode_payload(response.body.decode())
    assert [legacy.decode_packet(p)["args"] for p in packets] == [[payload]] * 16
    assert await env.broadcast(payload, socket, limit=17) == 17
    assert socket.closed


# -- streams: what the connection holds unsent ---------------------------------------------------


def upgrade_request(port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def hixie_request(port: int, path: str) -> bytes:
    key1, _ = hixie76.make_key()
    key2, _ = hixie76.make_key()
    return (
        f"GET {path} HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
        f"Host: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
        f"Sec-WebSocket-Key1: {key1}\r\nSec-WebSocket-Key2: {key2}\r\n\r\n"
    ).encode() + os.urandom(8)


async def stalled_legacy_stream(env: Env, transport: str) -> tuple[StalledConnection, str]:
    """A 0.9 client on a persistent transport, in /test and the room, that reads no more."""
    sid = (await legacy_handshake(env))[0]
    path = f"/socket.io/1/{transport}/{sid}"
    if transport == "websocket":
        request = upgrade_request(env.port, path)
    elif transport == "flashsocket":
        request = hixie_request(env.port, path)
    else:
        request = f"GET {path}?t=1 HTTP/1.1\r\nHost: 127.0.0.1:{env.port}\r\n\r\n".encode()
    conn = await StalledConnection.open(env.port, request)

    async def send(packet: str) -> None:
        if transport == "websocket":
            await conn.send(client_frame(ws.TEXT, packet.encode()))
        elif transport == "flashsocket":
            await conn.send(hixie76.encode_frame(packet))
        else:
            url = f"{env.base}{path}?t=1"
            assert (await fetch(url, method="POST", body=packet.encode())).body == b"1"

    slash = b"\\/" if transport == "htmlfile" else b"/"
    await conn.read_until(b"1::")
    await send("1::/test")
    await conn.read_until(b"1::" + slash + b"test")
    await send(f'5:1+:/test:{{"name":"join","args":["{ROOM}"]}}')
    await conn.read_until(b"1+[")
    return conn, sid


@pytest.mark.parametrize("transport", ["websocket", "flashsocket", "htmlfile", "xhr-multipart"])
async def test_a_legacy_stream_that_stops_reading_is_closed_past_the_bound(
    env: Env, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    conn, sid = await stalled_legacy_stream(env, transport)
    socket = env.manager.get(sid)
    before = env.overflows("legacy", transport)
    try:
        sent = await env.broadcast("x" * 16_000, socket, limit=1000)
        assert socket is not None and socket.closed, f"open after {sent} broadcasts"
        assert await conn.ended()
        assert env.overflows("legacy", transport) == before + 1
        assert warned(caplog, sid, transport)
    finally:
        conn.close()


async def test_an_engine_websocket_that_stops_reading_is_closed_past_the_bound(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    conn = await StalledConnection.open(env.port, upgrade_request(env.port, EIO_WS))
    await conn.read_until(b"maxPayload")
    sid = re.search(rb'"sid":"([^"]+)"', conn.data).group(1)  # type: ignore[union-attr]
    await conn.send(client_frame(ws.TEXT, b"40/test,"))
    await conn.read_until(b'40/test,{"sid"')
    await conn.send(client_frame(ws.TEXT, ("42/test,1" + JOIN_EVENT).encode()))
    await conn.read_until(b"43/test,1[")
    socket = env.manager.engines[sid.decode()]
    before = env.overflows("modern", "websocket")
    try:
        sent = await env.broadcast("x" * 16_000, socket, limit=1000)
        assert socket.closed, f"open after {sent} broadcasts"
        assert await conn.ended()
        assert env.overflows("modern", "websocket") == before + 1
        assert warned(caplog, sid.decode(), "websocket")
    finally:
        conn.close()


async def test_a_tls_websocket_that_stops_reading_is_closed_past_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Over TLS the socket stays with Tornado's IOStream, whose buffer counts as well."""
    caplog.set_level(logging.WARNING, "tornio.protocol.backlog")
    router = Router(namespaces(Record()), max_write_buffer=BOUND)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    plain, secure = HTTPServer(router.application()), HTTPServer(router.application(),
                                                               ssl_options=context)
    plain_sockets, tls_sockets = bind_sockets(0, "127.0.0.1"), bind_sockets(0, "127.0.0.1")
    plain.add_sockets(plain_sockets)
    secure.add_sockets(tls_sockets)
    tls_port = tls_sockets[0].getsockname()[1]
    reader = await EngineWebSocket.open(f"http://127.0.0.1:{plain_sockets[0].getsockname()[1]}")
    client_context = ssl.create_default_context(cafile=str(TLS / "cert.pem"))
    conn = await StalledConnection.open(
        tls_port, upgrade_request(tls_port, EIO_WS), tls=client_context
    )
    try:
        await reader.join("/test")
        await conn.read_until(b"maxPayload")
        sid = re.search(rb'"sid":"([^"]+)"', conn.data).group(1).decode()  # type: ignore[union-attr]
        await conn.send(client_frame(ws.TEXT, b"40/test,"))
        await conn.read_until(b'40/test,{"sid"')
        socket = router.manager.engines[sid]
        env = Env(router.manager, plain_sockets[0].getsockname()[1], reader)
        sent = await env.broadcast("x" * 16_000, socket, limit=1000, room=None)
        assert socket.closed, f"open after {sent} broadcasts"
        assert await conn.ended()
        assert env.overflows("modern", "websocket") >= 1
        assert warned(caplog, sid, "websocket")
        assert await reader.exchange("/test", "still here")
    finally:
        conn.close()
        reader.close()
        plain.stop()
        secure.stop()
        router.manager.close_all()
        await plain.close_all_connections()
        await secure.close_all_connections()
