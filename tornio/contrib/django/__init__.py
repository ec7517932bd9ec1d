"""tornio for Django: gevent-socketio's ``sdjango``, on today's Django.

Add ``'tornio.contrib.django'`` to ``INSTALLED_APPS``, then in an app's ``sockets.py``::

    from tornio import BroadcastMixin, RoomsMixin
    from tornio.contrib.django import DjangoNamespace, namespace

    @namespace('/chat')
    class ChatNamespace(DjangoNamespace, RoomsMixin, BroadcastMixin):
        def on_join(self, room):
            self.join(room)
            return True, self.django_user.get_username()

and run ``python manage.py runserver_socketio 127.0.0.1:8000 --workers 2``: Socket.IO under
``/socket.io``, every other path served by the project's WSGI application on a thread pool,
with tornio's supervisor and worker processes.

- :func:`namespace`, :data:`namespaces`, :func:`autodiscover`: the registry (``registry``);
- :class:`DjangoNamespace`: ``self.django_session``, ``self.django_user``,
  ``await self.reload_session()``, ``await self.django_call(fn)`` (``sessions``);
- :func:`get_router`: the Router for the project (``routing``);
- :func:`get_emitter`: emit into rooms from views (``emitting``).

Nothing here imports Django at import time: ``INSTALLED_APPS`` imports this package before
Django's apps are ready.
"""

from __future__ import annotations

from tornio.contrib.django.emitting import get_emitter
from tornio.contrib.django.registry import SOCKETIO_NS, autodiscover, namespace, namespaces
from tornio.contrib.django.routing import get_router
from tornio.contrib.django.sessions import DjangoNamespace

__all__ = [
    "SOCKETIO_NS",
    "DjangoNamespace",
    "autodiscover",
    "get_emitter",
    "get_router",
    "namespace",
    "namespaces",
]
