"""The legacy handshake: ``GET`` or ``POST /<resource>/1/`` → ``sid:heartbeat:close:transports``."""

from __future__ import annotations

import inspect
import json
import logging
import re

from tornado.web import RequestHandler

from tornio.core.counters import LEGACY
from tornio.legacy.transports.base import TransportMixin
from tornio.transports.origins import check_request

__all__ = ["HandshakeHandler"]

log = logging.getLogger("tornio.legacy.transports.handshake")

JSONP_INDEX = re.compile(r"^\d+$")


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class HandshakeHandler(TransportMixin, RequestHandler):
    """Creates a session, after the origin check and the application's ``authorize`` hook."""

    async def get(self) -> None:
        settings = self.manager.settings
        jsonp = self.get_query_argument("jsonp", None)
        if jsonp is not None and not JSONP_INDEX.match(jsonp):
            self.refuse(400, "invalid jsonp index")
            return
        # Origin, else Referer, as node 0.9's verifyOrigin; a JSONP handshake must show one.
        decision = self._origin_decision = check_request(
            self.request, settings, referer=True, require=jsonp is not None
        )
        if not decision.allowed:
            self._answer(jsonp, 403, "handshake bad origin")
            return
        self.allow_cors()
        if settings.authorize is not None:
            try:
                allowed = settings.authorize(self.request)
                if inspect.isawaitable(allowed):
                    allowed = await allowed
            except Exception:
                log.exception("the authorize hook failed")
                self._answer(jsonp, 500, "handshake error")
                return
            if not allowed:
                self._answer(jsonp, 403, "handshake unauthorized")
                return
        socket = self.manager.create_socket(self.request)
        LEGACY.handshakes += 1
        heartbeat = _seconds(settings.heartbeat_timeout)
        body = ":".join(
            (
                socket.sessid,
                heartbeat,
                _seconds(settings.close_timeout),
                ",".join(settings.transports),
            )
        )
        self._answer(jsonp, 200, body)

    post = get

    def _answer(self, jsonp: str | None, status: int, body: str) -> None:
        if jsonp is None:
            self.set_status(status)
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(body)
            return
        # JSONP answers are always 200: a script's status is invisible to the page.
        self.set_header("Content-Type", "application/javascript; charset=UTF-8")
        if status == 200:
            self.finish(f"io.j[{jsonp}]({json.dumps(body)});")
        else:
            self.finish(f"io.j[{jsonp}](new Error({json.dumps(body)}));")

