"""htmlfile in real Blink: the forever iframe, read by a harness page.

socket.io-client 0.9 only uses htmlfile in IE (``new ActiveXObject('htmlfile')``), so the
harness plays its part: the parent page defines ``window.s = {_: function (msg, doc) {...}}``
as the client does (unescape ``\\/``, hand the message on, remove the script element), loads
``/socket.io/1/htmlfile/<sid>`` in an iframe, and sends by XHR POST, answering heartbeats.
Server emits, including ones containing ``</script>`` and ``<!--<script>``, must arrive
intact and run no script of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import tornado.web
from playwright.sync_api import BrowserContext, Page

from tests.support import LiveServer, wait_for
from tornio import BaseNamespace, RoomsMixin, Router
from tornio.protocol import legacy

pytestmark = pytest.mark.timeout(60)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>htmlfile harness</title>
<link rel="icon" href="data:,">
<script>
window.payloads = [];
window.heartbeats = 0;
window.pwned = false;
function post(payload) {
  return fetch('/socket.io/1/htmlfile/' + window.sid + '?t=' + Date.now(), {
    method: 'POST', body: payload, headers: {'Content-Type': 'text/plain;charset=UTF-8'}
  }).then(function (r) { return r.text(); });
}
// What socket.io-client 0.9's HTMLFile.prototype._ does with each message.
window.s = {_: function (msg, doc) {
  msg = msg.replace(/\\\\\\//g, '/');
  window.payloads.push(msg);
  if (msg === '2::') { window.heartbeats++; post('2::'); }
  var script = doc.getElementsByTagName('script')[0];
  if (script) { script.parentNode.removeChild(script); }
}};
window.start = function () {
  return fetch('/socket.io/1/?t=' + Date.now()).then(function (r) { return r.text(); })
    .then(function (body) {
      window.sid = body.split(':')[0];
      var iframe = document.createElement('iframe');
      iframe.src = '/socket.io/1/htmlfile/' + window.sid + '?t=' + Date.now();
      document.body.appendChild(iframe);
      return window.sid;
    });
};
window.post = post;
</script></head><body></body></html>
"""


class Echo(BaseNamespace, RoomsMixin):
    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args


class PageHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(PAGE)


def packets(page: Page) -> list[str]:
    out: list[str] = []
    for payload in page.evaluate("window.payloads"):
        out += legacy.decode_payload(payload)
    return out


def test_htmlfile_in_chromium(
    live_server: Callable[..., LiveServer],
    browser_context: Callable[..., BrowserContext],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tornio")
    routers: list[Router] = []

    def factory() -> tornado.web.Application:
        router = Router(
            {"": Echo},
            handlers=[(r"/", PageHandler)],
            heartbeat_interval=0.1,
            heartbeat_timeout=0.6,
        )
        routers.append(router)
        return router.application()

    server = live_server(factory)
    errors: list[str] = []
    page = browser_context().new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/")
    sid = page.evaluate("start()")
    page.wait_for_function("window.payloads.indexOf('1::') >= 0")
    assert packets(page)[0] == "1::"

    # Sends by POST, on the htmlfile URL; the ack comes down the iframe.
    assert page.evaluate("""post('5:1+::{"name":"echo","args":["a</script>b"]}')""") == "1"
    page.wait_for_function("window.payloads.some(p => p.indexOf('6:::1+') === 0)")
    assert '6:::1+["a</script>b"]' in packets(page)

    # Server emits that would break out of a naive <script> wrapper arrive as data.
    nasty = [
        "</script><script>window.pwned = true</script>",
        "<!--<script>",
        "after <!-- \u2028 \U0001f600 </script> -->",
        "a\\/b",
    ]
    manager = routers[-1].manager
    for text in nasty:
        server.call(lambda t=text: manager.emit("news", t))
    page.wait_for_function("window.payloads.filter(p => p.indexOf('5:::') === 0).length >= 4")
    events = [legacy.decode_packet(p) for p in packets(page) if p.startswith("5:::")]
    # "a\\/b" loses its backslash: the 0.9 client's own unescape does that (as with node).
    assert [e["args"][0] for e in events] == [*nasty[:3], "a/b"]
    assert page.evaluate("window.pwned") is False

    # Heartbeats both ways keep the session alive well past the heartbeat timeout.
    page.wait_for_function("window.heartbeats >= 12")  # 12 x 0.1 s > 0.6 s
    assert server.call(lambda: sid in manager.sockets)

    # Every message handed over removed its script: the iframe document does not grow.
    frame = page.frames[1]
    assert frame.evaluate("document.getElementsByTagName('script').length") <= 2

    # The page says goodbye: the session ends and the stream with it.
    assert page.evaluate("post('0::')") == "1"
    wait_for(lambda: server.call(lambda: sid not in manager.sockets), 5, message="session end")
    assert errors == []
