"""``tornio.protocol.jsoncodec``'s own answers, value by value: which codec a server's
settings make (``codec_for``), what a ``json_default`` codec writes and refuses, its msgpack,
``plain``'s depth bound, gevent-socketio's ``decimal_default``, and the built-in decoders'
refusals. (orjson against the stdlib: ``tests/test_protocol_json.py``.)"""

from __future__ import annotations

import decimal
import json
import math
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest

from tornio.protocol import jsoncodec, socketio
from tornio.protocol.jsoncodec import JsonCodec, codec_for, decimal_default


def _stringify(value: Any) -> str:
    if isinstance(value, set):
        return ",".join(sorted(map(str, value)))
    raise TypeError(f"{type(value).__name__} is not JSON")


class Unhashable:
    """A module-like ``json=`` object that cannot be a cache key."""

    __hash__ = None  # type: ignore[assignment]
    dumps = staticmethod(json.dumps)
    loads = staticmethod(json.loads)


class UnhashableDefault:
    """A ``json_default`` that cannot be a cache key."""

    __hash__ = None  # type: ignore[assignment]

    def __call__(self, value: Any) -> Any:
        return _stringify(value)


def test_codec_for_each_setting() -> None:
    assert codec_for(None, None) is None
    by_module = codec_for(json, None)
    assert by_module is not None and by_module.module is json and by_module.default is None
    assert codec_for(json, None) is by_module  # shared by every socket of the configuration
    by_default = codec_for(None, _stringify)
    assert by_default is not None
    assert by_default.default is _stringify and by_default.module is None
    odd = Unhashable()
    by_odd = codec_for(odd, None)
    assert by_odd is not None and by_odd.module is odd and by_odd.default is None
    unhashable_default = UnhashableDefault()
    by_unhashable_default = codec_for(None, unhashable_default)
    assert by_unhashable_default is not None
    assert by_unhashable_default.default is unhashable_default
    for module, default in [(json, _stringify), (odd, _stringify), (None, None)]:
        with pytest.raises(ValueError, match=r"^a JsonCodec takes a json module or a default "
                           "function, one$"):
            JsonCodec(module, default)
        if module is not None:
            with pytest.raises(ValueError, match="a JsonCodec takes"):
                codec_for(module, default)


def test_a_default_codec_writes_the_built_in_dialect() -> None:
    codec = JsonCodec(default=_stringify)
    assert codec.loads is None
    assert codec.dumps_modern(["é", {2, 1}]) == '["é","1,2"]'
    assert codec.dumps_legacy(["é", {2, 1}]) == '["\\u00e9","1,2"]'
    with pytest.raises(ValueError):
        codec.dumps_modern([math.nan])
    with pytest.raises(TypeError, match=r"^bytes are not JSON$"):
        codec.dumps_modern([b"x"])
    with pytest.raises(TypeError, match=r"^object is not JSON$"):
        codec.dumps_legacy([object()])
    packet = socketio.Decoder(json=codec).add('2["ev",1.5]')
    assert packet is not None and packet.data == ["ev", 1.5]


def test_a_default_codecs_msgpack_keeps_bytes_binary() -> None:
    codec = JsonCodec(default=_stringify)
    assert codec.pack([b"\x01", {1}]) == msgpack.packb([b"\x01", "1"], use_bin_type=True)
    assert codec.pack(b"\x02") == b"\xc4\x01\x02"  # bin 8, not a raw string


class Chain:
    """A value the default turns into a shorter chain, ``links`` times, then into a str."""

    def __init__(self, links: int) -> None:
        self.links = links


def _unchain(value: Any) -> Any:
    if isinstance(value, Chain):
        return Chain(value.links - 1) if value.links else "end"
    raise TypeError("not JSON")


def _nested_lists(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def _nested_dicts(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("build", [_nested_lists, _nested_dicts, Chain])
def test_plain_copies_nest_101_deep_and_no_deeper(build: Any) -> None:
    codec = JsonCodec(default=_unchain)
    # 101 lists or dicts in each other, or a chain the default walks 100 times to a str
    deepest_allowed = build(99 if build is Chain else 101)
    assert codec.plain(deepest_allowed) is not None
    with pytest.raises(ValueError, match=r"^values nested more than 100 deep$"):
        codec.plain(build(100 if build is Chain else 102))


def test_plain_keys() -> None:
    codec = JsonCodec(default=_stringify)
    assert codec.plain({1: "a", "b": (1, 2), None: bytearray(b"x")}) == {
        "1": "a", "b": [1, 2], "null": b"x"
    }


def test_decimal_default() -> None:
    assert decimal_default(decimal.Decimal("1.5")) == 1.5
    assert type(decimal_default(decimal.Decimal("2"))) is float
    with pytest.raises(TypeError, match=r"^Object of type set is not JSON serializable$"):
        decimal_default({1})


@pytest.mark.parametrize("loads", [jsoncodec.loads_modern, jsoncodec.loads_legacy])
def test_the_built_in_decoders_say_why(loads: Any) -> None:
    with pytest.raises(ValueError, match=r"^NaN is not valid JSON$"):
        loads("[NaN]")
    with pytest.raises(ValueError, match=r"^-Infinity is not valid JSON$"):
        loads("-Infinity")


def test_a_number_beyond_a_double_is_refused_for_modern_clients() -> None:
    with pytest.raises(ValueError, match=r"^number out of range: -1e400$"):
        jsoncodec.loads_modern("[-1e400]")
    assert jsoncodec.loads_legacy("[-1e400]") == [-math.inf]
