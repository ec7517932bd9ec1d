"""The fast HTTP path's hand-over to Tornado (:mod:`tornio.transports.fasthttp`): a connection
the fast path does not serve becomes an ``IOStream`` of the ``HTTPServer``, with the bytes
already received, once what was written to it is sent. No parsing.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

__all__ = ["hand_off"]


def hand_off(connection: Any) -> None:
    """Give ``connection`` (a :class:`~tornio.transports.fasthttp.FastConnection`), and the
    bytes it has not served yet, to its server's Tornado ``HTTPServer`` (after what it has
    written is sent)."""
    transport = connection.transport
    if transport is None or connection.lost or connection.handed_off:
        return
    connection.handed_off = True
    if transport.get_write_buffer_size():
        transport.pause_reading()
        connection.drain_waiter = asyncio.get_running_loop().create_future()
        transport.set_write_buffer_limits(high=0, low=0)
        connection.drain_waiter.add_done_callback(lambda _: _give(connection))
        return
    _give(connection)


def _give(connection: Any) -> None:
    transport = connection.transport
    assert transport is not None
    connection.server.connections.discard(connection)
    sock = transport.get_extra_info("socket")
    if connection.lost or sock is None:
        transport.abort()
        return
    try:
        fd = os.dup(sock.fileno())
    except OSError:
        transport.abort()
        return
    data = bytes(connection.buffer)
    connection.buffer.clear()
    connection.server.handed_off += 1
    # Closes the transport's descriptor; ours stays open. Not abort(): uvloop's resets
    # the connection (SO_LINGER 0), which would end ours too.
    transport.close()
    raw = socket.socket(fileno=fd)
    raw.setblocking(False)
    connection.server.give_to_tornado(raw, data, connection.address or ("", 0))
