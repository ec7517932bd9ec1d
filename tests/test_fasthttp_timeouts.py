"""The fast HTTP path keeps the timeouts of the HTTPServer it fronts: a connection idle
between requests, or slow to send a request's head (``idle_connection_timeout``) or body
(``body_timeout``), is closed as Tornado closes it; a held poll is not idle. Raw sockets,
timeouts of a fraction of a second; time passing is shown by an idle connection that the
server closed, never by a sleep."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
from tornado.httpserver import HTTPServer

from tests.support.raw_http import (
    EIO_OPEN,
    EchoNamespace,
    Raw,
    TimedServer,
    get,
    open_session,
    post,
)
from tornio import Router
from tornio.fastpath import fast_server

TIMEOUT = 0.2


@pytest.fixture
async def server() -> AsyncIterator[TimedServer]:
    srv = TimedServer(idle_connection_timeout=TIMEOUT, body_timeout=TIMEOUT)
    yield srv
    await srv.stop()


async def an_idle_connection_closed(server: TimedServer) -> Raw:
    """A connection that sent nothing, once the server has closed it (the timeout passed)."""
    idle = await Raw.open(server.port)
    assert await idle.closed()
    return idle


def test_the_timeouts_are_the_http_servers() -> None:
    router = Router({"": EchoNamespace})
    default = fast_server(router.manager, HTTPServer(router.application()))
    assert (default.header_timeout, default.body_timeout) == (3600, None)
    assert default.sweep_interval() == 30.0
    tuned = fast_server(router.manager, HTTPServer(router.application(),
                                                    idle_connection_timeout=5, body_timeout=1))
    assert (tuned.header_timeout, tuned.body_timeout) == (5, 1)
    assert tuned.sweep_interval() == pytest.approx(0.1)


@pytest.mark.asyncio
async def test_an_idle_kept_alive_connection_is_closed_after_the_timeout(
    server: TimedServer,
) -> None:
    raw = await Raw.open(server.port)
    await open_session(raw)
    answered = time.monotonic()
    assert await raw.closed()
    waited = time.monotonic() - answered
    assert TIMEOUT * 0.9 <= waited < 10
    assert server.fast.timed_out == 1


@pytest.mark.asyncio
async def test_a_request_head_that_never_ends_is_closed_unanswered(server: TimedServer) -> None:
    raw = await Raw.open(server.port)
    raw.send(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: te")
    assert await asyncio.wait_for(raw.reader.read(), 10) == b""  # no answer, a close
    assert server.fast.timed_out == 1


@pytest.mark.asyncio
async def test_a_body_that_never_ends_is_closed_with_tornados_log_line(
    server: TimedServer, caplog: pytest.LogCaptureFixture
) -> None:
    raw = await Raw.open(server.port)
    sid = await open_session(raw)
    with caplog.at_level(logging.INFO, logger="tornio.transports.fasthttp"):
        raw.send(post(f"{EIO_OPEN}&sid={sid}", b"40")[:-1])  # one byte short
        assert await asyncio.wait_for(raw.reader.read(), 10) == b""
    assert "Timeout reading body" in caplog.text


@pytest.mark.asyncio
async def test_a_held_poll_is_not_idle(server: TimedServer) -> None:
    polls, posts = await Raw.open(server.port), await Raw.open(server.port)
    sid = await open_session(polls)
    posts.send(post(f"{EIO_OPEN}&sid={sid}", b"40"))
    assert (await posts.response())[2] == b"ok"
    polls.send(get(f"{EIO_OPEN}&sid={sid}"))
    assert (await polls.response())[2].startswith(b"40")
    polls.send(get(f"{EIO_OPEN}&sid={sid}"))  # held: nothing to send yet
    await an_idle_connection_closed(server)  # the timeout has passed
    posts = await Raw.open(server.port)  # the first one timed out too
    posts.send(post(f"{EIO_OPEN}&sid={sid}", b'42["echo","hi"]'))
    assert (await posts.response())[2] == b"ok"
    assert (await polls.response())[2] == b'42["echo","hi"]'


@pytest.mark.asyncio
async def test_a_connection_busy_with_requests_stays_open(server: TimedServer) -> None:
    busy = await Raw.open(server.port)
    sid = await open_session(busy)
    busy.send(post(f"{EIO_OPEN}&sid={sid}", b"40"))
    assert (await busy.response())[2] == b"ok"
    idle = asyncio.ensure_future(an_idle_connection_closed(server))
    requests = 0
    while not idle.done():  # every answer starts the next request's time afresh
        busy.send(post(f"{EIO_OPEN}&sid={sid}", b'42["echo","x"]'))
        status, _, body = await busy.response()
        assert (status, body) == (200, b"ok")
        requests += 1
        await asyncio.sleep(TIMEOUT / 4)  # paces the client; never longer than the timeout
    await idle
    busy.send(post(f"{EIO_OPEN}&sid={sid}", b'42["echo","x"]'))
    assert (await busy.response())[2] == b"ok"
    assert requests >= 3
