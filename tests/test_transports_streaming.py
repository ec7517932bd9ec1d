"""htmlfile and xhr-multipart at protocol level: the bytes on the wire (node 0.9's htmlfile
layout, chunk by chunk), sends by POST, the session lifecycle over each, and the transports
setting restricting what is served in the advertised order."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError
from tornado.websocket import websocket_connect

from tests.support.inloop import InLoopServer
from tests.support.legacy_client import CLOSED, LegacyClient, fetch, handshake
from tests.support.stream_clients import (
    HtmlFileClient,
    XhrMultipartClient,
    make_client,
    open_raw_get,
)
from tests.support.waiting import eventually
from tornio import BaseNamespace, RoomsMixin
from tornio.protocol import hixie76
from tornio.settings import LEGACY_TRANSPORTS


class Chat(BaseNamespace, RoomsMixin):
    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args

    def on_join(self, room: str) -> bool:
        self.join(room)
        return True

    def on_say(self, room: str, text: str) -> None:
        self.emit_to_room(room, "said", text)


NAMESPACES = {"": Chat, "/chat": Chat}

pytestmark = pytest.mark.timeout(30)

#: node 0.9's htmlfile prelude, written out here independently of tornio's constant.
NODE_PRELUDE = (
    b"<html><body><script>var _ = function (msg) { parent.s._(msg, document); };</script>"
    + b" " * 173
)


def node_htmlfile_chunk(payload: str) -> bytes:
    """``'<script>_(' + JSON.stringify(data).replace(/\\//g, '\\\\/') + ');</script>'``."""
    data = json.dumps(payload, ensure_ascii=False).replace("/", "\\/")
    return f"<script>_({data});</script>".encode()


def chunked(*chunks: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)


@pytest.fixture
async def server() -> Any:
    srv = await InLoopServer.start(NAMESPACES)
    yield srv
    await srv.stop()


async def start(**settings: Any) -> InLoopServer:
    return await InLoopServer.start(NAMESPACES, **settings)


async def gone(srv: InLoopServer, sid: str) -> bool:
    await eventually(lambda: sid not in srv.manager.sockets, message=f"session {sid} gone")
    return True


# -- htmlfile bytes ---------------------------------------------------------------------------


async def test_htmlfile_bytes_match_node_layout(server: InLoopServer) -> None:
    sid = (await handshake(server.base))[0]
    stream = await open_raw_get(f"{server.base}/socket.io/1/htmlfile/{sid}?t=1")
    assert stream.status_line == "HTTP/1.1 200 OK"
    assert stream.headers["content-type"] == "text/html; charset=UTF-8"
    assert stream.headers["transfer-encoding"] == "chunked"
    assert stream.headers["connection"] == "keep-alive"
    assert "content-length" not in stream.headers
    prelude = await stream.chunk()
    assert prelude == NODE_PRELUDE and len(NODE_PRELUDE) == 256
    assert await stream.chunk() == b'<script>_("1::");</script>'
    socket = server.manager.sockets[sid]
    texts = ["</script><script>alert(1)</script>", 'caf\u00e9 \U0001f600 a/b \\/ "q"']
    for text in texts:
        socket.send_packet({"type": "event", "name": "news", "args": [text], "endpoint": ""})
    got = [await stream.chunk(), await stream.chunk()]
    wires = [f'5:::{{"name":"news","args":[{json.dumps(t)}]}}' for t in texts]
    assert got == [node_htmlfile_chunk(w) for w in wires]
    assert all(b"</script" not in chunk[:-9] for chunk in got)
    # Every write is its own HTTP chunk, sizes in hex.
    assert bytes(stream.raw) == chunked(NODE_PRELUDE, b'<script>_("1::");</script>', *got)
    stream.close()
    assert await gone(server, sid)


async def test_htmlfile_batches_buffered_packets_into_one_framed_chunk(
    server: InLoopServer,
) -> None:
    sid = (await handshake(server.base))[0]
    socket = server.manager.sockets[sid]
    socket.send_packet({"type": "message", "data": "one", "endpoint": ""})
    socket.send_packet({"type": "message", "data": "two", "endpoint": ""})
    stream = await open_raw_get(f"{server.base}/socket.io/1/htmlfile/{sid}?t=1")
    assert await stream.chunk() == NODE_PRELUDE
    payload = "\ufffd3\ufffd1::\ufffd7\ufffd3:::one\ufffd7\ufffd3:::two"
    assert await stream.chunk() == node_htmlfile_chunk(payload)
    stream.close()


async def test_htmlfile_escapes_what_could_end_the_script_early(server: InLoopServer) -> None:
    client = await HtmlFileClient(server.base).connect()
    socket = server.manager.sockets[client.sid]
    # "<!--<script>" would put the HTML parser in a state where "</script>" does not end the
    # element; U+2028 is not allowed raw in old engines' string literals.
    text = "<!--<script> \u2028 \u2029 </script> -->"
    socket.send_packet({"type": "message", "data": text, "endpoint": ""})
    assert await client.recv() == "3:::" + text
    chunk = client.chunks[-1]
    assert b"<!--" not in chunk and b"</script" not in chunk[:-9]
    assert "\u2028".encode() not in chunk and b"\\u2028" in chunk
    await client.close()


async def test_htmlfile_unknown_sid_gets_client_not_handshaken(server: InLoopServer) -> None:
    stream = await open_raw_get(f"{server.base}/socket.io/1/htmlfile/nope?t=1")
    assert stream.status == 200
    assert await stream.chunk() == NODE_PRELUDE
    assert await stream.chunk() == b'<script>_("7:::1+0");</script>'
    assert await stream.chunk() is None
    stream.close()


async def test_posts_to_htmlfile_and_multipart_carry_packets_in(server: InLoopServer) -> None:
    for cls in (HtmlFileClient, XhrMultipartClient):
        client = await cls(server.base).connect()
        response = await fetch(
            client.url + "?t=1", method="POST", body=b'5:1+::{"name":"echo","args":["a\\nb"]}'
        )
        assert (response.code, response.body) == (200, b"1")
        assert await client.recv() == '6:::1+["a\\nb"]'
        big = await fetch(client.url, method="POST", body=b"3:::" + b"x" * 1_000_001)
        assert big.code == 413
        await client.close()


# -- xhr-multipart bytes ----------------------------------------------------------------------


async def test_multipart_layout(server: InLoopServer) -> None:
    sid = (await handshake(server.base))[0]
    stream = await open_raw_get(f"{server.base}/socket.io/1/xhr-multipart/{sid}?t=1")
    assert stream.headers["content-type"] == 'multipart/x-mixed-replace; boundary="socketio"'
    assert stream.headers["transfer-encoding"] == "chunked"
    assert await stream.chunk() == b"--socketio\r\n"
    part = (
        b"Content-Type: text/plain; charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s\r\n--socketio\r\n"
    )
    assert await stream.chunk() == part % (3, b"1::")
    socket = server.manager.sockets[sid]
    socket.send_packet({"type": "message", "data": "\u00e9", "endpoint": ""})
    assert await stream.chunk() == part % (6, "3:::\u00e9".encode())
    stream.close()


async def test_multipart_payload_containing_the_delimiter_arrives_intact(
    server: InLoopServer,
) -> None:
    client = await XhrMultipartClient(server.base).connect()
    text = "before\r\n--socketio\r\nContent-Type: text/plain\r\n\r\nafter"
    server.manager.sockets[client.sid].send_packet(
        {"type": "message", "data": text, "endpoint": ""}
    )
    assert await client.recv() == "3:::" + text
    await client.close()


# -- the session over each streaming transport ------------------------------------------------


@pytest.mark.parametrize("transport", ["xhr-multipart", "flashsocket", "htmlfile"])
async def test_session_over_streaming_transport(transport: str) -> None:
    """Handshake, connect, an event with ack, a room emit, heartbeats both ways, disconnect."""
    srv = await start(heartbeat_interval=0.05, heartbeat_timeout=1.0)
    try:
        client = await make_client(srv.base, transport, answer_heartbeats=True).connect()
        assert client.transports == list(LEGACY_TRANSPORTS_ADVERTISED)
        other = await LegacyClient(srv.base, "websocket").connect()
        await client.send("1::/chat")
        assert await client.recv() == "1::/chat"
        await client.send('5:1+:/chat:{"name":"echo","args":["hi",{"x":[1,2]}]}')
        assert await client.recv() == '6::/chat:1+["hi",{"x":[1,2]}]'
        await client.send("3:7::auto")  # an id without '+': acked automatically
        assert await client.recv() == "6:::7"
        await client.emit("/chat", "join", "lobby", msg_id=2)
        assert await client.recv() == "6::/chat:2+[true]"
        await other.send("1::/chat", '5:1+:/chat:{"name":"join","args":["lobby"]}')
        assert await other.recv() == "1::/chat"
        assert await other.recv() == "6::/chat:1+[true]"
        await other.emit("/chat", "say", "lobby", "hello </script>")
        assert await client.recv_event() == ("/chat", "said", ["hello </script>"])
        # Heartbeats: answered, the session outlives the heartbeat timeout several times over.
        for _ in range(30):  # 30 x 0.05 s = 1.5 s > 1 s
            assert await client.recv(skip_heartbeats=False) == "2::"
        assert client.sid in srv.manager.sockets
        await client.send("0::")
        assert await client.recv() == CLOSED
        assert await gone(srv, client.sid)
        await client.close()
        await other.close()
    finally:
        await srv.stop()


LEGACY_TRANSPORTS_ADVERTISED = (
    "websocket",
    "htmlfile",
    "xhr-polling",
    "jsonp-polling",
    "flashsocket",
    "xhr-multipart",
)


@pytest.mark.parametrize("transport", ["xhr-multipart", "flashsocket", "htmlfile"])
async def test_unanswered_heartbeats_close_the_stream(transport: str) -> None:
    srv = await start(heartbeat_interval=0.05, heartbeat_timeout=0.3)
    try:
        client = await make_client(srv.base, transport).connect()
        assert await client.recv(skip_heartbeats=False) == "2::"
        while await client.recv(timeout=3) != CLOSED:
            pass
        assert await gone(srv, client.sid)
        assert srv.manager.sockets == {}
        await client.close()
    finally:
        await srv.stop()


@pytest.mark.parametrize("transport", ["xhr-multipart", "flashsocket", "htmlfile"])
async def test_server_disconnect_and_client_leaving(server: InLoopServer, transport: str) -> None:
    booted = await make_client(server.base, transport).connect()
    server.manager.sockets[booted.sid].disconnect()
    assert await booted.recv() == "0::"
    assert await booted.recv() == CLOSED
    await booted.close()
    leaving = await make_client(server.base, transport).connect()
    await leaving.close()  # the connection just goes away
    assert await gone(server, leaving.sid)


# -- the transports setting -------------------------------------------------------------------


async def test_advertised_order_is_the_preference_order() -> None:
    order = ["xhr-multipart", "jsonp-polling", "flashsocket", "websocket"]
    srv = await start(transports=order)
    try:
        assert (await handshake(srv.base))[3] == ",".join(order)
    finally:
        await srv.stop()
    default = await start()
    try:
        assert (await handshake(default.base))[3] == ",".join(LEGACY_TRANSPORTS_ADVERTISED)
        assert set(LEGACY_TRANSPORTS_ADVERTISED) == set(LEGACY_TRANSPORTS)
    finally:
        await default.stop()


async def refused(srv: InLoopServer, transport: str, sid: str) -> bool:
    """Whether a request for ``transport`` gets the 400 of a disabled transport."""
    url = f"{srv.base}/socket.io/1/{transport}/{sid}"
    if transport in ("websocket", "flashsocket"):  # RFC 6455
        try:
            ws = await websocket_connect(url.replace("http", "ws", 1))
        except HTTPClientError as exc:
            return exc.code == 400
        ws.close()
        return False
    if transport == "flashsocket-hixie":
        stream = await open_raw_get(
            url.replace("-hixie", ""),
            {
                "Upgrade": "WebSocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key1": hixie76.make_key()[0],
                "Sec-WebSocket-Key2": hixie76.make_key()[0],
            },
        )
        body = await stream.body()
        stream.close()
        return stream.status == 400 and b"not enabled" in body
    response = await fetch(url + "?t=1&i=0", timeout=5)
    return response.code == 400 and b"not enabled" in response.body


@pytest.mark.parametrize("disabled", LEGACY_TRANSPORTS)
async def test_a_disabled_transport_is_not_served(disabled: str) -> None:
    enabled = [t for t in LEGACY_TRANSPORTS if t != disabled]
    srv = await start(transports=enabled)
    try:
        sid = (await handshake(srv.base))[0]
        assert await refused(srv, disabled, sid)
        if disabled == "flashsocket":
            assert await refused(srv, "flashsocket-hixie", sid)
        assert sid in srv.manager.sockets and srv.manager.sockets[sid].engine.sink is None
        other = "websocket" if disabled != "websocket" else "flashsocket"
        client = await make_client(srv.base, other).connect()
        await client.close()
    finally:
        await srv.stop()
