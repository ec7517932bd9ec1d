"""What the Engine.IO codec (``tornio.protocol.engineio``) says of bad input, exactly: every
refusal's message (it reaches the log and the client's 400 answer), with excerpts cut at their
bound, positions counted in UTF-16 units and bytes; and a few exact encodings at the edges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tornio.protocol import engineio as eio
from tornio.protocol.engineio import InvalidPacket, InvalidPayload, Packet, PacketType

M = PacketType.MESSAGE
UTF8_FF = "'utf-8' codec can't decode byte 0xff in position"


def bad(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    return lambda: fn(*args, **kwargs)


# (call, exception type, exact message)
ERRORS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("empty", bad(eio.decode_packet, ""), InvalidPacket, "empty packet"),
    ("type", bad(eio.decode_packet, "9hello"), InvalidPacket, "unknown packet type '9hello'"),
    ("type cut at 40", bad(eio.decode_packet, "x" * 41), InvalidPacket,
     f"unknown packet type {'x' * 40!r}..."),
    ("type at 40", bad(eio.decode_packet, "x" * 40), InvalidPacket,
     f"unknown packet type {'x' * 40!r}"),
    ("base64", bad(eio.decode_packet, "b4!!!!"), InvalidPacket, "invalid base64 data '4!!!!'"),
    ("base64 v3 type", bad(eio.decode_packet, "bAQID", 3), InvalidPacket,
     "base64 packet is not a message: 'bAQID'"),
    ("binary v3 type", bad(eio.decode_packet, b"\x01", 3), InvalidPacket,
     "binary packet is not a message: type byte 1"),
    ("binary v3 empty", bad(eio.decode_packet, b"", 3), InvalidPacket, "empty binary packet"),
    ("frame type", bad(eio.decode_packet, 5), TypeError, "a frame must be str or bytes, not int"),
    ("empty payload", bad(eio.decode_payload, ""), InvalidPayload, "empty payload"),
    ("v4 record", bad(eio.decode_payload, "4a\x1e9b"), InvalidPayload,
     "packet 1: unknown packet type '9b'"),
    ("v4 empty record", bad(eio.decode_payload, "4a\x1e"), InvalidPayload,
     "packet 1: empty packet"),
    ("v3 length", bad(eio.decode_payload, "x:4", 3), InvalidPayload,
     "expected '<length>:' at unit 0: 'x:4'"),
    ("v3 length cut at 20", bad(eio.decode_payload, "2:4a" + "y" * 30, 3), InvalidPayload,
     f"expected '<length>:' at unit 4: {'y' * 20!r}..."),
    ("v3 past the end", bad(eio.decode_payload, "1:42:4a9:4", 3), InvalidPayload,
     "length 9 at unit 7 runs past the end"),
    ("v3 record", bad(eio.decode_payload, "1:4" + "1:\ud83d", 3), InvalidPayload,
     "packet 1: unknown packet type '\\ud83d'"),
    ("v3 utf16 length", bad(eio.decode_payload, "3:4\U0001f600x:4", 3), InvalidPayload,
     "expected '<length>:' at unit 5: 'x:4'"),
    ("v3 utf16 past the end", bad(eio.decode_payload, "3:4\U0001f6009:4", 3), InvalidPayload,
     "length 9 at unit 5 runs past the end"),
    ("v3 utf16 split pair", bad(eio.decode_payload, "3:4a\U0001f600x", 3), InvalidPayload,
     "length 3 at unit 0 splits a surrogate pair"),
    ("v3 utf16 split pair later", bad(eio.decode_payload, "1:42:4\U0001f600", 3),
     InvalidPayload, "length 2 at unit 3 splits a surrogate pair"),
    ("v3 utf16 record", bad(eio.decode_payload, "3:9\U0001f600", 3), InvalidPayload,
     "packet 0: unknown packet type '9\U0001f600'"),
    # the window shown is 20 units: a pair it cuts in two shows as U+FFFD
    ("v3 utf16 window cuts a pair", bad(eio.decode_payload, "3:4\U0001f600" + "x" * 19
                                        + "\U0001f600", 3), InvalidPayload,
     "expected '<length>:' at unit 5: " + repr("x" * 19 + "\ufffd")),
    ("v3 utf16 window of 20 units", bad(eio.decode_payload, "3:4\U0001f600" + "x" * 21, 3),
     InvalidPayload, "expected '<length>:' at unit 5: " + repr("x" * 20)),
    # a lone surrogate (never in text decoded from UTF-8) next to an astral character
    ("v3 utf16 lone surrogate", bad(eio.decode_payload, "3:4\U0001f6002:4\ud800", 3),
     InvalidPayload, "length 2 at unit 5 splits a surrogate pair"),
    ("binary v4", bad(eio.decode_payload, b"\x00\x01\xff4", 4, binary_body=True),
     InvalidPayload, "binary bodies are for Engine.IO v3 only"),
    ("binary str", bad(eio.decode_payload, "str", 3, binary_body=True), TypeError,
     "a binary body must be bytes"),
    ("binary empty", bad(eio.decode_payload, b"", 3, binary_body=True), InvalidPayload,
     "empty payload"),
    ("binary marker", bad(eio.decode_payload, b"\x00\x01\xff4\x02\x01\xff4", 3,
                          binary_body=True), InvalidPayload,
     "expected a 0 or 1 marker at byte 4, got 2"),
    ("binary length", bad(eio.decode_payload, b"\x00\xff", 3, binary_body=True),
     InvalidPayload, "malformed length after the marker at byte 0"),
    ("binary digit", bad(eio.decode_payload, b"\x00\x0a\xff4", 3, binary_body=True),
     InvalidPayload, "malformed length after the marker at byte 0"),
    ("binary long length", bad(eio.decode_payload, b"\x00" + b"\x01" * 20 + b"\xff4", 3,
                               binary_body=True), InvalidPayload,
     "malformed length after the marker at byte 0"),
    ("binary past the end", bad(eio.decode_payload, b"\x00\x05\xff4", 3, binary_body=True),
     InvalidPayload, "length at byte 0 runs past the end"),
    # a length of 16 digits is read (and runs past the end); one of 17 is refused
    ("binary 13 digits", bad(eio.decode_payload, b"\x00" + b"\x01" * 13 + b"\xff4", 3,
                             binary_body=True), InvalidPayload,
     "length at byte 0 runs past the end"),
    ("binary 16 digits", bad(eio.decode_payload, b"\x00" + b"\x01" * 16 + b"\xff4", 3,
                             binary_body=True), InvalidPayload,
     "length at byte 0 runs past the end"),
    ("binary 17 digits", bad(eio.decode_payload, b"\x00" + b"\x01" * 17 + b"\xff4", 3,
                             binary_body=True), InvalidPayload,
     "malformed length after the marker at byte 0"),
    ("binary utf8", bad(eio.decode_payload, b"\x00\x01\xff4\x00\x02\xff4\xff", 3,
                        binary_body=True), InvalidPayload, "text packet at byte 4 is not UTF-8"),
    ("binary record", bad(eio.decode_payload, b"\x00\x01\xff9", 3, binary_body=True),
     InvalidPayload, "packet 0: unknown packet type '9'"),
    ("text not utf8", bad(eio.decode_payload, b"4a\xff", 4), InvalidPayload,
     f"payload is not UTF-8: {UTF8_FF} 2: invalid start byte"),
    ("encode data", bad(eio.encode_packet, Packet(M, 5)), TypeError,  # type: ignore[arg-type]
     "packet data must be str or bytes, not int"),
    ("encode binary type", bad(eio.encode_packet, Packet(PacketType.PING, b"x")), ValueError,
     "only a MESSAGE packet can carry binary data, not PING"),
    ("payload item", bad(eio.encode_payload, [5]), TypeError, "cannot encode int in a payload"),
    ("payload binary type", bad(eio.encode_payload, [Packet(PacketType.PONG, b"x")]),
     ValueError, "only a MESSAGE packet can carry binary data, not PONG"),
    ("binary payload item", bad(eio.encode_payload, [5], 3, b64=False), TypeError,
     "cannot encode int in a payload"),
    ("error code", bad(eio.error_body, 9), ValueError, "unknown Engine.IO error code 9"),
]


@pytest.mark.parametrize(("call", "kind", "message"), [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_refusal_message(call: Callable[[], Any], kind: type[Exception], message: str) -> None:
    with pytest.raises(kind) as raised:
        call()
    assert str(raised.value) == message


def test_a_record_error_is_chained() -> None:
    with pytest.raises(InvalidPayload) as raised:
        eio.decode_payload("1:9", 3)
    assert isinstance(raised.value.__cause__, InvalidPacket)
    assert str(raised.value.__cause__) == "unknown packet type '9'"


@pytest.mark.parametrize(
    ("packets", "version", "b64", "body"),
    [
        ([Packet(M, b"\x01\x02"), "4h\u00e9"], 3, False,
         b"\x01\x03\xff\x04\x01\x02\x00\x04\xff4h\xc3\xa9"),
        ([Packet(M, b"\x01\x02"), "4h\U0001f600"], 3, True, "6:b4AQI=4:4h\U0001f600"),
        (["4h\U0001f600", "4ab"], 3, True, "4:4h\U0001f6003:4ab"),
        (["4h\U0001f600", b"\x01"], 4, True, "4h\U0001f600\x1ebAQ=="),
        ([b"\x00\x01\x02"], 4, True, "bAAEC"),
        ([b""], 4, True, "b"),
    ],
)
def test_payload_encodings(packets: Any, version: int, b64: bool, body: Any) -> None:
    assert eio.encode_payload(packets, version, b64=b64) == body


@pytest.mark.parametrize(
    ("body", "packets"),
    [
        (b"\x00\x01\xff4\x01\x01\xff\x04", [Packet(M, None), Packet(M, b"")]),
        (bytearray(b"\x00\x01\xff4"), [Packet(M, None)]),
        (b"\x01\x02\xff\x04\x05", [Packet(M, b"\x05")]),
        (b"\x00\x04\xff4h\xc3\xa9", [Packet(M, "h\u00e9")]),
    ],
)
def test_binary_bodies(body: bytes, packets: list[Packet]) -> None:
    assert eio.decode_payload(body, 3, binary_body=True) == packets


def test_default_versions_are_engine_io_4() -> None:
    assert eio.encode_packet(Packet(M, "x")) == "4x"
    assert eio.encode_packet(Packet(M, b"\x01")) == b"\x01"  # v3 would prefix b"\x04"
    assert eio.decode_packet("bAQ==") == Packet(M, b"\x01")  # base64 in v4: a message
    assert eio.decode_payload("4a\x1e4b") == [Packet(M, "a"), Packet(M, "b")]
