"""What every legacy transport handler shares: settings, the origin check and CORS, forced
disconnect, refusals."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from tornado.web import RequestHandler

from tornio.transports.origins import check_request

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from tornio.legacy.socket import LegacySocket
    from tornio.settings import Settings

__all__ = ["UNKNOWN_SID", "LegacyHost", "TransportMixin", "UnknownTransportHandler"]

log = logging.getLogger("tornio.transports")

#: The answer to a request for a session we don't know: error "client not handshaken",
#: advice "reconnect" (node 0.9 does the same; the client then handshakes again).
UNKNOWN_SID = "7:::1+0"


class LegacyHost(Protocol):
    """What the 0.9 transports need of whoever owns the sockets (the manager)."""

    settings: Settings

    def get(self, sid: str) -> LegacySocket | None:
        """The legacy socket whose session id is ``sid``."""
        ...

    def create_socket(self, request: HTTPServerRequest | None = None) -> LegacySocket:
        """A new handshaken socket."""
        ...

    def touch(self, socket: Any) -> None:
        """The socket's session may have a new deadline: re-arm its timer."""
        ...


class TransportMixin:
    """Mixed into every tornio ``RequestHandler``; the manager comes from the URL spec."""

    manager: LegacyHost
    transport_name = ""

    def initialize(self, manager: LegacyHost) -> None:
        self.manager = manager

    def check_origin_allowed(self: Any, *, referer: bool = False, require: bool = False) -> bool:
        """The origin decision (:func:`tornio.transports.origins.check_request`) for this
        request: its CORS headers are set and True returned, or 403 answered and False.
        ``referer``, ``require``: as for :func:`~tornio.transports.origins.decide`."""
        decision = check_request(
            self.request, self.manager.settings, referer=referer, require=require
        )
        self._origin_decision = decision
        if not decision.allowed:
            self.refuse(403, "origin not allowed")
            return False
        self.allow_cors()
        return True

    def allow_cors(self: Any) -> None:
        """The CORS headers the origin decision gave (decided now if it was not yet)."""
        decision = getattr(self, "_origin_decision", None)
        if decision is None:
            decision = self._origin_decision = check_request(
                self.request, self.manager.settings
            )
        for name, value in decision.headers:
            self.set_header(name, value)

    def compute_etag(self) -> None:
        """No ETag: two polls with the same answer must never turn into a 304."""
        return None

    def transport_enabled(self) -> bool:
        return self.transport_name in self.manager.settings.transports

    def refuse(self: Any, status: int, message: str) -> None:
        """Answer with an HTTP error and a plain-text reason, and log it."""
        log.info("refused %s %s: %d %s", self.request.method, self.request.uri, status, message)
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish(message)

    def forced_disconnect(self: Any, sid: str) -> bool:
        """``?disconnect`` on any transport URL ends the session; True when it was asked."""
        if "disconnect" not in self.request.query_arguments:
            return False
        if getattr(self, "_origin_decision", None) is None and not self.check_origin_allowed():
            return True  # refused (403): a foreign page may not end a session either
        socket = self.manager.get(sid)
        if socket is not None:
            socket.close_session("client disconnect")  # the client leaves, as with 0::
        self.allow_cors()
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish("")
        return True


class UnknownTransportHandler(TransportMixin, RequestHandler):
    """``/<resource>/1/<anything>/<sid>``: a forced disconnect, or an unknown transport."""

    def get(self, transport: str, sid: str) -> None:
        if not self.check_origin_allowed():
            return
        if self.forced_disconnect(sid):
            return
        self.refuse(400, f"unknown transport {transport!r}")

    post = get


class ProtocolVersionHandler(RequestHandler):
    """Any protocol revision other than 1 under the resource."""

    def get(self, *args: str) -> None:
        self.set_status(500)
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish("Protocol version not supported.")

    post = get
