"""Tests for tornio.protocol.engineio: Engine.IO v4 and v3 packets, payloads, handshake, errors.

Wire strings come from the protocol docs (docs/engine.io-protocol/v4-current.md and v3.md in the
socket.io monorepo), the official v4/v3 test suites, and reference/modern.md §1.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tornio.exceptions import InvalidPacket, InvalidPayload
from tornio.protocol.engineio import (
    ERROR_MESSAGES,
    SEPARATOR,
    BytesLike,
    ErrorCode,
    Packet,
    PacketType,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
    error_body,
    open_packet,
)

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = PacketType
HANDSHAKE = (
    '{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,'
    '"pingTimeout":20000,"maxPayload":1000000}'
)
BIN = b"\x01\x02\x03\x04"

# --- packets (websocket frames) ----------------------------------------------------------------

# (frame, packet): decode_packet(frame) == packet and encode_packet(packet) == frame, in v4 and v3.
TEXT_ROUND_TRIPS: list[tuple[str, Packet]] = [
    ("0" + HANDSHAKE, Packet(OPEN, HANDSHAKE)),
    ("1", Packet(CLOSE)),
    ("2", Packet(PING)),
    ("2probe", Packet(PING, "probe")),
    ("3", Packet(PONG)),
    ("3probe", Packet(PONG, "probe")),
    ("4hello", Packet(MESSAGE, "hello")),
    ("4HelloWorld", Packet(MESSAGE, "HelloWorld")),
    ("4", Packet(MESSAGE)),
    ('42["hello"]', Packet(MESSAGE, '2["hello"]')),
    ("40/admin,", Packet(MESSAGE, "0/admin,")),
    ("4€", Packet(MESSAGE, "€")),
    ("4\U0001f600\n\x00", Packet(MESSAGE, "\U0001f600\n\x00")),
    ("5", Packet(UPGRADE)),
    ("5hello world", Packet(UPGRADE, "hello world")),
    ("6", Packet(NOOP)),
]
BINARY_ROUND_TRIPS: list[tuple[int, bytes, Packet]] = [
    (4, BIN, Packet(MESSAGE, BIN)),  # v4: raw bytes, no type prefix
    (4, b"", Packet(MESSAGE, b"")),
    (4, b"\x04", Packet(MESSAGE, b"\x04")),
    (3, b"\x04" + BIN, Packet(MESSAGE, BIN)),  # v3: 0x04 type byte first
    (3, b"\x04\x00\x01\x02\x03\x04\x05", Packet(MESSAGE, b"\x00\x01\x02\x03\x04\x05")),
    (3, b"\x04", Packet(MESSAGE, b"")),
]


@pytest.mark.parametrize("version", [4, 3])
@pytest.mark.parametrize(
    ("frame", "packet"), TEXT_ROUND_TRIPS, ids=[repr(f) for f, _ in TEXT_ROUND_TRIPS]
)
def test_text_packet_round_trip(frame: str, packet: Packet, version: int) -> None:
    assert decode_packet(frame, version) == packet
    assert encode_packet(packet, version) == frame


@pytest.mark.parametrize(("version", "frame", "packet"), BINARY_ROUND_TRIPS)
def test_binary_packet_round_trip(version: int, frame: bytes, packet: Packet) -> None:
    decoded = decode_packet(frame, version)
    assert decoded == packet
    assert type(decoded.data) is bytes
    encoded = encode_packet(packet, version)
    assert encoded == frame
    assert type(encoded) is bytes


# (version, frame, packet): decoding only.
DECODE_ONLY: list[tuple[int, str | BytesLike, Packet]] = [
    (4, "bAQIDBA==", Packet(MESSAGE, BIN)),  # a text frame may carry base64 binary
    (4, "b", Packet(MESSAGE, b"")),
    (4, "bAA==", Packet(MESSAGE, b"\x00")),
    (3, "b4AQIDBA==", Packet(MESSAGE, BIN)),
    (3, "b4", Packet(MESSAGE, b"")),
    (4, bytearray(BIN), Packet(MESSAGE, BIN)),
    (4, memoryview(BIN), Packet(MESSAGE, BIN)),
    (3, bytearray(b"\x04\x01"), Packet(MESSAGE, b"\x01")),
    (4, "4", Packet(MESSAGE, None)),
]


@pytest.mark.parametrize(("version", "frame", "packet"), DECODE_ONLY)
def test_decode_packet_only(version: int, frame: str | BytesLike, packet: Packet) -> None:
    assert decode_packet(frame, version) == packet


def test_empty_message_encodes_like_no_data() -> None:
    assert encode_packet(Packet(MESSAGE, "")) == "4"
    assert decode_packet("4") == Packet(MESSAGE)


def test_bare_packets_are_shared() -> None:
    assert decode_packet("2") is decode_packet("2")


BAD_PACKETS: list[tuple[int, str | bytes]] = [
    (4, ""),
    (3, ""),
    (4, "7"),
    (4, "9hello"),
    (4, "a"),
    (4, "abc"),  # the v4 suite's "invalid packet format"
    (3, "abc"),
    (4, "-1"),
    (4, " 4hello"),
    (4, "\u0664hello"),  # ARABIC-INDIC DIGIT FOUR is not a type
    (4, "bAQ"),  # base64 without padding
    (4, "bAQIDBA"),
    (4, "bAQ==AQ=="),
    (4, "b!!!!"),
    (4, "bAQIDBA=A"),
    (4, "bAQ ID"),
    (4, "b4AQIDBA=="),  # v4 has no type after 'b'
    (4, "b\u00e9AAA"),
    (3, "b"),
    (3, "bAQIDBA=="),  # type 'A'
    (3, "b2AQID"),  # a base64 ping
    (3, "b4AQ"),
    (3, b""),
    (3, b"\x00"),
    (3, b"\x02probe"),
    (3, b"\x34hello"),  # ASCII '4' is not the type byte 4
]


@pytest.mark.parametrize(("version", "frame"), BAD_PACKETS, ids=[repr(f) for _, f in BAD_PACKETS])
def test_decode_bad_packet(version: int, frame: str | bytes) -> None:
    with pytest.raises(InvalidPacket):
        decode_packet(frame, version)


def test_encode_packet_rejects() -> None:
    with pytest.raises(ValueError, match="MESSAGE"):
        encode_packet(Packet(PING, b"probe"))
    with pytest.raises(ValueError, match="version"):
        encode_packet(Packet(MESSAGE, b"x"), 5)
    with pytest.raises(TypeError):
        encode_packet(Packet(MESSAGE, 12))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="version"):
        decode_packet(b"\x04", 2)
    with pytest.raises(TypeError):
        decode_packet(4)  # type: ignore[arg-type]


def test_packet_is_frozen_and_slotted() -> None:
    packet = Packet(MESSAGE, "x")
    with pytest.raises(AttributeError):
        packet.data = "y"  # type: ignore[misc]
    assert not hasattr(packet, "__dict__")


def test_packet_types() -> None:
    assert [(t.name, t.value) for t in PacketType] == [
        ("OPEN", 0),
        ("CLOSE", 1),
        ("PING", 2),
        ("PONG", 3),
        ("MESSAGE", 4),
        ("UPGRADE", 5),
        ("NOOP", 6),
    ]


# --- payloads (polling bodies) -----------------------------------------------------------------

# (body, packets): decode_payload(body, 4) == packets and encode_payload(packets, 4) == body.
V4_PAYLOADS: list[tuple[str, list[Packet]]] = [
    ("4hello\x1e2\x1e4world", [Packet(MESSAGE, "hello"), Packet(PING), Packet(MESSAGE, "world")]),
    ("4hello\x1ebAQIDBA==", [Packet(MESSAGE, "hello"), Packet(MESSAGE, BIN)]),
    ("4hello", [Packet(MESSAGE, "hello")]),
    ("4test1\x1e4test2\x1e4test3", [Packet(MESSAGE, f"test{i}") for i in (1, 2, 3)]),
    ("0" + HANDSHAKE, [Packet(OPEN, HANDSHAKE)]),
    ("40", [Packet(MESSAGE, "0")]),
    ('40{"sid":"wZX3oN0bSVIhsaknAAAI"}', [Packet(MESSAGE, '0{"sid":"wZX3oN0bSVIhsaknAAAI"}')]),
    ('42["hey","Jude"]', [Packet(MESSAGE, '2["hey","Jude"]')]),
    ('42["hello"]\x1e42["world"]', [Packet(MESSAGE, '2["hello"]'), Packet(MESSAGE, '2["world"]')]),
    ("2", [Packet(PING)]),
    ("3", [Packet(PONG)]),
    ("1", [Packet(CLOSE)]),
    ("6", [Packet(NOOP)]),
    ("b", [Packet(MESSAGE, b"")]),
    ("4\x1e4", [Packet(MESSAGE), Packet(MESSAGE)]),
    ("4€\x1e4\U0001f600", [Packet(MESSAGE, "€"), Packet(MESSAGE, "\U0001f600")]),
]


@pytest.mark.parametrize(("body", "packets"), V4_PAYLOADS, ids=[repr(b) for b, _ in V4_PAYLOADS])
def test_v4_payload_round_trip(body: str, packets: list[Packet]) -> None:
    assert decode_payload(body) == packets
    assert encode_payload(packets) == body
    assert encode_payload(packets, 4, b64=False) == body  # v4 always uses base64


ONE_SAMPLE_SESSION_OPEN = (
    '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,'
    '"pingTimeout":5000}'
)

# (body, packets) for v3 text payloads: lengths in UTF-16 code units.
V3_PAYLOADS: list[tuple[str, list[Packet]]] = [
    ("6:4hello", [Packet(MESSAGE, "hello")]),
    ("6:4test16:4test26:4test3", [Packet(MESSAGE, f"test{i}") for i in (1, 2, 3)]),
    ("6:4hello10:b4AQIDBA==", [Packet(MESSAGE, "hello"), Packet(MESSAGE, BIN)]),
    ("4:4hey", [Packet(MESSAGE, "hey")]),
    ("6:4hello6:4world", [Packet(MESSAGE, "hello"), Packet(MESSAGE, "world")]),
    ("6:4hello2:4€", [Packet(MESSAGE, "hello"), Packet(MESSAGE, "€")]),  # chars, not bytes
    ("2:4€10:b4AQIDBA==", [Packet(MESSAGE, "€"), Packet(MESSAGE, BIN)]),
    ("1:2", [Packet(PING)]),
    ("1:3", [Packet(PONG)]),
    ("1:1", [Packet(CLOSE)]),
    ("1:6", [Packet(NOOP)]),
    ("96:" + ONE_SAMPLE_SESSION_OPEN, [Packet(OPEN, ONE_SAMPLE_SESSION_OPEN[1:])]),
    (
        "96:" + ONE_SAMPLE_SESSION_OPEN + "2:40",
        [Packet(OPEN, ONE_SAMPLE_SESSION_OPEN[1:]), Packet(MESSAGE, "0")],
    ),
    ('16:42["hey","Jude"]', [Packet(MESSAGE, '2["hey","Jude"]')]),
    (
        '11:42["hello"]11:42["world"]',
        [Packet(MESSAGE, '2["hello"]'), Packet(MESSAGE, '2["world"]')],
    ),
    ("3:4\U0001f600", [Packet(MESSAGE, "\U0001f600")]),  # an emoji is two UTF-16 units
    ("5:4a\U0001f600b1:2", [Packet(MESSAGE, "a\U0001f600b"), Packet(PING)]),
    (
        "5:4\U0001f600\U0001f6003:4\u00e9:",
        [Packet(MESSAGE, "\U0001f600\U0001f600"), Packet(MESSAGE, "é:")],
    ),
    ("2:b4", [Packet(MESSAGE, b"")]),
    ("0:", []),  # what the reference writes for no packets
]


@pytest.mark.parametrize(("body", "packets"), V3_PAYLOADS, ids=[repr(b) for b, _ in V3_PAYLOADS])
def test_v3_text_payload_round_trip(body: str, packets: list[Packet]) -> None:
    assert decode_payload(body, 3) == packets
    assert encode_payload(packets, 3) == body
    assert encode_payload(packets, 3, b64=True) == body


# (body, packets) for the v3 XHR2 binary framing, used when the client did not ask for b64.
V3_BINARY_PAYLOADS: list[tuple[bytes, list[Packet]]] = [
    # the v3 suite: "plain text and binary packets (binary)"
    (
        bytes([0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4]),
        [Packet(MESSAGE, "hello"), Packet(MESSAGE, BIN)],
    ),
    # v3.md's "€" example; the text length is in bytes. (The doc writes the binary packet as
    # 01 04 ff 01 02 03 04, without the type byte that the reference encoder and the suite
    # put first: an erratum.)
    (
        bytes.fromhex("0004ff34e282ac0105ff0401020304"),
        [Packet(MESSAGE, "€"), Packet(MESSAGE, BIN)],
    ),
    (bytes([1, 1, 255, 4]), [Packet(MESSAGE, b"")]),
    (
        bytes([1, 1, 0, 0, 255, 4]) + bytes(range(99)),  # a length of 100: digits 1 0 0
        [Packet(MESSAGE, bytes(range(99)))],
    ),
    (bytes([0, 1, 255]) + b"2" + bytes([1, 2, 255, 4, 9]), [Packet(PING), Packet(MESSAGE, b"\t")]),
]


@pytest.mark.parametrize(("body", "packets"), V3_BINARY_PAYLOADS)
def test_v3_binary_payload_round_trip(body: bytes, packets: list[Packet]) -> None:
    assert decode_payload(body, 3, binary_body=True) == packets
    assert encode_payload(packets, 3, b64=False) == body


def test_v3_binary_framing_only_when_needed() -> None:
    packets = [Packet(MESSAGE, "hello"), Packet(PING)]
    assert encode_payload(packets, 3, b64=False) == "6:4hello1:2"


def test_payload_items_may_be_encoded_frames() -> None:
    frames: list[Packet | str | bytes] = ["4hello", BIN, "2"]
    assert encode_payload(frames) == "4hello\x1ebAQIDBA==\x1e2"
    assert encode_payload(frames, 3) == "6:4hello10:b4AQIDBA==1:2"
    assert encode_payload(frames, 3, b64=False) == (
        bytes([0, 6, 255]) + b"4hello" + bytes([1, 5, 255, 4]) + BIN + bytes([0, 1, 255]) + b"2"
    )
    assert encode_payload([bytearray(BIN), memoryview(BIN)]) == "bAQIDBA==\x1ebAQIDBA=="


def test_empty_payloads() -> None:
    assert encode_payload([]) == ""
    assert encode_payload([], 3) == "0:"
    assert encode_payload([], 3, b64=False) == "0:"


# (version, body, packets, binary_body): decoding only.
PAYLOAD_DECODE_ONLY: list[tuple[int, str | bytes, list[Packet], bool]] = [
    (3, "0:6:4hello0:", [Packet(MESSAGE, "hello")], False),  # empty records are skipped
    (4, b"4hello\x1e2", [Packet(MESSAGE, "hello"), Packet(PING)], False),  # bytes: UTF-8
    (4, "4h\xe9\x1e4\u2028", [Packet(MESSAGE, "h\xe9"), Packet(MESSAGE, "\u2028")], False),
    (3, b"6:4hello", [Packet(MESSAGE, "hello")], False),
    (3, bytes([1, 5, 255, 4]) + BIN, [Packet(MESSAGE, BIN)], True),
    (3, bytes([0, 1, 0, 255]) + b"b4AQIDBA==", [Packet(MESSAGE, BIN)], True),
]


@pytest.mark.parametrize(("version", "body", "packets", "binary_body"), PAYLOAD_DECODE_ONLY)
def test_decode_payload_only(
    version: int, body: str | bytes, packets: list[Packet], binary_body: bool
) -> None:
    assert decode_payload(body, version, binary_body=binary_body) == packets


BAD_PAYLOADS: list[tuple[int, str | bytes, bool]] = [
    (4, "", False),
    (4, b"", False),
    (4, "\x1e", False),
    (4, "4a\x1e", False),
    (4, "\x1e4a", False),
    (4, "4a\x1e\x1e4b", False),
    (4, "x", False),
    (4, "abc", False),
    (4, "4hello\x1eb!!", False),
    (4, "4hello\x1eb4AQIDBA==", False),
    (4, b"\xff4hello", False),
    (4, b"4hello", True),  # v4 has no binary bodies
    (3, "", False),
    (3, "abc", False),  # the v3 suite's "invalid packet format"
    (3, "6:4hell", False),
    (3, "6:4hello5", False),
    (3, "6:4hello5:", False),
    (3, ":4", False),
    (3, "a:4", False),
    (3, " 1:4", False),
    (3, "1 :4", False),
    (3, "+1:4", False),
    (3, "1:7", False),
    (3, "2:4a1:", False),
    (3, "1:b", False),
    (3, "3:b4A", False),
    (3, "10:bAQIDBA==", False),
    (3, "2:4\U0001f600", False),  # the length splits a surrogate pair
    (3, "1:\U0001f600", False),
    (3, "4:4\U0001f600", False),
    (3, "12345678901234567:4", False),  # 17 length digits
    (3, "99999999999999:4", False),
    (3, b"6:4hell\xff", False),
    (3, b"", True),
    (3, bytes([2, 1, 255]) + b"4", True),
    (3, bytes([0, 255]) + b"4", True),  # no length digits
    (3, bytes([0, 1]), True),  # no 0xff
    (3, bytes([0, 5, 255]) + b"4", True),  # runs past the end
    (3, bytes([0, 10, 255]) + b"4", True),  # 10 is not a digit
    (3, bytes([0, 1, 255]) + b"4" + bytes([9]), True),  # garbage after a record
    (3, bytes([0, *([1] * 17), 255]) + b"4", True),
    (3, bytes([1, 1, 255, 5]), True),  # a binary upgrade packet
    (3, bytes([1, 0, 255]), True),  # an empty binary record
    (3, bytes([0, 0, 255]), True),  # an empty text record
    (3, bytes([0, 2, 255, 255, 254]), True),  # not UTF-8
    (3, bytes([0, 1, 255]) + b"9", True),
]


@pytest.mark.parametrize(
    ("version", "body", "binary_body"), BAD_PAYLOADS, ids=[repr(b) for _, b, _ in BAD_PAYLOADS]
)
def test_decode_bad_payload(version: int, body: str | bytes, binary_body: bool) -> None:
    with pytest.raises(InvalidPayload):
        decode_payload(body, version, binary_body=binary_body)


def test_bad_packet_in_payload_is_chained() -> None:
    with pytest.raises(InvalidPayload, match="packet 1") as info:
        decode_payload("4ok\x1e9")
    assert isinstance(info.value.__cause__, InvalidPacket)


def test_payload_api_misuse() -> None:
    with pytest.raises(ValueError, match="version"):
        decode_payload("4a", 5)
    with pytest.raises(ValueError, match="version"):
        encode_payload([], 2)
    with pytest.raises(TypeError):
        decode_payload("1:4", 3, binary_body=True)
    with pytest.raises(TypeError):
        encode_payload([12])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="MESSAGE"):
        encode_payload([Packet(NOOP, b"x")], 3)


# --- handshake and errors ----------------------------------------------------------------------


def test_open_packet_exact() -> None:
    # reference/modern.md §1.3, docs/engine.io-protocol/v4-current.md
    assert open_packet("lv_VI97HAXpY6yYWAAAC", ["websocket"], 25000, 20000, 1000000) == (
        "0" + HANDSHAKE
    )
    # the suites' server: pingInterval 300, pingTimeout 200; a websocket session has no upgrades
    assert open_packet("AAAAAAAAAAAAAAAAAAAA", [], 300, 200, 1000000) == (
        '0{"sid":"AAAAAAAAAAAAAAAAAAAA","upgrades":[],"pingInterval":300,"pingTimeout":200,'
        '"maxPayload":1000000}'
    )
    assert open_packet("s", ("websocket", "webtransport"), 1, 2, 3) == (
        '0{"sid":"s","upgrades":["websocket","webtransport"],"pingInterval":1,"pingTimeout":2,'
        '"maxPayload":3}'
    )


def test_open_packet_decodes_as_open() -> None:
    frame = open_packet("lv_VI97HAXpY6yYWAAAC", ["websocket"], 25000, 20000, 1000000)
    assert decode_packet(frame) == Packet(OPEN, HANDSHAKE)


ERROR_BODIES = [
    (0, 400, '{"code":0,"message":"Transport unknown"}'),
    (1, 400, '{"code":1,"message":"Session ID unknown"}'),
    (2, 400, '{"code":2,"message":"Bad handshake method"}'),
    (3, 400, '{"code":3,"message":"Bad request"}'),
    (4, 403, '{"code":4,"message":"Forbidden"}'),
    (5, 400, '{"code":5,"message":"Unsupported protocol version"}'),
]


@pytest.mark.parametrize(("code", "status", "body"), ERROR_BODIES)
def test_error_body(code: int, status: int, body: str) -> None:
    assert error_body(code) == (status, body)
    assert error_body(ErrorCode(code)) == (status, body)


def test_error_constants() -> None:
    assert ErrorCode.UNKNOWN_SID == 1
    assert ErrorCode.FORBIDDEN == 4
    assert ERROR_MESSAGES[ErrorCode.UNSUPPORTED_PROTOCOL_VERSION] == "Unsupported protocol version"
    assert sorted(ERROR_MESSAGES) == list(range(6))
    assert SEPARATOR == "\x1e"


def test_error_body_custom_message_and_unknown_code() -> None:
    assert error_body(4, "Nope, café") == (403, '{"code":4,"message":"Nope, café"}')
    with pytest.raises(ValueError, match="error code"):
        error_body(6)


# --- properties --------------------------------------------------------------------------------

text_data = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
# Data of text packets in a v4 payload: \x1e is assumed absent (modern.md §1.4).
v4_text_data = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x1e"), max_size=30
)
emoji_text = st.text(
    st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from(["\U0001f600", "\U0001f4a9", "€", ":", "0", "9", "b"]),
    ),
    max_size=20,
)


def _packets(data: st.SearchStrategy[str]) -> st.SearchStrategy[Packet]:
    text_packets = st.builds(Packet, st.sampled_from(PacketType), st.none() | data.filter(bool))
    binary_packets = st.builds(Packet, st.just(MESSAGE), st.binary(max_size=30))
    return text_packets | binary_packets


@settings(max_examples=150, deadline=None)
@given(_packets(text_data), st.sampled_from([3, 4]))
def test_property_packet_round_trip(packet: Packet, version: int) -> None:
    frame = encode_packet(packet, version)
    assert decode_packet(frame, version) == packet


@settings(max_examples=100, deadline=None)
@given(st.lists(_packets(v4_text_data), min_size=1, max_size=6))
def test_property_v4_payload_round_trip(packets: list[Packet]) -> None:
    body = encode_payload(packets)
    assert isinstance(body, str)
    assert decode_payload(body) == packets


@settings(max_examples=100, deadline=None)
@given(st.lists(_packets(emoji_text), max_size=6))
def test_property_v3_payload_round_trip(packets: list[Packet]) -> None:
    body = encode_payload(packets, 3)
    assert isinstance(body, str)
    assert decode_payload(body, 3) == packets
    binary = encode_payload(packets, 3, b64=False)
    if any(isinstance(p.data, bytes) for p in packets):
        assert isinstance(binary, bytes)
        assert decode_payload(binary, 3, binary_body=True) == packets
    else:
        assert binary == body


@settings(max_examples=60, deadline=None)
@given(st.lists(emoji_text.map(lambda s: "4" + s), min_size=1, max_size=5))
def test_property_v3_lengths_count_utf16_units(frames: list[str]) -> None:
    body = encode_payload(frames, 3)
    assert isinstance(body, str)
    expected = "".join(f"{len(f.encode('utf-16-le')) // 2}:{f}" for f in frames)
    assert body == expected
    assert [encode_packet(p) for p in decode_payload(body, 3)] == frames


# --- fuzz: garbage in, documented exceptions out -----------------------------------------------

fuzz_text = st.builds(
    str.__add__,
    st.sampled_from(["", "0", "4", "b", "b4", "7", "1:", "6:4hello", "10:b4", "4a\x1e", "0:"]),
    st.text(
        st.one_of(
            st.characters(),
            st.sampled_from(["\x1e", ":", "b", "4", "=", "A", "\U0001f600", "1", "0"]),
        ),
        max_size=30,
    ),
)
fuzz_bytes = st.builds(
    bytes.__add__,
    st.sampled_from([b"", b"\x00", b"\x01", b"\x04", b"\x00\x01\xff", b"\x01\x02\xff\x04"]),
    st.binary(max_size=30),
)


@settings(max_examples=150, deadline=None)
@given(fuzz_text | fuzz_bytes, st.sampled_from([3, 4]))
def test_fuzz_decode_packet(frame: str | bytes, version: int) -> None:
    try:
        packet = decode_packet(frame, version)
    except InvalidPacket:
        return
    assert isinstance(packet.type, PacketType)
    assert packet.data is None or isinstance(packet.data, (str, bytes))


@settings(max_examples=150, deadline=None)
@given(fuzz_text | fuzz_bytes, st.sampled_from([3, 4]), st.booleans())
def test_fuzz_decode_payload(body: str | bytes, version: int, binary_body: bool) -> None:
    if binary_body and isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    try:
        packets = decode_payload(body, version, binary_body=binary_body)
    except InvalidPayload:
        return
    assert all(isinstance(p, Packet) for p in packets)
