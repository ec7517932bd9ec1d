"""A namespace's name, written two ways: the one home of the ``''`` ↔ ``'/'`` rule.

* ``endpoint``: how tornio keys a namespace everywhere inside (rooms, sockets, handlers, the
  bus's ``nsp`` field once read): the global namespace is ``''``, as on the 0.9 wire and in
  gevent-socketio's ``ns_name``;
* ``nsp``: how Socket.IO v5 (and v4) writes it on the wire, and how node's APIs and the Admin
  UI show it: the global namespace is ``'/'``.

Every other name is the same both ways (``'/chat'``).
"""

from __future__ import annotations

__all__ = ["to_endpoint", "to_nsp"]


def to_endpoint(name: str) -> str:
    """A namespace name in either spelling (``''``, ``'/'``, ``'/chat'``) as an endpoint."""
    return "" if name == "/" else name


def to_nsp(endpoint: str) -> str:
    """An endpoint as Socket.IO v5 writes it (``''`` → ``'/'``)."""
    return endpoint or "/"
