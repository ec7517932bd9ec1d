"""gevent-socketio's ``socketio.sdjango``, on today's Django: ``namespace()``,
``autodiscover()``, ``urls`` and the ``socketio`` view.

    # urls.py, as with gevent-socketio
    from django.urls import include, re_path
    from tornio import sdjango

    sdjango.autodiscover()
    urlpatterns = [re_path(r"^socket\\.io", include(sdjango.urls)), ...]

    # chat/sockets.py
    from tornio.namespace import BaseNamespace
    from tornio.sdjango import namespace

    @namespace("/chat")
    class ChatNamespace(BaseNamespace):
        def on_hello(self, name):
            return f"Hello, {name}, {self.request.user}!"

Serve the project's WSGI application with ``SocketIOServer(listener, application)`` or a
``Router(wsgi_app=application)`` under ``tornio serve`` (no namespaces: they come from the
view). When a socket opens, tornio runs the project for that request; ``urls`` sends it to
:func:`socketio`, which calls ``socketio_manage(request.environ, SOCKETIO_NS, request)``, so
``self.request`` in a namespace is Django's request (``.user``, ``.session``, loaded in the
view's thread).

The registry is :mod:`tornio.contrib.django`'s: ``@namespace`` here and there fill the same
:data:`SOCKETIO_NS`. Django is imported when this module is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from tornio.contrib.django.registry import SOCKETIO_NS, autodiscover
from tornio.contrib.django.registry import namespace as _register
from tornio.core.opening import socketio_manage

__all__ = ["SOCKETIO_NS", "autodiscover", "namespace", "socketio", "urls"]

log = logging.getLogger("tornio.sdjango")

N = TypeVar("N", bound=type)


def namespace(name: str = "") -> Callable[[N], N]:
    """A class decorator: serve the class as the namespace ``name``; without one, the
    global namespace ``''`` (gevent-socketio's default)."""
    return _register(name)


@csrf_exempt
def socketio(request: Any) -> HttpResponse:
    """The view a socket's opening reaches (through :data:`urls`): its namespaces are the
    registered ones, its ``self.request`` this request."""
    try:
        socketio_manage(request.environ, SOCKETIO_NS, request)
    except Exception:
        log.exception("Exception while handling socketio connection")
    return HttpResponse("")


#: gevent-socketio's ``sdjango.urls``: ``re_path(r'^socket\.io', include(sdjango.urls))``.
urls: list[Any] = [re_path(r"", socketio)]
