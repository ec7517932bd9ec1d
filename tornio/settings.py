"""Server settings: every timing, limit and policy in one typed object with defaults."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "LEGACY_TRANSPORTS",
    "Settings",
    "check_http_compression",
    "check_per_message_deflate",
    "parse_origins",
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

#: The most ``max_room_name + max_namespace_name`` may be: a room's bus topic, each name
#: escaped (at worst twice its size) and ended, stays within tornio.bus.messages.MAX_TOPIC.
_MAX_NAMES = (4096 - 4) // 2

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
    #: Bytes of output one session may hold that its client has not taken, on every transport:
    #: packets queued for a polling client's next GET (their UTF-8 bytes, without the
    #: payload framing), or the unsent bytes in a websocket's, flashsocket's, htmlfile's or
    #: xhr-multipart's write buffer (beyond what the kernel took). Past it the session is
    #: closed (node's reason ``transport error``), a WARNING is logged and
    #: ``tornio_write_buffer_overflows`` counts it: a client that stops polling or reading
    #: must not grow the server's memory without end.
    max_write_buffer: int = 16_000_000
    #: Which browser origins may connect, on every transport of both generations (see
    #: :mod:`tornio.transports.origins`). Empty (the default): the same origin only, the
    #: request's own ``scheme://host:port`` (from a trusted proxy, ``X-Forwarded-Proto`` and
    #: ``X-Forwarded-Host``); a request with no ``Origin`` (a non-browser client) is allowed.
    #: Entries (a sequence, or one string separated by spaces or commas): full origins
    #: (``'https://app.example.com'``, ``'http://localhost:3000'``) and node 0.9's
    #: ``'host:port'`` / ``'host:*'``, answered with credentialed CORS (the origin echoed,
    #: ``Access-Control-Allow-Credentials: true``); ``'*'`` (or ``'*:*'``, ``'*:port'``): any
    #: origin (on that port), answered ``Access-Control-Allow-Origin: *`` without credentials;
    #: ``'null'``: the ``null`` origin (sandboxed frames, ``file:``), credentialed. Others
    #: are refused with 403. A bad entry raises ValueError.
    origins: str | Sequence[str] = ()
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
    #: (and, for the ``origins`` check, ``X-Forwarded-Host``) are believed (by
    #: ``SocketIOServer`` and ``tornio serve``): addresses and CIDR networks,
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
    # Sizes are UTF-8 bytes (a lone surrogate, which JSON can carry, counts 3). A room name
    # and its namespace become a bus topic, which the bus caps at 4096 bytes whatever these
    # say (tornio.bus.messages.MAX_TOPIC): max_room_name + max_namespace_name <= 2046.
    #: Longest room name, in UTF-8 bytes, that ``join``, ``leave``, a room emit
    #: (``room=``, ``except_rooms=``, ``to=``) and the cluster operations
    #: (``sockets_join``...) accept. Longer: the call raises ``ValueError`` before anything
    #: changes (a handler that passes a client's name through fails as any handler that
    #: raises: logged, no ack); the name never reaches the bus.
    max_room_name: int = 1024
    #: Longest event name, in UTF-8 bytes, a client may send; longer is answered as an
    #: unknown event (the ``error`` event ``["no_such_method", why]``, both generations)
    #: and logged, before ``recv_any``, middlewares or handlers see it. An application's
    #: emit with a longer name raises ``ValueError``.
    max_event_name: int = 1024
    #: Longest namespace name, in UTF-8 bytes, a client may ask for; longer is answered as
    #: a namespace that does not exist (0.9: the ``error`` event ``no_such_namespace``;
    #: modern: CONNECT_ERROR ``Invalid namespace``) and logged. A namespaces dict key longer
    #: than this is refused when the Router is built (no client could reach it).
    max_namespace_name: int = 256
    #: Most rooms one socket may be in at once in one namespace (besides its own id's
    #: room): one more ``join`` raises ``ValueError``.
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
    #: Largest HTTP request head (request line, headers and the blank line), in bytes. A
    #: larger one is answered 431 and the connection closed, however it arrives (one read or
    #: many), on the fast HTTP path and on Tornado's (``--http tornado``, ``SocketIOServer``;
    #: in your own application, ``tornio.transports.heads.HeadLimitHTTPServer``).
    max_header_size: int = 65536
    #: Seconds a connection may take to send a whole request head, then it is closed quietly
    #: (slowloris). The wait starts when the connection opens or the previous answer is sent,
    #: so it also bounds a kept-alive connection's idle time (Tornado's
    #: ``idle_connection_timeout``); a held poll, a stream or a websocket is not affected.
    #: Under ``tornio serve`` the supervisor gives a new connection this long for its request
    #: line, then its worker this long for the whole head (``--header-timeout`` sets both).
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

    # -- blocking handlers (tornio.core.threads) -------------------------------------------
    #: Threads of each worker process that run the blocking handlers: the plain ``on_*``
    #: handlers and ``recv_*`` hooks of namespaces with ``blocking = True`` (gevent-socketio's
    #: ``tornio.namespace.BaseNamespace``) and those marked ``@blocking``. One socket's
    #: handlers run one at a time, in order; this many sockets' at once. Each thread
    #: costs its stack (8 MB of address space, little memory) and, under Django, a database
    #: connection; more threads do not make Python code faster (the GIL), they let more
    #: handlers wait on I/O at once.
    handler_threads: int = 16
    #: Threads of each worker process that run the plain functions blocking namespaces
    #: ``spawn``: each one holds its thread until it returns (a ``while True`` loop: as long
    #: as its namespace lasts). Past this many at once, a new one waits for one to end (a
    #: WARNING says so).
    spawn_threads: int = 64

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
            "handler_threads",
            "spawn_threads",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive whole number, not {value!r}")
        if self.max_room_name + self.max_namespace_name > _MAX_NAMES:
            raise ValueError(
                f"max_room_name + max_namespace_name must be at most {_MAX_NAMES}: the bus "
                "carries a room as a topic of at most 4096 bytes"
            )
        if self.max_event_rate is not None and not self.max_event_rate > 0:
            raise ValueError("max_event_rate must be positive, or None for no limit")
        self.origins = parse_origins(self.origins)  # a bad entry raises here, not per request
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


_ORIGIN_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[^\s/?#@\\\[\]:\x00-\x1f\x7f]+)"
#: ``scheme://host[:port]`` (a trailing ``/`` allowed), and node 0.9's ``host:port``.
_FULL_ORIGIN = re.compile(rf"[A-Za-z][A-Za-z0-9+.-]*://{_ORIGIN_HOST}(?::([0-9]{{1,5}}))?/?\Z")
_NODE_ORIGIN = re.compile(rf"(?:\*|{_ORIGIN_HOST}):(\*|[0-9]{{1,5}})\Z")


def parse_origins(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """The entries of an ``origins`` value: separated by commas or spaces (or a sequence of
    them). Each is ``'*'``, ``'*:*'``, ``'null'``, a full origin (``'https://app.example'``,
    ``'http://localhost:3000'``) or node 0.9's ``'host:port'``, ``'host:*'``, ``'*:port'``
    (an IPv6 host in brackets). :mod:`tornio.transports.origins` says what they mean.

    Raises:
        ValueError: an entry that is none of those.
    """
    if spec is None:
        return ()
    entries: list[str] = []
    for text in [spec] if isinstance(spec, str) else list(spec):
        if not isinstance(text, str):
            raise ValueError(f"origins: {text!r} is not a string")
        for entry in re.split(r"[\s,]+", text):
            if not entry or entry in ("*", "*:*", "null"):
                if entry:
                    entries.append(entry)
                continue
            match = _FULL_ORIGIN.match(entry) or _NODE_ORIGIN.match(entry)
            if match is None:
                raise ValueError(
                    f"origins: {entry!r} is neither a full origin (scheme://host[:port], no "
                    "path) nor a node 0.9 pattern ('host:port', 'host:*', '*:port')"
                )
            port = match.group(1)
            if port is not None and port != "*" and not 0 < int(port) < 65536:
                raise ValueError(f"origins: {entry!r} has a bad port (1-65535 or '*')")
            entries.append(entry)
    return tuple(entries)


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


def http_server_options(settings: Settings) -> dict[str, Any]:
    """Tornado ``HTTPServer`` keyword arguments for the request-head bounds: a head over
    ``max_header_size`` is refused, and ``header_timeout`` is Tornado's
    ``idle_connection_timeout``, its wait for a request's head (a new connection's first, or
    the next one on a kept-alive connection; never a held request's answer)."""
    return {
        "max_header_size": settings.max_header_size,
        "idle_connection_timeout": settings.header_timeout,
    }
