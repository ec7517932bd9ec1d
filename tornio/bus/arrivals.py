"""Nodes a bus node has not heard of yet, and nodes it saw leave.

A session id names the node that owns it (:mod:`tornio.bus.ids`), so a request can name a
node before this node has heard of it: a worker that has just started hands out session ids
the moment its own bus path is proven, while the others learn of it from its NODE_UP and
heartbeats a little later (a round trip through a broker, an event loop's delay; with
several brokers, a node whose primary broker is not the one the newcomer proved first holds
the newcomer's messages until its path through that broker carries them too). A request
forwarded to such a node is not refused: :meth:`Arrivals.wait` waits for the node to
announce itself, for at most the node timeout (the bus's rule: a node unheard of for that
long is gone). A node this node saw leave (NODE_DOWN, or silent past the node timeout) is
not waited for: its requests fail at once, as before, until it announces itself again (a
restarted worker keeps its node id).

The bus calls :meth:`Arrivals.joined` when a node enters its node table and
:meth:`Arrivals.left` when one leaves it; :meth:`Arrivals.close` wakes every waiter.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

__all__ = ["MAX_DEPARTED", "MAX_WAITING", "Arrivals"]

#: How many departed node ids are remembered (the oldest is forgotten first).
MAX_DEPARTED = 4096
#: How many calls may wait at once, for all nodes together: a session id is the client's to
#: choose, so a made-up node may be named by many requests; past this bound they fail at
#: once (503), as they did before nodes were waited for.
MAX_WAITING = 1024


class Arrivals:
    """Waiters for nodes not yet in the node table, and the nodes that left it."""

    def __init__(self, max_departed: int = MAX_DEPARTED, max_waiting: int = MAX_WAITING) -> None:
        self.max_departed = max_departed
        self.max_waiting = max_waiting
        #: The calls waiting now, all nodes together.
        self.waiters = 0
        self._waiters: dict[str, list[asyncio.Future[bool]]] = {}
        self._departed: OrderedDict[str, None] = OrderedDict()

    def has_left(self, node: str) -> bool:
        """Whether ``node`` left the table (and has not come back since)."""
        return node in self._departed

    def waiting(self, node: str) -> int:
        """How many calls wait for ``node`` now."""
        return len(self._waiters.get(node, ()))

    def joined(self, node: str) -> None:
        """``node`` entered the node table: its waiters go on."""
        self._departed.pop(node, None)
        for future in self._waiters.pop(node, ()):
            if not future.done():
                future.set_result(True)

    def left(self, node: str) -> None:
        """``node`` left the node table: later requests for it are not held."""
        self._departed.pop(node, None)
        self._departed[node] = None
        while len(self._departed) > self.max_departed:
            self._departed.popitem(last=False)

    async def wait(self, node: str, timeout: float) -> bool:
        """True once ``node`` joins (the caller checked it is not in the table); False at
        once if it left or :data:`MAX_WAITING` calls wait already, or when ``timeout`` passes
        or :meth:`close` is called first."""
        if node in self._departed or timeout <= 0 or self.waiters >= self.max_waiting:
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(node, [])
        waiters.append(future)
        self.waiters += 1
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            self.waiters -= 1
            if future in waiters:
                waiters.remove(future)
            if not waiters and self._waiters.get(node) is waiters:
                del self._waiters[node]

    def close(self) -> None:
        """Every waiter gives up (the bus is closing)."""
        waiters, self._waiters = self._waiters, {}
        for futures in waiters.values():
            for future in futures:
                if not future.done():
                    future.set_result(False)
