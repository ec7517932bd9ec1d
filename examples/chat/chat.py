"""The chat of gevent-socketio's examples, on tornio and the socket.io-client 0.9.16 browser client.

Run it from this directory (``scripts/chat`` at the repository root installs what it needs first)::

    tornio serve chat:router --port 8000

then open http://127.0.0.1:8000/ in two browsers (``/?room=kitchen`` picks a room).

The nickname list is never kept in the process: it is read from the sockets' sessions with
``fetch_sessions``, so it stays right when tornio runs several worker processes. Two users
who change their nicknames at the same moment on different workers may each read the other's
session just before the other's change lands, and whichever list reaches a page last wins; so
each change sends the list once more a moment later, read after both, and every page settles
on the right one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tornado.web

from tornio import BaseNamespace, BroadcastMixin, RoomsMixin, Router, event

__all__ = ["ChatNamespace", "router"]

log = logging.getLogger("tornio.examples.chat")

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
NODE_MODULES = HERE / "node_modules"

#: What /vendor/<name> serves: the browser libraries npm installed here.
VENDOR_FILES = {
    "socket.io.js": NODE_MODULES / "socket.io-client" / "dist" / "socket.io.js",
    "jquery.js": NODE_MODULES / "jquery" / "dist" / "jquery.min.js",
}

SETUP_HINT = (
    "The chat example's browser libraries are not installed ({path} is missing).\n"
    "Run scripts/chat from the repository root, or run\n"
    "    npm install --ignore-scripts --no-audit --no-fund\n"
    "in examples/chat, then reload this page.\n"
)


def missing_file_hint(file: Path) -> str:
    """What to tell a user whose browser libraries are missing."""
    shown = file.relative_to(HERE) if file.is_relative_to(HERE) else file
    return SETUP_HINT.format(path=shown)


def nickname_list(sessions: Iterable[dict[str, Any]]) -> list[str]:
    """The sorted nicknames of some sessions (sockets without one yet are left out)."""
    return sorted({s["nickname"] for s in sessions if s.get("nickname")})


#: Seconds after a nickname change when the list is read and sent again.
SETTLE_DELAY = 0.5
_settling: set[asyncio.Task[None]] = set()


def resend_nicknames_later(manager: Any, namespace: str, leaving: str | None = None) -> None:
    """Send the nickname list of ``namespace`` again after :data:`SETTLE_DELAY`, read then
    (without ``leaving``, a socket on its way out)."""

    async def resend() -> None:
        await asyncio.sleep(SETTLE_DELAY)
        try:
            sessions = await manager.fetch_sessions(namespace)
        except Exception:
            log.exception("could not read the nickname list again")
            return
        names = nickname_list(s for s in sessions if s["sid"] != leaving)
        manager.emit("nicknames", names, namespace=namespace)

    task = asyncio.get_running_loop().create_task(resend())
    _settling.add(task)
    task.add_done_callback(_settling.discard)


class ChatNamespace(BaseNamespace, RoomsMixin, BroadcastMixin):
    """One user of the chat: joins a room, picks a nickname, talks to the room."""

    room: str | None = None

    def on_join(self, room: str) -> bool:
        self.room = room
        self.join(room)
        return True

    async def on_nickname(self, nickname: str) -> bool:
        """Take ``nickname``; False (the client's ack) when someone else has it."""
        nickname = str(nickname).strip()
        if not nickname:
            return False
        me = self.sid
        others = [s for s in await self.socket.manager.fetch_sessions(self.ns_name)
                  if s["sid"] != me]
        if nickname in nickname_list(others):
            return False
        self.session["nickname"] = nickname
        self.broadcast_event("announcement", f"{nickname} connected")
        self.broadcast_event("nicknames", nickname_list([*others, self.session]))
        resend_nicknames_later(self.socket.manager, self.ns_name)
        return True

    # 4.x clients' names reach an on_ method only when they are Python identifiers: 'user
    # message' needs its handler named (0.9 clients' also find on_user_message by itself).
    @event("user message")
    def on_user_message(self, msg: str) -> bool:
        nickname = self.session.get("nickname")
        if self.room is None or not nickname:
            return False  # join a room and pick a nickname first
        self.emit_to_room(self.room, "msg_to_room", nickname, msg)
        return True

    async def recv_disconnect(self) -> None:
        """The user left (closed the page, or the socket timed out): tell the others."""
        nickname = self.session.pop("nickname", None)
        me = self.sid
        try:
            if nickname:
                # When the client only left this namespace, its socket is still listed.
                others = [s for s in await self.socket.manager.fetch_sessions(self.ns_name)
                          if s["sid"] != me]
                self.broadcast_event_not_me("announcement", f"{nickname} disconnected")
                self.broadcast_event_not_me("nicknames", nickname_list(others))
                resend_nicknames_later(self.socket.manager, self.ns_name, leaving=me)
        finally:
            self.disconnect(silent=True)


class VendorFileHandler(tornado.web.StaticFileHandler):
    """Serves one file that npm installed, or explains how to install it."""

    def initialize(self, file: Path) -> None:  # type: ignore[override]
        super().initialize(path=str(file.parent))
        self.file = file

    async def get(self, include_body: bool = True) -> None:  # type: ignore[override]
        if not self.file.is_file():
            log.error("%s is missing: run scripts/chat (or npm install in %s)", self.file, HERE)
            self.set_status(500)
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.set_header("Cache-Control", "no-store")
            self.finish(missing_file_hint(self.file))
            return
        await super().get(self.file.name, include_body)

    async def head(self) -> None:  # type: ignore[override]
        await self.get(include_body=False)


class PageHandler(tornado.web.StaticFileHandler):
    """The static files, never cached by the browser (it is an example: edit and reload)."""

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-cache")


router = Router(
    {"/chat": ChatNamespace},
    handlers=[
        (r"/()", PageHandler, {"path": str(STATIC), "default_filename": "index.html"}),
        (r"/static/(.*)", PageHandler, {"path": str(STATIC)}),
        *(
            (r"/vendor/" + name.replace(".", r"\."), VendorFileHandler, {"file": file})
            for name, file in VENDOR_FILES.items()
        ),
    ],
)

for _file in VENDOR_FILES.values():
    if not _file.is_file():
        log.warning(missing_file_hint(_file).rstrip())
        break
