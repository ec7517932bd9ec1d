"""The chat-like application ``scripts/abuse`` attacks (``tornio serve
tests.apps.abuse_chat:router --workers 2``): clients choose their room names.

``join``/``leave`` take any room name the client sends; ``say`` sends a text to the others in
a room; ``blast`` sends ``count`` texts of ``size`` characters to a room (the broadcast storm
that non-reading clients sit through); ``ping`` answers at once (the victim's round trips);
``noop`` does nothing (the flooder's event). Every handler answers the client's ack."""

from __future__ import annotations

from typing import Any

from tests.apps.hostile_names import ClientChosenRooms
from tornio import BroadcastMixin, Router

#: The most texts one ``blast`` sends (the script asks for 50,000 at most).
MAX_BLAST = 100_000


class AbuseChatNamespace(ClientChosenRooms, BroadcastMixin):
    def on_blast(self, room: str, count: int, size: int) -> int:
        count = max(0, min(int(count), MAX_BLAST))
        text = "x" * max(0, min(int(size), 65536))
        for _ in range(count):
            self.emit_to_room(room, "said", text)
        return count

    def on_ping(self, *args: Any) -> list[Any]:
        return list(args)

    def on_noop(self, *args: Any) -> None:
        return None

    def on_whoami(self) -> str:
        return str(self.socket.manager.node_id)


namespaces = {"/chat": AbuseChatNamespace}
router = Router(namespaces)
