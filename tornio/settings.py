"""Server settings: every timing, limit and policy in one typed object with defaults."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

__all__ = ["LEGACY_TRANSPORTS", "Settings"]

#: Every legacy (0.9) transport tornio can serve, in the default preference order.
LEGACY_TRANSPORTS: tuple[str, ...] = (
    "websocket",
    "flashsocket",
    "htmlfile",
    "xhr-multipart",
    "xhr-polling",
    "jsonp-polling",
)

#: The transports advertised by default: node 0.9's list plus what tornio adds.
DEFAULT_TRANSPORTS: tuple[str, ...] = (
    "websocket",
    "htmlfile",
    "xhr-polling",
    "jsonp-polling",
    "flashsocket",
    "xhr-multipart",
)

Authorizer = Callable[[Any], "bool | Awaitable[bool]"]


@dataclasses.dataclass
class Settings:
    """What a tornio server can be told.

    Times are seconds. Defaults are node socket.io 0.9's.
    """

    #: URL prefix: clients connect to ``/<resource>/1/...``.
    resource: str = "socket.io"
    #: Transports served, in the order advertised (the order is the client's preference).
    transports: Sequence[str] = DEFAULT_TRANSPORTS
    #: Sent to the client in the handshake; a persistent transport with no client data for
    #: this long is closed.
    heartbeat_timeout: float = 60.0
    #: How often a persistent transport writes ``2::``.
    heartbeat_interval: float = 25.0
    #: Sent in the handshake; a polling session with no new request for this long ends.
    close_timeout: float = 60.0
    #: How long a polling GET is held open before it is answered with ``8::``.
    polling_duration: float = 20.0
    #: A handshake whose session never opens a transport is forgotten after this long.
    handshake_timeout: float = 30.0
    #: Largest request body (polling POST) or websocket message accepted, in bytes.
    max_buffer_size: int = 1_000_000
    #: Bytes a websocket client may leave unread (sent by the server, not yet taken by the
    #: client) before its connection is dropped: a client that stopped reading must not
    #: grow the server's memory without end.
    max_write_buffer: int = 16_000_000
    #: Allowed origins, node 0.9 style: ``'*:*'``, ``'host:port'``, ``'host:*'``, ``'*:port'``.
    origins: str | Sequence[str] = "*:*"
    #: ``authorize(request) -> bool`` (or awaitable): False refuses the handshake with 403.
    authorize: Authorizer | None = None
    #: Port of the Flash policy server.
    policy_port: int = 10843
    #: The socket.io-client 0.9 npm package directory (``node_modules/socket.io-client``):
    #: the flashsocket SWF files are served from it under ``/<resource>/static/flashsocket/``.
    #: None: those URLs answer 404.
    client_package: str | None = None

    # -- Engine.IO / Socket.IO v5 (modern clients) ------------------------------------------
    #: How often the server pings a modern client.
    ping_interval: float = 25.0
    #: How long a ping may wait for its pong before the session is closed.
    ping_timeout: float = 20.0
    #: How long a websocket probe may take to complete an upgrade.
    upgrade_timeout: float = 10.0
    #: A modern client that joins no namespace within this long is disconnected.
    connect_timeout: float = 45.0
    #: Most binary attachments one Socket.IO packet may announce.
    max_attachments: int = 10
    #: Serve Engine.IO v3 clients (socket.io-client 2.x) too.
    allow_eio3: bool = True

    # -- dispatch ----------------------------------------------------------------------------
    #: Connect middlewares for every namespace, in order, before each namespace class's own
    #: (``Cls.use(fn)``) and its ``recv_connect``: ``fn(namespace)``, plain or ``async``;
    #: raising :class:`~tornio.exceptions.ConnectionRefused` (or returning False) refuses.
    middlewares: Sequence[Callable[[Any], Any]] = ()
    #: ``default(value)`` for a value the built-in JSON has no type for (a ``datetime``,
    #: a ``Decimal``): what to write instead, as ``json.dumps(default=)``; raising
    #: TypeError leaves the value unencodable. Emits, acks and broadcasts, both
    #: generations (and msgpack clients).
    json_default: Callable[[Any], Any] | None = None
    #: A module-like object with ``dumps(value, separators=...)`` and ``loads(text)``
    #: (python-socketio's ``json=``) that writes and reads every JSON payload instead of
    #: the built-in JSON. Not with ``json_default``.
    json: Any = None

    def __post_init__(self) -> None:
        self.resource = self.resource.strip("/")
        unknown = [t for t in self.transports if t not in LEGACY_TRANSPORTS]
        if unknown:
            raise ValueError(f"unknown transports: {', '.join(unknown)}")
        for name in (
            "heartbeat_timeout",
            "heartbeat_interval",
            "close_timeout",
            "polling_duration",
            "handshake_timeout",
            "ping_interval",
            "ping_timeout",
            "upgrade_timeout",
            "connect_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if isinstance(self.origins, str):
            self.origins = tuple(self.origins.split())
        self.middlewares = tuple(self.middlewares)
        if self.json_default is not None and not callable(self.json_default):
            raise TypeError(f"json_default must be a callable, not {self.json_default!r}")
        if self.json is not None:
            if self.json_default is not None:
                raise ValueError("give json= (a module) or json_default= (a function), not both")
            for name in ("dumps", "loads"):
                if not callable(getattr(self.json, name, None)):
                    raise TypeError(f"json= needs a callable {name}(), as the json module has")
        for middleware in self.middlewares:
            if not callable(middleware):
                raise TypeError(f"middlewares must be callables, not {middleware!r}")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> Settings:
        """Build settings, rejecting unknown names with a clear message."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"unknown tornio settings: {', '.join(unknown)}")
        return cls(**kwargs)
