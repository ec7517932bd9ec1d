"""flashsocket at protocol level: the hixie-76 handshake (digest, key3 arriving late or never),
its framing and closing, bad handshakes and frames, RFC 6455 on the same path, and the bridge's
SWF files."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from tornado.websocket import websocket_connect

from tests.support.inloop import InLoopServer
from tests.support.legacy_client import CLOSED, LegacyClient, fetch, handshake
from tests.support.raw_flashsocket import hixie_headers, raw_request
from tests.support.stream_clients import FlashSocketClient
from tests.support.waiting import eventually
from tornio import BaseNamespace
from tornio.legacy.transports import flashsocket

pytestmark = pytest.mark.timeout(30)

NODE_MODULES = Path(__file__).resolve().parent / "js" / "node_modules"
LEGACY_PACKAGE = NODE_MODULES / "socket.io-client-legacy"


class Echo(BaseNamespace):
    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args


NAMESPACES = {"": Echo, "/chat": Echo}


@pytest.fixture
async def server() -> Any:
    srv = await InLoopServer.start(NAMESPACES)
    yield srv
    await srv.stop()


async def gone(srv: InLoopServer, sid: str) -> bool:
    await eventually(lambda: sid not in srv.manager.sockets, message=f"session {sid} gone")
    return True


@pytest.mark.parametrize("late_key3", [False, True], ids=["key3 with headers", "key3 late"])
async def test_hixie76_handshake_and_session(server: InLoopServer, late_key3: bool) -> None:
    client = await FlashSocketClient(server.base, late_key3=late_key3).connect()
    socket = server.manager.sockets[client.sid]
    assert socket.engine.sink.transport == "flashsocket"
    await client.send('5:1+::{"name":"echo","args":["\u00e9 \U0001f600"]}')
    assert await client.recv() == '6:::1+["\\u00e9 \\ud83d\\ude00"]'
    # Several packets in one frame, framed as a polling payload.
    await client.send("\ufffd8\ufffd1::/chat\ufffd3\ufffd2::")
    assert await client.recv() == "1::/chat"
    socket.send_packet({"type": "message", "data": "\u00ff\u00fe", "endpoint": ""})
    assert await client.recv() == "3:::\u00ff\u00fe"
    await client.close()  # sends the closing frame
    assert await gone(server, client.sid)


async def test_the_drafts_example_digest_and_key3_in_two_segments(server: InLoopServer) -> None:
    sid = (await handshake(server.base))[0]
    reader, writer = await raw_request(server, sid, hixie_headers(server.base), b"^n:d")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.1)  # half of key3: no answer yet
    writer.write(b"s[4U")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n")
    assert f"\r\nSec-WebSocket-Origin: {server.base}\r\n".encode() in head
    location = f"ws://127.0.0.1:{server.port}/socket.io/1/flashsocket/{sid}"
    assert f"\r\nSec-WebSocket-Location: {location}\r\n".encode() in head
    assert await reader.readexactly(16) == b"8jKS'y:G*Co,Wxa-"
    assert await reader.readexactly(5) == b"\x001::\xff"
    writer.write(b"\x000::\xff")
    assert await reader.read() == b"\xff\x00"  # our disconnect ends it: closing frame, EOF
    writer.close()
    assert await gone(server, sid)


async def test_key3_that_never_comes(server: InLoopServer, monkeypatch: Any) -> None:
    monkeypatch.setattr(flashsocket, "KEY3_TIMEOUT", 0.1)
    sid = (await handshake(server.base))[0]
    reader, writer = await raw_request(server, sid, hixie_headers(server.base), b"1234")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed without an answer
    writer.close()
    assert server.manager.sockets[sid].engine.sink is None


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"Sec-WebSocket-Key1": None}, 400),
        ({"Sec-WebSocket-Key2": "12345"}, 400),
        ({"Sec-WebSocket-Key1": "1 2 3"}, 400),
        ({"Upgrade": "h2c"}, 400),
        ({"Connection": "keep-alive"}, 400),
    ],
    ids=["hixie-75", "no spaces", "not a multiple", "not websocket", "no upgrade"],
)
async def test_bad_handshakes_are_refused(
    server: InLoopServer, change: dict[str, str | None], status: int
) -> None:
    sid = (await handshake(server.base))[0]
    headers = hixie_headers(server.base)
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    reader, writer = await raw_request(server, sid, headers, b"^n:ds[4U")
    line = await reader.readline()
    assert line.split()[1] == str(status).encode(), line
    writer.close()


async def test_origins_setting_applies() -> None:
    srv = await InLoopServer.start(NAMESPACES, origins=["good.example:80"])
    try:
        good = FlashSocketClient(srv.base, origin="http://good.example")
        good.sid = srv.manager.create_socket().sessid
        await good.open()
        assert await good.recv() == "1::"
        await good.close()
        sid = srv.manager.create_socket().sessid
        reader, writer = await raw_request(srv, sid, hixie_headers("http://evil.example"))
        assert (await reader.readline()).split()[1] == b"403"
        writer.close()
    finally:
        await srv.stop()


async def test_unknown_sid(server: InLoopServer) -> None:
    reader, writer = await raw_request(server, "nope", hixie_headers(server.base), b"^n:ds[4U")
    await reader.readuntil(b"\r\n\r\n")
    assert await reader.readexactly(16) == b"8jKS'y:G*Co,Wxa-"
    assert await reader.read() == b"\x007:::1+0\xff\xff\x00"
    writer.close()


@pytest.mark.parametrize(
    "frame",
    [b"\x00\xc3\x28\xff", b"\x00" + b"x" * 2000 + b"\xff", b"\x80\xff\xff\xff\x7f"],
    ids=["not utf-8", "too large", "huge length"],
)
async def test_bad_frames_close_only_that_connection(frame: bytes) -> None:
    srv = await InLoopServer.start(NAMESPACES, max_buffer_size=1000)
    try:
        bystander = await FlashSocketClient(srv.base).connect()
        victim = await FlashSocketClient(srv.base).connect()
        assert victim.writer is not None
        victim.writer.write(frame)
        assert await victim.recv() == CLOSED
        assert await gone(srv, victim.sid)
        await bystander.send('5:1+::{"name":"echo","args":[1]}')
        assert await bystander.recv() == "6:::1+[1]"
        await victim.close()
        await bystander.close()
    finally:
        await srv.stop()


async def test_rfc6455_on_the_flashsocket_path(server: InLoopServer) -> None:
    sid = (await handshake(server.base))[0]
    ws = await websocket_connect(f"ws://127.0.0.1:{server.port}/socket.io/1/flashsocket/{sid}")
    assert await ws.read_message() == "1::"
    assert server.manager.sockets[sid].engine.sink.transport == "flashsocket"
    await ws.write_message('5:1+::{"name":"echo","args":["rfc"]}')
    assert await ws.read_message() == '6:::1+["rfc"]'
    ws.close()
    assert await gone(server, sid)


async def test_forced_disconnect_on_the_flashsocket_url(server: InLoopServer) -> None:
    client = await FlashSocketClient(server.base).connect()
    response = await fetch(f"{server.base}/socket.io/1/flashsocket/{client.sid}?disconnect")
    assert (response.code, response.body) == (200, b"")
    assert await client.recv() == CLOSED
    await client.close()


async def test_the_bridge_swf_files_are_served_from_the_client_package() -> None:
    assert (LEGACY_PACKAGE / "dist" / "WebSocketMain.swf").is_file(), "run scripts/setup"
    srv = await InLoopServer.start(NAMESPACES, client_package=str(LEGACY_PACKAGE))
    try:
        for name in ("WebSocketMain.swf", "WebSocketMainInsecure.swf"):
            response = await fetch(f"{srv.base}/socket.io/static/flashsocket/{name}")
            assert response.code == 200
            assert response.headers["Content-Type"] == "application/x-shockwave-flash"
            assert response.body == (LEGACY_PACKAGE / "dist" / name).read_bytes()
            assert response.body[:3] in (b"FWS", b"CWS")
        other = await fetch(f"{srv.base}/socket.io/static/flashsocket/socket.io.js")
        assert other.code == 404
    finally:
        await srv.stop()
    for settings in ({}, {"client_package": str(LEGACY_PACKAGE), "transports": ["websocket"]}):
        srv = await InLoopServer.start(NAMESPACES, **settings)
        try:
            response = await fetch(f"{srv.base}/socket.io/static/flashsocket/WebSocketMain.swf")
            assert response.code == 404, settings
        finally:
            await srv.stop()
    assert flashsocket.find_swf(os.devnull, "WebSocketMain.swf") is None


async def test_flashsocket_and_websocket_clients_share_rooms(server: InLoopServer) -> None:
    flash = await FlashSocketClient(server.base).connect()
    web = await LegacyClient(server.base, "websocket").connect()
    server.manager.emit("news", "to all")
    assert await flash.recv_event() == ("", "news", ["to all"])
    assert await web.recv_event() == ("", "news", ["to all"])
    await flash.close()
    await web.close()
