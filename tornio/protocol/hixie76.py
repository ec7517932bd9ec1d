"""WebSocket draft hixie-76 (the Flash bridge's protocol), sans-I/O.

Tornado speaks RFC 6455 only; socket.io-client 0.9's ``WebSocketMain.swf`` speaks draft 76
(``reference/legacy.md`` §2.6–§2.7). This module holds the whole protocol and no I/O:

* the handshake proof: each of ``Sec-WebSocket-Key1``/``Key2`` stands for the number formed by
  its digits divided by its count of spaces (:func:`key_number`); the server answers the 16-byte
  MD5 of both numbers (32-bit big-endian) followed by the 8-byte ``key3`` that comes after the
  request headers (:func:`challenge_response`); :func:`make_key` builds keys as a client does;
* the server's handshake head (:func:`handshake_response`);
* framing: a text frame is ``0x00 <UTF-8> 0xFF`` (:func:`encode_frame`); ``0xFF 0x00`` closes
  (:data:`CLOSE_FRAME`). :class:`FrameParser` is fed bytes in any slices and gives whole
  messages; it discards the frame types the draft reserves and enforces a size limit.
"""

from __future__ import annotations

import hashlib
import random
import struct

from tornio.exceptions import ProtocolError

__all__ = [
    "CLOSE_FRAME",
    "FrameParser",
    "HandshakeError",
    "challenge_response",
    "encode_frame",
    "handshake_response",
    "key_number",
    "make_key",
]

#: The closing handshake, both ways.
CLOSE_FRAME = b"\xff\x00"

_MAX_KEY = 0xFFFFFFFF
_KEY_NOISE = [chr(c) for c in (*range(0x21, 0x30), *range(0x3A, 0x7F))]


class HandshakeError(ProtocolError):
    """A draft-76 handshake header that cannot be answered."""


class FrameError(ProtocolError):
    """A draft-76 frame that breaks the protocol or a limit."""


def key_number(key: str) -> int:
    """The number a ``Sec-WebSocket-Key1``/``Key2`` value stands for.

    Its digits form an integer that must be a whole multiple of its count of spaces; the
    quotient (a 32-bit value) is the key's number.
    """
    digits = "".join(c for c in key if "0" <= c <= "9")
    spaces = key.count(" ")
    if not digits or spaces == 0:
        raise HandshakeError("a key needs digits and at least one space")
    value = int(digits)
    if value % spaces:
        raise HandshakeError("a key's number is not a multiple of its spaces")
    number = value // spaces
    if number > _MAX_KEY:
        raise HandshakeError("a key's number does not fit in 32 bits")
    return number


def challenge_response(key1: str, key2: str, key3: bytes) -> bytes:
    """The 16 bytes that prove the server read this handshake."""
    if len(key3) != 8:
        raise HandshakeError("key3 must be 8 bytes")
    return hashlib.md5(
        struct.pack(">II", key_number(key1), key_number(key2)) + key3, usedforsecurity=False
    ).digest()


def make_key(rng: random.Random | None = None) -> tuple[str, int]:
    """A client's ``Sec-WebSocket-Key`` value and the number it stands for (draft 76 §4.1)."""
    rng = rng or random.SystemRandom()
    spaces = rng.randint(1, 12)
    number = rng.randint(0, _MAX_KEY // spaces)
    chars = list(str(number * spaces))
    for _ in range(rng.randint(1, 12)):
        chars.insert(rng.randint(0, len(chars)), rng.choice(_KEY_NOISE))
    for _ in range(spaces):
        chars.insert(rng.randint(1, len(chars) - 1), " ")
    return "".join(chars), number


def handshake_response(origin: str, location: str, protocol: str | None = None) -> bytes:
    """The server's handshake head, up to and including the blank line (the 16-byte
    :func:`challenge_response` follows it)."""
    lines = [
        "HTTP/1.1 101 WebSocket Protocol Handshake",
        "Upgrade: WebSocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Origin: {origin}",
        f"Sec-WebSocket-Location: {location}",
    ]
    if protocol:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    if any(c in "\r\n" for c in origin + location + (protocol or "")):
        raise HandshakeError("a header value with a line break")
    return head.encode("utf-8")


def encode_frame(message: str) -> bytes:
    """One text frame. UTF-8 never contains 0xFF, so no escaping is needed (a lone surrogate,
    which UTF-8 cannot carry, becomes ``?`` as in every other transport)."""
    return b"\x00" + message.encode("utf-8", "replace") + b"\xff"


class FrameParser:
    """Bytes in, text messages out. ``closed`` turns True on the closing frame.

    ``feed`` raises :class:`FrameError` when a frame exceeds ``max_size`` bytes or a text
    frame is not UTF-8; after that, or after the closing frame, it accepts nothing more.
    """

    __slots__ = ("_buffer", "_length", "_skip", "_state", "_type", "closed", "max_size")

    _TYPE, _TEXT, _DISCARD_TEXT, _LENGTH, _SKIP, _DONE = range(6)

    def __init__(self, max_size: int = 1_000_000) -> None:
        self.max_size = max_size
        self.closed = False
        self._state = self._TYPE
        self._buffer = bytearray()
        self._length = 0
        self._skip = 0
        self._type = 0

    def feed(self, data: bytes) -> list[str]:
        if self._state == self._DONE:
            if data:
                raise FrameError("data after the end of the stream")
            return []
        messages: list[str] = []
        view = memoryview(data)
        pos, end = 0, len(data)
        try:
            while pos < end:
                state = self._state
                if state == self._TYPE:
                    frame_type = view[pos]
                    pos += 1
                    self._type = frame_type
                    if frame_type & 0x80:
                        self._state, self._length = self._LENGTH, 0
                    else:
                        self._state = self._TEXT if frame_type == 0 else self._DISCARD_TEXT
                        self._length = 0
                elif state in (self._TEXT, self._DISCARD_TEXT):
                    stop = data.find(b"\xff", pos)
                    chunk_end = end if stop < 0 else stop
                    self._length += chunk_end - pos
                    if self._length > self.max_size:
                        raise FrameError(f"a frame over {self.max_size} bytes")
                    if state == self._TEXT:
                        self._buffer += view[pos:chunk_end]
                    pos = chunk_end
                    if stop >= 0:
                        pos += 1
                        if state == self._TEXT:
                            messages.append(self._buffer.decode("utf-8"))
                        self._buffer.clear()
                        self._state = self._TYPE
                elif state == self._LENGTH:
                    byte = view[pos]
                    pos += 1
                    self._length = (self._length << 7) | (byte & 0x7F)
                    if self._length > self.max_size:
                        raise FrameError(f"a frame over {self.max_size} bytes")
                    if not byte & 0x80:
                        if self._type == 0xFF and self._length == 0:
                            self.closed = True
                            self._state = self._DONE
                            if pos < end:
                                raise FrameError("data after the closing frame")
                            break
                        self._skip = self._length
                        self._state = self._SKIP if self._skip else self._TYPE
                else:  # _SKIP: a length-prefixed frame, which the draft says to discard
                    step = min(self._skip, end - pos)
                    self._skip -= step
                    pos += step
                    if not self._skip:
                        self._state = self._TYPE
        except UnicodeDecodeError as exc:
            self._state = self._DONE
            raise FrameError(f"a text frame that is not UTF-8: {exc}") from None
        except FrameError:
            self._state = self._DONE
            raise
        return messages
