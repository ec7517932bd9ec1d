"""What a server's websocket connections hand their transport, write by write: each
``transport.write`` of a :class:`~tornio.transports.wsconn.WebSocketConnection` is one
``send()`` on a selector loop, so a test counts the server's sends by counting these."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from tornio.transports.wsconn import WebSocketConnection

__all__ = ["RecordingWire", "record_websocket_writes", "server_frames"]


class RecordingWire:
    """The connection's real transport, with every ``write`` kept (one entry per call)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def record_websocket_writes(monkeypatch: pytest.MonkeyPatch) -> list[RecordingWire]:
    """From now on, every websocket connection the server accepts writes through a
    :class:`RecordingWire`; they are listed in the order the connections opened."""
    wires: list[RecordingWire] = []
    original = WebSocketConnection.connection_made

    def connection_made(self: WebSocketConnection, transport: Any) -> None:
        wire = RecordingWire(transport)
        wires.append(wire)
        original(self, wire)

    monkeypatch.setattr(WebSocketConnection, "connection_made", connection_made)
    return wires


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """The (unmasked, whole) frames in bytes a server wrote: ``(opcode, payload)`` each."""
    frames = []
    offset = 0
    while offset < len(data):
        first, second = data[offset], data[offset + 1]
        offset += 2
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack_from("!H", data, offset)
            offset += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, offset)
            offset += 8
        frames.append((first & 0x0F, data[offset : offset + length]))
        offset += length
    return frames
