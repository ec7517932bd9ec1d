"""HTTP response compression: whether a client takes gzip, and the gzipped body of a polling
answer when it is worth it (node's engine.io ``httpCompression``). Everything but
:func:`compress_answer` (which sets a handler's headers) is free of I/O.

The ``http_compression`` setting is True (node's default: a 1 KB threshold), False, or a dict
such as ``{"threshold": 1024, "level": 6}``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tornio.settings import check_http_compression

if TYPE_CHECKING:
    from tornado.web import RequestHandler

__all__ = ["HttpCompression", "accepts_gzip", "compress_answer", "compressed_answer", "gzip_body",
           "threshold"]

#: node's engine.io ``httpCompression.threshold``.
DEFAULT_THRESHOLD = 1024
#: zlib's default level (node's too): most of the gain of 9 for much less time.
DEFAULT_LEVEL = 6


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value lets a response be gzipped (RFC 9110 §12.5.3:
    ``gzip`` or ``x-gzip`` with a non-zero q, or ``*`` when gzip is not refused by name)."""
    if not accept_encoding:
        return False
    named: float | None = None
    star: float | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            named = q if named is None else max(named, q)
        elif coding == "*":
            star = q
    if named is not None:
        return named > 0
    return star is not None and star > 0


def gzip_body(body: bytes, level: int = DEFAULT_LEVEL) -> bytes:
    """``body`` as a gzip member (no name, no time stamp: the same bytes every time)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


@dataclass(frozen=True)
class HttpCompression:
    """What the ``http_compression`` setting asks for."""

    threshold: int = DEFAULT_THRESHOLD
    level: int = DEFAULT_LEVEL

    @classmethod
    def from_setting(cls, setting: bool | Mapping[str, Any] | None) -> HttpCompression | None:
        """The options an ``http_compression`` setting means; None when it is off.

        Raises:
            ValueError: an unknown option or a value out of range.
        """
        options = check_http_compression(setting)
        return None if options is None else cls(**options)

    def encode(self, body: bytes, accept_encoding: str) -> bytes | None:
        """The gzipped body when it is at least the threshold and the client takes gzip,
        else None (send it as it is)."""
        if len(body) < self.threshold or not accepts_gzip(accept_encoding):
            return None
        return gzip_body(body, self.level)


#: The HttpCompression of each setting value seen (by identity; True and False included).
_parsed: dict[int, tuple[Any, HttpCompression | None]] = {}


def _compression(setting: bool | Mapping[str, Any] | None) -> HttpCompression | None:
    known = _parsed.get(id(setting))
    if known is None or known[0] is not setting:
        known = _parsed[id(setting)] = (setting, HttpCompression.from_setting(setting))
    return known[1]


def _compressed(
    body: bytes, setting: bool | Mapping[str, Any] | None, accept_encoding: Callable[[], str]
) -> tuple[bytes, bool] | None:
    """None when ``body`` is not to be compressed under ``setting`` (off, or under the
    threshold); else the body to send and whether it is gzipped (``accept_encoding`` is asked
    only then)."""
    compression = _compression(setting)
    if compression is None or len(body) < compression.threshold:
        return None
    zipped = compression.encode(body, accept_encoding())
    return (body, False) if zipped is None else (zipped, True)


def compress_answer(
    handler: RequestHandler, body: bytes, setting: bool | Mapping[str, Any] | None
) -> bytes:
    """The body to send for a polling answer under the ``http_compression`` setting: gzipped
    (with ``Content-Encoding``) when it is at least the threshold and the client takes gzip.
    An answer that could be compressed says ``Vary: Accept-Encoding`` either way."""
    done = _compressed(body, setting,
                       lambda: handler.request.headers.get("Accept-Encoding", ""))
    if done is None:
        return body
    handler.set_header("Vary", "Accept-Encoding")
    if done[1]:
        handler.set_header("Content-Encoding", "gzip")
    return done[0]


def threshold(setting: bool | Mapping[str, Any] | None) -> int | None:
    """The size from which an answer is compressed under ``setting`` (None: never)."""
    compression = _compression(setting)
    return None if compression is None else compression.threshold


def compressed_answer(
    body: bytes, setting: bool | Mapping[str, Any] | None, accept_encoding: str
) -> tuple[bytes, str]:
    """:func:`compress_answer` for an answer whose head is written as text: the body to send
    and the header lines it adds (``Vary``, then ``Content-Encoding`` when gzipped)."""
    done = _compressed(body, setting, lambda: accept_encoding)
    if done is None:
        return body, ""
    if done[1]:
        return done[0], "Vary: Accept-Encoding\r\nContent-Encoding: gzip\r\n"
    return body, "Vary: Accept-Encoding\r\n"
