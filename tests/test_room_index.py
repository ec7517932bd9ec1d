"""The room index (``tornio.core.rooms.RoomIndex``) on its own: every change it announces,
exactly and in order (a room appearing or emptying here is when a bus subscription is made or
dropped), what it answers, and its bounds (rooms per socket, room names) refusing before
anything changes. Plus the name checks of ``tornio.core.rooms`` as tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tornio.core.rooms import RoomIndex, check_name, name_size, refused_names
from tornio.exceptions import NameTooLong
from tornio.settings import Settings


@dataclass(eq=False)
class Sock:
    sids: dict[str, str]
    rooms: dict[str, set[str]] = field(default_factory=dict)


Event = tuple[Any, ...]


def recorded(**limits: Any) -> tuple[RoomIndex[Sock], list[Event]]:
    """An index whose every callback and observation goes to one list, in order."""
    events: list[Event] = []
    index: RoomIndex[Sock] = RoomIndex(
        on_room_added=lambda nsp, room: events.append(("added", nsp, room)),
        on_room_emptied=lambda nsp, room: events.append(("emptied", nsp, room)),
        on_namespace_added=lambda nsp: events.append(("namespace", nsp)),
        on_rooms_changed=lambda nsp, s: events.append(("changed", nsp, sorted(s.rooms[nsp])
                                                       if nsp in s.rooms else None)),
        **limits,
    )

    def observe(kind: str, nsp: str, room: str, s: Sock) -> None:
        assert isinstance(s, Sock), s  # the socket itself, every time
        events.append(("observed", kind, nsp, room))

    index.observer = observe
    return index, events


def test_a_room_is_added_by_its_first_member_and_emptied_by_its_last() -> None:
    index, events = recorded()
    a, b = Sock({"/": "A"}), Sock({"/": "B"})
    index.join("/", "r", a)
    index.join("/", "r", b)
    assert events == [
        ("changed", "/", ["r"]), ("observed", "join", "/", "r"), ("added", "/", "r"),
        ("changed", "/", ["r"]), ("observed", "join", "/", "r"),
    ]
    assert index.room("/", "r") == {"A": a, "B": b}
    events.clear()
    index.leave("/", "r", a)
    assert events == [("changed", "/", None), ("observed", "leave", "/", "r")]
    assert a.rooms == {} and b.rooms == {"/": {"r"}}
    assert index.room("/", "r") == {"B": b}
    events.clear()
    index.leave("/", "r", b)
    assert events == [("changed", "/", None), ("observed", "leave", "/", "r"),
                      ("emptied", "/", "r")]
    assert index.room("/", "r") == {} and index.rooms_of("/") == []


def test_joining_again_and_leaving_what_was_not_joined_change_nothing() -> None:
    index, events = recorded()
    a, b = Sock({"/": "A"}), Sock({"/": "B"})
    index.join("/", "r", a)
    events.clear()
    index.join("/", "r", a)
    assert events == []
    index.leave("/", "other", a)  # a room nobody joined
    index.leave("/", "r", b)  # a room b is not in
    index.leave("/x", "r", a)  # a namespace a has no id in
    assert events == []
    assert a.rooms == {"/": {"r"}} and index.room("/", "r") == {"A": a}


def test_a_socket_keeps_its_other_rooms_when_it_leaves_one() -> None:
    index, events = recorded()
    a = Sock({"/": "A"})
    index.join("/", "r1", a)
    index.join("/", "r2", a)
    events.clear()
    index.leave("/", "r1", a)
    assert events == [("changed", "/", ["r2"]), ("observed", "leave", "/", "r1"),
                      ("emptied", "/", "r1")]
    assert a.rooms == {"/": {"r2"}} and index.rooms_of("/") == ["r2"]


def test_members_of_a_namespace() -> None:
    index, events = recorded()
    a, b = Sock({"/": "A", "/chat": "A2"}), Sock({"/": "B"})
    index.add_member("/", a)
    index.add_member("/", b)
    index.add_member("/chat", a)
    index.add_member("/", a)  # again: nothing new
    assert events == [
        ("namespace", "/"), ("observed", "connect", "/", "A"),
        ("observed", "connect", "/", "B"),
        ("namespace", "/chat"), ("observed", "connect", "/chat", "A2"),
    ]
    assert index.members("/") == {"A": a, "B": b}
    assert index.members("/chat") == {"A2": a}
    assert index.members("/none") == {}
    assert index.counts() == {"/": (2, 0), "/chat": (1, 0)}


def test_a_member_that_leaves_a_namespace_leaves_its_rooms_there() -> None:
    index, events = recorded()
    a, b = Sock({"/": "A", "/chat": "A2"}), Sock({"/": "B"})
    for s in (a, b):
        index.add_member("/", s)
    index.add_member("/chat", a)
    index.join("/", "solo", a)
    index.join("/", "both", a)
    index.join("/", "both", b)
    index.join("/chat", "c", a)
    events.clear()
    index.remove_member("/", a)
    assert sorted(e for e in events if e[0] != "changed") == [
        ("emptied", "/", "solo"),
        ("observed", "disconnect", "/", "A"),
        ("observed", "leave", "/", "both"),
        ("observed", "leave", "/", "solo"),
    ]
    assert events[-1] == ("observed", "disconnect", "/", "A")  # after its rooms
    assert index.members("/") == {"B": b}
    assert index.room("/", "both") == {"B": b}
    assert a.rooms == {"/chat": {"c"}}
    assert index.counts() == {"/": (1, 1), "/chat": (1, 1)}
    events.clear()
    index.remove_member("/", a)  # not a member any more: nothing
    assert events == []
    index.remove_member("/", b)
    assert index.members("/") == {} and index.counts() == {"/chat": (1, 1)}


def test_a_socket_that_ends_leaves_every_namespace_and_room() -> None:
    index, events = recorded()
    a = Sock({"/": "A", "/chat": "A2"})
    index.add_member("/", a)
    index.add_member("/chat", a)
    index.join("/", "r", a)
    index.join("/chat", "c", a)
    events.clear()
    index.remove_socket(a)
    assert sorted(e for e in events if e[0] in ("emptied", "observed")) == [
        ("emptied", "/", "r"), ("emptied", "/chat", "c"),
        ("observed", "disconnect", "/", "A"), ("observed", "disconnect", "/chat", "A2"),
        ("observed", "leave", "/", "r"), ("observed", "leave", "/chat", "c"),
    ]
    assert a.rooms == {} and index.counts() == {}
    assert index.members("/") == {} and index.members("/chat") == {}


def test_a_room_without_members_here_counts_in_counts() -> None:
    """Rooms joined by sockets that are not (or no longer) namespace members still count."""
    index, _ = recorded()
    a = Sock({"/": "A"})
    index.join("/", "r", a)
    assert index.counts() == {"/": (0, 1)}
    index.join("/", "s", a)
    assert index.counts() == {"/": (0, 2)}
    assert index.rooms_of("/") == ["r", "s"] and index.rooms_of("/other") == []


def test_a_member_is_in_the_room_named_by_its_id() -> None:
    index, _ = recorded()
    a, b = Sock({"/": "A"}), Sock({"/": "B"})
    index.add_member("/", a)
    index.add_member("/", b)
    assert index.room("/", "A") == {"A": a}
    assert index.room("/", "nobody") == {}
    assert index.room("/other", "A") == {}
    index.join("/", "A", b)  # b joins the room named by a's id
    assert index.room("/", "A") == {"A": a, "B": b}
    assert index.rooms_of("/") == ["A"]  # the joined one; ids' own rooms are not listed


@pytest.mark.parametrize(
    ("joined", "room", "ok"),
    [
        ([], "r1", True),
        (["r1"], "r2", True),
        (["r1", "r2"], "r3", False),  # at the limit
        (["r1", "r2"], "r1", True),  # already in it
        (["r1", "r2"], "A", True),  # its own id's room is not counted...
        (["A", "r1"], "r2", True),  # ...nor when it is in it already
        (["A", "r1", "r2"], "r3", False),
    ],
)
def test_rooms_per_socket(joined: list[str], room: str, ok: bool) -> None:
    index, events = recorded(max_rooms=2)
    a = Sock({"/": "A"})
    for name in joined:
        index.join("/", name, a)
    before = {"/": set(a.rooms.get("/", set()))} if joined else {}
    events.clear()
    if ok:
        index.join("/", room, a)
        assert room in a.rooms["/"]
    else:
        with pytest.raises(ValueError, match=r"^a socket may be in at most 2 rooms of a "
                                             r"namespace$"):
            index.join("/", room, a)
        assert events == [] and a.rooms == before and room not in index.rooms_of("/")


def test_rooms_per_socket_count_per_namespace() -> None:
    index, _ = recorded(max_rooms=1)
    a = Sock({"/": "A", "/chat": "A2"})
    index.join("/", "r", a)
    index.join("/chat", "r", a)
    assert a.rooms == {"/": {"r"}, "/chat": {"r"}}


@pytest.mark.parametrize("operation", ["join", "leave"])
def test_a_room_name_over_the_limit_is_refused_before_anything_changes(operation: str) -> None:
    index, events = recorded(max_room_name=4)
    a = Sock({"/": "A"})
    index.join("/", "abcd", a)
    index.join("/", "éé", a)  # 4 bytes: at the limit
    events.clear()
    for name in ("abcde", "éé!", "😀!"):
        with pytest.raises(NameTooLong, match="^a room name of [0-9]+ bytes is longer than the "
                                              r"limit of 4 \(UTF-8 bytes\)$"):
            getattr(index, operation)("/", name, a)
    assert events == [] and a.rooms == {"/": {"abcd", "éé"}}
    index.leave("/", "abcd", a)
    assert a.rooms == {"/": {"éé"}}


def test_no_limits_by_default() -> None:
    index, _ = recorded()
    a = Sock({"/": "A"})
    for i in range(100):
        index.join("/", f"room-{i}" + "x" * 5000, a)
    assert len(a.rooms["/"]) == 100


# -- the name checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "size"),
    [("", 0), ("abc", 3), ("é", 2), ("€", 3), ("😀", 4), ("\ud800", 3), ("a€😀", 8)],
)
def test_name_size(name: str, size: int) -> None:
    assert name_size(name) == size


@pytest.mark.parametrize(
    ("name", "limit", "size"),
    [
        ("a" * 8, 8, None),
        ("a" * 9, 8, 9),
        ("éééé", 8, None),  # 4 characters, 8 bytes
        ("ééééa", 8, 9),
        ("😀😀", 8, None),
        ("😀😀a", 8, 9),
        ("ab", 8, None),  # under limit/4 characters
        ("😀😀😀", 11, 12),
        ("😀😀😀", 12, None),
        ("\ud800\ud800\ud800", 8, 9),
        ("", 0, None),
        ("a", 0, 1),
    ],
)
def test_check_name(name: str, limit: int, size: int | None) -> None:
    if size is None:
        check_name(name, limit, "a thing")
        return
    with pytest.raises(NameTooLong) as raised:
        check_name(name, limit, "a thing")
    assert str(raised.value) == (
        f"a thing of {size} bytes is longer than the limit of {limit} (UTF-8 bytes)"
    )
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("name", [None, 7, ["x" * 100], b"x" * 100])
def test_check_name_leaves_what_is_not_a_str_to_the_caller(name: object) -> None:
    check_name(name, 1, "a thing")


SETTINGS = Settings(max_namespace_name=5, max_event_name=3)


@pytest.mark.parametrize(
    ("packet", "answer"),
    [
        ({"type": "event", "endpoint": "/abcd", "name": "abc"}, None),
        ({"type": "event", "endpoint": "/abcde", "name": "abc"},
         ("no_such_namespace", "a namespace name of 6 bytes is longer than the limit of 5 "
                               "(UTF-8 bytes)")),
        ({"type": "event", "endpoint": "/", "name": "abcd"},
         ("no_such_method", "an event name of 4 bytes is longer than the limit of 3 "
                            "(UTF-8 bytes)")),
        # the namespace is checked first
        ({"type": "event", "endpoint": "/abcdef", "name": "abcd"},
         ("no_such_namespace", "a namespace name of 7 bytes is longer than the limit of 5 "
                               "(UTF-8 bytes)")),
        # only events have a name to check
        ({"type": "message", "endpoint": "/", "name": "abcd"}, None),
        # a name that is not a string is not measured (the event path refuses it)
        ({"type": "event", "endpoint": "/", "name": 12345}, None),
        ({"type": "connect", "endpoint": "/abcdef"},
         ("no_such_namespace", "a namespace name of 7 bytes is longer than the limit of 5 "
                               "(UTF-8 bytes)")),
    ],
)
def test_refused_names(packet: dict[str, Any], answer: tuple[str, str] | None) -> None:
    assert refused_names(packet, SETTINGS) == answer
