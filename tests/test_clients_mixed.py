"""One namespace class, both protocol generations at once: socket.io-client 0.9.16 in headless
Chromium, socket.io-client 4.x under Node with the default parser and with the msgpack parser.
A handler's return value is each one's ack, each answers a server emit that asks for an ack,
and a room emit reaches each in its own protocol (``tests/apps/probe.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from playwright.sync_api import BrowserContext, Page

from tests.apps.probe import Record, namespaces
from tests.support import LiveServer, wait_for
from tests.support.node_client import NodeClient, node_modules_ready
from tornio import Router

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>tornio: 0.9.16 beside 4.x</title>
<link rel="icon" href="data:,">
<script src="/js/socket.io.js"></script>
<script>
window.shouts = [];
window.answered = [];
window.socket = io.connect('/test', {transports: ['websocket'], 'force new connection': true});
socket.on('question', function (text, ack) { ack('0.9 says ' + text); });
socket.on('answered', function () { window.answered.push([].slice.call(arguments)); });
socket.on('shouted', function (sid, text) { window.shouts.push([sid, text]); });
window.emitWithAck = function () {
  var args = [].slice.call(arguments);
  return new Promise(function (resolve) {
    socket.emit.apply(socket, args.concat([function () { resolve([].slice.call(arguments)); }]));
  });
};
</script></head><body></body></html>
"""


class PageHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write(PAGE)


@pytest.fixture
def server(
    live_server: Callable[..., LiveServer], js_dir: Path
) -> Iterator[tuple[LiveServer, Record]]:
    missing = node_modules_ready()
    if missing:
        pytest.fail(missing)
    record = Record()
    bundle = str(js_dir / "socket.io-client-legacy" / "dist")

    def factory() -> tornado.web.Application:
        return Router(
            namespaces(record),
            handlers=[
                (r"/", PageHandler),
                (r"/js/(.*)", tornado.web.StaticFileHandler, {"path": bundle}),
            ],
        ).application()

    yield live_server(factory), record


def shouted(client: NodeClient) -> list[Any]:
    return [
        line["args"]
        for line in client.lines
        if line.get("step") == "event" and line.get("event") == "shouted"
    ]


def test_one_namespace_class_serves_both_generations(
    server: tuple[LiveServer, Record], browser_context: Callable[..., BrowserContext]
) -> None:
    live, record = server
    page: Page = browser_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(live.url + "/")
    page.wait_for_function("window.socket.socket.connected")
    old_sid = str(page.evaluate("socket.socket.sessionid"))

    answers = {"question": ["4.x says"]}
    options: dict[str, Any] = {"auth": {"token": "good"}, "answers": answers}
    with (
        NodeClient(live.url, "interactive", options) as json_client,
        NodeClient(live.url, "interactive", {**options, "parser": "msgpack"}) as msgpack_client,
    ):
        json_sid = json_client.step("connect")["id"]
        msgpack_sid = msgpack_client.step("connect")["id"]

        # The handler's return value is the ack, a tuple several arguments, for every client.
        assert page.evaluate("emitWithAck('echo', 1, 'two', {three: [3]})") == [
            1,
            "two",
            {"three": [3]},
        ]
        assert json_client.emit("echo", 1, "two", {"three": [3]}) == [1, "two", {"three": [3]}]
        assert msgpack_client.emit("echo", 1, "two", {"three": [3]}) == [
            1,
            "two",
            {"three": [3]},
        ]
        who = page.evaluate("emitWithAck('whoami')")[0]
        assert (who["sid"], who["protocol"], who["auth"]) == (old_sid, "legacy", {})

        # The server asks each client with an ack; its callback gets each one's answer.
        assert page.evaluate("emitWithAck('ask', 'a')") == ["asked"]
        page.wait_for_function("window.answered.length === 1")
        assert page.evaluate("window.answered") == [["0.9 says a"]]
        assert json_client.emit("ask", "b") == ["asked"]
        json_client.step("event", event="answered", args=["4.x says"])
        assert msgpack_client.emit("ask", "c") == ["asked"]
        msgpack_client.step("event", event="answered", args=["4.x says"])
        assert live.call(lambda: list(record.answers)) == [
            ("0.9 says a",),
            ("4.x says",),
            ("4.x says",),
        ]

        # One room, three flavours: each shout reaches the two others, in their protocol.
        assert page.evaluate("emitWithAck('join', 'mixed')") == [["mixed"]]
        assert json_client.emit("join", "mixed") == [["mixed"]]
        assert msgpack_client.emit("join", "mixed") == [["mixed"]]
        assert page.evaluate("emitWithAck('shout', 'mixed', 'from 0.9')") == [True]
        json_client.step("event", event="shouted", args=[old_sid, "from 0.9"])
        msgpack_client.step("event", event="shouted", args=[old_sid, "from 0.9"])
        assert json_client.emit("shout", "mixed", "from 4.x") == [True]
        msgpack_client.step("event", event="shouted", args=[json_sid, "from 4.x"])
        page.wait_for_function("window.shouts.length === 1")
        assert msgpack_client.emit("shout", "mixed", "from msgpack") == [True]
        json_client.step("event", event="shouted", args=[msgpack_sid, "from msgpack"])
        page.wait_for_function("window.shouts.length === 2")
        assert page.evaluate("window.shouts") == [
            [json_sid, "from 4.x"],
            [msgpack_sid, "from msgpack"],
        ]
        # Nobody heard their own shout (round trips first, so anything sent has arrived).
        assert json_client.emit("echo", "sync") == ["sync"]
        assert msgpack_client.emit("echo", "sync") == ["sync"]
        assert shouted(json_client) == [[old_sid, "from 0.9"], [msgpack_sid, "from msgpack"]]
        assert shouted(msgpack_client) == [[old_sid, "from 0.9"], [json_sid, "from 4.x"]]

        json_client.quit()
        msgpack_client.quit()

    page.evaluate("socket.disconnect()")
    wait_for(
        lambda: len(live.call(lambda: list(record.disconnected))) == 3,
        5,
        message="recv_disconnect for the three clients",
    )
    assert errors == []
