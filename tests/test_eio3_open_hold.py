"""An Engine.IO v3 websocket that opens a session gets its open packet in a later read than
the 101 response (``EIO3_OPEN_HOLD`` after it).

Why: node's ``ws`` client hands bytes that arrived with the 101 to its frame parser in the
same tick as the ``open`` event, so a message in them is emitted before a listener added
after ``await``-ing ``open`` exists. The official Engine.IO v3 suite does exactly that
("message › WebSocket › sends and receives a plain text packet" waits for ``open``, then for
the handshake message), and timed out whenever the two came in one read (a busy client).

The test is deterministic: the server runs on the test's own event loop, and the client's
socket is read (without blocking) as soon as the server has opened the session; the hold's
timer cannot have fired by then (it runs on the same loop, and is not due for 20 ms). Without
the hold, the open packet is in the kernel's buffer already, in the same read as the 101
(the v4 case shows the reading method sees that).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.support.raw_websocket import client_frame
from tornio.modern import transports
from tornio.modern.endpoint import EngineConnection, EngineEndpoint
from tornio.protocol import websocket as ws

TIMEOUT = 10


class Server:
    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.endpoint = EngineEndpoint(
            "/engine.io",
            on_connect=lambda conn: self.opened.set(),
            on_message=lambda conn, data: conn.send(data),
            allow_eio3=True,
        )
        self.http = HTTPServer(tornado.web.Application(self.endpoint.urls))
        self.sockets = bind_sockets(0, "127.0.0.1")
        self.http.add_sockets(self.sockets)
        self.port = self.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.http.stop()
        self.endpoint.close_all()
        await self.http.close_all_connections()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    running = Server()
    yield running
    await running.stop()


async def upgrade(server: Server, query: str) -> socket.socket:
    """A raw client socket whose upgrade request has been sent; returns once the server has
    opened the session (its ``on_connect`` ran)."""
    loop = asyncio.get_running_loop()
    client = socket.socket()
    client.setblocking(False)
    await loop.sock_connect(client, ("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /engine.io/?{query} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(client, request.encode())
    await asyncio.wait_for(server.opened.wait(), TIMEOUT)
    return client


def available(client: socket.socket) -> bytes:
    """Everything the kernel holds for the client right now (no waiting)."""
    try:
        return client.recv(1 << 20)
    except BlockingIOError:
        return b""


async def read_frame(client: socket.socket, buffered: bytes) -> tuple[int, bytes, bytes]:
    """The next server frame: (opcode, payload, what is left over)."""
    loop = asyncio.get_running_loop()
    data = buffered
    while True:
        if len(data) >= 2:
            length, head = data[1] & 0x7F, 2
            if length == 126:
                length, head = int.from_bytes(data[2:4], "big"), 4
            if len(data) >= head + length:
                return data[0] & 0x0F, data[head : head + length], data[head + length :]
        chunk = await asyncio.wait_for(loop.sock_recv(client, 65536), TIMEOUT)
        assert chunk, "the server closed the connection"
        data += chunk


def open_packet(payload: bytes) -> dict[str, Any]:
    text = payload.decode()
    assert text.startswith("0{"), text
    return dict(json.loads(text[1:]))


async def test_an_eio3_websocket_gets_its_open_packet_after_the_101_not_with_it(
    server: Server,
) -> None:
    client = await upgrade(server, "EIO=3&transport=websocket")
    try:
        first = available(client)
        head, sep, rest = first.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ") and sep, first
        assert rest == b"", f"the open packet came in the same read as the 101: {first!r}"
        loop = asyncio.get_running_loop()
        started = loop.time()
        opcode, payload, rest = await read_frame(client, b"")
        assert loop.time() - started >= transports.EIO3_OPEN_HOLD * 0.5
        assert opcode == ws.TEXT and open_packet(payload)["upgrades"] == []
        # The session works as usual afterwards: an echo, with nothing held any more.
        await loop.sock_sendall(client, client_frame(ws.TEXT, b"4hello"))
        opcode, payload, rest = await read_frame(client, rest)
        assert (opcode, payload) == (ws.TEXT, b"4hello")
    finally:
        client.close()


async def test_an_eio4_websocket_is_not_held(server: Server) -> None:
    """v4 clients attach their listeners at once: nothing is held. (Also what shows that
    reading this way does see an open packet that came with the 101.)"""
    client = await upgrade(server, "EIO=4&transport=websocket")
    try:
        first = available(client)
        head, sep, rest = first.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ") and sep, first
        opcode, payload, _ = await read_frame(client, rest)
        assert rest, "the v4 open packet was expected with the 101"
        assert opcode == ws.TEXT and open_packet(payload)["sid"]
    finally:
        client.close()


async def test_a_held_open_packet_goes_out_before_a_close(server: Server) -> None:
    """A session closed while its first writes are held: they go out, then the close."""
    client = await upgrade(server, "EIO=3&transport=websocket")
    try:
        assert available(client).startswith(b"HTTP/1.1 101 ")
        (conn,) = server.endpoint.connections.values()
        assert isinstance(conn, EngineConnection)
        conn.close()
        opcode, payload, rest = await read_frame(client, b"")
        assert opcode == ws.TEXT and open_packet(payload)
        # The Engine.IO close packet, then the websocket close frame.
        frames = []
        while True:
            opcode, payload, rest = await read_frame(client, rest)
            frames.append((opcode, payload))
            if opcode == ws.CLOSE:
                break
        assert frames[-1][0] == ws.CLOSE, frames
    finally:
        client.close()
