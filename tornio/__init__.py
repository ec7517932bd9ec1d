"""tornio: a Socket.IO server on Tornado, for both generations of the protocol.

One server speaks the legacy Socket.IO 0.9 protocol (websocket, flashsocket, xhr-polling,
xhr-multipart, htmlfile and jsonp-polling clients, and the Flash policy server) and the
modern Engine.IO v4 / Socket.IO v5 protocol (socket.io-client 3.x and 4.x, python-socketio),
behind gevent-socketio's namespace API: :class:`BaseNamespace` with ``on_<event>`` methods,
:class:`RoomsMixin` and :class:`BroadcastMixin`.

It runs embedded in a Tornado (or WSGI) application (:class:`Router`), as a seed-compatible
server (:class:`SocketIOServer`), or as ``tornio serve MODULE:OBJECT --workers N``: worker
processes on one port joined by a ZeroMQ bus, so that rooms, broadcasts and the cluster
operations span them all; :class:`Emitter` emits into that bus from any other process.

This module holds what applications use. The machinery (sockets, the socket manager, the
Engine.IO endpoint, codecs, transports) stays importable from its own modules
(``tornio.manager``, ``tornio.core.socket``, ``tornio.modern.endpoint``...).

gevent-socketio's module paths are here too, so that a gevent-socketio application moves by
renaming ``socketio`` to ``tornio`` in its imports: ``tornio.namespace``, ``tornio.mixins``,
``tornio.server``, ``tornio.sdjango``, ``tornio.packet``, ``tornio.virtsocket`` and
:func:`socketio_manage`.
"""

from __future__ import annotations

from tornio.bus.emitter import Emitter
from tornio.cluster import RemoteSocket
from tornio.core.mixins import BroadcastMixin, RoomsMixin
from tornio.core.namespace import BaseNamespace, event
from tornio.core.opening import socketio_manage
from tornio.exceptions import (
    CallTimeout,
    ConnectionRefused,
    Disconnected,
    EventRefused,
    NameTooLong,
    TornioError,
)
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
    "EventRefused",
    "NameTooLong",
    "RemoteSocket",
    "RoomsMixin",
    "Router",
    "Settings",
    "SocketIOServer",
    "TornioError",
    "event",
    "socketio_manage",
]

#: The version when tornio is not installed as a distribution (``tornio --version`` asks the
#: installed package's metadata first).
__version__ = "0.1.0"
