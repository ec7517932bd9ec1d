"""An in-process bus: nodes in one process (one server, or several in a test)."""

from __future__ import annotations

from typing import Any

from tornio.bus.base import BusNode, Message

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
        answers = []
        for node in list(self.nodes):
            answer = getattr(node, "answer_request", None)
            if answer is not None:
                answers.append(answer(kind, nsp, data))
        return answers

    def subscribe(self, node: BusNode, namespace: str, room: str) -> None:
        """Every node sees every message here; filtering by room is the ZeroMQ bus's job."""

    def unsubscribe(self, node: BusNode, namespace: str, room: str) -> None:
        """See :meth:`subscribe`."""
