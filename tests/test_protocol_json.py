"""The built-in JSON through orjson gives what the standard library gives, to the byte and to
the error: encoding for modern and 0.9 clients, decoding of their packets, and the
applications' own JSON (``json_default``, ``json=``) left as it was. The bus carries msgpack
(``tornio.bus.messages``), not JSON: an emit crosses it as values, and each node writes them
with the encoders tested here.

Every case runs both ways in one process (``tests/support/json_paths.py``): a difference is
a failure, whichever way it goes.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import functools
import json
import math
import sys
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.json_paths import both, outcome, using
from tornio.protocol import jsoncodec, legacy, socketio
from tornio.protocol.jsoncodec import JsonCodec, decimal_default

pytestmark = pytest.mark.skipif(jsoncodec.orjson is None, reason="orjson is not installed")


class Text(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


class Table(dict[Any, Any]):
    pass


class Reordered(dict[Any, Any]):
    def items(self) -> Any:  # the stdlib writes a dict subclass through its items()
        return reversed(list(super().items()))


class Row(list[Any]):
    pass


class Level(enum.IntEnum):
    HIGH = 3


class Colour(str, enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int


Pair = collections.namedtuple("Pair", "a b")


def _moved() -> collections.OrderedDict[str, int]:
    value = collections.OrderedDict(a=1, b=2)
    value.move_to_end("a")
    return value


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _circular() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


# Each value goes through every encoder, as an event argument and alone.
VALUES: dict[str, Any] = {
    "text": "hi",
    "non-ASCII": "é€😀 日本",
    "line separators": "\u2028\u2029",
    "controls": "\x00\x01\x1f\b\f\n\r\t",
    "DEL": "a\x7fb",
    "quotes and backslashes": '"\\/',
    "lone high surrogate": "a\ud800b",
    "lone low surrogate": "\udc00",
    "surrogate pair as two code points": "\ud83d\ude00",
    "text that looks like guarded JSON": ["null", "e-mail", "0.00001", "x" * 30 + "1" * 19],
    "script end": "</script>",
    "ints": [0, -1, 2**53, 2**63 - 1, -(2**63), 2**64 - 1],
    "int beyond u64": 2**64,
    "int below i64": -(2**63) - 1,
    "huge int": 10**40,
    "bools and null": [True, False, None],
    "None alone": None,
    "floats": [0.1, 1.0, -0.0, 100.0, 1e15, 1e16, 1.5e16, 1e22, 1.7976931348623157e308],
    "small floats": [1e-4, 1e-5, 1.5e-5, 1e-6, 2.5e-7, 1e-9, 1e-10, 1.23e-15, 5e-324],
    "negative small floats": [-1e-5, -2.5e-7],
    "exponent below -4": [2.5e-7, -3e-9],
    "NaN": math.nan,
    "infinity": [math.inf],
    "minus infinity": {"x": -math.inf},
    "non-str keys": {2: "a", 1.5: "b", True: "c", None: "d"},
    "tuple key": {(1, 2): 3},
    "bytes key": {b"k": 1},
    "str subclass": Text("sub"),
    "str subclass key": {Text("k"): 1},
    "int subclass": Number(7),
    "float subclass": Real(2.5),
    "dict subclass": Table(a=1),
    "dict subclass with its own items": Reordered(a=1, b=2),
    "moved OrderedDict": _moved(),
    "list subclass": Row([1, 2]),
    "IntEnum": Level.HIGH,
    "StrEnum": Colour.RED,
    "tuple": (1, (2, "three")),
    "namedtuple": Pair(1, 2),
    "nested 100": _nested(100),
    "nested 300 (beyond orjson's 254)": _nested(300),
    "nested beyond the stack": _nested(5000),
    "circular": _circular(),
    "bytes": b"\x00\x01",
    "bytearray in a dict": {"b": bytearray(b"ab")},
    "set": {1, 2},
    "datetime": datetime.datetime(2026, 12, 7, 12, 0),
    "dataclass": Point(1),
    "Decimal": decimal.Decimal("1.5"),
    "typical echo": {"n": 1, "text": "hi"},
    "typical broadcast": {"id": 123456, "user": "alice", "text": "hello", "tags": ["a"],
                          "ts": 1733580000.123, "ok": True},
}

MODERN_CODEC = JsonCodec(default=decimal_default)
MODULE_CODEC = JsonCodec(module=json)

ENCODERS: dict[str, Any] = {
    "dumps_modern": lambda v: jsoncodec.dumps_modern(v),
    "dumps_legacy": lambda v: jsoncodec.dumps_legacy(v),
    "modern event": lambda v: socketio.encode_event("/chat", ["ev", v], 3),
    "modern ack": lambda v: socketio.encode(
        socketio.Packet(socketio.PacketType.ACK, "/", [v], 1)
    ),
    "modern connect error": lambda v: socketio.connect_error_packet("/", "no", v),
    "0.9 event": lambda v: legacy.encode_event("/chat", "ev", [v], 3),
    "0.9 json packet": lambda v: legacy.encode_packet({"type": "json", "data": v}),
    "0.9 dumps": lambda v: legacy.dumps(v),
    "json_default app, modern": lambda v: socketio.encode_event("/", ["ev", v], json=MODERN_CODEC),
    "json_default app, 0.9": lambda v: legacy.encode_event("", "ev", [v], json=MODERN_CODEC),
    "json= app, modern": lambda v: socketio.encode_event("/", ["ev", v], json=MODULE_CODEC),
}


@pytest.mark.parametrize("encoder", list(ENCODERS))
@pytest.mark.parametrize("name", list(VALUES))
def test_encoding_is_the_stdlibs(name: str, encoder: str) -> None:
    value = VALUES[name]
    fast, slow = both(lambda: ENCODERS[encoder](value))
    assert fast == slow


def _deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


# Each text is decoded alone, as an event's argument (modern and 0.9), and as a 0.9 json packet.
TEXTS: dict[str, str] = {
    "array": '[1,"a",null,true,false,{}]',
    "object": '{"n":1,"text":"hi"}',
    "duplicate keys": '{"a":1,"b":2,"a":3}',
    "u64 max": "18446744073709551615",
    "beyond u64": "18446744073709551616",
    "i64 min": "-9223372036854775808",
    "below i64": "-9223372036854775809",
    "JavaScript's 2**64": "18446744073709552000",
    "big int in an object": '{"n":123456789012345678901234567890}',
    "over int()'s digit limit": "1" * 5000,
    "19-digit string": '"1234567890123456789"',
    "big int in a long text": '{"pad":"' + "x" * 60 + '","n":-9223372036854775809}',
    "18 digits in a long text": '{"pad":"' + "é" * 60 + '","n":-922337203685477580}',
    "long text, raw lone surrogate": '["' + "é" * 70 + '\ud800"]',
    "1e400": "1e400",
    "-1e400": "[-1e400]",
    "1e-400": "1e-400",
    "NaN": "NaN",
    "Infinity": "[Infinity]",
    "-Infinity": "-Infinity",
    "lone surrogate escape": '"\\ud800"',
    "surrogate pair escape": '"\\ud83d\\ude00"',
    "raw lone surrogate": '"\ud800"',
    "escapes": '"\\u00e9\\n\\t\\"\\\\\\/"',
    "bad escape": '"\\x41"',
    "raw control": '"\x01"',
    "raw DEL": '"\x7f"',
    "trailing comma": "[1,]",
    "trailing comma in object": '{"a":1,}',
    "leading zero": "01",
    "bare dot": "1.",
    "dot first": ".5",
    "minus alone": "-",
    "exponent forms": "[1E5,1e+5,0.1e1,-0,-0.0,1.5e16,2.5e-7]",
    "whitespace": " \t\n\r[ 1 ]\r\n",
    "non-JSON whitespace": "\u00a0[1]",
    "BOM": "\ufeff[]",
    "trailing garbage": "[1] x",
    "two documents": "[1][2]",
    "empty": "",
    "single quotes": "['a']",
    "non-str key": "{1:2}",
    "nested 200": _deep_text(200),
    "nested 600": _deep_text(600),
    "nested 1000 (within orjson's 1024, beyond the stack)": _deep_text(1000),
    "nested 1100 (beyond orjson's 1024)": _deep_text(1100),
    "nested 20000": _deep_text(20000),
    "unclosed 2000": "[" * 2000,
    "wide": "[" + ",".join(["{}"] * 600) + "]",
    "wide and deep": "[" + ",".join(["[]"] * 300) + "," + _deep_text(450) + "]",
}

DECODERS: dict[str, Any] = {
    "loads_modern": lambda t: jsoncodec.loads_modern(t),
    "loads_legacy": lambda t: jsoncodec.loads_legacy(t),
    "0.9 loads": lambda t: legacy.loads(t),
    "modern event": lambda t: socketio.Decoder().add('21["ev",' + t + "]"),
    "modern ack": lambda t: socketio.Decoder().add("31" + t),
    "0.9 event": lambda t: legacy.decode_packet('5:1+::{"name":"ev","args":[' + t + "]}"),
    "0.9 json packet": lambda t: legacy.decode_packet("4:::" + t),
    "json= app, modern": lambda t: socketio.Decoder(json=MODULE_CODEC).add("2" + t),
}


@pytest.mark.parametrize("decoder", list(DECODERS))
@pytest.mark.parametrize("name", list(TEXTS))
def test_decoding_is_the_stdlibs(name: str, decoder: str) -> None:
    text = TEXTS[name]
    fast, slow = both(lambda: DECODERS[decoder](text))
    assert fast == slow


def test_the_guards_send_only_their_cases_to_the_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """The typical packets take orjson's answer (else the speed-up is gone), and each guarded
    case the stdlib's (else the tables above could pass for the wrong reason)."""
    answered: list[str] = []

    def spy(name: str) -> None:
        real = getattr(jsoncodec, name)

        def counted(value: Any) -> Any:
            answered.append(name)
            return real(value)

        monkeypatch.setattr(jsoncodec, name, counted)

    for name in ("_std_dumps_modern", "_std_dumps_legacy", "_std_loads_modern",
                 "_std_loads_legacy"):
        spy(name)

    def stdlib_answers(function: Any, argument: Any) -> bool:
        answered.clear()
        outcome(lambda: function(argument))
        return bool(answered)

    echo = ["echo", {"n": 1, "text": "hi"}]
    with using("orjson"):
        for dumps in (jsoncodec.dumps_modern, jsoncodec.dumps_legacy):
            assert not stdlib_answers(dumps, echo)
            for value in ([1, None], [2.5e-7], [1e-5], ["\ud800"], [2**64], {1: 2}, b"x"):
                assert stdlib_answers(dumps, value), (dumps, value)
        assert not stdlib_answers(jsoncodec.dumps_modern, ["é", "\x7f"])
        assert stdlib_answers(jsoncodec.dumps_legacy, ["é"])
        assert stdlib_answers(jsoncodec.dumps_legacy, ["\x7f"])
        # At Python's default limit (mutation runs raise it beyond orjson's 1024 levels).
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(1000)
        depth = 500
        try:
            for loads in (jsoncodec.loads_modern, jsoncodec.loads_legacy):
                assert not stdlib_answers(loads, "[1]")
                assert not stdlib_answers(loads, '["echo",{"n":1,"text":"hi"}]')
                assert not stdlib_answers(loads, "[123456789012345678]")
                assert stdlib_answers(loads, "[1234567890123456789]")
                # The shortest text orjson would read otherwise (20 characters).
                assert stdlib_answers(loads, "-9223372036854775809")
                assert loads("-9223372036854775809") == -9223372036854775809
                assert not stdlib_answers(loads, "-922337203685477580")
                padded = '{"pad":"' + "x" * 60 + '","n":%s}'
                assert not stdlib_answers(loads, padded % ("9" * 18))
                assert stdlib_answers(loads, padded % ("9" * 19))
                assert stdlib_answers(loads, "[NaN]")
                assert not stdlib_answers(loads, _deep_text(depth))
                assert stdlib_answers(loads, _deep_text(depth + 1))
                objects = '{"a":' * (depth + 1) + "1" + "}" * (depth + 1)
                assert stdlib_answers(loads, objects)
                half = (depth + 2) // 2
                mixed = '[{"a":' * half + "1" + "}]" * half
                assert stdlib_answers(loads, mixed)
        finally:
            sys.setrecursionlimit(limit)


def test_enum_and_uuid_are_written_where_the_stdlib_refuses_them() -> None:
    """The one known difference (module docstring of jsoncodec): orjson writes these itself,
    and has no option to hand them to ``default``."""

    class Plain(enum.Enum):
        A = "a"

    value = ["ev", Plain.A, uuid.UUID(int=1)]
    fast, slow = both(lambda: jsoncodec.dumps_modern(value))
    assert fast == ("ok", repr('["ev","a","00000000-0000-0000-0000-000000000001"]'))
    assert slow[0] == "TypeError"


def test_without_orjson_the_stdlib_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(jsoncodec, "orjson", None)
        assert jsoncodec.use_orjson() is False
        assert jsoncodec.dumps_modern is jsoncodec._std_dumps_modern
        assert jsoncodec.dumps_legacy is jsoncodec._std_dumps_legacy
        assert jsoncodec.loads_modern is jsoncodec._std_loads_modern
        assert jsoncodec.loads_legacy is jsoncodec._std_loads_legacy
    assert jsoncodec.use_orjson() is True
    assert jsoncodec.loads_legacy is not jsoncodec._std_loads_legacy


# --- properties -------------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text()
    | st.sampled_from(["null", "e-", ".0000", "\x7f", "\ud800", "é"])
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5)
    | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=5) | st.integers() | st.floats(), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_property_encoding_is_the_stdlibs(value: Any) -> None:
    for encoder in ("dumps_modern", "dumps_legacy", "modern event", "0.9 event"):
        fast, slow = both(functools.partial(ENCODERS[encoder], value))
        assert fast == slow, encoder


_json_alphabet = st.sampled_from(list('[]{}",:0123456789.eE+-tfnrulNaIiy \\u\x01\x7fé'))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        _values.map(lambda v: json.dumps(v, allow_nan=True)),
        _values.map(lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))),
        st.text(_json_alphabet, max_size=40),
    )
)
def test_property_decoding_is_the_stdlibs(text: str) -> None:
    for decoder in ("loads_modern", "loads_legacy", "modern event", "0.9 json packet"):
        fast, slow = both(functools.partial(DECODERS[decoder], text))
        assert fast == slow, decoder


def test_an_orjson_spelling_floats_otherwise_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """orjson before 3.11.7 wrote ``1e16`` where Python writes ``1e+16``."""
    real = jsoncodec.orjson

    class OldOrjson:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        @staticmethod
        def dumps(value: Any, *args: Any) -> bytes:
            return real.dumps(value, *args).replace(b"e+", b"e")

    with monkeypatch.context() as patch:
        patch.setattr(jsoncodec, "orjson", OldOrjson())
        assert jsoncodec.use_orjson() is False
        assert jsoncodec.dumps_modern is jsoncodec._std_dumps_modern
    assert jsoncodec.use_orjson() is True
