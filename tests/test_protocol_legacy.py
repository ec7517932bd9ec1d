"""Tests for tornio.protocol.legacy: the Socket.IO 0.9 packet codec and payload framing."""

from __future__ import annotations

import json
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.json_paths import json_path  # noqa: F401  (fixture: orjson, stdlib)
from tornio.exceptions import InvalidPacket, InvalidPayload
from tornio.protocol.jsoncodec import JsonCodec
from tornio.protocol.legacy import (
    ERROR_ADVICES,
    ERROR_REASONS,
    PACKET_TYPES,
    decode,
    decode_packet,
    decode_payload,
    dumps,
    encode,
    encode_event,
    encode_packet,
    encode_payload,
    loads,
    utf16_len,
)
from tornio.protocol.packets import Packet

# The codec tables run on both ways of writing the built-in JSON.
pytestmark = pytest.mark.usefixtures("json_path")

# --- packets: round trips ----------------------------------------------------------------------

# (wire, packet): decode_packet(wire) == packet and encode_packet(packet) == wire.
ROUND_TRIPS: list[tuple[str, dict[str, Any]]] = [
    # 0 disconnect
    ("0::", {"type": "disconnect", "endpoint": ""}),
    ("0::/chat", {"type": "disconnect", "endpoint": "/chat"}),
    # 1 connect
    ("1::", {"type": "connect", "endpoint": "", "qs": ""}),
    ("1::/chat", {"type": "connect", "endpoint": "/chat", "qs": ""}),
    ("1::/test:?test=1", {"type": "connect", "endpoint": "/test", "qs": "?test=1"}),
    ("1::/chat:?a=b&c=d", {"type": "connect", "endpoint": "/chat", "qs": "?a=b&c=d"}),
    # 2 heartbeat
    ("2::", {"type": "heartbeat", "endpoint": ""}),
    # 3 message
    ("3:::hello", {"type": "message", "endpoint": "", "data": "hello"}),
    ("3::", {"type": "message", "endpoint": "", "data": ""}),
    ("3::/chat", {"type": "message", "endpoint": "/chat", "data": ""}),
    (
        "3:5:/chat:hello",
        {"type": "message", "endpoint": "/chat", "id": 5, "ack": True, "data": "hello"},
    ),
    ("3:5+::x", {"type": "message", "endpoint": "", "id": 5, "ack": "data", "data": "x"}),
    ("3:::\n", {"type": "message", "endpoint": "", "data": "\n"}),
    ("3:::a\nb\r\n", {"type": "message", "endpoint": "", "data": "a\nb\r\n"}),
    ("3:::a:b::c", {"type": "message", "endpoint": "", "data": "a:b::c"}),
    ("3::/chat::x:", {"type": "message", "endpoint": "/chat", "data": ":x:"}),
    ("3:::\u2028\U0001f600", {"type": "message", "endpoint": "", "data": "\u2028\U0001f600"}),
    # 4 json
    ('4:::{"a":"b"}', {"type": "json", "endpoint": "", "data": {"a": "b"}}),
    (
        '4:1+::{"a":"b"}',
        {"type": "json", "endpoint": "", "id": 1, "ack": "data", "data": {"a": "b"}},
    ),
    (
        '4::/chat:{"a":[1,2.5,{"b":null,"c":[true,false]}],"d":{"e":{"f":"g:h"}}}',
        {
            "type": "json",
            "endpoint": "/chat",
            "data": {"a": [1, 2.5, {"b": None, "c": [True, False]}], "d": {"e": {"f": "g:h"}}},
        },
    ),
    ('4:::"str"', {"type": "json", "endpoint": "", "data": "str"}),
    ("4:::null", {"type": "json", "endpoint": "", "data": None}),
    ('4:::"\\u00e9\\u2028"', {"type": "json", "endpoint": "", "data": "\u00e9\u2028"}),
    # 5 event
    ('5:::{"name":"ev"}', {"type": "event", "endpoint": "", "name": "ev", "args": []}),
    (
        '5:::{"name":"ev","args":[1,"x"]}',
        {"type": "event", "endpoint": "", "name": "ev", "args": [1, "x"]},
    ),
    (
        '5:1+::{"name":"x"}',
        {"type": "event", "endpoint": "", "id": 1, "ack": "data", "name": "x", "args": []},
    ),
    (
        '5:7:/chat:{"name":"msg","args":[{"a":[1]}]}',
        {
            "type": "event",
            "endpoint": "/chat",
            "id": 7,
            "ack": True,
            "name": "msg",
            "args": [{"a": [1]}],
        },
    ),
    # 6 ack
    ("6:::4", {"type": "ack", "endpoint": "", "ackId": 4, "args": []}),
    ('6:::4+["A","B"]', {"type": "ack", "endpoint": "", "ackId": 4, "args": ["A", "B"]}),
    (
        '6::/chat:12+[1,{"x":2}]',
        {"type": "ack", "endpoint": "/chat", "ackId": 12, "args": [1, {"x": 2}]},
    ),
    ('6:::4+["a+b"]', {"type": "ack", "endpoint": "", "ackId": 4, "args": ["a+b"]}),
    (
        '6:::4+["+",{"+":"+1"}]',
        {"type": "ack", "endpoint": "", "ackId": 4, "args": ["+", {"+": "+1"}]},
    ),
    # 7 error
    ("7::", {"type": "error", "endpoint": "", "reason": "", "advice": ""}),
    (
        "7:::1+0",
        {"type": "error", "endpoint": "", "reason": "client not handshaken", "advice": "reconnect"},
    ),
    ("7::/chat:2", {"type": "error", "endpoint": "/chat", "reason": "unauthorized", "advice": ""}),
    (
        "7:::0",
        {"type": "error", "endpoint": "", "reason": "transport not supported", "advice": ""},
    ),
    ("7:::+0", {"type": "error", "endpoint": "", "reason": "", "advice": "reconnect"}),
    # 8 noop
    ("8::", {"type": "noop", "endpoint": ""}),
    ("8::/chat", {"type": "noop", "endpoint": "/chat"}),
]


@pytest.mark.parametrize(("wire", "packet"), ROUND_TRIPS, ids=[w for w, _ in ROUND_TRIPS])
def test_round_trip(wire: str, packet: dict[str, Any]) -> None:
    assert decode_packet(wire) == packet
    assert encode_packet(packet) == wire


def test_round_trip_table_covers_every_type() -> None:
    assert {p["type"] for _, p in ROUND_TRIPS} == set(PACKET_TYPES)


# Decoded forms node (or the SPEC, or gevent-socketio) produces that we accept but never emit.
DECODE_ONLY: list[tuple[str, dict[str, Any]]] = [
    # SPEC connect form: the query string glued to the endpoint.
    ("1::/ns?a=b", {"type": "connect", "endpoint": "/ns", "qs": "?a=b"}),
    ("1::/ns?", {"type": "connect", "endpoint": "/ns", "qs": "?"}),
    ("1::/ns?a=b:?c=d", {"type": "connect", "endpoint": "/ns", "qs": "?c=d"}),
    # gevent-socketio error form: the endpoint comes last.
    (
        "7:::2+0/chat",
        {"type": "error", "endpoint": "/chat", "reason": "unauthorized", "advice": "reconnect"},
    ),
    ("7:::2/chat", {"type": "error", "endpoint": "/chat", "reason": "unauthorized", "advice": ""}),
    ("7:::/woot", {"type": "error", "endpoint": "/woot", "reason": "", "advice": ""}),
    # error: unknown indexes become '', extra pieces are ignored (node splits on every '+').
    ("7:::9+9", {"type": "error", "endpoint": "", "reason": "", "advice": ""}),
    ("7:::x", {"type": "error", "endpoint": "", "reason": "", "advice": ""}),
    (
        "7:::1+0+x",
        {"type": "error", "endpoint": "", "reason": "client not handshaken", "advice": "reconnect"},
    ),
    # Data on packet types that carry none is ignored.
    ("0::/chat:junk", {"type": "disconnect", "endpoint": "/chat"}),
    ("2:::junk", {"type": "heartbeat", "endpoint": ""}),
    ("8:::", {"type": "noop", "endpoint": ""}),
    # Trailing ':' with no data.
    ("3:::", {"type": "message", "endpoint": "", "data": ""}),
    ("3::/chat:", {"type": "message", "endpoint": "/chat", "data": ""}),
    ("1:::", {"type": "connect", "endpoint": "", "qs": ""}),
    # '+' without an id is ignored, as node does.
    ("3:+::x", {"type": "message", "endpoint": "", "data": "x"}),
    # Ids are decimal; leading zeros are tolerated.
    ("3:007::x", {"type": "message", "endpoint": "", "id": 7, "ack": True, "data": "x"}),
    ("2:0::", {"type": "heartbeat", "endpoint": "", "id": 0, "ack": True}),
    # Event: explicit empty args, extra keys ignored; JSON whitespace allowed.
    ('5:::{"name":"x","args":[]}', {"type": "event", "endpoint": "", "name": "x", "args": []}),
    (
        '5:::{"args":[1],"name":"x","z":0}',
        {"type": "event", "endpoint": "", "name": "x", "args": [1]},
    ),
    ('5::: { "name" : "x" }\n', {"type": "event", "endpoint": "", "name": "x", "args": []}),
    # Ack: '+' with nothing after it, args without '+', as node's regex allows.
    ("6:::4+", {"type": "ack", "endpoint": "", "ackId": 4, "args": []}),
    ("6:::4+[]", {"type": "ack", "endpoint": "", "ackId": 4, "args": []}),
    ('6:::4["a"]', {"type": "ack", "endpoint": "", "ackId": 4, "args": ["a"]}),
    ("6:::4+[1,\n2]", {"type": "ack", "endpoint": "", "ackId": 4, "args": [1, 2]}),
    # Lone surrogate escapes are valid JSON (JSON.parse accepts them too).
    ('4:::"\\ud800"', {"type": "json", "endpoint": "", "data": "\ud800"}),
]


@pytest.mark.parametrize(("wire", "packet"), DECODE_ONLY, ids=[w for w, _ in DECODE_ONLY])
def test_decode_only(wire: str, packet: dict[str, Any]) -> None:
    assert decode_packet(wire) == packet


# --- the typed packet: what the socket dispatches, read and written by the codec itself --------

TYPED: list[tuple[str, Packet]] = [
    ("0::/chat", Packet("disconnect", "/chat")),
    ("1::/chat:?a=b", Packet("connect", "/chat", qs="?a=b")),
    ("1::", Packet("connect", "", qs="")),
    ("2:3:", Packet("heartbeat", "", id=3, ack=True)),
    ("3:1+::hi", Packet("message", "", id=1, ack="data", data="hi")),
    ('4::/chat:{"a":1}', Packet("json", "/chat", data={"a": 1})),
    ('5:7+:/chat:{"name":"echo","args":[1,"x"]}',
     Packet("event", "/chat", "echo", [1, "x"], 7, "data")),
    ('5:7::{"name":"echo"}', Packet("event", "", "echo", [], 7, True)),
    ('5:::{"name":"echo","args":[null]}', Packet("event", "", "echo", [None])),
    ('6::/chat:12+[1,{"x":2}]', Packet("ack", "/chat", None, [1, {"x": 2}], 12)),
    ("6:::4", Packet("ack", "", None, [], 4)),
    ("7::/chat:2+0", Packet("error", "/chat", reason="unauthorized", advice="reconnect")),
    ("8::", Packet("noop", "")),
]


@pytest.mark.parametrize(("wire", "packet"), TYPED, ids=[w for w, _ in TYPED])
def test_decode_gives_the_typed_packet(wire: str, packet: Packet) -> None:
    """Every field of the typed packet (the packet's __eq__ compares them all), and the
    packet written back as the same wire."""
    assert decode(wire) == packet
    assert encode(packet) == wire


def test_typed_table_covers_every_type() -> None:
    assert {p.kind for _, p in TYPED} == set(PACKET_TYPES)


@pytest.mark.parametrize(
    ("wire", "packet"), ROUND_TRIPS + DECODE_ONLY, ids=[w for w, _ in ROUND_TRIPS + DECODE_ONLY]
)
def test_decode_is_the_dict_typed(wire: str, packet: dict[str, Any]) -> None:
    """The typed packet is the one gevent-socketio's dict describes, and gives that dict."""
    typed = decode(wire)
    assert typed == Packet.from_dict(packet)
    assert typed.as_dict() == packet


@pytest.mark.parametrize(("wire", "packet"), ROUND_TRIPS, ids=[w for w, _ in ROUND_TRIPS])
def test_encode_writes_the_wire(wire: str, packet: dict[str, Any]) -> None:
    assert encode(decode(wire)) == wire
    assert encode(Packet.from_dict(packet)) == wire


def test_an_ack_with_an_id_of_its_own() -> None:
    """No client sends one, but the codec reads it: the typed ack's id is the one it answers,
    its own id and ack stay in its dict, and it is written back with them."""
    wire = '6:5+:/chat:4+["a"]'
    typed = decode(wire)
    assert (typed.kind, typed.id, typed.ack, typed.args) == ("ack", 4, "data", ["a"])
    assert typed.as_dict() == {"type": "ack", "endpoint": "/chat", "id": 5, "ack": "data",
                               "ackId": 4, "args": ["a"]}
    assert encode(typed) == wire
    assert encode(Packet.answer("/chat", 4, ["a"])) == '6::/chat:4+["a"]'


def recording_codec() -> tuple[JsonCodec, list[str], list[Any]]:
    """An application's JSON module that notes what it reads and writes."""
    read: list[str] = []
    written: list[Any] = []

    def loads(text: str) -> Any:
        read.append(text)
        return json.loads(text)

    def dumps(value: Any, **kwargs: Any) -> str:
        written.append(value)
        return json.dumps(value, **kwargs)

    return JsonCodec(types.SimpleNamespace(dumps=dumps, loads=loads)), read, written


@pytest.mark.parametrize(
    ("wire", "text"),
    [('5:::{"name":"x"}', '{"name":"x"}'),
     ('5:::{"name":"x","args":[1]}', '{"name":"x","args":[1]}'),
     ('4:::{"a":1}', '{"a":1}'), ('6:::4+[1,"b"]', '[1,"b"]')],
)
def test_decode_uses_the_application_json(wire: str, text: str) -> None:
    codec, read, _ = recording_codec()
    assert decode(wire, codec) == decode(wire)
    assert read == [text]


@pytest.mark.parametrize(
    ("packet", "value"),
    [(Packet("event", "", "x", [1]), [1]), (Packet("event", "", "x", [2], 3, "data"), [2]),
     (Packet.answer("", 4, ["a"]), ["a"]), (Packet("json", "", data={"a": 1}), {"a": 1})],
)
def test_encode_uses_the_application_json(packet: Packet, value: Any) -> None:
    codec, _, written = recording_codec()
    assert encode(packet, codec) == encode(packet)
    assert written == [value]


def test_encode_an_event_with_an_automatic_ack() -> None:
    """An id without ``ack`` (an application's dict) is a 0.9 automatic ack on the wire."""
    assert encode(Packet("event", "", "echo", [], 7)) == '5:7::{"name":"echo"}'


# (wire, endpoint the error must carry)
BAD_PACKETS: list[tuple[str, str]] = [
    ("", ""),
    ("garbage", ""),
    ("0", ""),
    ("2", ""),
    (":::", ""),
    ("9::", ""),
    ("99::", ""),
    ("x::", ""),
    ("9::/chat", "/chat"),
    ("3:abc::x", ""),
    ("5:::{bad", ""),
    ("5::/chat:{bad", "/chat"),
    ("5:::", ""),
    ("5:::[]", ""),
    ('5:::"x"', ""),
    ("5:::{}", ""),
    ('5:::{"args":[]}', ""),
    ('5:::{"name":1}', ""),
    ('5:::{"name":null}', ""),
    ('5:::{"name":"x","args":{}}', ""),
    ('5::/chat:{"name":"x","args":null}', "/chat"),
    ('5:::{"name":"x"} junk', ""),
    ("4:::{", ""),
    ("4::/chat:{", "/chat"),
    ("4:::", ""),
    ("4:::NaN", ""),
    ("4:::[Infinity]", ""),
    ("4:::" + "[" * 100_000, ""),
    ("6:::x", ""),
    ("6:::", ""),
    ("6::/chat:+1", "/chat"),
    ("6:::1+{bad}", ""),
    ("6::/chat:1+{bad}", "/chat"),
    ("6:::1+{}", ""),
    ('6:::1+"a"', ""),
    ("3:" + "1" * 21 + "::x", ""),
    ("6:::" + "1" * 5000, ""),
]


@pytest.mark.parametrize(("wire", "endpoint"), BAD_PACKETS, ids=[w[:30] for w, _ in BAD_PACKETS])
def test_decode_bad_packet(wire: str, endpoint: str) -> None:
    with pytest.raises(InvalidPacket) as info:
        decode_packet(wire)
    assert info.value.endpoint == endpoint


# --- packets: encoder specifics ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("packet", "wire"),
    [
        # id without ack: automatic ack; ack=True likewise.
        ({"type": "message", "id": 3, "data": "x"}, "3:3::x"),
        ({"type": "message", "id": 3, "ack": True, "data": "x"}, "3:3::x"),
        # '+' only with an id.
        ({"type": "message", "ack": "data", "data": "x"}, "3:::x"),
        # endpoint missing or None: the global endpoint.
        ({"type": "heartbeat"}, "2::"),
        ({"type": "disconnect", "endpoint": None}, "0::"),
        # message data missing or None: omitted.
        ({"type": "message"}, "3::"),
        ({"type": "message", "data": None, "endpoint": "/a"}, "3::/a"),
        # event args empty, missing or a tuple.
        ({"type": "event", "name": "x", "args": ()}, '5:::{"name":"x"}'),
        ({"type": "event", "name": "x"}, '5:::{"name":"x"}'),
        ({"type": "event", "name": "x", "args": (1, "a")}, '5:::{"name":"x","args":[1,"a"]}'),
        # ack args missing or a tuple.
        ({"type": "ack", "ackId": 2}, "6:::2"),
        ({"type": "ack", "ackId": 2, "args": ("a",)}, '6:::2+["a"]'),
        # json data missing: null.
        ({"type": "json"}, "4:::null"),
        # connect qs missing or None.
        ({"type": "connect", "endpoint": "/a"}, "1::/a"),
        ({"type": "connect", "endpoint": "/a", "qs": None}, "1::/a"),
        # error reason/advice missing.
        ({"type": "error", "reason": "unauthorized"}, "7:::2"),
        ({"type": "error"}, "7::"),
        # JSON is ASCII-only: non-ASCII and U+2028 are escaped.
        ({"type": "json", "data": "é\u2028😀"}, '4:::"\\u00e9\\u2028\\ud83d\\ude00"'),
        # Data on types that carry none is not written.
        ({"type": "noop", "data": "x"}, "8::"),
    ],
)
def test_encode_packet(packet: dict[str, Any], wire: str) -> None:
    assert encode_packet(packet) == wire


@pytest.mark.parametrize(
    ("packet", "error"),
    [
        ({"type": "nope"}, ValueError),
        ({"type": 5}, ValueError),
        ({}, ValueError),
        ({"type": "event"}, ValueError),
        ({"type": "ack"}, ValueError),
        ({"type": "error", "reason": "bored"}, ValueError),
        ({"type": "error", "advice": "give up"}, ValueError),
        ({"type": "message", "endpoint": "/a:b", "data": "x"}, ValueError),
        ({"type": "json", "data": float("nan")}, ValueError),
        ({"type": "json", "data": object()}, TypeError),
        ({"type": "message", "data": 5}, TypeError),
    ],
)
def test_encode_packet_rejects(packet: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        encode_packet(packet)


@pytest.mark.parametrize(
    ("args", "kwargs", "wire"),
    [
        (("", "x", []), {}, '5:::{"name":"x"}'),
        (("", "x", ()), {}, '5:::{"name":"x"}'),
        (("/chat", "x", [1, "a"]), {}, '5::/chat:{"name":"x","args":[1,"a"]}'),
        (("/chat", "x", (1,)), {"msg_id": 3}, '5:3+:/chat:{"name":"x","args":[1]}'),
        (("", "x", []), {"msg_id": 1}, '5:1+::{"name":"x"}'),
        (("", "é", ["\u2028"]), {}, '5:::{"name":"\\u00e9","args":["\\u2028"]}'),
    ],
)
def test_encode_event(args: tuple[Any, ...], kwargs: dict[str, Any], wire: str) -> None:
    assert encode_event(*args, **kwargs) == wire
    endpoint, name, event_args = args
    packet: dict[str, Any] = {"type": "event", "endpoint": endpoint, "name": name}
    packet["args"] = list(event_args)
    if "msg_id" in kwargs:
        packet.update(id=kwargs["msg_id"], ack="data")
    assert encode_packet(packet) == wire
    assert decode_packet(wire) == packet


def test_encode_event_rejects_colon_in_endpoint() -> None:
    with pytest.raises(ValueError):
        encode_event("/a:b", "x", [])


def test_constants() -> None:
    assert PACKET_TYPES == (
        "disconnect",
        "connect",
        "heartbeat",
        "message",
        "json",
        "event",
        "ack",
        "error",
        "noop",
    )
    assert ERROR_REASONS == ("transport not supported", "client not handshaken", "unauthorized")
    assert ERROR_ADVICES == ("reconnect",)


# --- JSON --------------------------------------------------------------------------------------


def test_dumps_is_compact_ascii() -> None:
    assert dumps({"a": [1, 2.5, None, True], "b": "é\u2028\U0001f600"}) == (
        '{"a":[1,2.5,null,true],"b":"\\u00e9\\u2028\\ud83d\\ude00"}'
    )
    assert dumps("\ud800") == '"\\ud800"'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [float("-inf")]])
def test_dumps_rejects_non_finite(value: Any) -> None:
    with pytest.raises(ValueError):
        dumps(value)


@pytest.mark.parametrize("text", ["", "{", "[1,]", "NaN", "-Infinity", "1 2", "[" * 100_000])
def test_loads_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        loads(text)


def test_loads() -> None:
    assert loads(' {"a": [1, "\\u00e9"]} ') == {"a": [1, "é"]}


# --- payload framing ---------------------------------------------------------------------------

# (packets, framed): encode_payload(packets) == framed and decode_payload(framed) == packets.
PAYLOADS: list[tuple[list[str], str]] = [
    (["2::"], "2::"),
    (["3:::\ufffd"], "3:::\ufffd"),
    (["1::", "2::"], "\ufffd3\ufffd1::\ufffd3\ufffd2::"),
    (
        ['5:::{"name":"x"}', "3:::hello", "8::"],
        '\ufffd16\ufffd5:::{"name":"x"}\ufffd9\ufffd3:::hello\ufffd3\ufffd8::',
    ),
    (["3:::é", "3:::\ufffd"], "\ufffd5\ufffd3:::é\ufffd5\ufffd3:::\ufffd"),
    # An astral character counts as two UTF-16 code units.
    (["3:::\U0001f600", "2::"], "\ufffd6\ufffd3:::\U0001f600\ufffd3\ufffd2::"),
    (["\U0001f600\U0001f600", ""], "\ufffd4\ufffd\U0001f600\U0001f600\ufffd0\ufffd"),
    (["", ""], "\ufffd0\ufffd\ufffd0\ufffd"),
    (["a" * 12, "b"], "\ufffd12\ufffd" + "a" * 12 + "\ufffd1\ufffdb"),
    # A packet that itself looks like a frame header.
    (["\ufffd1\ufffdx", "y"], "\ufffd4\ufffd\ufffd1\ufffdx\ufffd1\ufffdy"),
]


@pytest.mark.parametrize(("packets", "framed"), PAYLOADS, ids=range(len(PAYLOADS)))
def test_payload_round_trip(packets: list[str], framed: str) -> None:
    assert encode_payload(packets) == framed
    assert decode_payload(framed) == packets


def test_encode_payload_empty() -> None:
    assert encode_payload([]) == ""


@pytest.mark.parametrize(
    ("framed", "packets"),
    [
        ("", [""]),
        ("3:::hello", ["3:::hello"]),
        ("3:::\U0001f600\ufffd", ["3:::\U0001f600\ufffd"]),
        ("\ufffd003\ufffd2::", ["2::"]),
    ],
)
def test_decode_payload_only(framed: str, packets: list[str]) -> None:
    assert decode_payload(framed) == packets


def test_emoji_counts_two_units() -> None:
    assert utf16_len("\U0001f600") == 2
    assert utf16_len("a\U0001f600é\ud800") == 5
    assert utf16_len("abc") == 3
    assert utf16_len("") == 0
    framed = encode_payload(["\U0001f600", "x"])
    assert framed == "\ufffd2\ufffd\U0001f600\ufffd1\ufffdx"
    assert decode_payload(framed) == ["\U0001f600", "x"]


BAD_PAYLOADS: list[str] = [
    "\ufffd",
    "\ufffd1",
    "\ufffd12",
    "\ufffd\ufffd2::",  # empty length
    "\ufffdx\ufffd2::",  # non-digit length
    "\ufffd1x\ufffd2::",
    "\ufffd-1\ufffd2::",
    "\ufffd\u0663\ufffd2::",  # a non-ASCII digit
    "\ufffd4\ufffd2::",  # past the end
    "\ufffd3\ufffd2::x",  # trailing garbage
    "\ufffd3\ufffd2::\ufffd",
    "\ufffd3\ufffd2::\ufffd3",
    "\ufffd" + "9" * 17 + "\ufffd2::",  # absurd length
    "\ufffd" + "1" * 5000 + "\ufffd2::",
    # The same with astral characters (the UTF-16 path).
    "\ufffd\U0001f600",
    "\ufffd2\ufffd\U0001f600x",
    "\ufffd3\ufffd\U0001f600",
    "\ufffd1\ufffd\U0001f600",  # the length splits a surrogate pair
    "\ufffd2\ufffd\U0001f600\ufffd",
    "\ufffd2\ufffd\U0001f600\ufffdx\ufffd",
    "\ufffd1\U0001f600\ufffd",
]


@pytest.mark.parametrize("framed", BAD_PAYLOADS, ids=range(len(BAD_PAYLOADS)))
def test_decode_bad_payload(framed: str) -> None:
    with pytest.raises(InvalidPayload):
        decode_payload(framed)


# --- properties --------------------------------------------------------------------------------

endpoints = st.one_of(
    st.just(""),
    st.sampled_from(["/chat", "/a/b", "/ns-1"]),
    st.text(st.characters(exclude_characters=":?", exclude_categories=["Cs"]), max_size=12),
)
# Text without surrogate code points: what a JavaScript peer's JSON strings decode to.
clean_text = st.text(st.characters(exclude_categories=["Cs"]))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=["Cs"]), max_size=6), children, max_size=4
        )
    ),
    max_leaves=12,
)
json_lists = st.lists(json_values, max_size=4)


@st.composite
def packets(draw: st.DrawFn) -> dict[str, Any]:
    ptype = draw(st.sampled_from(PACKET_TYPES))
    packet: dict[str, Any] = {"type": ptype, "endpoint": draw(endpoints)}
    if draw(st.booleans()):
        packet["id"] = draw(st.integers(min_value=0, max_value=2**53))
        packet["ack"] = draw(st.sampled_from([True, "data"]))
    if ptype == "message":
        packet["data"] = draw(st.text())
    elif ptype == "json":
        packet["data"] = draw(json_values)
    elif ptype == "event":
        packet["name"] = draw(clean_text)
        packet["args"] = draw(json_lists)
    elif ptype == "ack":
        packet["ackId"] = draw(st.integers(min_value=0, max_value=2**53))
        packet["args"] = draw(json_lists)
    elif ptype == "error":
        packet["reason"] = draw(st.sampled_from(("", *ERROR_REASONS)))
        packet["advice"] = draw(st.sampled_from(("", *ERROR_ADVICES)))
    elif ptype == "connect":
        packet["qs"] = draw(st.text())
    return packet


@settings(max_examples=300, deadline=None)
@given(packets())
def test_property_packet_round_trip(packet: dict[str, Any]) -> None:
    wire = encode_packet(packet)
    assert decode_packet(wire) == packet
    assert encode_packet(decode_packet(wire)) == wire
    assert decode(wire) == Packet.from_dict(packet)
    assert encode(Packet.from_dict(packet)) == wire
    assert encode(decode(wire)) == wire


@settings(max_examples=100, deadline=None)
@given(endpoints, clean_text, json_lists, st.none() | st.integers(min_value=0, max_value=2**53))
def test_property_encode_event_matches_encode_packet(
    endpoint: str, name: str, args: list[Any], msg_id: int | None
) -> None:
    packet: dict[str, Any] = {"type": "event", "endpoint": endpoint, "name": name, "args": args}
    if msg_id is not None:
        packet.update(id=msg_id, ack="data")
    wire = encode_event(endpoint, name, args, msg_id)
    assert wire == encode_packet(packet)
    assert decode_packet(wire) == packet


def test_dumps_matches_json_module() -> None:
    value = {"a": [1, "é", None], "b": {"c": 1.5}}
    assert loads(dumps(value)) == value
    assert dumps(value) == json.dumps(value, separators=(",", ":"))


payload_text = st.text(
    st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from(["\ufffd", "\U0001f600", "0", "9"]),
    ),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(payload_text, min_size=2, max_size=5))
def test_property_payload_round_trip(packets: list[str]) -> None:
    assert decode_payload(encode_payload(packets)) == packets


@settings(max_examples=100, deadline=None)
@given(payload_text)
def test_property_single_packet_payload(packet: str) -> None:
    framed = encode_payload([packet])
    assert framed == packet
    if not packet.startswith("\ufffd"):
        assert decode_payload(framed) == [packet]


@settings(max_examples=100, deadline=None)
@given(payload_text)
def test_property_utf16_len(text: str) -> None:
    assert utf16_len(text) == len(text.encode("utf-16-le")) // 2


# --- fuzz: garbage in, documented exceptions out -----------------------------------------------

packet_prefixes = st.sampled_from(
    ["", "0:", "1::", "1::/a?", "3:", "3:1+:", "4:::", "5:::", "5:::{", '5:::{"name":', "6:::",
     "6:::1+", "7:::", "7:::1+", "8::", "9::", "\ufffd", "\ufffd3\ufffd", "\ufffd1\ufffd"]
)  # fmt: skip
fuzz_text = st.builds(
    str.__add__,
    packet_prefixes,
    st.text(
        st.one_of(
            st.characters(),
            st.sampled_from([":", "+", "?", "/", "\ufffd", "\U0001f600", "[", "]", "{", "}", '"']),
        ),
        max_size=30,
    ),
)


@settings(max_examples=300, deadline=None)
@given(fuzz_text)
def test_fuzz_decode_packet(data: str) -> None:
    try:
        packet = decode_packet(data)
    except InvalidPacket:
        return
    assert packet["type"] in PACKET_TYPES
    assert isinstance(packet["endpoint"], str)


@settings(max_examples=300, deadline=None)
@given(fuzz_text)
def test_fuzz_decode_payload(data: str) -> None:
    try:
        parts = decode_payload(data)
    except InvalidPayload:
        return
    assert all(isinstance(p, str) for p in parts)
    if len(parts) >= 2 and not any("\ud800" <= c <= "\udfff" for c in data):
        assert encode_payload(parts) == data
