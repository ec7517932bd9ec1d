"""The bus schema (``tornio.bus.messages``) as tables of exact answers: every way a message
breaks the schema and the error it gets, the messages just inside each rule, the topic each
message goes on, what crosses the bus unchanged and what does not, and bad frames."""

from __future__ import annotations

import math
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest

from tornio.bus.messages import (
    CONTROL_TOPIC,
    MAX_DEPTH,
    MAX_PAYLOAD,
    MAX_TOPIC,
    BusMessageError,
    MessageType,
    check_topic,
    decode,
    direct_topic,
    encode,
    make_message,
    namespace_topic,
    portable,
    room_topic,
    room_topic_prefix,
    sid_rooms_prefix,
    topic_for,
    validate,
)

T = MessageType
EMIT_DATA = {"rooms": [], "skip": [], "event": "e", "args": []}


def msg(kind: Any, data: Any = None, **envelope: Any) -> dict[str, Any]:
    message = {"v": 1, "uid": "node", "type": kind, "nsp": "/", "data": data or {}}
    message.update(envelope)
    return message


# (message, the exact error)
BAD: list[tuple[Any, str]] = [
    ([], "a message is a map, not list"),
    ({"uid": "n", "type": 2, "nsp": "/", "data": {}}, "'v' is missing"),
    ({"v": 1, "type": 2, "nsp": "/", "data": {}}, "'uid' is missing"),
    ({"v": 1, "uid": "n", "nsp": "/", "data": {}}, "'type' is missing"),
    ({"v": 1, "uid": "n", "type": 2, "data": {}}, "'nsp' is missing"),
    ({"v": 1, "uid": "n", "type": 2, "nsp": "/"}, "'data' is missing"),
    (msg(T.HEARTBEAT, x=1, a=2), "unknown keys ['a', 'x']"),
    ({**msg(T.HEARTBEAT), "v": 2}, "unknown message version 2"),
    ({**msg(T.HEARTBEAT), "v": "1"}, "unknown message version '1'"),
    ({**msg(T.HEARTBEAT), "v": 1.0}, "unknown message version 1.0"),
    ({**msg(T.HEARTBEAT), "uid": ""}, "uid must be a string of 1 to 128 characters"),
    ({**msg(T.HEARTBEAT), "uid": "u" * 129}, "uid must be a string of 1 to 128 characters"),
    ({**msg(T.HEARTBEAT), "uid": 5}, "uid must be a string of 1 to 128 characters"),
    (msg("2"), "type must be an integer, not '2'"),
    (msg(2.0), "type must be an integer, not 2.0"),
    (msg(True), "type must be an integer, not True"),
    (msg(99), "unknown message type 99"),
    ({**msg(T.HEARTBEAT), "nsp": None}, "nsp must be a string"),
    ({**msg(T.HEARTBEAT), "data": []}, "data must be a map"),
    # rid: on requests and responses, a non-negative 64-bit integer; nowhere else
    (msg(T.FETCH_SESSIONS), "FETCH_SESSIONS needs rid, a non-negative integer"),
    (msg(T.FETCH_SESSIONS, rid=-1), "FETCH_SESSIONS needs rid, a non-negative integer"),
    (msg(T.FETCH_SESSIONS, rid=2**63), "FETCH_SESSIONS needs rid, a non-negative integer"),
    (msg(T.FETCH_SESSIONS, rid="1"), "FETCH_SESSIONS needs rid, a non-negative integer"),
    (msg(T.FETCH_SESSIONS, rid=True), "FETCH_SESSIONS needs rid, a non-negative integer"),
    (msg(T.FETCH_SESSIONS_RESPONSE, dst="n"),
     "FETCH_SESSIONS_RESPONSE needs rid, a non-negative integer"),
    (msg(T.SERVER_SIDE_EMIT, {"event": "e", "args": []}, rid=None),
     "SERVER_SIDE_EMIT needs rid, a non-negative integer"),
    (msg(T.HEARTBEAT, rid=1), "HEARTBEAT has no rid"),
    (msg(T.EMIT, EMIT_DATA, rid=1), "EMIT has no rid"),
    # dst: required on direct types, allowed on socket operations and heartbeats only
    (msg(T.NODE_UP, dst="n"), "NODE_UP is never addressed to one node"),
    (msg(T.FETCH_SESSIONS, rid=1, dst="n"), "FETCH_SESSIONS is never addressed to one node"),
    (msg(T.PROBE, {"nonce": "x"}), "PROBE needs dst"),
    (msg(T.HTTP_ABORT, {"id": "x"}), "HTTP_ABORT needs dst"),
    (msg(T.HTTP_REQUEST, rid=1), "HTTP_REQUEST needs dst"),
    (msg(T.FETCH_SESSIONS_RESPONSE, rid=1), "FETCH_SESSIONS_RESPONSE needs dst"),
    (msg(T.RECOVERY_SESSION, {"op": "seen", "pid": "p"}), "RECOVERY_SESSION needs dst"),
    (msg(T.HEARTBEAT, dst=""), "dst must be a string of 1 to 128 characters"),
    (msg(T.HEARTBEAT, dst="d" * 129), "dst must be a string of 1 to 128 characters"),
    # socket operations select sockets with rooms, skip, except and to
    (msg(T.EMIT, {**EMIT_DATA, "rooms": None}), "data.rooms must be a list of strings"),
    (msg(T.EMIT, {k: v for k, v in EMIT_DATA.items() if k != "rooms"}), "data.rooms is missing"),
    (msg(T.EMIT, {k: v for k, v in EMIT_DATA.items() if k != "skip"}), "data.skip is missing"),
    (msg(T.EMIT, {**EMIT_DATA, "skip": ["a", 1]}), "data.skip must be a list of strings"),
    (msg(T.EMIT, {**EMIT_DATA, "skip": "ab"}), "data.skip must be a list of strings"),
    (msg(T.EMIT, {**EMIT_DATA, "except": "room"}), "data.except must be a list of strings"),
    (msg(T.EMIT, {**EMIT_DATA, "except": [None]}), "data.except must be a list of strings"),
    (msg(T.SOCKETS_JOIN, {"except": [1], "join": ["r"]}), "data.except must be a list of strings"),
    (msg(T.SOCKETS_LEAVE, {"rooms": "r"}), "data.rooms must be a list of strings"),
    (msg(T.DISCONNECT_SOCKETS, {"skip": [3]}), "data.skip must be a list of strings"),
    (msg(T.EMIT, {**EMIT_DATA, "to": 5}), "data.to must be a sid (a string) or None"),
    (msg(T.EMIT, {**EMIT_DATA, "event": 5}), "data.event must be a string"),
    (msg(T.EMIT, {**EMIT_DATA, "event": None}), "data.event must be a string"),
    (msg(T.EMIT, {**EMIT_DATA, "args": (1,)}), "data.args must be a list"),
    (msg(T.EMIT, {**EMIT_DATA, "args": None}), "data.args must be a list"),
    (msg(T.DISCONNECT_SOCKETS, {"close": 1}), "data.close must be a bool"),
    (msg(T.BROADCAST_WITH_ACKS, {**EMIT_DATA}, rid=1),
     "data.timeout must be a number of seconds >= 0"),
    (msg(T.BROADCAST_WITH_ACKS, {**EMIT_DATA, "timeout": -0.5}, rid=1),
     "data.timeout must be a number of seconds >= 0"),
    (msg(T.BROADCAST_WITH_ACKS, {**EMIT_DATA, "timeout": math.inf}, rid=1),
     "data.timeout must be a number of seconds >= 0"),
    (msg(T.BROADCAST_WITH_ACKS, {**EMIT_DATA, "timeout": math.nan}, rid=1),
     "data.timeout must be a number of seconds >= 0"),
    (msg(T.BROADCAST_WITH_ACKS, {**EMIT_DATA, "timeout": True}, rid=1),
     "data.timeout must be a number of seconds >= 0"),
    (msg(T.BROADCAST_WITH_ACKS, {**EMIT_DATA, "timeout": "1"}, rid=1),
     "data.timeout must be a number of seconds >= 0"),
    (msg(T.BROADCAST_WITH_ACKS, {"rooms": [], "skip": [], "args": [], "timeout": 1}, rid=1),
     "data.event must be a string"),
    # the other types' own data
    (msg(T.SERVER_SIDE_EMIT, {"args": []}), "data.event must be a string"),
    (msg(T.SERVER_SIDE_EMIT, {"event": "e"}), "data.args must be a list"),
    (msg(T.SERVER_SIDE_EMIT, {"event": "e", "args": {}}, rid=2), "data.args must be a list"),
    (msg(T.PROBE, {}, dst="n"), "data.nonce must be a string"),
    (msg(T.PROBE, {"nonce": 1}, dst="n"), "data.nonce must be a string"),
    (msg(T.HTTP_ABORT, {"id": None}, dst="n"), "data.id must be a string"),
    (msg(T.RECOVERY_SESSION, {"op": "gone", "pid": "p"}, dst="n"),
     "data.op must be 'seen', 'lost' or 'closed'"),
    (msg(T.RECOVERY_SESSION, {"pid": "p"}, dst="n"), "data.op must be 'seen', 'lost' or 'closed'"),
    (msg(T.RECOVERY_SESSION, {"op": "lost"}, dst="n"), "data.pid must be a string"),
    (msg(T.RECOVERY_SESSION, {"op": "closed", "pid": 1}, dst="n"), "data.pid must be a string"),
]


@pytest.mark.parametrize(("message", "error"), BAD)
def test_validate_refuses(message: Any, error: str) -> None:
    with pytest.raises(BusMessageError) as raised:
        validate(message)
    assert str(raised.value) == error
    assert isinstance(raised.value, ValueError)


# Each just inside its rule.
GOOD: list[Any] = [
    msg(T.HEARTBEAT),
    msg(T.HEARTBEAT, dst="d"),
    msg(T.HEARTBEAT, dst="d" * 128, uid="u" * 128),
    msg(2),  # a plain int type
    msg(T.NODE_UP, nsp=""),
    msg(T.NODE_DOWN),
    msg(T.FETCH_SESSIONS, rid=0),
    msg(T.FETCH_SESSIONS, rid=2**63 - 1),
    msg(T.FETCH_SESSIONS_RESPONSE, rid=5, dst="n"),
    msg(T.SERVER_SIDE_EMIT, {"event": "e", "args": []}),  # no rid: one way
    msg(T.SERVER_SIDE_EMIT, {"event": "e", "args": [1]}, rid=3),
    msg(T.SERVER_SIDE_EMIT_RESPONSE, {"anything": 1}, rid=3, dst="n"),
    msg(T.EMIT, EMIT_DATA),
    msg(T.EMIT, {**EMIT_DATA, "rooms": ["a", "b"], "skip": ["s"], "except": ["x"], "to": None}),
    msg(T.EMIT, {**EMIT_DATA, "to": "sid", "offset": "o", "extra": {"kept": True}}, dst="n"),
    msg(T.SOCKETS_JOIN, {"join": ["r"]}),
    msg(T.SOCKETS_LEAVE, {"leave": ["r"], "rooms": ["a"], "except": []}),
    msg(T.DISCONNECT_SOCKETS, {"close": True}),
    msg(T.DISCONNECT_SOCKETS, {"close": False, "to": "sid"}),
    msg(T.BROADCAST_WITH_ACKS, {**EMIT_DATA, "timeout": 0}, rid=1),
    msg(T.BROADCAST_WITH_ACKS, {**EMIT_DATA, "timeout": 2.5}, rid=1),
    msg(T.BROADCAST_ACKS, {}, rid=1, dst="n"),
    msg(T.HTTP_REQUEST, {}, rid=1, dst="n"),
    msg(T.HTTP_RESPONSE, {}, rid=1, dst="n"),
    msg(T.HTTP_ABORT, {"id": "x"}, dst="n"),
    msg(T.PROBE, {"nonce": "x"}, dst="n"),
    msg(T.RECOVERY_SESSION, {"op": "seen", "pid": "p"}, dst="n"),
    msg(T.RECOVERY_SESSION, {"op": "lost", "pid": "p"}, dst="n"),
    msg(T.RECOVERY_SESSION, {"op": "closed", "pid": "p"}, dst="n"),
    msg(T.RECOVERY_RESTORE, {}, rid=1, dst="n"),
    msg(T.RECOVERY_RESTORED, {}, rid=1, dst="n"),
]


@pytest.mark.parametrize("message", GOOD)
def test_validate_takes(message: dict[str, Any]) -> None:
    checked = validate(message)
    assert checked == message
    assert type(checked["type"]) is MessageType
    if type(message["type"]) is MessageType:
        assert checked is message  # nothing to convert: the message itself
    assert decode(encode(message)) == checked


# (message, topic)
TOPICS: list[tuple[Any, bytes]] = [
    (msg(T.HEARTBEAT), b"c\x00"),
    (msg(T.HEARTBEAT, dst="n1"), b"d\x00n1\x00"),
    (msg(T.EMIT, EMIT_DATA, nsp="/chat"), b"n\x00/chat\x00"),
    (msg(T.EMIT, {**EMIT_DATA, "rooms": ["r"]}, nsp="/chat"), b"r\x00/chat\x00r\x00"),
    (msg(T.EMIT, {**EMIT_DATA, "rooms": ["r", "s"]}), b"n\x00/\x00"),
    (msg(T.EMIT, {**EMIT_DATA, "rooms": ["r"], "to": "sid"}), b"n\x00/\x00"),
    (msg(T.EMIT, {**EMIT_DATA, "rooms": ["r"]}, dst="n1"), b"d\x00n1\x00"),
    (msg(T.SOCKETS_JOIN, {"rooms": ["r"], "join": ["x"]}), b"r\x00/\x00r\x00"),
    (msg(T.SOCKETS_LEAVE, {"leave": ["x"]}), b"n\x00/\x00"),
    (msg(T.DISCONNECT_SOCKETS, {"rooms": ["a\x00b"]}), b"r\x00/\x00a\x01\x01b\x00"),
    (msg(T.SERVER_SIDE_EMIT, {"event": "e", "args": [], "rooms": ["r"]}), b"c\x00"),
    (msg(T.FETCH_SESSIONS, {"rooms": ["r"]}, rid=1), b"c\x00"),
]


@pytest.mark.parametrize(("message", "topic"), TOPICS)
def test_topic_for(message: dict[str, Any], topic: bytes) -> None:
    assert topic_for(validate(message)) == topic
    assert encode(message)[0] == topic


@pytest.mark.parametrize(
    ("made", "topic"),
    [
        (lambda: room_topic("/", "a"), b"r\x00/\x00a\x00"),
        (lambda: room_topic("/n\x01", "\x00\x01"), b"r\x00/n\x01\x02\x00\x01\x01\x01\x02\x00"),
        (lambda: room_topic("/", "é\ud800"), b"r\x00/\x00\xc3\xa9\xed\xa0\x80\x00"),
        (lambda: room_topic_prefix(), b"r\x00"),
        (lambda: namespace_topic(), b"n\x00"),
        (lambda: namespace_topic("/x"), b"n\x00/x\x00"),
        (lambda: sid_rooms_prefix("/x", "AbCdEf"), b"r\x00/x\x00AbCdEf"),
        (lambda: direct_topic("node"), b"d\x00node\x00"),
        (lambda: CONTROL_TOPIC, b"c\x00"),
    ],
)
def test_topics(made: Any, topic: bytes) -> None:
    assert made() == topic


def test_a_topic_is_at_most_max_topic_bytes() -> None:
    assert check_topic(b"x" * MAX_TOPIC) == b"x" * MAX_TOPIC
    at = "r" * (MAX_TOPIC - len(b"r\x00/\x00") - 1)
    assert len(room_topic("/", at)) == MAX_TOPIC
    for made in (
        lambda: check_topic(b"x" * (MAX_TOPIC + 1)),
        lambda: room_topic("/", at + "r"),
        lambda: namespace_topic("n" * MAX_TOPIC),
        lambda: sid_rooms_prefix("n" * MAX_TOPIC, "node"),
    ):
        with pytest.raises(BusMessageError, match="^a bus topic of [0-9]+ bytes exceeds the "
                                                  r"hard limit of 4096 \(a room or namespace "
                                                  r"name too long\)$"):
            made()


# -- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "crossed"),
    [
        ((1, 2), [1, 2]),
        ({3}, [3]),
        (frozenset({"a"}), ["a"]),
        ({"k": (1, {"n": (2,)})}, {"k": [1, {"n": [2]}]}),
        (bytearray(b"ab"), b"ab"),
        (memoryview(b"cd"), b"cd"),
        (-(2**63), -(2**63)),
        (2**64 - 1, 2**64 - 1),
        ("\ud800", "\ud800"),
        (None, None),
        (1.5, 1.5),
        (True, True),
    ],
)
def test_portable(value: Any, crossed: Any) -> None:
    assert portable(value) == crossed
    data = decode(encode(msg(T.SERVER_SIDE_EMIT, {"event": "e", "args": [value]})))["data"]
    assert data["args"] == [crossed]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (2**64, "integer out of msgpack range: 18446744073709551616"),
        (-(2**63) - 1, "integer out of msgpack range: -9223372036854775809"),
        ({1: "x"}, "map key 1 is not a string"),
        (object(), "object is not a msgpack value"),
        (1j, "complex is not a msgpack value"),
    ],
)
def test_portable_refuses(value: Any, error: str) -> None:
    with pytest.raises(BusMessageError) as raised:
        portable(value)
    assert str(raised.value) == error


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_is_bounded_both_ways() -> None:
    assert portable(nested(MAX_DEPTH)) == nested(MAX_DEPTH)
    assert portable({"a": nested(MAX_DEPTH - 1)}) == {"a": nested(MAX_DEPTH - 1)}
    for too_deep in (nested(MAX_DEPTH + 1), {"a": nested(MAX_DEPTH)}):
        with pytest.raises(BusMessageError, match=r"^values nested more than 256 deep$"):
            portable(too_deep)
    ok = msg(T.SOCKETS_JOIN, {"join": ["r"], "x": nested(MAX_DEPTH - 1)})
    assert decode(encode(ok))["data"]["x"] == nested(MAX_DEPTH - 1)
    # what a foreign publisher packs itself is checked on the way in
    for data, error in (
        ({"x": nested(MAX_DEPTH)}, "values nested more than 256 deep"),
        ({"x": {"y": {b"k": 2}}}, "map key b'k' is not a string"),  # msgpack allows bytes
    ):
        raw = msgpack.packb({**msg(2), "data": data}, use_bin_type=True)
        with pytest.raises(BusMessageError) as raised:
            decode([CONTROL_TOPIC, raw])
        assert str(raised.value) == error


# -- frames ---------------------------------------------------------------------------------


def packed(message: Any) -> bytes:
    return bytes(msgpack.packb(message, use_bin_type=True))


@pytest.mark.parametrize(
    ("frames", "error"),
    [
        ([CONTROL_TOPIC], "a message is 2 or 3 frames, not 1"),
        ([CONTROL_TOPIC, b"", b"", b""], "a message is 2 or 3 frames, not 4"),
        ([CONTROL_TOPIC, b"", b""], "a stamp frame is 16 bytes"),
        (b"c\x00", "a message is 2 or 3 frames, not ?"),
        ([CONTROL_TOPIC, "text"], "frames must be bytes"),
        (["c", packed(msg(2))], "frames must be bytes"),
        ([CONTROL_TOPIC, packed([1])], "a message is a map, not list"),
        ([CONTROL_TOPIC, b"\xc1"], "not a msgpack value: "),
        ([CONTROL_TOPIC, packed(msg(2)) + b"\x00"], "not a msgpack value: ExtraData: "),
        ([CONTROL_TOPIC, packed({**msg(2), "data": msgpack.ExtType(5, b"x")})],
         "msgpack extension type 5 is not allowed"),
        ([CONTROL_TOPIC, packed({**msg(2), "data": {"x": [msgpack.ExtType(1, b"z")]}})],
         "msgpack extension type 1 is not allowed"),
        # msgpack's own types are refused by the schema, by name
        ([CONTROL_TOPIC, packed({**msg(2), "data": {"t": msgpack.Timestamp(1, 0)}})],
         "Timestamp is not allowed in a bus message"),
        # a key that is not a string is refused by msgpack itself, in data and in the envelope
        ([CONTROL_TOPIC, packed({**msg(2), "data": {1: 2}})],
         "not a msgpack value: ValueError: int is not allowed for map key when "
         "strict_map_key=True"),
        ([CONTROL_TOPIC, packed({**msg(2), 5: 1})],
         "not a msgpack value: ValueError: int is not allowed for map key when "
         "strict_map_key=True"),
        ([b"n\x00/\x00", packed(msg(2))], "topic b'n\\x00/\\x00' does not match the message "
                                         "(b'c\\x00')"),
        ([b"c" * (MAX_TOPIC + 1), packed(msg(2))], "a bus topic of 4097 bytes exceeds"),
        ([CONTROL_TOPIC, b"\x80" * 101], "frame of 101 bytes exceeds 100"),
    ],
)
def test_decode_refuses(frames: Any, error: str) -> None:
    with pytest.raises(BusMessageError) as raised:
        decode(frames, max_payload=100 if len(error) < 35 else MAX_PAYLOAD)
    assert str(raised.value).startswith(error)


def test_payload_limits_are_inclusive() -> None:
    message = msg(T.SERVER_SIDE_EMIT, {"event": "e", "args": ["x" * 100]})
    topic, payload = encode(message)
    size = len(payload)
    assert encode(message, max_payload=size) == [topic, payload]
    assert decode([topic, payload], max_payload=size)["data"]["args"] == ["x" * 100]
    with pytest.raises(BusMessageError, match=f"^frame of {size} bytes exceeds {size - 1}$"):
        encode(message, max_payload=size - 1)
    with pytest.raises(BusMessageError, match=f"^frame of {size} bytes exceeds {size - 1}$"):
        decode([topic, payload], max_payload=size - 1)
    # a topic longer than a (small) max_payload is refused too: NULs escaped in a room name
    # take twice their bytes in the topic
    nuls = msg(T.EMIT, {**EMIT_DATA, "rooms": ["\x00" * 200]})
    topic, payload = encode(nuls)
    assert len(topic) == 405 and len(payload) < 300
    # ... and a topic of exactly max_payload bytes is not
    assert encode(nuls, max_payload=405) == [topic, payload]
    assert decode([topic, payload], max_payload=405)["data"]["rooms"] == ["\x00" * 200]
    with pytest.raises(BusMessageError, match=r"^frame of 405 bytes exceeds 300$"):
        encode(nuls, max_payload=300)
    with pytest.raises(BusMessageError, match=r"^frame of 405 bytes exceeds 300$"):
        decode([topic, payload], max_payload=300)


def test_encode_refuses_what_is_not_a_message() -> None:
    with pytest.raises(BusMessageError, match=r"^a message is a map, not tuple$"):
        encode(())  # type: ignore[arg-type]
    with pytest.raises(BusMessageError, match=r"^'data' is missing$"):
        encode({"v": 1, "uid": "n", "type": 2, "nsp": "/"})


class Big(int):
    """An int subclass: the range check is for plain ints; msgpack refuses it at packing."""


def test_what_msgpack_cannot_pack_is_refused() -> None:
    with pytest.raises(BusMessageError) as raised:
        encode(msg(T.HEARTBEAT, {"x": Big(2**70)}))
    assert str(raised.value) == "cannot encode: Integer value out of range"
    assert isinstance(raised.value.__cause__, OverflowError)


def test_make_message() -> None:
    assert make_message(T.HEARTBEAT, "/", {}, uid="u") == {
        "v": 1, "uid": "u", "type": T.HEARTBEAT, "nsp": "/", "data": {}}
    assert make_message(T.FETCH_SESSIONS, "/", {"a": 1}, uid="u", rid=0, dst="d") == {
        "v": 1, "uid": "u", "type": T.FETCH_SESSIONS, "nsp": "/", "data": {"a": 1}, "rid": 0,
        "dst": "d"}


def test_the_wire_form() -> None:
    """Plain ints and keys on the wire, whatever the message held."""
    message = make_message(T.FETCH_SESSIONS_RESPONSE, "/x", {"s": {1, 2}}, uid="u", rid=7,
                           dst="d")
    topic, payload = encode(message)
    assert topic == b"d\x00d\x00"
    assert msgpack.unpackb(payload) == {
        "v": 1, "uid": "u", "type": 8, "nsp": "/x", "data": {"s": [1, 2]}, "rid": 7, "dst": "d"}
    assert message["data"] == {"s": {1, 2}}  # the caller's message is left as it was
