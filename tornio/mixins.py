"""gevent-socketio's ``socketio.mixins``: ``from tornio.mixins import RoomsMixin,
BroadcastMixin``; the same classes as ``tornio.RoomsMixin`` and ``tornio.BroadcastMixin``
(:mod:`tornio.core.mixins`), whose rooms and broadcasts reach every worker."""

from __future__ import annotations

from tornio.core.mixins import BroadcastMixin, RoomsMixin

__all__ = ["BroadcastMixin", "RoomsMixin"]
