"""Hand-written Engine.IO v4 / Socket.IO v5 clients for protocol-level tests: they send exactly
the bytes a test gives them (bad ones included) and hand back what the server answered.

    ws = await EngineWebSocket.open(server.base)         # the open packet is read
    await ws.join("/test")                                # 40/test, → 40/test,{"sid":…}
    assert await ws.exchange("/test")                     # an echo with an ack round trip
    await ws.send("4abc"); assert await ws.closed()

    poll = await EnginePolling.open(server.base)
    response = await poll.post("40/test,")                # the raw HTTP response
    assert await poll.get_text() == '40/test,{"sid":…}'
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from tornado.httpclient import HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect

from tests.support.legacy_client import fetch

__all__ = ["EnginePolling", "EngineWebSocket", "error_of"]

TIMEOUT = 5.0
_ack_ids = itertools.count(100)


def error_of(response: HTTPResponse) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of an Engine.IO error answer; checks its content type."""
    assert response.headers.get("Content-Type", "").startswith("application/json"), (
        response.code,
        response.headers,
        response.body,
    )
    return response.code, json.loads(response.body)


class EngineWebSocket:
    """One Engine.IO v4 websocket session (or an attempt at one)."""

    def __init__(self, conn: WebSocketClientConnection, open_packet: str) -> None:
        self.conn = conn
        self.open_packet = open_packet
        self.handshake = json.loads(open_packet[1:])
        self.sid: str = self.handshake["sid"]
        self.close_code: int | None = None

    @classmethod
    async def open(
        cls, base: str, query: str = "EIO=4&transport=websocket", path: str = "/socket.io/"
    ) -> EngineWebSocket:
        url = base.replace("http://", "ws://", 1) + path + "?" + query
        conn = await asyncio.wait_for(websocket_connect(url), TIMEOUT)
        first = await asyncio.wait_for(conn.read_message(), TIMEOUT)
        assert isinstance(first, str) and first.startswith("0{"), first
        return cls(conn, first)

    async def send(self, frame: str | bytes) -> None:
        await self.conn.write_message(frame, binary=isinstance(frame, bytes))

    async def recv(self, timeout: float = TIMEOUT) -> str | bytes | None:
        """The next frame that is not a ping (pings are answered); None once closed."""
        while True:
            frame = await asyncio.wait_for(self.conn.read_message(), timeout)
            if frame is None:
                self.close_code = self.conn.close_code
                return None
            if frame == "2":
                await self.send("3")
                continue
            return frame

    async def closed(self, timeout: float = TIMEOUT) -> bool:
        """Wait for the server to close the websocket (frames before that are dropped)."""
        while await self.recv(timeout) is not None:
            pass
        return True

    async def join(self, nsp: str = "/test", auth: dict[str, Any] | None = None) -> str:
        """CONNECT to ``nsp``; returns the socket id the server answered with."""
        head = "40" if nsp == "/" else f"40{nsp},"
        await self.send(head + (json.dumps(auth) if auth is not None else ""))
        answer = await self.recv()
        assert isinstance(answer, str) and answer.startswith(head + "{"), answer
        sid: str = json.loads(answer[len(head) :])["sid"]
        return sid

    async def exchange(self, nsp: str = "/test", text: str = "still here") -> bool:
        """An event with an ack to the echo handler, and its answer: the session works."""
        ack_id = next(_ack_ids)
        prefix = "" if nsp == "/" else f"{nsp},"
        await self.send(f"42{prefix}{ack_id}" + json.dumps(["echo", text]))
        answer = await self.recv()
        assert answer == f"43{prefix}{ack_id}" + json.dumps([text]), answer
        return True

    def close(self) -> None:
        self.conn.close()


class EnginePolling:
    """One Engine.IO v4 polling session, request by request."""

    def __init__(self, base: str, sid: str, path: str = "/socket.io/") -> None:
        self.base = base
        self.sid = sid
        self.url = f"{base}{path}?EIO=4&transport=polling&sid={sid}"

    @classmethod
    async def open(cls, base: str, path: str = "/socket.io/") -> EnginePolling:
        response = await fetch(f"{base}{path}?EIO=4&transport=polling", timeout=TIMEOUT)
        assert response.code == 200, (response.code, response.body)
        body = response.body.decode()
        assert body.startswith("0{"), body
        return cls(base, json.loads(body[1:])["sid"], path)

    async def get(self, timeout: float = TIMEOUT) -> HTTPResponse:
        return await fetch(self.url, timeout=timeout)

    async def get_text(self, timeout: float = TIMEOUT) -> str:
        """The next GET's body, pings answered and left out (an empty string if only pings
        came)."""
        response = await self.get(timeout)
        assert response.code == 200, (response.code, response.body)
        records = response.body.decode().split("\x1e")
        if "2" in records:
            await self.post("3")
        return "\x1e".join(r for r in records if r != "2")

    async def post(
        self, body: str | bytes, content_type: str = "text/plain;charset=UTF-8"
    ) -> HTTPResponse:
        return await fetch(
            self.url,
            method="POST",
            body=body.encode() if isinstance(body, str) else body,
            headers={"Content-Type": content_type},
            timeout=TIMEOUT,
        )

    async def join(self, nsp: str = "/test") -> str:
        response = await self.post(f"40{nsp},")
        assert (response.code, response.body) == (200, b"ok")
        answer = await self.get_text()
        assert answer.startswith(f"40{nsp},{{"), answer
        sid: str = json.loads(answer[len(nsp) + 3 :])["sid"]
        return sid

    async def exchange(self, nsp: str = "/test", text: str = "still here") -> bool:
        ack_id = next(_ack_ids)
        response = await self.post(f"42{nsp},{ack_id}" + json.dumps(["echo", text]))
        assert (response.code, response.body) == (200, b"ok")
        assert await self.get_text() == f"43{nsp},{ack_id}" + json.dumps([text])
        return True
