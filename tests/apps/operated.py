"""The application ``tests/test_admin_ui.py`` and ``tests/test_metrics.py`` run under
``tornio serve --workers 2 --admin ... --metrics-port ...``
(``tornio serve tests.apps.operated:router``).

``/chat``: ``join`` a room, ``say`` to the others in it (``said``), ``ask`` the client a
question and answer with its ack (a server-side ack, for the ack latency histogram),
``whoami`` ([node id, sid]). The page ``/legacy.html`` is a socket.io-client 0.9.16 client of
``/chat`` (``window.connectChat()``), the bundle served from tests/js/node_modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tornado.web

from tornio import BaseNamespace, RoomsMixin, Router

JS = Path(__file__).resolve().parents[1] / "js" / "node_modules"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>0.9.16 chat client</title>
<link rel="icon" href="data:,">
<script src="/js/socket.io.js"></script>
<script>
window.events = [];
window.connectChat = function (room) {
  var socket = io.connect('/chat', {transports: ['websocket'], 'force new connection': true});
  window.socket = socket;
  socket.on('connect', function () {
    socket.emit('join', room, function () { window.events.push(['joined', room]); });
  });
  socket.on('disconnect', function () { window.events.push(['disconnect']); });
  socket.on('said', function (text) { window.events.push(['said', text]); });
  socket.on('announce', function (text) { window.events.push(['announce', text]); });
};
</script></head><body>0.9.16</body></html>
"""


class Chat(BaseNamespace, RoomsMixin):
    def on_join(self, room: str) -> bool:
        self.join(room)
        return True

    def on_say(self, room: str, text: str) -> bool:
        self.emit_to_room(room, "said", text)
        return True

    async def on_ask(self, question: str) -> Any:
        return await self.call("question", question, timeout=5)

    def on_whoami(self) -> list[str]:
        return [self.socket.manager.node_id, self.sid]


class Page(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write(PAGE)


router = Router(
    {"/chat": Chat},
    handlers=[
        (r"/legacy.html", Page),
        (r"/js/(.*)", tornado.web.StaticFileHandler,
         {"path": str(JS / "socket.io-client-legacy" / "dist")}),
    ],
)
