"""Sessions whose clients vanish are cleaned up by their timeouts, and nothing leaks."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from tests.support.inloop import InLoopServer
from tests.support.waiting import eventually
from tornio import BaseNamespace

N_POLLING, N_WEBSOCKET, N_HANDSHAKE_ONLY = 400, 300, 300


class Counting(BaseNamespace):
    connected = 0
    disconnected = 0

    def recv_connect(self) -> None:
        type(self).connected += 1

    def recv_disconnect(self) -> None:
        type(self).disconnected += 1
        super().recv_disconnect()


async def http(port: int, request: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    return reader, writer


async def new_sid(port: int) -> str:
    reader, writer = await http(port, b"GET /socket.io/1/ HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    body = await reader.readexactly(length)
    writer.close()
    return body.decode().split(":")[0]


async def abandon_mid_poll(port: int, sid: str) -> None:
    """The browser closes while its GET is held: the connection is cut, unanswered."""
    reader, writer = await http(
        port, f"GET /socket.io/1/xhr-polling/{sid}?t=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    await reader.readuntil(b"1::")  # the first poll is answered with the connect packet
    writer.write(f"GET /socket.io/1/xhr-polling/{sid}?t=2 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    await asyncio.sleep(0)
    writer.transport.abort()


async def abandon_websocket(port: int, sid: str) -> None:
    """The network goes away under a websocket: no close frame, the TCP connection dies."""
    request = (
        f"GET /socket.io/1/websocket/{sid} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    reader, writer = await http(port, request)
    await reader.readuntil(b"1::")
    writer.transport.abort()


async def test_a_thousand_abandoned_sessions_are_all_cleaned_up() -> None:
    Counting.connected = Counting.disconnected = 0
    srv = await InLoopServer.start(
        {"": Counting},
        handshake_timeout=1.0,
        close_timeout=0.5,
        heartbeat_timeout=0.5,
        heartbeat_interval=0.2,
        polling_duration=30,
    )
    try:
        port = srv.port

        async def open_and_abandon(abandon: Any) -> str:
            sid = await new_sid(port)
            if abandon is not None:
                await abandon(port, sid)
            return sid

        kinds = [abandon_mid_poll] * N_POLLING + [abandon_websocket] * N_WEBSOCKET
        kinds += [None] * N_HANDSHAKE_ONLY
        sids: list[str] = []
        for batch in range(0, len(kinds), 100):  # batches, so no handshake waits too long
            sids += await asyncio.gather(*(open_and_abandon(k) for k in kinds[batch : batch + 100]))
        assert len(set(sids)) == 1000
        assert len(srv.manager.sockets) > 0
        assert Counting.connected == N_POLLING + N_WEBSOCKET
        await eventually(lambda: not srv.manager.sockets, message="every session gone")
        assert Counting.disconnected == N_POLLING + N_WEBSOCKET
        assert srv.manager.timers.armed == {}
        assert srv.manager.rooms.members("") == {}
        gc.collect()
        from tornio.core.socket import Socket

        alive: list[Any] = [
            o for o in gc.get_objects() if isinstance(o, Socket) and o.manager is srv.manager
        ]
        assert alive == []
    finally:
        await srv.stop()
