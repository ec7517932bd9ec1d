"""A flashsocket (hixie-76) handshake written out by hand over a raw connection, for tests
that need to send what no client would."""

from __future__ import annotations

import asyncio

from tests.support.inloop import InLoopServer

__all__ = ["hixie_headers", "raw_request"]


async def raw_request(
    srv: InLoopServer, sid: str, headers: dict[str, str], key3: bytes = b""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    lines = [f"GET /socket.io/1/flashsocket/{sid} HTTP/1.1", f"Host: 127.0.0.1:{srv.port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + key3)
    return reader, writer


def hixie_headers(origin: str) -> dict[str, str]:
    return {
        "Upgrade": "WebSocket",
        "Connection": "Upgrade",
        "Origin": origin,
        "Sec-WebSocket-Key1": "4 @1  46546xW%0l 1 5",
        "Sec-WebSocket-Key2": "12998 5 Y3 1  .P00",
    }
