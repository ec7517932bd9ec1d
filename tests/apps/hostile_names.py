"""A chat whose clients choose their room names, for ``tests/test_cluster_names.py``
(``tornio serve tests.apps.hostile_names:router --workers 2``) and the in-process tests of
``tests/test_names.py``: every name a client sends goes straight to ``join``, ``leave`` and
room emits, as a careless application would pass it.

Events (namespace ``/chat``): ``join(room)`` and ``leave(room)`` answer True; ``say(room,
text)`` sends ``said [text]`` to the others in ``room``; ``shout(room, text, times)`` sends
``said [text * times]`` to everyone in ``room``, this socket included (an emit that can
outgrow the bus); ``whoami()`` answers [node id, sid]; any other event is answered with
the UTF-8 size of its name (a catch-all). ``/dyn...``: any namespace starting so, the same
class.
"""

from __future__ import annotations

import re
from typing import Any

from tornio import BaseNamespace, RoomsMixin, Router, event


class ClientChosenRooms(BaseNamespace, RoomsMixin):
    """Rooms named by the client, passed on as they come (also ``tests/apps/abuse_chat.py``)."""

    def on_join(self, room: str) -> bool:
        self.join(room)
        return True

    def on_leave(self, room: str) -> bool:
        self.leave(room)
        return True

    def on_say(self, room: str, text: str) -> bool:
        self.emit_to_room(room, "said", text)
        return True


class HostileNamesNamespace(ClientChosenRooms):

    def on_shout(self, room: str, text: str, times: int) -> bool:
        self.socket.manager.emit("said", text * times, namespace=self.ns_name, room=room)
        return True

    def on_whoami(self) -> list[str]:
        return [self.socket.manager.node_id, self.sid]

    @event("*")
    def any_event(self, name: str, *args: Any) -> int:
        return len(name.encode("utf-8", "surrogatepass"))


namespaces: dict[Any, type[BaseNamespace]] = {
    "/chat": HostileNamesNamespace,
    re.compile("^/dyn"): HostileNamesNamespace,
}
router = Router(namespaces)
