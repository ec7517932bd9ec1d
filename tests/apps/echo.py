"""An echo namespace, as a namespaces dict and as a Router, for ``tornio serve`` tests."""

from __future__ import annotations

from typing import Any

from tornio import BaseNamespace, Router


class EchoNamespace(BaseNamespace):
    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args


namespaces = {"/echo": EchoNamespace}
router = Router(namespaces)
not_servable = 42
