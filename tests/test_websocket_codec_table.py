"""RFC 6455 framing (tornio.protocol.websocket) as tables of exact answers: every refusal with
its close code *and* its reason, the close codes at each edge of what is allowed, the length
forms of every frame a server builds at each bound, and what the decoder keeps between
feeds. ``tests/test_protocol_websocket.py`` has the RFC's examples and the properties."""

from __future__ import annotations

import struct

import pytest

from tests.support.raw_websocket import client_frame
from tornio.exceptions import WebSocketError
from tornio.protocol import websocket as ws
from tornio.protocol.websocket import FrameDecoder

MASK = bytes((0x37, 0xFA, 0x21, 0x3D))


def frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    return client_frame(opcode, payload, fin=fin, mask=MASK, rsv=rsv)


def close(code: int, reason: bytes = b"") -> bytes:
    return frame(ws.CLOSE, struct.pack("!H", code) + reason)


REFUSALS = [
    (b"\x81\x05Hello", 1002, "client frames must be masked"),
    (frame(ws.TEXT, b"x", rsv=0x40), 1002, "reserved bits set without an extension"),
    (frame(ws.TEXT, b"x", rsv=0x20), 1002, "reserved bits set without an extension"),
    (frame(ws.TEXT, b"x", rsv=0x10), 1002, "reserved bits set without an extension"),
    (frame(0x3, b"x"), 1002, "unknown opcode 0x3"),
    (frame(0x7, b"x"), 1002, "unknown opcode 0x7"),
    (frame(0xB, b"x"), 1002, "unknown opcode 0xb"),
    (frame(0xF, b"x"), 1002, "unknown opcode 0xf"),
    (frame(ws.PING, b"x" * 126), 1002, "control frames are short and whole"),
    (frame(ws.PONG, b"x", fin=False), 1002, "control frames are short and whole"),
    (frame(ws.CLOSE, b"", fin=False), 1002, "control frames are short and whole"),
    (frame(0, b"x"), 1002, "continuation without a message to continue"),
    (frame(ws.TEXT, b"a", fin=False) + frame(ws.BINARY, b"b"), 1002,
     "a new message inside a fragmented one"),
    (frame(ws.TEXT, b"\xff"), 1007, "text message is not UTF-8"),
    (frame(ws.BINARY, b"x" * 101), 1009, "message larger than 100 bytes"),
    (frame(ws.BINARY, b"x" * 50, fin=False) + frame(0, b"x" * 51), 1009,
     "message larger than 100 bytes"),
    (frame(ws.CLOSE, b"\x03"), 1002, "a close payload of one byte"),
    (close(1005), 1002, "close code 1005 is not allowed"),
    (close(1000, b"\xc3"), 1007, "close reason is not UTF-8"),
]


@pytest.mark.parametrize(("data", "code", "reason"), REFUSALS)
def test_each_refusal_names_its_code_and_reason(data: bytes, code: int, reason: str) -> None:
    with pytest.raises(WebSocketError) as refused:
        FrameDecoder(100).feed(data)
    assert (refused.value.code, str(refused.value)) == (code, reason)


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
)
def test_allowed_close_codes(code: int) -> None:
    data = struct.pack("!H", code) + b"why"
    assert FrameDecoder(100).feed(frame(ws.CLOSE, data)) == [(ws.CLOSE, data)]
    assert ws.parse_close(data) == (code, "why")


@pytest.mark.parametrize(
    "code", [0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 2999, 5000, 65535]
)
def test_refused_close_codes(code: int) -> None:
    with pytest.raises(WebSocketError) as refused:
        FrameDecoder(100).feed(close(code))
    assert (refused.value.code, str(refused.value)) == (1002, f"close code {code} is not allowed")


def test_close_codes_are_unsigned_16_bit() -> None:
    assert ws.close_frame(65535) == b"\x88\x02\xff\xff"
    assert ws.close_frame(32768, "x") == b"\x88\x03\x80\x00x"
    assert ws.parse_close(b"\xff\xffwhy") == (65535, "why")
    assert ws.parse_close(b"\x80\x00") == (32768, "")


def test_close_frames_built() -> None:
    assert ws.close_frame() == b"\x88\x02\x03\xe8"
    assert ws.close_frame(1001, "bye") == b"\x88\x05\x03\xe9bye"
    # The reason is cut to 123 bytes: a control frame carries at most 125.
    assert ws.close_frame(4000, "r" * 200) == b"\x88\x7d\x0f\xa0" + b"r" * 123
    assert ws.close_frame(4000, "r" * 123) == b"\x88\x7d\x0f\xa0" + b"r" * 123
    assert ws.close_frame(4000, "r" * 122) == b"\x88\x7c\x0f\xa0" + b"r" * 122


@pytest.mark.parametrize(
    ("length", "head"),
    [
        (0, b"\xc1\x00"),
        (125, b"\xc1\x7d"),
        (126, b"\xc1\x7e\x00\x7e"),
        (65535, b"\xc1\x7e\xff\xff"),
        (65536, b"\xc1\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_compressed_frames_at_each_length_form(length: int, head: bytes) -> None:
    payload = b"c" * length
    assert ws.compressed_frame(payload, ws.TEXT) == head + payload
    assert ws.compressed_frame(payload, ws.BINARY)[0] == 0xC2


@pytest.mark.parametrize(
    ("length", "head"),
    [
        (65535, b"\x82\x7e\xff\xff"),
        (65536, b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_server_frames_at_the_medium_bound(length: int, head: bytes) -> None:
    assert ws.encode_frame(b"b" * length) == head + b"b" * length


class Text(str):
    """A str subclass: framed as text, the same bytes, without the shortcut."""


@pytest.mark.parametrize(
    ("length", "head"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_text_frames_at_each_length_bound(length: int, head: bytes) -> None:
    payload = b"t" * length
    assert ws.encode_frame("t" * length) == head + payload
    assert ws.encode_frame(Text("t" * length)) == head + payload
    assert ws.encode_frame("t" * length, ws.BINARY) == bytes((0x82,)) + head[1:] + payload
    assert ws.encode_frame(b"t" * length) == bytes((0x82,)) + head[1:] + payload


def test_a_multibyte_text_is_framed_by_its_utf8_length() -> None:
    text = "é" * 63  # 126 bytes in UTF-8
    assert ws.encode_frame(text) == b"\x81\x7e\x00\x7e" + text.encode()
    assert ws.encode_frame(Text(text)) == b"\x81\x7e\x00\x7e" + text.encode()


def test_the_last_text_framed_is_reused_for_that_object_only() -> None:
    first, second = "".join(["a", "b"]), "".join(["a", "c"])
    frame = ws.encode_frame(first)
    assert ws.encode_frame(first) is frame
    assert ws.encode_frame(second) == b"\x81\x02ac"
    assert ws.encode_frame("".join(["a", "b"])) == frame


def test_an_opcode_given_is_used_and_never_cached() -> None:
    text = "".join(["p", "ing"])
    assert ws.encode_frame(text, ws.PING) == b"\x89\x04ping"
    assert ws.encode_frame(text) == b"\x81\x04ping"
    assert ws.encode_frame(text, ws.PONG) == b"\x8a\x04ping"
    assert ws.encode_frame(text) == b"\x81\x04ping"
    assert ws.encode_frame(b"ping", ws.TEXT) == b"\x81\x04ping"
    assert ws.encode_frame(b"ab") == b"\x82\x02ab"
    assert ws.encode_frame(b"ab", ws.PONG) == b"\x8a\x02ab"


def test_unmask_of_nothing() -> None:
    assert ws.unmask(b"", MASK) == b""


def test_a_header_kept_across_feeds_at_every_length_form() -> None:
    for payload in (b"s" * 5, b"m" * 300, b"b" * 70_000):
        data = frame(ws.BINARY, payload)
        decoder = FrameDecoder(1 << 20)
        head = {5: 6, 300: 8, 70_000: 14}[len(payload)]
        # Every cut inside the header, then the rest.
        for cut in range(1, head + 1):
            decoder = FrameDecoder(1 << 20)
            assert decoder.feed(data[:cut]) == []
            assert decoder.feed(data[cut:]) == [(ws.BINARY, payload)]
        # The rest one byte short, then its last byte.
        decoder = FrameDecoder(1 << 20)
        assert decoder.feed(data[:-1]) == []
        assert decoder.feed(data[-1:]) == [(ws.BINARY, payload)]


@pytest.mark.parametrize("size", [3, 300, 70_000])
def test_a_frame_cut_in_its_header_behind_another(size: int) -> None:
    first, second = frame(ws.TEXT, b"one"), frame(ws.BINARY, b"t" * size)
    for cut in range(1, min(15, len(second))):
        decoder = FrameDecoder(1 << 20)
        assert decoder.feed(first + second[:cut]) == [(ws.TEXT, "one")]
        assert decoder.feed(second[cut:]) == [(ws.BINARY, b"t" * size)]


@pytest.mark.parametrize(
    "header",
    [
        struct.pack("!BBH", 0x82, 0x80 | 126, 101) + MASK,
        struct.pack("!BBQ", 0x82, 0x80 | 127, 101) + MASK,
        struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 56) + MASK,
        struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 63) + MASK,
    ],
)
def test_too_big_is_refused_from_the_header_alone_behind_another(header: bytes) -> None:
    for before in (b"", frame(ws.TEXT, b"one")):
        with pytest.raises(WebSocketError) as refused:
            FrameDecoder(100).feed(before + header)  # the header, no payload yet
        assert (refused.value.code, str(refused.value)) == (1009, "message larger than 100 bytes")


def test_a_length_is_read_only_once_all_its_bytes_are_there() -> None:
    """A big length cut after its first byte (0x80...: 2^63) is not read as 128 bytes."""
    header = struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 63) + MASK
    for cut in range(1, len(header)):
        decoder = FrameDecoder(100)
        assert decoder.feed(frame(ws.TEXT, b"one") + header[:cut]) == [(ws.TEXT, "one")]
        with pytest.raises(WebSocketError) as refused:
            decoder.feed(header[cut:])
        assert refused.value.code == 1009


def test_a_control_frame_of_125_bytes_is_allowed() -> None:
    assert FrameDecoder(100).feed(frame(ws.PING, b"p" * 125)) == [(ws.PING, b"p" * 125)]


@pytest.mark.parametrize("pieces", [[b"\x81\x05"], [b"\x81", b"\x05"], [b"\x81\x05\x00"]])
def test_an_unmasked_frame_is_refused_from_its_first_two_bytes(pieces: list[bytes]) -> None:
    decoder = FrameDecoder(100)
    for piece in pieces[:-1]:
        assert decoder.feed(piece) == []
    with pytest.raises(WebSocketError) as refused:
        decoder.feed(pieces[-1])
    assert str(refused.value) == "client frames must be masked"


def test_fragments_up_to_exactly_max_size() -> None:
    data = frame(ws.BINARY, b"a" * 40, fin=False) + frame(0, b"b" * 60)
    assert FrameDecoder(100).feed(data) == [(ws.BINARY, b"a" * 40 + b"b" * 60)]
    decoder = FrameDecoder(100)
    assert decoder.feed(frame(ws.TEXT, b"a" * 100, fin=False)) == []
    assert decoder.feed(frame(0, b"")) == [(ws.TEXT, "a" * 100)]
    # Every fragment counts towards the limit.
    three = frame(ws.BINARY, b"a" * 40, fin=False) + frame(0, b"b" * 40, fin=False)
    with pytest.raises(WebSocketError) as refused:
        FrameDecoder(100).feed(three + frame(0, b"c" * 21))
    assert (refused.value.code, str(refused.value)) == (1009, "message larger than 100 bytes")
    assert FrameDecoder(100).feed(three + frame(0, b"c" * 20)) == [
        (ws.BINARY, b"a" * 40 + b"b" * 40 + b"c" * 20)
    ]
    # The next message starts from nothing.
    assert decoder.feed(frame(ws.BINARY, b"c" * 100)) == [(ws.BINARY, b"c" * 100)]


def test_deflated_messages_come_compressed_and_flagged() -> None:
    decoder = FrameDecoder(100, compressed=True)
    assert ws.DEFLATED == 0x40
    assert decoder.feed(frame(ws.BINARY, b"\x01", rsv=0x40)) == [(ws.BINARY | 0x40, b"\x01")]
    assert decoder.feed(frame(ws.TEXT, b"\xff", rsv=0x40)) == [(ws.TEXT | 0x40, b"\xff")]
    # A fragmented deflated message, then a plain one: the flag does not carry over.
    assert decoder.feed(
        frame(ws.BINARY, b"a", fin=False, rsv=0x40) + frame(0, b"b") + frame(ws.TEXT, b"c")
    ) == [(ws.BINARY | 0x40, b"ab"), (ws.TEXT, "c")]
    with pytest.raises(WebSocketError) as refused:
        FrameDecoder(100, compressed=True).feed(frame(ws.CLOSE, b"", rsv=0x40))
    assert (refused.value.code, str(refused.value)) == (
        1002, "RSV1 on a control or continuation frame",
    )
    with pytest.raises(WebSocketError) as both:
        FrameDecoder(100, compressed=True).feed(frame(ws.TEXT, b"x", rsv=0x60))
    assert str(both.value) == "reserved bits set without an extension"
    plain = FrameDecoder(100)
    assert plain.compressed is False and plain.max_size == 100
