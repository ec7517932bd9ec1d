"""ZeroMQ bus nodes for tests: a recording node in place of the manager, an in-process broker
on loopback (the ``broker`` fixture, registered in ``tests/conftest.py``), ready ``ZmqBus``
nodes (``Nodes``, the ``nodes`` fixture) and the waits that ZeroMQ makes necessary.

How waits are bounded: a delivery is awaited as an event (``RecordingNode.wait_for_event``)
with a timeout. "Did not arrive" is shown with a barrier: after the messages under test, the
same publisher sends a namespace-wide emit; ZeroMQ keeps one publisher's order through the
broker, so once every node has the barrier, whatever was going to reach it has.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tests.support.waiting import eventually
from tornio.bus.base import Message
from tornio.bus.broker import Broker
from tornio.bus.messages import MessageType
from tornio.bus.zmq import ZmqBus

__all__ = [
    "FAST",
    "Nodes",
    "RecordingNode",
    "barrier",
    "broker",
    "emit",
    "free_addresses",
    "known_to_each_other",
    "nodes",
    "route_ready",
]

#: Heartbeats and node timeouts short enough for tests.
FAST: dict[str, Any] = {"heartbeat_interval": 0.05, "node_timeout": 0.5}
_unique = itertools.count()


class RecordingNode:
    """A :class:`~tornio.bus.base.BusNode` that records what it is delivered and lets a test
    await it. ``raise_on``: the event whose delivery raises RuntimeError (a node that fails)."""

    def __init__(self, node_id: str, *, raise_on: str | None = None) -> None:
        self.node_id = node_id
        self.delivered: list[Message] = []
        self.raise_on = raise_on
        self._changed = asyncio.Event()

    def deliver(self, message: Message) -> None:
        self.delivered.append(message)
        self._changed.set()
        if self.raise_on is not None and message["data"].get("event") == self.raise_on:
            raise RuntimeError(self.raise_on)

    def all_events(self) -> list[str]:
        """The event names of everything delivered ('' for a message that is no emit)."""
        return [m["data"].get("event", "") for m in self.delivered]

    def events(self, prefix: str = "") -> list[str]:
        """The delivered events, without warm-ups and barriers."""
        return [
            e
            for e in self.all_events()
            if e.startswith(prefix) and not e.startswith(("warmup-", "barrier-"))
        ]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 3.0) -> None:
        """Until ``condition()`` holds, checked after each delivery (TimeoutError after
        ``timeout`` seconds)."""

        async def scan() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(scan(), timeout)

    async def wait_for_event(self, event: str, timeout: float = 3.0) -> None:
        await self.wait_for(lambda: event in self.all_events(), timeout)

    async def wait_for_count(self, count: int, timeout: float = 3.0) -> list[Message]:
        """Until ``count`` messages were delivered; all of them."""
        await self.wait_for(lambda: len(self.delivered) >= count, timeout)
        return self.delivered


def emit(
    event: str,
    *args: Any,
    nsp: str = "/chat",
    rooms: tuple[str, ...] | list[str] = (),
    to: str | None = None,
    dst: str | None = None,
) -> Message:
    data = {"event": event, "args": list(args), "rooms": list(rooms), "skip": [], "to": to}
    message: Message = {"type": MessageType.EMIT, "nsp": nsp, "data": data}
    if dst is not None:
        message["dst"] = dst
    return message


async def barrier(publisher: ZmqBus, *nodes: RecordingNode, nsp: str = "/chat") -> None:
    """A namespace-wide emit from ``publisher`` that every node must receive: after it, each
    node has received everything the publisher sent before it."""
    name = f"barrier-{next(_unique)}"
    publisher.publish(emit(name, nsp=nsp))
    for node in nodes:
        await node.wait_for_event(name)


async def route_ready(
    publisher: ZmqBus, receiver: RecordingNode, nsp: str, room: str, timeout: float = 2.0
) -> None:
    """Send warm-up emits to a room until ``receiver`` gets one: its room subscription has
    reached the broker and the publisher's PUB socket (ZeroMQ does this asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        name = f"warmup-{next(_unique)}"
        publisher.publish(emit(name, nsp=nsp, rooms=[room]))
        try:
            await receiver.wait_for_event(name, timeout=0.05)
            return
        except asyncio.TimeoutError:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"room {nsp} {room} never reached {receiver.node_id}"
                ) from None


async def known_to_each_other(*buses: ZmqBus, timeout: float = 2.0) -> None:
    ids = {bus.node_id for bus in buses}
    await eventually(
        lambda: all(set(bus.nodes) >= ids - {bus.node_id} for bus in buses),
        timeout,
        message="every node in every node table",
    )


class Nodes:
    """Makes ready ZmqBus nodes (attached to recording nodes); closes them all at the end."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.buses: list[ZmqBus] = []

    async def __call__(
        self,
        name: str,
        *,
        ready: bool = True,
        pub: str | None = None,
        sub: str | None = None,
        **kwargs: Any,
    ) -> tuple[ZmqBus, RecordingNode]:
        node = RecordingNode(name, raise_on="boom")
        bus = ZmqBus(
            pub or self.broker.pub_address, sub or self.broker.sub_address, **{**FAST, **kwargs}
        )
        self.buses.append(bus)
        bus.attach(node)
        if ready:
            await bus.ready(timeout=2.0)
        return bus, node

    async def close(self) -> None:
        for bus in self.buses:
            await bus.close(announce=False)


@pytest.fixture
def broker() -> Iterator[Broker]:
    with Broker("tcp://127.0.0.1:0") as running:
        yield running


@pytest.fixture
async def nodes(broker: Broker) -> AsyncIterator[Nodes]:
    made = Nodes(broker)
    try:
        yield made
    finally:
        await made.close()


def free_addresses() -> tuple[str, str]:
    """Two endpoints nothing listens on (a broker bound and stopped)."""
    with Broker("tcp://127.0.0.1:0") as probe:
        return probe.pub_address, probe.sub_address
