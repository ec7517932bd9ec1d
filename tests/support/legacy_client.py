"""A protocol-level Socket.IO 0.9 client for tests: handshake, then xhr-polling, jsonp-polling
or websocket, with every received packet decoded into a queue."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect

from tornio.protocol import legacy

__all__ = ["CLOSED", "LegacyClient", "handshake"]

#: Put in the queue when the server closes a websocket.
CLOSED = "<closed>"

JSONP_ANSWER = re.compile(r'^io\.j\[(\d+)\]\((".*")\);$', re.S)


async def fetch(
    url: str,
    method: str = "GET",
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> HTTPResponse:
    """One HTTP request; an error status is returned, not raised."""
    client = AsyncHTTPClient(force_instance=True)
    try:
        request = HTTPRequest(
            url,
            method=method,
            body=body,
            headers=headers,
            request_timeout=timeout,
            allow_nonstandard_methods=True,
        )
        try:
            return await client.fetch(request, raise_error=False)
        except HTTPClientError as exc:  # a timeout or a connection error: no response
            if exc.response is None:
                raise
            return exc.response
    finally:
        client.close()


async def handshake(
    base: str, resource: str = "socket.io", headers: dict[str, str] | None = None, **query: str
) -> list[str]:
    """The handshake answer split on ':' (sid, heartbeat, close, transports)."""
    response = await fetch(f"{base}/{resource}/1/?{urlencode(query)}", headers=headers)
    assert response.code == 200, (response.code, response.body)
    return response.body.decode().split(":")


class LegacyClient:
    """One client. ``await connect()``, then ``send``/``recv``; ``close()`` at the end.
    ``headers`` go with every request (a ``Cookie``); ``query`` is added to every URL, as the
    0.9 client's ``query`` option does."""

    def __init__(
        self,
        base: str,
        transport: str = "xhr-polling",
        resource: str = "socket.io",
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ):
        self.base = base
        self.transport = transport
        self.resource = resource
        self.headers = headers
        self.query = dict(query or {})
        self.sid = ""
        self.heartbeat = self.close_timeout = ""
        self.transports: list[str] = []
        self.received: asyncio.Queue[str] = asyncio.Queue()
        self._ws: WebSocketClientConnection | None = None
        self._poller: asyncio.Task[None] | None = None
        self._jsonp_index = 0
        self.closed = False

    @property
    def url(self) -> str:
        return f"{self.base}/{self.resource}/1/{self.transport}/{self.sid}"

    async def connect(self, expect_connect: bool = True) -> LegacyClient:
        self.sid, self.heartbeat, self.close_timeout, transports = await handshake(
            self.base, self.resource, self.headers, **self.query
        )
        self.transports = transports.split(",")
        await self.open()
        if expect_connect:
            assert await self.recv() == "1::"
        return self

    async def open(self) -> None:
        if self.transport == "websocket":
            url = self.url.replace("http://", "ws://", 1)
            if self.query:
                url += "?" + urlencode(self.query)
            self._ws = await websocket_connect(HTTPRequest(url, headers=self.headers))
            self._poller = asyncio.ensure_future(self._read_ws())
        else:
            self._poller = asyncio.ensure_future(self._poll())

    async def _read_ws(self) -> None:
        assert self._ws is not None
        while True:
            message = await self._ws.read_message()
            if message is None:
                self.closed = True
                self.received.put_nowait(CLOSED)
                return
            assert isinstance(message, str)
            for packet in legacy.decode_payload(message):
                self.received.put_nowait(packet)

    def decode_answer(self, body: bytes) -> str:
        text = body.decode()
        if self.transport == "jsonp-polling":
            match = JSONP_ANSWER.match(text)
            assert match, text
            text = json.loads(match.group(2))
        return text

    async def poll_once(self, timeout: float = 30) -> HTTPResponse:
        query = f"?t=1&i={self._jsonp_index}" if self.transport == "jsonp-polling" else "?t=1"
        return await fetch(self.url + query + self._extra_query(), timeout=timeout,
                           headers=self.headers)

    def _extra_query(self) -> str:
        return "&" + urlencode(self.query) if self.query else ""

    async def _poll(self) -> None:
        while not self.closed:
            response = await self.poll_once()
            if response.code != 200:
                self.closed = True
                self.received.put_nowait(f"HTTP {response.code}")
                return
            for packet in legacy.decode_payload(self.decode_answer(response.body)):
                self.received.put_nowait(packet)
                if packet in ("0::", "7:::1+0"):
                    self.closed = True

    async def send(self, *packets: str) -> None:
        if self._ws is not None:
            for packet in packets:
                await self._ws.write_message(packet)
            return
        payload = legacy.encode_payload(list(packets))
        if self.transport == "jsonp-polling":
            body = urlencode({"d": json.dumps(payload)})
        else:
            body = payload
        response = await fetch(self.url + "?t=1" + self._extra_query(), method="POST",
                               body=body.encode(), headers=self.headers)
        assert response.code == 200 and response.body == b"1", (response.code, response.body)

    async def recv(self, timeout: float = 10, skip_heartbeats: bool = True) -> str:
        while True:
            packet = await asyncio.wait_for(self.received.get(), timeout)
            if skip_heartbeats and packet in ("2::", "8::"):
                continue
            return packet

    async def recv_event(self, timeout: float = 10) -> tuple[str, str, list[Any]]:
        """The next event packet as (endpoint, name, args), skipping everything else."""
        while True:
            packet = legacy.decode_packet(await self.recv(timeout))
            if packet["type"] == "event":
                return packet["endpoint"], packet["name"], packet.get("args", [])

    async def emit(self, endpoint: str, name: str, *args: Any, msg_id: int | None = None) -> None:
        await self.send(legacy.encode_event(endpoint, name, list(args), msg_id))

    async def close(self) -> None:
        self.closed = True
        if self._ws is not None:
            self._ws.close()
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
