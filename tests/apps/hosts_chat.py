"""A chat namespace for cluster tests (``tornio serve tests.apps.hosts_chat:namespaces``).

Rooms, nicknames checked against the whole cluster (``fetch_sessions``), room messages, and
a few questions a test asks a node: which node it is, which nodes its bus knows, who is in
a room across the cluster and how long asking took.

``router`` also serves the chat example's page (examples/chat), so that the socket.io-client
0.9.16 bundle in a browser talks to this namespace (its ``user message`` is ``on_user_message``).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from tornio import BaseNamespace, BroadcastMixin, RoomsMixin, Router, event

CHAT_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chat" / "chat.py"


class ClusterChatNamespace(BaseNamespace, RoomsMixin, BroadcastMixin):
    room: str | None = None

    def on_join(self, room: str) -> bool:
        self.room = room
        self.join(room)
        return True

    async def on_nickname(self, nickname: str) -> bool:
        """Take ``nickname``; False when a socket anywhere in the cluster has it."""
        me = self.sid
        sessions = await self.socket.manager.fetch_sessions(self.ns_name)
        if any(s.get("nickname") == nickname and s["sid"] != me for s in sessions):
            return False
        self.session["nickname"] = nickname
        self.broadcast_event("announcement", f"{nickname} connected")
        return True

    @event("user message")  # 4.x clients: not an identifier, so named explicitly
    def on_user_message(self, msg: str) -> bool:
        nickname = self.session.get("nickname")
        if self.room is None or not nickname:
            return False
        self.emit_to_room(self.room, "msg_to_room", nickname, msg)
        return True

    def on_say(self, text: str) -> None:
        """Send ``text`` to the others in this socket's room (no nickname needed: load tests)."""
        if self.room is not None:
            self.emit_to_room(self.room, "said", text)

    def on_whoami(self) -> tuple[str, str]:
        """This node's id and this socket's sid (two ack arguments)."""
        return self.socket.manager.node_id, self.sid

    def on_nodes(self) -> list[str]:
        """The other nodes this node's bus knows (its node table)."""
        nodes = getattr(self.socket.manager.bus, "nodes", {})
        return sorted(nodes)

    async def on_who(self, room: str | None = None) -> dict[str, Any]:
        """The nicknames in a room (or the namespace) across the cluster, and the time the
        cluster query took."""
        started = time.monotonic()
        sessions = await self.socket.manager.fetch_sessions(self.ns_name, room)
        return {
            "nicknames": sorted(s["nickname"] for s in sessions if s.get("nickname")),
            "sids": sorted(s["sid"] for s in sessions),
            "seconds": time.monotonic() - started,
        }


namespaces = {"/chat": ClusterChatNamespace}


def _chat_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tornio_example_chat", CHAT_EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The chat example's page and files, this module's namespace behind ``/chat``.
router = Router(namespaces, handlers=_chat_example().router.handlers)
