"""``SocketMonitor``: what watches a manager's traffic (the Admin UI's instrumentation).

A manager's ``monitor`` is None unless something watches it (``Router(admin=...)``): the hot
paths pay one attribute test. When set, a socket reports each event it receives
(:meth:`SocketMonitor.received`) and each one it is sent on its own
(:meth:`SocketMonitor.sent`), and the manager each emit it delivers to several
(:meth:`SocketMonitor.emitted`). Connections and rooms are watched through the room index
(:attr:`tornio.core.rooms.RoomIndex.observer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tornio.protocol.packets import Packet

__all__ = ["SocketMonitor"]


class SocketMonitor(Protocol):
    def received(self, socket: Any, packet: Packet) -> None:
        """A packet from the client is about to be dispatched (events, messages)."""
        ...

    def sent(self, socket: Any, packet: Packet) -> None:
        """A packet is being sent to one socket (events among others)."""
        ...

    def emitted(self, endpoint: str, data: Mapping[str, Any], sockets: Sequence[Any]) -> None:
        """An emit (the bus schema's ``data``: ``event``, ``args``...) went to ``sockets``."""
        ...
