"""A Flash client asking a policy server for its policy, over a raw connection."""

from __future__ import annotations

import asyncio
import socket

from tornio.policy import REQUEST

__all__ = ["ANY", "ask", "ask_sync"]

#: The policy of ``origins='*:*'``, with its NUL: what Flash gets by default.
ANY = (
    b'<?xml version="1.0"?><!DOCTYPE cross-domain-policy SYSTEM '
    b'"http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd"><cross-domain-policy>'
    b'<allow-access-from domain="*" to-ports="*"/></cross-domain-policy>\0'
)


async def ask(port: int, data: bytes = REQUEST, timeout: float = 5.0) -> bytes:
    """Send ``data``, return everything the server sends until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        return await asyncio.wait_for(reader.read(), timeout)
    except ConnectionResetError:  # closed (with unread bytes, or aborted): no reply either
        return b""
    finally:
        writer.close()


def ask_sync(port: int, timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(REQUEST)
        chunks = []
        while chunk := conn.recv(4096):
            chunks.append(chunk)
        return b"".join(chunks)
