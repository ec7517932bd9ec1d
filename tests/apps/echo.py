"""An echo namespace, as a namespaces dict and as a Router, for ``tornio serve`` tests."""

from __future__ import annotations

import asyncio
from typing import Any

from tornio import BaseNamespace, Router


class EchoNamespace(BaseNamespace):
    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args

    def on_loop(self) -> str:
        """The event loop this worker runs on: ``asyncio`` or ``uvloop``."""
        return type(asyncio.get_running_loop()).__module__.split(".")[0]


namespaces = {"/echo": EchoNamespace}
router = Router(namespaces)
not_servable = 42
