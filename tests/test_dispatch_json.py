"""The application's JSON: ``json_default`` (a function, as ``json.dumps(default=)``) and
``json`` (a module with ``dumps``/``loads``, python-socketio's ``json=``), for emits, acks
and broadcasts, modern (text and msgpack) and 0.9 clients, and across nodes on the ZeroMQ
bus; and a value that cannot be encoded raising at the emit, broadcasts included.

Codec tables first (:mod:`tornio.protocol.jsoncodec` through the three codecs), then
socket.io-client 4.8 under Node (``tests/js/lifecycle_client.mjs``), python-socketio's
client (text and msgpack) and a 0.9 client on the in-memory harness of
``tests/test_namespace.py``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
import socketio  # type: ignore[import-untyped]

from tests.support.inloop import InLoopServer
from tests.support.lifecycle_driver import LifecycleDriver
from tests.support.memory_client import Client
from tornio import BaseNamespace, RoomsMixin, Router, Settings
from tornio.bus.broker import Broker
from tornio.bus.zmq import ZmqBus
from tornio.exceptions import InvalidPacket
from tornio.manager import SocketManager
from tornio.protocol import legacy, msgpack_parser
from tornio.protocol import socketio as sio
from tornio.protocol.jsoncodec import JsonCodec, codec_for
from tornio.protocol.socketio import Packet, PacketType

pytestmark = pytest.mark.timeout(60)

WHEN = dt.datetime(2024, 5, 17, 12, 30, tzinfo=dt.timezone.utc)
WHEN_TEXT = "2024-05-17T12:30:00+00:00"


def default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


class DateEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime):
            return {"$date": o.isoformat()}
        return super().default(o)


class DateJson:
    """A json module as python-socketio's users write them: dates both ways."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, cls=DateEncoder, **kwargs)

    @staticmethod
    def loads(text: str, **kwargs: Any) -> Any:
        def hook(obj: dict[str, Any]) -> Any:
            if set(obj) == {"$date"}:
                return dt.datetime.fromisoformat(obj["$date"])
            return obj

        return json.loads(text, object_hook=hook, **kwargs)


class BrokenLoads(DateJson):
    @staticmethod
    def loads(text: str, **kwargs: Any) -> Any:
        raise KeyError("the application's loads failed")


# -- the codecs ------------------------------------------------------------------------------


def test_json_default_writes_what_json_has_no_type_for() -> None:
    codec = JsonCodec(default=default)
    assert sio.encode_event("/", ["when", WHEN, Decimal("1.10")], json=codec) == [
        f'2["when","{WHEN_TEXT}","1.10"]'
    ]
    # bytes stay binary attachments, never reach the default
    assert sio.encode_event("/n", ["b", WHEN, b"\x01"], 3, json=codec) == [
        f'51-/n,3["b","{WHEN_TEXT}",{{"_placeholder":true,"num":0}}]', b"\x01"
    ]
    ack = sio.encode(Packet(PacketType.ACK, "/", [{"at": WHEN}], 4), codec)
    assert ack == [f'34[{{"at":"{WHEN_TEXT}"}}]']
    assert legacy.encode_event("/n", "when", [WHEN], json=codec) == (
        f'5::/n:{{"name":"when","args":["{WHEN_TEXT}"]}}'
    )
    assert legacy.encode_packet({"type": "ack", "ackId": 2, "args": [Decimal(2)],
                                 "endpoint": ""}, codec) == '6:::2+["2"]'
    with pytest.raises(TypeError):  # 0.9 has no binary
        legacy.encode_event("", "b", [b"x"], json=codec)
    with pytest.raises(TypeError, match="object is not JSON"):  # the default refuses it
        sio.encode_event("/", ["x", object()], json=codec)
    packed = msgpack_parser.encode(Packet(PacketType.EVENT, "/", ["when", WHEN]), codec)
    assert msgpack_parser.decode(packed).data == ["when", WHEN_TEXT]
    # without a codec, nothing changed
    with pytest.raises(TypeError):
        sio.encode_event("/", ["when", WHEN])
    with pytest.raises(TypeError):
        msgpack_parser.encode(Packet(PacketType.EVENT, "/", ["when", WHEN]))


def test_a_json_module_writes_and_reads_every_payload() -> None:
    codec = JsonCodec(module=DateJson)
    wire = sio.encode_event("/", ["when", WHEN, b"\x02"], json=codec)
    assert wire == [f'51-["when",{{"$date":"{WHEN_TEXT}"}},{{"_placeholder":true,"num":0}}]',
                    b"\x02"]
    decoder = sio.Decoder(json=codec)
    packet = decoder.add(f'2["when",{{"$date":"{WHEN_TEXT}"}}]')
    assert packet is not None and packet.data == ["when", WHEN]
    assert decoder.add('51-["b",{"_placeholder":true,"num":0}]') is None
    binary = decoder.add(b"\x07")
    assert binary is not None and binary.data == ["b", b"\x07"]
    with pytest.raises(InvalidPacket):
        sio.Decoder(json=JsonCodec(module=BrokenLoads)).add('2["x",1]')
    assert legacy.decode_packet(f'5:::{{"name":"w","args":[{{"$date":"{WHEN_TEXT}"}}]}}',
                                codec)["args"] == [WHEN]
    with pytest.raises(InvalidPacket):
        legacy.decode_packet('5:::{"name":"w"}', JsonCodec(module=BrokenLoads))
    packed = msgpack_parser.encode(Packet(PacketType.EVENT, "/", ["w", WHEN]), codec)
    assert msgpack_parser.decode(packed).data == ["w", {"$date": WHEN_TEXT}]


def test_plain_copies_hold_only_what_the_bus_carries() -> None:
    codec = JsonCodec(default=lambda v: {"nested": Decimal(1)} if v is WHEN else str(v))
    assert codec.plain([WHEN, (1, b"b"), {1: None, "k": bytearray(b"x")}]) == [
        {"nested": "1"}, [1, b"b"], {"1": None, "k": b"x"}
    ]
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises((ValueError, RecursionError)):
        codec.plain(loop)


def test_bad_json_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        Settings(json=DateJson, json_default=default)
    with pytest.raises(TypeError, match="dumps"):
        Settings(json=object())
    with pytest.raises(TypeError, match="callable"):
        Settings(json_default="isoformat")  # type: ignore[arg-type]
    assert codec_for(None, None) is None
    assert codec_for(None, default) is codec_for(None, default)  # shared, made once


# -- a server ------------------------------------------------------------------------------


class Dates(BaseNamespace, RoomsMixin):
    """``/dates``: dates and decimals in acks, emits and broadcasts; unencodable values
    raise where they are emitted (the handlers say what they caught)."""

    def recv_connect(self) -> None:
        self.join("all")
        try:
            self.emit("welcome", object())  # held until the connect is confirmed: raises now
        except TypeError as exc:
            self.session["connect_error"] = type(exc).__name__
        self.emit("welcome", WHEN if self.socket.json_codec else "no dates")

    def on_when(self) -> Any:
        return WHEN, Decimal("2.50")

    def on_push(self) -> None:
        self.emit("pushed", {"at": WHEN})

    def on_everyone(self) -> None:
        self.socket.manager.emit("news", WHEN, namespace=self.ns_name, room="all")

    def on_echo(self, value: Any) -> Any:
        return repr(type(value).__name__), value

    def on_bad(self) -> tuple[str, ...]:
        caught = [self.session.get("connect_error", "")]
        for emit in (
            lambda: self.emit("x", object()),
            lambda: self.emit("x", float("nan")),
            lambda: self.socket.manager.emit("x", object(), namespace=self.ns_name),
            lambda: self.emit_to_room("all", "x", {1, 2}),
            lambda: self.socket.manager.emit("x", object(), namespace=self.ns_name,
                                             local=True),
        ):
            try:
                emit()
            except (TypeError, ValueError) as exc:
                caught.append(type(exc).__name__)
        return tuple(caught)


MakeServer = Callable[..., Awaitable[InLoopServer]]


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    servers: list[InLoopServer] = []

    async def make(**settings: Any) -> InLoopServer:
        server = InLoopServer(Router({"/dates": Dates}, **settings))
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


async def test_node_clients_get_dates_in_acks_emits_and_broadcasts(
    make_server: MakeServer,
) -> None:
    server = await make_server(json_default=default)
    options = {"transports": ["websocket"], "answers": {"q": ["ok"]}}
    async with LifecycleDriver(server.base, options) as node:
        await node.open("a", "/dates")
        await node.open("b", "/dates", manager="b")
        welcome = await node.step("event", sock="a", event="welcome")
        assert welcome["args"] == [WHEN_TEXT]
        assert await node.emit("a", "when") == [WHEN_TEXT, "2.50"]
        await node.emit("a", "push")
        assert (await node.step("event", sock="a", event="pushed"))["args"] == [
            {"at": WHEN_TEXT}
        ]
        await node.emit("a", "everyone")
        for sock in ("a", "b"):
            news = await node.step("event", sock=sock, event="news")
            assert news["args"] == [WHEN_TEXT]
        # every unencodable value raised in the handler, the held emit of recv_connect too
        assert await node.emit("a", "bad") == [
            "TypeError", "TypeError", "ValueError", "TypeError", "TypeError", "TypeError"
        ]
        assert await node.emit("a", "echo", 1) == ["'int'", 1]  # and the socket lives on
        # a broadcast with acks: the same
        assert await server.router.call("q", WHEN, namespace="/dates", timeout=5) == ["ok"] * 2
        for sock in ("a", "b"):
            assert (await node.step("event", sock=sock, event="q"))["args"] == [WHEN_TEXT]
        with pytest.raises(TypeError):
            await server.router.call("q", object(), namespace="/dates", timeout=5)
        await node.quit()


async def test_without_json_default_dates_raise_at_the_emit(make_server: MakeServer) -> None:
    server = await make_server()
    async with LifecycleDriver(server.base, {"transports": ["websocket"]}) as node:
        await node.open("a", "/dates")
        with pytest.raises(TypeError):
            server.router.emit("news", WHEN, namespace="/dates")
        with pytest.raises(TypeError):
            server.router.emit("news", WHEN, namespace="/nobody-here")  # no recipient: still
        assert await node.emit("a", "echo", 2) == ["'int'", 2]
        await node.quit()


@pytest.mark.parametrize("serializer", ["default", "msgpack"])
async def test_python_socketio_with_a_json_module(
    make_server: MakeServer, serializer: str
) -> None:
    server = await make_server(json=DateJson)
    client = socketio.AsyncClient(reconnection=False, serializer=serializer)
    pushed: asyncio.Queue[Any] = asyncio.Queue()
    client.on("pushed", pushed.put_nowait, namespace="/dates")
    try:
        await asyncio.wait_for(client.connect(server.base, transports=["websocket"],
                                              namespaces=["/dates"]), 5)
        echoed = await client.call("echo", {"$date": WHEN_TEXT}, namespace="/dates", timeout=5)
        # text: the module's loads made a datetime for the handler, its dumps wrote it back;
        # msgpack carries no JSON text, so the handler gets the map as it came
        kind = "'datetime'" if serializer == "default" else "'dict'"
        assert echoed == (kind, {"$date": WHEN_TEXT})
        await client.emit("push", namespace="/dates")
        assert await asyncio.wait_for(pushed.get(), 5) == {"at": {"$date": WHEN_TEXT}}
    finally:
        await client.disconnect()


async def test_legacy_clients_get_dates_too() -> None:
    manager = SocketManager({"/dates": Dates}, Settings(json_default=default))
    try:
        client = Client(manager)
        client.send("1::/dates")
        assert client.take() == ["1::/dates", f'5::/dates:{{"name":"welcome","args":'
                                              f'["{WHEN_TEXT}"]}}']
        client.send('5:1+:/dates:{"name":"when"}')
        client.send('5::/dates:{"name":"everyone"}')
        assert client.take() == [f'6::/dates:1+["{WHEN_TEXT}","2.50"]',
                                 f'5::/dates:{{"name":"news","args":["{WHEN_TEXT}"]}}']
    finally:
        manager.close_all()


async def test_dates_cross_the_bus_as_their_json(make_server: MakeServer) -> None:
    sender = await make_server(json_default=default)
    receiver = await make_server(json_default=default)
    with Broker("tcp://127.0.0.1:0") as broker:
        buses = [ZmqBus(broker.pub_address, broker.sub_address, node_id=s.manager.node_id)
                 for s in (sender, receiver)]
        for server, bus in zip((sender, receiver), buses, strict=True):
            server.manager.use_bus(bus)
        try:
            for bus in buses:
                await bus.ready(2.0)
            async with LifecycleDriver(receiver.base, {"transports": ["websocket"]}) as node:
                sid = await node.open("a", "/dates")
                sender.router.emit("far", {"at": WHEN, "n": Decimal(3)}, namespace="/dates",
                                   to=sid)
                far = await node.step("event", sock="a", event="far")
                assert far["args"] == [{"at": WHEN_TEXT, "n": "3"}]
                await node.quit()
        finally:
            for bus in buses:
                await bus.close(announce=False)
