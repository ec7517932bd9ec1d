"""Writing websocket frames without Tornado's per-message overhead.

``WebSocketHandler.write_message`` wraps every write in a new asyncio task (to translate
errors for an optional await). A Socket.IO server writes many small messages and never awaits
them one by one, so tornio builds the (unmasked, uncompressed) RFC 6455 frames itself and
hands the stream one buffer per batch. A broadcast passes the same ``str`` object to every
recipient, so the frame built for one is reused for the next (identity check, no hashing).
tornio's handlers disable compression, which is what makes raw frames valid.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tornado.iostream import StreamClosedError

if TYPE_CHECKING:
    from tornado.websocket import WebSocketHandler

__all__ = ["encode_frame", "write_frames"]

TEXT, BINARY = 0x1, 0x2

# The last text message framed, and its frame: a broadcast frames once for all recipients.
_last_text: str | None = None
_last_frame = b""


def encode_frame(data: str | bytes) -> bytes:
    """One final, unmasked frame: text for ``str``, binary for ``bytes``."""
    global _last_text, _last_frame
    if isinstance(data, str):
        if data is _last_text:
            return _last_frame
        payload = data.encode("utf-8")
        opcode = 0x80 | TEXT
    else:
        payload = bytes(data)
        opcode = 0x80 | BINARY
    length = len(payload)
    if length < 126:
        frame = bytes((opcode, length)) + payload
    elif length < 65536:
        frame = struct.pack("!BBH", opcode, 126, length) + payload
    else:
        frame = struct.pack("!BBQ", opcode, 127, length) + payload
    if isinstance(data, str):
        _last_text, _last_frame = data, frame
    return frame


def write_frames(handler: WebSocketHandler, frames: Sequence[str | bytes]) -> bool:
    """Write messages as frames in one stream write; False if the connection is closing."""
    conn = handler.ws_connection
    if conn is None or conn.is_closing():
        return False
    stream = conn.stream
    if stream is None:
        return False
    data = (
        encode_frame(frames[0]) if len(frames) == 1 else b"".join([encode_frame(f) for f in frames])
    )
    try:
        stream.write(data)
    except StreamClosedError:
        return False
    return True
