"""The request a session keeps for its namespaces, without the connection it came on, and
the WSGI-style environ gevent-socketio namespaces read it through."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

__all__ = ["kept_request", "request_environ"]


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


def request_environ(request: HTTPServerRequest | None) -> dict[str, Any]:
    """A WSGI-style environ for a Tornado request, as gevent-socketio namespaces expect."""
    if request is None:
        return {}
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query,
        "REMOTE_ADDR": request.remote_ip,
        "SERVER_PROTOCOL": request.version,
        "wsgi.url_scheme": request.protocol,
    }
    if "Content-Type" in request.headers:
        environ["CONTENT_TYPE"] = request.headers["Content-Type"]
    for name, value in request.headers.items():
        environ["HTTP_" + name.replace("-", "_").upper()] = value
    return environ
