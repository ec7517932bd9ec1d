"""Streaming HTTP transports: one long GET response carries every packet, POSTs carry packets in.

htmlfile and xhr-multipart are both this shape (``reference/legacy.md`` §2.4–§2.5): the GET
writes a prelude, then one frame per write of the session, flushed as an HTTP chunk (Tornado
chunks a response that is flushed before it is finished): xhr-multipart's frames written in
one pass of the loop share one chunk (:mod:`tornio.transports.coalesce`), htmlfile's go one
chunk each, as node writes them. The session treats the GET as a persistent transport
(heartbeats, heartbeat timeout) and the response ends only when the session closes it or
the client goes away. POSTs are
:class:`~tornio.legacy.transports.posting.PacketPostHandler`'s, as with xhr-polling.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from typing import Any

from tornio.core.counters import LEGACY
from tornio.legacy.transports.base import UNKNOWN_SID
from tornio.legacy.transports.posting import PacketPostHandler
from tornio.protocol import legacy
from tornio.transports.coalesce import Outbox
from tornio.transports.unsent import unsent_bytes

__all__ = ["StreamingHandler", "StreamingSink"]

log = logging.getLogger("tornio.legacy.transports.streaming")


class StreamingSink:
    """The session's view of one streaming GET: every write becomes one frame, the frames of
    a pass of the loop one flushed chunk."""

    polling = False
    __slots__ = ("done", "handler", "transport")

    def __init__(self, handler: StreamingHandler) -> None:
        self.handler = handler
        self.transport = handler.transport_name
        #: Resolved when the response has ended (closed by us or by the client).
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def write(self, packets: list[str]) -> None:
        if self.done.done():
            return
        LEGACY.messages_out += len(packets)
        self.handler.send_frame(legacy.encode_payload(packets))

    def close(self) -> None:
        if self.done.done():
            return
        self.done.set_result(None)
        self.handler.end_stream()  # what is pending goes first


class StreamingHandler(PacketPostHandler, metaclass=abc.ABCMeta):
    """A GET that streams frames; subclasses say what the content type, prelude and frames
    look like."""

    content_type = "text/plain; charset=UTF-8"
    #: Whether the frames of a pass may share a chunk (htmlfile keeps node's one chunk per
    #: frame: each is flushed as it is written).
    coalesce = True

    def prelude(self) -> bytes:
        """Written (and flushed as the first chunk) before any frame."""
        return b""

    @abc.abstractmethod
    def frame(self, payload: str) -> bytes:
        """The bytes that carry one payload (one packet, or several framed)."""

    #: The open stream and what it has not sent yet (class defaults, as ``_socket``'s).
    _sink: StreamingSink | None = None
    _outbox: Outbox | None = None

    def prepare(self) -> None:
        self._sink = None
        self._outbox = None
        super().prepare()

    async def get(self, sid: str) -> None:
        if self._finished:
            return
        self.allow_cors()
        self.set_header("Content-Type", self.content_type)
        self.set_header("Connection", "keep-alive")
        socket = self.manager.get(sid)
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None and stream.closed():
            return  # the client left before we got here: on_connection_close won't come
        self.write(self.prelude())
        self.flush()
        if socket is None:
            self.write(self.frame(UNKNOWN_SID))
            self.finish()
            return
        sink = self._sink = StreamingSink(self)
        self._outbox = Outbox(
            self._send_chunk,
            lambda: unsent_bytes(stream),
            self.manager.settings.max_write_buffer,
            lambda unsent: self.overflowed(stream, unsent),
        )
        if not self.coalesce:
            self._outbox.owner_flushes = 1
        self._socket = socket
        socket.attach(sink, self.request)
        await sink.done

    def send_frame(self, payload: str) -> None:
        if self._finished or self._outbox is None:
            return
        data = self.frame(payload)
        LEGACY.bytes_out += len(data)
        if self._outbox.add(data) and not self.coalesce:
            self._outbox.flush()

    def _send_chunk(self, data: bytes) -> None:
        if not self._finished:
            self.write(data)
            self.flush()

    def overflowed(self, stream: Any, unsent: int) -> None:
        """The client has left more than ``max_write_buffer`` bytes unread: its session
        closes (and logs it) and the connection is dropped with what it holds."""
        sink, socket = self._sink, self._socket
        if sink is not None and not sink.done.done():
            sink.done.set_result(None)  # ended: the session's close writes nothing more
        if socket is not None:
            socket.overflowed(self.transport_name, unsent)
        stream.close()

    def end_stream(self) -> None:
        if not self._finished:
            if self._outbox is not None:
                self._outbox.flush()
            self.finish()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        sink, socket = self._sink, self._socket
        if self._outbox is not None:
            self._outbox.discard()
        if sink is not None and socket is not None and not sink.done.done():
            sink.done.set_result(None)
            socket.detach(sink)
