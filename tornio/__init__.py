"""tornio: a Socket.IO server on Tornado.

It speaks the legacy Socket.IO 0.9 protocol behind gevent-socketio's namespace API, and runs
embedded in a Tornado application (:class:`Router`), as a seed-compatible server
(:class:`SocketIOServer`), or as ``tornio serve``.
"""

from __future__ import annotations

from tornio.bus.emitter import Emitter
from tornio.cluster import RemoteSocket
from tornio.core.mixins import BroadcastMixin, RoomsMixin
from tornio.core.namespace import BaseNamespace, event
from tornio.core.socket import Socket
from tornio.exceptions import (
    CallTimeout,
    ConnectionRefused,
    Disconnected,
    EventRefused,
    InvalidPacket,
    InvalidPayload,
    PayloadTooLarge,
    ProtocolError,
    TornioError,
)
from tornio.manager import SocketManager
from tornio.modern.endpoint import EngineConnection, EngineEndpoint
from tornio.router import Router
from tornio.server import SocketIOServer
from tornio.settings import Settings

__all__ = [
    "BaseNamespace",
    "BroadcastMixin",
    "CallTimeout",
    "ConnectionRefused",
    "Disconnected",
    "Emitter",
    "EngineConnection",
    "EngineEndpoint",
    "EventRefused",
    "InvalidPacket",
    "InvalidPayload",
    "PayloadTooLarge",
    "ProtocolError",
    "RemoteSocket",
    "RoomsMixin",
    "Router",
    "Settings",
    "Socket",
    "SocketIOServer",
    "SocketManager",
    "TornioError",
    "event",
]

__version__ = "0.1.0"
