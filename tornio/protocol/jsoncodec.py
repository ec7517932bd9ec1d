"""The JSON of tornio's codecs, sans-I/O: the built-in dialect's functions and an
application's ``json_default`` (a function turning a value JSON has no
type for into one it has) or ``json`` (a module-like object with ``dumps`` and ``loads``,
python-socketio's ``json=``).

A :class:`JsonCodec` is made once per server configuration (:func:`codec_for`) and handed
to the codecs of :mod:`tornio.protocol.socketio`, :mod:`tornio.protocol.legacy` and
:mod:`tornio.protocol.msgpack_parser` (their ``json=`` argument); ``None`` there is the
built-in JSON, on the fast path.

* With ``default``, the built-in dialect stays (compact; not ASCII-escaped for modern
  clients, ASCII for 0.9 ones; no NaN), and ``default(value)`` is called for what it cannot
  write, as ``json.dumps(default=)`` does; ``bytes`` never reach it (modern clients get them
  as binary attachments, 0.9 clients cannot have them). msgpack clients get ``default``'s
  result too. Decoding is the built-in one.
* With ``module``, text is ``module.dumps(value, separators=(",", ":"))`` and
  ``module.loads(text)`` (what it raises is an invalid packet); binary values are taken out
  as attachments first. msgpack clients get what ``module.dumps`` writes, read back by the
  standard decoder.

The built-in dialect (JSON as ``JSON.stringify`` writes and ``JSON.parse`` reads it, NaN
refused) is :func:`dumps_modern` (compact, not ASCII-escaped), :func:`dumps_legacy` (compact,
ASCII-escaped, for 0.9 clients), :func:`loads_modern` (a number too large for a double
refused) and :func:`loads_legacy` (such a number is infinity). With `orjson
<https://github.com/ijl/orjson>`_ 3.11.7 or later installed (``pip install 'tornio[speed]'``;
an older one spells ``1e+16`` as ``1e16`` and is not used) they use it,
and give exactly what the standard library gives, text and errors: orjson's answer is taken
only where it is the stdlib's, otherwise the stdlib's own encoder or decoder answers, which
is then also what raises. The stdlib answers when orjson refuses a value (bytes, lone
surrogates, integers beyond 64 bits, non-str keys, subclasses of str, int, float, dict and
list, nesting beyond orjson's 254 levels), when the text holds ``null`` (orjson writes NaN
and infinities as ``null``), ``e-`` or ``.0000`` (orjson spells floats below 1e-4 otherwise:
``1e-7`` for ``1e-07``) or, for 0.9, anything not ASCII or DEL; on decoding, when orjson
refuses the text (NaN, ``1e400``, lone surrogate escapes, its depth limit), when the text
holds a run of 19 digits (orjson reads integers beyond 64 bits as floats) or more ``[`` and
``{`` than half the recursion limit (where the stdlib decoder may run out of stack and
orjson would not). The one difference left: ``enum.Enum`` members and ``uuid.UUID``, which
the stdlib refuses (TypeError), orjson writes (the member's value, the UUID's text).
:func:`use_orjson` switches between the two in-process, for tests.

:meth:`JsonCodec.plain` makes a copy holding only what msgpack (the bus) carries, for the
other nodes.
"""

from __future__ import annotations

import decimal
import functools
import json as std_json
import math
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import msgpack  # type: ignore[import-untyped]

try:
    import orjson
except ImportError:  # pragma: no cover - the `speed` extra is not installed
    orjson = None  # type: ignore[assignment]

__all__ = [
    "JsonCodec",
    "codec_for",
    "decimal_default",
    "dumps_legacy",
    "dumps_modern",
    "loads_legacy",
    "loads_modern",
    "use_orjson",
]

_BYTES_TYPES = (bytes, bytearray, memoryview)
_SCALARS = (str, int, float, bool, type(None), bytes)
_SEPARATORS = (",", ":")
_MAX_DEPTH = 100  # plain(): how deep a value (and what the default made of it) may nest


# --- the built-in dialect --------------------------------------------------------------------

_std_dumps_modern = std_json.JSONEncoder(
    ensure_ascii=False, separators=_SEPARATORS, allow_nan=False
).encode
_std_dumps_legacy = std_json.JSONEncoder(
    ensure_ascii=True, separators=_SEPARATORS, allow_nan=False
).encode


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: JSON.parse reads Infinity, which JSON cannot write back
        raise ValueError(f"number out of range: {text}")
    return value


_std_loads_modern = std_json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_parse_float
).decode
_std_loads_legacy = std_json.JSONDecoder(parse_constant=_reject_constant).decode

# orjson: subclasses, dataclasses and datetimes are not written by orjson (the stdlib writes
# the first and refuses the others), so that the stdlib answers for them.
_ORJSON_OPTIONS = 0 if orjson is None else (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
# A run of 19 digits may be an integer beyond 64 bits, which orjson reads as a float: found
# by a regex in short texts, in longer ones (where the regex costs more than the decoding) as
# 19 zeros once every digit is made a zero.
_search_long_number = re.compile("[0-9]{19}").search
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
_REGEX_TEXT = 64
# A text this long or shorter cannot nest deeper than half of it (every level opens and
# closes): below the stdlib decoder's stack, whatever the recursion limit above 400.
_SHORT_TEXT = 400


def _orjson_dumps_modern(value: Any) -> str:
    try:
        out: bytes = orjson.dumps(value, None, _ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return _std_dumps_modern(value)
    if b"null" in out or b"e-" in out or b".0000" in out:
        return _std_dumps_modern(value)
    return out.decode()


def _orjson_dumps_legacy(value: Any) -> str:
    if type(value) is str:  # an event's name: the stdlib's C escaper, without a detour
        return _std_dumps_legacy(value)
    try:
        out: bytes = orjson.dumps(value, None, _ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return _std_dumps_legacy(value)
    if (
        not out.isascii()
        or b"\x7f" in out
        or b"null" in out
        or b"e-" in out
        or b".0000" in out
    ):
        return _std_dumps_legacy(value)
    return out.decode()


def _stdlib_answers(text: str) -> bool:
    """Whether orjson could read ``text``, of :data:`_REGEX_TEXT` characters or more, other
    than the stdlib does (see the module docstring), so that the stdlib must. The loads below
    check a shorter text themselves, without a call (an event's text usually is one): under
    20 characters never (the shortest text orjson reads otherwise: -9223372036854775809),
    else with the regex."""
    if _LONG_NUMBER in text.encode("utf-8", "surrogatepass").translate(_DIGITS_AS_ZEROS):
        return True
    return len(text) > _SHORT_TEXT and (
        text.count("[") + text.count("{") > sys.getrecursionlimit() // 2
    )


def _orjson_loads_modern(text: str) -> Any:
    length = len(text)
    if length >= 20 and (_search_long_number(text) is not None if length < _REGEX_TEXT
                         else _stdlib_answers(text)):
        return _std_loads_modern(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _std_loads_modern(text)


def _orjson_loads_legacy(text: str) -> Any:
    length = len(text)
    if length >= 20 and (_search_long_number(text) is not None if length < _REGEX_TEXT
                         else _stdlib_answers(text)):
        return _std_loads_legacy(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _std_loads_legacy(text)


#: The built-in dialect's text for modern clients: compact, not ASCII-escaped (lone
#: surrogates are left raw: :mod:`tornio.protocol.socketio` escapes them). Raises TypeError
#: (bytes included) or ValueError (NaN, infinities, circular values) as ``json.dumps`` does.
dumps_modern: Callable[[Any], str] = _std_dumps_modern
#: The built-in dialect's text for 0.9 clients: compact and ASCII-escaped.
dumps_legacy: Callable[[Any], str] = _std_dumps_legacy
#: Reads JSON as ``JSON.parse`` but strictly (NaN, Infinity and numbers beyond a double
#: raise ValueError); RecursionError for a text nested deeper than the stack.
loads_modern: Callable[[str], Any] = _std_loads_modern
#: As :func:`loads_modern`, but a number beyond a double is an infinity (0.9's decoder).
loads_legacy: Callable[[str], Any] = _std_loads_legacy


# Floats orjson spells as Python does from 3.11.7 on (1e+16; before, 1e16): an older orjson,
# or one that spells any of these otherwise, is not used.
_FLOAT_PROBES = [1e16, 1.5e300, 1e15, 123456789012345.6, 1e-4, 0.1, -0.0, 100.0, 5e-324]


def _orjson_agrees() -> bool:
    return orjson is not None and (
        orjson.dumps(_FLOAT_PROBES).decode() == _std_dumps_modern(_FLOAT_PROBES)
    )


def use_orjson(enabled: bool = True) -> bool:
    """Make the built-in dialect use orjson (when installed) or only the standard library;
    the choice at import is orjson when installed. Returns whether orjson is now used.

    For tests, which run the codecs both ways: the functions are looked up at each call, and
    a :class:`~tornio.protocol.socketio.Decoder` takes its decoder when made.
    """
    global dumps_modern, dumps_legacy, loads_modern, loads_legacy
    fast = enabled and _orjson_agrees()
    if fast:
        dumps_modern, dumps_legacy = _orjson_dumps_modern, _orjson_dumps_legacy
        loads_modern, loads_legacy = _orjson_loads_modern, _orjson_loads_legacy
    else:
        dumps_modern, dumps_legacy = _std_dumps_modern, _std_dumps_legacy
        loads_modern, loads_legacy = _std_loads_modern, _std_loads_legacy
    return fast


use_orjson()


class JsonCodec:
    """How one server writes (and reads) JSON; see the module docstring."""

    __slots__ = ("convert", "default", "dumps_legacy", "dumps_modern", "loads", "module",
                 "pack")

    def __init__(
        self, module: Any = None, default: Callable[[Any], Any] | None = None
    ) -> None:
        if (module is None) == (default is None):
            raise ValueError("a JsonCodec takes a json module or a default function, one")
        self.module = module
        self.default = default
        #: Text for modern and for 0.9 clients (``bytes`` raise TypeError).
        self.dumps_modern: Callable[[Any], str]
        self.dumps_legacy: Callable[[Any], str]
        #: The module's ``loads``, or None for the built-in decoding.
        self.loads: Callable[[str], Any] | None
        #: One value the built-in JSON has no type for → one it has.
        self.convert: Callable[[Any], Any]
        if default is not None:

            def no_bytes(value: Any) -> Any:
                if isinstance(value, _BYTES_TYPES):
                    raise TypeError("bytes are not JSON")
                return default(value)

            options: dict[str, Any] = {"separators": _SEPARATORS, "allow_nan": False,
                                       "default": no_bytes}
            # The stdlib here: orjson writes Enum members and UUIDs itself, where the stdlib
            # hands them to ``default``.
            self.dumps_modern = std_json.JSONEncoder(ensure_ascii=False, **options).encode
            self.dumps_legacy = std_json.JSONEncoder(ensure_ascii=True, **options).encode
            self.loads = None
            self.convert = default
        else:
            dumps, loads = module.dumps, module.loads

            def module_dumps(value: Any) -> str:
                return str(dumps(value, separators=_SEPARATORS))

            def through_module(value: Any) -> Any:
                return std_json.loads(module_dumps(value))

            self.dumps_modern = self.dumps_legacy = module_dumps
            self.loads = loads
            self.convert = through_module
        #: msgpack (socket.io-msgpack-parser clients) with ``convert`` for unknown values.
        self.pack: Callable[[Any], bytes] = msgpack.Packer(
            use_bin_type=True, autoreset=True, default=self.convert
        ).pack

    def plain(self, value: Any) -> Any:
        """A copy of ``value`` that holds only JSON's types and ``bytes`` (what the bus
        carries), each value JSON has no type for converted as the text encoder would.

        Raises:
            TypeError, ValueError: what the conversion raises for a value it cannot write;
                nesting deeper than 100.
        """
        return self._plain(value, 0)

    def _plain(self, value: Any, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise ValueError(f"values nested more than {_MAX_DEPTH} deep")
        if isinstance(value, _SCALARS):
            return value
        if isinstance(value, (list, tuple)):
            return [self._plain(item, depth + 1) for item in value]
        if isinstance(value, Mapping):
            return {
                key if isinstance(key, str) else _json_key(key): self._plain(item, depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        return self._plain(self.convert(value), depth + 1)


def decimal_default(value: Any) -> Any:
    """gevent-socketio's JSON (its ``default_json_dumps`` without simplejson): a
    ``Decimal`` is written as a float; anything else JSON has no type for raises TypeError.
    The ``json_default`` of the gevent-socketio path (``SocketIOServer``, a Router whose
    WSGI application calls ``socketio_manage``) unless the application gives its own."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_key(key: Any) -> str:
    """The text JSON writes for a dict key that is no string (``1`` → ``"1"``)."""
    text: str = next(iter(std_json.loads(std_json.dumps({key: None}))))
    return text


@functools.lru_cache(maxsize=32)
def _codec(module: Any, default: Callable[[Any], Any] | None) -> JsonCodec:
    return JsonCodec(module, default)


def codec_for(module: Any, default: Callable[[Any], Any] | None) -> JsonCodec | None:
    """The codec of a server's ``json`` and ``json_default`` settings (None: the built-in
    JSON), shared by every socket of that configuration."""
    if module is None and default is None:
        return None
    try:
        return _codec(module, default)
    except TypeError:  # an unhashable module-like object: not shared
        return JsonCodec(module, default)
