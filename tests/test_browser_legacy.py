"""The real socket.io-client 0.9.16 bundle in headless Chromium against a tornio server, over each
transport it can use in a modern browser: websocket, xhr-polling and jsonp-polling.

One test per transport walks through what an application relies on: connecting, acks carrying
the handler's return value, rooms across two browsers, a client disconnect reaching
``recv_disconnect``, and reconnecting by itself after the server restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
import tornado.web
from playwright.sync_api import BrowserContext, Page

from tests.support import LiveServer, wait_for
from tornio import BaseNamespace, RoomsMixin, Router
from tornio.manager import SocketManager

TRANSPORTS = ["websocket", "xhr-polling", "jsonp-polling"]

#: Short enough that every test sees heartbeats go both ways (websocket) and held polls answered
#: with a noop and renewed (polling); in node 0.9's proportions (polling < close timeout, the
#: client's heartbeat watchdog well above the interval).
TIMINGS: dict[str, Any] = {
    "heartbeat_interval": 0.5,
    "heartbeat_timeout": 10.0,
    "close_timeout": 10.0,
    "polling_duration": 1.0,
}

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>tornio: socket.io-client 0.9.16</title>
<link rel="icon" href="data:,">
<script src="/js/socket.io.js"></script>
<script>
// connectTo(transport): connect to /test with that transport only, and record what happens.
window.connectTo = function (transport) {
  var socket = io.connect('/test', {transports: [transport], 'force new connection': true});
  window.socket = socket;
  window.events = [];
  window.shouts = [];
  ['connect', 'disconnect', 'reconnecting', 'reconnect', 'connect_failed',
   'reconnect_failed', 'error'].forEach(function (name) {
    socket.on(name, function () { window.events.push(name); });
  });
  socket.on('shout', function (text) { window.shouts.push(text); });
};
// emitWithAck(name, ...args): a promise of the ack's arguments.
window.emitWithAck = function () {
  var args = Array.prototype.slice.call(arguments);
  return new Promise(function (resolve) {
    window.socket.emit.apply(window.socket, args.concat([function () {
      resolve(Array.prototype.slice.call(arguments));
    }]));
  });
};
</script></head><body></body></html>
"""


@dataclass
class Recorder:
    """What the server saw, across restarts (written on the server thread only)."""

    routers: list[Router] = field(default_factory=list)
    connected: list[str] = field(default_factory=list)
    disconnected: list[str] = field(default_factory=list)

    @property
    def manager(self) -> SocketManager:
        """The manager of the server's current generation (a restart makes a new one)."""
        return self.routers[-1].manager


class ProbeNamespace(BaseNamespace, RoomsMixin):
    recorder: ClassVar[Recorder]

    def recv_connect(self) -> None:
        self.recorder.connected.append(self.socket.sessid)

    def recv_disconnect(self) -> None:
        self.recorder.disconnected.append(self.socket.sessid)
        super().recv_disconnect()

    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args

    def on_join(self, room: str) -> bool:
        self.join(room)
        return True

    def on_shout(self, room: str, text: str) -> None:
        self.emit_to_room(room, "shout", text)


class PageHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write(PAGE)


def make_app_factory(js_dir: Path, recorder: Recorder) -> Callable[[], tornado.web.Application]:
    namespace = type("Probe", (ProbeNamespace,), {"recorder": recorder})
    bundle_dir = str(js_dir / "socket.io-client-legacy" / "dist")

    def factory() -> tornado.web.Application:
        router = Router(
            {"/test": namespace},
            handlers=[
                (r"/", PageHandler),
                (r"/js/(.*)", tornado.web.StaticFileHandler, {"path": bundle_dir}),
            ],
            **TIMINGS,
        )
        recorder.routers.append(router)
        return router.application()

    return factory


def open_client(context: BrowserContext, server: LiveServer, transport: str) -> Page:
    """A page connected to /test over ``transport`` (and no other)."""
    page = context.new_page()
    page.goto(server.url + "/")
    page.evaluate("transport => connectTo(transport)", transport)
    page.wait_for_function("window.events.indexOf('connect') >= 0")
    assert page.evaluate("socket.socket.transport.name") == transport
    return page


def client_sid(page: Page) -> str:
    return str(page.evaluate("socket.socket.sessionid"))


def sids_in(server: LiveServer, recorder: Recorder, room: str | None = None) -> set[str]:
    """The sockets the server has in /test (or one of its rooms), from its public API."""

    async def fetch() -> set[str]:
        return {s["sid"] for s in await recorder.manager.fetch_sessions("/test", room)}

    return server.run(fetch)


def watch(page: Page, errors: list[str]) -> Page:
    """Collect the page's uncaught exceptions in ``errors``."""
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    return page


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_legacy_client_in_chromium(
    transport: str,
    live_server: Callable[..., LiveServer],
    browser_context: Callable[..., BrowserContext],
    js_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tornio")
    page_errors: list[str] = []
    recorder = Recorder()
    server = live_server(make_app_factory(js_dir, recorder))

    # Connects: the server has the page's session in /test.
    alice = watch(open_client(browser_context(), server, transport), page_errors)
    alice_sid = client_sid(alice)
    assert server.call(lambda: list(recorder.connected)) == [alice_sid]
    assert sids_in(server, recorder) == {alice_sid}

    # An ack carries the handler's return value; a tuple becomes several arguments.
    assert alice.evaluate("emitWithAck('echo', 1, 'two', {three: [3]})") == [
        1, "two", {"three": [3]},
    ]
    assert alice.evaluate("emitWithAck('echo')") == []

    # Rooms, across two browsers: bob's shout to r1 reaches alice (in r1), his shout to r2
    # (where only he is) does not, and neither comes back to bob (the sender is skipped).
    bob = watch(open_client(browser_context(), server, transport), page_errors)
    bob_sid = client_sid(bob)
    assert bob_sid != alice_sid
    assert alice.evaluate("emitWithAck('join', 'r1')") == [True]
    assert bob.evaluate("emitWithAck('join', 'r2')") == [True]
    assert sids_in(server, recorder, "r1") == {alice_sid}
    bob.evaluate("socket.emit('shout', 'r2', 'to r2'); socket.emit('shout', 'r1', 'to r1')")
    alice.wait_for_function("window.shouts.length >= 1")
    assert alice.evaluate("window.shouts") == ["to r1"]
    assert bob.evaluate("emitWithAck('echo', 'sync')") == ["sync"]  # bob's queue is drained
    assert bob.evaluate("window.shouts") == []

    # The page disconnects: recv_disconnect runs on the server, the socket leaves /test.
    alice.evaluate("socket.disconnect()")
    wait_for(lambda: server.call(lambda: alice_sid in recorder.disconnected), 5,
             message="recv_disconnect for alice")
    assert sids_in(server, recorder) == {bob_sid}
    assert sids_in(server, recorder, "r1") == set()
    alice.close()

    # The server restarts (a fresh app on the same port): bob reconnects by himself, with a
    # new session that the new server has in /test, and it works.
    server.restart()
    bob.wait_for_function(
        "window.events.indexOf('reconnect') >= 0"
        " && window.events.filter(e => e === 'connect').length === 2",
        timeout=15_000,
    )
    events = bob.evaluate("window.events")
    assert events[:2] == ["connect", "disconnect"] and "reconnecting" in events
    new_sid = client_sid(bob)
    assert new_sid != bob_sid
    assert bob.evaluate("socket.socket.transport.name") == transport
    assert bob.evaluate("emitWithAck('echo', 'again')") == ["again"]
    assert sids_in(server, recorder) == {new_sid}
    assert server.call(lambda: recorder.connected[-1]) == new_sid
    assert len(recorder.routers) == 2

    assert page_errors == []
    assert server.loop_errors == []
    problems = [r.getMessage() for r in caplog.records if r.name.startswith("tornio")]
    assert problems == []
