"""Server settings: every timing, limit and policy in one typed object with defaults."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "LEGACY_TRANSPORTS",
    "Settings",
    "check_http_compression",
    "check_per_message_deflate",
    "parse_trusted_proxies",
]

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
    #: The proxies whose ``X-Forwarded-For``, ``X-Real-Ip`` and ``X-Forwarded-Proto`` headers
    #: are believed (by ``SocketIOServer`` and ``tornio serve``): addresses and CIDR networks,
    #: as a sequence or one string separated by commas; ``'*'`` trusts every peer. Empty (the
    #: default): nobody, a request's ``remote_ip`` is the address that connected.
    trusted_proxies: str | Sequence[str] = ()
    #: The socket.io-client (4.x) npm package served at ``/<resource>/socket.io.js`` (and
    #: ``socket.io.min.js``, ``socket.io.msgpack.min.js``, ``socket.io.esm.min.js``, their
    #: ``.map`` files): its directory (``node_modules/socket.io-client``, or its ``dist``),
    #: or True to look for ``node_modules/socket.io-client`` from the working directory up
    #: (then ``$NODE_PATH``). None: those URLs answer 404.
    client_bundle: str | bool | None = None
    #: permessage-deflate (RFC 7692) on modern clients' websockets, negotiated when the client
    #: offers it: False (the default, as node's), True (messages of 1 KB or more compressed)
    #: or a dict of options: ``threshold`` (1024), ``server_no_context_takeover`` (True),
    #: ``client_no_context_takeover`` (False), ``server_max_window_bits`` and
    #: ``client_max_window_bits`` (15), ``level`` (6), ``mem_level`` (8).
    per_message_deflate: bool | Mapping[str, Any] = False
    #: gzip of modern polling answers for clients that accept it: True (the default, as
    #: node's ``httpCompression``: answers of 1 KB or more), False, or a dict of options:
    #: ``threshold`` (1024), ``level`` (6).
    http_compression: bool | Mapping[str, Any] = True

    # -- connection state recovery (modern clients, node's ``connectionStateRecovery``) -----
    #: Let a modern client whose connection broke come back with the same socket id, its
    #: rooms, its session data and every event it missed. Every event then carries an offset
    #: (one more argument, as with node).
    connection_state_recovery: bool = False
    #: How long a lost connection stays recoverable, in seconds (node: 2 minutes).
    max_disconnection_duration: float = 120.0
    #: A recovered connection skips the connect middlewares (node's ``skipMiddlewares``);
    #: its ``recv_connect`` still runs, and sees ``self.recovered``.
    recovery_skip_middlewares: bool = True

    # -- bounds on what a client chooses (every value a client controls has one) -----------
    #: Longest room name, in UTF-8 bytes, that ``join``, ``leave`` and a room emit accept
    #: (a room name is a bus topic). Longer: the call raises ``ValueError`` in the
    #: application and the client's request gets the protocol's error answer.
    max_room_name: int = 1024
    #: Longest event name, in UTF-8 bytes, a client may send; longer is answered as an
    #: unknown event (``no_such_method``, or the modern error) and logged.
    max_event_name: int = 1024
    #: Longest namespace name, in UTF-8 bytes, a client may ask for.
    max_namespace_name: int = 256
    #: Most rooms one socket may be in at once (besides its own id's room).
    max_rooms_per_socket: int = 10_000

    # -- fairness ----------------------------------------------------------------------------
    #: Packets one socket may send per second, on average (a token bucket, refilled on a
    #: monotonic clock): events, acks, messages, namespace disconnects (and a 0.9 client's
    #: heartbeats and namespace connects); None (the default): no limit. The first packet
    #: past it disconnects the socket (a modern client gets its namespaces' DISCONNECT, a
    #: 0.9 client ``0::``, then the transport closes), with a WARNING from
    #: ``tornio.fairness`` and the ``tornio_rate_limited_sockets`` metric. Whatever this
    #: says, one connection's input is handled in slices (``tornio.core.fairness``).
    max_event_rate: float | None = None
    #: How many packets a socket may send at once before ``max_event_rate`` applies (the
    #: bucket's size; it starts full).
    max_event_burst: int = 1000

    # -- request heads -----------------------------------------------------------------------
    #: Largest HTTP request head (request line and headers), in bytes: larger is refused
    #: with 431 and the connection closed.
    max_header_size: int = 65536
    #: A connection that has not sent a whole request head within this many seconds is
    #: closed quietly (slowloris).
    header_timeout: float = 20.0

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
            "max_disconnection_duration",
            "header_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in (
            "max_room_name",
            "max_event_name",
            "max_namespace_name",
            "max_rooms_per_socket",
            "max_event_burst",
            "max_header_size",
            "max_buffer_size",
            "max_write_buffer",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive whole number, not {value!r}")
        if self.max_event_rate is not None and not self.max_event_rate > 0:
            raise ValueError("max_event_rate must be positive, or None for no limit")
        if isinstance(self.origins, str):
            self.origins = tuple(self.origins.split())
        self.trusted_proxies = parse_trusted_proxies(self.trusted_proxies)
        if isinstance(self.client_bundle, str) and not os.path.isdir(self.client_bundle):
            raise ValueError(f"client_bundle: {self.client_bundle!r} is not a directory")
        check_per_message_deflate(self.per_message_deflate)
        check_http_compression(self.http_compression)
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


def parse_trusted_proxies(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """The entries of a ``trusted_proxies`` value: addresses and CIDR networks separated by
    commas or spaces (or a sequence of them), ``'*'`` for every peer.

    Raises:
        ValueError: an entry that is neither ``'*'`` nor an address or a network.
    """
    if spec is None:
        return ()
    if isinstance(spec, str):
        spec = spec.replace(",", " ").split()
    entries = tuple(str(entry).strip() for entry in spec if str(entry).strip())
    for entry in entries:
        if entry != "*":
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not an IP address, a CIDR network or '*'"
                ) from None
    return entries


#: per_message_deflate's options and their defaults.
DEFLATE_DEFAULTS: dict[str, Any] = {
    "threshold": 1024,
    "server_no_context_takeover": True,
    "client_no_context_takeover": False,
    "server_max_window_bits": 15,
    "client_max_window_bits": 15,
    "level": 6,
    "mem_level": 8,
}
#: http_compression's options and their defaults.
HTTP_COMPRESSION_DEFAULTS: dict[str, Any] = {"threshold": 1024, "level": 6}


def _options(name: str, value: Any, defaults: Mapping[str, Any]) -> dict[str, Any] | None:
    if value is False or value is None:
        return None
    if value is True:
        return dict(defaults)
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be True, False or a dict of options")
    unknown = sorted(set(value) - set(defaults))
    if unknown:
        raise ValueError(f"{name}: unknown options {', '.join(map(str, unknown))}")
    options = {**defaults, **value}
    for key, default in defaults.items():
        if type(options[key]) is not type(default):
            raise ValueError(f"{name}: {key} must be a {type(default).__name__}")
    if options["threshold"] < 0 or not 0 <= options["level"] <= 9:
        raise ValueError(f"{name}: threshold must be >= 0 and level 0 to 9")
    return options


def check_per_message_deflate(value: Any) -> dict[str, Any] | None:
    """The options a ``per_message_deflate`` value means (None: off).

    Raises:
        ValueError: not a bool or a dict, an unknown option, a value out of range.
    """
    options = _options("per_message_deflate", value, DEFLATE_DEFAULTS)
    if options is not None:
        for key in ("server_max_window_bits", "client_max_window_bits"):
            if not 9 <= options[key] <= 15:  # zlib's raw deflate cannot do 8
                raise ValueError(f"per_message_deflate: {key} must be 9 to 15")
        if not 1 <= options["mem_level"] <= 9:
            raise ValueError("per_message_deflate: mem_level must be 1 to 9")
    return options


def check_http_compression(value: Any) -> dict[str, Any] | None:
    """The options an ``http_compression`` value means (None: off).

    Raises:
        ValueError: not a bool or a dict, an unknown option, a value out of range.
    """
    return _options("http_compression", value, HTTP_COMPRESSION_DEFAULTS)
