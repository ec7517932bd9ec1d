"""gevent-socketio's ``socketio.namespace``: ``from tornio.namespace import BaseNamespace``.

Its plain (``def``) handlers, ``recv_*`` hooks and spawned functions run on a thread pool
(``blocking = True``, :mod:`tornio.core.threads`), as gevent-socketio users expect: they may
block (``time.sleep``, an ORM query) without stalling the other sockets. tornio's own
:class:`tornio.BaseNamespace` runs them on the event loop.
"""

from __future__ import annotations

from tornio.core import namespace as _core

__all__ = ["BaseNamespace"]


class BaseNamespace(_core.BaseNamespace):
    """gevent-socketio's ``BaseNamespace``: tornio's, with ``blocking = True``."""

    blocking = True
