"""Engine.IO v4 (and v3) wire codec, sans-I/O.

This module owns the Engine.IO layer of the modern protocol and nothing else:

* packets, one per websocket frame (:func:`encode_packet`, :func:`decode_packet`): a text frame
  is ``<type digit><data>``; a binary message is the raw bytes in v4 and ``b'\\x04' + data`` in
  v3; a text frame starting with ``b`` is a base64 binary message;
* payloads, several packets in one polling body (:func:`encode_payload`,
  :func:`decode_payload`): v4 joins packets with ``\\x1e`` and writes binary messages as
  ``b<base64>``; v3 writes ``<len>:<packet>`` with ``len`` in UTF-16 code units and binary
  messages as ``b4<base64>``, or uses the XHR2 binary framing
  ``[0|1][length digits][0xff][bytes]...`` for clients that support binary;
* the handshake (:func:`open_packet`) and the HTTP error answers (:func:`error_body`).

It follows the reference ``engine.io-parser`` 5.x (v4) and engine.io's ``parser-v3``, except
that decoders are strict: input they cannot make sense of raises
:class:`~tornio.exceptions.InvalidPacket` (one packet) or
:class:`~tornio.exceptions.InvalidPayload` (a polling body) instead of an ``error`` packet.

No I/O, no clock, no Tornado.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeAlias

from tornio.exceptions import InvalidPacket, InvalidPayload
from tornio.protocol.legacy import utf16_len

__all__ = [
    "ERROR_MESSAGES",
    "SEPARATOR",
    "BytesLike",
    "ErrorCode",
    "Packet",
    "PacketType",
    "decode_packet",
    "decode_payload",
    "encode_packet",
    "encode_payload",
    "error_body",
    "open_packet",
]


BytesLike: TypeAlias = bytes | bytearray | memoryview
"""What decoders accept where they take binary data."""


class PacketType(IntEnum):
    """Engine.IO packet types; the value is the wire digit."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


@dataclass(frozen=True, slots=True)
class Packet:
    """One Engine.IO packet.

    ``data`` is ``None`` when nothing follows the type digit (decoding ``'4'`` gives
    ``Packet(MESSAGE)``, and ``Packet(MESSAGE, '')`` encodes as ``'4'`` too). It is ``bytes``
    only for a binary ``MESSAGE``.
    """

    type: PacketType
    data: str | bytes | None = None


SEPARATOR = "\x1e"
"""Record separator between the packets of a v4 polling payload."""


class ErrorCode(IntEnum):
    """Engine.IO HTTP error codes, as the reference server's ``Server.errors``."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5


ERROR_MESSAGES: dict[int, str] = {
    ErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    ErrorCode.UNKNOWN_SID: "Session ID unknown",
    ErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    ErrorCode.BAD_REQUEST: "Bad request",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}
"""The reference server's message for each :class:`ErrorCode`."""

_MESSAGE = PacketType.MESSAGE
_BYTES_TYPES = (bytes, bytearray, memoryview)
_DIGITS: tuple[str, ...] = tuple(str(t.value) for t in PacketType)
_TYPE_BY_CHAR: dict[str, PacketType] = {str(t.value): t for t in PacketType}
# Decoded packets without data are immutable, so one instance per type serves every frame.
_BARE: dict[str, Packet] = {str(t.value): Packet(t) for t in PacketType}
_VERSIONS = (3, 4)

# Compact JSON, as JSON.stringify writes it.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

# Lengths have at most 16 digits (more exceed any body) so that int() stays cheap.
_MAX_LENGTH_DIGITS = 16
_match_length = re.compile(r"([0-9]{1,16}):").match
_match_length_utf16 = re.compile(b"((?:[0-9]\x00){1,16}):\x00").match
_search_astral = re.compile("[\U00010000-\U0010ffff]").search
_fullmatch_b64 = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
).fullmatch
# XHR2 framing writes each length digit as a byte of that value (3 -> b'\x03').
_DIGIT_VALUES = bytes.maketrans(b"0123456789", bytes(range(10)))
_DIGIT_CHARS = bytes.maketrans(bytes(range(10)), b"0123456789")


def _check_version(version: int) -> None:
    if version not in _VERSIONS:
        raise ValueError(f"unsupported Engine.IO version {version!r}")


def _excerpt(data: str | BytesLike, limit: int = 40) -> str:
    return repr(data) if len(data) <= limit else repr(data[:limit]) + "..."


def _b64encode(data: BytesLike) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _b64decode(text: str) -> bytes:
    # Strict: the standard alphabet, padded, nothing after the padding (clients always pad).
    if _fullmatch_b64(text) is None:
        raise InvalidPacket(f"invalid base64 data {_excerpt(text)}")
    return binascii.a2b_base64(text)


# --- packets -----------------------------------------------------------------------------------


def encode_packet(packet: Packet, version: int = 4) -> str | bytes:
    """Encode ``packet`` as one websocket frame.

    Text packets give ``<type digit><data>``. A binary message gives its bytes in v4 and
    ``b'\\x04' + data`` in v3.

    Raises:
        ValueError: binary data on a packet that is not a ``MESSAGE``; an unknown version.
        TypeError: data that is neither str nor bytes.
    """
    data = packet.data
    if data is None:
        return _DIGITS[packet.type]
    if type(data) is str:
        return _DIGITS[packet.type] + data
    if not isinstance(data, _BYTES_TYPES):
        raise TypeError(f"packet data must be str or bytes, not {type(data).__name__}")
    if packet.type != _MESSAGE:
        raise ValueError(f"only a MESSAGE packet can carry binary data, not {packet.type.name}")
    if version == 4:
        return bytes(data)
    _check_version(version)
    return b"\x04" + data


def decode_packet(frame: str | BytesLike, version: int = 4) -> Packet:
    """Decode one websocket frame (or one packet of a payload).

    A text frame is ``<type digit>[<data>]``, or ``b<base64>`` for a binary message (v3:
    ``b4<base64>``). A binary frame is a binary message: its bytes in v4; in v3 its first byte
    is the packet type, which must be ``4``. ``data`` is ``None`` when the frame holds only the
    type.

    Raises:
        InvalidPacket: an empty frame, an unknown type, a binary packet that is not a message,
            invalid base64.
        ValueError: an unknown version, for frames whose encoding depends on it.
    """
    if type(frame) is str:
        if not frame:
            raise InvalidPacket("empty packet")
        char = frame[0]
        if char == "b":
            if version == 4:
                return Packet(_MESSAGE, _b64decode(frame[1:]))
            _check_version(version)
            if frame[1:2] != "4":
                raise InvalidPacket(f"base64 packet is not a message: {_excerpt(frame)}")
            return Packet(_MESSAGE, _b64decode(frame[2:]))
        if len(frame) == 1:
            bare = _BARE.get(char)
            if bare is None:
                raise InvalidPacket(f"unknown packet type {_excerpt(frame)}")
            return bare
        ptype = _TYPE_BY_CHAR.get(char)
        if ptype is None:
            raise InvalidPacket(f"unknown packet type {_excerpt(frame)}")
        return Packet(ptype, frame[1:])
    if not isinstance(frame, _BYTES_TYPES):
        raise TypeError(f"a frame must be str or bytes, not {type(frame).__name__}")
    if version == 4:
        return Packet(_MESSAGE, bytes(frame))
    _check_version(version)
    if not frame:
        raise InvalidPacket("empty binary packet")
    if frame[0] != 4:
        raise InvalidPacket(f"binary packet is not a message: type byte {frame[0]}")
    return Packet(_MESSAGE, bytes(frame[1:]))


# --- payloads ----------------------------------------------------------------------------------


def _text(item: Packet | str | BytesLike) -> str | None:
    """The text encoding of ``item``, or None for a binary message."""
    if type(item) is str:
        return item
    if isinstance(item, Packet):
        data = item.data
        if data is None:
            return _DIGITS[item.type]
        if type(data) is str:
            return _DIGITS[item.type] + data
        if isinstance(data, _BYTES_TYPES) and item.type != _MESSAGE:
            raise ValueError(f"only a MESSAGE packet can carry binary data, not {item.type.name}")
        return None
    return None


def _binary(item: Packet | str | BytesLike) -> BytesLike:
    data = item.data if isinstance(item, Packet) else item
    if not isinstance(data, _BYTES_TYPES):
        raise TypeError(f"cannot encode {type(item).__name__} in a payload")
    return data


def encode_payload(
    packets: Sequence[Packet | str | BytesLike], version: int = 4, *, b64: bool = True
) -> str | bytes:
    """Encode ``packets`` as the body of a polling GET answer.

    Items are :class:`Packet` instances or already-encoded frames: a ``str`` is a text packet
    as :func:`encode_packet` gives it (``'4hello'``), ``bytes`` is the data of a binary message.

    * v4: the packets joined by ``\\x1e``, binary messages as ``b<base64>`` (``b64`` is
      ignored: v4 always uses base64). No packets give ``''``. Text holding ``\\x1e`` cannot
      be framed; like the reference, this is not checked.
    * v3 with ``b64`` or without binary messages: ``<len>:<packet>`` for each, ``len`` in
      UTF-16 code units, binary messages as ``b4<base64>``. No packets give ``'0:'`` as the
      reference server does.
    * v3 without ``b64`` and with a binary message: ``bytes`` in the XHR2 framing, each packet
      as a marker byte (0 text, 1 binary), its byte length as one byte per decimal digit,
      ``0xff``, then the UTF-8 text or ``b'\\x04'`` + the binary data.

    Raises:
        ValueError: binary data on a packet that is not a ``MESSAGE``; unknown version.
        TypeError: an item that is neither a Packet, str nor bytes.
    """
    if version == 4:
        parts = []
        for item in packets:
            text = _text(item)
            parts.append(text if text is not None else "b" + _b64encode(_binary(item)))
        return SEPARATOR.join(parts)
    _check_version(version)
    texts = [_text(item) for item in packets]
    if b64 or None not in texts:
        if not texts:
            return "0:"
        out = []
        for item, text in zip(packets, texts, strict=True):
            if text is None:
                text = "b4" + _b64encode(_binary(item))
            out.append(f"{len(text) if text.isascii() else utf16_len(text)}:{text}")
        return "".join(out)
    body = bytearray()
    for item, text in zip(packets, texts, strict=True):
        if text is None:
            data = _binary(item)
            body.append(1)
            body += str(len(data) + 1).encode("ascii").translate(_DIGIT_VALUES)
            body += b"\xff\x04"
            body += data
        else:
            encoded = text.encode("utf-8")
            body.append(0)
            body += str(len(encoded)).encode("ascii").translate(_DIGIT_VALUES)
            body.append(0xFF)
            body += encoded
    return bytes(body)


def decode_payload(
    body: str | BytesLike, version: int = 4, *, binary_body: bool = False
) -> list[Packet]:
    """Decode the body of a polling POST into packets.

    * v4: packets separated by ``\\x1e``; each must decode (an empty record is an error).
    * v3 text: ``<len>:<packet>`` records up to the end, ``len`` in UTF-16 code units; records
      of length 0 are skipped, as the reference does.
    * v3 with ``binary_body`` (an ``application/octet-stream`` body): the XHR2 framing that
      :func:`encode_payload` writes.

    A ``bytes`` body without ``binary_body`` is decoded as UTF-8 first.

    Raises:
        InvalidPayload: an empty body, broken framing, a length running past the end, bytes
            that are not UTF-8, a binary body for v4, or a packet that does not decode (then
            chained from its :class:`~tornio.exceptions.InvalidPacket`).
        ValueError: unknown version.
    """
    _check_version(version)
    if binary_body:
        if version == 4:
            raise InvalidPayload("binary bodies are for Engine.IO v3 only")
        if isinstance(body, str):
            raise TypeError("a binary body must be bytes")
        return _decode_binary_payload(bytes(body))
    if not isinstance(body, str):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidPayload(f"payload is not UTF-8: {exc}") from None
    if not body:
        raise InvalidPayload("empty payload")
    if version == 4:
        packets: list[Packet] = []
        for index, record in enumerate(body.split(SEPARATOR)):
            try:
                packets.append(decode_packet(record, 4))
            except InvalidPacket as exc:
                raise InvalidPayload(f"packet {index}: {exc}") from exc
        return packets
    records = _split_v3(body) if _search_astral(body) is None else _split_v3_utf16(body)
    return [_decode_record(record, index) for index, record in enumerate(records) if record]


def _decode_record(record: str | bytes, index: int) -> Packet:
    try:
        return decode_packet(record, 3)
    except InvalidPacket as exc:
        raise InvalidPayload(f"packet {index}: {exc}") from exc


def _split_v3(body: str) -> list[str]:
    # No astral characters: a str index is a UTF-16 index.
    records = []
    pos = 0
    end = len(body)
    while pos < end:
        m = _match_length(body, pos)
        if m is None:
            raise InvalidPayload(f"expected '<length>:' at unit {pos}: {_excerpt(body[pos:], 20)}")
        start = m.end()
        stop = start + int(m.group(1))
        if stop > end:
            raise InvalidPayload(f"length {m.group(1)} at unit {pos} runs past the end")
        records.append(body[start:stop])
        pos = stop
    return records


def _split_v3_utf16(body: str) -> list[str]:
    buf = body.encode("utf-16-le", "surrogatepass")
    records = []
    pos = 0
    end = len(buf)
    while pos < end:
        m = _match_length_utf16(buf, pos)
        if m is None:
            window = buf[pos : pos + 40].decode("utf-16-le", "replace")
            raise InvalidPayload(f"expected '<length>:' at unit {pos >> 1}: {window!r}")
        digits = m.group(1)[::2]
        start = m.end()
        stop = start + (int(digits) << 1)
        if stop > end:
            raise InvalidPayload(f"length {digits.decode()} at unit {pos >> 1} runs past the end")
        try:
            records.append(buf[start:stop].decode("utf-16-le"))
        except UnicodeDecodeError:
            raise InvalidPayload(
                f"length {digits.decode()} at unit {pos >> 1} splits a surrogate pair"
            ) from None
        pos = stop
    return records


def _decode_binary_payload(body: bytes) -> list[Packet]:
    if not body:
        raise InvalidPayload("empty payload")
    packets: list[Packet] = []
    pos = 0
    end = len(body)
    while pos < end:
        marker = body[pos]
        if marker > 1:
            raise InvalidPayload(f"expected a 0 or 1 marker at byte {pos}, got {marker}")
        sep = body.find(b"\xff", pos + 1, pos + 2 + _MAX_LENGTH_DIGITS)
        digits = body[pos + 1 : sep]
        if sep < 0 or not digits or max(digits) > 9:
            raise InvalidPayload(f"malformed length after the marker at byte {pos}")
        start = sep + 1
        stop = start + int(digits.translate(_DIGIT_CHARS))
        if stop > end:
            raise InvalidPayload(f"length at byte {pos} runs past the end")
        chunk = body[start:stop]
        record: str | bytes
        if marker == 0:
            try:
                record = chunk.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidPayload(f"text packet at byte {pos} is not UTF-8") from None
        else:
            record = chunk
        packets.append(_decode_record(record, len(packets)))
        pos = stop
    return packets


# --- handshake and errors ----------------------------------------------------------------------


def open_packet(
    sid: str,
    upgrades: Sequence[str],
    ping_interval_ms: int,
    ping_timeout_ms: int,
    max_payload: int,
) -> str:
    """The open packet: ``0`` + the handshake JSON, keys in the reference server's order.

    >>> open_packet("lv_VI97HAXpY6yYWAAAC", ["websocket"], 25000, 20000, 1000000)
    '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,\
"pingTimeout":20000,"maxPayload":1000000}'
    """
    return "0" + _encode_json(
        {
            "sid": sid,
            "upgrades": list(upgrades),
            "pingInterval": ping_interval_ms,
            "pingTimeout": ping_timeout_ms,
            "maxPayload": max_payload,
        }
    )


def error_body(code: int, message: str | None = None) -> tuple[int, str]:
    """The HTTP status and JSON body answering a request refused with ``code``.

    The status is 403 for :attr:`ErrorCode.FORBIDDEN` and 400 otherwise; the body is
    ``{"code":<code>,"message":<message>}``, the message defaulting to the reference server's
    (``message`` overrides it, as ``allowRequest`` may for code 4).

    Raises:
        ValueError: ``code`` is not an Engine.IO error code.
    """
    default = ERROR_MESSAGES.get(code)
    if default is None:
        raise ValueError(f"unknown Engine.IO error code {code!r}")
    status = 403 if code == ErrorCode.FORBIDDEN else 400
    body = {"code": int(code), "message": default if message is None else message}
    return status, _encode_json(body)
