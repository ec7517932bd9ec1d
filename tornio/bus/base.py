"""What a bus is: how nodes publish messages to each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Answers", "Bus", "BusNode", "Message"]

#: A bus message: a plain dict of msgpack-able values. Keys: ``v`` (the schema version),
#: ``uid`` (the publishing node's id), ``type`` (what it asks), ``nsp`` (the namespace),
#: ``data`` (the rest), and ``rid``/``dst`` where needed: :mod:`tornio.bus.messages` is the
#: schema. (The in-process bus also accepts ``sender`` for ``uid``.)
Message = dict[str, Any]


@dataclass
class Answers:
    """What a cluster request gathered: one answer's data per node that answered in time,
    and the ids of the nodes waited for in vain."""

    answers: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class BusNode(Protocol):
    """A node on the bus (one process serving clients)."""

    node_id: str

    def deliver(self, message: Message) -> None:
        """Act on a message that another node published."""


class Bus(Protocol):
    """Carries messages from one node to every other node that wants them."""

    def attach(self, node: BusNode) -> None:
        """Join a node to the bus."""

    def detach(self, node: BusNode) -> None:
        """Take a node off the bus."""

    def publish(self, message: Message) -> None:
        """Send to every other node (the publisher acts on its own messages itself)."""

    def subscribe(self, node: BusNode, namespace: str, room: str) -> None:
        """The node now has local members in this room."""

    def unsubscribe(self, node: BusNode, namespace: str, room: str) -> None:
        """The node no longer has local members in this room."""
