"""Relaying a websocket upgrade that reached a node other than its session's owner.

Polling requests that reach the wrong node are forwarded over the bus, request by request
(:mod:`tornio.transports.forwarding`). A websocket cannot travel that way: it is one long-lived
connection. Behind a round-robin balancer, though, a modern client's upgrade (and a 0.9
client's websocket or flashsocket) lands on any host, and refusing it would keep the client
on polling forever. So the node that got it opens a TCP connection to the HTTP address the
owner's host announced on the bus (``ZmqBus(announce={"http": "host:port"})``), sends the
upgrade request there, byte for byte plus two headers, and from then on copies bytes both
ways: the owner's host hands the connection to the owner (the supervisor routes a new
connection by the session its first request names), which answers the upgrade itself. The
websocket protocol (and any extension it negotiates) runs end to end between client and
owner; the relay never parses a frame.

The relayed request carries ``X-Tornio-Relayed`` (so that a node never relays a relayed
request again: a stale owner gets a refusal, not a loop) and the client's address appended
to ``X-Forwarded-For`` (which the owner believes only if the relaying host is among its
``trusted_proxies``). Each direction pauses reading when the other's write buffer is full,
so a slow reader on one side cannot grow the relay's memory. A client on TLS cannot be
relayed (its stream cannot change hands): it is refused as before, and keeps polling.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from tornado.httputil import HTTPHeaders, RequestStartLine
from tornado.iostream import IOStream, SSLIOStream

from tornio.transports.wsconn import take_socket

__all__ = ["RELAYED_HEADER", "parse_address", "relay", "request_head"]

log = logging.getLogger("tornio.transports.relay")

#: Marks a relayed request (its value: the client's address).
RELAYED_HEADER = "X-Tornio-Relayed"
#: How long the connection to the owner's host may take.
CONNECT_TIMEOUT = 5.0


def parse_address(value: Any) -> tuple[str, int] | None:
    """``"host:port"`` (``"[v6]:port"``) as a pair; None for anything else."""
    if not isinstance(value, str):
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def request_head(start_line: RequestStartLine, headers: HTTPHeaders, client_ip: str) -> bytes:
    """The upgrade request as it goes to the owner's host (see the module docstring)."""
    lines = [f"{start_line.method} {start_line.path} {start_line.version}"]
    forwarded_for: list[str] = []
    for name, value in headers.get_all():
        lowered = name.lower()
        if lowered == "x-forwarded-for":
            forwarded_for.append(value)
            continue
        if lowered == RELAYED_HEADER.lower():
            continue
        lines.append(f"{name}: {value}")
    if client_ip:
        forwarded_for.append(client_ip)
    if forwarded_for:
        lines.append("X-Forwarded-For: " + ", ".join(forwarded_for))
    lines.append(f"{RELAYED_HEADER}: {client_ip or 'unknown'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Pipe(asyncio.Protocol):
    """One side of a relay: what it reads goes to its peer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Pipe | None = None
        self._early: list[bytes] = []
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport instances, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        if self._closed:
            self.transport.close()
            return
        for data in self._early:
            self.transport.write(data)
        self._early.clear()

    def write(self, data: bytes) -> None:
        if self.transport is None:
            self._early.append(data)
        elif not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        if self.peer is not None:
            self.peer.write(data)

    def eof_received(self) -> bool | None:
        return False  # close this side; connection_lost closes the other

    def pause_writing(self) -> None:
        # This side cannot take more: stop reading the side that sends it.
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.transport.is_closing():
            peer.transport.pause_reading()

    def resume_writing(self) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.transport.is_closing():
            peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self.peer is not None:
            self.peer.close()

    def close(self) -> None:
        """Close after what is queued has been written."""
        self._closed = True
        if self.transport is not None:
            self.transport.close()


async def relay(stream: IOStream, head: bytes, address: tuple[str, int]) -> bool:
    """Send ``head`` to ``address``, then copy bytes between it and the client's ``stream``
    (detached from Tornado) until either side closes. False (and the client's connection
    closed) when the owner's host cannot be reached, or the stream cannot change hands."""
    if stream.closed():
        return False
    if isinstance(stream, SSLIOStream):
        stream.close()
        return False
    loop = asyncio.get_running_loop()
    raw, leftover = take_socket(stream)  # leftover: sent past the request (hixie-76's key)
    client, upstream = _Pipe(), _Pipe()
    client.peer, upstream.peer = upstream, client
    try:
        await asyncio.wait_for(
            loop.create_connection(lambda: upstream, address[0], address[1]), CONNECT_TIMEOUT
        )
    except (OSError, asyncio.TimeoutError) as exc:
        log.warning("cannot relay a websocket to %s:%s: %s", address[0], address[1], exc)
        raw.close()
        return False
    upstream.write(head + leftover)
    try:
        await loop.connect_accepted_socket(lambda: client, raw)
    except OSError:
        raw.close()
        upstream.close()
        return False
    return True
