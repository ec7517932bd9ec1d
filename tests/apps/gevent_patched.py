"""An application whose module starts with gevent's ``monkey.patch_all()``, as gevent-socketio
applications did, for ``tornio serve`` tests. Importing it patches the whole process: only a
``tornio serve`` subprocess may import it, never the test process."""

from gevent import monkey; monkey.patch_all()  # noqa: E702, I001

from tests.apps.echo import EchoNamespace  # noqa: E402


class PatchedEchoNamespace(EchoNamespace):
    def on_patched(self) -> list[str]:
        """What gevent patched in this worker."""
        return [name for name in ("socket", "select", "threading", "time")
                if monkey.is_module_patched(name)]


namespaces = {"/echo": PatchedEchoNamespace}
