"""A namespace to flood, for ``tornio serve`` tests (``tests/test_fairness_cluster.py``):
``/f`` counts the flood's events (``flood``: a plain handler, ``aflood``: an ``async``
one) per worker, and answers ``count``, ``me`` (this worker's bus node id) and ``nodes``
(the other nodes its bus knows: its node table)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from tornio import BaseNamespace

seen = 0


class FloodNamespace(BaseNamespace):
    def on_flood(self, n: int) -> None:
        global seen
        seen += 1

    def on_aflood(self, n: int) -> Awaitable[None]:
        """An ``async`` handler (what it returns is awaited as a task), counted as it is
        called."""
        global seen
        seen += 1
        return asyncio.sleep(0)

    def on_count(self) -> int:
        return seen

    def on_me(self) -> str:
        return str(self.socket.manager.node_id)

    def on_nodes(self) -> list[str]:
        return sorted(getattr(self.socket.manager.bus, "nodes", {}))


namespaces = {"/f": FloodNamespace}
