"""Hello, tornio: a whole application. Serve it from this directory with

    tornio serve app:router --port 8000

A Socket.IO client (4.x, or 0.9) on the namespace /hello that emits ``hello`` with a name gets
``Hello, <name>!`` back as the acknowledgement, and every client there hears ``greeted``.
"""

from tornio import BaseNamespace, BroadcastMixin, Router


class Hello(BaseNamespace, BroadcastMixin):
    def on_hello(self, name: str) -> str:
        self.broadcast_event("greeted", name)
        return f"Hello, {name}!"


router = Router({"/hello": Hello})
