"""The namespaces, as a gevent-socketio application's ``sockets.py`` had them (imports
renamed)."""

import os
from typing import Any

from tornio.contrib.django import DjangoNamespace
from tornio.namespace import BaseNamespace
from tornio.sdjango import namespace


@namespace("/chat")
class ChatNamespace(BaseNamespace):
    def on_whoami(self) -> dict[str, Any]:
        user = self.request.user
        return {
            "user": user.get_username(),
            "authenticated": user.is_authenticated,
            "path": self.request.path,
            "worker": os.getpid(),
        }


@namespace()
class GlobalNamespace(BaseNamespace):
    def on_ping(self) -> str:
        return "pong"


@namespace("/django")
class DjangoUserNamespace(DjangoNamespace):
    """tornio's own Django namespace, opened by the same view: its session cookie is read
    from the view's (Django) request."""

    def on_whoami(self) -> str:
        return str(self.django_user.get_username())
