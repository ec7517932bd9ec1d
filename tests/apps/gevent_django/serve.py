"""The project served: ``router`` for ``tornio serve``, ``python -m
tests.apps.gevent_django.serve PORT`` for ``SocketIOServer`` (see the package docstring)."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.apps.gevent_django.settings")

from django.core.wsgi import get_wsgi_application

from tornio import Router
from tornio.server import SocketIOServer

application = get_wsgi_application()

#: No namespaces: each socket's come from the view (sdjango.urls).
router = Router({}, wsgi_app=application)

if __name__ == "__main__":
    SocketIOServer(("127.0.0.1", int(sys.argv[1])), application,
                   policy_server=False).serve_forever()
