"""The same chat, over each of the six legacy transports: two people in a room exchange
messages, and every message arrives exactly once, in order, at the other one only. Then all
six transports at once in one room."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.inloop import InLoopServer
from tests.support.legacy_client import LegacyClient
from tests.support.stream_clients import make_client
from tornio import BaseNamespace, RoomsMixin
from tornio.protocol import legacy
from tornio.settings import LEGACY_TRANSPORTS

pytestmark = pytest.mark.timeout(60)

ROUNDS = 15
#: Short, so that heartbeats (persistent transports) and held polls answered with a noop
#: (polling transports) may come between the messages.
TIMINGS: dict[str, Any] = {
    "heartbeat_interval": 0.1,
    "heartbeat_timeout": 5.0,
    "polling_duration": 0.2,
    "close_timeout": 5.0,
}


class ChatNamespace(BaseNamespace, RoomsMixin):
    def on_nickname(self, nickname: str) -> bool:
        self.session["nickname"] = nickname
        return True

    def on_join(self, room: str) -> bool:
        self.room = room
        self.join(room)
        return True

    def on_user_message(self, text: str) -> str:
        self.emit_to_room(self.room, "msg_to_room", self.session["nickname"], text)
        return "sent"


async def enter(client: LegacyClient, nickname: str, room: str) -> LegacyClient:
    await client.connect()
    await client.send("1::/chat")
    assert await client.recv() == "1::/chat"
    await client.emit("/chat", "nickname", nickname, msg_id=1)
    assert await client.recv() == "6::/chat:1+[true]"
    await client.emit("/chat", "join", room, msg_id=2)
    assert await client.recv() == "6::/chat:2+[true]"
    return client


async def talk(client: LegacyClient, texts: list[str]) -> list[Any]:
    """Say each text (waiting for its ack before the next); return everything else received
    meanwhile, as decoded packets."""
    others: list[Any] = []
    for i, text in enumerate(texts, start=10):
        await client.emit("/chat", "user message", text, msg_id=i)
        while True:
            packet = legacy.decode_packet(await client.recv())
            if packet["type"] == "ack" and packet["ackId"] == i:
                assert packet["args"] == ["sent"]
                break
            others.append(packet)
    return others


async def heard(client: LegacyClient, already: list[Any], count: int) -> list[tuple[str, str]]:
    """The room messages a client got: those seen while talking, then more up to ``count``."""
    messages = [(p["args"][0], p["args"][1]) for p in already if p.get("name") == "msg_to_room"]
    assert len(already) == len(messages), already  # nothing but room messages came
    while len(messages) < count:
        packet = legacy.decode_packet(await client.recv())
        assert packet.get("name") == "msg_to_room", packet
        messages.append((packet["args"][0], packet["args"][1]))
    return messages


async def nothing_more(*clients: LegacyClient) -> None:
    """No duplicate arrives late: a final round trip per client finds only its own ack."""
    for client in clients:
        await client.emit("/chat", "nickname", "still me", msg_id=99)
        assert await client.recv() == "6::/chat:99+[true]"


@pytest.mark.parametrize("transport", LEGACY_TRANSPORTS)
async def test_two_people_chat(transport: str) -> None:
    server = await InLoopServer.start({"/chat": ChatNamespace}, **TIMINGS)
    try:
        alice, bob = await asyncio.gather(
            enter(make_client(server.base, transport, answer_heartbeats=True), "alice", "lobby"),
            enter(make_client(server.base, transport, answer_heartbeats=True), "bob", "lobby"),
        )
        by_alice = [f"a{i} \u00e9</script>" for i in range(ROUNDS)]
        by_bob = [f"b{i} \U0001f600\n" for i in range(ROUNDS)]
        alice_meanwhile, bob_meanwhile = await asyncio.gather(
            talk(alice, by_alice), talk(bob, by_bob)
        )
        assert await heard(alice, alice_meanwhile, ROUNDS) == [("bob", t) for t in by_bob]
        assert await heard(bob, bob_meanwhile, ROUNDS) == [("alice", t) for t in by_alice]
        await nothing_more(alice, bob)
        await alice.close()
        await bob.close()
    finally:
        await server.stop()


async def test_six_transports_in_one_room() -> None:
    server = await InLoopServer.start({"/chat": ChatNamespace}, **TIMINGS)
    try:
        people = await asyncio.gather(
            *(
                enter(make_client(server.base, t, answer_heartbeats=True), t, "mixed")
                for t in LEGACY_TRANSPORTS
            )
        )
        said = {t: [f"{t} says {i}" for i in range(5)] for t in LEGACY_TRANSPORTS}
        talks = [talk(p, said[t]) for p, t in zip(people, LEGACY_TRANSPORTS, strict=True)]
        meanwhile = await asyncio.gather(*talks)
        for person, seen, transport in zip(people, meanwhile, LEGACY_TRANSPORTS, strict=True):
            got = await heard(person, seen, 5 * (len(LEGACY_TRANSPORTS) - 1))
            expected = {(t, text) for t in LEGACY_TRANSPORTS if t != transport for text in said[t]}
            assert sorted(got) == sorted(expected), transport  # each exactly once
            for other in LEGACY_TRANSPORTS:  # and each sender's messages in order
                expected_order = [] if other == transport else said[other]
                assert [m for n, m in got if n == other] == expected_order
        await nothing_more(*people)
        for person in people:
            await person.close()
    finally:
        await server.stop()
