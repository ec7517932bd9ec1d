"""The request a session keeps for its namespaces, without the connection it came on."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

__all__ = ["kept_request"]


def kept_request(request: HTTPServerRequest | None) -> HTTPServerRequest | None:
    """A shallow copy of ``request`` for a session to keep: headers, cookies, remote IP,
    URI and arguments stay readable; the HTTP connection does not come along.

    A session outlives the request that opened it (a handshake, a websocket upgrade), and a
    request holds its connection, which holds the stream and its buffers: a few kilobytes
    per session, kept for as long as it lives, for nothing a namespace can use.
    """
    if request is None or request.connection is None:
        return request
    kept = copy.copy(request)
    kept.connection = None
    kept.server_connection = None
    return kept
