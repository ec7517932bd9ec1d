"""gevent-socketio's ``socketio.virtsocket``: ``Socket``, and ``default_error_handler``.

The sockets tornio's server makes are its own (:class:`tornio.legacy.socket.LegacySocket`
for 0.9 clients, :class:`tornio.modern.socket.ModernSocket` for the others); all of them have
gevent-socketio's attributes (``sessid``, ``session``, ``request``, ``environ``,
``namespaces``, ``active_ns``, ``state``, ``hits``, ``server``, ``spawn``, ``error``,
``send_packet``, ``disconnect``, ``kill``, ``_set_*``: :mod:`tornio.core.opening`).

:class:`Socket` here is built as gevent-socketio's was, ``Socket(server, config)``, for code
and tests that make one themselves: a 0.9 socket no client is attached to (yet), on the given
tornio server's socket manager (a :class:`~tornio.server.SocketIOServer`, a
:class:`~tornio.router.Router` or a :class:`~tornio.manager.SocketManager`), or, given
anything else (a stand-in server), on a manager of its own. As gevent-socketio's, it is not
``connected`` until its ``state`` is ``'CONNECTED'``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from tornio.legacy.socket import LegacySocket
from tornio.manager import SocketManager
from tornio.settings import Settings

__all__ = ["Socket", "default_error_handler"]

log = logging.getLogger("tornio.virtsocket")


def default_error_handler(
    socket: Any,
    error_name: str,
    error_message: str,
    endpoint: str,
    msg_id: int | None,
    quiet: bool,
) -> None:
    """gevent-socketio's default error handler: an ``error`` event ``[name, message]`` to
    the client (unless ``quiet``), and a log line."""
    packet: dict[str, Any] = {"type": "event", "name": "error",
                              "args": [error_name, error_message], "endpoint": endpoint or ""}
    if msg_id:
        packet["id"] = msg_id
    if not quiet:
        socket.send_packet(packet)
    log.error("default_error_handler: %s, %s (endpoint=%s, msg_id=%s)",
              error_name, error_message, endpoint, msg_id)


def _manager_of(server: Any) -> SocketManager | None:
    if isinstance(server, SocketManager):
        return server
    router = getattr(server, "router", server)
    manager = getattr(router, "manager", None)
    return manager if isinstance(manager, SocketManager) else None


class Socket(LegacySocket):
    """A 0.9 socket made as gevent-socketio made one (see the module docstring)."""

    def __init__(
        self,
        server: Any = None,
        config: Mapping[str, Any] | None = None,
        error_handler: Callable[..., Any] | None = None,
    ) -> None:
        manager = _manager_of(server)
        self._given_server = None if manager is not None else server
        if manager is None:
            manager = SocketManager({}, Settings())
        super().__init__(manager, manager.new_sid(), manager.clock())
        #: gevent-socketio's heartbeat and close timeouts (what tornio's settings say).
        self.config: dict[str, Any] = {
            "heartbeat_timeout": manager.settings.heartbeat_timeout,
            "heartbeat_interval": manager.settings.heartbeat_interval,
            "close_timeout": manager.settings.close_timeout,
            **(config or {}),
        }
        if error_handler is not None:
            self._set_error_handler(error_handler)

    @property
    def server(self) -> Any:
        """The server it was made with (its socket manager, for a tornio server)."""
        return self._given_server if self._given_server is not None else self.manager

    @property
    def connected(self) -> bool:
        """Its ``state`` is ``'CONNECTED'`` (as gevent-socketio's)."""
        return self.state == self.STATE_CONNECTED
