"""The local room index: which sockets of this process are in which namespace and room."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tornio.virtsocket import Socket

__all__ = ["RoomIndex"]


class RoomIndex:
    """Namespace members and rooms of the sockets this process serves.

    ``join`` and ``leave`` say whether the room appeared or emptied here, which is when a
    bus subscription for it has to be made or dropped.
    """

    def __init__(self) -> None:
        self._members: dict[str, dict[str, Socket]] = {}
        self._rooms: dict[tuple[str, str], dict[str, Socket]] = {}

    def add_member(self, namespace: str, socket: Socket) -> None:
        self._members.setdefault(namespace, {})[socket.sessid] = socket

    def remove_member(self, namespace: str, socket: Socket) -> list[str]:
        """Take a socket out of a namespace and all its rooms there; returns emptied rooms."""
        members = self._members.get(namespace)
        if members is not None:
            members.pop(socket.sessid, None)
            if not members:
                del self._members[namespace]
        emptied = []
        for room in list(socket.rooms.get(namespace, ())):
            if self.leave(namespace, room, socket):
                emptied.append(room)
        return emptied

    def members(self, namespace: str) -> dict[str, Socket]:
        return self._members.get(namespace, {})

    def join(self, namespace: str, room: str, socket: Socket) -> bool:
        """Put a socket in a room; True when the room is new in this process."""
        socket.rooms.setdefault(namespace, set()).add(room)
        key = (namespace, room)
        sockets = self._rooms.get(key)
        if sockets is None:
            self._rooms[key] = {socket.sessid: socket}
            return True
        sockets[socket.sessid] = socket
        return False

    def leave(self, namespace: str, room: str, socket: Socket) -> bool:
        """Take a socket out of a room; True when the room is now empty in this process."""
        rooms = socket.rooms.get(namespace)
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del socket.rooms[namespace]
        key = (namespace, room)
        sockets = self._rooms.get(key)
        if sockets is None or sockets.pop(socket.sessid, None) is None:
            return False
        if not sockets:
            del self._rooms[key]
            return True
        return False

    def room(self, namespace: str, room: str) -> dict[str, Socket]:
        return self._rooms.get((namespace, room), {})

    def rooms_of(self, namespace: str) -> list[str]:
        return [room for (nsp, room) in self._rooms if nsp == namespace]
