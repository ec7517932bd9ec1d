"""The local room index: which sockets of this process are in which namespace and room.

It is the one place room membership is written: the namespace members, the rooms, and each
socket's own view of its rooms (``socket.rooms``, read by the namespace API). Whoever owns
the index learns when a room appears in this process or empties (``on_room_added``,
``on_room_emptied``), which is when a bus subscription for it is made or dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

__all__ = ["Member", "RoomIndex"]

RoomCallback = Callable[[str, str], None]


class Member(Protocol):
    """What the index needs of a socket: its id, and its own record of its rooms."""

    sessid: str
    #: Rooms joined, per namespace: written by the index only.
    rooms: dict[str, set[str]]


Socket = TypeVar("Socket", bound=Member)


def _ignore(namespace: str, room: str) -> None:
    pass


class RoomIndex(Generic[Socket]):
    """Namespace members and rooms of the sockets this process serves (see the module
    docstring)."""

    def __init__(
        self, on_room_added: RoomCallback = _ignore, on_room_emptied: RoomCallback = _ignore
    ) -> None:
        self._members: dict[str, dict[str, Socket]] = {}
        self._rooms: dict[tuple[str, str], dict[str, Socket]] = {}
        self._on_room_added = on_room_added
        self._on_room_emptied = on_room_emptied

    # -- writing -----------------------------------------------------------------------------

    def add_member(self, namespace: str, socket: Socket) -> None:
        """The socket connected ``namespace``: it receives the namespace's broadcasts."""
        self._members.setdefault(namespace, {})[socket.sessid] = socket

    def remove_member(self, namespace: str, socket: Socket) -> None:
        """Take a socket out of a namespace and all its rooms there."""
        members = self._members.get(namespace)
        if members is not None:
            members.pop(socket.sessid, None)
            if not members:
                del self._members[namespace]
        for room in list(socket.rooms.get(namespace, ())):
            self.leave(namespace, room, socket)

    def remove_socket(self, socket: Socket) -> None:
        """The socket ended: take it out of every namespace and room."""
        for namespace in {*self._members, *socket.rooms}:
            self.remove_member(namespace, socket)

    def join(self, namespace: str, room: str, socket: Socket) -> None:
        """Put a socket in a room of a namespace."""
        socket.rooms.setdefault(namespace, set()).add(room)
        key = (namespace, room)
        sockets = self._rooms.get(key)
        if sockets is None:
            self._rooms[key] = {socket.sessid: socket}
            self._on_room_added(namespace, room)
        else:
            sockets[socket.sessid] = socket

    def leave(self, namespace: str, room: str, socket: Socket) -> None:
        """Take a socket out of a room."""
        rooms = socket.rooms.get(namespace)
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del socket.rooms[namespace]
        key = (namespace, room)
        sockets = self._rooms.get(key)
        if sockets is None or sockets.pop(socket.sessid, None) is None:
            return
        if not sockets:
            del self._rooms[key]
            self._on_room_emptied(namespace, room)

    # -- reading -----------------------------------------------------------------------------

    def members(self, namespace: str) -> dict[str, Socket]:
        return self._members.get(namespace, {})

    def room(self, namespace: str, room: str) -> dict[str, Socket]:
        return self._rooms.get((namespace, room), {})

    def rooms_of(self, namespace: str) -> list[str]:
        return [room for (nsp, room) in self._rooms if nsp == namespace]
