"""gevent-socketio's ``socketio.namespace``: ``from tornio.namespace import BaseNamespace``.

:class:`BaseNamespace` here is tornio's (:class:`tornio.core.namespace.BaseNamespace`) with
gevent-socketio's rules where they differ:

* its plain (``def``) handlers, ``recv_*`` hooks and spawned functions run on a thread pool
  (``blocking = True``, :mod:`tornio.core.threads`), as gevent-socketio users expect: they
  may block (``time.sleep``, an ORM query) without stalling the other sockets. tornio's own
  :class:`tornio.BaseNamespace` runs them on the event loop;
* an ``on_*`` or ``recv_*`` method whose first parameter is not named ``self`` answers the
  client ``invalid_method_args`` instead of being called.

Everything else (``on_<event>``, ``recv_*``, the ACL, ``emit``, ``spawn``...) is the same
class. See the migration guide (``docs/howto/migrating.md``).
"""

from __future__ import annotations

from tornio.core.namespace import ALLOWED_EVENT_NAME
from tornio.core.namespace import BaseNamespace as _TornioNamespace

__all__ = ["ALLOWED_EVENT_NAME", "BaseNamespace"]


class BaseNamespace(_TornioNamespace):
    """gevent-socketio's ``BaseNamespace`` (see the module docstring)."""

    blocking = True
    self_named_handlers = True
