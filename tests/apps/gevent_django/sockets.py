"""The namespaces, as a gevent-socketio application's ``sockets.py`` had them (imports
renamed)."""

import os
from typing import Any

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
