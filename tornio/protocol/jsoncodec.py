"""An application's JSON, sans-I/O: ``json_default`` (a function turning a value JSON has no
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

:meth:`JsonCodec.plain` makes a copy holding only what msgpack (the bus) carries, for the
other nodes.
"""

from __future__ import annotations

import decimal
import functools
import json as std_json
from collections.abc import Callable, Mapping
from typing import Any

import msgpack  # type: ignore[import-untyped]

__all__ = ["JsonCodec", "codec_for", "decimal_default"]

_BYTES_TYPES = (bytes, bytearray, memoryview)
_SCALARS = (str, int, float, bool, type(None), bytes)
_SEPARATORS = (",", ":")
_MAX_DEPTH = 100  # plain(): how deep a value (and what the default made of it) may nest


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
