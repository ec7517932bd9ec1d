"""A Django project written for gevent-socketio, its imports renamed to tornio's: its
Socket.IO view is ``sdjango.urls``, its namespaces are registered with ``@sdjango.namespace``
in ``sockets.py`` and read ``self.request.user``. Served two ways (tests/test_compat_django.py):
``python -m tests.apps.gevent_django.serve PORT`` (``SocketIOServer(listener,
application)``, as gevent-socketio applications run) and ``tornio serve
tests.apps.gevent_django.serve:router --workers 2``. ``GEVENT_DJANGO_DB`` names the SQLite
file."""
