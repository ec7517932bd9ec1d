"""The application of the connection state recovery tests (``tests/test_recovery.py``), for
an in-process server and for ``tornio serve tests.apps.recovery:router --workers 2``.

``/chat`` (with rooms): ``join`` joins a room and acks the rooms; ``remember`` keeps a value
in the session; ``say`` sends ``said`` to a room (every member, the sender included);
``tell_me`` sends ``told`` to the sender only (the namespace's own emit); ``whoami`` acks
what the server knows of this connection: its id, whether it was recovered, its rooms, the
remembered value and the worker's pid. ``recv_connect`` counts connections.
"""

from __future__ import annotations

import os
from typing import Any

from tornio import BaseNamespace, RoomsMixin, Router

__all__ = ["RecoveryNamespace", "namespaces", "router"]


class RecoveryNamespace(BaseNamespace, RoomsMixin):
    #: (sid, recovered) of every connection this process accepted.
    connections: list[tuple[str, bool]] = []

    def recv_connect(self) -> None:
        type(self).connections.append((self.sid, self.recovered))

    def on_join(self, room: str) -> list[str]:
        self.join(room)
        return sorted(self.rooms)

    def on_remember(self, value: Any) -> bool:
        self.session["remembered"] = value
        return True

    def on_say(self, room: str, text: str) -> bool:
        self.socket.manager.emit("said", text, namespace=self.ns_name, room=room)
        return True

    def on_tell_me(self, text: str) -> bool:
        self.emit("told", text)
        return True

    def on_whoami(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "recovered": self.recovered,
            "rooms": sorted(self.rooms),
            "remembered": self.session.get("remembered"),
            "pid": os.getpid(),
        }


namespaces = {"/chat": RecoveryNamespace}

router = Router(namespaces, connection_state_recovery=True)
