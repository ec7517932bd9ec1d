"""Writes coalesced (tornio/transports/coalesce.py) on a real server, counted on the server's
side of the socket (each websocket transport write is one ``send()``;
:mod:`tests.support.recording_wire`): the acks of events that arrive in one read leave in one
write, for both generations; a pong and the close answer keep their place among them; what
one pass of the loop sends a socket (several emits) leaves in one write; the 101 response
and the open packet leave together. The 0.9 streams too: xhr-multipart's parts of one pass
share one HTTP chunk, hixie-76's frames one write (htmlfile keeps node's chunk per write,
tests/test_transports_streaming.py). ``max_write_buffer`` is tests/test_write_buffer.py's."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.apps.probe import Record, namespaces
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import handshake
from tests.support.raw_websocket import RawWebSocket, client_frame
from tests.support.recording_wire import RecordingWire, record_websocket_writes, server_frames
from tests.support.stream_clients import FlashSocketClient, open_raw_get
from tornio import Router
from tornio.protocol import hixie76
from tornio.protocol import websocket as ws

BURST = 8
TLS = Path(__file__).parent / "support" / "tls"


@pytest.fixture
async def server() -> AsyncIterator[InLoopServer]:
    server = await InLoopServer.start(namespaces(Record()))
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def wires(monkeypatch: pytest.MonkeyPatch) -> list[RecordingWire]:
    return record_websocket_writes(monkeypatch)


async def modern_client(server: InLoopServer) -> RawWebSocket:
    client = await RawWebSocket.connect(server.port)
    assert (await client.recv_text()).startswith("0{")
    client.send_text("40/test,")
    assert (await client.recv_text()).startswith("40/test,{")
    return client


async def legacy_client(server: InLoopServer) -> RawWebSocket:
    sid = (await handshake(server.base))[0]
    client = await RawWebSocket.connect(server.port, path=f"/socket.io/1/websocket/{sid}")
    assert await client.recv_text() == "1::"
    client.send_text("1::/test")
    assert await client.recv_text() == "1::/test"
    return client


def text_frames(texts: list[str]) -> list[tuple[int, bytes]]:
    return [(ws.TEXT, t.encode()) for t in texts]


@pytest.mark.parametrize("generation", ["modern", "legacy"])
async def test_the_acks_of_one_read_leave_in_one_write(
    server: InLoopServer, wires: list[RecordingWire], generation: str
) -> None:
    if generation == "modern":
        client = await modern_client(server)
        events = [f'42/test,{i}["echo",{i}]' for i in range(BURST)]
        acks = [f"43/test,{i}[{i}]" for i in range(BURST)]
    else:
        client = await legacy_client(server)
        events = [f'5:{i}+:/test:{{"name":"echo","args":[{i}]}}' for i in range(BURST)]
        acks = [f"6::/test:{i}+[{i}]" for i in range(BURST)]
    wire = wires[-1]
    before = len(wire.writes)
    client.send(b"".join(client_frame(ws.TEXT, e.encode()) for e in events))  # one TCP write
    assert [await client.recv_text() for _ in acks] == acks
    assert [server_frames(w) for w in wire.writes[before:]] == [text_frames(acks)]
    client.close()


async def test_over_tls_too(wires: list[RecordingWire]) -> None:
    """A TLS stream stays with Tornado (wsconn.StreamTransport): its writes are coalesced
    all the same."""
    router = Router(namespaces(Record()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    http = HTTPServer(router.application(), ssl_options=context)
    sockets = bind_sockets(0, "127.0.0.1")
    http.add_sockets(sockets)
    try:
        tls = ssl.create_default_context(cafile=str(TLS / "cert.pem"))
        client = await RawWebSocket.connect(sockets[0].getsockname()[1], tls=tls)
        assert (await client.recv_text()).startswith("0{")
        client.send_text("40/test,")
        assert (await client.recv_text()).startswith("40/test,{")
        wire = wires[-1]
        before = len(wire.writes)
        events = [f'42/test,{i}["echo",{i}]' for i in range(BURST)]
        acks = [f"43/test,{i}[{i}]" for i in range(BURST)]
        client.send(b"".join(client_frame(ws.TEXT, e.encode()) for e in events))
        assert [await client.recv_text() for _ in acks] == acks
        assert [server_frames(w) for w in wire.writes[before:]] == [text_frames(acks)]
        client.close()
    finally:
        http.stop()
        router.manager.close_all()
        await http.close_all_connections()


async def test_a_pong_and_the_close_answer_keep_their_place(
    server: InLoopServer, wires: list[RecordingWire]
) -> None:
    client = await modern_client(server)
    wire = wires[-1]
    before = len(wire.writes)
    client.send(
        client_frame(ws.TEXT, b'42/test,1["echo","a"]')
        + client_frame(ws.PING, b"ping")
        + client_frame(ws.TEXT, b'42/test,2["echo","b"]')
        + client_frame(ws.CLOSE, ws.close_frame(4000, "bye")[2:])
        + client_frame(ws.TEXT, b'42/test,3["echo","after the close"]')
    )
    await client.expect_close(4000)
    assert [server_frames(w) for w in wire.writes[before:]] == [
        [
            (ws.TEXT, b'43/test,1["a"]'),
            (ws.PONG, b"ping"),
            (ws.TEXT, b'43/test,2["b"]'),
            (ws.CLOSE, ws.close_frame(4000)[2:]),
        ]
    ]


async def test_what_one_pass_of_the_loop_sends_leaves_in_one_write(
    server: InLoopServer, wires: list[RecordingWire]
) -> None:
    client = await modern_client(server)
    wire = wires[-1]
    for burst in range(2):  # two passes: one write each
        before = len(wire.writes)
        for i in range(BURST):  # one pass: nothing awaited between the emits
            server.manager.emit("news", burst, i, namespace="/test")
        news = [f'42/test,["news",{burst},{i}]' for i in range(BURST)]
        assert [await client.recv_text() for _ in news] == news
        assert [server_frames(w) for w in wire.writes[before:]] == [text_frames(news)]
    client.close()


async def test_the_101_and_the_open_packet_leave_together(
    server: InLoopServer, wires: list[RecordingWire]
) -> None:
    client = await RawWebSocket.connect(server.port)
    opened = await client.recv_text()
    assert opened.startswith("0{") and json.loads(opened[1:])["sid"]
    (first,) = wires[-1].writes  # the 101 response, then the open packet's frame
    head, frames = first.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101 ")
    assert server_frames(frames) == [(ws.TEXT, opened.encode())]
    client.close()


def send_messages(server: InLoopServer, sid: str, texts: list[str]) -> None:
    """The session sends each text as a message packet, all in this pass of the loop."""
    socket = server.manager.sockets[sid]
    for text in texts:
        socket.send_packet({"type": "message", "data": text, "endpoint": ""})


async def test_multipart_parts_of_one_pass_share_one_chunk(server: InLoopServer) -> None:
    sid = (await handshake(server.base))[0]
    stream = await open_raw_get(f"{server.base}/socket.io/1/xhr-multipart/{sid}?t=1")
    part = (
        b"Content-Type: text/plain; charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s\r\n"
        b"--socketio\r\n"
    )
    assert await stream.chunk() == b"--socketio\r\n"
    assert await stream.chunk() == part % (3, b"1::")
    texts = [f"news {i}" for i in range(BURST)]
    send_messages(server, sid, texts)
    assert await stream.chunk() == b"".join(part % (10, f"3:::{t}".encode()) for t in texts)
    stream.close()


async def test_hixie_frames_of_one_pass_leave_in_one_write(server: InLoopServer) -> None:
    client = await FlashSocketClient(server.base).connect()
    stream = server.manager.sockets[client.sid].engine.sink.stream
    writes: list[bytes] = []
    write = stream.write

    def recording(data: bytes) -> object:
        writes.append(bytes(data))
        return write(data)

    stream.write = recording
    texts = [f"news {i}" for i in range(BURST)]
    send_messages(server, client.sid, texts)
    assert [await client.recv() for _ in texts] == [f"3:::{t}" for t in texts]
    assert writes == [b"".join(hixie76.encode_frame(f"3:::{t}") for t in texts)]
    await client.close()
