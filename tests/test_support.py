"""The test infrastructure itself: LiveServer, wait_for, Chromium, the npm client libraries."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tornado.web
import tornado.websocket
from playwright.sync_api import BrowserContext, Page

from tests.support import LiveServer, wait_for

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>tornio support</title>
<script src="/js/socket.io.js"></script></head>
<body><p id="generation">{generation}</p></body></html>
"""


class State:
    """Server-side facts the tests look at (written on the server thread only)."""

    def __init__(self) -> None:
        self.generation = 0
        self.ws_closed = 0
        self.hanging_requests = 0


class PageHandler(tornado.web.RequestHandler):
    def initialize(self, state: State) -> None:
        self.state = state

    def get(self) -> None:
        self.write(PAGE.format(generation=self.state.generation))


class EchoSocket(tornado.websocket.WebSocketHandler):
    def initialize(self, state: State) -> None:
        self.state = state

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)

    def on_close(self) -> None:
        self.state.ws_closed += 1


class HangingHandler(tornado.web.RequestHandler):
    """A long poll that never answers: stop() must still close it, and not hang."""

    def initialize(self, state: State) -> None:
        self.state = state

    async def get(self) -> None:
        self.state.hanging_requests += 1
        await asyncio.Event().wait()


def make_app_factory(js_dir: Path, state: State) -> Callable[[], tornado.web.Application]:
    bundle_dir = js_dir / "socket.io-client-legacy" / "dist"

    def factory() -> tornado.web.Application:
        asyncio.get_running_loop()  # called on the server's loop thread
        state.generation += 1
        handler_args: dict[str, Any] = {"state": state}
        return tornado.web.Application(
            [
                (r"/", PageHandler, handler_args),
                (r"/echo", EchoSocket, handler_args),
                (r"/hang", HangingHandler, handler_args),
                (r"/js/(.*)", tornado.web.StaticFileHandler, {"path": str(bundle_dir)}),
            ]
        )

    return factory


def fetch_from(page: Page, path: str) -> str:
    """fetch() in the page; 'ok:<status>' or 'failed:<error>'."""
    return str(
        page.evaluate(
            """path => fetch(path, {cache: 'no-store'}).then(
                   r => 'ok:' + r.status, e => 'failed:' + e.name)""",
            path,
        )
    )


@pytest.mark.server_errors(("tornado.access", "^500 GET /hang"))
def test_chromium_loads_the_legacy_bundle_and_survives_stop_and_restart(
    live_server: Callable[..., LiveServer],
    browser_context: Callable[..., BrowserContext],
    js_dir: Path,
) -> None:
    state = State()
    server = live_server(make_app_factory(js_dir, state))
    port = server.port
    page = browser_context().new_page()

    page.goto(server.url + "/")
    assert page.evaluate("io.version") == "0.9.16"
    assert page.evaluate("io.transports") == [
        "websocket",
        "flashsocket",
        "htmlfile",
        "xhr-polling",
        "jsonp-polling",
    ]
    assert page.text_content("#generation") == "1"

    # An open websocket and a pending long poll: stop() must close both.
    page.evaluate(
        """url => new Promise((resolve, reject) => {
            const ws = new WebSocket(url);
            window.wsClosed = false;
            ws.onclose = () => { window.wsClosed = true; };
            ws.onmessage = e => resolve(e.data);
            ws.onerror = reject;
            ws.onopen = () => ws.send('ping');
        })""",
        server.ws_url + "/echo",
    )
    page.evaluate(
        """() => { window.hang = fetch('/hang').then(r => 'ok:' + r.status,
                                                    e => 'failed:' + e.name); }"""
    )
    wait_for(lambda: state.hanging_requests == 1, 5, message="the /hang request to arrive")

    server.stop()
    assert not server.running
    page.wait_for_function("window.wsClosed === true", timeout=5_000)
    assert page.evaluate("window.hang") == "failed:TypeError"
    assert state.ws_closed == 1  # on_close ran before the loop ended
    assert fetch_from(page, "/") == "failed:TypeError"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url + "/", timeout=5)

    server.restart()
    assert server.port == port
    assert fetch_from(page, "/") == "ok:200"
    page.reload()
    assert page.text_content("#generation") == "2"  # a fresh app from the factory
    assert page.evaluate("io.version") == "0.9.16"


def test_restart_while_running_keeps_the_port(js_dir: Path) -> None:
    state = State()
    with LiveServer(make_app_factory(js_dir, state)) as server:
        port = server.port
        assert server.url == f"http://127.0.0.1:{port}"
        server.restart()
        assert server.port == port
        with urllib.request.urlopen(server.url + "/", timeout=5) as response:
            assert b'id="generation">2<' in response.read()
    assert not server.running
    server.stop()  # a second stop is a no-op


def test_call_and_run_execute_on_the_server_thread() -> None:
    with LiveServer(lambda: tornado.web.Application([])) as server:
        server_thread = server.call(threading.get_ident)
        assert server_thread != threading.get_ident()
        assert server.call(lambda a, b: a + b, 2, 3) == 5
        assert server.call(lambda: isinstance(server.app, tornado.web.Application))

        async def double_later(x: int) -> tuple[int, int]:
            await asyncio.sleep(0.01)
            return x * 2, threading.get_ident()

        assert server.run(double_later, 21) == (42, server_thread)

        def boom() -> None:
            raise ValueError("from the server thread")

        with pytest.raises(ValueError, match="from the server thread"):
            server.call(boom)

        async def forever() -> None:
            await asyncio.Event().wait()

        with pytest.raises(TimeoutError):
            server.run(forever, timeout=0.1)
        assert server.call(lambda: 1) == 1  # the loop is still fine
    with pytest.raises(RuntimeError, match="not running"):
        server.call(lambda: 1)


def test_wait_for_returns_the_value_or_fails_with_a_message() -> None:
    hits: list[int] = []

    def third_call() -> int:
        hits.append(1)
        return len(hits) if len(hits) >= 3 else 0

    assert wait_for(third_call, 1) == 3
    with pytest.raises(AssertionError, match="the moon"):
        wait_for(lambda: False, 0.05, message="the moon")


def test_npm_clients_are_installed(js_dir: Path) -> None:
    legacy = json.loads((js_dir / "socket.io-client-legacy" / "package.json").read_text())
    modern = json.loads((js_dir / "socket.io-client" / "package.json").read_text())
    assert legacy["version"] == "0.9.16"
    assert modern["version"].split(".")[0] == "4"
    assert (js_dir / "socket.io-client" / "dist" / "socket.io.min.js").is_file()
    assert (js_dir / "jquery" / "dist" / "jquery.min.js").is_file()
    assert (js_dir / "ws" / "package.json").is_file()
