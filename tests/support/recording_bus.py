"""A bus that shows what a node asks of it: an in-process bus (messages still reach every
other node) that also keeps each node's room subscriptions as a ZeroMQ bus holds them, and
every subscribe and unsubscribe in order. The in-process bus ignores subscriptions; this one
lets a test see that a room's first local member subscribes and its last unsubscribes."""

from __future__ import annotations

from tornio.bus import InProcessBus
from tornio.bus.base import BusNode

__all__ = ["RecordingBus"]


class RecordingBus(InProcessBus):
    def __init__(self) -> None:
        super().__init__()
        #: ``(call, node id, namespace, room)`` in order; call is ``subscribe`` or
        #: ``unsubscribe``.
        self.calls: list[tuple[str, str, str, str]] = []
        #: Node id → the ``(namespace, room)`` it is subscribed to.
        self.subscriptions: dict[str, set[tuple[str, str]]] = {}
        #: Calls that did not change anything: a second subscribe, an unsubscribe of a
        #: room not subscribed to (a node's room index gone out of step with the bus).
        self.redundant: list[tuple[str, str, str, str]] = []

    def subscribe(self, node: BusNode, namespace: str, room: str) -> None:
        call = ("subscribe", node.node_id, namespace, room)
        self.calls.append(call)
        held = self.subscriptions.setdefault(node.node_id, set())
        if (namespace, room) in held:
            self.redundant.append(call)
        held.add((namespace, room))

    def unsubscribe(self, node: BusNode, namespace: str, room: str) -> None:
        call = ("unsubscribe", node.node_id, namespace, room)
        self.calls.append(call)
        held = self.subscriptions.setdefault(node.node_id, set())
        if (namespace, room) not in held:
            self.redundant.append(call)
        held.discard((namespace, room))

    def of(self, node: BusNode) -> set[tuple[str, str]]:
        """The rooms ``node`` is subscribed to now."""
        return set(self.subscriptions.get(node.node_id, ()))
