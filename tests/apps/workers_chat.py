"""The chat that ``tests/test_cluster.py`` serves with ``tornio serve --workers 3``
(``tornio serve tests.apps.workers_chat:router``).

The chat example's events (``join``, ``nickname`` checked against the whole cluster with
``fetch_sessions``, ``user message`` to the room as ``msg_to_room``, ``nicknames`` to the
namespace), plus what the tests need: ``say`` sends its text to the others in the room as
``said`` (no nickname needed: load tests), ``whoami`` tells which node a socket is on.
``router`` also serves the chat example's page (examples/chat), so that the socket.io-client
0.9.16 bundle in a browser talks to this namespace.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from tornio import BaseNamespace, BroadcastMixin, RoomsMixin, Router, event

CHAT_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chat" / "chat.py"


class WorkersChatNamespace(BaseNamespace, RoomsMixin, BroadcastMixin):
    room: str | None = None

    def on_join(self, room: str) -> bool:
        self.room = room
        self.join(room)
        return True

    async def on_nickname(self, nickname: str) -> bool:
        """Take ``nickname``; False when a socket anywhere in the cluster has it."""
        me = self.sid
        sessions = await self.socket.manager.fetch_sessions(self.ns_name)
        others = [s for s in sessions if s["sid"] != me]
        if any(s.get("nickname") == nickname for s in others):
            return False
        self.session["nickname"] = nickname
        names = sorted({nickname, *(s["nickname"] for s in others if s.get("nickname"))})
        self.broadcast_event("nicknames", names)
        return True

    @event("user message")  # 4.x clients: not an identifier, so named explicitly
    def on_user_message(self, msg: str) -> bool:
        nickname = self.session.get("nickname")
        if self.room is None or not nickname:
            return False
        self.emit_to_room(self.room, "msg_to_room", nickname, msg)
        return True

    def on_say(self, text: str) -> None:
        """``text`` to the others in this socket's room, as ``said``."""
        if self.room is not None:
            self.emit_to_room(self.room, "said", text)

    def on_whoami(self) -> list[str]:
        """[this node's id, this socket's sid]."""
        return [self.socket.manager.node_id, self.sid]


namespaces = {"/chat": WorkersChatNamespace}


def _chat_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tornio_example_chat", CHAT_EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The chat example's page and files, this module's namespace behind ``/chat``.
router = Router(namespaces, handlers=_chat_example().router.handlers)
