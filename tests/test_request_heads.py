"""Request heads against a real server on both HTTP paths, over raw sockets: a head over
``max_header_size`` (a huge Host, ten thousand headers; in one write or many) and a head that
never ends (a slowloris) within ``header_timeout``. The fast path answers 431 and closes;
Tornado's path closes without an answer (that is Tornado's own behaviour); both close a slow
head after the timeout, and serve a normal request as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.test_fasthttp import EIO_OPEN, EchoNamespace, Raw, get, open_session
from tests.test_fasthttp_timeouts import TimedServer
from tornio import Router
from tornio.settings import Settings, http_server_options

HEADER_TIMEOUT = 0.5
OPTIONS = http_server_options(Settings(header_timeout=HEADER_TIMEOUT))

HUGE_HOST = get(EIO_OPEN).replace(b"Host: test", b"Host: " + b"h" * 100_000)
MANY_HEADERS = get(EIO_OPEN, *[f"X-Header-{i:05d}: value" for i in range(10_000)])
TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"


class TornadoServer:
    """The same application on Tornado's own HTTP path (``--http tornado``)."""

    def __init__(self) -> None:
        self.router = Router({"": EchoNamespace})
        self.http = HTTPServer(self.router.application(), **OPTIONS)
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


async def send_in_pieces(raw: Raw, data: bytes, size: int = 1000) -> None:
    """``data`` in many writes, each one drained (so that the server reads it in pieces);
    stops early if the server closed meanwhile."""
    for start in range(0, len(data), size):
        raw.send(data[start:start + size])
        try:
            await raw.writer.drain()
        except ConnectionError:
            return


async def everything_until_closed(raw: Raw) -> bytes:
    """What the server sent before it closed (a reset counts as a close: a byte a client
    sends after the close is answered with one, which may overtake the close)."""
    try:
        return await asyncio.wait_for(raw.reader.read(), 10)
    except ConnectionResetError:
        return b""


async def trickle_until_closed(raw: Raw, head: bytes) -> bytes:
    """A slowloris: ``head`` a byte at a time, paced well inside the timeout (so that only
    the whole head's wait can end it), until the server closes the connection."""
    reading = asyncio.ensure_future(everything_until_closed(raw))
    for byte in range(len(head)):
        raw.send(head[byte:byte + 1])
        done, _ = await asyncio.wait([reading], timeout=HEADER_TIMEOUT / 5)
        if done:
            return reading.result()
    raise AssertionError("the server read the whole head the slowloris sent")


def test_the_settings_reach_tornados_http_server() -> None:
    assert OPTIONS == {"max_header_size": 65536, "idle_connection_timeout": HEADER_TIMEOUT}
    server = HTTPServer(Router({"": EchoNamespace}).application(), **OPTIONS)
    assert server.conn_params.max_header_size == 65536
    assert server.conn_params.header_timeout == HEADER_TIMEOUT


@pytest.mark.parametrize("head", [HUGE_HOST, MANY_HEADERS], ids=["huge-host", "many-headers"])
async def test_fast_path_refuses_a_large_head_in_one_write(fast: TimedServer, head: bytes) -> None:
    raw = await Raw.open(fast.port)
    raw.send(head)
    answer = await everything_until_closed(raw)
    assert answer.startswith(TOO_LARGE), answer[:200]
    assert fast.fast.refused == 1 and fast.fast.served == 0


@pytest.mark.parametrize("head", [HUGE_HOST, MANY_HEADERS], ids=["huge-host", "many-headers"])
async def test_fast_path_refuses_a_large_head_in_many_writes(
    fast: TimedServer, head: bytes
) -> None:
    raw = await Raw.open(fast.port)
    await send_in_pieces(raw, head)
    answer = await everything_until_closed(raw)
    assert answer.startswith(TOO_LARGE), answer[:200]
    assert fast.fast.refused == 1


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


async def test_tornado_path_closes_a_large_head(tornado_path: TornadoServer) -> None:
    for head in (HUGE_HOST, MANY_HEADERS):
        raw = await Raw.open(tornado_path.port)
        raw.send(head)
        answer = await everything_until_closed(raw)
        assert b" 200 " not in answer[:20]  # never served: closed (Tornado answers nothing)
    raw = await Raw.open(tornado_path.port)
    assert await open_session(raw)


async def test_tornado_path_closes_a_slowloris(tornado_path: TornadoServer) -> None:
    slow = await Raw.open(tornado_path.port)
    assert await trickle_until_closed(slow, HUGE_HOST) == b""
