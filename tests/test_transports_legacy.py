"""The legacy HTTP surface, request by request: handshake, polling, websocket, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.websocket import websocket_connect

from tests.support.inloop import InLoopServer
from tests.support.legacy_client import CLOSED, LegacyClient, fetch, handshake
from tests.support.waiting import eventually
from tornio import BaseNamespace, RoomsMixin


class Echo(BaseNamespace, RoomsMixin):
    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args

    def on_join(self, room: str) -> bool:
        self.join(room)
        return True


NAMESPACES = {"": Echo, "/chat": Echo}


@pytest.fixture
async def server() -> Any:
    srv = await InLoopServer.start(NAMESPACES)
    yield srv
    await srv.stop()


async def start(**settings: Any) -> InLoopServer:
    return await InLoopServer.start(NAMESPACES, **settings)


# -- handshake ------------------------------------------------------------------------------


async def test_handshake_answers_sid_timeouts_and_transports(server: InLoopServer) -> None:
    sid, heartbeat, close, transports = await handshake(server.base)
    assert len(sid) == 20 and sid in server.manager.sockets
    assert (heartbeat, close) == ("60", "60")
    assert transports.split(",")[:4] == ["websocket", "htmlfile", "xhr-polling", "jsonp-polling"]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", ["/socket.io/1/", "/socket.io/1"])
async def test_handshake_by_get_or_post_with_or_without_slash(
    server: InLoopServer, method: str, path: str
) -> None:
    response = await fetch(
        server.base + path + "?t=1", method=method, body=b"" if method == "POST" else None
    )
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert len(response.body.decode().split(":")) == 4


async def test_session_ids_are_unique_and_unpredictable(server: InLoopServer) -> None:
    sids = [(await handshake(server.base))[0] for _ in range(50)]
    assert len(set(sids)) == 50
    assert all(not sid.isdigit() for sid in sids)


async def test_handshake_echoes_a_listed_origin_with_credentials() -> None:
    srv = await start(origins=["http://a.example"])
    try:
        response = await fetch(srv.base + "/socket.io/1/", headers={"Origin": "http://a.example"})
        assert response.headers["Access-Control-Allow-Origin"] == "http://a.example"
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
    finally:
        await srv.stop()


async def test_jsonp_handshake(server: InLoopServer) -> None:
    # A <script> sends no Origin; a JSONP handshake shows its page by Referer.
    page = {"Referer": server.base + "/chat.html"}
    response = await fetch(server.base + "/socket.io/1/?t=1&jsonp=3", headers=page)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    body = response.body.decode()
    assert body.startswith("io.j[3](") and body.endswith(");")
    assert json.loads(body[len("io.j[3](") : -2]).count(":") == 3


async def test_jsonp_handshake_with_a_bad_index_is_400(server: InLoopServer) -> None:
    response = await fetch(server.base + "/socket.io/1/?jsonp=alert(1)")
    assert response.code == 400
    assert b"alert" not in response.body


async def test_origins_allowlist_refuses_other_origins() -> None:
    srv = await start(origins=["good.example:80", "*:8443"])
    try:
        ok = await fetch(srv.base + "/socket.io/1/", headers={"Origin": "http://good.example"})
        any_host = await fetch(
            srv.base + "/socket.io/1/", headers={"Origin": "https://x.example:8443"}
        )
        bad = await fetch(srv.base + "/socket.io/1/", headers={"Origin": "http://evil.example"})
        missing = await fetch(srv.base + "/socket.io/1/")  # no Origin: not a browser
        assert (ok.code, any_host.code, bad.code, missing.code) == (200, 200, 403, 200)
        assert bad.body == b"handshake bad origin"
        assert len(srv.manager.sockets) == 3
    finally:
        await srv.stop()


@pytest.mark.server_errors(
    ("tornio.legacy.transports.handshake", "the authorize hook failed"),
    ("tornado.access", "^500 GET /socket.io/1/"),
)
async def test_authorize_hook_refuses_with_403_and_errors_with_500() -> None:
    async def authorize(request: Any) -> bool:
        if request.headers.get("X-Crash"):
            raise RuntimeError("boom")
        return request.headers.get("Cookie") == "user=ok"

    srv = await start(authorize=authorize)
    try:
        ok = await fetch(srv.base + "/socket.io/1/", headers={"Cookie": "user=ok"})
        refused = await fetch(srv.base + "/socket.io/1/", headers={"Cookie": "user=no"})
        crashed = await fetch(srv.base + "/socket.io/1/", headers={"X-Crash": "1"})
        assert (ok.code, refused.code, crashed.code) == (200, 403, 500)
        assert refused.body == b"handshake unauthorized"
        assert crashed.body == b"handshake error"
        assert len(srv.manager.sockets) == 1
    finally:
        await srv.stop()


@pytest.mark.server_errors(
    ("tornado.access", "^500 GET /socket.io/2/"),
    ("tornado.access", "^500 GET /socket.io/0/xhr-polling/abc"),
    ("tornado.access", "^500 GET /socket.io/12/"),
)
async def test_protocol_version_other_than_1_is_500(server: InLoopServer) -> None:
    for path in ("/socket.io/2/", "/socket.io/0/xhr-polling/abc", "/socket.io/12/"):
        response = await fetch(server.base + path)
        assert response.code == 500, path
        assert response.body == b"Protocol version not supported."


async def test_resource_root_welcomes(server: InLoopServer) -> None:
    response = await fetch(server.base + "/socket.io")
    assert (response.code, response.body) == (200, b"Welcome to socket.io.")


async def test_unused_handshakes_expire() -> None:
    srv = await start(handshake_timeout=0.05)
    try:
        await handshake(srv.base)
        assert len(srv.manager.sockets) == 1
        await eventually(lambda: not srv.manager.sockets, message="the handshake expired")
    finally:
        await srv.stop()


# -- polling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["xhr-polling", "jsonp-polling"])
async def test_first_poll_connects_and_a_held_poll_ends_with_noop(transport: str) -> None:
    srv = await start(polling_duration=0.1)
    try:
        client = LegacyClient(srv.base, transport)
        client.sid = (await handshake(srv.base))[0]
        first = await client.poll_once()
        assert client.decode_answer(first.body) == "1::"
        held = await client.poll_once()
        assert client.decode_answer(held.body) == "8::"
    finally:
        await srv.stop()


async def test_xhr_polling_headers() -> None:
    srv = await start(origins="http://a.example")
    try:
        sid = (await handshake(srv.base))[0]
        url = f"{srv.base}/socket.io/1/xhr-polling/{sid}?t=1"
        get = await fetch(url, headers={"Origin": "http://a.example"})
        assert get.headers["Content-Type"] == "text/plain; charset=UTF-8"
        assert get.headers["Access-Control-Allow-Origin"] == "http://a.example"
        post = await fetch(url, method="POST", body=b"2::", headers={"Origin": "http://a.example"})
        assert (post.code, post.body) == (200, b"1")
        assert post.headers["Access-Control-Allow-Credentials"] == "true"
    finally:
        await srv.stop()


async def test_jsonp_answer_is_a_script_call_with_a_json_string(server: InLoopServer) -> None:
    sid = (await handshake(server.base))[0]
    response = await fetch(f"{server.base}/socket.io/1/jsonp-polling/{sid}?t=1&i=7")
    assert response.headers["Content-Type"] == "text/javascript; charset=UTF-8"
    assert response.body == b'io.j[7]("1::");'


async def test_packets_buffered_between_polls_arrive_framed(server: InLoopServer) -> None:
    client = LegacyClient(server.base, "xhr-polling")
    client.sid = (await handshake(server.base))[0]
    assert (await client.poll_once()).body == b"1::"
    socket = server.manager.sockets[client.sid]
    socket.send_packet({"type": "message", "data": "one", "endpoint": ""})
    socket.send_packet({"type": "message", "data": "two \U0001f600", "endpoint": ""})
    response = await client.poll_once()
    # Lengths count UTF-16 units, as JavaScript does: the emoji counts 2.
    assert response.body.decode() == "\ufffd7\ufffd3:::one\ufffd10\ufffd3:::two \U0001f600"


@pytest.mark.parametrize("transport", ["xhr-polling", "jsonp-polling", "websocket"])
async def test_multiline_and_framed_packets_arrive_intact(
    server: InLoopServer, transport: str
) -> None:
    client = await LegacyClient(server.base, transport).connect()
    await client.send('5:1+::{"name":"echo","args":["a\\nb"]}', "3:2+::line1\nline2 \U0001f600")
    assert await client.recv() == '6:::1+["a\\nb"]'
    assert await client.recv() == '6:::2+["line1\\nline2 \\ud83d\\ude00"]'
    await client.close()


async def test_unknown_sid_gets_client_not_handshaken(server: InLoopServer) -> None:
    xhr = await fetch(f"{server.base}/socket.io/1/xhr-polling/nope?t=1")
    assert (xhr.code, xhr.body) == (200, b"7:::1+0")
    jsonp = await fetch(f"{server.base}/socket.io/1/jsonp-polling/nope?t=1&i=2")
    assert jsonp.body == b'io.j[2]("7:::1+0");'
    post = await fetch(f"{server.base}/socket.io/1/xhr-polling/nope", method="POST", body=b"2::")
    assert post.body == b"7:::1+0"
    ws = await websocket_connect(f"ws://127.0.0.1:{server.port}/socket.io/1/websocket/nope")
    assert await ws.read_message() == "7:::1+0"
    assert await ws.read_message() is None


async def test_forced_disconnect_ends_the_session(server: InLoopServer) -> None:
    for url in ("/socket.io/1/xhr-polling/{sid}?disconnect", "/socket.io/1//{sid}/?disconnect=1"):
        client = await LegacyClient(server.base, "xhr-polling").connect()
        response = await fetch(server.base + url.format(sid=client.sid))
        assert (response.code, response.body) == (200, b"")
        assert client.sid not in server.manager.sockets
        await client.close()


async def test_polling_session_ends_after_close_timeout() -> None:
    srv = await start(close_timeout=0.1, polling_duration=0.05)
    try:
        client = await LegacyClient(srv.base, "xhr-polling").connect()
        await client.close()
        await eventually(lambda: client.sid not in srv.manager.sockets, message="session gone")
    finally:
        await srv.stop()


async def test_websocket_heartbeats_and_heartbeat_timeout() -> None:
    srv = await start(heartbeat_interval=0.05, heartbeat_timeout=0.3)
    try:
        client = await LegacyClient(srv.base, "websocket").connect()
        assert await client.recv(skip_heartbeats=False) == "2::"
        await client.send("2::")
        assert await client.recv(skip_heartbeats=False) == "2::"
        # Now stay silent: the server closes the websocket after the heartbeat timeout.
        while await client.recv(timeout=2) != CLOSED:
            pass
        assert client.sid not in srv.manager.sockets
    finally:
        await srv.stop()


# -- bad input --------------------------------------------------------------------------------


async def test_unknown_transport_is_400(server: InLoopServer) -> None:
    sid = (await handshake(server.base))[0]
    response = await fetch(f"{server.base}/socket.io/1/carrier-pigeon/{sid}")
    assert response.code == 400
    assert sid in server.manager.sockets


async def test_disabled_transport_is_not_served() -> None:
    srv = await start(transports=["websocket"])
    try:
        sid, _, _, transports = await handshake(srv.base)
        assert transports == "websocket"
        response = await fetch(f"{srv.base}/socket.io/1/xhr-polling/{sid}")
        assert response.code == 400
    finally:
        await srv.stop()


async def test_jsonp_poll_with_non_numeric_index_is_400(server: InLoopServer) -> None:
    sid = (await handshake(server.base))[0]
    response = await fetch(f"{server.base}/socket.io/1/jsonp-polling/{sid}?t=1&i=x);alert(1")
    assert response.code == 400
    assert b"alert" not in response.body


async def test_oversized_post_is_413_and_other_sessions_do_not_notice() -> None:
    srv = await start(max_buffer_size=1000)
    try:
        bystander = await LegacyClient(srv.base, "websocket").connect()
        victim = await LegacyClient(srv.base, "xhr-polling").connect()
        big = ("3:::" + "x" * 2000).encode()
        response = await fetch(victim.url, method="POST", body=big)
        assert response.code == 413
        await bystander.send('5:1+::{"name":"echo","args":["still here"]}')
        assert await bystander.recv() == '6:::1+["still here"]'
        await victim.send('5:1+::{"name":"echo","args":["me too"]}')
        assert await victim.recv() == '6:::1+["me too"]'
        await bystander.close()
        await victim.close()
    finally:
        await srv.stop()


async def test_default_buffer_limit_is_one_megabyte(server: InLoopServer) -> None:
    client = await LegacyClient(server.base, "xhr-polling").connect()
    response = await fetch(client.url, method="POST", body=b"3:::" + b"x" * 1_000_001)
    assert response.code == 413
    await client.close()


async def test_bad_jsonp_post_body_is_400(server: InLoopServer) -> None:
    client = await LegacyClient(server.base, "jsonp-polling").connect()
    for body in (b"d=not-json", b"x=1", b"d=%5B1%5D"):
        response = await fetch(client.url, method="POST", body=body)
        assert response.code == 400, body
    await client.send('5:1+::{"name":"echo","args":[1]}')
    assert await client.recv() == "6:::1+[1]"
    await client.close()


@pytest.mark.parametrize("transport", ["xhr-polling", "jsonp-polling", "websocket"])
async def test_bad_packets_get_error_events_and_the_session_lives(
    server: InLoopServer, transport: str
) -> None:
    client = await LegacyClient(server.base, transport).connect()
    await client.send("1::/chat")
    assert await client.recv() == "1::/chat"
    cases = [
        ("garbage", "", "invalid_packet"),
        ("5::/chat:{not json", "/chat", "invalid_packet"),
        ('5::/nowhere:{"name":"echo"}', "/nowhere", "no_such_namespace"),
        ('5::/chat:{"name":"$evil"}', "/chat", "unallowed_event_name"),
        ('5::/chat:{"name":"missing"}', "/chat", "no_such_method"),
    ]
    for wire, endpoint, error in cases:
        await client.send(wire)
        got_endpoint, name, args = await client.recv_event()
        assert (got_endpoint, name, args[0]) == (endpoint, "error", error), wire
    await client.send('5:9+:/chat:{"name":"echo","args":["alive"]}')
    assert await client.recv() == '6::/chat:9+["alive"]'
    await client.close()


async def test_bad_framing_gets_an_error_event(server: InLoopServer) -> None:
    client = await LegacyClient(server.base, "xhr-polling").connect()
    response = await fetch(client.url, method="POST", body="\ufffd99\ufffd3:::x".encode())
    assert response.code == 200
    endpoint, name, args = await client.recv_event()
    assert (endpoint, name, args[0]) == ("", "error", "invalid_packet")
    await client.close()
