"""Protocol-level clients for the transports no browser speaks any more: htmlfile (read as the
forever iframe's parent would), xhr-multipart and flashsocket (WebSocket draft hixie-76).

Each is a :class:`~tests.support.legacy_client.LegacyClient` (``connect``, ``send``, ``recv``,
``emit``, ``close``) whose GET side is a raw HTTP/1.1 stream on asyncio sockets, so tests see
every byte and chunk the server wrote. Sends go by POST (htmlfile, xhr-multipart) or as
hixie-76 frames. ``answer_heartbeats=True`` replies ``2::`` to each server heartbeat, as the
real client does on persistent transports. :func:`make_client` picks the class for any of the
six transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import socket
import ssl
import struct
from typing import Any
from urllib.parse import urlsplit

from tests.support.legacy_client import CLOSED, LegacyClient
from tornio.protocol import hixie76, legacy

__all__ = [
    "FlashSocketClient",
    "HtmlFileClient",
    "RawStream",
    "StalledConnection",
    "XhrMultipartClient",
    "make_client",
    "open_raw_get",
]

HTMLFILE_FRAME = re.compile(rb"^<script>_\((.*)\);</script>$", re.S)


class RawStream:
    """An HTTP/1.1 response read by hand: status, headers, then chunks as the server sent
    them. ``raw`` keeps every byte after the headers (chunk framing included)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        self.reader = reader
        self.writer = writer
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split()[1])
        self.headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
        self.raw = bytearray()

    @property
    def chunked(self) -> bool:
        return self.headers.get("transfer-encoding", "").lower() == "chunked"

    async def chunk(self) -> bytes | None:
        """The next chunk's data; None after the last (zero-length) chunk or at EOF."""
        try:
            line = await self.reader.readuntil(b"\r\n")
        except asyncio.IncompleteReadError:
            return None
        self.raw += line
        size = int(line.split(b";")[0], 16)
        if size == 0:
            with contextlib.suppress(asyncio.IncompleteReadError):
                self.raw += await self.reader.readuntil(b"\r\n")
            return None
        data = await self.reader.readexactly(size + 2)
        self.raw += data
        assert data.endswith(b"\r\n")
        return data[:-2]

    async def body(self) -> bytes:
        """The whole (non-chunked, length-delimited or closed) body."""
        length = self.headers.get("content-length")
        data = await (
            self.reader.readexactly(int(length)) if length is not None else self.reader.read()
        )
        self.raw += data
        return data

    def close(self) -> None:
        self.writer.close()


async def open_raw_get(url: str, headers: dict[str, str] | None = None) -> RawStream:
    """Send ``GET url`` on a new connection and read the response head."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    return RawStream(reader, writer, head)


class _StreamingClient(LegacyClient):
    """The shared part: read payloads from a long GET, POST packets in."""

    def __init__(self, base: str, transport: str, answer_heartbeats: bool = False, **kw: Any):
        super().__init__(base, transport, **kw)
        self.answer_heartbeats = answer_heartbeats
        self.stream: RawStream | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def _deliver(self, payload: str) -> None:
        for packet in legacy.decode_payload(payload):
            self.received.put_nowait(packet)
            if packet == "2::" and self.answer_heartbeats and not self.closed:
                task = asyncio.ensure_future(self._answer_heartbeat())
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _answer_heartbeat(self) -> None:
        with contextlib.suppress(Exception):  # the session may end meanwhile
            await self.send("2::")

    def _ended(self) -> None:
        self.closed = True
        self.received.put_nowait(CLOSED)

    async def close(self) -> None:
        self.closed = True
        if self.stream is not None:
            self.stream.close()
        await super().close()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)


class HtmlFileClient(_StreamingClient):
    """Reads the htmlfile stream as the parent page of the iframe would: each chunk is one
    ``<script>_(<JSON>);</script>``, whose string argument (after the client's own
    ``\\/`` → ``/`` unescape) is a payload."""

    def __init__(self, base: str, answer_heartbeats: bool = False, **kw: Any):
        super().__init__(base, "htmlfile", answer_heartbeats, **kw)
        #: Every chunk as received, the prelude first.
        self.chunks: list[bytes] = []

    async def open(self) -> None:
        self.stream = await open_raw_get(self.url + "?t=1")
        assert self.stream.status == 200, self.stream.status_line
        prelude = await self.stream.chunk()
        assert prelude is not None
        self.chunks.append(prelude)
        self._poller = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.stream is not None
        while True:
            chunk = await self.stream.chunk()
            if chunk is None:
                self._ended()
                return
            self.chunks.append(chunk)
            match = HTMLFILE_FRAME.match(chunk)
            assert match, chunk
            message = json.loads(match.group(1).decode("utf-8"))
            self._deliver(message.replace("\\/", "/"))


class XhrMultipartClient(_StreamingClient):
    """Reads ``multipart/x-mixed-replace; boundary="socketio"`` part by part (by each part's
    Content-Length when it has one, else up to the next delimiter)."""

    def __init__(self, base: str, answer_heartbeats: bool = False, **kw: Any):
        super().__init__(base, "xhr-multipart", answer_heartbeats, **kw)
        self.parts: list[bytes] = []
        self._buffer = bytearray()

    async def open(self) -> None:
        self.stream = await open_raw_get(self.url + "?t=1")
        assert self.stream.status == 200, self.stream.status_line
        content_type = self.stream.headers["content-type"]
        assert content_type == 'multipart/x-mixed-replace; boundary="socketio"'
        await self._fill(len(b"--socketio\r\n"))
        assert self._take(12) == b"--socketio\r\n"
        self._poller = asyncio.ensure_future(self._read())

    async def _fill(self, size: int) -> bool:
        assert self.stream is not None
        while len(self._buffer) < size:
            chunk = await self.stream.chunk()
            if chunk is None:
                return False
            self._buffer += chunk
        return True

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def _read(self) -> None:
        delimiter = b"\r\n--socketio\r\n"
        while True:
            while b"\r\n\r\n" not in self._buffer:
                if not await self._fill(len(self._buffer) + 1):
                    self._ended()
                    return
            end = self._buffer.index(b"\r\n\r\n")
            headers = self._take(end + 4).decode("latin-1").lower()
            assert headers.startswith("content-type: text/plain; charset=utf-8\r\n"), headers
            length = re.search(r"content-length: (\d+)", headers)
            if length:
                size = int(length.group(1))
                assert await self._fill(size + len(delimiter))
                body = self._take(size)
                assert self._take(len(delimiter)) == delimiter
            else:
                while delimiter not in self._buffer:
                    assert await self._fill(len(self._buffer) + 1)
                body = self._take(self._buffer.index(delimiter))
                self._take(len(delimiter))
            self.parts.append(body)
            self._deliver(body.decode("utf-8"))


class FlashSocketClient(LegacyClient):
    """The Flash bridge's side of hixie-76, on a raw asyncio connection. ``connect()`` checks
    the handshake answer (status, headers, and the MD5 proof computed here independently);
    ``late_key3=True`` sends key3 in a separate write, after checking that the server has not
    answered without it."""

    def __init__(
        self,
        base: str,
        late_key3: bool = False,
        origin: str | None = None,
        answer_heartbeats: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(base, "flashsocket", **kw)
        self.late_key3 = late_key3
        self.origin = origin or base
        self.answer_heartbeats = answer_heartbeats
        self.response_head = ""
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        parts = urlsplit(self.url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        self.writer = writer
        key1, number1 = hixie76.make_key()
        key2, number2 = hixie76.make_key()
        key3 = os.urandom(8)
        head = (
            f"GET {parts.path} HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
            f"Host: {host}:{port}\r\nOrigin: {self.origin}\r\n"
            f"Sec-WebSocket-Key1: {key1}\r\nSec-WebSocket-Key2: {key2}\r\n\r\n"
        ).encode()
        if self.late_key3:
            writer.write(head)
            await writer.drain()
            # The server must wait for key3: nothing may come back without it.
            with contextlib.suppress(asyncio.TimeoutError):
                early = await asyncio.wait_for(reader.read(1), 0.2)
                raise AssertionError(f"the server answered before key3: {early!r}")
            writer.write(key3)
        else:
            writer.write(head + key3)
        self.response_head = (await reader.readuntil(b"\r\n\r\n")).decode("utf-8")
        lines = self.response_head.split("\r\n")
        assert lines[0] == "HTTP/1.1 101 WebSocket Protocol Handshake", lines[0]
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:] if line)}
        assert headers["upgrade"] == "WebSocket"
        assert headers["connection"] == "Upgrade"
        assert headers["sec-websocket-origin"] == self.origin
        assert headers["sec-websocket-location"] == f"ws://{host}:{port}{parts.path}"
        proof = await reader.readexactly(16)
        expected = hashlib.md5(struct.pack(">II", number1, number2) + key3).digest()
        assert proof == expected, (proof, expected)
        self._poller = asyncio.ensure_future(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        parser = hixie76.FrameParser()
        while True:
            data = await reader.read(65536)
            if not data:
                break
            for message in parser.feed(data):
                for packet in legacy.decode_payload(message):
                    self.received.put_nowait(packet)
                    if packet == "2::" and self.answer_heartbeats and not self.closed:
                        await self.send("2::")
            if parser.closed:
                break
        self.closed = True
        self.received.put_nowait(CLOSED)

    async def send(self, *packets: str) -> None:
        assert self.writer is not None
        self.writer.write(b"".join(hixie76.encode_frame(p) for p in packets))
        await self.writer.drain()

    async def close(self) -> None:
        if self.writer is not None and not self.writer.is_closing():
            with contextlib.suppress(ConnectionError):
                self.writer.write(hixie76.CLOSE_FRAME)
            self.writer.close()
        await super().close()


class StalledConnection:
    """A client that stops reading: a raw TCP connection with a small receive buffer (the
    kernel takes little of what the server writes), read up to a marker (the handshake, the
    namespace joined), then never again, until :meth:`ended` drains it to learn whether the
    server has closed it. With ``tls`` (a client context) it speaks TLS, through asyncio
    streams whose reader stops taking bytes past a small limit."""

    def __init__(
        self, sock: socket.socket, streams: tuple[asyncio.StreamReader, Any] | None = None
    ) -> None:
        self.sock = sock
        self.streams = streams
        #: Every byte read so far.
        self.data = bytearray()

    @classmethod
    async def open(
        cls, port: int, request: bytes, rcvbuf: int = 4096, tls: ssl.SSLContext | None = None
    ) -> StalledConnection:
        """Connect to ``127.0.0.1:port`` and send ``request`` (an HTTP request head, and
        whatever must follow it)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", port))
        if tls is None:
            await loop.sock_sendall(sock, request)
            return cls(sock)
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=tls, server_hostname="127.0.0.1", limit=1024
        )
        connection = cls(sock, (reader, writer))
        await connection.send(request)
        return connection

    async def send(self, data: bytes) -> None:
        if self.streams is None:
            await asyncio.get_running_loop().sock_sendall(self.sock, data)
        else:
            self.streams[1].write(data)
            await self.streams[1].drain()

    async def _recv(self, size: int) -> bytes:
        if self.streams is None:
            return await asyncio.get_running_loop().sock_recv(self.sock, size)
        return await self.streams[0].read(size)

    async def read_until(self, marker: bytes, timeout: float = 10) -> bytes:
        """Read until ``marker`` has arrived; what was read, from its first occurrence."""
        async def read() -> None:
            while marker not in self.data:
                chunk = await self._recv(65536)
                if not chunk:
                    raise AssertionError(f"closed before {marker!r}: {bytes(self.data)!r}")
                self.data += chunk

        await asyncio.wait_for(read(), timeout)
        return bytes(self.data[self.data.index(marker):])

    async def ended(self, timeout: float = 10) -> bool:
        """Read (and drop) everything left; True once the server has closed the connection,
        a timeout if it does not."""
        async def drain() -> bool:
            while True:
                try:
                    if not await self._recv(1 << 20):
                        return True
                except (ConnectionResetError, ssl.SSLError):
                    return True

        return await asyncio.wait_for(drain(), timeout)

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
        self.sock.close()


def make_client(base: str, transport: str, **kwargs: Any) -> LegacyClient:
    """A protocol-level client for any of the six legacy transports."""
    if transport == "htmlfile":
        return HtmlFileClient(base, **kwargs)
    if transport == "xhr-multipart":
        return XhrMultipartClient(base, **kwargs)
    if transport == "flashsocket":
        return FlashSocketClient(base, **kwargs)
    kwargs.pop("answer_heartbeats", None)
    return LegacyClient(base, transport, **kwargs)
