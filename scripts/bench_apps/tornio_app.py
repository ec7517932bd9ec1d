"""tornio under ``tornio serve bench_apps.tornio_app:router --workers N`` (run from scripts/).

One namespace, the global one (``''`` for 0.9 clients, ``'/'`` for modern ones): ``echo``
acknowledges with its own arguments, ``join`` puts the socket in a room, ``publish`` emits
``msg`` to the room (every member but the sender, on every worker) and acknowledges.
"""

from __future__ import annotations

from typing import Any

from bench_apps import ROOM, heartbeat
from tornio import BaseNamespace, RoomsMixin, Router

__all__ = ["BenchNamespace", "router", "router_with_recovery"]


class BenchNamespace(BaseNamespace, RoomsMixin):
    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args

    def on_join(self, room: str) -> bool:
        self.join(room)
        return True

    def on_publish(self, *args: Any) -> bool:
        self.emit_to_room(ROOM, "msg", *args)
        return True


def router(**settings: Any) -> Router:
    """Called once in the supervisor and once in every worker."""
    beat = heartbeat()
    return Router(
        {"": BenchNamespace},
        heartbeat_interval=beat,
        heartbeat_timeout=max(60.0, 3 * beat),
        ping_interval=beat,
        ping_timeout=20.0,
        **settings,
    )


def router_with_recovery() -> Router:
    """The same with connection state recovery on (every emit logged by the store)."""
    return router(connection_state_recovery=True)
