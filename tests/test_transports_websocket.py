"""tornio's own websocket layer (tornio/transports/wsconn.py) on the wire, with a raw TCP
client that writes exactly the bytes each case needs: the upgrade handshake and its refusals,
pings, both closing handshakes, every framing violation with its close code, frames sent
before the 101 arrived, a client that vanishes mid-frame — and TLS, where the socket stays
with Tornado. After each bad input the session is gone and a bystander carries on."""

from __future__ import annotations

import asyncio
import json
import math
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.websocket import websocket_connect

from tests.apps.probe import Record, namespaces
from tests.support.engine_client import EngineWebSocket
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import handshake
from tests.support.raw_websocket import EIO_WS, TIMEOUT, RawWebSocket, client_frame
from tests.support.waiting import eventually
from tornio import BaseNamespace, Router
from tornio.core import timers
from tornio.protocol import websocket as ws
from tornio.transports import wsconn

MAX_PAYLOAD = 10_000
TLS = Path(__file__).parent / "support" / "tls"


class Env:
    def __init__(self, server: InLoopServer, bystander: EngineWebSocket) -> None:
        self.server = server
        self.bystander = bystander
        self.port = server.port

    async def open_engine(self, **kwargs: object) -> tuple[RawWebSocket, str]:
        """A raw websocket Engine.IO session: the client and its sid."""
        client = await RawWebSocket.connect(self.port, **kwargs)  # type: ignore[arg-type]
        assert client.status == 101, (client.status, client.body)
        opened = await client.recv_text()
        assert opened.startswith("0{"), opened
        return client, json.loads(opened[1:])["sid"]

    async def forgotten(self, sid: str) -> None:
        await eventually(lambda: sid not in self.server.manager.engines, message="forgotten")

    async def bystander_carries_on(self) -> None:
        assert self.bystander.sid in self.server.manager.engines
        assert await self.bystander.exchange("/test", "undisturbed")


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    server = await InLoopServer.start(namespaces(Record()), max_buffer_size=MAX_PAYLOAD)
    bystander = await EngineWebSocket.open(server.base)
    try:
        await bystander.join("/test")
        environment = Env(server, bystander)
        yield environment
        await environment.bystander_carries_on()
    finally:
        bystander.close()
        await server.stop()


# -- the handshake ------------------------------------------------------------------------------


async def test_open_connect_and_event_over_raw_frames(env: Env) -> None:
    client, _sid = await env.open_engine()
    client.send_text("40/test,")
    assert (await client.recv_text()).startswith("40/test,{")
    client.send_text('42/test,7["echo","raw"]')
    assert await client.recv_text() == '43/test,7["raw"]'
    client.close()


async def test_frames_sent_before_the_101_arrived_are_read(env: Env) -> None:
    """Tornado may have read the first frames with the request; none is lost."""
    early = client_frame(ws.TEXT, b"40/test,") + client_frame(ws.TEXT, b'42/test,1["echo",1]')
    client, _sid = await env.open_engine(early=early)
    assert (await client.recv_text()).startswith("40/test,{")
    assert await client.recv_text() == "43/test,1[1]"
    client.close()


@pytest.mark.parametrize(
    ("headers", "version", "status"),
    [
        ({"Sec-WebSocket-Key": ""}, "13", 400),
        ({"Connection": "keep-alive"}, "13", 400),
        ({}, "12", 426),
    ],
    ids=["no key", "no Connection: Upgrade", "old version"],
)
async def test_refused_upgrades(
    env: Env, headers: dict[str, str], version: str, status: int
) -> None:
    client = await RawWebSocket.connect(env.port, headers=headers, version=version)
    assert client.status == status, client.body
    if status == 426:
        assert client.headers["sec-websocket-version"] == "13"
    client.close()
    assert env.server.manager.engines.keys() == {env.bystander.sid}


async def test_the_origins_setting_decides_upgrades() -> None:
    server = await InLoopServer.start(namespaces(Record()), origins="good.example:*")
    try:
        for path in (EIO_WS, "/socket.io/1/websocket/anysid"):
            evil = await RawWebSocket.connect(
                server.port, path=path, headers={"Origin": "http://evil.example"}
            )
            assert evil.status == 403, evil.body
            evil.close()
        good = await RawWebSocket.connect(server.port, headers={"Origin": "http://good.example"})
        assert good.status == 101
        assert (await good.recv_text()).startswith("0{")
        good.close()
    finally:
        await server.stop()


async def test_legacy_websocket_for_an_unknown_sid_is_told_to_reconnect(env: Env) -> None:
    client = await RawWebSocket.connect(env.port, path="/socket.io/1/websocket/nosuchsid")
    assert client.status == 101
    assert await client.recv_text() == "7:::1+0"
    await client.expect_close(1000)


async def test_legacy_session_over_raw_frames(env: Env) -> None:
    sid = (await handshake(env.server.base))[0]
    client = await RawWebSocket.connect(env.port, path=f"/socket.io/1/websocket/{sid}")
    assert client.status == 101
    assert await client.recv_text() == "1::"
    client.send_text("1::/test")
    assert await client.recv_text() == "1::/test"
    client.send_text('5:9+:/test:{"name":"echo","args":["hi"]}')
    assert await client.recv_text() == '6::/test:9+["hi"]'
    client.close()


# -- control frames and closing -----------------------------------------------------------------


async def test_a_ping_is_answered_with_its_payload(env: Env) -> None:
    client, _sid = await env.open_engine()
    client.send(client_frame(ws.PING, b"are you there"))
    assert await client.recv_frame() == (ws.PONG, b"are you there")
    client.close()


async def test_the_session_timer_is_never_later_than_its_next_deadline() -> None:
    """Frames re-arm the session's timer only when they may move a deadline earlier (a pong
    does; a message does not): after a pong then an event, the timer armed is still no later
    than the session's next deadline, so the next ping goes out on time."""
    server = await InLoopServer.start(namespaces(Record()), ping_interval=0.2, ping_timeout=30)
    try:
        client = await RawWebSocket.connect(server.port)
        sid = json.loads((await client.recv_text())[1:])["sid"]
        client.send_text("40/test,")
        assert (await client.recv_text()).startswith("40/test,{")
        assert await client.recv_text() == "2"  # a ping: the timer now waits for the pong
        client.send_text("3")
        client.send_text('42/test,1["echo","after the pong"]')
        assert await client.recv_text() == '43/test,1["after the pong"]'
        socket = server.manager.engines[sid]
        due = socket.engine.next_deadline()
        assert due is not None and due == socket.engine.heartbeat_due
        armed, _ = server.manager.timers.armed[socket.sessid]
        assert armed <= math.ceil(due / timers.GRAIN) * timers.GRAIN
        client.close()
    finally:
        await server.stop()


async def test_client_close_is_echoed_and_ends_the_session(env: Env) -> None:
    client, sid = await env.open_engine()
    client.send(client_frame(ws.CLOSE, ws.close_frame(3001, "bye")[2:]))
    await client.expect_close(3001)
    await env.forgotten(sid)


async def test_server_close_waits_for_the_client_then_gives_up(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that never answers the server's close frame is cut off after the timeout."""
    monkeypatch.setattr(wsconn, "CLOSE_TIMEOUT", 0.3)
    client, sid = await env.open_engine()
    client.send_text("4")  # an Engine.IO message without its Socket.IO packet: parse error
    opcode, payload = await client.recv_frame()
    assert opcode == ws.CLOSE and ws.parse_close(payload)[0] == 1000
    await client.expect_eof()  # we never answered
    await env.forgotten(sid)


async def test_server_close_completes_when_the_client_answers(env: Env) -> None:
    client, sid = await env.open_engine()
    client.send_text("9")  # not an Engine.IO packet type
    opcode, _payload = await client.recv_frame()
    assert opcode == ws.CLOSE
    client.send(client_frame(ws.CLOSE, b"\x03\xe8"))
    await client.expect_eof()
    await env.forgotten(sid)


async def test_a_client_that_vanishes_mid_frame(env: Env) -> None:
    client, sid = await env.open_engine()
    client.send(client_frame(ws.TEXT, b"40/test," + b"x" * 500)[:100])
    await client.writer.drain()
    client.close()
    await env.forgotten(sid)


# -- framing violations -------------------------------------------------------------------------

VIOLATIONS = [
    ("unmasked frame", b"\x81\x0240", 1002),
    ("reserved bit", bytes((0xC1, 0x80)) + b"\x00" * 4, 1002),
    ("unknown opcode", client_frame(0x5, b"x"), 1002),
    ("text that is not UTF-8", client_frame(ws.TEXT, b"4\xff"), 1007),
    ("message over maxPayload", client_frame(ws.TEXT, b"4" * (MAX_PAYLOAD + 1)), 1009),
    ("continuation first", client_frame(0x0, b"x"), 1002),
]


@pytest.mark.parametrize(("case", "data", "code"), VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
async def test_framing_violations_close_with_their_code(
    env: Env, case: str, data: bytes, code: int
) -> None:
    client, sid = await env.open_engine()
    client.send(data)
    await client.expect_close(code)
    await env.forgotten(sid)


async def test_data_after_the_close_frame_is_ignored(env: Env) -> None:
    client, sid = await env.open_engine()
    client.send(client_frame(ws.CLOSE, b"\x03\xe8") + client_frame(ws.TEXT, b"40/test,"))
    await client.expect_close(1000)
    await env.forgotten(sid)


# -- TLS: the socket stays with Tornado ---------------------------------------------------------


async def test_websocket_over_tls() -> None:
    router = Router(namespaces(Record()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    http = HTTPServer(router.application(), ssl_options=context)
    sockets = bind_sockets(0, "127.0.0.1")
    http.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    client_context = ssl.create_default_context(cafile=str(TLS / "cert.pem"))
    try:
        from tornado.httpclient import HTTPRequest

        request = HTTPRequest(f"wss://127.0.0.1:{port}{EIO_WS}", ssl_options=client_context)
        conn = await asyncio.wait_for(websocket_connect(request), TIMEOUT)
        opened = await asyncio.wait_for(conn.read_message(), TIMEOUT)
        assert isinstance(opened, str) and opened.startswith("0{")
        await conn.write_message("40/test,")
        assert str(await asyncio.wait_for(conn.read_message(), TIMEOUT)).startswith("40/test,{")
        await conn.write_message('42/test,3["echo","secret"]')
        assert await asyncio.wait_for(conn.read_message(), TIMEOUT) == '43/test,3["secret"]'
        sid = json.loads(opened[1:])["sid"]
        conn.close()
        await eventually(lambda: sid not in router.manager.engines, message="session gone")
    finally:
        http.stop()
        router.manager.close_all()
        await http.close_all_connections()


# -- what a session keeps of the request that opened it ------------------------------------------


class Keeper(BaseNamespace):
    """Records what its request says, and the request itself."""

    seen: list[Any] = []

    def recv_connect(self) -> None:
        request = self.request
        assert request is not None
        Keeper.seen.append(request)


@pytest.mark.parametrize("kind", ["legacy", "modern"])
async def test_a_session_keeps_its_request_but_not_the_connection(kind: str) -> None:
    """Namespaces read the request (headers, cookies, remote IP, query) for as long as the
    session lives; the connection it came on, with its stream and buffers, is not kept."""
    Keeper.seen = []
    server = await InLoopServer.start({"": Keeper, "/k": Keeper})
    try:
        headers = {"Cookie": "flavour=mint", "X-Probe": "yes"}
        if kind == "legacy":
            sid = (await handshake(server.base))[0]
            client = await RawWebSocket.connect(
                server.port, path=f"/socket.io/1/websocket/{sid}?q=1", headers=headers
            )
            assert await client.recv_text() == "1::"
            client.send_text("1::/k")
            assert await client.recv_text() == "1::/k"
        else:
            client = await RawWebSocket.connect(server.port, path=EIO_WS + "&q=1", headers=headers)
            assert (await client.recv_text()).startswith("0{")
            client.send_text("40/k,")
            assert (await client.recv_text()).startswith("40/k,{")
        request = Keeper.seen[-1]
        assert request.connection is None and request.server_connection is None
        assert request.cookies["flavour"].value == "mint"
        assert request.headers["X-Probe"] == "yes"
        assert request.remote_ip == "127.0.0.1"
        assert request.query_arguments["q"] == [b"1"]
        client.close()
    finally:
        await server.stop()


async def test_a_client_that_stops_reading_is_dropped_past_max_write_buffer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server's memory for one stalled client is bounded: once the kernel's buffers are
    full and more than ``max_write_buffer`` waits in the server, the connection is dropped
    and its session ends; a client that reads is not disturbed."""
    server = await InLoopServer.start(namespaces(Record()), max_write_buffer=64_000)
    reader = await EngineWebSocket.open(server.base)
    try:
        await reader.join("/test")
        stalled, sid = await Env(server, reader).open_engine()
        stalled.send_text("40/test,")
        socket_sid = json.loads((await stalled.recv_text())[len("40/test,") :])["sid"]
        payload = "x" * 100_000
        sent = 0
        # The stalled client reads nothing more; the kernel absorbs a few MB, then the
        # server's own buffer grows until it passes the limit.
        while sid in server.manager.engines and sent < 2_000:
            server.manager.emit("big", payload, namespace="/test", to=socket_sid)
            sent += 1
            await asyncio.sleep(0)
        assert sid not in server.manager.engines, f"still connected after {sent} MB-ish"
        assert any("past max_write_buffer" in r.getMessage() for r in caplog.records)
        assert await reader.exchange("/test", "not disturbed")
        stalled.close()
    finally:
        reader.close()
        await server.stop()
