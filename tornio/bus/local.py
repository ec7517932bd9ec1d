"""An in-process bus: nodes in one process (one server, or several in a test)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from tornio.bus.base import Answers, BusNode, Message

log = logging.getLogger("tornio.bus.local")

__all__ = ["InProcessBus"]


class InProcessBus:
    """Delivers each message synchronously to every other attached node, in order."""

    def __init__(self) -> None:
        self.nodes: list[BusNode] = []

    def attach(self, node: BusNode) -> None:
        if node not in self.nodes:
            self.nodes.append(node)

    def detach(self, node: BusNode) -> None:
        if node in self.nodes:
            self.nodes.remove(node)

    def publish(self, message: Message) -> None:
        # ``uid`` is the schema's name for the publisher (tornio.bus.messages); ``sender`` is
        # what SocketManager sends today.
        sender = message.get("uid", message.get("sender"))
        for node in list(self.nodes):
            if node.node_id != sender:
                node.deliver(message)

    async def request(
        self, kind: int, nsp: str, data: dict[str, Any], timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Every attached node's answer to a cluster request (see ``ZmqBus.request``)."""
        return (await self.ask(kind, nsp, data, timeout)).answers

    async def ask(
        self,
        kind: int,
        nsp: str,
        data: dict[str, Any],
        timeout: float = 5.0,
        *,
        include_self: bool = True,
        sender: str | None = None,
    ) -> Answers:
        """Every attached node's answer (``include_self=False``: every node but ``sender``),
        and the nodes that gave none within ``timeout`` (see ``ZmqBus.ask``)."""
        asked: list[tuple[str, Any]] = []
        for node in list(self.nodes):
            if not include_self and node.node_id == sender:
                continue
            answer = getattr(node, "answer_request", None)
            if answer is not None:
                asked.append((node.node_id, answer))

        async def one(answer: Any) -> Any:
            result = answer(kind, nsp, data)
            if inspect.isawaitable(result):
                result = await result
            return result

        tasks = [asyncio.ensure_future(one(answer)) for _, answer in asked]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        gathered = Answers()
        for (node_id, _), task in zip(asked, tasks, strict=True):
            if not task.done():
                task.cancel()
            result = None
            if task.done() and not task.cancelled():
                if task.exception() is not None:
                    log.error("node %s failed to answer a request", node_id,
                              exc_info=task.exception())
                else:
                    result = task.result()
            if isinstance(result, dict):
                gathered.answers.append(result)
            else:
                gathered.missing.append(node_id)
        return gathered

    def subscribe(self, node: BusNode, namespace: str, room: str) -> None:
        """Every node sees every message here; filtering by room is the ZeroMQ bus's job."""

    def unsubscribe(self, node: BusNode, namespace: str, room: str) -> None:
        """See :meth:`subscribe`."""
