"""The local room index: which sockets of this process are in which namespace and room.

It is the one place room membership is written: the namespace members, the rooms, and each
socket's own view of its rooms (``socket.rooms``, read by the namespace API). Whoever owns
the index learns when a room appears in this process or empties (``on_room_added``,
``on_room_emptied``), which is when a bus subscription for it is made or dropped, and when a
namespace gets its first member here (``on_namespace_added``), and when a socket's rooms
change (``on_rooms_changed``: connection state recovery keeps them). An ``observer``, when
set, hears of every change: ``observer(kind, endpoint, room, socket)`` with ``kind``
``'connect'`` or ``'disconnect'`` (a namespace member came or went; ``room`` is then its
id there), ``'join'`` or ``'leave'`` (the Admin UI shows them).

Room names are bounded (``Settings.max_room_name``, UTF-8 bytes: a room name becomes a bus
topic) and so is the number of rooms one socket is in per namespace
(``Settings.max_rooms_per_socket``, its own id's room not counted): :meth:`RoomIndex.join`
and :meth:`RoomIndex.leave` raise ``ValueError`` past them, before anything changes.
:func:`check_name` is the one test of a name's size, for every name a client may choose.

Sockets are keyed by their id *in the namespace* (``socket.sids[endpoint]``): a modern
client's namespace connections each have their own. Every member is also in a room named by
its id, as in node's socket.io: :meth:`RoomIndex.room` finds it there without storing a room
per socket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from tornio.exceptions import NameTooLong

if TYPE_CHECKING:
    from tornio.settings import Settings

__all__ = ["Member", "RoomIndex", "check_name", "name_size", "refused_name", "refused_names"]

RoomCallback = Callable[[str, str], None]
Observer = Callable[[str, str, str, Any], None]
NamespaceCallback = Callable[[str], None]


class Member(Protocol):
    """What the index needs of a socket: its id in each namespace, and its own record of its
    rooms."""

    #: The socket's id in each namespace it joined (endpoint → id).
    sids: dict[str, str]
    #: Rooms joined, per namespace: written by the index only.
    rooms: dict[str, set[str]]


Socket = TypeVar("Socket", bound=Member)


def name_size(name: str) -> int:
    """A name's size in UTF-8 bytes (a lone surrogate, which JSON can carry, counts 3)."""
    if name.isascii():
        return len(name)
    return len(name.encode("utf-8", "surrogatepass"))


def check_name(name: object, limit: int, what: str) -> None:
    """Refuse a name longer than ``limit`` UTF-8 bytes (a name that is not a str is left to
    the caller).

    Raises:
        NameTooLong: (a ValueError) the name is too long; the message says its size, not
            the name.
    """
    if isinstance(name, str) and len(name) * 4 > limit:  # under limit/4 characters: fits
        size = name_size(name)
        if size > limit:
            raise NameTooLong(f"{what} of {size} bytes is longer than the limit of {limit} "
                             f"(UTF-8 bytes)")


def refused_names(packet: Mapping[str, Any], settings: Settings) -> tuple[str, str] | None:
    """:func:`refused_name` of a gevent-socketio packet dict."""
    return refused_name(
        packet["endpoint"], packet["name"] if packet["type"] == "event" else None, settings
    )


def refused_name(endpoint: str, event: str | None, settings: Settings) -> tuple[str, str] | None:
    """The answer to a client's packet whose namespace (``max_namespace_name``) or event
    name (``event``, None for a packet that is no event; ``max_event_name``) is over its
    limit, as to a namespace or an event that does not exist: ``(error name, why)``; None
    when they fit. Checked before anything keeps them. Every packet of every client passes
    here: a name of at most a quarter of its limit in characters fits whatever they are, and
    costs one ``len``."""
    if len(endpoint) * 4 > settings.max_namespace_name:
        try:
            check_name(endpoint, settings.max_namespace_name, "a namespace name")
        except NameTooLong as exc:
            return "no_such_namespace", str(exc)
    if isinstance(event, str) and len(event) * 4 > settings.max_event_name:
        try:
            check_name(event, settings.max_event_name, "an event name")
        except NameTooLong as exc:
            return "no_such_method", str(exc)
    return None


def _ignore(endpoint: str, room: str) -> None:
    pass


def _ignore_namespace(endpoint: str) -> None:
    pass


def _ignore_change(endpoint: str, socket: object) -> None:
    pass


class RoomIndex(Generic[Socket]):
    """Namespace members and rooms of the sockets this process serves (see the module
    docstring)."""

    def __init__(
        self,
        on_room_added: RoomCallback = _ignore,
        on_room_emptied: RoomCallback = _ignore,
        on_namespace_added: NamespaceCallback = _ignore_namespace,
        on_rooms_changed: Callable[[str, Socket], None] = _ignore_change,
        *,
        max_room_name: int | None = None,
        max_rooms: int | None = None,
    ) -> None:
        #: The longest room name, in UTF-8 bytes (None: no limit).
        self.max_room_name = max_room_name
        #: The most rooms one socket may be in per namespace, its own id's not counted.
        self.max_rooms = max_rooms
        self._members: dict[str, dict[str, Socket]] = {}
        self._rooms: dict[tuple[str, str], dict[str, Socket]] = {}
        self._on_room_added = on_room_added
        self._on_room_emptied = on_room_emptied
        self._on_namespace_added = on_namespace_added
        self._on_rooms_changed = on_rooms_changed
        #: Told of every membership change (see the module docstring); None: nobody.
        self.observer: Observer | None = None

    # -- writing -----------------------------------------------------------------------------

    def add_member(self, endpoint: str, socket: Socket) -> None:
        """The socket connected ``namespace`` (its id there is ``socket.sids[endpoint]``):
        it receives the namespace's broadcasts."""
        members = self._members.get(endpoint)
        if members is None:
            members = self._members[endpoint] = {}
            self._on_namespace_added(endpoint)
        sid = socket.sids[endpoint]
        joined = members.get(sid) is not socket
        members[sid] = socket
        if joined and self.observer is not None:
            self.observer("connect", endpoint, sid, socket)

    def remove_member(self, endpoint: str, socket: Socket) -> None:
        """Take a socket out of a namespace and all its rooms there."""
        sid = socket.sids.get(endpoint)
        members = self._members.get(endpoint)
        removed = None
        if members is not None and sid is not None and members.get(sid) is socket:
            del members[sid]
            removed = sid
            if not members:
                del self._members[endpoint]
        for room in list(socket.rooms.get(endpoint, ())):
            self.leave(endpoint, room, socket)
        if removed is not None and self.observer is not None:
            self.observer("disconnect", endpoint, removed, socket)

    def remove_socket(self, socket: Socket) -> None:
        """The socket ended: take it out of every namespace and room."""
        for endpoint in {*socket.sids, *socket.rooms}:
            self.remove_member(endpoint, socket)

    def join(self, endpoint: str, room: str, socket: Socket) -> None:
        """Put a socket in a room of a namespace.

        Raises:
            ValueError: the room's name is longer than ``max_room_name`` bytes, or the
                socket is in ``max_rooms`` rooms of the namespace already.
        """
        sid = socket.sids[endpoint]
        if self.max_room_name is not None:
            check_name(room, self.max_room_name, "a room name")
        joined = socket.rooms.get(endpoint)
        if joined is None or room not in joined:
            limit = self.max_rooms
            if limit is not None and joined is not None and (
                len(joined) - (sid in joined) >= limit and room != sid
            ):
                raise ValueError(f"a socket may be in at most {limit} rooms of a namespace")
            if joined is None:
                joined = socket.rooms[endpoint] = set()
            joined.add(room)
            self._on_rooms_changed(endpoint, socket)
            if self.observer is not None:
                self.observer("join", endpoint, room, socket)
        key = (endpoint, room)
        sockets = self._rooms.get(key)
        if sockets is None:
            self._rooms[key] = {sid: socket}
            self._on_room_added(endpoint, room)
        else:
            sockets[sid] = socket

    def leave(self, endpoint: str, room: str, socket: Socket) -> None:
        """Take a socket out of a room.

        Raises:
            ValueError: the room's name is longer than ``max_room_name`` bytes.
        """
        if self.max_room_name is not None:
            check_name(room, self.max_room_name, "a room name")
        rooms = socket.rooms.get(endpoint)
        if rooms is not None and room in rooms:
            rooms.discard(room)
            if not rooms:
                del socket.rooms[endpoint]
            self._on_rooms_changed(endpoint, socket)
            if self.observer is not None:
                self.observer("leave", endpoint, room, socket)
        key = (endpoint, room)
        sockets = self._rooms.get(key)
        sid = socket.sids.get(endpoint)
        if sockets is None or sid is None or sockets.pop(sid, None) is None:
            return
        if not sockets:
            del self._rooms[key]
            self._on_room_emptied(endpoint, room)

    # -- reading -----------------------------------------------------------------------------

    def members(self, endpoint: str) -> dict[str, Socket]:
        """The namespace's members here, by their id in it (do not modify)."""
        return self._members.get(endpoint, {})

    def room(self, endpoint: str, room: str) -> dict[str, Socket]:
        """The room's members here, by id (do not modify); a room named by a member's id
        holds that member."""
        joined = self._rooms.get((endpoint, room))
        members = self._members.get(endpoint)
        own = None if members is None else members.get(room)
        if own is None:
            return joined if joined is not None else {}
        if joined is None:
            return {room: own}
        return {**joined, room: own}

    def counts(self) -> dict[str, tuple[int, int]]:
        """Namespace → (members, rooms joined) here, for the namespaces with members."""
        counts = {endpoint: [len(members), 0] for endpoint, members in self._members.items()}
        for endpoint, _room in self._rooms:
            counts.setdefault(endpoint, [0, 0])[1] += 1
        return {endpoint: (members, rooms) for endpoint, (members, rooms) in counts.items()}

    def rooms_of(self, endpoint: str) -> list[str]:
        """The rooms joined here in a namespace (the rooms named by ids are not listed)."""
        return [room for (where, room) in self._rooms if where == endpoint]
