"""Request heads against a real server on both HTTP paths, over raw sockets: a head over
``max_header_size`` (a huge Host, ten thousand headers; in one write or many) and a head that
never ends (a slowloris) within ``header_timeout``. Both paths answer 431 and close (on
Tornado's, ``tornio.transports.heads.HeadLimitHTTPServer``: Tornado alone closes without an
answer), but not to a body's overlong chunk-size line (closed, as Tornado does); both close a
slow head after the timeout, and serve a normal request as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.support.raw_http import (
    EIO_OPEN,
    HEADER_TIMEOUT,
    HUGE_HOST,
    MANY_HEADERS,
    TOO_LARGE,
    EchoNamespace,
    Raw,
    TimedServer,
    everything_until_closed,
    get,
    open_session,
    send_in_pieces,
    trickle_until_closed,
)
from tests.support.waiting import eventually
from tornio import Router, SocketIOServer
from tornio.settings import Settings, http_server_options
from tornio.transports import heads
from tornio.transports.heads import HEAD_TOO_LARGE, HeadLimitHTTPServer

OPTIONS = http_server_options(Settings(header_timeout=HEADER_TIMEOUT))


class TornadoServer:
    """The same application on Tornado's own HTTP path, as ``--http tornado`` serves it."""

    def __init__(self) -> None:
        self.router = Router({"": EchoNamespace})
        self.http = HeadLimitHTTPServer(self.router.application(), **OPTIONS)
        sockets = bind_sockets(0, "127.0.0.1")
        self.http.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.http.stop()
        self.router.manager.close_all()
        await self.http.close_all_connections()


@pytest.fixture
async def fast() -> AsyncIterator[TimedServer]:
    srv = TimedServer(**OPTIONS)
    yield srv
    await srv.stop()


@pytest.fixture
async def tornado_path() -> AsyncIterator[TornadoServer]:
    srv = TornadoServer()
    yield srv
    await srv.stop()


def test_the_settings_reach_tornados_http_server() -> None:
    assert OPTIONS == {"max_header_size": 65536, "idle_connection_timeout": HEADER_TIMEOUT}
    server = HTTPServer(Router({"": EchoNamespace}).application(), **OPTIONS)
    assert server.conn_params.max_header_size == 65536
    assert server.conn_params.header_timeout == HEADER_TIMEOUT


async def in_one_write(raw: Raw, data: bytes) -> None:
    raw.send(data)


HEADS = pytest.mark.parametrize("head", [HUGE_HOST, MANY_HEADERS],
                                ids=["huge-host", "many-headers"])
SENDS = pytest.mark.parametrize("send", [in_one_write, send_in_pieces],
                                ids=["one-write", "many-writes"])
Send = Callable[[Raw, bytes], Awaitable[None]]


@HEADS
@SENDS
async def test_fast_path_refuses_a_large_head(fast: TimedServer, head: bytes, send: Send) -> None:
    raw = await Raw.open(fast.port)
    await send(raw, head)
    answer = await everything_until_closed(raw)
    assert answer.startswith(TOO_LARGE), answer[:200]
    assert fast.fast.refused == 1 and fast.fast.served == 0


async def test_fast_path_takes_a_head_just_under_the_limit(fast: TimedServer) -> None:
    base = len(get(EIO_OPEN, "X-Pad: "))
    raw = await Raw.open(fast.port)
    raw.send(get(EIO_OPEN, "X-Pad: " + "p" * (65536 - base)))  # 65536 bytes exactly
    status, _, _ = await raw.response()
    assert status == 200 and fast.fast.refused == 0


async def test_fast_path_closes_a_slowloris_and_still_serves(fast: TimedServer) -> None:
    slow = await Raw.open(fast.port)
    assert await trickle_until_closed(slow, HUGE_HOST) == b""  # closed, unanswered
    assert fast.fast.timed_out == 1
    raw = await Raw.open(fast.port)
    assert await open_session(raw)


@HEADS
@SENDS
async def test_tornado_path_refuses_a_large_head(
    tornado_path: TornadoServer, head: bytes, send: Send
) -> None:
    raw = await Raw.open(tornado_path.port)
    await send(raw, head)
    assert await everything_until_closed(raw) == HEAD_TOO_LARGE
    assert tornado_path.http.refused == 1
    raw = await Raw.open(tornado_path.port)
    assert await open_session(raw)


async def refused_and_lingering(
    server: TornadoServer, monkeypatch: pytest.MonkeyPatch, linger: float = 60.0,
    linger_bytes: int = heads.LINGER_BYTES,
) -> Raw:
    """A connection refused with 431, its head sent whole; the server drops what it still
    sends until it closes or the bounds (``linger`` seconds, ``linger_bytes``) are reached."""
    monkeypatch.setattr(heads, "LINGER", linger)
    monkeypatch.setattr(heads, "LINGER_BYTES", linger_bytes)
    raw = await Raw.open(server.port)
    raw.send(HUGE_HOST)
    assert await everything_until_closed(raw) == HEAD_TOO_LARGE  # the server's side is shut
    await eventually(lambda: server.http.refused == 1, message="the 431 counted")
    return raw


async def test_a_refused_connection_lingers_until_the_client_closes(
    tornado_path: TornadoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = await refused_and_lingering(tornado_path, monkeypatch)  # no bound ends it here
    raw.send(b"x" * 10_000)  # dropped
    await asyncio.sleep(0)
    assert len(tornado_path.http.lingering) == 1
    raw.close()
    await eventually(lambda: not tornado_path.http.lingering, message="the linger ended")


async def test_a_refused_connection_that_goes_on_sending_is_closed_past_the_byte_bound(
    tornado_path: TornadoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = await refused_and_lingering(tornado_path, monkeypatch, linger_bytes=50_000)
    await send_in_pieces(raw, b"x" * 200_000, size=10_000)  # stops once reset
    await eventually(lambda: not tornado_path.http.lingering, message="the linger ended")
    raw.close()


async def test_a_silent_refused_connection_is_closed_after_the_linger_time(
    tornado_path: TornadoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = await refused_and_lingering(tornado_path, monkeypatch, linger=0.1)  # open, silent
    await eventually(lambda: not tornado_path.http.lingering, message="the linger ended")
    raw.close()


async def test_stopping_the_server_ends_a_lingering_connection(
    tornado_path: TornadoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = await refused_and_lingering(tornado_path, monkeypatch)
    await tornado_path.stop()
    assert not tornado_path.http.lingering
    raw.close()


async def test_tornado_path_refuses_a_large_second_head_on_a_kept_alive_connection(
    tornado_path: TornadoServer,
) -> None:
    raw = await Raw.open(tornado_path.port)
    assert await open_session(raw)  # answered, the connection kept
    raw.send(HUGE_HOST)
    assert await everything_until_closed(raw) == HEAD_TOO_LARGE


async def test_tornado_path_takes_a_head_just_under_the_limit(tornado_path: TornadoServer) -> None:
    base = len(get(EIO_OPEN, "X-Pad: "))
    raw = await Raw.open(tornado_path.port)
    raw.send(get(EIO_OPEN, "X-Pad: " + "p" * (65536 - base)))  # 65536 bytes exactly
    status, _, _ = await raw.response()
    assert status == 200 and tornado_path.http.refused == 0


async def test_tornado_path_closes_on_a_long_chunk_size_line_without_431(
    tornado_path: TornadoServer,
) -> None:
    """Tornado reads a chunk-size line with a 64-byte limit too: that is no request head."""
    raw = await Raw.open(tornado_path.port)
    raw.send(b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
             + b"1" * 100 + b"\r\n")
    assert await everything_until_closed(raw) == b""
    assert tornado_path.http.refused == 0


@pytest.mark.parametrize("transports", [None, ["websocket", "xhr-polling"]],
                         ids=["with-flashsocket", "without"])
async def test_socketio_server_refuses_a_large_head(transports: list[str] | None) -> None:
    """gevent-socketio's ``SocketIOServer`` (Tornado's path; with flashsocket served, the
    server that also answers an inline Flash policy request)."""
    server = SocketIOServer(("127.0.0.1", 0), namespaces={"": EchoNamespace},
                            transports=transports, policy_server=False)
    server.start()
    try:
        raw = await Raw.open(server.port)
        raw.send(HUGE_HOST)
        assert await everything_until_closed(raw) == HEAD_TOO_LARGE
        raw.close()
    finally:
        await server.stop()


async def test_tornado_path_closes_a_slowloris(tornado_path: TornadoServer) -> None:
    slow = await Raw.open(tornado_path.port)
    assert await trickle_until_closed(slow, HUGE_HOST) == b""
