"""A plain :class:`~tornio.modern.endpoint.EngineEndpoint` (no Socket.IO layer) over Engine.IO
polling: POSTs of one message and of more than a slice of messages reach ``on_message`` in
order and are answered ``ok``.

The official Engine.IO suites run against such an endpoint (``tests/apps/compliance.py``);
the polling transport reads the input-slicing state of whatever it serves, so the endpoint's
connection must carry it as a Socket.IO socket does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.support.engine_client import EnginePolling
from tornio.core.fairness import SLICE
from tornio.modern.endpoint import EngineConnection, EngineEndpoint
from tornio.protocol.engineio import SEPARATOR

TIMEOUT = 10


class Server:
    def __init__(self) -> None:
        self.received: list[str | bytes] = []
        self.count_reached = asyncio.Event()
        self.expected = 0
        self.endpoint = EngineEndpoint("/engine.io", on_message=self.on_message)
        self.http = HTTPServer(tornado.web.Application(self.endpoint.urls))
        sockets = bind_sockets(0, "127.0.0.1")
        self.http.add_sockets(sockets)
        self.base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"

    def on_message(self, conn: EngineConnection, data: str | bytes) -> None:
        self.received.append(data)
        if len(self.received) >= self.expected:
            self.count_reached.set()

    async def stop(self) -> None:
        self.http.stop()
        self.endpoint.close_all()
        await self.http.close_all_connections()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    running = Server()
    yield running
    await running.stop()


async def test_a_post_of_one_message_reaches_on_message(server: Server) -> None:
    server.expected = 1
    poll = await EnginePolling.open(server.base, path="/engine.io/")
    response = await poll.post("4hello")
    assert (response.code, response.body) == (200, b"ok")
    await asyncio.wait_for(server.count_reached.wait(), TIMEOUT)
    assert server.received == ["hello"]


async def test_a_post_of_more_than_a_slice_is_handled_whole_and_in_order(
    server: Server,
) -> None:
    count = 3 * SLICE + 5
    server.expected = count
    poll = await EnginePolling.open(server.base, path="/engine.io/")
    body = SEPARATOR.join(f"4m{i}" for i in range(count))
    response = await poll.post(body)
    assert (response.code, response.body) == (200, b"ok")
    await asyncio.wait_for(server.count_reached.wait(), TIMEOUT)
    assert server.received == [f"m{i}" for i in range(count)]
