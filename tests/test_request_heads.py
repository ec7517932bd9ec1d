"""Request heads against a real server on both HTTP paths, over raw sockets: a head over
``max_header_size`` (a huge Host, ten thousand headers; in one write or many) and a head that
never ends (a slowloris) within ``header_timeout``. The fast path answers 431 and closes;
Tornado's path closes without an answer (that is Tornado's own behaviour); both close a slow
head after the timeout, and serve a normal request as before."""

from __future__ import annotations

from collections.abc import AsyncIterator

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
from tornio import Router
from tornio.settings import Settings, http_server_options

OPTIONS = http_server_options(Settings(header_timeout=HEADER_TIMEOUT))


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
