"""Request heads on Tornado's own HTTP path (``tornio serve --http tornado``,
``SocketIOServer``, a Router in your own Tornado application): a head over
``max_header_size`` is answered ``431 Request Header Fields Too Large``, as on the fast path,
where Tornado alone closes the connection without a word.

Tornado reads a request head with ``stream.read_until_regex(b"\\r?\\n\\r?\\n",
max_bytes=max_header_size)``; past the limit the stream closes itself
(``IOStream.close(exc_info=UnsatisfiableReadError)``) before ``HTTP1Connection`` sees
anything, so nothing above the stream can answer. :class:`HeadLimitHTTPServer` watches each
stream it is handed (``handle_stream``, Tornado's override point): when that close comes
while a head is being read, the 431 is first written on the socket (one non-blocking send;
nothing else is being written between two requests), the socket's sending side is shut, and
a duplicate of it stays open, dropping what the client still sends, until the client closes
or :data:`LINGER` seconds or :data:`LINGER_BYTES` bytes have passed: a close with unread
input would reset the connection and could lose the answer. Any other unsatisfiable read (a
chunk-size line over Tornado's 64 bytes) closes as Tornado does. The connection's
``HTTPServer`` is otherwise Tornado's own, unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream, UnsatisfiableReadError

__all__ = ["HEAD_TOO_LARGE", "LINGER", "LINGER_BYTES", "HeadLimitHTTPServer"]

log = logging.getLogger("tornio.transports.heads")

#: The answer to a request head over ``max_header_size`` (the fast path's too).
HEAD_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                  b"Content-Length: 0\r\nConnection: close\r\n\r\n")
#: The most seconds a refused connection stays open, its input dropped, after the 431.
LINGER = 2.0
#: The most bytes of a refused connection's input dropped before it is closed anyway.
LINGER_BYTES = 1 << 20


class HeadLimitHTTPServer(HTTPServer):
    """Tornado's ``HTTPServer``, answering 431 to a request head over its
    ``max_header_size`` (see the module docstring); it takes the same arguments."""

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        #: Connections this server refused with 431.
        self.refused = 0
        #: Refused connections still open, their input dropped.
        self.lingering: set[_Linger] = set()

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        _HeadWatch(self, stream, address)
        super().handle_stream(stream, address)

    async def close_all_connections(self) -> None:
        """Tornado's, and the refused connections still lingering are closed too."""
        for linger in list(self.lingering):
            linger.end()
        await super().close_all_connections()


class _HeadWatch:
    """One connection's stream: whether its pending delimited read is a request head, and its
    close when that read is over the limit. A server's ``HTTP1Connection`` reads heads with
    ``read_until_regex`` and nothing else with it; the only other read that can be
    unsatisfiable is a chunk-size line's ``read_until``: so the flag is set by the one and
    cleared by the other, with nothing to do when a head arrives (one extra call a head)."""

    __slots__ = ("address", "close_stream", "read_until", "read_until_regex", "reading_head",
                 "server", "stream")

    def __init__(
        self, server: HeadLimitHTTPServer, stream: IOStream, address: tuple[Any, ...]
    ) -> None:
        self.server = server
        self.stream = stream
        self.address = address
        self.reading_head = False
        self.read_until_regex = stream.read_until_regex
        self.read_until = stream.read_until
        self.close_stream = stream.close
        # On this stream only: Tornado's HTTP1Connection and IOStream call them by name.
        stream.read_until_regex = self.read_head  # type: ignore[method-assign]
        stream.read_until = self.read_line  # type: ignore[method-assign]
        stream.close = self.close  # type: ignore[method-assign]

    def read_head(self, regex: bytes, max_bytes: int | None = None) -> Awaitable[bytes]:
        self.reading_head = True
        # When the buffered input is over the limit already, the stream closes in this call.
        return self.read_until_regex(regex, max_bytes)

    def read_line(self, delimiter: bytes, max_bytes: int | None = None) -> Awaitable[bytes]:
        self.reading_head = False
        return self.read_until(delimiter, max_bytes)

    def close(self, exc_info: Any = False) -> None:
        if (self.reading_head and isinstance(exc_info, UnsatisfiableReadError)
                and not self.stream.closed()):
            self.reading_head = False
            self.refuse()
        self.close_stream(exc_info)

    def refuse(self) -> None:
        """Answer 431 and linger (the stream closes its own socket right after)."""
        sock = self.stream.socket
        if self.stream.writing():  # an answer still going out: never interleave with it
            return
        try:
            sock.send(HEAD_TOO_LARGE)
            kept = socket.socket(fileno=os.dup(sock.fileno()))
        except OSError:  # gone already, or its buffer full: closed as Tornado does
            return
        self.server.refused += 1
        log.info("request head over %d bytes from %s: 431",
                 self.server.conn_params.max_header_size, self.address)
        _Linger(self.server, kept).start()


class _Linger:
    """A refused connection's socket (a duplicate of the stream's), its sending side shut:
    what the client still sends is dropped until it closes or the bounds are reached."""

    __slots__ = ("dropped", "loop", "server", "sock", "timer")

    def __init__(self, server: HeadLimitHTTPServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.dropped = 0
        self.loop = asyncio.get_running_loop()
        self.timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.server.lingering.add(self)
        try:
            self.sock.setblocking(False)
            self.sock.shutdown(socket.SHUT_WR)
            self.loop.add_reader(self.sock.fileno(), self.drain)
        except (OSError, ValueError, RuntimeError):
            self.end()
            return
        self.timer = self.loop.call_later(LINGER, self.end)

    def drain(self) -> None:
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        self.dropped += len(data)
        if not data or self.dropped > LINGER_BYTES:
            self.end()

    def end(self) -> None:
        self.server.lingering.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
