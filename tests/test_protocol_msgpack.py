"""Tests for tornio.protocol.msgpack_parser: the socket.io-msgpack-parser format.

The captured rows are reference/modern.md §2.7 (socket.io-client 4.8.4 + the reference server,
notepack.io on both sides), written out byte by byte.
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tornio.exceptions import InvalidPacket
from tornio.protocol.msgpack_parser import decode, encode
from tornio.protocol.socketio import RESERVED_EVENTS, Packet, PacketType

CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = PacketType


def s(text: str) -> bytes:
    """A msgpack fixstr."""
    raw = text.encode()
    assert len(raw) < 32
    return bytes([0xA0 | len(raw)]) + raw


TYPE, NSP, DATA, ID = s("type"), s("nsp"), s("data"), s("id")
ROOT = NSP + s("/")
UNDEFINED = bytes.fromhex("d40000")
SID = "zCqLMj5NN2QeqG3NAAAB"

# --- captured wire (modern.md §2.7) ------------------------------------------------------------

CAPTURED: list[tuple[str, bytes, Packet]] = [
    (
        # C→S CONNECT  83 a4"type" 00 a4"data" d4 00 00 a3"nsp" a1"/"
        "client CONNECT",
        b"\x83" + TYPE + b"\x00" + DATA + UNDEFINED + ROOT,
        Packet(CONNECT, "/"),
    ),
    (
        # S→C CONNECT  83 type 00 data {sid:"…", pid: d4 00 00} nsp "/"
        "server CONNECT",
        b"\x83" + TYPE + b"\x00" + DATA + b"\x82" + s("sid") + s(SID) + s("pid") + UNDEFINED + ROOT,
        Packet(CONNECT, "/", {"sid": SID}),
    ),
    (
        # C→S EVENT  85 type 02 data ["hi",1, c7 02 00 01 02] options {compress:true} id 00 nsp "/"
        "client EVENT",
        b"\x85"
        + TYPE
        + b"\x02"
        + DATA
        + b"\x93"
        + s("hi")
        + b"\x01\xc7\x02\x00\x01\x02"
        + s("options")
        + b"\x81"
        + s("compress")
        + b"\xc3"
        + ID
        + b"\x00"
        + ROOT,
        Packet(EVENT, "/", ["hi", 1, b"\x01\x02"], 0),
    ),
    (
        # S→C ACK  84 id 00 type 03 data ["ok", c4 01 09] nsp "/"
        "server ACK",
        b"\x84" + ID + b"\x00" + TYPE + b"\x03" + DATA + b"\x92" + s("ok") + b"\xc4\x01\x09" + ROOT,
        Packet(ACK, "/", ["ok", b"\x09"], 0),
    ),
]


@pytest.mark.parametrize(("raw", "packet"), [c[1:] for c in CAPTURED], ids=[c[0] for c in CAPTURED])
def test_decode_captured(raw: bytes, packet: Packet) -> None:
    assert decode(raw) == packet


def test_captured_bytes_are_what_msgpack_reads() -> None:
    # sanity check of the hand-written rows with a generic msgpack reader
    ext = msgpack.ExtType
    assert msgpack.unpackb(CAPTURED[0][1]) == {"type": 0, "data": ext(0, b"\x00"), "nsp": "/"}
    assert msgpack.unpackb(CAPTURED[2][1]) == {
        "type": 2,
        "data": ["hi", 1, ext(0, b"\x01\x02")],
        "options": {"compress": True},
        "id": 0,
        "nsp": "/",
    }
    assert msgpack.unpackb(CAPTURED[3][1]) == {
        "id": 0,
        "type": 3,
        "data": ["ok", b"\t"],
        "nsp": "/",
    }


# (packet, raw): encode(packet) == raw (keys type, nsp, data, id) and decode(raw) == packet.
ROUND_TRIPS: list[tuple[Packet, bytes]] = [
    (
        Packet(ACK, "/", ["ok", b"\x09"], 0),
        b"\x84" + TYPE + b"\x03" + ROOT + DATA + b"\x92" + s("ok") + b"\xc4\x01\x09" + ID + b"\x00",
    ),
    (
        Packet(CONNECT, "/", {"sid": SID}),
        b"\x83" + TYPE + b"\x00" + ROOT + DATA + b"\x81" + s("sid") + s(SID),
    ),
    (Packet(CONNECT, "/"), b"\x82" + TYPE + b"\x00" + ROOT),
    (Packet(DISCONNECT, "/admin"), b"\x82" + TYPE + b"\x01" + NSP + s("/admin")),
    (
        Packet(CONNECT_ERROR, "/random", {"message": "Invalid namespace"}),
        b"\x83"
        + TYPE
        + b"\x04"
        + NSP
        + s("/random")
        + DATA
        + b"\x81"
        + s("message")
        + s("Invalid namespace"),
    ),
    (
        Packet(CONNECT_ERROR, "/", "Not authorized"),
        b"\x83" + TYPE + b"\x04" + ROOT + DATA + s("Not authorized"),
    ),
    (
        Packet(EVENT, "/", ["message-back", 1, "2", {"3": [True]}], 456),
        b"\x84"
        + TYPE
        + b"\x02"
        + ROOT
        + DATA
        + b"\x94"
        + s("message-back")
        + b"\x01"
        + s("2")
        + b"\x81"
        + s("3")
        + b"\x91\xc3"
        + ID
        + b"\xcd\x01\xc8",
    ),
    (
        Packet(EVENT, "/", ["e", None, -1, 1.5, False, b""]),
        b"\x83"
        + TYPE
        + b"\x02"
        + ROOT
        + DATA
        + b"\x96"
        + s("e")
        + b"\xc0\xff\xcb"
        + struct.pack(">d", 1.5)
        + b"\xc2\xc4\x00",
    ),
]


@pytest.mark.parametrize(("packet", "raw"), ROUND_TRIPS)
def test_round_trip(packet: Packet, raw: bytes) -> None:
    assert encode(packet) == raw
    assert decode(raw) == packet


def test_encode_binary_types_as_plain_ones() -> None:
    # the msgpack parser has no BINARY_* packets: bytes are msgpack values
    assert decode(encode(Packet(BINARY_EVENT, "/", ["a", b"x"], None, 1))) == Packet(
        EVENT, "/", ["a", b"x"]
    )
    assert decode(encode(Packet(BINARY_ACK, "/", [b"x"], 3, 1))) == Packet(ACK, "/", [b"x"], 3)
    assert msgpack.unpackb(encode(Packet(BINARY_ACK, "/", [bytearray(b"x")], 3)))["type"] == 3


def test_encode_errors() -> None:
    with pytest.raises(TypeError):
        encode(Packet(EVENT, "/", ["a", object()]))
    with pytest.raises(ValueError):
        encode(Packet(EVENT, "/", ["a", 2**64]))
    nested: list[Any] = ["a"]
    nested.append(nested)
    with pytest.raises(ValueError):
        encode(Packet(EVENT, "/", nested))
    # the module-level packer recovers after an error
    assert decode(encode(Packet(EVENT, "/", ["ok"]))) == Packet(EVENT, "/", ["ok"])


# --- notepack's extensions ---------------------------------------------------------------------


def event(*items: bytes) -> bytes:
    """An EVENT packet whose data array holds the given encoded items."""
    assert len(items) < 16
    return b"\x83" + TYPE + b"\x02" + DATA + bytes([0x90 | len(items)]) + b"".join(items) + ROOT


def date(ms: int) -> bytes:
    return b"\xd7\x00" + struct.pack(">iI", ms >> 32, ms & 0xFFFFFFFF)


# (raw, data): decode(raw).data == data.
EXTENSIONS: list[tuple[bytes, list[Any]]] = [
    (event(s("e"), b"\xc7\x02\x00\x01\x02"), ["e", b"\x01\x02"]),  # ArrayBuffer, ext 8
    (event(s("e"), b"\xc8\x00\x02\x00\x01\x02"), ["e", b"\x01\x02"]),  # ext 16
    (event(s("e"), b"\xc9\x00\x00\x00\x02\x00\x01\x02"), ["e", b"\x01\x02"]),  # ext 32
    (event(s("e"), b"\xc7\x00\x00"), ["e", b""]),
    (event(s("e"), b"\xc7\x01\x00\x00"), ["e", b"\x00"]),  # a 1-byte ArrayBuffer, not undefined
    (event(s("e"), b"\xc7\x08\x00" + bytes(8)), ["e", bytes(8)]),  # 8 bytes, not a Date
    (event(s("e"), b"\xc4\x03abc"), ["e", b"abc"]),  # Buffer: bin 8
    (event(s("e"), b"\xc5\x00\x03abc"), ["e", b"abc"]),
    (event(s("e"), b"\xc6\x00\x00\x00\x03abc"), ["e", b"abc"]),
    (event(s("e"), UNDEFINED), ["e", None]),  # undefined in an array: null, as JSON.stringify
    (event(s("e"), b"\x82" + s("a") + UNDEFINED + s("b") + b"\x01"), ["e", {"b": 1}]),
    (event(s("e"), b"\x81" + s("a") + b"\x91" + b"\x81" + s("x") + UNDEFINED), ["e", {"a": [{}]}]),
    (event(s("e"), date(1_700_000_000_000)), ["e", 1_700_000_000_000]),  # a Date: ms since epoch
    (event(s("e"), date(0)), ["e", 0]),
    (event(s("e"), date(-86_400_000)), ["e", -86_400_000]),
    (event(s("e"), b"\xc7\x0d\x01" + b"-123456789012"), ["e", -123456789012]),  # a BigInt
    (event(s("e"), b"\xc7\x01\x01" + b"7"), ["e", 7]),
]


@pytest.mark.parametrize(("raw", "data"), EXTENSIONS, ids=[r.hex() for r, _ in EXTENSIONS])
def test_extensions(raw: bytes, data: list[Any]) -> None:
    packet = decode(raw)
    assert packet.data == data
    for value in packet.data:
        assert type(value) is not bytearray


# (raw, packet): more decoding only.
DECODE_ONLY: list[tuple[bytes, Packet]] = [
    (b"\x83" + TYPE + b"\x02" + DATA + b"\x91\x01" + ROOT, Packet(EVENT, "/", [1])),
    (b"\x83" + TYPE + b"\x00" + DATA + b"\xc0" + ROOT, Packet(CONNECT, "/")),  # null auth
    (b"\x84" + TYPE + b"\x03" + DATA + b"\x90" + ID + UNDEFINED + ROOT, Packet(ACK, "/", [])),
    (b"\x83" + TYPE + b"\xcc\x02" + DATA + b"\x91\xa1e" + ROOT, Packet(EVENT, "/", ["e"])),
    (b"\x83" + TYPE + b"\xd0\x03" + DATA + b"\x90" + ROOT, Packet(ACK, "/", [])),
    (
        b"\x84" + TYPE + b"\x03" + DATA + b"\x90" + ID + b"\xcf" + bytes(7) + b"\x05" + ROOT,
        Packet(ACK, "/", [], 5),
    ),
    (
        b"\x84" + TYPE + b"\x03" + DATA + b"\x90" + ID + b"\xd3" + bytes(7) + b"\x05" + ROOT,
        Packet(ACK, "/", [], 5),
    ),
    (
        b"\x84" + s("x") + b"\xc0" + TYPE + b"\x01" + s("y") + b"\x90" + ROOT,
        Packet(DISCONNECT, "/"),
    ),
    (b"\x83" + TYPE + b"\x01" + TYPE + b"\x00" + ROOT, Packet(CONNECT, "/")),  # last key wins
    (b"\x82" + TYPE + b"\x00" + NSP + b"\xd9\x03/xy", Packet(CONNECT, "/xy")),
    (
        b"\x83" + TYPE + b"\x02" + DATA + b"\x92\x05\xca" + struct.pack(">f", 0.5) + ROOT,
        Packet(EVENT, "/", [5, 0.5]),
    ),
    (b"\xde\x00\x02" + TYPE + b"\x00" + NSP + b"\xda\x00\x02/a", Packet(CONNECT, "/a")),
    (b"\x83" + TYPE + b"\x02" + DATA + b"\xdc\x00\x01" + s("e") + ROOT, Packet(EVENT, "/", ["e"])),
]


@pytest.mark.parametrize(("raw", "packet"), DECODE_ONLY, ids=[r.hex() for r, _ in DECODE_ONLY])
def test_decode_only(raw: bytes, packet: Packet) -> None:
    assert decode(raw) == packet


def test_decode_accepts_bytes_like() -> None:
    raw = CAPTURED[3][1]
    assert decode(bytearray(raw)) == decode(memoryview(raw)) == CAPTURED[3][2]


def _map(**fields: bytes) -> bytes:
    assert len(fields) < 16
    return bytes([0x80 | len(fields)]) + b"".join(s(k) + v for k, v in fields.items())


BAD: list[bytes] = [
    b"",
    b"\x90",  # an array
    b"\x01",
    s("hello"),
    b"\xc0",
    b"\xc1",  # never used
    _map(nsp=s("/")),  # no type
    _map(type=b"\x05", nsp=s("/"), data=b"\x91\xa1e"),  # no BINARY_* in this parser
    _map(type=b"\x06", nsp=s("/"), data=b"\x90"),
    _map(type=b"\x07", nsp=s("/")),
    _map(type=b"\xff", nsp=s("/")),
    _map(type=s("2"), nsp=s("/"), data=b"\x91\xa1e"),
    _map(type=b"\xc3", nsp=s("/")),  # true is not 1
    _map(type=b"\xcb" + struct.pack(">d", 2.0), nsp=s("/"), data=b"\x91\xa1e"),
    _map(type=b"\x00"),  # no nsp
    _map(type=b"\x00", nsp=b"\x01"),
    _map(type=b"\x00", nsp=b"\xc0"),
    _map(type=b"\x00", nsp=UNDEFINED),
    _map(type=b"\x03", nsp=s("/"), data=b"\x90", id=b"\xff"),  # id -1
    _map(type=b"\x03", nsp=s("/"), data=b"\x90", id=s("1")),
    _map(type=b"\x03", nsp=s("/"), data=b"\x90", id=b"\xcb" + struct.pack(">d", 1.5)),
    _map(type=b"\x03", nsp=s("/"), data=b"\x90", id=b"\xc0"),
    _map(type=b"\x03", nsp=s("/"), data=b"\x90", id=b"\xc3"),
    # data shapes (modern.md §2.2)
    _map(type=b"\x02", nsp=s("/")),
    _map(type=b"\x02", nsp=s("/"), data=b"\x90"),
    _map(type=b"\x02", nsp=s("/"), data=s("e")),
    _map(type=b"\x02", nsp=s("/"), data=b"\x91\xc0"),
    _map(type=b"\x02", nsp=s("/"), data=b"\x91\x90"),
    _map(type=b"\x02", nsp=s("/"), data=b"\x91\xc4\x01x"),
    *[_map(type=b"\x02", nsp=s("/"), data=b"\x91" + s(name)) for name in sorted(RESERVED_EVENTS)],
    _map(type=b"\x03", nsp=s("/")),
    _map(type=b"\x03", nsp=s("/"), data=b"\x80"),
    _map(type=b"\x01", nsp=s("/"), data=b"\x80"),
    _map(type=b"\x01", nsp=s("/"), data=b"\xc0"),
    _map(type=b"\x00", nsp=s("/"), data=b"\x90"),
    _map(type=b"\x00", nsp=s("/"), data=s("x")),
    _map(type=b"\x04", nsp=s("/")),
    _map(type=b"\x04", nsp=s("/"), data=b"\x01"),
    _map(type=b"\x04", nsp=s("/"), data=b"\x90"),
    # values
    event(s("e"), b"\x81\x01\x02"),  # an integer map key
    event(s("e"), b"\x81\xc4\x01k\x02"),  # a binary map key
    event(s("e"), b"\x81" + UNDEFINED + b"\x02"),
    event(s("e"), b"\xc7\x01\x05x"),  # unknown ext type
    event(s("e"), b"\xc7\x01\xffx"),
    event(s("e"), b"\xd4\x01x"),  # fixext 1 of another type
    event(s("e"), b"\xd5\x00xy"),  # fixext 2
    event(s("e"), b"\xd6\x00wxyz"),  # fixext 4
    event(s("e"), b"\xd6\xff\x00\x00\x00\x01"),  # msgpack timestamp 32
    event(s("e"), b"\xd7\xff" + bytes(8)),  # msgpack timestamp 64
    event(s("e"), b"\xd7\x01" + bytes(8)),
    event(s("e"), b"\xd8\x00" + bytes(16)),  # fixext 16
    event(s("e"), b"\xc7\x0c\xff" + bytes(12)),  # msgpack timestamp 96
    event(s("e"), b"\xc7\x02\x01ab"),  # a BigInt that is not decimal
    event(s("e"), b"\xc7\x00\x01"),
    event(s("e"), b"\xc7\x03\x01--1"),
    event(s("e"), b"\xcb" + struct.pack(">d", float("nan"))),
    event(s("e"), b"\xcb" + struct.pack(">d", float("inf"))),
    event(s("e"), b"\xca" + struct.pack(">f", float("-inf"))),
    event(s("e"), b"\xa2\xff\xfe"),  # not UTF-8
    event(s("e"), b"\xa3\xed\xa0\x80"),  # an encoded surrogate
    event(s("e"), b"\xc1"),
    # framing
    CAPTURED[3][1] + b"\x00",  # a trailing byte
    CAPTURED[3][1] + CAPTURED[3][1],
    event(s("e"), b"\xdd\xff\xff\xff\xff"),  # a huge array length with nothing behind it
    event(s("e"), b"\xdf\xff\xff\xff\xff"),
    event(s("e"), b"\xdb\xff\xff\xff\xff"),
    event(s("e"), b"\xc6\xff\xff\xff\xff"),
    event(s("e"), b"\xc9\xff\xff\xff\xff\x00"),
    event(s("e"), b"\x91" * 300 + b"\xc0"),  # nested too deeply
]


@pytest.mark.parametrize("raw", BAD, ids=[r.hex()[:60] for r in BAD])
def test_decode_bad(raw: bytes) -> None:
    with pytest.raises(InvalidPacket):
        decode(raw)


@pytest.mark.parametrize("raw", [c[1] for c in CAPTURED] + [r for _, r in ROUND_TRIPS])
def test_every_truncation_is_refused(raw: bytes) -> None:
    for end in range(len(raw)):
        with pytest.raises(InvalidPacket):
            decode(raw[:end])


def test_deep_but_allowed_nesting() -> None:
    depth = 200
    packet = decode(event(s("e"), b"\x91" * depth + b"\x01"))
    value = packet.data[1]
    for _ in range(depth):
        value = value[0]
    assert value == 1


def test_error_reports_namespace_when_known() -> None:
    with pytest.raises(InvalidPacket) as info:
        decode(_map(type=b"\x02", nsp=s("/chat"), data=b"\x91" + s("connect")))
    assert info.value.endpoint == "/chat"


# --- properties --------------------------------------------------------------------------------

keys = st.text(max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
    | st.binary(max_size=10)
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)
event_names = st.text(max_size=10).filter(lambda n: n not in RESERVED_EVENTS) | st.integers(
    min_value=-(2**53), max_value=2**53
)
namespaces = st.just("/") | st.text(max_size=10).map(lambda t: "/" + t)
ack_ids = st.none() | st.integers(min_value=0, max_value=2**53)


@st.composite
def packets(draw: st.DrawFn) -> Packet:
    ptype = draw(st.sampled_from([CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR]))
    nsp = draw(namespaces)
    if ptype == CONNECT:
        return Packet(ptype, nsp, draw(st.none() | st.dictionaries(keys, values, max_size=4)))
    if ptype == DISCONNECT:
        return Packet(ptype, nsp)
    if ptype == CONNECT_ERROR:
        return Packet(ptype, nsp, draw(st.text() | st.dictionaries(keys, values, max_size=4)))
    args = draw(st.lists(values, max_size=5))
    if ptype == EVENT:
        args.insert(0, draw(event_names))
    return Packet(ptype, nsp, args, draw(ack_ids))


@settings(max_examples=100, deadline=None)
@given(packets())
def test_property_round_trip(packet: Packet) -> None:
    raw = encode(packet)
    assert decode(raw) == packet
    # and a generic msgpack reader agrees on the bytes
    obj = msgpack.unpackb(raw)
    assert obj["type"] == packet.type and obj["nsp"] == packet.nsp


@settings(max_examples=80, deadline=None)
@given(values)
def test_property_reader_matches_msgpack(value: Any) -> None:
    # whatever msgpack-python writes (without extensions), the reader reads the same value
    raw = msgpack.packb({"type": 2, "nsp": "/", "data": ["e", value]}, use_bin_type=True)
    assert decode(raw).data == ["e", value]


# --- fuzz: garbage in, documented exceptions out -----------------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from([c[1] for c in CAPTURED] + [r for _, r in ROUND_TRIPS])))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(raw) - 1))
        raw[pos] = draw(st.integers(0, 255))
    return bytes(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40) | mutated())
def test_fuzz_decode(raw: bytes) -> None:
    try:
        packet = decode(raw)
    except InvalidPacket:
        return
    assert isinstance(packet.type, PacketType)
    assert packet.type <= CONNECT_ERROR
    assert isinstance(packet.nsp, str)
