"""The fast HTTP path (tornio.fastpath, tornio.transports.fasthttp) over raw sockets: what it
serves itself, what it hands to Tornado with the bytes already read, keep-alive, pipelining,
chunked bodies, 413, clients that leave during a held poll, and bad input answered as Tornado
answers it. The transport test files run against it too (``TORNIO_TEST_HTTP=fast``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from socket import SHUT_RDWR
from typing import Any

import pytest
import tornado.web

from tests.support.raw_http import (
    EIO_OPEN,
    FastAndTornado,
    Raw,
    get,
    open_session,
    post,
)
from tests.support.waiting import eventually
from tornio import fastpath
from tornio.fastpath import resolve_mode


class Hello(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish("world")

    def post(self) -> None:
        self.finish(b"got " + self.request.body)


class Servers(FastAndTornado):
    """The same Router behind the fast path and behind plain Tornado (with ``/hello``)."""

    def __init__(self, **settings: Any) -> None:
        super().__init__([(r"/hello", Hello)], **settings)


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    srv = Servers()
    yield srv
    await srv.stop()


@pytest.mark.asyncio
async def test_polling_is_served_on_the_fast_path_over_one_kept_alive_connection(
    servers: Servers,
) -> None:
    raw = await Raw.open(servers.port)
    sid = await open_session(raw)
    raw.send(post(f"{EIO_OPEN}&sid={sid}", b"40"))
    assert (await raw.response())[2] == b"ok"
    raw.send(get(f"{EIO_OPEN}&sid={sid}"))
    status, _, body = await raw.response()
    assert status == 200 and body.startswith(b"40{\"sid\":")
    raw.send(post(f"{EIO_OPEN}&sid={sid}", b'42["echo","hi"]'))
    assert (await raw.response())[2] == b"ok"
    raw.send(get(f"{EIO_OPEN}&sid={sid}"))
    assert (await raw.response())[2] == b'42["echo","hi"]'
    assert servers.fast.served == 5
    assert servers.fast.handed_off == 0
    raw.close()


@pytest.mark.asyncio
async def test_pipelined_requests_are_answered_in_order_across_the_hand_off(
    servers: Servers,
) -> None:
    raw = await Raw.open(servers.port)
    # A handshake (fast), the app's own route (Tornado) and a POST to it, in one write.
    raw.send(get("/socket.io/1/") + get("/hello") + post("/hello", b"body"))
    status, _, body = await raw.response()
    assert status == 200 and re.match(rb"^[A-Za-z0-9_-]+:60:60:websocket,", body)
    assert (await raw.response())[2] == b"world"
    assert (await raw.response())[2] == b"got body"
    assert servers.fast.served == 1 and servers.fast.handed_off == 1
    raw.close()


@pytest.mark.asyncio
async def test_a_hand_off_mid_request_gives_tornado_the_bytes_already_read(
    servers: Servers,
) -> None:
    raw = await Raw.open(servers.port)
    head = post("/hello", b"0123456789")
    raw.send(head[:-4])  # the head and part of the body
    await asyncio.sleep(0)
    raw.send(head[-4:])
    assert (await raw.response())[2] == b"got 0123456789"
    raw.close()


@pytest.mark.asyncio
async def test_a_held_poll_waits_for_a_pipelined_request_behind_it(servers: Servers) -> None:
    raw = await Raw.open(servers.port)
    sid = await open_session(raw)
    raw.send(post(f"{EIO_OPEN}&sid={sid}", b"40"))
    await raw.response()
    raw.send(get(f"{EIO_OPEN}&sid={sid}"))
    await raw.response()  # the CONNECT answer
    # A poll that is held, and a handshake pipelined behind it: answers in order.
    raw.send(get(f"{EIO_OPEN}&sid={sid}") + get("/socket.io/1/"))
    other = await Raw.open(servers.port)
    other.send(post(f"{EIO_OPEN}&sid={sid}", b'42["echo","late"]'))
    assert (await other.response())[2] == b"ok"
    assert (await raw.response())[2] == b'42["echo","late"]'
    assert b":60:60:" in (await raw.response())[2]
    raw.close()
    other.close()


@pytest.mark.asyncio
async def test_a_chunked_post_body_is_read_whole(servers: Servers) -> None:
    raw = await Raw.open(servers.port)
    sid = await open_session(raw)
    body = b'40\x1e42["echo","chunked"]'
    chunks = b"5\r\n" + body[:5] + b"\r\n" + f"{len(body) - 5:x}\r\n".encode() + body[5:]
    chunks += b"\r\n0\r\n\r\n"
    head = (f"POST {EIO_OPEN}&sid={sid} HTTP/1.1\r\nHost: t\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    # Pipelined behind it: a poll, which must not be taken for part of the body.
    raw.send(head + chunks + get(f"{EIO_OPEN}&sid={sid}"))
    assert (await raw.response())[2] == b"ok"
    _, _, answer = await raw.response()
    assert b'42["echo","chunked"]' in answer
    assert servers.fast.handed_off == 0
    raw.close()


@pytest.mark.asyncio
async def test_a_bad_chunked_body_gets_tornados_bare_400_and_a_close(servers: Servers) -> None:
    raw = await Raw.open(servers.port)
    sid = await open_session(raw)
    raw.send((f"POST {EIO_OPEN}&sid={sid} HTTP/1.1\r\nHost: t\r\n"
              "Transfer-Encoding: chunked\r\n\r\nzz\r\n").encode())
    assert await asyncio.wait_for(raw.reader.read(), 10) == b"HTTP/1.1 400 Bad Request\r\n\r\n"
    raw.close()


@pytest.mark.asyncio
async def test_a_legacy_post_over_max_buffer_size_is_413_and_closes() -> None:
    srv = Servers(max_buffer_size=100)
    try:
        raw = await Raw.open(srv.port)
        raw.send(get("/socket.io/1/"))
        sid = (await raw.response())[2].split(b":")[0].decode()
        raw.send(post(f"/socket.io/1/xhr-polling/{sid}", b"x" * 101))
        status, _, body = await raw.response()
        assert (status, body) == (413, b"payload too large")
        assert await raw.closed()
        raw.close()
    finally:
        await srv.stop()


@pytest.mark.asyncio
async def test_connection_close_is_honoured(servers: Servers) -> None:
    raw = await Raw.open(servers.port)
    raw.send(get("/socket.io/1/", "Connection: close"))
    status, headers, _ = await raw.response()
    assert status == 200 and headers["connection"] == "close"
    assert await raw.closed()
    raw.close()


@pytest.mark.asyncio
async def test_a_client_that_leaves_during_a_held_poll_is_noticed(servers: Servers) -> None:
    raw = await Raw.open(servers.port)
    sid = await open_session(raw)
    raw.send(get(f"{EIO_OPEN}&sid={sid}"))
    socket = servers.router.manager.get_engine(sid)
    await eventually(lambda: socket.engine.sink is not None, message="the poll held")
    raw.writer.transport.abort()
    await eventually(lambda: socket.engine.sink is None, message="the held poll given up")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.0\r\n\r\n",  # HTTP/1.0
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\nHost: t\n\n",  # bare LFs
        b"GET /socket.io/?EIO=4&transport=polling HTTP/9.9\r\n\r\n",  # no such version
        b"GARBAGE\r\n\r\n",
        b"GET /socket.io/ HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\nX: a\x7fb\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\nX@Y: v\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\nX: \xffok\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n\r\n",  # no Host
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"PUT /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\n\r\n",
        b"OPTIONS /socket.io/1/ HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /socket.io/1/xhr-polling/%ff HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /socket.io/1/htmlfile/%ff HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /socket.io/1/xhr-multipart/%ff HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /socket.io/1/jsonp-polling/%ff HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\nOrigin: a\tb\r\n\r\n",
        b"GET /socket.io/?EIO=9&transport=polling HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /socket.io/1/jsonp-polling/x?i=%ff HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /socket.io/1/?jsonp=x HTTP/1.1\r\nHost: t\r\n\r\n",
        # (A head over max_header_size: 431 on the fast path and on tornio's Tornado server,
        # where a plain HTTPServer closes without a word; see tests/test_request_heads.py.)
        # Good requests, answered byte for byte alike too.
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\nOrigin: http://a\r\n\r\n",
        b"OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\n"
        b"Origin: http://a\r\nAccess-Control-Request-Headers: x-y\r\n\r\n",
        b"GET /socket.io/1/?jsonp=3 HTTP/1.1\r\nHost: t\r\nOrigin: http://a\r\n\r\n",
        b"POST /socket.io/1/ HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab",
        b"GET /socket.io/1/xhr-polling/nosuchsid HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /socket.io/1/xhr-polling/nosuchsid HTTP/1.1\r\nHost: t\r\n"
        b"Content-Length: 3\r\n\r\n2::",
        b"GET /socket.io/1/jsonp-polling/nosuchsid?i=1 HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /socket.io/1/xhr-polling/nosuchsid?disconnect HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=polling&sid=nosuch HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\n"
        b"Content-Length: 2\r\n\r\n40",
        b"GET /socket.io/?EIO=3&transport=polling&j=0 HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /socket.io HTTP/1.1\r\nHost: t\r\n\r\n",
    ],
)
@pytest.mark.asyncio
async def test_bad_requests_get_the_answers_tornado_gives(
    servers: Servers, request_bytes: bytes
) -> None:
    async def answer(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request_bytes)
        try:  # one response, or whatever comes before the server closes
            try:
                data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            except asyncio.IncompleteReadError as exc:
                data = exc.partial
            length = re.search(rb"Content-Length: (\d+)", data)
            if length is not None:
                data += await asyncio.wait_for(reader.readexactly(int(length.group(1))), 10)
        finally:
            writer.close()
        data = re.sub(rb"Date: [^\r]+\r\n", b"", data)
        # Session ids (20 characters of base64url) differ between any two answers.
        return re.sub(rb"(?<![\w-])[\w-]{20}(?![\w-])", b"SID", data)

    assert await answer(servers.port) == await answer(servers.tornado_port)


def test_the_http_mode_is_fast_when_httptools_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_mode("auto") == "fast"
    assert resolve_mode("tornado") == "tornado"
    with pytest.raises(ValueError):
        resolve_mode("quick")
    monkeypatch.setattr(fastpath, "AVAILABLE", False)  # as without httptools
    assert resolve_mode("auto") == "tornado"
    with pytest.raises(ValueError, match="needs httptools"):
        resolve_mode("fast")


def test_the_hand_off_works_on_uvloop_too() -> None:
    """uvloop's transports differ (not asyncio.Transport; their own close): a websocket
    upgrade and the app's route, handed to Tornado, still work on it."""
    uvloop = pytest.importorskip("uvloop")
    from tornado.websocket import websocket_connect

    async def scenario() -> tuple[str | bytes | None, bytes]:
        srv = Servers()
        try:
            ws = await websocket_connect(
                f"ws://127.0.0.1:{srv.port}/socket.io/?EIO=4&transport=websocket"
            )
            opened = await ws.read_message()
            ws.close()
            raw = await Raw.open(srv.port)
            raw.send(get("/socket.io/1/") + get("/hello"))
            await raw.response()
            hello = (await raw.response())[2]
            raw.close()
            return opened, hello
        finally:
            await srv.stop()

    opened, hello = uvloop.run(scenario())
    assert isinstance(opened, str) and opened.startswith('0{"sid":')
    assert hello == b"world"


@pytest.mark.asyncio
async def test_handlers_that_await_run_on_the_fast_path() -> None:
    """An async authorize hook that yields (sleep(0)) and waits for a timer: the handshakes
    are answered, refusals too, on the fast path."""

    async def authorize(request: Any) -> bool:
        await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        return "no" not in request.uri

    srv = Servers(authorize=authorize)
    try:
        raw = await Raw.open(srv.port)
        raw.send(get("/socket.io/1/") + get("/socket.io/1/?no"))
        status, _, body = await raw.response()
        assert status == 200 and b":60:60:" in body
        assert (await raw.response())[:3:2] == (403, b"handshake unauthorized")
        raw.send(get(EIO_OPEN + "&no"))
        status, _, body = await raw.response()
        assert status == 403 and b"Forbidden" in body
        assert srv.fast.served == 3 and srv.fast.handed_off == 0
        raw.close()
    finally:
        await srv.stop()


@pytest.mark.asyncio
async def test_a_cancelled_poll_is_seen_before_a_request_that_came_with_it(
    servers: Servers,
) -> None:
    """A client aborts a held poll and polls again on another kept-alive connection at once
    (the official suite's "closes the session upon cancelled polling request"): the close is
    seen first, so the new poll finds the session gone, whichever the loop reads first."""
    held, other = await Raw.open(servers.port), await Raw.open(servers.port)
    sid = await open_session(other)
    held.send(get(f"{EIO_OPEN}&sid={sid}"))
    socket = servers.router.manager.get_engine(sid)
    await eventually(lambda: socket.engine.sink is not None, message="the poll held")
    other.send(get(f"{EIO_OPEN}&sid={sid}"))  # ready before the close, in the same turn
    held.writer.get_extra_info("socket").shutdown(SHUT_RDWR)  # the FIN goes now
    held.close()
    status, _, body = await other.response()
    assert (status, body) == (400, b'{"code":1,"message":"Session ID unknown"}')
    other.close()


@pytest.mark.asyncio
async def test_a_hand_off_waits_until_the_answers_before_it_are_sent(servers: Servers) -> None:
    """A large poll answer still in the write buffer when a request for Tornado follows it:
    the connection changes hands only once that answer is out, so nothing is lost."""
    import socket as socketlib

    raw = await Raw.open(servers.port)
    raw.writer.get_extra_info("socket").setsockopt(
        socketlib.SOL_SOCKET, socketlib.SO_RCVBUF, 65536
    )
    sid = await open_session(raw)
    (connection,) = servers.fast.connections
    connection.transport.get_extra_info("socket").setsockopt(
        socketlib.SOL_SOCKET, socketlib.SO_SNDBUF, 4096
    )
    raw.send(post(f"{EIO_OPEN}&sid={sid}", b"40"))
    await raw.response()
    raw.send(get(f"{EIO_OPEN}&sid={sid}"))
    await raw.response()
    big = "x" * 300_000
    raw.send(post(f"{EIO_OPEN}&sid={sid}", f'42["echo","{big}"]'.encode()))
    assert (await raw.response())[2] == b"ok"
    raw.send(get(f"{EIO_OPEN}&sid={sid}") + get("/hello"))  # not read for now
    await eventually(lambda: connection.handed_off, message="the hand-off")
    assert connection.transport.get_write_buffer_size() > 0
    assert servers.fast.handed_off == 0  # waiting for the answer to go out
    assert (await raw.response())[2] == f'42["echo","{big}"]'.encode()
    assert (await raw.response())[2] == b"world"
    assert servers.fast.handed_off == 1
    raw.close()
