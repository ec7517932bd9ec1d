"""Raw HTTP/1.1 over a socket, for the fast HTTP path's tests: a connection that reads whole
responses (:class:`Raw`), requests written out (:func:`get`, :func:`post`), an Engine.IO
session opened on it, an echo Router behind the fast path (:class:`TimedServer`), and
hostile request heads (too large, or sent a byte at a time)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tornio import BaseNamespace, Router
from tornio.fastpath import fast_server
from tornio.transports.fasthttp import FastHTTPServer

__all__ = [
    "EIO_OPEN",
    "HEADER_TIMEOUT",
    "HUGE_HOST",
    "MANY_HEADERS",
    "TOO_LARGE",
    "EchoNamespace",
    "Raw",
    "TimedServer",
    "everything_until_closed",
    "get",
    "open_session",
    "post",
    "send_in_pieces",
    "trickle_until_closed",
]


class EchoNamespace(BaseNamespace):
    def on_echo(self, *args: Any) -> None:
        self.emit("echo", *args)


class FastAndTornado:
    """One Router behind the fast path (``port``) and behind plain Tornado
    (``tornado_port``), to compare their answers; ``handlers`` and ``settings`` go to the
    Router."""

    def __init__(self, handlers: list[Any] | None = None, **settings: Any) -> None:
        self.router = Router({"": EchoNamespace}, handlers=handlers or [], **settings)
        self.http = HTTPServer(self.router.application())
        self.fast: FastHTTPServer = fast_server(self.router.manager, self.http)
        sockets = bind_sockets(0, "127.0.0.1")
        self.fast.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        self.tornado = HTTPServer(self.router.application())
        tsockets = bind_sockets(0, "127.0.0.1")
        self.tornado.add_sockets(tsockets)
        self.tornado_port = tsockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.fast.stop()
        self.fast.close_all_connections()
        self.http.stop()
        self.tornado.stop()
        self.router.manager.close_all()
        await self.http.close_all_connections()
        await self.tornado.close_all_connections()


class TimedServer:
    """An echo Router on the fast HTTP path, fronting an HTTPServer with the given options."""

    def __init__(self, **http: Any) -> None:
        self.router = Router({"": EchoNamespace})
        self.http = HTTPServer(self.router.application(), **http)
        self.fast: FastHTTPServer = fast_server(self.router.manager, self.http)
        sockets = bind_sockets(0, "127.0.0.1")
        self.fast.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.fast.stop()
        self.fast.close_all_connections()
        self.router.manager.close_all()
        await self.http.close_all_connections()


class Raw:
    """A raw HTTP/1.1 connection that reads whole responses (Content-Length framed)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Raw:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(": ")
                headers[name.lower()] = value
        body = b""
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        return status, headers, body

    async def closed(self) -> bool:
        return await asyncio.wait_for(self.reader.read(), 10) == b""

    def close(self) -> None:
        self.writer.close()


def get(target: str, *headers: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: test", *headers, "", ""]
    return "\r\n".join(lines).encode()


def post(target: str, body: bytes, *headers: str) -> bytes:
    lines = [f"POST {target} HTTP/1.1", "Host: test", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


EIO_OPEN = "/socket.io/?EIO=4&transport=polling"


async def open_session(raw: Raw) -> str:
    raw.send(get(EIO_OPEN))
    status, _, body = await raw.response()
    assert status == 200
    sid = re.search(rb'"sid":"([^"]+)"', body)
    assert sid is not None
    return sid.group(1).decode()


#: The header_timeout the hostile-head tests run with, in seconds.
HEADER_TIMEOUT = 0.5
HUGE_HOST = get(EIO_OPEN).replace(b"Host: test", b"Host: " + b"h" * 100_000)
MANY_HEADERS = get(EIO_OPEN, *[f"X-Header-{i:05d}: value" for i in range(10_000)])
TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"


async def send_in_pieces(raw: Raw, data: bytes, size: int = 1000) -> None:
    """``data`` in many writes, each one drained (so that the server reads it in pieces);
    stops early if the server closed meanwhile."""
    for start in range(0, len(data), size):
        raw.send(data[start:start + size])
        try:
            await raw.writer.drain()
        except ConnectionError:
            return


async def everything_until_closed(raw: Raw) -> bytes:
    """What the server sent before it closed (a reset counts as a close: a byte a client
    sends after the close is answered with one, which may overtake the close)."""
    try:
        return await asyncio.wait_for(raw.reader.read(), 10)
    except ConnectionResetError:
        return b""


async def trickle_until_closed(raw: Raw, head: bytes) -> bytes:
    """A slowloris: ``head`` a byte at a time, paced well inside the timeout (so that only
    the whole head's wait can end it), until the server closes the connection."""
    reading = asyncio.ensure_future(everything_until_closed(raw))
    for byte in range(len(head)):
        raw.send(head[byte:byte + 1])
        done, _ = await asyncio.wait([reading], timeout=HEADER_TIMEOUT / 5)
        if done:
            return reading.result()
    raise AssertionError("the server read the whole head the slowloris sent")
