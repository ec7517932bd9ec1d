"""A websocket client that is only a TCP connection and the bytes a test writes, and the
masked client frames it sends (RFC 6455 §5.2)."""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import struct

from tornio.protocol import websocket as ws

__all__ = ["EIO_WS", "TIMEOUT", "RawWebSocket", "client_frame"]

TIMEOUT = 10
EIO_WS = "/socket.io/?EIO=4&transport=websocket"


def client_frame(
    opcode: int, payload: bytes, fin: bool = True, mask: bytes | None = None, rsv: int = 0
) -> bytes:
    """A client frame, masked as clients must (with a random key unless one is given)."""
    mask = os.urandom(4) if mask is None else mask
    first = (0x80 if fin else 0) | rsv | opcode
    length = len(payload)
    if length < 126:
        head = bytes((first, 0x80 | length))
    elif length < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, length)
    return head + mask + ws.unmask(payload, mask)


class RawWebSocket:
    """A websocket client that is only a TCP connection and the bytes a test writes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""

    @classmethod
    async def connect(
        cls,
        port: int,
        path: str = EIO_WS,
        headers: dict[str, str] | None = None,
        early: bytes = b"",
        version: str = "13",
        tls: ssl.SSLContext | None = None,
    ) -> RawWebSocket:
        """Connect and send the upgrade request (``tls``: over TLS, with that context)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
        fields = {
            "Host": f"127.0.0.1:{port}",
            "Upgrade": "websocket",
            "Connection": "keep-alive, Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": version,
            **(headers or {}),
        }
        request = f"GET {path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in fields.items() if v
        )
        writer.write(request.encode() + b"\r\n" + early)
        client = cls(reader, writer)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        lines = head.decode("latin-1").split("\r\n")
        client.status = int(lines[0].split()[1])
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                client.headers[name.strip().lower()] = value.strip()
        if client.status == 101:
            expected = ws.accept_key(fields["Sec-WebSocket-Key"])
            assert client.headers["sec-websocket-accept"] == expected
        elif "content-length" in client.headers:
            length = int(client.headers["content-length"])
            client.body = await reader.readexactly(length)
        return client

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def send_text(self, text: str) -> None:
        self.send(client_frame(ws.TEXT, text.encode()))

    async def recv_frame(self) -> tuple[int, bytes]:
        """The next server frame (unmasked, unfragmented as tornio sends them)."""
        first, second = await asyncio.wait_for(self.reader.readexactly(2), TIMEOUT)
        assert not second & 0x80, "server frames are unmasked"
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        assert first & 0x80, "tornio sends whole frames"
        return first & 0x0F, await self.reader.readexactly(length)

    async def recv_text(self) -> str:
        opcode, payload = await self.recv_frame()
        assert opcode == ws.TEXT, (opcode, payload)
        return payload.decode()

    async def expect_close(self, code: int) -> None:
        """The server's close frame with ``code``, then the end of the connection."""
        while True:
            opcode, payload = await self.recv_frame()
            if opcode == ws.CLOSE:
                break
        assert ws.parse_close(payload)[0] == code, payload
        await self.expect_eof()

    async def expect_eof(self) -> None:
        assert await asyncio.wait_for(self.reader.read(), TIMEOUT) == b""

    def close(self) -> None:
        self.writer.close()
