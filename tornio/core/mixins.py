"""gevent-socketio's ``RoomsMixin`` and ``BroadcastMixin``, on the manager and its bus.

Only sockets that opened the namespace receive (gevent-socketio also hit sockets that never
joined it), and every emit reaches the other processes on the bus too. Called from a blocking
handler's thread, each method runs on the event loop and returns once done there
(:mod:`tornio.core.threads`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tornio.core.threads import here, in_use, on_loop

if TYPE_CHECKING:
    from tornio.core.socket import Socket

__all__ = ["BroadcastMixin", "RoomsMixin"]


class RoomsMixin:
    """``join``, ``leave`` and ``emit_to_room`` for a namespace."""

    socket: Socket
    ns_name: str
    session: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "rooms" not in self.session:
            self.session["rooms"] = set()  # gevent-socketio's record: ns_name + '_' + room

    def join(self, room: str) -> None:
        """Put this socket in ``room`` of this namespace."""
        if in_use and here.job is not None:
            return on_loop(self.join, room)
        self._room_record().add(self._get_room_name(room))
        self.socket.manager.rooms.join(self.ns_name, room, self.socket)

    def leave(self, room: str) -> None:
        """Take this socket out of ``room``."""
        if in_use and here.job is not None:
            return on_loop(self.leave, room)
        self._room_record().discard(self._get_room_name(room))
        self.socket.manager.rooms.leave(self.ns_name, room, self.socket)

    def _room_record(self) -> set[str]:
        # A recovered session's data crossed the bus, where a set becomes a list.
        record = self.session.get("rooms")
        if not isinstance(record, set):
            record = self.session["rooms"] = set(record or ())
        return record

    def _get_room_name(self, room: str) -> str:
        return self.ns_name + "_" + room

    def emit_to_room(self, room: str, event: str, *args: Any) -> None:
        """Send an event to every socket in ``room`` except this one."""
        if in_use and here.job is not None:
            return on_loop(self.emit_to_room, room, event, *args)
        self.socket.manager.emit(
            event, *args, namespace=self.ns_name, room=room,
            skip_sid=self.socket.sids.get(self.ns_name, self.socket.sessid),
        )

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket joined in this namespace (it is also, always, in the room
        named by its id, ``self.sid``, which is not listed here)."""
        return set(self.socket.rooms.get(self.ns_name, ())) - {self.socket.sids.get(self.ns_name)}


class BroadcastMixin:
    """``broadcast_event`` and ``broadcast_event_not_me`` for a namespace."""

    socket: Socket
    ns_name: str

    def broadcast_event(self, event: str, *args: Any) -> None:
        """Send an event to every socket connected to this namespace, this one included."""
        if in_use and here.job is not None:
            return on_loop(self.broadcast_event, event, *args)
        self.socket.manager.emit(event, *args, namespace=self.ns_name)

    def broadcast_event_not_me(self, event: str, *args: Any) -> None:
        """Send an event to every socket connected to this namespace but this one."""
        if in_use and here.job is not None:
            return on_loop(self.broadcast_event_not_me, event, *args)
        self.socket.manager.emit(
            event, *args, namespace=self.ns_name,
            skip_sid=self.socket.sids.get(self.ns_name, self.socket.sessid),
        )
