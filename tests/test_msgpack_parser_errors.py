"""The msgpack parser's refusals (tornio.protocol.msgpack_parser), each with its exact message
(it goes to the log and to the client) and the namespace it is reported on, and the nesting
bound on both sides, map keys read at their own depth; and the encoder's answers for what
msgpack cannot carry. ``tests/test_protocol_msgpack.py`` has the captured packets, the
extensions and the properties."""

from __future__ import annotations

import inspect
import struct
import sys

import msgpack  # type: ignore[import-untyped]
import pytest

from tornio.exceptions import InvalidPacket
from tornio.protocol.jsoncodec import JsonCodec
from tornio.protocol.msgpack_parser import decode, encode
from tornio.protocol.socketio import Packet, PacketType


def s(text: str) -> bytes:
    return bytes(msgpack.packb(text))


HEAD = b"\x83" + s("type") + b"\x02" + s("nsp") + s("/") + s("data") + b"\x92" + s("e")
AT = len(HEAD)  # the byte where the event's argument starts (21)


def event(value: bytes) -> bytes:
    """An EVENT on "/" named "e" with one argument, ``value``."""
    return HEAD + value


def packet(**fields: bytes) -> bytes:
    return bytes([0x80 | len(fields)]) + b"".join(s(k) + v for k, v in fields.items())


REFUSED = [
    (b"", "invalid msgpack: truncated at byte 0"),
    (b"\x90", "a msgpack packet must be a map"),
    (b"\xc0", "a msgpack packet must be a map"),
    (b"\xc1", "invalid msgpack: unsupported msgpack format 0xc1 at byte 0"),
    (b"\x81\x01\x02", "invalid msgpack: map key at byte 1 is not a string"),
    (b"\x80", "invalid packet type None"),
    (packet(type=b"\x07", nsp=s("/")), "invalid packet type 7"),
    (packet(type=b"\x05", nsp=s("/")), "invalid packet type 5"),
    (packet(type=s("2"), nsp=s("/")), "invalid packet type '2'"),
    (packet(type=b"\xc3", nsp=s("/")), "invalid packet type True"),
    (packet(type=b"\x00"), "invalid namespace None"),
    (packet(type=b"\x00", nsp=b"\x01"), "invalid namespace 1"),
    (event(b"\x81\x01\x02"), f"invalid msgpack: map key at byte {AT + 1} is not a string"),
    (event(b"\xc7\x01\x05x"), f"invalid msgpack: unsupported ext type 5 at byte {AT + 3}"),
    (event(b"\xc8\x00\x01\x07x"), f"invalid msgpack: unsupported ext type 7 at byte {AT + 4}"),
    (event(b"\xc9\x00\x00\x00\x01\x09x"),
     f"invalid msgpack: unsupported ext type 9 at byte {AT + 6}"),
    (event(b"\xd4\x01x"), f"invalid msgpack: unsupported msgpack format 0xd4 at byte {AT}"),
    (event(b"\xd7\x01" + bytes(8)),
     f"invalid msgpack: unsupported msgpack format 0xd7 at byte {AT}"),
    (event(b"\xc7\x02\x01ab"), f"invalid msgpack: invalid BigInt at byte {AT + 3}"),
    (event(b"\xc7\x02\x011\xff"), f"invalid msgpack: invalid BigInt at byte {AT + 3}"),
    (event(b"\xcb" + struct.pack(">d", float("nan"))),
     f"invalid msgpack: non-finite float at byte {AT + 1}"),
    (event(b"\xca" + struct.pack(">f", float("inf"))),
     f"invalid msgpack: non-finite float at byte {AT + 1}"),
    (event(b"\xa2\xff\xfe"), f"invalid msgpack: string at byte {AT + 1} is not UTF-8"),
    (event(b"\xd9\x01\xff"), f"invalid msgpack: string at byte {AT + 2} is not UTF-8"),
    (event(b"\xc1"), f"invalid msgpack: unsupported msgpack format 0xc1 at byte {AT}"),
    (event(b"\xdd\xff\xff\xff\xff"), f"invalid msgpack: truncated array at byte {AT + 5}"),
    (event(b"\x93\x01\x02"), f"invalid msgpack: truncated array at byte {AT + 1}"),
    (event(b"\xdf\xff\xff\xff\xff"), f"invalid msgpack: truncated map at byte {AT + 5}"),
    (event(b"\x82\xa1k\x01"), f"invalid msgpack: truncated map at byte {AT + 1}"),
    (event(b"\x82\xa1k\x01\xa1"), f"invalid msgpack: truncated: 1 bytes needed at byte {AT + 5}"),
    (event(b"\xdb\xff\xff\xff\xff"),
     f"invalid msgpack: truncated: 4294967295 bytes needed at byte {AT + 5}"),
    (event(b"\xa3ab"), f"invalid msgpack: truncated: 3 bytes needed at byte {AT + 1}"),
    (event(b"\xc4\x02a"), f"invalid msgpack: truncated: 2 bytes needed at byte {AT + 2}"),
    (event(b"\xcd\x01"), "invalid msgpack: truncated"),
    (event(b"\xc0") + b"\x00\x01", "invalid msgpack: 2 trailing bytes"),
    (event(b"\xc0") + b"\x00", "invalid msgpack: 1 trailing bytes"),
]


@pytest.mark.parametrize(("raw", "message"), REFUSED, ids=[r.hex()[:40] for r, _ in REFUSED])
def test_a_refusal_says_why(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidPacket) as refused:
        decode(raw)
    assert str(refused.value) == message
    assert refused.value.endpoint == ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": b"\xff"}, "invalid ack id -1"),
        ({"id": s("1")}, "invalid ack id '1'"),
        ({"id": b"\xc0"}, "invalid ack id None"),
        ({"id": b"\xc3"}, "invalid ack id True"),
    ],
)
def test_a_bad_ack_id_is_reported_on_its_namespace(fields: dict[str, bytes], message: str) -> None:
    raw = packet(type=b"\x03", nsp=s("/chat"), data=b"\x90", **fields)
    with pytest.raises(InvalidPacket) as refused:
        decode(raw)
    assert (str(refused.value), refused.value.endpoint) == (message, "/chat")


def test_an_ack_id_of_zero_is_one() -> None:
    assert decode(packet(type=b"\x03", nsp=s("/"), data=b"\x90", id=b"\x00")).id == 0


@pytest.mark.parametrize(
    "inner", [b"\x90", b"\x80", b"\x91\x01", b"\x81\xa1k\x01", b"\xdc\x00\x00", b"\xde\x00\x00"]
)
def test_256_levels_of_nesting_and_not_one_more(inner: bytes) -> None:
    """The packet's map is level 1, its data array level 2: 253 arrays more and the innermost
    container make 256."""
    assert decode(event(b"\x91" * 253 + inner)).type == 2
    with pytest.raises(InvalidPacket) as refused:
        decode(event(b"\x91" * 254 + inner))
    assert str(refused.value) == "invalid msgpack: nested too deeply"


def test_a_map_key_is_read_one_level_down() -> None:
    """A key that is a container counts towards the nesting bound as a value does."""
    inner_map = 252 * b"\x91" + b"\x81\x90\x01"  # the map at level 255, its key at 256
    assert str(_refusal(event(inner_map))) == (
        f"invalid msgpack: map key at byte {AT + 253} is not a string"
    )
    too_deep = 253 * b"\x91" + b"\x81\x90\x01"  # the map at level 256, its key at 257
    assert str(_refusal(event(too_deep))) == "invalid msgpack: nested too deeply"


def _refusal(raw: bytes) -> InvalidPacket:
    with pytest.raises(InvalidPacket) as refused:
        decode(raw)
    return refused.value


def test_an_undefined_value_drops_a_key_given_before() -> None:
    raw = event(b"\x82\xa1a\x01\xa1a\xd4\x00\x00")
    assert decode(raw).data == ["e", {}]


def test_negative_fixints_from_minus_32() -> None:
    assert decode(event(b"\xe0")).data == ["e", -32]
    assert decode(event(b"\xe1")).data == ["e", -31]
    assert decode(event(b"\xff")).data == ["e", -1]


def test_an_integer_out_of_range_is_a_value_error() -> None:
    with pytest.raises(ValueError) as refused:
        encode(Packet(PacketType.EVENT, "/", ["e", 2**64], None))
    assert str(refused.value) == "Integer value out of range"


def test_the_applications_json_converts_what_msgpack_has_no_type_for() -> None:
    codec = JsonCodec(default=lambda value: f"<{value!r}>")
    packet = Packet(PacketType.EVENT, "/", ["e", {1, 2}], None)
    assert decode(encode(packet, codec)).data == ["e", "<{1, 2}>"]
    with pytest.raises(TypeError):
        encode(packet)


def test_undefined_at_the_very_end_and_cut_short() -> None:
    whole = packet(type=b"\x02", nsp=s("/"), data=b"\x91\xa1e", x=b"\xd4\x00\x00")
    assert decode(whole).data == ["e"]
    with pytest.raises(InvalidPacket) as refused:
        decode(whole[:-1])
    assert str(refused.value) == (
        f"invalid msgpack: truncated: 1 bytes needed at byte {len(whole) - 1}"
    )


def test_32_bit_array_and_map_lengths() -> None:
    assert decode(event(b"\xdd\x00\x00\x00\x02\x01\x02")).data == ["e", [1, 2]]
    assert decode(event(b"\xdf\x00\x00\x00\x01\xa1k\x03")).data == ["e", {"k": 3}]
    assert decode(event(b"\xdc\x00\x01\x01")).data == ["e", [1]]
    assert decode(event(b"\xde\x00\x01\xa1k\x03")).data == ["e", {"k": 3}]


def test_a_recursion_error_is_an_invalid_packet() -> None:
    """Nesting within the bound can still meet Python's recursion limit (a caller deep in
    its own stack): that is refused as too deep, not raised."""
    raw = event(b"\x91" * 200 + b"\x90")
    limit = sys.getrecursionlimit()
    depth = len(inspect.stack(0))
    sys.setrecursionlimit(depth + 150)
    try:
        refused = _refusal(raw)
    finally:
        sys.setrecursionlimit(limit)
    assert str(refused) == "invalid msgpack: nested too deeply"
    assert decode(raw).type == 2
