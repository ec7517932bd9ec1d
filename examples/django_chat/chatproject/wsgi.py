"""The chat project's WSGI application (``runserver_socketio`` serves it beside Socket.IO)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")

application = get_wsgi_application()
