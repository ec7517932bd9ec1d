"""What the 0.9 codec (``tornio.protocol.legacy``) says of bad input, exactly: every refusal's
message and the endpoint it names (the error packet goes there), excerpts cut at their bound,
payload positions in UTF-16 units on both of its paths (BMP text, and text with astral
characters); and what it writes and reads through an application's JSON (``json=``: a default
function or a module)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.json_modules import BROKEN_MODULE, TAG_DEFAULT, TAG_MODULE, Tag
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
    ("ack id too long, endpoint", "6::/b:" + "1" * 21, f"ack id too long: {'1' * 21!r}", "/b"),
    ("ack args list, endpoint", "6::/b:1+{}", "ack args are not a list: '1+{}'", "/b"),
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
    ("0 not closed", "\ufffd0", "frame length at unit 0 is not closed by '\\ufffd'"),
    ("9 not closed", "\ufffd9", "frame length at unit 0 is not closed by '\\ufffd'"),
    ("16 digits not closed", "\ufffd" + "1" * 16,
     "frame length at unit 0 is not closed by '\\ufffd'"),
    ("letter at the end", "\ufffd1A", "frame length at unit 0 is not a decimal number"),
    ("17 zeros", "\ufffd" + "0" * 17 + "\ufffd", "frame length at unit 0 is too long"),
    ("17 nines", "\ufffd" + "9" * 17 + "\ufffd", "frame length at unit 0 is too long"),
    ("not decimal", "\ufffd1a\ufffdb", "frame length at unit 0 is not a decimal number"),
    ("astral not decimal", "\ufffd\U0001f600", "frame length at unit 0 is not a decimal number"),
    ("astral garbage after", "\ufffd2\ufffd\U0001f600x", "expected '\\ufffd' at unit 5, got 'x'"),
    ("astral past the end", "\ufffd9\ufffd\U0001f600",
     "frame length 9 at unit 0 runs past the end"),
    ("astral past the end later", "\ufffd2\ufffd\U0001f600\ufffd9\ufffdab",
     "frame length 9 at unit 5 runs past the end"),
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
        # lone surrogates (JSON can send them): framed as they are, never joined into a pair
        ("\ufffd1\ufffd\ud800", ["\ud800"]),
        ("\ufffd2\ufffd\ud800\udc00", ["\ud800\udc00"]),
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
    ("unhashable type", lambda: L.encode_packet({"type": []}), ValueError,
     "unknown packet type []"),
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


#: (id, text, json, the exact packet): the decoder's special forms next to the packets that
#: only look like them, and an application's JSON reading the values.
DECODED: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("'?' outside a connect", "3::/a?b:hi", None,
     {"type": "message", "endpoint": "/a?b", "data": "hi"}),
    ("connect query with '?'", "1::/ns?a=b?c", None,
     {"type": "connect", "endpoint": "/ns", "qs": "?a=b?c"}),
    ("'/' outside an error", "3:::1/x", None, {"type": "message", "endpoint": "", "data": "1/x"}),
    ("error with an endpoint", "7::/a:1/x", None,
     {"type": "error", "endpoint": "/a", "reason": "", "advice": ""}),
    ("error with four pieces", "7:::0+0+x+y", None,
     {"type": "error", "endpoint": "", "reason": "transport not supported",
      "advice": "reconnect"}),
    ("module", '5::/a:{"name":"e","args":[{"$tag":"x"}]}', TAG_MODULE,
     {"type": "event", "endpoint": "/a", "name": "e", "args": [Tag("x")]}),
    ("default function: the built-in JSON reads", '5::/a:{"name":"e","args":[{"$tag":"x"}]}',
     TAG_DEFAULT, {"type": "event", "endpoint": "/a", "name": "e", "args": [{"$tag": "x"}]}),
]


@pytest.mark.parametrize(("text", "json", "packet"), [c[1:] for c in DECODED],
                         ids=[c[0] for c in DECODED])
def test_a_decoded_packet(text: str, json: Any, packet: dict[str, Any]) -> None:
    assert L.decode_packet(text, json) == packet


def test_what_a_json_module_raises_is_a_refusal() -> None:
    with pytest.raises(InvalidPacket) as raised:
        L.decode_packet('5::/a:{"name":"e"}', BROKEN_MODULE)
    assert str(raised.value) == "event data is not JSON: '{\"name\":\"e\"}'"
    assert raised.value.endpoint == "/a"
    assert str(raised.value.__context__) == str(KeyError("the application's loads failed"))


#: (id, call, the exact packet): the application's JSON writes the values (in the 0.9
#: dialect's ASCII, a default function as a module), and iterables that are not lists are
#: written as arrays.
ENCODED: list[tuple[str, Callable[[], str], str]] = [
    ("event default", lambda: L.encode_packet(
        {"type": "event", "name": "e", "args": [Tag("x"), "é"]}, TAG_DEFAULT),
     '5:::{"name":"e","args":[{"$tag":"x"},"\\u00e9"]}'),
    ("ack module", lambda: L.encode_packet(
        {"type": "ack", "ackId": 3, "args": (Tag("x"),)}, TAG_MODULE),
     '6:::3+[{"$tag":"x"}]'),
    ("json default", lambda: L.encode_packet(
        {"type": "json", "endpoint": "/j", "data": {"t": Tag("x")}}, TAG_DEFAULT),
     '4::/j:{"t":{"$tag":"x"}}'),
    ("event generator", lambda: L.encode_packet(
        {"type": "event", "name": "e", "args": (a for a in ["x", 1])}),
     '5:::{"name":"e","args":["x",1]}'),
    ("encode_event range", lambda: L.encode_event("/a", "e", range(1, 3)),
     '5::/a:{"name":"e","args":[1,2]}'),
    ("encode_event module", lambda: L.encode_event("/a", "e", [Tag("x")], 4, TAG_MODULE),
     '5:4+:/a:{"name":"e","args":[{"$tag":"x"}]}'),
]


@pytest.mark.parametrize(("call", "text"), [c[1:] for c in ENCODED], ids=[c[0] for c in ENCODED])
def test_an_encoded_packet(call: Callable[[], str], text: str) -> None:
    assert call() == text
