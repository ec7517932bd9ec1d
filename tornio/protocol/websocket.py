"""RFC 6455 websocket framing for a server, without I/O.

:class:`FrameDecoder` turns the bytes a client sends into messages and control frames,
enforcing what a server must (masked frames, no reserved bits, well-formed control frames,
valid UTF-8 text, a size limit) and naming the close code for every violation.
:func:`encode_frame` builds the unmasked frames a server sends. With permessage-deflate
negotiated (:mod:`tornio.protocol.permessage_deflate`) the decoder takes RSV1 on a message's
first frame and hands such a message on compressed (``opcode | DEFLATED``, bytes);
:func:`compressed_frame` builds one.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from tornio.exceptions import WebSocketError

__all__ = [
    "BINARY",
    "CLOSE",
    "DEFLATED",
    "PING",
    "PONG",
    "TEXT",
    "FrameDecoder",
    "accept_key",
    "close_frame",
    "compressed_frame",
    "encode_frame",
    "parse_close",
    "unmask",
]

CONTINUATION, TEXT, BINARY = 0x0, 0x1, 0x2
CLOSE, PING, PONG = 0x8, 0x9, 0xA
DATA_OPCODES = frozenset((CONTINUATION, TEXT, BINARY))
CONTROL_OPCODES = frozenset((CLOSE, PING, PONG))
#: Or-ed into a message's opcode by the decoder: its payload is compressed (RSV1 was set).
DEFLATED = 0x40

# Close codes (RFC 6455 §7.4.1).
NORMAL, PROTOCOL_ERROR, INVALID_DATA, TOO_BIG = 1000, 1002, 1007, 1009

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_HEAD_BIG = struct.Struct("!BBQ")
_HEAD_MEDIUM = struct.Struct("!BBH")


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte ``mask`` repeated (big integers do it in C)."""
    length = len(payload)
    if not length:
        return b""
    key = (mask * ((length + 3) >> 2))[:length]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")
    return value.to_bytes(length, "big")


# The last text message framed, and its frame: a broadcast passes one ``str`` object to every
# recipient, so the frame built for the first is reused for the rest (identity, no hashing).
_last_text: str | None = None
_last_frame = b""


#: The head of each short text frame, by payload length (no tuple and ``bytes`` call each).
_TEXT_HEADS = tuple(bytes((0x80 | TEXT, length)) for length in range(126))


def encode_frame(data: str | bytes, opcode: int | None = None) -> bytes:
    """One final, unmasked frame: text for ``str``, binary for ``bytes`` (or ``opcode``)."""
    global _last_text, _last_frame
    if opcode is None and type(data) is str:  # the usual frame: one message's text
        if data is _last_text:
            return _last_frame
        payload = data.encode("utf-8")
        length = len(payload)
        if length < 126:
            frame = _TEXT_HEADS[length] + payload
        elif length < 65536:
            frame = _HEAD_MEDIUM.pack(0x81, 126, length) + payload
        else:
            frame = _HEAD_BIG.pack(0x81, 127, length) + payload
        _last_text, _last_frame = data, frame
        return frame
    # Binary data, an opcode given (never kept for reuse), a str subclass.
    if isinstance(data, str):
        payload = data.encode("utf-8")
        first = 0x80 | (TEXT if opcode is None else opcode)
    else:
        payload = bytes(data)
        first = 0x80 | (BINARY if opcode is None else opcode)
    length = len(payload)
    if length < 126:
        return bytes((first, length)) + payload
    if length < 65536:
        return _HEAD_MEDIUM.pack(first, 126, length) + payload
    return _HEAD_BIG.pack(first, 127, length) + payload


def compressed_frame(payload: bytes, opcode: int) -> bytes:
    """One final, unmasked frame with RSV1 set: a permessage-deflate message."""
    first = 0xC0 | opcode
    length = len(payload)
    if length < 126:
        return bytes((first, length)) + payload
    if length < 65536:
        return _HEAD_MEDIUM.pack(first, 126, length) + payload
    return _HEAD_BIG.pack(first, 127, length) + payload


def close_frame(code: int | None = NORMAL, reason: str = "") -> bytes:
    """A close frame; ``code=None`` sends an empty one (the answer to an empty close)."""
    if code is None:
        return bytes((0x80 | CLOSE, 0))
    return encode_frame(struct.pack("!H", code) + reason.encode("utf-8")[:123], CLOSE)


def parse_close(payload: bytes) -> tuple[int | None, str]:
    """The code and reason of a received close frame (validated by the decoder)."""
    if not payload:
        return None, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8")


def _valid_close_code(code: int) -> bool:
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011) or 3000 <= code < 5000


class FrameDecoder:
    """Bytes from a client in, ``(opcode, payload)`` events out.

    Events are ``(TEXT, str)``, ``(BINARY, bytes)`` for whole messages (fragments are
    joined), and ``(PING | PONG | CLOSE, bytes)`` for control frames. With ``compressed``
    (permessage-deflate negotiated), a message whose first frame has RSV1 set comes as
    ``(TEXT | DEFLATED, bytes)`` or ``(BINARY | DEFLATED, bytes)``, still compressed. Any
    violation raises :class:`~tornio.exceptions.WebSocketError`; the decoder is then
    unusable and the connection must close.
    """

    __slots__ = (
        "_buffer", "_deflated", "_fragments", "_need", "_opcode", "_size", "compressed",
        "max_size",
    )  # fmt: skip

    def __init__(self, max_size: int, compressed: bool = False) -> None:
        self.max_size = max_size
        #: Whether permessage-deflate was negotiated (RSV1 allowed on a message's start).
        self.compressed = compressed
        self._deflated = False  # the fragmented message in progress is compressed
        self._buffer = bytearray()
        self._need = 0  # bytes the buffered frame needs before it can be parsed
        self._fragments: list[bytes] = []
        self._opcode = 0  # the opcode of the fragmented message in progress (0: none)
        self._size = 0

    def feed(self, data: bytes) -> list[tuple[int, str | bytes]]:
        buffer = self._buffer
        if buffer:
            buffer += data
            if len(buffer) < self._need:
                return []
            data = bytes(buffer)
            buffer.clear()
        events: list[tuple[int, str | bytes]] = []
        end = len(data)
        pos = 0
        while pos < end:
            if end - pos < 2:
                self._keep(data, pos, 2)
                break
            first, second = data[pos], data[pos + 1]
            if first & 0x70:
                self._check_rsv(first)
            if not second & 0x80:
                raise WebSocketError(PROTOCOL_ERROR, "client frames must be masked")
            length = second & 0x7F
            head = 6
            if length == 126:
                head = 8
                if end - pos < head:
                    self._keep(data, pos, head)
                    break
                length = (data[pos + 2] << 8) | data[pos + 3]
            elif length == 127:
                head = 14
                if end - pos < head:
                    self._keep(data, pos, head)
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
            opcode = first & 0x0F
            if opcode >= 8:
                if opcode not in CONTROL_OPCODES:
                    raise WebSocketError(PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
                if length > 125 or not first & 0x80:
                    raise WebSocketError(PROTOCOL_ERROR, "control frames are short and whole")
            elif opcode not in DATA_OPCODES:
                raise WebSocketError(PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
            elif length > self.max_size or self._size + length > self.max_size:
                raise WebSocketError(TOO_BIG, f"message larger than {self.max_size} bytes")
            stop = pos + head + length
            if stop > end:
                self._keep(data, pos, head + length)
                break
            payload = unmask(data[pos + head : stop], data[pos + head - 4 : pos + head])
            pos = stop
            if opcode >= 8:
                if opcode == CLOSE:
                    self._check_close(payload)
                events.append((opcode, payload))
            else:
                event = self._data(opcode, bool(first & 0x80), payload, bool(first & 0x40))
                if event is not None:
                    events.append(event)
        return events

    def _check_rsv(self, first: int) -> None:
        """RSV1 is allowed only with permessage-deflate, on a message's first frame."""
        if not self.compressed or first & 0x30:
            raise WebSocketError(PROTOCOL_ERROR, "reserved bits set without an extension")
        if first & 0x0F not in (TEXT, BINARY):
            raise WebSocketError(PROTOCOL_ERROR, "RSV1 on a control or continuation frame")

    def _keep(self, data: bytes, pos: int, need: int) -> None:
        self._buffer += memoryview(data)[pos:]
        self._need = need

    def _data(
        self, opcode: int, fin: bool, payload: bytes, deflated: bool = False
    ) -> tuple[int, str | bytes] | None:
        if opcode == CONTINUATION:
            if not self._opcode:
                raise WebSocketError(PROTOCOL_ERROR, "continuation without a message to continue")
            self._fragments.append(payload)
            self._size += len(payload)
            if not fin:
                return None
            opcode, payload = self._opcode, b"".join(self._fragments)
            deflated = self._deflated
            self._opcode, self._size, self._deflated = 0, 0, False
            self._fragments.clear()
        elif self._opcode:
            raise WebSocketError(PROTOCOL_ERROR, "a new message inside a fragmented one")
        elif not fin:
            self._opcode, self._size, self._deflated = opcode, len(payload), deflated
            self._fragments.append(payload)
            return None
        if deflated:
            return opcode | DEFLATED, payload
        if opcode == BINARY:
            return BINARY, payload
        try:
            return TEXT, payload.decode("utf-8")
        except UnicodeDecodeError:
            raise WebSocketError(INVALID_DATA, "text message is not UTF-8") from None

    @staticmethod
    def _check_close(payload: bytes) -> None:
        if len(payload) == 1:
            raise WebSocketError(PROTOCOL_ERROR, "a close payload of one byte")
        if payload:
            code = struct.unpack("!H", payload[:2])[0]
            if not _valid_close_code(code):
                raise WebSocketError(PROTOCOL_ERROR, f"close code {code} is not allowed")
            try:
                payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise WebSocketError(INVALID_DATA, "close reason is not UTF-8") from None
