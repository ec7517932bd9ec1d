"""Tests for tornio.bus.messages: the bus wire schema (frames, topics, validation).

Round-trip rows assert both ``encode(message) == frames`` (where the frames are written out)
and ``decode(frames) == message``; bad-input rows assert :class:`BusMessageError` and nothing
else; hypothesis checks round trips, topic prefix-freedom and that arbitrary frames never
raise anything but ``BusMessageError``.
"""

from __future__ import annotations

from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tornio.bus import ids
from tornio.bus.messages import (
    CONTROL_TOPIC,
    MAX_DEPTH,
    BusMessageError,
    MessageType,
    decode,
    direct_topic,
    encode,
    make_message,
    namespace_topic,
    room_topic,
    sid_rooms_prefix,
    validate,
)

EMIT, HEARTBEAT, NODE_UP, NODE_DOWN = (
    MessageType.EMIT,
    MessageType.HEARTBEAT,
    MessageType.NODE_UP,
    MessageType.NODE_DOWN,
)
FETCH, FETCH_RESPONSE, PROBE = (
    MessageType.FETCH_SESSIONS,
    MessageType.FETCH_SESSIONS_RESPONSE,
    MessageType.PROBE,
)
HTTP_REQUEST, HTTP_RESPONSE, HTTP_ABORT = (
    MessageType.HTTP_REQUEST,
    MessageType.HTTP_RESPONSE,
    MessageType.HTTP_ABORT,
)
SERVER_SIDE, ACKS = MessageType.SERVER_SIDE_EMIT, MessageType.BROADCAST_WITH_ACKS


def emit_data(rooms: Any = None, **extra: Any) -> dict[str, Any]:
    return {"event": "msg", "args": ["hi", 1], "rooms": rooms or [], "skip": [], **extra}


def msg(kind: MessageType, nsp: str = "", data: Any = None, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "uid": "n1", "type": kind, "nsp": nsp, "data": data or {}, **extra}


def packed(message: dict[str, Any]) -> bytes:
    wire = dict(message)
    wire["type"] = int(wire["type"])
    payload: bytes = msgpack.packb(wire)
    return payload


# --- round trips ---------------------------------------------------------------------------------

ROUND_TRIPS: list[tuple[str, dict[str, Any], bytes]] = [
    ("heartbeat", msg(HEARTBEAT), b"c\x00"),
    ("heartbeat to a newcomer", msg(HEARTBEAT, dst="n2"), b"d\x00n2\x00"),
    ("node up", msg(NODE_UP), b"c\x00"),
    ("node down", msg(NODE_DOWN), b"c\x00"),
    ("emit to a namespace", msg(EMIT, "/chat", emit_data()), b"n\x00/chat\x00"),
    ("emit to the global namespace", msg(EMIT, "", emit_data()), b"n\x00\x00"),
    ("emit to one room", msg(EMIT, "/chat", emit_data(["a"])), b"r\x00/chat\x00a\x00"),
    (
        "emit to two rooms: the namespace",
        msg(EMIT, "/chat", emit_data(["a", "b"])),
        b"n\x00/chat\x00",
    ),
    (
        "emit to a sid: the namespace",
        msg(EMIT, "/chat", emit_data(["a"], to="sid1")),
        b"n\x00/chat\x00",
    ),
    (
        "emit to a sid on a known node",
        msg(EMIT, "/chat", emit_data(to="sid1"), dst="n2"),
        b"d\x00n2\x00",
    ),
    (
        "emit skipping the sender",
        msg(EMIT, "/chat", emit_data(["a"], skip=["s1"])),
        b"r\x00/chat\x00a\x00",
    ),
    (
        "emit with bytes, nesting, floats, None and extra keys",
        msg(EMIT, "/", emit_data(args=[b"\x00\xff", {"k": [1.5, None, True]}], flags={"v": 1})),
        b"n\x00/\x00",
    ),
    (
        "unicode room",
        msg(EMIT, "/ü", emit_data(["大厅 🎉"])),
        b"r\x00/\xc3\xbc\x00" + "大厅 🎉".encode() + b"\x00",
    ),
    (
        "room with NUL and \\x01: escaped",
        msg(EMIT, "/n", emit_data(["a\x00b\x01"])),
        b"r\x00/n\x00a\x01\x01b\x01\x02\x00",
    ),
    (
        "join: rooms selection optional",
        msg(MessageType.SOCKETS_JOIN, "/c", {"join": ["x"]}),
        b"n\x00/c\x00",
    ),
    (
        "leave in one room",
        msg(MessageType.SOCKETS_LEAVE, "/c", {"rooms": ["r"], "leave": ["x"]}),
        b"r\x00/c\x00r\x00",
    ),
    (
        "disconnect one sid",
        msg(MessageType.DISCONNECT_SOCKETS, "/c", {"to": "s", "close": True}),
        b"n\x00/c\x00",
    ),
    ("fetch sessions request", msg(FETCH, "/chat", {"room": "a"}, rid=7), b"c\x00"),
    (
        "fetch sessions response",
        msg(FETCH_RESPONSE, "/chat", {"sessions": [{"sid": "x"}]}, rid=7, dst="n2"),
        b"d\x00n2\x00",
    ),
    ("probe", msg(PROBE, data={"nonce": "ab12"}, dst="n1"), b"d\x00n1\x00"),
    (
        "server-side emit, one-way",
        msg(SERVER_SIDE, data={"event": "e", "args": [1]}),
        b"c\x00",
    ),
    ("server-side emit asking", msg(SERVER_SIDE, data={"event": "e", "args": []}, rid=4), b"c\x00"),
    (
        "server-side answer",
        msg(MessageType.SERVER_SIDE_EMIT_RESPONSE, data={"value": [1]}, rid=4, dst="n1"),
        b"d\x00n1\x00",
    ),
    (
        "broadcast with acks",
        msg(MessageType.BROADCAST_WITH_ACKS, "/c", {**emit_data(["a"]), "timeout": 2.5}, rid=5),
        b"c\x00",
    ),
    (
        "a node's acks",
        msg(MessageType.BROADCAST_ACKS, "/c", {"responses": ["x"], "missing": 1}, rid=5, dst="n1"),
        b"d\x00n1\x00",
    ),
    (
        "forwarded HTTP request",
        msg(
            HTTP_REQUEST,
            data={"method": "GET", "body": b"", "headers": [["A", "b"]]},
            rid=3,
            dst="w2",
        ),
        b"d\x00w2\x00",
    ),
    (
        "its response",
        msg(HTTP_RESPONSE, data={"status": 200, "body": b"ok"}, rid=3, dst="n1"),
        b"d\x00n1\x00",
    ),
    ("abort", msg(HTTP_ABORT, data={"id": "x" * 20}, dst="w2"), b"d\x00w2\x00"),
    (
        "emit except the rooms' members",
        msg(EMIT, "/c", emit_data(["a"], **{"except": ["b", "c"]})),
        b"r\x00/c\x00a\x00",
    ),
    (
        "leave except a room",
        msg(MessageType.SOCKETS_LEAVE, "/c", {"leave": ["x"], "except": ["y"]}),
        b"n\x00/c\x00",
    ),
    (
        "an emitter's emit",
        {**msg(EMIT, "/c", emit_data(["a"])), "uid": "emitter"},
        b"r\x00/c\x00a\x00",
    ),
]


@pytest.mark.parametrize(("name", "message", "topic"), ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_round_trip(name: str, message: dict[str, Any], topic: bytes) -> None:
    frames = encode(message)
    assert frames == [topic, packed(message)]
    decoded = decode(frames)
    assert decoded == message
    assert type(decoded["type"]) is MessageType
    assert encode(decoded) == frames


# Written out byte by byte: the schema, as another implementation would have to produce it.
WIRE: list[tuple[str, dict[str, Any], list[bytes]]] = [
    (
        "heartbeat",
        msg(HEARTBEAT),
        # 85 {a1"v" 01, a3"uid" a2"n1", a4"type" 02, a3"nsp" a0, a4"data" 80}
        [b"c\x00", bytes.fromhex("85a17601a3756964a26e31a474797065 02a36e7370a0a46461746180")],
    ),
    (
        "emit to room a",
        msg(EMIT, "/c", {"event": "e", "args": [1], "rooms": ["a"], "skip": []}),
        [
            b"r\x00/c\x00a\x00",
            bytes.fromhex(
                "85 a176 01 a3756964 a26e31 a474797065 03 a36e7370 a22f63 a464617461"
                "84 a56576656e74 a165 a461726773 9101 a5726f6f6d73 91a161 a4736b6970 90"
            ),
        ],
    ),
    (
        "response with rid and dst",
        msg(FETCH_RESPONSE, "", {}, rid=300, dst="n9"),
        [
            b"d\x00n9\x00",
            bytes.fromhex(
                "87 a17601 a3756964a26e31 a47479706508 a36e7370a0 a46461746180"
                "a3726964 cd012c a3647374 a26e39"
            ),
        ],
    ),
]


@pytest.mark.parametrize(("name", "message", "frames"), WIRE, ids=[r[0] for r in WIRE])
def test_wire_bytes(name: str, message: dict[str, Any], frames: list[bytes]) -> None:
    assert encode(message) == frames
    assert decode(frames) == message


def test_encode_makes_sets_and_tuples_msgpack_safe() -> None:
    message = msg(
        EMIT,
        "/c",
        {
            "event": "e",
            "args": ({1, 2}, (3, (4,)), frozenset({"x"}), bytearray(b"ab")),
            "rooms": ("a",),
            "skip": set(),
        },
    )
    decoded = decode(encode(message))
    args = decoded["data"]["args"]
    assert sorted(args[0]) == [1, 2]
    assert args[1:] == [[3, [4]], ["x"], b"ab"]
    assert decoded["data"]["rooms"] == ["a"] and decoded["data"]["skip"] == []
    assert message["data"]["rooms"] == ("a",)  # the caller's message is left alone


def test_make_message_and_validate() -> None:
    message = make_message(FETCH_RESPONSE, "/c", {"x": 1}, uid="a", rid=1, dst="b")
    assert message == {
        "v": 1,
        "uid": "a",
        "type": FETCH_RESPONSE,
        "nsp": "/c",
        "data": {"x": 1},
        "rid": 1,
        "dst": "b",
    }
    assert make_message(HEARTBEAT, "", {}, uid="a") == msg(HEARTBEAT, uid="a")
    assert validate({**msg(HEARTBEAT), "type": 2})["type"] is HEARTBEAT


# --- topics --------------------------------------------------------------------------------------


def test_topics_never_prefix_each_other() -> None:
    assert not room_topic("/c", "ab").startswith(room_topic("/c", "a"))
    assert not room_topic("/cd", "a").startswith(room_topic("/c", "d"))
    assert not namespace_topic("/chatroom").startswith(namespace_topic("/chat"))
    assert not direct_topic("n10").startswith(direct_topic("n1"))
    assert room_topic("/a\x00b", "c") != room_topic("/a", "b\x00c")
    assert namespace_topic("/chat").startswith(namespace_topic())
    for topic in (room_topic("/c", "a"), namespace_topic("/c"), direct_topic("n")):
        assert not topic.startswith(CONTROL_TOPIC)


def test_a_nodes_sid_rooms_prefix_matches_its_sockets_rooms_only() -> None:
    node, other = ids.node_tag("Host", 1), ids.node_tag("Host", 2)
    prefix = sid_rooms_prefix("/c", node)
    mine = ids.make_sid(node)
    assert room_topic("/c", mine).startswith(prefix)
    assert not room_topic("/c", ids.make_sid(other)).startswith(prefix)
    assert not room_topic("/cd", mine).startswith(prefix)  # another namespace
    assert not room_topic("", mine).startswith(sid_rooms_prefix("/c", node))
    assert not namespace_topic("/c").startswith(prefix)
    assert not direct_topic(node).startswith(prefix)


names = st.text(max_size=8)


@settings(max_examples=300, deadline=None)
@given(names, names, names, names)
def test_room_topics_are_prefix_free(nsp1: str, room1: str, nsp2: str, room2: str) -> None:
    t1, t2 = room_topic(nsp1, room1), room_topic(nsp2, room2)
    if (nsp1, room1) != (nsp2, room2):
        assert not t2.startswith(t1)
    assert not namespace_topic(nsp2).startswith(t1)
    if nsp1 != nsp2:
        assert not namespace_topic(nsp2).startswith(namespace_topic(nsp1))
        assert not t2.startswith(namespace_topic(nsp1))


def test_lone_surrogates_cross_the_bus_unchanged() -> None:
    # JSON (every Socket.IO client) carries lone surrogates; so does the bus, in names and
    # values alike, so that another node's members get what this node's got.
    assert room_topic("/c", "\ud800") != room_topic("/c", "\ud801")
    message = msg(EMIT, "/c", emit_data(["\udc80"], args=["\ud800", {"k\udfff": "a\ud83d"}]))
    frames = encode(message)
    assert frames[0] == room_topic("/c", "\udc80")
    decoded = decode(frames)
    assert decoded["data"]["args"] == ["\ud800", {"k\udfff": "a\ud83d"}]
    assert decoded["data"]["rooms"] == ["\udc80"]


# --- bad input -----------------------------------------------------------------------------------


class Opaque:
    pass


def nested(depth: int) -> Any:
    value: Any = None
    for _ in range(depth):
        value = [value]
    return value


BAD_MESSAGES: list[tuple[str, Any]] = [
    ("not a map", [1, 2]),
    ("missing v", {k: v for k, v in msg(HEARTBEAT).items() if k != "v"}),
    ("missing uid", {k: v for k, v in msg(HEARTBEAT).items() if k != "uid"}),
    ("missing type", {k: v for k, v in msg(HEARTBEAT).items() if k != "type"}),
    ("missing nsp", {k: v for k, v in msg(HEARTBEAT).items() if k != "nsp"}),
    ("missing data", {k: v for k, v in msg(HEARTBEAT).items() if k != "data"}),
    ("unknown key", msg(HEARTBEAT, sender="n1")),
    ("version 2", {**msg(HEARTBEAT), "v": 2}),
    ("version as a string", {**msg(HEARTBEAT), "v": "1"}),
    ("version True", {**msg(HEARTBEAT), "v": True}),
    ("type as a string", {**msg(HEARTBEAT), "type": "emit"}),
    ("unknown type", {**msg(HEARTBEAT), "type": 99}),
    ("type True", {**msg(HEARTBEAT), "type": True}),
    ("empty uid", {**msg(HEARTBEAT), "uid": ""}),
    ("uid too long", {**msg(HEARTBEAT), "uid": "x" * 129}),
    ("uid not a string", {**msg(HEARTBEAT), "uid": 5}),
    ("nsp None", {**msg(HEARTBEAT), "nsp": None}),
    ("data a list", {**msg(HEARTBEAT), "data": [1]}),
    ("data None", {**msg(HEARTBEAT), "data": None}),
    ("request without rid", msg(FETCH)),
    ("response without rid", msg(FETCH_RESPONSE, dst="n2")),
    ("negative rid", msg(FETCH, rid=-1)),
    ("rid True", msg(FETCH, rid=True)),
    ("rid a string", msg(FETCH, rid="1")),
    ("rid too large", msg(FETCH, rid=2**63)),
    ("rid on a heartbeat", msg(HEARTBEAT, rid=1)),
    ("response without dst", msg(FETCH_RESPONSE, rid=1)),
    ("dst on NODE_UP", msg(NODE_UP, dst="n2")),
    ("dst on a request", msg(FETCH, rid=1, dst="n2")),
    ("empty dst", msg(HEARTBEAT, dst="")),
    ("probe without dst", msg(PROBE, data={"nonce": "x"})),
    ("probe without nonce", msg(PROBE, dst="n1")),
    ("HTTP request without dst", msg(HTTP_REQUEST, rid=1)),
    ("HTTP request without rid", msg(HTTP_REQUEST, dst="n2")),
    ("abort without id", msg(HTTP_ABORT, dst="n2")),
    ("abort with a numeric id", msg(HTTP_ABORT, data={"id": 5}, dst="n2")),
    ("abort without dst", msg(HTTP_ABORT, data={"id": "x"})),
    ("abort with rid", msg(HTTP_ABORT, data={"id": "x"}, dst="n2", rid=1)),
    ("emit without event", msg(EMIT, "/c", {"args": [], "rooms": [], "skip": []})),
    ("emit with a non-string event", msg(EMIT, "/c", emit_data(event=1))),
    ("emit without args", msg(EMIT, "/c", {"event": "e", "rooms": [], "skip": []})),
    ("emit with args a map", msg(EMIT, "/c", emit_data(args={}))),
    ("emit without rooms", msg(EMIT, "/c", {"event": "e", "args": [], "skip": []})),
    ("emit without skip", msg(EMIT, "/c", {"event": "e", "args": [], "rooms": []})),
    ("rooms a string", msg(EMIT, "/c", emit_data(rooms="a"))),
    ("rooms with a number", msg(EMIT, "/c", emit_data(rooms=["a", 1]))),
    ("skip with None", msg(EMIT, "/c", emit_data(skip=[None]))),
    ("to a number", msg(EMIT, "/c", emit_data(to=5))),
    ("except a string", msg(EMIT, "/c", emit_data(**{"except": "b"}))),
    ("except None", msg(EMIT, "/c", emit_data(**{"except": None}))),
    ("except with a number", msg(EMIT, "/c", emit_data(**{"except": ["b", 1]}))),
    ("join except a map", msg(MessageType.SOCKETS_JOIN, "/c", {"join": ["x"], "except": {}})),
    ("disconnect except [None]", msg(MessageType.DISCONNECT_SOCKETS, "/c", {"except": [None]})),
    ("acks request except a string",
     msg(ACKS, "/c", {**emit_data(), "timeout": 1, "except": "b"}, rid=1)),
    ("leave with rooms a map", msg(MessageType.SOCKETS_LEAVE, "/c", {"rooms": {}})),
    ("disconnect with close a string", msg(MessageType.DISCONNECT_SOCKETS, "/c", {"close": "y"})),
    ("server-side emit without event", msg(SERVER_SIDE, data={"args": []})),
    ("server-side emit with args a map", msg(SERVER_SIDE, data={"event": "e", "args": {}})),
    ("server-side emit with dst", msg(SERVER_SIDE, data={"event": "e", "args": []}, dst="n2")),
    ("server-side answer without rid", msg(MessageType.SERVER_SIDE_EMIT_RESPONSE, dst="n2")),
    ("acks request without rid", msg(ACKS, "/c", {**emit_data(), "timeout": 1})),
    ("acks request without timeout", msg(ACKS, "/c", emit_data(), rid=1)),
    ("acks request, timeout True", msg(ACKS, "/c", {**emit_data(), "timeout": True}, rid=1)),
    ("acks request, timeout < 0", msg(ACKS, "/c", {**emit_data(), "timeout": -1}, rid=1)),
    ("acks request, no event", msg(ACKS, "/c", {"args": [], "rooms": [], "skip": [],
                                                "timeout": 1}, rid=1)),
    ("acks request with dst", msg(ACKS, "/c", {**emit_data(), "timeout": 1}, rid=1, dst="n2")),
]

UNENCODABLE: list[tuple[str, Any]] = [
    ("an object in args", msg(EMIT, "/c", emit_data(args=[Opaque()]))),
    ("an int map key", msg(EMIT, "/c", emit_data(args=[{1: "x"}]))),
    ("an int too large", msg(EMIT, "/c", emit_data(args=[2**64]))),
    ("an int too small", msg(EMIT, "/c", emit_data(args=[-(2**63) - 1]))),
    ("nested too deep", msg(HEARTBEAT, data={"d": nested(MAX_DEPTH)})),
]


@pytest.mark.parametrize(
    ("name", "message"), BAD_MESSAGES + UNENCODABLE, ids=[r[0] for r in BAD_MESSAGES + UNENCODABLE]
)
def test_encode_refuses(name: str, message: Any) -> None:
    with pytest.raises(BusMessageError):
        encode(message)


@pytest.mark.parametrize(("name", "message"), BAD_MESSAGES, ids=[r[0] for r in BAD_MESSAGES])
def test_decode_refuses_bad_payloads(name: str, message: Any) -> None:
    payload = msgpack.packb(message)
    for topic in (CONTROL_TOPIC, namespace_topic("/c"), direct_topic("n2")):
        with pytest.raises(BusMessageError):
            decode([topic, payload])


GOOD = encode(msg(HEARTBEAT))
ROOM_EMIT = encode(msg(EMIT, "/c", emit_data(["a"])))

BAD_FRAMES: list[tuple[str, Any]] = [
    ("no frames", []),
    ("one frame", [b"c\x00"]),
    ("three frames", [*GOOD, b""]),
    ("a str frame", ["c\x00", GOOD[1]]),
    ("not a list", b"c\x00"),
    ("empty payload", [b"c\x00", b""]),
    ("never-used byte c1", [b"c\x00", b"\xc1"]),
    ("plain text", [b"c\x00", b"hello, bus"]),
    ("JSON", [b"c\x00", b'{"v":1,"uid":"n1","type":2,"nsp":"","data":{}}']),
    ("pickle", [b"c\x00", b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94."]),
    ("truncated", [b"c\x00", GOOD[1][:-1]]),
    ("trailing bytes", [b"c\x00", GOOD[1] + b"\x00"]),
    ("two messages in one frame", [b"c\x00", GOOD[1] * 2]),
    ("an array", [b"c\x00", msgpack.packb([1, "n1", 2])]),
    ("an int map key", [b"c\x00", msgpack.packb({**msg(HEARTBEAT), "data": {1: 2}})]),
    (
        "an ext type",
        [b"c\x00", msgpack.packb({**msg(HEARTBEAT), "data": {"x": msgpack.ExtType(1, b"z")}})],
    ),
    (
        "a timestamp",
        [b"c\x00", msgpack.packb({**msg(HEARTBEAT), "data": {"t": msgpack.Timestamp(1, 0)}})],
    ),
    ("invalid UTF-8 in a str", [b"c\x00", GOOD[1].replace(b"\xa2n1", b"\xa2\xff\xfe")]),
    (
        "nested deeper than msgpack allows",
        [
            b"c\x00",
            b"\x85\xa1v\x01\xa3uid\xa2n1\xa4type\x02\xa3nsp\xa0\xa4data\x81\xa1x"
            + b"\x91" * 5000
            + b"\xc0",
        ],
    ),
    (
        "nested deeper than MAX_DEPTH",
        [
            b"c\x00",
            b"\x85\xa1v\x01\xa3uid\xa2n1\xa4type\x02\xa3nsp\xa0\xa4data\x81\xa1x"
            + b"\x91" * MAX_DEPTH
            + b"\xc0",
        ],
    ),
    ("a room emit on the control topic", [CONTROL_TOPIC, ROOM_EMIT[1]]),
    ("a room emit on the namespace topic", [namespace_topic("/c"), ROOM_EMIT[1]]),
    ("a room emit on room ab's topic", [room_topic("/c", "ab"), ROOM_EMIT[1]]),
    ("a heartbeat on a room topic", [room_topic("/c", "a"), GOOD[1]]),
    (
        "a response on the control topic",
        [CONTROL_TOPIC, encode(msg(FETCH_RESPONSE, rid=1, dst="n2"))[1]],
    ),
    ("a topic with a suffix", [b"c\x00x", GOOD[1]]),
    ("wrong version", [b"c\x00", GOOD[1].replace(b"\xa1v\x01", b"\xa1v\x02")]),
]


@pytest.mark.parametrize(("name", "frames"), BAD_FRAMES, ids=[r[0] for r in BAD_FRAMES])
def test_decode_refuses_bad_frames(name: str, frames: Any) -> None:
    with pytest.raises(BusMessageError):
        decode(frames)


def test_payload_limit() -> None:
    message = msg(EMIT, "/c", emit_data(args=["x" * 1000]))
    frames = encode(message, max_payload=2000)
    assert decode(frames, max_payload=len(frames[1])) == message
    with pytest.raises(BusMessageError, match="exceeds"):
        encode(message, max_payload=1000)
    with pytest.raises(BusMessageError, match="exceeds"):
        decode(frames, max_payload=len(frames[1]) - 1)
    with pytest.raises(BusMessageError, match="exceeds"):
        decode([b"c\x00" + b"x" * 2000, GOOD[1]], max_payload=1000)
    with pytest.raises(BusMessageError, match="exceeds"):  # the topic counts too
        encode(msg(EMIT, "/c", emit_data(["r" * 1500])), max_payload=1200)


def test_bus_message_error_is_a_value_error() -> None:
    # The manager's deliver() catches ValueError: a BusMessageError fits that net.
    with pytest.raises(ValueError):
        decode([b"c\x00", b"\xc1"])


# --- properties ----------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.binary(max_size=10)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)
node_ids = st.text(min_size=1, max_size=12)
room_lists = st.lists(st.text(max_size=6), max_size=3)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    uid = draw(node_ids)
    nsp = draw(st.text(max_size=8))
    kind = draw(st.sampled_from(list(MessageType)))
    extra: dict[str, Any] = {}
    data: dict[str, Any] = draw(st.dictionaries(st.text(max_size=5), values, max_size=3))
    if kind in (
        EMIT,
        MessageType.SOCKETS_JOIN,
        MessageType.SOCKETS_LEAVE,
        MessageType.DISCONNECT_SOCKETS,
    ):
        data.update(
            rooms=draw(room_lists), skip=draw(room_lists), to=draw(st.none() | st.text(max_size=6))
        )
        if draw(st.booleans()):
            data["except"] = draw(room_lists)
        if kind is EMIT:
            data.update(event=draw(st.text(max_size=6)), args=draw(st.lists(values, max_size=3)))
        data.pop("close", None)
        if kind is MessageType.DISCONNECT_SOCKETS and draw(st.booleans()):
            data["close"] = draw(st.booleans())
        if draw(st.booleans()):
            extra["dst"] = draw(node_ids)
    elif kind is MessageType.BROADCAST_WITH_ACKS:
        data.update(
            rooms=draw(room_lists), skip=draw(room_lists), to=draw(st.none() | st.text(max_size=6)),
            event=draw(st.text(max_size=6)), args=draw(st.lists(values, max_size=3)),
            timeout=draw(st.floats(min_value=0, max_value=1e6)),
        )
        data.pop("close", None)
        extra["rid"] = draw(st.integers(min_value=0, max_value=2**63 - 1))
    elif kind is MessageType.SERVER_SIDE_EMIT:
        data.update(event=draw(st.text(max_size=6)), args=draw(st.lists(values, max_size=3)))
        if draw(st.booleans()):
            extra["rid"] = draw(st.integers(min_value=0, max_value=2**63 - 1))
    elif kind in (
        FETCH, FETCH_RESPONSE, HTTP_REQUEST, HTTP_RESPONSE,
        MessageType.SERVER_SIDE_EMIT_RESPONSE, MessageType.BROADCAST_ACKS,
    ):
        extra["rid"] = draw(st.integers(min_value=0, max_value=2**63 - 1))
        if kind is not FETCH:
            extra["dst"] = draw(node_ids)
    elif kind in (MessageType.RECOVERY_RESTORE, MessageType.RECOVERY_RESTORED):
        extra["rid"] = draw(st.integers(min_value=0, max_value=2**63 - 1))
        extra["dst"] = draw(node_ids)
    elif kind is MessageType.RECOVERY_SESSION:
        data.update(op=draw(st.sampled_from(["seen", "lost", "closed"])),
                    pid=draw(st.text(max_size=8)))
        extra["dst"] = draw(node_ids)
    elif kind is HTTP_ABORT:
        data["id"] = draw(st.text(max_size=20))
        extra["dst"] = draw(node_ids)
    elif kind is PROBE:
        data["nonce"] = draw(st.text(max_size=8))
        extra["dst"] = uid
    elif kind is HEARTBEAT and draw(st.booleans()):
        extra["dst"] = draw(node_ids)
    return {"v": 1, "uid": uid, "type": kind, "nsp": nsp, "data": data, **extra}


@settings(max_examples=300, deadline=None)
@given(messages())
def test_property_round_trip(message: dict[str, Any]) -> None:
    frames = encode(message)
    assert decode(frames) == message
    assert encode(decode(frames)) == frames


fuzz_frames = st.lists(st.binary(max_size=64), max_size=4)
topics = st.sampled_from(
    [CONTROL_TOPIC, namespace_topic("/c"), room_topic("/c", "a"), direct_topic("n1"), b""]
)


def canonical(message: dict[str, Any]) -> bytes:
    """A message's msgpack bytes with its top-level keys sorted and ``type`` a plain int:
    equal for equal messages whatever their key order (and NaN equal to itself)."""
    plain = {key: message[key] for key in sorted(message)}
    plain["type"] = int(plain["type"])
    packed: bytes = msgpack.packb(plain, use_bin_type=True, unicode_errors="surrogatepass")
    return packed


def assert_decoded_exactly(frames: list[bytes], message: dict[str, Any]) -> None:
    """``message`` (what ``decode(frames)`` returned) is exactly the map the payload held,
    nothing dropped, added or changed but ``type`` made a MessageType; it is valid as it
    stands, and it goes out again on the same topic and comes back the same."""
    held = msgpack.unpackb(frames[1], raw=False, unicode_errors="surrogatepass")
    assert canonical(message) == canonical(held)
    assert type(message["type"]) is MessageType
    assert validate(message) == message
    again = encode(message)
    assert again[0] == frames[0]
    assert canonical(decode(again)) == canonical(message)


@settings(max_examples=500, deadline=None)
@given(fuzz_frames | st.tuples(topics, st.binary(max_size=64)).map(list))
def test_fuzz_bytes_decode_or_bus_message_error(frames: list[bytes]) -> None:
    try:
        message = decode(frames)
    except BusMessageError:
        return
    assert_decoded_exactly(frames, message)


@settings(max_examples=200, deadline=None)
@given(
    topics,
    st.dictionaries(
        st.sampled_from(["v", "uid", "type", "nsp", "data", "rid", "dst", "x"]), values, max_size=7
    ),
)
def test_fuzz_maps_decode_or_bus_message_error(topic: bytes, payload: dict[str, Any]) -> None:
    frames = [topic, msgpack.packb(payload)]
    try:
        message = decode(frames)
    except BusMessageError:
        return
    assert_decoded_exactly(frames, message)


@settings(max_examples=200, deadline=None)
@given(messages(), st.data())
def test_fuzz_mutated_messages(message: dict[str, Any], data: st.DataObject) -> None:
    """Flip, drop or insert bytes in a valid payload: decode or BusMessageError."""
    topic, original = encode(message)
    payload = original
    index = data.draw(st.integers(min_value=0, max_value=len(payload)))
    mutation = data.draw(st.sampled_from(["flip", "drop", "insert"]))
    byte = bytes([data.draw(st.integers(0, 255))])
    if mutation == "flip" and index < len(payload):
        payload = payload[:index] + byte + payload[index + 1 :]
    elif mutation == "drop":
        payload = payload[:index] + payload[index + 1 :]
    else:
        payload = payload[:index] + byte + payload[index:]
    if payload == original:  # a byte flipped to itself
        assert decode([topic, payload]) == message
        return
    try:
        mutated = decode([topic, payload])
    except BusMessageError:
        return
    assert_decoded_exactly([topic, payload], mutated)
