"""What the 0.9 codec (``tornio.protocol.legacy``) says of bad input, exactly: every refusal's
message and the endpoint it names (the error packet goes there), excerpts cut at their bound,
payload positions in UTF-16 units on both of its paths (BMP text, and text with astral
characters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tornio.exceptions import InvalidPacket, InvalidPayload
from tornio.protocol import legacy as L

LONG_NAME = '{"name":"' + "n" * 60


# (id, input, exact message, endpoint)
BAD_PACKETS: list[tuple[str, str, str, str]] = [
    ("empty", "", "malformed packet ''", ""),
    ("type", "9::", "unknown packet type '9'", ""),
    ("type with endpoint", "9::/chat", "unknown packet type '9'", "/chat"),
    ("malformed cut at 40", "x" * 41, f"malformed packet {'x' * 40!r}...", ""),
    ("malformed at 40", "x" * 40, f"malformed packet {'x' * 40!r}", ""),
    ("id", "5:" + "1" * 21 + ":/a:{}", f"packet id too long in {'5:' + '1' * 21 + ':/a:{}'!r}",
     "/a"),
    ("event not an object", "5::/a:[1]", "event data is not a JSON object: '[1]'", "/a"),
    ("event not json", "5::/a:{", "event data is not JSON: '{'", "/a"),
    ("event cut at 40", "5::/a:" + LONG_NAME, f"event data is not JSON: {LONG_NAME[:40]!r}...",
     "/a"),
    ("event name", '5::/a:{"name":1}', "event without a string name: '{\"name\":1}'", "/a"),
    ("event args", '5::/a:{"name":"e","args":{}}',
     "event args are not a list: '{\"name\":\"e\",\"args\":{}}'", "/a"),
    ("ack id", "6:::x", "ack without an ack id: 'x'", ""),
    ("ack id too long", "6:::" + "1" * 21, f"ack id too long: {'1' * 21!r}", ""),
    ("ack args json", "6::/b:1+{", "ack args are not JSON: '1+{'", "/b"),
    ("ack args list", "6:::1+{}", "ack args are not a list: '1+{}'", ""),
    ("json", "4::/j:{", "json data is not JSON: '{'", "/j"),
]


@pytest.mark.parametrize(("text", "message", "endpoint"), [c[1:] for c in BAD_PACKETS],
                         ids=[c[0] for c in BAD_PACKETS])
def test_a_bad_packet(text: str, message: str, endpoint: str) -> None:
    with pytest.raises(InvalidPacket) as raised:
        L.decode_packet(text)
    assert str(raised.value) == message
    assert raised.value.endpoint == endpoint


def test_ids_at_their_bound() -> None:
    assert L.decode_packet("5:" + "9" * 20 + "+:/a:{\"name\":\"e\"}")["id"] == int("9" * 20)
    assert L.decode_packet("6:::" + "9" * 20)["ackId"] == int("9" * 20)


PAYLOADS: list[tuple[str, str, str]] = [
    ("lone marker", "\ufffd", "frame length at unit 0 is not closed by '\\ufffd'"),
    ("empty length", "\ufffd\ufffd", "empty frame length at unit 0"),
    ("past the end", "\ufffd9\ufffdab", "frame length 9 at unit 0 runs past the end"),
    ("garbage after", "\ufffd1\ufffdax", "expected '\\ufffd' at unit 4, got 'x'"),
    ("garbage cut at 8", "\ufffd1\ufffda" + "y" * 20, f"expected '\\ufffd' at unit 4, got "
                                                      f"{'y' * 8!r}..."),
    ("too long", "\ufffd" + "1" * 17 + "\ufffd", "frame length at unit 0 is too long"),
    ("16 digits", "\ufffd" + "1" * 16 + "\ufffd",
     "frame length 1111111111111111 at unit 0 runs past the end"),
    ("not closed", "\ufffd12", "frame length at unit 0 is not closed by '\\ufffd'"),
    ("not decimal", "\ufffd1a\ufffdb", "frame length at unit 0 is not a decimal number"),
    ("astral not decimal", "\ufffd\U0001f600", "frame length at unit 0 is not a decimal number"),
    ("astral garbage after", "\ufffd2\ufffd\U0001f600x", "expected '\\ufffd' at unit 5, got 'x'"),
    ("astral past the end", "\ufffd9\ufffd\U0001f600",
     "frame length 9 at unit 0 runs past the end"),
    ("astral too long", "\ufffd2\ufffd\U0001f600\ufffd" + "1" * 17 + "\ufffd",
     "frame length at unit 5 is too long"),
    ("astral not closed", "\ufffd2\ufffd\U0001f600\ufffd12",
     "frame length at unit 5 is not closed by '\\ufffd'"),
    ("astral not decimal 2", "\ufffd2\ufffd\U0001f600\ufffd1x\ufffd",
     "frame length at unit 5 is not a decimal number"),
    ("astral empty length", "\ufffd2\ufffd\U0001f600\ufffd\ufffd", "empty frame length at unit 5"),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in PAYLOADS],
                         ids=[c[0] for c in PAYLOADS])
def test_a_bad_payload(data: str, message: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        L.decode_payload(data)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("data", "packets"),
    [
        ("\ufffd1\ufffda\ufffd2\ufffd\U0001f600", ["a", "\U0001f600"]),
        ("\ufffd0\ufffd\ufffd1\ufffdb", ["", "b"]),
        ("\ufffd" + "0" * 16 + "\ufffd", [""]),
        ("no frame", ["no frame"]),
    ],
)
def test_payloads(data: str, packets: list[str]) -> None:
    assert L.decode_payload(data) == packets


ENCODE: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("type", lambda: L.encode_packet({"type": "nope"}), ValueError, "unknown packet type 'nope'"),
    ("not a str type", lambda: L.encode_packet({"type": 5}), ValueError,
     "unknown packet type 5"),
    ("endpoint", lambda: L.encode_packet({"type": "event", "endpoint": "/a:b", "name": "e"}),
     ValueError, "endpoint '/a:b' contains ':'"),
    ("event name", lambda: L.encode_packet({"type": "event"}), ValueError,
     "event packet without a name"),
    ("message data", lambda: L.encode_packet({"type": "message", "data": 5}), TypeError,
     "message data must be a str, not int"),
    ("ack id", lambda: L.encode_packet({"type": "ack"}), ValueError,
     "ack packet without an ackId"),
    ("reason", lambda: L.encode_packet({"type": "error", "reason": "nope"}), ValueError,
     "unknown error reason or advice 'nope'"),
    ("advice", lambda: L.encode_packet({"type": "error", "advice": "nope"}), ValueError,
     "unknown error reason or advice 'nope'"),
    ("event endpoint", lambda: L.encode_event("/a:b", "e", []), ValueError,
     "endpoint '/a:b' contains ':'"),
    ("deep", lambda: L.loads("[" * 100_000), ValueError, "JSON document is nested too deeply"),
    ("nan", lambda: L.loads("NaN"), ValueError, "NaN is not valid JSON"),
    ("infinity", lambda: L.loads("[-Infinity]"), ValueError, "-Infinity is not valid JSON"),
]


@pytest.mark.parametrize(("call", "kind", "message"), [c[1:] for c in ENCODE],
                         ids=[c[0] for c in ENCODE])
def test_a_refused_encoding(call: Callable[[], Any], kind: type[Exception], message: str) -> None:
    with pytest.raises(kind) as raised:
        call()
    assert str(raised.value) == message
