"""The cluster tests' 0.9 chatter (tests/support/multihost.py) says at once why it got no
answer when its transport ends: a poll answered 503 (a request its host could not forward)
used to kill its reader without a word, and the test only saw a 10 s timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.support.multihost import LegacyChatter

pytestmark = pytest.mark.timeout(30)

SID = "abcdefghijklmnopqrst"


class Script:
    """What the polls answer: ``answers`` in turn, then (once ``fail`` is set) 503."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.fail = asyncio.Event()
        self.posted: asyncio.Queue[str] = asyncio.Queue()


class Handshake(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write(f"{SID}:15:25:xhr-polling")


class Polling(tornado.web.RequestHandler):
    def initialize(self, script: Script) -> None:
        self.script = script

    async def get(self, sid: str) -> None:
        if self.script.answers:
            self.write(self.script.answers.pop(0))
            return
        await self.script.fail.wait()
        self.set_status(503)
        self.write("session owner unreachable")

    def post(self, sid: str) -> None:
        self.script.posted.put_nowait(self.request.body.decode())
        self.write("1")


@pytest.fixture
async def serve() -> AsyncIterator[tuple[str, Script]]:
    script = Script()
    app = tornado.web.Application([
        (r"/socket.io/1/", Handshake),
        (r"/socket.io/1/xhr-polling/([^/]+)", Polling, {"script": script}),
    ], log_function=lambda handler: None)  # the 503 is the point, not a server error
    server = HTTPServer(app)
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    try:
        yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}", script
    finally:
        script.fail.set()
        server.stop()
        await server.close_all_connections()


async def test_a_chatter_whose_poll_fails_before_the_connect_says_so(
    serve: tuple[str, Script],
) -> None:
    base, script = serve
    script.answers.append("1::")
    script.fail.set()
    chatter = LegacyChatter(base, "p1")
    try:
        with pytest.raises(AssertionError, match=f"p1 \\({SID}\\): HTTP 503 before /chat"):
            await asyncio.wait_for(chatter.connect(), 5)
        assert chatter.ended == "HTTP 503"
        with pytest.raises(AssertionError, match="HTTP 503"):
            await chatter.call("whoami")
    finally:
        await chatter.close()


async def test_a_call_waiting_when_the_poll_fails_says_so(serve: tuple[str, Script]) -> None:
    base, script = serve
    script.answers += ["1::", "1::/chat"]
    chatter = LegacyChatter(base, "p2")
    try:
        await asyncio.wait_for(chatter.connect(), 5)
        calling = asyncio.ensure_future(chatter.call("whoami", timeout=20))
        assert await asyncio.wait_for(script.posted.get(), 5) == "1::/chat"
        assert "whoami" in await asyncio.wait_for(script.posted.get(), 5)
        script.fail.set()
        with pytest.raises(AssertionError, match=f"p2 \\({SID}\\): HTTP 503"):
            await asyncio.wait_for(calling, 5)
    finally:
        await chatter.close()
