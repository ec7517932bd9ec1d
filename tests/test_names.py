"""The limits on names a client chooses, at the edge, for both protocol generations (a 0.9
websocket client and an Engine.IO v4 / Socket.IO v5 one, protocol-level), table-driven: just
under, at and over each limit, in ASCII and in 2-, 3- and 4-byte UTF-8 (and a lone
surrogate, 3 bytes). Event names (``max_event_name``) and namespace names
(``max_namespace_name``) are checked before any handler runs; room names
(``max_room_name``) when the application's handler passes them to ``join``/``leave``. The
server is ``tests/apps/hostile_names.py``'s; every case ends with the session still working.
Plus the room index's own limits, and an application's calls, without a network.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.apps.hostile_names import namespaces
from tests.support.engine_client import EngineWebSocket
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import LegacyClient
from tornio.bus.messages import MAX_TOPIC, room_topic
from tornio.core.rooms import RoomIndex, check_name, name_size
from tornio.exceptions import NameTooLong
from tornio.protocol import legacy
from tornio.settings import Settings

pytestmark = pytest.mark.timeout(30)

EVENT, ROOM, NAMESPACE = 1024, 1024, 256  # the defaults


def fill(limit: int, unit: str, extra: int = 0, prefix: str = "") -> str:
    """A name of ``limit + extra`` UTF-8 bytes: ``prefix``, padding 'a's, then as many
    copies of ``unit`` as fit (so it ends with a whole multi-byte character)."""
    body = limit + extra - name_size(prefix)
    copies = body // name_size(unit)
    return prefix + "a" * (body - copies * name_size(unit)) + unit * copies


def straddling(limit: int, unit: str, prefix: str = "") -> str:
    """A name whose last (multi-byte) character starts within the limit and ends past it."""
    return prefix + "a" * (limit - 1 - name_size(prefix)) + unit


UNITS = {"ascii": "b", "2-byte": "é", "3-byte": "€", "4-byte": "😀", "lone surrogate": "\ud800"}
#: (case, extra bytes over the limit, accepted?)
EDGES = [("under", -1, True), ("at", 0, True), ("over", 1, False)]
CASES = [
    pytest.param(unit, extra, ok, id=f"{kind}-{case}")
    for kind, unit in UNITS.items()
    for case, extra, ok in EDGES
] + [
    pytest.param(unit, None, False, id=f"{kind}-straddling")
    for kind, unit in UNITS.items()
    if kind != "ascii"
]


def name_for(limit: int, unit: str, extra: int | None, prefix: str = "") -> str:
    if extra is None:
        return straddling(limit, unit, prefix)
    return fill(limit, unit, extra, prefix)


@pytest.mark.parametrize(("unit", "extra", "ok"), CASES)
def test_check_name_counts_utf8_bytes(unit: str, extra: int | None, ok: bool) -> None:
    name = name_for(ROOM, unit, extra)
    size = ROOM - 1 + name_size(unit) if extra is None else ROOM + extra
    assert name_size(name) == size
    if ok:
        check_name(name, ROOM, "a room name")
    else:
        with pytest.raises(NameTooLong, match=f"of {size} bytes is longer than"):
            check_name(name, ROOM, "a room name")


@pytest.fixture
async def server() -> AsyncIterator[InLoopServer]:
    running = await InLoopServer.start(namespaces)
    try:
        yield running
    finally:
        await running.stop()


class Legacy:
    """A 0.9 websocket client in /chat."""

    def __init__(self, client: LegacyClient) -> None:
        self.client = client
        self.ids = iter(range(1, 10_000))

    @classmethod
    async def open(cls, base: str) -> Legacy:
        client = await LegacyClient(base, "websocket").connect()
        await client.send("1::/chat")
        assert await client.recv() == "1::/chat"
        return cls(client)

    async def answer(self, packet: str) -> dict[str, Any]:
        """Send a packet; the next ack or event that comes back."""
        await self.client.send(packet)
        while True:
            got: dict[str, Any] = dict(legacy.decode_packet(await self.client.recv()))
            if got["type"] in ("ack", "event", "connect", "error"):
                return got

    async def event(self, name: str, *args: Any) -> dict[str, Any]:
        return await self.answer(legacy.encode_event("/chat", name, list(args), next(self.ids)))

    async def works(self) -> None:
        assert (await self.event("join", "lobby"))["args"] == [True]


class Modern:
    """A Socket.IO v5 websocket client in /chat."""

    def __init__(self, ws: EngineWebSocket) -> None:
        self.ws = ws
        self.ids = iter(range(1, 10_000))

    @classmethod
    async def open(cls, base: str) -> Modern:
        ws = await EngineWebSocket.open(base)
        await ws.join("/chat")
        return cls(ws)

    async def answer(self, frame: str) -> str:
        await self.ws.send(frame)
        answer = await self.ws.recv()
        assert isinstance(answer, str), answer
        return answer

    async def event(self, name: str, *args: Any) -> tuple[str, Any]:
        """('ack', args) or ('error', [error name, message])."""
        ack_id = next(self.ids)
        answer = await self.answer(f"42/chat,{ack_id}" + json.dumps([name, *args]))
        if answer.startswith(f"43/chat,{ack_id}"):
            return "ack", json.loads(answer[len(f"43/chat,{ack_id}"):])
        assert answer.startswith("42/chat,"), answer
        sent = json.loads(answer[len("42/chat,"):])
        assert sent[0] == "error", answer
        return "error", sent[1:]

    async def works(self) -> None:
        assert await self.event("join", "lobby") == ("ack", [True])


@pytest.mark.parametrize(("unit", "extra", "ok"), CASES)
async def test_event_names(server: InLoopServer, unit: str, extra: int | None, ok: bool) -> None:
    name = name_for(EVENT, unit, extra, prefix="e")
    old = await Legacy.open(server.base)
    new = await Modern.open(server.base)
    try:
        got = await old.event(name, 1)
        kind, args = await new.event(name, 1)
        if ok:
            assert got["type"] == "ack" and got["args"] == [name_size(name)]
            assert (kind, args) == ("ack", [name_size(name)])
        else:
            assert got["type"] == "event" and got["args"][0] == "no_such_method"
            assert f"of {name_size(name)} bytes" in got["args"][1]
            assert kind == "error" and args[0] == "no_such_method"
        await old.works()
        await new.works()
    finally:
        await old.client.close()
        new.ws.close()


@pytest.mark.parametrize(("unit", "extra", "ok"), CASES)
async def test_room_names(server: InLoopServer, unit: str, extra: int | None, ok: bool) -> None:
    room = name_for(ROOM, unit, extra)
    old = await Legacy.open(server.base)
    new = await Modern.open(server.base)
    rooms = server.manager.rooms
    try:
        for event in ("join", "leave"):
            got = await old.event(event, room)
            kind, args = await new.event(event, room)
            if ok:
                assert got["args"] == [True] and (kind, args) == ("ack", [True])
            else:
                assert got["type"] == "event" and got["args"][0] == "name_too_long"
                assert f"a room name of {name_size(room)} bytes" in got["args"][1]
                assert kind == "error" and args[0] == "name_too_long"
            if event == "join":
                assert (room in rooms.rooms_of("/chat")) is ok
        assert room not in rooms.rooms_of("/chat")
        await old.works()
        await new.works()
    finally:
        await old.client.close()
        new.ws.close()


@pytest.mark.parametrize(("unit", "extra", "ok"), CASES)
async def test_namespace_names(
    server: InLoopServer, unit: str, extra: int | None, ok: bool
) -> None:
    if unit == "\ud800":
        unit = "é"  # a 0.9 endpoint is raw text in the packet: no JSON to escape it in
    nsp = name_for(NAMESPACE, unit, extra, prefix="/dyn")
    old = await Legacy.open(server.base)
    new = await Modern.open(server.base)
    try:
        got = await old.answer(f"1::{nsp}")
        answer = await new.answer(f"40{nsp},")
        if ok:
            assert got["type"] == "connect" and got["endpoint"] == nsp, got
            assert answer.startswith(f"40{nsp},{{\"sid\":")
        else:
            assert got["type"] == "event" and got["args"][0] == "no_such_namespace", got
            assert f"of {name_size(nsp)} bytes" in got["args"][1]
            assert answer == f'44{nsp},{{"message":"Invalid namespace"}}'
            assert nsp not in server.manager.rooms.counts()
        await old.works()
        await new.works()
    finally:
        await old.client.close()
        new.ws.close()


# -- without a network ----------------------------------------------------------------------


def member(sid: str) -> Any:
    return SimpleNamespace(sids={"/c": sid}, rooms={})


def test_room_index_bounds_rooms_per_socket_and_names() -> None:
    emptied: list[str] = []
    index: RoomIndex[Any] = RoomIndex(on_room_emptied=lambda nsp, room: emptied.append(room),
                                      max_room_name=8, max_rooms=2)
    socket = member("s1")
    index.add_member("/c", socket)
    index.join("/c", "a", socket)
    index.join("/c", "s1", socket)  # its own id's room does not count
    index.join("/c", "b", socket)
    index.join("/c", "b", socket)  # already in it: not one more
    with pytest.raises(ValueError, match="at most 2 rooms"):
        index.join("/c", "c", socket)
    for call in (index.join, index.leave):
        with pytest.raises(NameTooLong):
            call("/c", "x" * 9, socket)
    assert socket.rooms["/c"] == {"a", "b", "s1"}
    index.leave("/c", "a", socket)
    index.join("/c", "c", socket)
    assert emptied == ["a"]


async def test_application_calls_refuse_names_over_their_limits(server: InLoopServer) -> None:
    manager = server.manager
    long_room, long_event = "r" * (ROOM + 1), "e" * (EVENT + 1)
    calls = [
        lambda: manager.emit("e", room=long_room, namespace="/chat"),
        lambda: manager.emit("e", room=["ok", long_room], namespace="/chat"),
        lambda: manager.emit("e", except_rooms=long_room, namespace="/chat"),
        lambda: manager.emit(long_event, namespace="/chat"),
        lambda: manager.emit("e", namespace="/" + "n" * NAMESPACE),
        lambda: manager.sockets_join(long_room, namespace="/chat"),
        lambda: manager.sockets_leave("ok", namespace="/chat", room=long_room),
    ]
    for call in calls:
        with pytest.raises(NameTooLong):
            call()


@pytest.mark.parametrize(
    ("room", "namespace", "ok"),
    [(1790, 256, True), (1791, 256, False), (2045, 1, True), (1024, 1023, False)],
)
def test_settings_keep_a_rooms_topic_within_the_bus_cap(room: int, namespace: int,
                                                        ok: bool) -> None:
    if not ok:
        with pytest.raises(ValueError, match="at most 2046"):
            Settings(max_room_name=room, max_namespace_name=namespace)
        return
    Settings(max_room_name=room, max_namespace_name=namespace)
    # the worst case: every byte escaped (NUL and \x01 take two)
    assert len(room_topic("\x00" * namespace, "\x01" * room)) <= MAX_TOPIC
