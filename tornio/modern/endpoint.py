"""A plain Engine.IO endpoint: messages in, messages out, no Socket.IO layer.

    def on_message(conn, data):          # data: str, or bytes for a binary message
        conn.send(data)                  # echo

    engine = EngineEndpoint('/engine.io', on_message=on_message)  # tornio.modern.endpoint
    app = tornado.web.Application(engine.urls + my_handlers)

It serves Engine.IO v4 clients (and v3 ones unless ``allow_eio3=False``) over polling,
websocket and the upgrade between them, with the same transports and session state machine
as tornio's Socket.IO server.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tornado.routing import Rule

from tornio.core.fairness import InputBacklog
from tornio.core.timers import SessionTimers
from tornio.modern.driving import EngineDriving
from tornio.modern.session import EngineSession, EngineSettings
from tornio.modern.transports import (
    EnginePollingHandler,
    EngineWebSocketHandler,
    UpgradeMatches,
    forget_engine,
)
from tornio.protocol.drive import drive
from tornio.settings import Settings

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

    from tornio.modern.transports import EngineHost, EngineOwner
    from tornio.protocol.drive import Driven

__all__ = ["EngineConnection", "EngineEndpoint"]

log = logging.getLogger("tornio.modern.endpoint")


class EngineConnection(EngineDriving):
    """One Engine.IO client of an :class:`EngineEndpoint`. Its input comes through the same
    gate as a Socket.IO socket's (:class:`~tornio.core.fairness.InputBacklog`): a POST of
    many messages is handled in slices, with the loop free between them."""

    protocol = "modern"

    def __init__(
        self,
        endpoint: EngineEndpoint,
        sid: str,
        version: int,
        now: float,
        transport: str,
        request: HTTPServerRequest,
    ) -> None:
        self.endpoint = endpoint
        self.sessid = sid
        self.request = request
        super().__init__(EngineSession(sid, version, endpoint.engine_settings, now, transport))
        #: Its input as the transports hand it over (:class:`InputBacklog`).
        self.inbox = InputBacklog(self)

    @property
    def closed(self) -> bool:
        return self.engine.closed

    def send(self, data: str | bytes) -> None:
        """Send one message (text, or binary as bytes)."""
        drive(self, self.engine.send("4" + data if isinstance(data, str) else bytes(data)))
        self.endpoint.touch(self)

    def close(self) -> None:
        """End the session; a polling client is told so."""
        self.close_session("forced server close", notify_client=True)

    def disconnect(self, silent: bool = False) -> None:
        """:meth:`close` (what the input gate calls on a socket that floods)."""
        self.close()

    # -- called by the transports --------------------------------------------------------------

    def opened(self) -> None:
        self.endpoint._callback("on_connect", self)

    def receive_messages(self, messages: Sequence[str | bytes]) -> None:
        for message in messages:
            if self.closed:
                return
            self.endpoint._callback("on_message", self, message)

    # -- the engine, driven (EngineDriving's methods; tornio.protocol.drive) ------------------

    def session_closed(self, reason: str) -> None:
        self.endpoint._forget(self)
        self.endpoint._callback("on_close", self, reason)


class EngineEndpoint:
    """Engine.IO at ``path`` (see the module docstring).

    Args:
        path: the URL path clients connect to.
        on_connect: ``on_connect(conn)`` for each new client.
        on_message: ``on_message(conn, data)`` for each message.
        on_close: ``on_close(conn, reason)`` when a client's session ends.
        settings: :class:`~tornio.settings.Settings` fields (``ping_interval``,
            ``ping_timeout``, ``max_buffer_size`` (maxPayload), ``origins``, ``authorize``…).
    """

    #: The sessions' clock.
    clock = staticmethod(time.monotonic)

    def __init__(
        self,
        path: str = "/engine.io",
        on_connect: Callable[[EngineConnection], Any] | None = None,
        on_message: Callable[[EngineConnection, str | bytes], Any] | None = None,
        on_close: Callable[[EngineConnection, str], Any] | None = None,
        **settings: Any,
    ) -> None:
        self.timers = SessionTimers(self.clock)
        self.path = "/" + path.strip("/")
        self.on_connect = on_connect
        self.on_message = on_message
        self.on_close = on_close
        self.settings = Settings.from_kwargs(**settings)
        self.engine_settings = EngineSettings.from_settings(self.settings, socketio=False)
        self.connections: dict[str, EngineConnection] = {}

    @property
    def urls(self) -> list[Rule]:
        """The rules serving Engine.IO at :attr:`path`."""
        pattern = re.escape(self.path) + r"/?$"
        kwargs = {"manager": self}
        return [
            Rule(UpgradeMatches(pattern, upgrade=True), EngineWebSocketHandler, kwargs),
            Rule(UpgradeMatches(pattern, upgrade=False), EnginePollingHandler, kwargs),
        ]

    # -- the transports' host interface ----------------------------------------------------------

    def touch(self, socket: Driven) -> None:
        """Make sure the connection's timer fires no later than its next deadline."""
        self.timers.touch(socket)

    def welcome(self) -> None:
        return None

    def get_engine(self, engine_sid: str) -> EngineConnection | None:
        return self.connections.get(engine_sid)

    def create_engine_socket(
        self, eio_version: int, transport: str, request: HTTPServerRequest
    ) -> EngineConnection:
        sid = secrets.token_urlsafe(15)
        while sid in self.connections:
            sid = secrets.token_urlsafe(15)
        conn = EngineConnection(self, sid, eio_version, self.clock(), transport, request)
        self.connections[sid] = conn
        return conn

    def close_all(self) -> None:
        for conn in list(self.connections.values()):
            conn.close()

    def _forget(self, conn: EngineConnection) -> None:
        forget_engine(self.connections, conn.engine)
        self.timers.cancel(conn.sessid)

    def _callback(self, name: str, *args: Any) -> None:
        callback = getattr(self, name)
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            log.exception("%s callback failed", name)


if TYPE_CHECKING:  # the interfaces the transports and the timers drive them through (mypy)

    def _interfaces(
        endpoint: EngineEndpoint, conn: EngineConnection
    ) -> tuple[EngineHost, EngineOwner, Driven]:
        return endpoint, conn, conn
