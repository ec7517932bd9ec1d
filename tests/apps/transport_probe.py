"""Namespaces for the transport tests (``tests/test_forwarded_headers.py``,
``tests/test_websocket_deflate.py``, ``tests/test_polling_compression.py``), for in-process
servers and for ``tornio serve tests.apps.transport_probe:namespaces``.

* ``/where`` tells a client where the server thinks it comes from: a ``where`` event on
  connect, and the same as the ack of a ``where`` emit: the request's ``remote_ip``, the
  environ's ``REMOTE_ADDR`` and ``wsgi.url_scheme``.
* ``/big``: ``echo`` acks its arguments; ``big(size)`` emits a ``big`` string of ``size``
  characters back (and ``room_big`` to every socket of the namespace, one broadcast).
"""

from __future__ import annotations

from typing import Any

from tornio import BaseNamespace, BroadcastMixin

__all__ = ["BigNamespace", "WhereNamespace", "big_text", "namespaces"]


def where(namespace: BaseNamespace) -> dict[str, Any]:
    request = namespace.request
    return {
        "remote_ip": request.remote_ip if request is not None else None,
        "protocol": request.protocol if request is not None else None,
        "remote_addr": namespace.environ.get("REMOTE_ADDR"),
        "scheme": namespace.environ.get("wsgi.url_scheme"),
    }


class WhereNamespace(BaseNamespace):
    def recv_connect(self) -> None:
        self.emit("where", where(self))

    def on_where(self) -> dict[str, Any]:
        return where(self)


def big_text(size: int) -> str:
    """``size`` characters of text that compresses well, not only ASCII."""
    unit = "tornio says héllo to wörld; "
    return (unit * (size // len(unit) + 1))[:size]


class BigNamespace(BaseNamespace, BroadcastMixin):
    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args

    def on_big(self, size: int) -> None:
        self.emit("big", big_text(int(size)))

    def on_broadcast_big(self, size: int) -> None:
        self.broadcast_event("room_big", big_text(int(size)))


namespaces = {"/where": WhereNamespace, "/big": BigNamespace}
