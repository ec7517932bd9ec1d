"""One kept-alive HTTP/1.1 connection, used on purpose for requests of any session.

``tornio serve`` hands a new connection to the worker that owns the session its first
request names (or, with none, to the least-loaded worker); every later request on that
connection reaches that worker, whoever owns its session. A :class:`PinnedConnection` makes
that happen at will: its first request decides its worker (:attr:`worker`, learnt from the
session id a handshake on it gets back), and the test then sends other workers' sessions'
requests down it, so that each one must be forwarded to its owner.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["HttpResponse", "PinnedConnection"]


class HttpResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def __repr__(self) -> str:
        return f"<HTTP {self.status} {self.body[:120]!r}>"


class PinnedConnection:
    """``await PinnedConnection.open(host, port)``, then ``await request(...)``, one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader = reader
        self.writer = writer
        self.host = host
        #: The worker (index) this connection was handed to, once the test knows it.
        self.worker: int | None = None
        self.requests = 0
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, host: str, port: int, timeout: float = 5) -> PinnedConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        return cls(reader, writer, f"{host}:{port}")

    async def request(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> HttpResponse:
        async with self._lock:
            return await asyncio.wait_for(self._exchange(method, target, body, headers), timeout)

    async def _exchange(
        self, method: str, target: str, body: bytes, headers: dict[str, str] | None
    ) -> HttpResponse:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}", "Connection: keep-alive"]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
            lines.append("Content-Type: text/plain;charset=UTF-8")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()
        self.requests += 1
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        found: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, _, value = line.partition(":")
                found[name.strip().lower()] = value.strip()
        if found.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = await self.reader.readexactly(int(found.get("content-length", "0")))
        if found.get("connection", "").lower() == "close":
            self.close()
        return HttpResponse(status, found, data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
