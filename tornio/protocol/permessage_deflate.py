"""permessage-deflate (RFC 7692) for a websocket server, without I/O: the negotiation of the
``Sec-WebSocket-Extensions`` offer, and the compression of one connection's messages.

The ``per_message_deflate`` setting is False (node's default: no extension), True (the
defaults of :class:`DeflateOptions`) or a dict of its fields. Messages of at least
``threshold`` bytes are compressed (node's 1024); shorter ones, and control frames, go as
they are. A client's compressed messages are inflated with a size limit, so a small frame
cannot inflate into a huge message.

By default the server compresses without context takeover (each message on its own, as if
``server_no_context_takeover`` had been asked): no zlib state is kept per connection between
messages, and a broadcast, encoded once for every recipient of a kind, is compressed once
too (:meth:`Deflater.compress` remembers the last message it compressed, by identity).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tornio.exceptions import DeflateError
from tornio.protocol import websocket as ws
from tornio.settings import check_per_message_deflate

__all__ = ["Agreement", "DeflateOptions", "Deflater", "Inflater", "negotiate"]

EXTENSION = "permessage-deflate"
#: zlib's raw deflate cannot use an 8-bit window (it makes it 9): such an offer is declined.
MIN_WINDOW_BITS = 9
MAX_WINDOW_BITS = 15
#: What ends every compressed message, and is left off the wire (RFC 7692 §7.2.1).
TAIL = b"\x00\x00\xff\xff"


@dataclass(frozen=True)
class DeflateOptions:
    """What the server accepts and asks for."""

    #: Messages shorter than this many bytes are sent uncompressed.
    threshold: int = 1024
    #: Compress each message on its own (asked of ourselves, whatever the client offers).
    server_no_context_takeover: bool = True
    #: Ask the client to compress each message on its own (no inflate state kept between
    #: its messages).
    client_no_context_takeover: bool = False
    #: The largest window the server compresses with (a client may ask for less).
    server_max_window_bits: int = MAX_WINDOW_BITS
    #: The window asked of a client that offers ``client_max_window_bits``.
    client_max_window_bits: int = MAX_WINDOW_BITS
    #: zlib's compression level and memory level.
    level: int = 6
    mem_level: int = 8

    @classmethod
    def from_setting(cls, setting: bool | Mapping[str, Any] | None) -> DeflateOptions | None:
        """The options a ``per_message_deflate`` setting means; None when it is off.

        Raises:
            ValueError: an unknown option or a value out of range.
        """
        options = check_per_message_deflate(setting)
        return None if options is None else cls(**options)


@dataclass(frozen=True)
class Agreement:
    """What was agreed for one connection, and the response header that says so."""

    server_no_context_takeover: bool
    client_no_context_takeover: bool
    server_window_bits: int
    client_window_bits: int
    header: str


def _split(header: str, separator: str) -> list[str]:
    """``header`` split on ``separator`` outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _offers(header: str) -> list[dict[str, str | None]]:
    """The permessage-deflate offers of a ``Sec-WebSocket-Extensions`` value, in order; an
    offer with a parameter named twice is left out (RFC 7692 §7: it must be declined)."""
    offers = []
    for extension in _split(header, ","):
        name, *params = (part.strip() for part in _split(extension, ";"))
        if name.lower() != EXTENSION:
            continue
        offer: dict[str, str | None] = {}
        for param in params:
            if not param:
                continue
            key, sep, value = param.partition("=")
            key = key.strip().lower()
            if key in offer:
                break
            offer[key] = value.strip().strip('"') if sep else None
        else:
            offers.append(offer)
    return offers


def _bits(value: str | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    bits = int(value)
    return bits if 8 <= bits <= MAX_WINDOW_BITS else None


def negotiate(header: str | None, options: DeflateOptions) -> Agreement | None:
    """The agreement for the first acceptable offer in ``header``, or None (no extension)."""
    if not header:
        return None
    for offer in _offers(header):
        agreement = _accept(offer, options)
        if agreement is not None:
            return agreement
    return None


def _accept(offer: dict[str, str | None], options: DeflateOptions) -> Agreement | None:
    known = {
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    }
    if set(offer) - known:
        return None
    for flag in ("server_no_context_takeover", "client_no_context_takeover"):
        if flag in offer and offer[flag] is not None:
            return None
    response = [EXTENSION]
    server_nct = options.server_no_context_takeover or "server_no_context_takeover" in offer
    if server_nct:
        response.append("server_no_context_takeover")
    client_nct = options.client_no_context_takeover or "client_no_context_takeover" in offer
    if client_nct:
        response.append("client_no_context_takeover")
    server_bits = options.server_max_window_bits
    if "server_max_window_bits" in offer:
        asked = _bits(offer["server_max_window_bits"])
        if asked is None or asked < MIN_WINDOW_BITS:
            return None  # no value, a bad one, or 8 (which zlib cannot honour)
        server_bits = min(server_bits, asked)
        response.append(f"server_max_window_bits={server_bits}")
    elif server_bits < MAX_WINDOW_BITS:
        response.append(f"server_max_window_bits={server_bits}")
    client_bits = MAX_WINDOW_BITS
    if "client_max_window_bits" in offer:
        value = offer["client_max_window_bits"]
        offered = MAX_WINDOW_BITS if value is None else _bits(value)
        if offered is None:
            return None
        client_bits = min(offered, options.client_max_window_bits)
        if client_bits < MAX_WINDOW_BITS:
            response.append(f"client_max_window_bits={client_bits}")
    return Agreement(server_nct, client_nct, server_bits, client_bits, "; ".join(response))


# -- compressing and inflating ---------------------------------------------------------------

# The last message compressed without context takeover, and its frame: a broadcast hands
# one object to every recipient, so it is compressed (and framed) once.
_last_key: tuple[int, int, int] | None = None
_last_data: object = None
_last_frame = b""


class Deflater:
    """Compresses one connection's outgoing messages."""

    __slots__ = ("_compressor", "level", "mem_level", "takeover", "threshold", "wbits")

    def __init__(self, agreement: Agreement, options: DeflateOptions) -> None:
        self.threshold = options.threshold
        self.level = options.level
        self.mem_level = options.mem_level
        self.wbits = agreement.server_window_bits
        self.takeover = not agreement.server_no_context_takeover
        self._compressor: Any = None

    def frame(self, data: str | bytes) -> bytes | None:
        """The compressed frame for ``data``, or None when it is under the threshold (send
        it uncompressed)."""
        global _last_key, _last_data, _last_frame
        if len(data) * (3 if isinstance(data, str) else 1) < self.threshold:
            return None  # short for sure, without encoding it
        key = (self.level, self.mem_level, self.wbits)
        if not self.takeover and data is _last_data and key == _last_key:
            return _last_frame
        if isinstance(data, str):
            payload, opcode = data.encode("utf-8"), ws.TEXT
        else:
            payload, opcode = bytes(data), ws.BINARY
        if len(payload) < self.threshold:
            return None
        frame = ws.compressed_frame(self.compress(payload), opcode)
        if not self.takeover:
            _last_key, _last_data, _last_frame = key, data, frame
        return frame

    def compress(self, payload: bytes) -> bytes:
        """``payload`` compressed, without the trailing 4 bytes (RFC 7692 §7.2.1)."""
        if self.takeover:
            if self._compressor is None:
                self._compressor = self._new()
            compressor = self._compressor
        else:
            compressor = self._new()
        out = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4] if out.endswith(TAIL) else out

    def _new(self) -> Any:
        return zlib.compressobj(self.level, zlib.DEFLATED, -self.wbits, self.mem_level)


class Inflater:
    """Inflates one connection's incoming compressed messages, at most ``max_size`` bytes
    each."""

    __slots__ = ("_decompressor", "max_size", "takeover")

    def __init__(self, agreement: Agreement, max_size: int) -> None:
        self.max_size = max_size
        self.takeover = not agreement.client_no_context_takeover
        self._decompressor: Any = None

    def inflate(self, data: bytes) -> bytes:
        """Raises DeflateError for data that is not deflate, or that inflates too far."""
        decompressor = self._decompressor
        if decompressor is None:
            # The largest window: it reads whatever window the client compressed with.
            decompressor = zlib.decompressobj(-MAX_WINDOW_BITS)
            if self.takeover:
                self._decompressor = decompressor
        try:
            out = decompressor.decompress(data + TAIL, self.max_size + 1)
        except zlib.error as exc:
            self._decompressor = None
            raise DeflateError(f"bad compressed data: {exc}") from None
        if len(out) > self.max_size or decompressor.unconsumed_tail:
            self._decompressor = None
            raise DeflateError(f"message inflates past {self.max_size} bytes", too_big=True)
        if decompressor.eof:
            # A final block ends the stream: the client cannot go on with this context.
            self._decompressor = None
        return out
