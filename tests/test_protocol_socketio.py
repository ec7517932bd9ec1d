"""Tests for tornio.protocol.socketio: the Socket.IO v5 (and v4) default-parser codec.

Wire strings come from docs/socket.io-protocol/v5-current.md and v4.md (socket.io monorepo), the
official v5 test suite, and reference/modern.md §2 (there with the Engine.IO ``4`` prefix, here
without it).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.json_paths import json_path  # noqa: F401  (fixture: orjson, stdlib)
from tornio.exceptions import InvalidPacket
from tornio.protocol.packets import Packet as Typed
from tornio.protocol.socketio import (
    RESERVED_EVENTS,
    Decoder,
    Packet,
    PacketType,
    connect_error_packet,
    connect_packet,
    encode,
    encode_event,
    from_typed,
    to_typed,
)

# The codec tables run on both ways of writing the built-in JSON.
pytestmark = pytest.mark.usefixtures("json_path")

CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = PacketType


def ph(num: int) -> str:
    return f'{{"_placeholder":true,"num":{num}}}'


def decode_all(parts: list[str | bytes], protocol: int = 5, max_attachments: int = 10) -> Packet:
    """Feed ``parts`` to a fresh decoder; only the last one may complete the packet."""
    decoder = Decoder(max_attachments, protocol)
    for part in parts[:-1]:
        assert decoder.add(part) is None
    packet = decoder.add(parts[-1])
    assert packet is not None
    assert not decoder.waiting
    return packet


# --- round trips -------------------------------------------------------------------------------

# (parts, packet): decoding parts gives packet, and encode(packet) == parts.
ROUND_TRIPS: list[tuple[list[str | bytes], Packet]] = [
    # v5-current.md "Examples"
    (["0"], Packet(CONNECT)),
    (
        ['0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}'],
        Packet(CONNECT, "/admin", {"sid": "oSO0OpakMV_3jnilAAAA"}),
    ),
    (['4{"message":"Not authorized"}'], Packet(CONNECT_ERROR, "/", {"message": "Not authorized"})),
    (['2["foo"]'], Packet(EVENT, "/", ["foo"])),
    (['2/admin,["bar"]'], Packet(EVENT, "/admin", ["bar"])),
    (
        [f'51-["baz",{ph(0)}]', b"\x01\x02\x03\x04"],
        Packet(BINARY_EVENT, "/", ["baz", b"\x01\x02\x03\x04"], attachments=1),
    ),
    (
        [f'52-/admin,["baz",{ph(0)},{ph(1)}]', b"\x01\x02", b"\x03\x04"],
        Packet(BINARY_EVENT, "/admin", ["baz", b"\x01\x02", b"\x03\x04"], attachments=2),
    ),
    (['212["foo"]'], Packet(EVENT, "/", ["foo"], 12)),
    (['3/admin,13["bar"]'], Packet(ACK, "/admin", ["bar"], 13)),
    (
        [f'61-15["bar",{ph(0)}]', b"\x01\x02\x03\x04"],
        Packet(BINARY_ACK, "/", ["bar", b"\x01\x02\x03\x04"], 15, 1),
    ),
    (["1"], Packet(DISCONNECT)),
    (["1/admin,"], Packet(DISCONNECT, "/admin")),
    # v5-current.md "Sample session"
    (['0{"sid":"wZX3oN0bSVIhsaknAAAI"}'], Packet(CONNECT, "/", {"sid": "wZX3oN0bSVIhsaknAAAI"})),
    (['2["hey","Jude"]'], Packet(EVENT, "/", ["hey", "Jude"])),
    (['2["hello"]'], Packet(EVENT, "/", ["hello"])),
    (["0/admin,"], Packet(CONNECT, "/admin")),
    (
        ['0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}'],
        Packet(CONNECT, "/admin", {"sid": "-G5j-67EZFp-q59rADQM"}),
    ),
    (['2/admin,1["tellme"]'], Packet(EVENT, "/admin", ["tellme"], 1)),
    ([f"61-/admin,1[{ph(0)}]", b"\xff"], Packet(BINARY_ACK, "/admin", [b"\xff"], 1, 1)),
    # the v5 test suite (modern.md §3.4)
    (['2["auth",{}]'], Packet(EVENT, "/", ["auth", {}])),
    (['0{"token":"123"}'], Packet(CONNECT, "/", {"token": "123"})),
    (['2["auth",{"token":"123"}]'], Packet(EVENT, "/", ["auth", {"token": "123"}])),
    (["0/custom,"], Packet(CONNECT, "/custom")),
    (['0/custom,{"token":"abc"}'], Packet(CONNECT, "/custom", {"token": "abc"})),
    (['2/custom,["auth",{}]'], Packet(EVENT, "/custom", ["auth", {}])),
    (
        ['4/random,{"message":"Invalid namespace"}'],
        Packet(CONNECT_ERROR, "/random", {"message": "Invalid namespace"}),
    ),
    (['2["message",1,"2",{"3":[true]}]'], Packet(EVENT, "/", ["message", 1, "2", {"3": [True]}])),
    (
        ['2["message-back",1,"2",{"3":[true]}]'],
        Packet(EVENT, "/", ["message-back", 1, "2", {"3": [True]}]),
    ),
    (
        [f'52-["message",{ph(0)},{ph(1)}]', b"\x01\x02\x03", b"\x04\x05\x06"],
        Packet(BINARY_EVENT, "/", ["message", b"\x01\x02\x03", b"\x04\x05\x06"], attachments=2),
    ),
    (
        ['2456["message-with-ack",1,"2",{"3":[false]}]'],
        Packet(EVENT, "/", ["message-with-ack", 1, "2", {"3": [False]}], 456),
    ),
    (['3456[1,"2",{"3":[false]}]'], Packet(ACK, "/", [1, "2", {"3": [False]}], 456)),
    (
        [f'52-789["message-with-ack",{ph(0)},{ph(1)}]', b"\x01\x02\x03", b"\x04\x05\x06"],
        Packet(BINARY_EVENT, "/", ["message-with-ack", b"\x01\x02\x03", b"\x04\x05\x06"], 789, 2),
    ),
    (
        [f"62-789[{ph(0)},{ph(1)}]", b"\x01\x02\x03", b"\x04\x05\x06"],
        Packet(BINARY_ACK, "/", [b"\x01\x02\x03", b"\x04\x05\x06"], 789, 2),
    ),
    # v4.md "Examples" that are also valid v5
    (['2["hello",1]'], Packet(EVENT, "/", ["hello", 1])),
    (['2/admin,456["project:delete",123]'], Packet(EVENT, "/admin", ["project:delete", 123], 456)),
    (["3/admin,456[]"], Packet(ACK, "/admin", [], 456)),
    (['4/admin,"Not authorized"'], Packet(CONNECT_ERROR, "/admin", "Not authorized")),
    (
        [f'51-["hello",{ph(0)}]', b"\x01\x02\x03"],
        Packet(BINARY_EVENT, "/", ["hello", b"\x01\x02\x03"], attachments=1),
    ),
    (
        [f'51-/admin,456["project:delete",{ph(0)}]', b"\x01\x02\x03"],
        Packet(BINARY_EVENT, "/admin", ["project:delete", b"\x01\x02\x03"], 456, 1),
    ),
    (
        [f"61-/admin,456[{ph(0)}]", b"\x03\x02\x01"],
        Packet(BINARY_ACK, "/admin", [b"\x03\x02\x01"], 456, 1),
    ),
    # more
    (["3[]"], Packet(ACK, "/", [])),
    (["30[]"], Packet(ACK, "/", [], 0)),
    (["2[1]"], Packet(EVENT, "/", [1])),  # a number is a valid event name
    (["2[1.5,null]"], Packet(EVENT, "/", [1.5, None])),
    (
        ['2["é","\U0001f600","\u2028","\\"\\\\\\n"]'],
        Packet(EVENT, "/", ["é", "\U0001f600", "\u2028", '"\\\n']),
    ),
    (["60-[]"], Packet(BINARY_ACK, "/", [], attachments=0)),
    (['50-["x",1]'], Packet(BINARY_EVENT, "/", ["x", 1], attachments=0)),
    (
        [f'51-["x",{{"a":[{ph(0)}]}}]', b""],
        Packet(BINARY_EVENT, "/", ["x", {"a": [b""]}], attachments=1),
    ),
    (['2/admin?x=1,["a"]'], Packet(EVENT, "/admin?x=1", ["a"])),
    (["0/admin?token=1234&uid=abcd,"], Packet(CONNECT, "/admin?token=1234&uid=abcd")),
    (["1/ns/with/slashes,"], Packet(DISCONNECT, "/ns/with/slashes")),
    (['2/\u00e9,["\u00e9"]'], Packet(EVENT, "/é", ["é"])),
    (['4"boom"'], Packet(CONNECT_ERROR, "/", "boom")),
    (
        ['4{"message":"nope","data":{"code":42}}'],
        Packet(CONNECT_ERROR, "/", {"message": "nope", "data": {"code": 42}}),
    ),
    (['29007199254740991["big"]'], Packet(EVENT, "/", ["big"], 2**53 - 1)),
]


@pytest.mark.parametrize(("parts", "packet"), ROUND_TRIPS, ids=[str(p[0]) for p, _ in ROUND_TRIPS])
def test_round_trip(parts: list[str | bytes], packet: Packet) -> None:
    assert decode_all(parts) == packet
    assert encode(packet) == parts


V4_ROUND_TRIPS: list[tuple[list[str | bytes], Packet]] = [
    # v4.md "Examples"
    (["0"], Packet(CONNECT)),
    (["0/admin,"], Packet(CONNECT, "/admin")),
    (["1/admin,"], Packet(DISCONNECT, "/admin")),
    (['2["hello",1]'], Packet(EVENT, "/", ["hello", 1])),
    (['2/admin,456["project:delete",123]'], Packet(EVENT, "/admin", ["project:delete", 123], 456)),
    (["3/admin,456[]"], Packet(ACK, "/admin", [], 456)),
    (['4/admin,"Not authorized"'], Packet(CONNECT_ERROR, "/admin", "Not authorized")),
    (
        [f'51-["hello",{ph(0)}]', b"\x01\x02\x03"],
        Packet(BINARY_EVENT, "/", ["hello", b"\x01\x02\x03"], attachments=1),
    ),
    (
        [f"61-/admin,456[{ph(0)}]", b"\x03\x02\x01"],
        Packet(BINARY_ACK, "/admin", [b"\x03\x02\x01"], 456, 1),
    ),
    # the query string rides in the namespace (v4.md "CONNECT")
    (["0/admin?token=1234&uid=abcd,"], Packet(CONNECT, "/admin?token=1234&uid=abcd")),
    # v4.md "Sample session"
    (['2["hey","Jude"]'], Packet(EVENT, "/", ["hey", "Jude"])),
    (['2/admin,1["tellme"]'], Packet(EVENT, "/admin", ["tellme"], 1)),
]


@pytest.mark.parametrize(
    ("parts", "packet"), V4_ROUND_TRIPS, ids=[str(p[0]) for p, _ in V4_ROUND_TRIPS]
)
def test_v4_round_trip(parts: list[str | bytes], packet: Packet) -> None:
    assert decode_all(parts, protocol=4) == packet
    assert encode(packet) == parts


def test_round_trip_table_covers_every_type() -> None:
    assert {p.type for _, p in ROUND_TRIPS} == set(PacketType)


# (text, packet): decoding only.
DECODE_ONLY: list[tuple[str, Packet]] = [
    ("0/custom", Packet(CONNECT, "/custom")),  # the suite's CONNECT without the comma
    ("1/custom", Packet(DISCONNECT, "/custom")),
    ('0/custom{"a":1}', Packet(CONNECT, '/custom{"a":1}')),  # the nsp runs to ',' or the end
    ('2 ["foo"]', Packet(EVENT, "/", ["foo"])),  # JSON.parse skips whitespace
    ('2["foo"]\n', Packet(EVENT, "/", ["foo"])),
    ('212 ["foo"]', Packet(EVENT, "/", ["foo"], 12)),
    ('2007["foo"]', Packet(EVENT, "/", ["foo"], 7)),
    ('2["a",{"a":1,"a":2}]', Packet(EVENT, "/", ["a", {"a": 2}])),  # last key wins
    ('2["a","\\ud800"]', Packet(EVENT, "/", ["a", "\ud800"])),
    (
        '2["a",{"_placeholder":true,"num":0}]',
        Packet(EVENT, "/", ["a", {"_placeholder": True, "num": 0}]),
    ),
    ("0{}", Packet(CONNECT, "/", {})),
    ("01", Packet(CONNECT, "/", None, 1)),  # an ack id on CONNECT is meaningless but legal
]


@pytest.mark.parametrize(("text", "packet"), DECODE_ONLY, ids=[t for t, _ in DECODE_ONLY])
def test_decode_only(text: str, packet: Packet) -> None:
    assert decode_all([text]) == packet


BAD_TEXT: list[str] = [
    "",
    "7",
    "9",
    "a",
    "abc",  # the suite's "4abc" (unknown packet type)
    "-1",
    " 2",
    '\u0662["a"]',  # ARABIC-INDIC DIGIT TWO
    # EVENT shape
    "2",
    "2{}",  # the suite's "42{}" (invalid payload format)
    "2[]",
    '2"foo"',
    "2null",
    "2[null]",
    "2[true]",
    "2[[]]",
    "2[{}]",
    "2/admin,",
    '2abc["message-with-ack",1,"2",{"3":[false]}]',  # the suite's invalid ack id
    '2["foo"',
    '2["foo"]x',
    '2["foo"],',
    "2['foo']",
    '2["a",NaN]',
    '2["a",Infinity]',
    '2["a",-Infinity]',
    '2["a",1e400]',
    '2["a",01]',
    '2["a","\x01"]',  # raw control character in a string
    '2\u0661["a"]',  # ARABIC-INDIC DIGIT ONE is not an ack id
    "2" + "1" * 21 + '["a"]',  # ack id too long
    '2["a",' + "[" * 100_000 + "]" * 100_000 + "]",
    *[f'2["{name}"]' for name in sorted(RESERVED_EVENTS)],
    *[f'2/admin,5["{name}",1]' for name in sorted(RESERVED_EVENTS)],
    # ACK shape
    "3",
    "35",
    "3{}",
    '3"x"',
    "3null",
    # DISCONNECT shape
    "1{}",
    "1/admin,{}",
    "1[]",
    '1"x"',
    "1null",
    # CONNECT shape
    "0[]",
    '0"x"',
    "0null",
    # CONNECT_ERROR shape
    "4",
    "4[]",
    "41",
    "4null",
    "4/admin,",
    # attachments
    '5["a"]',
    '5-["a"]',
    '5a-["a"]',
    '51["a"]',
    '5 1-["a"]',
    '511-["a"]',  # more than 10
    "599999999999-[]",
    "6-[]",
    "6[]",
    '5\u0661-["a"]',
    "50-",
    "50-[]",
    "50-{}",
    "60-{}",
    f'50-["a",{ph(0)}]',  # a placeholder with no attachments
]


@pytest.mark.parametrize("text", BAD_TEXT, ids=[t[:40] for t in BAD_TEXT])
def test_decode_bad_text(text: str) -> None:
    with pytest.raises(InvalidPacket):
        Decoder().add(text)


def test_bad_packet_reports_namespace() -> None:
    with pytest.raises(InvalidPacket) as info:
        Decoder().add('2/admin,["connect"]')
    assert info.value.endpoint == "/admin"


# (first, attachments): the placeholders in `first` are invalid for these attachments.
BAD_PLACEHOLDERS: list[tuple[str, list[bytes]]] = [
    (f'51-["a",{ph(1)}]', [b"x"]),  # out of range
    ('51-["a",{"_placeholder":true,"num":-1}]', [b"x"]),
    ('51-["a",{"_placeholder":true,"num":"0"}]', [b"x"]),
    ('51-["a",{"_placeholder":true,"num":0.0}]', [b"x"]),
    ('51-["a",{"_placeholder":true,"num":true}]', [b"x"]),
    ('51-["a",{"_placeholder":true,"num":null}]', [b"x"]),
    ('51-["a",{"_placeholder":true}]', [b"x"]),
    ('51-["a",{"_placeholder":true,"num":0,"x":1}]', [b"x"]),
    ('51-["a",{"_placeholder":false,"num":0}]', [b"x"]),
    ('51-["a",{"_placeholder":"true","num":0}]', [b"x"]),
    ('51-["a",{"_placeholder":1,"num":0}]', [b"x"]),
    ('51-["a",{"k":[{"v":{"_placeholder":true,"num":3}}]}]', [b"x"]),
    ('62-[{"_placeholder":true,"num":2}]', [b"x", b"y"]),
]


@pytest.mark.parametrize(("first", "attachments"), BAD_PLACEHOLDERS)
def test_bad_placeholder(first: str, attachments: list[bytes]) -> None:
    decoder = Decoder()
    assert decoder.add(first) is None
    for blob in attachments[:-1]:
        assert decoder.add(blob) is None
    with pytest.raises(InvalidPacket, match="placeholder"):
        decoder.add(attachments[-1])
    assert not decoder.waiting


def test_placeholders_deep_inside_data() -> None:
    text = f'53-9["ev",{{"a":[1,{{"b":{ph(2)}}}],"c":{ph(0)}}},[[{ph(1)}]],{ph(0)}]'
    packet = decode_all([text, b"zero", b"one", b"two"])
    assert packet == Packet(
        BINARY_EVENT,
        "/",
        ["ev", {"a": [1, {"b": b"two"}], "c": b"zero"}, [[b"one"]], b"zero"],
        9,
        3,
    )


def test_text_while_waiting_for_attachments() -> None:
    decoder = Decoder()
    assert decoder.add(f'51-["a",{ph(0)}]') is None
    assert decoder.waiting
    with pytest.raises(InvalidPacket, match="waiting"):
        decoder.add('2["b"]')
    assert not decoder.waiting  # the decoder forgot the pending packet
    assert decoder.add('2["c"]') == Packet(EVENT, "/", ["c"])


def test_binary_without_pending_packet() -> None:
    decoder = Decoder()
    with pytest.raises(InvalidPacket, match="binary"):
        decoder.add(b"\x01")
    assert decoder.add('2["a"]') is not None
    with pytest.raises(InvalidPacket, match="binary"):
        decoder.add(b"\x01")


def test_decoder_accepts_any_bytes_like_attachment() -> None:
    decoder = Decoder()
    decoder.add(f'52-["a",{ph(0)},{ph(1)}]')
    decoder.add(bytearray(b"x"))
    packet = decoder.add(memoryview(b"y"))
    assert packet is not None
    assert packet.data == ["a", b"x", b"y"]
    assert all(type(b) is bytes for b in packet.data[1:])


def test_decoder_reuse_and_reset() -> None:
    decoder = Decoder()
    for i in range(3):
        assert decoder.add(f'51-{i}["a",{ph(0)}]') is None
        assert decoder.add(bytes([i])) == Packet(BINARY_EVENT, "/", ["a", bytes([i])], i, 1)
    decoder.add(f'51-["a",{ph(0)}]')
    decoder.reset()
    assert not decoder.waiting
    assert decoder.add("1") == Packet(DISCONNECT)


def test_max_attachments() -> None:
    assert Decoder(max_attachments=2).add(f'52-["a",{ph(0)},{ph(1)}]') is None
    with pytest.raises(InvalidPacket, match="too many attachments"):
        Decoder(max_attachments=2).add(f'53-["a",{ph(0)},{ph(1)},{ph(2)}]')
    with pytest.raises(InvalidPacket, match="too many attachments"):
        Decoder().add('511-["a"]')
    assert Decoder().add('510-["a"]') is None
    assert Decoder(max_attachments=0).add('50-["a"]') == Packet(BINARY_EVENT, "/", ["a"])


def test_decoder_api_misuse() -> None:
    with pytest.raises(TypeError):
        Decoder().add(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="protocol"):
        Decoder(protocol=3)


# protocol 4 (socket.io-client 2.x)
def test_v4_connect_takes_no_json() -> None:
    decoder = Decoder(protocol=4)
    assert decoder.add("0/admin?token=1,") == Packet(CONNECT, "/admin?token=1")
    assert decoder.add("0/admin?token=1") == Packet(CONNECT, "/admin?token=1")
    for text in ('0{"token":"1"}', "0/admin,{}", "0[]", '0"x"'):
        with pytest.raises(InvalidPacket):
            decoder.add(text)


def test_v4_other_rules_match_v5() -> None:
    decoder = Decoder(protocol=4)
    assert decoder.add('4/admin,"Not authorized"') == Packet(
        CONNECT_ERROR, "/admin", "Not authorized"
    )
    for text in ("2{}", '2["disconnect"]', "3{}", "1[]", "4", "7"):
        with pytest.raises(InvalidPacket):
            decoder.add(text)


# --- encoding ----------------------------------------------------------------------------------

# (packet, parts): encoding only.
ENCODE_ONLY: list[tuple[Packet, list[str | bytes]]] = [
    (Packet(EVENT, "", ["a"]), ['2["a"]']),  # an empty nsp is the main one, as in the reference
    (Packet(EVENT, "/", ("a", 1)), ['2["a",1]']),
    (Packet(EVENT, "/", ["a", bytearray(b"x")]), [f'51-["a",{ph(0)}]', b"x"]),
    (Packet(EVENT, "/", ["a", memoryview(b"x")]), [f'51-["a",{ph(0)}]', b"x"]),
    (Packet(ACK, "/", [b"x"], 3), [f"61-3[{ph(0)}]", b"x"]),  # an ACK with bytes becomes binary
    (
        Packet(EVENT, "/chat", ["a", {"x": [b"1", {"y": b"2"}], "z": b"3"}, b"4"], 7),
        [
            f'54-/chat,7["a",{{"x":[{ph(0)},{{"y":{ph(1)}}}],"z":{ph(2)}}},{ph(3)}]',
            b"1",
            b"2",
            b"3",
            b"4",
        ],
    ),
    (
        Packet(EVENT, "/", ["a", "\ud800", "\udfff\U0001f600"]),
        ['2["a","\\ud800","\\udfff\U0001f600"]'],
    ),
    (Packet(EVENT, "/", ["a", "é\u2028\x00\x7f"]), ['2["a","é\u2028\\u0000\x7f"]']),
    (Packet(EVENT, "/", ["a", {1: 2}]), ['2["a",{"1":2}]']),
    (Packet(EVENT, "/", ["a", 2**64]), ['2["a",18446744073709551616]']),
    (Packet(CONNECT, "/", {"b": 1, "a": 2}), ['0{"b":1,"a":2}']),  # key order kept
    (Packet(BINARY_EVENT, "/", None), ["50-"]),
    (Packet(CONNECT_ERROR, "/x", None), ["4/x,"]),
    (Packet(BINARY_EVENT, "/", ["a", b"x"], attachments=5), [f'51-["a",{ph(0)}]', b"x"]),
]


@pytest.mark.parametrize(("packet", "parts"), ENCODE_ONLY)
def test_encode_only(packet: Packet, parts: list[str | bytes]) -> None:
    encoded = encode(packet)
    assert encoded == parts
    assert all(type(p) is bytes for p in encoded[1:])


ENCODE_ERRORS: list[tuple[Packet, type[Exception]]] = [
    (Packet(EVENT, "admin", ["a"]), ValueError),
    (Packet(EVENT, "/a,b", ["a"]), ValueError),
    (Packet(EVENT, "/", ["a"], -1), ValueError),
    (Packet(EVENT, "/", ["a"], True), ValueError),
    (Packet(EVENT, "/", ["a"], "1"), ValueError),  # type: ignore[arg-type]
    (Packet(EVENT, "/", ["a", float("nan")]), ValueError),
    (Packet(EVENT, "/", ["a", float("inf")]), ValueError),
    (Packet(EVENT, "/", ["a", object()]), TypeError),
    (Packet(EVENT, "/", ["a", b"x", object()]), TypeError),
    (Packet(EVENT, "/", ["a", {b"k": 1}]), TypeError),
    (Packet(CONNECT, "/", {"a": b"x"}), TypeError),
    (Packet(CONNECT_ERROR, "/", b"x"), TypeError),
]


@pytest.mark.parametrize(("packet", "error"), ENCODE_ERRORS)
def test_encode_errors(packet: Packet, error: type[Exception]) -> None:
    with pytest.raises(error):
        encode(packet)


def test_encode_circular() -> None:
    data: list[Any] = ["a"]
    data.append(data)
    with pytest.raises(ValueError, match="ircular"):
        encode(Packet(EVENT, "/", data))


@pytest.mark.parametrize(
    ("args", "kwargs", "parts"),
    [
        (("/", ["hey", "Jude"]), {}, ['2["hey","Jude"]']),
        (("/", ("hey",)), {}, ['2["hey"]']),
        (("/admin", ["project:delete", 123], 456), {}, ['2/admin,456["project:delete",123]']),
        (
            ("/", ["message-back", 1, "2", {"3": [True]}]),
            {},
            ['2["message-back",1,"2",{"3":[true]}]'],
        ),
        (
            ("/", ["message-back", b"\x01\x02\x03", b"\x04\x05\x06"]),
            {},
            [f'52-["message-back",{ph(0)},{ph(1)}]', b"\x01\x02\x03", b"\x04\x05\x06"],
        ),
        (("/", ["a"]), {"id": 0}, ['20["a"]']),
        (("/", dict.fromkeys(["a", "é"]).keys()), {}, ['2["a","é"]']),
        (("/", ["a", "\udc00"]), {}, ['2["a","\\udc00"]']),
    ],
)
def test_encode_event(
    args: tuple[Any, ...], kwargs: dict[str, Any], parts: list[str | bytes]
) -> None:
    assert encode_event(*args, **kwargs) == parts


def test_encode_event_rejects() -> None:
    with pytest.raises(ValueError, match="namespace"):
        encode_event("chat", ["a"])
    with pytest.raises(ValueError, match="ack id"):
        encode_event("/", ["a"], -2)
    with pytest.raises(TypeError):
        encode_event("/", ["a", {1, 2}])


def test_connect_packet() -> None:
    # v5: the reply carries the socket id (modern.md §2.3)
    assert connect_packet("/", "oSO0OpakMV_3jnilAAAA") == '0{"sid":"oSO0OpakMV_3jnilAAAA"}'
    assert (
        connect_packet("/admin", "-G5j-67EZFp-q59rADQM") == '0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}'
    )
    assert connect_packet("/custom", "x", pid="y") == '0/custom,{"sid":"x","pid":"y"}'
    # v4: no payload
    assert connect_packet("/") == "0"
    assert connect_packet("/admin") == "0/admin,"
    for nsp, sid in (("/", "a"), ("/admin", "b"), ("/admin", None)):
        wire = connect_packet(nsp, sid)
        assert [wire] == encode(Packet(CONNECT, nsp, None if sid is None else {"sid": sid}))


def test_connect_error_packet() -> None:
    wire = connect_error_packet("/random", "Invalid namespace")
    assert wire == '4/random,{"message":"Invalid namespace"}'
    assert "4" + wire == '44/random,{"message":"Invalid namespace"}'  # modern.md §2.3, exact
    assert connect_error_packet("/", "Not authorized") == '4{"message":"Not authorized"}'
    assert connect_error_packet("/", "no", {"code": 42}) == '4{"message":"no","data":{"code":42}}'
    assert connect_error_packet("/", "no", data=0) == '4{"message":"no","data":0}'
    assert connect_error_packet("/", "é") == '4{"message":"é"}'
    # v4: a plain string, or the error's data when it has some
    assert (
        connect_error_packet("/admin", "Not authorized", protocol=4) == '4/admin,"Not authorized"'
    )
    assert connect_error_packet("/", "Invalid namespace", protocol=4) == '4"Invalid namespace"'
    assert connect_error_packet("/", "x", {"a": 1}, protocol=4) == '4{"a":1}'


def test_packet_defaults_and_slots() -> None:
    packet = Packet(EVENT)
    assert (packet.nsp, packet.data, packet.id, packet.attachments) == ("/", None, None, 0)
    assert not hasattr(packet, "__dict__")
    assert [(t.name, t.value) for t in PacketType] == [
        ("CONNECT", 0),
        ("DISCONNECT", 1),
        ("EVENT", 2),
        ("ACK", 3),
        ("CONNECT_ERROR", 4),
        ("BINARY_EVENT", 5),
        ("BINARY_ACK", 6),
    ]


# --- the typed packet the namespaces dispatch and send ---------------------------------------

# (Socket.IO packet from a client, its namespace as the socket read it, the typed packet)
TO_TYPED: list[tuple[Packet, str, Typed | None]] = [
    (Packet(EVENT, "/", ["chat", "hi", 1]), "", Typed("event", "", "chat", ["hi", 1])),
    (Packet(EVENT, "/admin", ["chat"], 7), "/admin",
     Typed("event", "/admin", "chat", [], 7, "data")),
    (Packet(EVENT, "/", [12, "x"]), "", Typed("event", "", "12", ["x"])),
    (Packet(BINARY_EVENT, "/", ["up", b"\x01"], 3, 1), "",
     Typed("event", "", "up", [b"\x01"], 3, "data")),
    (Packet(ACK, "/", ["a", 2], 4), "", Typed("ack", "", None, ["a", 2], 4)),
    (Packet(ACK, "/", None, 4), "", Typed("ack", "", None, [], 4)),
    (Packet(BINARY_ACK, "/x", [b"\x00"], 5, 1), "/x", Typed("ack", "/x", None, [b"\x00"], 5)),
    (Packet(DISCONNECT, "/x"), "/x", Typed("disconnect", "/x")),
    (Packet(CONNECT, "/x", {"token": 1}), "/x", None),
    (Packet(CONNECT_ERROR, "/x", {"message": "no"}), "/x", None),
]


@pytest.mark.parametrize(("packet", "endpoint", "typed"), TO_TYPED, ids=range(len(TO_TYPED)))
def test_to_typed(packet: Packet, endpoint: str, typed: Typed | None) -> None:
    assert to_typed(packet, endpoint) == typed


def test_to_typed_covers_every_type() -> None:
    assert {p.type for p, _, _ in TO_TYPED} == set(PacketType)


# (typed packet a namespace sends, its Socket.IO packet)
FROM_TYPED: list[tuple[Typed, Packet]] = [
    (Typed("event", "", "chat", ["hi"]), Packet(EVENT, "/", ["chat", "hi"])),
    (Typed("event", "/a", "chat", [], 3, "data"), Packet(EVENT, "/a", ["chat"], 3)),
    (Typed("event", "", "chat", [], 3), Packet(EVENT, "/", ["chat"])),
    (Typed("ack", "/a", None, ["x", b"\x01"], 9), Packet(ACK, "/a", ["x", b"\x01"], 9)),
    (Typed("message", "", data="hi"), Packet(EVENT, "/", ["message", "hi"])),
    (Typed("message", "", None, None, 2, None, "hi"), Packet(EVENT, "/", ["message", "hi"])),
    (Typed("json", "", None, None, 2, "data", {"a": 1}),
     Packet(EVENT, "/", ["message", {"a": 1}], 2)),
    (Typed("disconnect", "/a"), Packet(DISCONNECT, "/a")),
    (Typed("error", "/a", reason="unauthorized"),
     Packet(CONNECT_ERROR, "/a", {"message": "unauthorized"})),
    (Typed("error", "/a"), Packet(CONNECT_ERROR, "/a", {"message": ""})),
]


@pytest.mark.parametrize(("typed", "packet"), FROM_TYPED, ids=range(len(FROM_TYPED)))
def test_from_typed(typed: Typed, packet: Packet) -> None:
    assert from_typed(typed) == packet


@pytest.mark.parametrize("kind", ["connect", "heartbeat", "noop"])
def test_from_typed_refuses_what_v5_has_no_packet_for(kind: str) -> None:
    with pytest.raises(ValueError, match=kind):
        from_typed(Typed(kind, "/a"))


def test_typed_round_trip() -> None:
    """What a client sends comes back the same when the typed packet is written again (but
    for a name that is not a string, which the server reads as one)."""
    for packet, _, typed in TO_TYPED:
        if typed is not None and packet.type in (EVENT, ACK) and packet.data != [12, "x"]:
            again = from_typed(typed)
            assert (again.type, again.nsp, again.data or [], again.id) == (
                packet.type, packet.nsp, packet.data or [], packet.id)


# --- properties --------------------------------------------------------------------------------

keys = st.text(max_size=8).filter(lambda k: k != "_placeholder")
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=10)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)
values_with_bytes = st.recursive(
    scalars | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)
event_names = st.text(st.characters(exclude_categories=["Cs"]), max_size=10).filter(
    lambda n: n not in RESERVED_EVENTS
) | st.integers(min_value=-(2**53), max_value=2**53)
namespaces = st.just("/") | st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters=","), max_size=10
).map(lambda s: "/" + s)
ack_ids = st.none() | st.integers(min_value=0, max_value=2**53)


@st.composite
def packets(draw: st.DrawFn) -> Packet:
    ptype = draw(st.sampled_from([CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR]))
    nsp = draw(namespaces)
    if ptype == CONNECT:
        data = draw(st.none() | st.dictionaries(keys, json_values, max_size=4))
        return Packet(ptype, nsp, data)
    if ptype == DISCONNECT:
        return Packet(ptype, nsp)
    if ptype == CONNECT_ERROR:
        error: str | dict[str, Any] = draw(
            st.text(max_size=10) | st.dictionaries(keys, json_values, max_size=4)
        )
        return Packet(ptype, nsp, error)
    args = draw(st.lists(values_with_bytes, max_size=5))
    if ptype == EVENT:
        args.insert(0, draw(event_names))
    return Packet(ptype, nsp, args, draw(ack_ids))


def count_bytes(value: Any) -> int:
    if isinstance(value, bytes):
        return 1
    if isinstance(value, list):
        return sum(count_bytes(v) for v in value)
    if isinstance(value, dict):
        return sum(count_bytes(v) for v in value.values())
    return 0


@settings(max_examples=120, deadline=None)
@given(packets())
def test_property_round_trip(packet: Packet) -> None:
    parts = encode(packet)
    decoded = decode_all(parts, max_attachments=1000)
    attachments = count_bytes(packet.data)
    assert len(parts) == 1 + attachments
    expected_type = packet.type
    if attachments:
        expected_type = BINARY_EVENT if packet.type == EVENT else BINARY_ACK
    assert decoded == Packet(expected_type, packet.nsp, packet.data, packet.id, attachments)
    assert encode(decoded) == parts


@settings(max_examples=80, deadline=None)
@given(namespaces, event_names, st.lists(values_with_bytes, max_size=5), ack_ids)
def test_property_encode_event_matches_encode(
    nsp: str, name: str | int, args: list[Any], msg_id: int | None
) -> None:
    parts = encode_event(nsp, [name, *args], msg_id)
    assert parts == encode(Packet(EVENT, nsp, [name, *args], msg_id))


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_property_json_like_json_stringify(value: Any) -> None:
    # compact separators, no ASCII escaping, and json.loads reads back the same value
    text = encode(Packet(EVENT, "/", ["x", value]))[0]
    assert isinstance(text, str)
    assert text == "2" + json.dumps(["x", value], separators=(",", ":"), ensure_ascii=False)


# --- fuzz: garbage in, documented exceptions out -----------------------------------------------

fuzz_tokens = st.sampled_from(
    [
        '"',
        "[",
        "]",
        "{",
        "}",
        ",",
        "-",
        "/",
        "0",
        "1",
        ":",
        '"a"',
        "null",
        '"connect"',
        ph(0),
        ph(1),
    ]
)
fuzz_text = st.builds(
    str.__add__,
    st.sampled_from(
        ["", "0", "0/", "1", "2", "2/a,", "21", "3", "4", "5", "51-", "52-/a,", "6", "61-1", "7"]
    ),
    st.lists(st.characters() | fuzz_tokens, max_size=20).map("".join),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(fuzz_text | st.binary(max_size=8), min_size=1, max_size=4), st.sampled_from([4, 5]))
def test_fuzz_decoder(frames: list[str | bytes], protocol: int) -> None:
    decoder = Decoder(protocol=protocol)
    for frame in frames:
        try:
            packet = decoder.add(frame)
        except InvalidPacket:
            continue
        if packet is not None:
            assert isinstance(packet.type, PacketType)
            assert isinstance(packet.nsp, str)
            assert packet.id is None or packet.id >= 0
