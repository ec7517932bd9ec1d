"""gevent-socketio's ``socketio.namespace``: ``from tornio.namespace import BaseNamespace``.

:class:`BaseNamespace` here is tornio's (:class:`tornio.core.namespace.BaseNamespace`) with
gevent-socketio's rules where they differ: an ``on_*`` or ``recv_*`` method whose first
parameter is not named ``self`` answers the client ``invalid_method_args`` instead of being
called. Everything else (``on_<event>``, ``recv_*``, the ACL, ``emit``, ``spawn``...) is the
same class. See the migration guide (``docs/howto/migrating.md``).
"""

from __future__ import annotations

from tornio.core.namespace import ALLOWED_EVENT_NAME
from tornio.core.namespace import BaseNamespace as _TornioNamespace

__all__ = ["ALLOWED_EVENT_NAME", "BaseNamespace"]


class BaseNamespace(_TornioNamespace):
    """gevent-socketio's ``BaseNamespace`` (see the module docstring)."""

    self_named_handlers = True
