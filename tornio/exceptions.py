"""tornio's exceptions.

One root, split by whose fault a failure is::

    TornioError
    ├── ProtocolError                 the peer sent something the protocol does not allow
    │   ├── InvalidPacket             one packet could not be decoded (Sans-I/O)
    │   ├── InvalidPayload            a framed payload could not be split (Sans-I/O)
    │   ├── WebSocketError            a websocket frame breaks RFC 6455: close with ``code``
    │   │   └── DeflateError          a compressed message does not inflate (1007), or
    │   │                             inflates too far (1009)
    │   ├── EngineError               an Engine.IO request refused with an error ``code``
    │   └── hixie76.HandshakeError,   the hixie-76 codec's own (they stay with it)
    │       hixie76.FrameError
    ├── LocalError                    tornio or the application misused an API
    ├── NameTooLong (a ValueError)    a room, event or namespace name over its limit
    ├── ConnectionRefused             a connect middleware or recv_connect refuses the client
    ├── EventRefused                  a packet middleware refuses an event
    ├── Disconnected                  the client left before it answered (also a
    │                                 ConnectionError)
    └── CallTimeout (a TimeoutError)  some recipients of a call did not answer in time
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CallTimeout",
    "ConnectionRefused",
    "DeflateError",
    "Disconnected",
    "EngineError",
    "EventRefused",
    "InvalidPacket",
    "InvalidPayload",
    "LocalError",
    "NameTooLong",
    "ProtocolError",
    "TornioError",
    "WebSocketError",
]


class TornioError(Exception):
    """Root of every exception tornio raises on purpose."""


class ProtocolError(TornioError):
    """The remote peer broke the protocol. What answers it (an HTTP status, an error packet,
    a close code) is the transport's to choose: each subclass carries what it needs."""


class InvalidPacket(ProtocolError):
    """A packet could not be decoded.

    ``endpoint`` is the namespace the packet named, when it could be read, so that the error
    can be reported on that namespace; ``''`` otherwise.
    """

    def __init__(self, message: str, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint


class InvalidPayload(ProtocolError):
    """A multi-packet payload (``\\ufffd<len>\\ufffd`` framing) could not be split."""


class WebSocketError(ProtocolError):
    """The client broke RFC 6455 (:class:`tornio.protocol.websocket.FrameDecoder`): close the
    connection with :attr:`code` (1002 protocol error, 1007 invalid data, 1009 too big)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class DeflateError(WebSocketError):
    """A compressed message that cannot be inflated (close with 1007), or that inflates past
    the size limit (``too_big``: close with 1009)."""

    def __init__(self, reason: str, too_big: bool = False) -> None:
        super().__init__(1009 if too_big else 1007, reason)
        self.too_big = too_big


class EngineError(ProtocolError):
    """An Engine.IO request refused, by the transport or the session: :attr:`code` is the
    Engine.IO error code it is answered with (0 unknown transport, 1 unknown session id,
    2 bad handshake method, 3 bad request, 4 forbidden, 5 unsupported protocol version)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(reason or f"Engine.IO error {code}")
        self.code = code


class LocalError(TornioError):
    """tornio or the application used an API wrongly."""


class ConnectionRefused(TornioError):
    """Raised by a connect middleware or ``recv_connect`` to refuse a client's connection to
    a namespace (node's ``next(err)``, with ``err.data``).

    Modern clients receive ``connect_error`` with ``message`` and ``data``; 0.9 clients
    receive an ``unauthorized`` error packet (their ``connect_failed`` event).
    """

    def __init__(self, message: str = "Connection refused", data: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class EventRefused(TornioError):
    """Raised by a packet middleware (``use_packets``) to refuse one event, as node's
    ``next(err)`` in ``socket.use``: the handler does not run, no ack is sent, and the
    namespace's ``recv_refused(error)`` runs.

    ``message`` and ``data`` are the application's; tornio fills in ``event`` and
    ``event_args`` (the refused event's name and arguments).
    """

    def __init__(self, message: str = "event refused", data: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        self.event: str | None = None
        self.event_args: list[Any] = []


class Disconnected(TornioError, ConnectionError):
    """The namespace (or the whole socket) ended while the server waited for the client's
    ack: ``await namespace.call(...)`` raises it, an error-first ``emit(..., callback=,
    timeout=)`` callback receives it.

    ``reason`` is node's disconnect reason (``"transport close"``, ``"ping timeout"``...).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"the client disconnected before it answered ({reason})")
        self.reason = reason


class CallTimeout(TornioError, TimeoutError):
    """Raised by the calls that gather answers (``manager.call``, ``server_side_call``,
    ``RemoteSocket.call``) when some recipients did not answer within the timeout: node's
    error-first ``(err, responses)`` as one exception.

    ``responses`` holds the answers that did arrive; ``missing`` counts the recipients (or,
    for a node that did not answer at all, the nodes) still waited for.
    """

    def __init__(self, message: str, responses: list[Any], missing: int) -> None:
        super().__init__(message)
        self.responses = responses
        self.missing = missing


class NameTooLong(TornioError, ValueError):
    """A room, event or namespace name longer than its limit (``Settings.max_room_name``,
    ``max_event_name``, ``max_namespace_name``, in UTF-8 bytes). Raised by ``join``,
    ``leave``, emits and the cluster operations; a handler that lets it through (passing a
    client's name on) makes its client get the error event ``["name_too_long", why]``."""
