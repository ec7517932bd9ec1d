"""The hixie-76 codec without a network: the draft's own handshake example, keys as clients make
them, and the frame parser fed in every possible slicing."""

from __future__ import annotations

import hashlib
import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tornio.protocol import hixie76
from tornio.protocol.hixie76 import FrameError, FrameParser, HandshakeError


def test_the_drafts_handshake_example() -> None:
    # draft-hixie-thewebsocketprotocol-76, section 1.3 (and 5.2).
    key1 = "4 @1  46546xW%0l 1 5"
    key2 = "12998 5 Y3 1  .P00"
    assert hixie76.key_number(key1) == 829309203
    assert hixie76.key_number(key2) == 259970620
    assert hixie76.challenge_response(key1, key2, b"^n:ds[4U") == b"8jKS'y:G*Co,Wxa-"


@pytest.mark.parametrize(
    "key",
    ["123456", "   ", "1 2 3", str(2**33 * 2) + " x "],
    ids=["no spaces", "no digits", "not a multiple", "over 32 bits"],
)
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(HandshakeError):
        hixie76.key_number(key)


def test_key3_must_be_8_bytes() -> None:
    with pytest.raises(HandshakeError):
        hixie76.challenge_response("1 ", "1 ", b"short")


def test_keys_made_as_a_client_does_round_trip() -> None:
    rng = random.Random(76)
    for _ in range(2000):
        key, number = hixie76.make_key(rng)
        assert not key.startswith(" ") and not key.endswith(" ")
        assert hixie76.key_number(key) == number
        key3 = rng.randbytes(8)
        expected = hashlib.md5(struct.pack(">II", number, number) + key3).digest()
        assert hixie76.challenge_response(key, key, key3) == expected


def test_handshake_response_head() -> None:
    head = hixie76.handshake_response("http://a.example", "ws://h:1/socket.io/1/flashsocket/x")
    assert head == (
        b"HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Origin: http://a.example\r\n"
        b"Sec-WebSocket-Location: ws://h:1/socket.io/1/flashsocket/x\r\n\r\n"
    )
    with_protocol = hixie76.handshake_response("o", "ws://h/", "chat")
    assert with_protocol.endswith(b"Sec-WebSocket-Protocol: chat\r\n\r\n")
    with pytest.raises(HandshakeError):
        hixie76.handshake_response("o\r\nX-Evil: 1", "ws://h/")


def test_frames() -> None:
    assert hixie76.encode_frame("1::") == b"\x001::\xff"
    assert hixie76.encode_frame("\u00e9\U0001f600") == b"\x00\xc3\xa9\xf0\x9f\x98\x80\xff"
    assert hixie76.encode_frame("\ud800") == b"\x00?\xff"
    assert hixie76.CLOSE_FRAME == b"\xff\x00"


def test_parser_splits_messages_and_stops_at_close() -> None:
    parser = FrameParser()
    assert parser.feed(b"\x00one\xff\x00\xff\x00tw") == ["one", ""]
    assert parser.feed(b"o\xff") == ["two"]
    assert not parser.closed
    assert parser.feed(b"\xff\x00") == []
    assert parser.closed
    with pytest.raises(FrameError):
        parser.feed(b"\x00more\xff")


def test_parser_discards_reserved_frame_types() -> None:
    parser = FrameParser()
    # A text frame of type 0x05 and a length-prefixed frame (type 0x80, length 130 as 0x81
    # 0x02), both discarded; the text frames around them arrive.
    data = b"\x00a\xff\x05junk\xff\x80\x81\x02" + b"z" * 130 + b"\x00b\xff"
    assert parser.feed(data) == ["a", "b"]
    assert parser.feed(b"\x80\x00\x00c\xff") == ["c"]  # an empty length-prefixed frame


def test_parser_limits_frame_size() -> None:
    parser = FrameParser(max_size=10)
    assert parser.feed(b"\x00" + b"x" * 10 + b"\xff") == ["x" * 10]
    with pytest.raises(FrameError):
        parser.feed(b"\x00" + b"x" * 6)
        parser.feed(b"x" * 6)
    with pytest.raises(FrameError):
        FrameParser(max_size=10).feed(b"\x80\x8f\x7f")


def test_parser_rejects_bad_utf8_and_data_after_close() -> None:
    with pytest.raises(FrameError):
        FrameParser().feed(b"\x00\xc3\x28\xff")
    with pytest.raises(FrameError):
        FrameParser().feed(b"\xff\x00\x00x\xff")


messages = st.lists(st.text(max_size=20), max_size=8)


@given(messages, st.lists(st.integers(min_value=0, max_value=200), max_size=10))
def test_any_slicing_gives_the_same_messages(texts: list[str], cuts: list[int]) -> None:
    texts = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
    data = b"".join(hixie76.encode_frame(t) for t in texts) + hixie76.CLOSE_FRAME
    points = sorted({min(c, len(data)) for c in cuts})
    parser = FrameParser()
    got: list[str] = []
    start = 0
    for point in [*points, len(data)]:
        got += parser.feed(data[start:point])
        start = point
    assert got == texts
    assert parser.closed


def reference(data: bytes, max_size: int) -> tuple[list[str], str]:
    """The draft's framing read the plain way, all at once: the text messages, and whether
    the stream is then ``open``, ``closed`` (the closing frame, nothing after it), or an
    ``error`` (a frame over ``max_size`` bytes, a text frame that is not UTF-8, anything
    after the closing frame)."""
    messages: list[str] = []
    i = 0
    while i < len(data):
        kind = data[i]
        i += 1
        if kind & 0x80:  # a length, 7 bits a byte, then that many bytes (discarded)
            length = 0
            while True:
                if i == len(data):
                    return messages, "open"
                byte = data[i]
                i += 1
                length = length * 128 + (byte & 0x7F)
                if length > max_size:
                    return messages, "error"
                if not byte & 0x80:
                    break
            if kind == 0xFF and length == 0:
                return messages, "closed" if i == len(data) else "error"
            i += length
        else:  # bytes up to 0xFF: text when the type is 0, discarded otherwise
            end = data.find(b"\xff", i)
            body = data[i:] if end < 0 else data[i:end]
            if len(body) > max_size:
                return messages, "error"
            if end < 0:
                return messages, "open"
            if kind == 0:
                try:
                    messages.append(body.decode("utf-8"))
                except UnicodeDecodeError:
                    return messages, "error"
            i = end + 1
    return messages, "open"


def parse(data: bytes, max_size: int, step: int) -> tuple[list[str], str]:
    """The parser fed ``step`` bytes at a time: what it returned, and how it ended."""
    parser = FrameParser(max_size=max_size)
    got: list[str] = []
    try:
        for i in range(0, len(data), step):
            got += parser.feed(data[i : i + step])
    except FrameError:
        return got, "error"
    return got, "closed" if parser.closed else "open"


def length_prefixed(body: bytes) -> bytes:
    groups = [len(body) & 0x7F]
    rest = len(body) >> 7
    while rest:
        groups.append(0x80 | (rest & 0x7F))
        rest >>= 7
    return b"\x80" + bytes(reversed(groups)) + body


frame_pieces = st.one_of(
    st.text(max_size=20).map(lambda t: hixie76.encode_frame(t)),
    st.binary(max_size=120).map(lambda b: b"\x00" + b.replace(b"\xff", b"") + b"\xff"),
    st.binary(max_size=120).map(length_prefixed),
    st.just(hixie76.CLOSE_FRAME),
    st.binary(max_size=4),
)
framed = st.lists(frame_pieces, max_size=6).map(b"".join)


@given(st.binary(max_size=300) | framed)
def test_any_bytes_parse_as_the_reference_reads_them(data: bytes) -> None:
    """Byte by byte, the parser returns exactly the reference's messages and ends as it does
    (open, closed, or FrameError); fed at once or in slices, it ends the same way, with the
    same messages unless it ended in an error (a failing ``feed`` returns nothing)."""
    expected = reference(data, 100)
    assert parse(data, 100, 1) == expected
    for step in (7, max(len(data), 1)):
        messages, outcome = parse(data, 100, step)
        assert outcome == expected[1]
        if outcome != "error":
            assert messages == expected[0]
