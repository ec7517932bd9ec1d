"""A node's room subscriptions follow its room index: the bus is asked to subscribe when a
room gets its first member in this process, and to unsubscribe when its last one leaves —
by ``leave``, by leaving the namespace, or by disconnecting. (A node that never unsubscribes
keeps receiving every emit to every room it ever had, and the broker keeps the topics.)

A real ``SocketManager`` with 0.9 sockets in memory, on a :class:`RecordingBus`
(``tests/support/recording_bus.py``); the ZeroMQ bus's own subscribe/unsubscribe are
``tests/test_bus_zmq.py``'s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.apps.hostile_names import ClientChosenRooms  # join and leave the rooms they name
from tests.support.memory_client import Client
from tests.support.recording_bus import RecordingBus
from tornio.manager import SocketManager
from tornio.settings import Settings


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def manager(bus: RecordingBus) -> Iterator[SocketManager]:
    rooms = ClientChosenRooms
    made = SocketManager({"/chat": rooms, "/news": rooms}, Settings(), bus)
    yield made
    made.close_all()


def call(client: Client, event: str, *args: Any, endpoint: str = "/chat") -> None:
    """An event with an ack, answered at once (the handlers are synchronous)."""
    client.send(f"5:1+:{endpoint}:" + json.dumps({"name": event, "args": list(args)}))
    assert client.take() == [f"6::{endpoint}:1+[true]"]


async def test_the_first_member_subscribes_and_the_last_to_leave_unsubscribes(
    manager: SocketManager, bus: RecordingBus
) -> None:
    alice, bob = Client(manager, "/chat"), Client(manager, "/chat")
    call(alice, "join", "lobby")
    assert bus.of(manager) == {("/chat", "lobby")}
    call(bob, "join", "lobby")  # the room is there already: nothing new to ask
    call(alice, "leave", "lobby")  # bob is still in it
    assert bus.of(manager) == {("/chat", "lobby")}
    call(bob, "leave", "lobby")
    assert bus.of(manager) == set()
    node = manager.node_id
    assert bus.calls == [
        ("subscribe", node, "/chat", "lobby"),
        ("unsubscribe", node, "/chat", "lobby"),
    ]
    assert bus.redundant == []


async def test_leaving_a_room_twice_or_one_never_joined_asks_nothing(
    manager: SocketManager, bus: RecordingBus
) -> None:
    alice = Client(manager, "/chat")
    call(alice, "leave", "nowhere")
    call(alice, "join", "lobby")
    call(alice, "leave", "lobby")
    call(alice, "leave", "lobby")
    assert [c[0] for c in bus.calls] == ["subscribe", "unsubscribe"]
    assert bus.redundant == [] and bus.of(manager) == set()


async def test_rooms_are_per_namespace(manager: SocketManager, bus: RecordingBus) -> None:
    alice = Client(manager, "/chat", "/news")
    call(alice, "join", "lobby")
    call(alice, "join", "lobby", endpoint="/news")
    assert bus.of(manager) == {("/chat", "lobby"), ("/news", "lobby")}
    call(alice, "leave", "lobby", endpoint="/news")
    assert bus.of(manager) == {("/chat", "lobby")}


@pytest.mark.parametrize(
    "goodbye",
    ["0::/chat", "0::"],
    ids=["leaves the namespace", "disconnects"],
)
async def test_a_member_that_goes_away_empties_its_rooms(
    manager: SocketManager, bus: RecordingBus, goodbye: str
) -> None:
    alice, bob = Client(manager, "/chat"), Client(manager, "/chat")
    call(alice, "join", "lobby")
    call(alice, "join", "kitchen")
    call(bob, "join", "lobby")
    alice.send(goodbye)
    assert bus.of(manager) == {("/chat", "lobby")}  # bob is still in the lobby
    bob.send(goodbye)
    assert bus.of(manager) == set()
    assert sorted(c for c in bus.calls if c[0] == "unsubscribe") == [
        ("unsubscribe", manager.node_id, "/chat", "kitchen"),
        ("unsubscribe", manager.node_id, "/chat", "lobby"),
    ]
    assert bus.redundant == []


async def test_a_socket_that_ends_on_the_server_side_empties_its_rooms(
    manager: SocketManager, bus: RecordingBus
) -> None:
    alice = Client(manager, "/chat")
    call(alice, "join", "lobby")
    alice.socket.close_session("server shutdown")
    assert bus.of(manager) == set()
    assert bus.redundant == []
