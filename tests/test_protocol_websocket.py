"""RFC 6455 framing (tornio.protocol.websocket): the RFC's own examples (§5.7, §1.3), every
violation a server must refuse with its close code, and properties over arbitrary splits."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.raw_websocket import client_frame
from tornio.exceptions import WebSocketError
from tornio.protocol import websocket as ws
from tornio.protocol.websocket import FrameDecoder

MASK = bytes((0x37, 0xFA, 0x21, 0x3D))  # the RFC's example key


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes = MASK, rsv: int = 0) -> bytes:
    return client_frame(opcode, payload, fin=fin, mask=mask, rsv=rsv)


def decode(data: bytes, max_size: int = 1 << 20) -> list[tuple[int, str | bytes]]:
    return FrameDecoder(max_size).feed(data)


# -- the RFC's examples -------------------------------------------------------------------------


def test_rfc_masked_hello() -> None:
    data = bytes.fromhex("818537fa213d7f9f4d5158")
    assert decode(data) == [(ws.TEXT, "Hello")]


def test_rfc_fragmented_hello() -> None:
    data = frame(ws.TEXT, b"Hel", fin=False) + frame(0, b"lo")
    assert decode(data) == [(ws.TEXT, "Hello")]


def test_rfc_masked_pong_and_ping() -> None:
    assert decode(frame(ws.PING, b"Hello")) == [(ws.PING, b"Hello")]
    assert decode(bytes.fromhex("8a8537fa213d7f9f4d5158")) == [(ws.PONG, b"Hello")]


@pytest.mark.parametrize(
    ("payload", "head"),
    [
        (b"Hello", b"\x81\x05"),
        ("x" * 125, b"\x81\x7d"),
        ("x" * 126, b"\x81\x7e\x00\x7e"),
        (b"\x00" * 256, b"\x82\x7e\x01\x00"),
        (b"\x00" * 65536, b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_server_frames_are_unmasked_with_the_rfc_length_forms(
    payload: str | bytes, head: bytes
) -> None:
    data = payload if isinstance(payload, bytes) else payload.encode()
    if payload == b"Hello":
        payload = "Hello"
    assert ws.encode_frame(payload) == head + data


def test_a_broadcast_string_is_framed_once() -> None:
    text = "".join(["42", '["news",1]'])
    assert ws.encode_frame(text) is ws.encode_frame(text)
    assert ws.encode_frame(text) == b"\x81\x0c" + text.encode()


def test_close_frames() -> None:
    assert ws.close_frame(1000) == b"\x88\x02\x03\xe8"
    assert ws.close_frame(1009, "too big") == b"\x88\x09\x03\xf1too big"
    assert ws.close_frame(None) == b"\x88\x00"
    assert ws.parse_close(b"\x03\xe8bye") == (1000, "bye")
    assert ws.parse_close(b"") == (None, "")


def test_accept_key_of_the_rfc_example() -> None:
    assert ws.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_unicode_and_binary_messages() -> None:
    data = frame(ws.TEXT, "héllo 😀".encode()) + frame(ws.BINARY, b"\x00\xff\x80")
    assert decode(data) == [(ws.TEXT, "héllo 😀"), (ws.BINARY, b"\x00\xff\x80")]


def test_control_frames_between_fragments() -> None:
    data = (
        frame(ws.BINARY, b"ab", fin=False)
        + frame(ws.PING, b"p")
        + frame(0, b"cd", fin=False)
        + frame(0, b"ef")
    )
    assert decode(data) == [(ws.PING, b"p"), (ws.BINARY, b"abcdef")]


def test_the_size_limit_allows_exactly_max_size() -> None:
    assert decode(frame(ws.BINARY, b"x" * 100), max_size=100) == [(ws.BINARY, b"x" * 100)]


def test_extended_lengths_decode() -> None:
    medium, big = b"m" * 300, b"b" * 70_000
    assert decode(frame(ws.BINARY, medium) + frame(ws.BINARY, big)) == [
        (ws.BINARY, medium),
        (ws.BINARY, big),
    ]


# -- violations and their close codes -----------------------------------------------------------

VIOLATIONS = [
    ("unmasked", b"\x81\x05Hello", 1002),
    ("reserved bit", frame(ws.TEXT, b"x", rsv=0x40), 1002),
    ("unknown data opcode", frame(0x3, b"x"), 1002),
    ("unknown control opcode", frame(0xB, b"x"), 1002),
    ("long control frame", frame(ws.PING, b"x" * 126), 1002),
    ("fragmented control frame", frame(ws.PING, b"x", fin=False), 1002),
    ("continuation first", frame(0, b"x"), 1002),
    ("message inside a message", frame(ws.TEXT, b"a", fin=False) + frame(ws.TEXT, b"b"), 1002),
    ("invalid UTF-8", frame(ws.TEXT, b"\xff\xfe"), 1007),
    ("UTF-8 cut between fragments", frame(ws.TEXT, b"\xc3", fin=False) + frame(0, b"x"), 1007),
    ("too big", frame(ws.BINARY, b"x" * 101), 1009),
    ("too big in fragments", frame(ws.BINARY, b"x" * 60, fin=False) + frame(0, b"x" * 41), 1009),
    ("one-byte close", frame(ws.CLOSE, b"\x03"), 1002),
    ("reserved close code", frame(ws.CLOSE, struct.pack("!H", 1005)), 1002),
    ("close code below 1000", frame(ws.CLOSE, struct.pack("!H", 999)), 1002),
    ("close reason not UTF-8", frame(ws.CLOSE, b"\x03\xe8\xff"), 1007),
]


@pytest.mark.parametrize(("case", "data", "code"), VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
def test_violations_name_their_close_code(case: str, data: bytes, code: int) -> None:
    with pytest.raises(WebSocketError) as raised:
        decode(data, max_size=100)
    assert raised.value.code == code


def test_too_big_is_refused_from_the_header_alone() -> None:
    """A 2 GB length is refused as soon as the header arrives, before any payload."""
    header = struct.pack("!BBQ", 0x82, 0x80 | 127, 2**31) + MASK
    with pytest.raises(WebSocketError) as raised:
        decode(header, max_size=1000)
    assert raised.value.code == 1009


def test_valid_close_frames_pass() -> None:
    assert decode(frame(ws.CLOSE, b"")) == [(ws.CLOSE, b"")]
    assert decode(frame(ws.CLOSE, b"\x0b\xb8app")) == [(ws.CLOSE, b"\x0b\xb8app")]


# -- properties ---------------------------------------------------------------------------------

messages = st.lists(
    st.one_of(st.text(max_size=300), st.binary(max_size=300)), min_size=1, max_size=8
)


@given(
    messages,
    st.lists(st.integers(min_value=0, max_value=5000), max_size=10),
    st.binary(min_size=4, max_size=4),
)
def test_any_split_of_the_stream_decodes_the_same_messages(
    sent: list[str | bytes], cuts: list[int], mask: bytes
) -> None:
    stream = b"".join(
        frame(ws.TEXT, m.encode(), mask=mask)
        if isinstance(m, str)
        else frame(ws.BINARY, m, mask=mask)
        for m in sent
    )
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    decoder = FrameDecoder(1 << 20)
    got: list[str | bytes] = []
    for start, stop in itertools.pairwise(points):
        got.extend(payload for _opcode, payload in decoder.feed(stream[start:stop]))
    assert got == sent


@given(st.binary(max_size=2000), st.binary(min_size=4, max_size=4))
def test_unmask_is_its_own_inverse_and_matches_the_definition(data: bytes, mask: bytes) -> None:
    masked = ws.unmask(data, mask)
    assert masked == bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    assert ws.unmask(masked, mask) == data


def test_a_stream_byte_by_byte() -> None:
    stream = frame(ws.TEXT, b"a" * 200) + frame(ws.PING, b"") + frame(ws.BINARY, b"z" * 70_000)
    decoder = FrameDecoder(1 << 20)
    events = []
    for i in range(len(stream)):
        events.extend(decoder.feed(stream[i : i + 1]))
    assert events == [(ws.TEXT, "a" * 200), (ws.PING, b""), (ws.BINARY, b"z" * 70_000)]
