"""The typed packet on its way: the same event from a 0.9 client and from a Socket.IO v5
client, fed to real sockets of a real ``SocketManager`` in memory, must reach dispatch as the
same :class:`~tornio.protocol.packets.Packet` (every field compared, so a field one side drops
fails its row); binary attachments are back in the args; what a handler returns, and any
packet sent, reaches each generation's encoder; a handler taking ``packet`` and an
application's ``process_packet`` get gevent-socketio's dict, the same from both generations.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.support.memory_client import Client
from tests.support.session_sinks import EngineSink
from tornio.core.namespace import BaseNamespace
from tornio.core.socket import Socket
from tornio.manager import SocketManager
from tornio.modern.socket import ModernSocket
from tornio.protocol import legacy
from tornio.protocol.drive import drive
from tornio.protocol.packets import Packet
from tornio.settings import Settings

# --- both generations, in memory on one manager --------------------------------------------


class Chat(BaseNamespace):
    def on_echo(self, *args: Any) -> Any:
        return args

    def on_raw(self, packet: dict[str, Any]) -> Any:
        return packet


class OwnDispatch(BaseNamespace):
    """An application's ``process_packet``: it is given gevent-socketio's dicts."""

    def process_packet(self, packet: Any) -> Any:
        self.socket.session.setdefault("seen", []).append(packet)
        return super().process_packet(packet)

    def on_echo(self, *args: Any) -> Any:
        return args


@pytest.fixture
async def manager() -> AsyncIterator[SocketManager]:
    made = SocketManager({"": Chat, "/chat": Chat, "/own": OwnDispatch}, Settings())
    yield made
    made.close_all()
    await asyncio.sleep(0)  # the sockets' background tasks see the close


def recording(socket: Socket) -> list[Packet]:
    """What the socket's decoder hands to dispatch, from now on."""
    seen: list[Packet] = []
    handle = socket.handle_packet

    def record(packet: Any) -> None:
        assert type(packet) is Packet, f"{type(packet).__name__} handed to dispatch"
        seen.append(Packet(packet.kind, packet.endpoint, packet.name, list(packet.args),
                           packet.id, packet.ack, packet.data, packet.reason, packet.advice,
                           packet.qs))
        handle(packet)

    socket.handle_packet = record  # type: ignore[method-assign]
    return seen


class Modern:
    """A Socket.IO v5 client of the manager, on a websocket that records its frames."""

    def __init__(self, manager: SocketManager, *namespaces: str) -> None:
        self.socket = manager.create_engine_socket(4, "websocket", None)  # type: ignore[arg-type]
        self.sink = EngineSink("websocket")
        drive(self.socket, self.socket.engine.attach_websocket(self.sink, manager.clock()))
        self.socket.opened()
        for nsp in namespaces:
            self.socket.receive_messages([f"0{nsp}," if nsp != "/" else "0"])
        assert sum(1 for f in self.take() if isinstance(f, str) and f.startswith("40")) == len(
            namespaces)

    def send(self, *messages: str | bytes) -> None:
        """Socket.IO packets, as Engine.IO messages carry them (no ``4``)."""
        self.socket.receive_messages(list(messages))

    def take(self) -> list[Any]:
        frames, self.sink.frames = self.sink.frames, []
        return frames


SAME_EVENT: list[tuple[str, list[str | bytes], Packet]] = [
    ('5:7+:/chat:{"name":"echo","args":[1,"a",{"b":null}]}',
     ['2/chat,7["echo",1,"a",{"b":null}]'],
     Packet("event", "/chat", "echo", [1, "a", {"b": None}], 7, "data")),
    ('5::/chat:{"name":"news"}', ['2/chat,["news"]'], Packet("event", "/chat", "news", [])),
    ('5:::{"name":"hi","args":[1]}', ['2["hi",1]'], Packet("event", "", "hi", [1])),
    ('6::/chat:3+["x",2]', ['3/chat,3["x",2]'], Packet("ack", "/chat", None, ["x", 2], 3)),
    ("0::/chat", ["1/chat,"], Packet("disconnect", "/chat")),
]


@pytest.mark.parametrize(("legacy_wire", "modern_messages", "expected"), SAME_EVENT)
async def test_both_generations_dispatch_the_same_packet(
    manager: SocketManager, legacy_wire: str, modern_messages: list[str | bytes],
    expected: Packet,
) -> None:
    old = Client(manager, "/chat")
    new = Modern(manager, "/", "/chat")
    from_old, from_new = recording(old.socket), recording(new.socket)
    old.send(legacy_wire)
    new.send(*modern_messages)
    assert from_old == [expected]
    assert from_new == [expected]


async def test_binary_attachments_are_back_in_the_args(manager: SocketManager) -> None:
    new = Modern(manager, "/chat")
    seen = recording(new.socket)
    new.send('52-/chat,4["echo",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,'
             '"num":1}}]', b"\x00\x01", b"")
    assert seen == [Packet("event", "/chat", "echo", [b"\x00\x01", {"k": b""}], 4, "data")]
    # and the answer carries them back as attachments
    assert new.take() == ['462-/chat,4[{"_placeholder":true,"num":0},{"k":{"_placeholder":true,'
                          '"num":1}}]', b"\x00\x01", b""]


async def test_what_a_handler_returns_reaches_each_encoder(manager: SocketManager) -> None:
    old, new = Client(manager, "/chat"), Modern(manager, "/chat")
    old.send('5:7+:/chat:{"name":"echo","args":[1,"a"]}')
    new.send('2/chat,7["echo",1,"a"]')
    assert old.take() == ['6::/chat:7+[1,"a"]']
    assert new.take() == ['43/chat,7[1,"a"]']


async def test_a_handler_taking_packet_gets_the_dict_of_its_generation(
    manager: SocketManager,
) -> None:
    old, new = Client(manager, "/chat"), Modern(manager, "/chat")
    old.send('5:7+:/chat:{"name":"raw","args":[1]}')
    new.send('2/chat,7["raw",1]')
    same = {"type": "event", "endpoint": "/chat", "id": 7, "ack": "data", "name": "raw",
            "args": [1]}
    assert legacy.decode_packet(old.take()[0]) == {
        "type": "ack", "endpoint": "/chat", "ackId": 7, "args": [same]}
    assert new.take() == ['43/chat,7[{"type":"event","endpoint":"/chat","id":7,"ack":"data",'
                          '"name":"raw","args":[1]}]']


async def test_an_own_process_packet_gets_dicts_from_both_generations(
    manager: SocketManager,
) -> None:
    old, new = Client(manager, "/own"), Modern(manager, "/own")
    old.send('5:2+:/own:{"name":"echo","args":["x"]}')
    new.send('2/own,2["echo","x"]')
    assert old.take() == ['6::/own:2+["x"]']
    assert new.take() == ['43/own,2["x"]']
    expected = {"type": "event", "endpoint": "/own", "id": 2, "ack": "data", "name": "echo",
                "args": ["x"]}
    assert old.socket.session["seen"][-1] == expected
    assert new.socket.session["seen"][-1] == expected


SENT: list[tuple[Packet | dict[str, Any], str, str]] = [
    (Packet("event", "/chat", "news", [1, {"a": None}]), '5::/chat:{"name":"news","args":[1,'
     '{"a":null}]}', '42/chat,["news",1,{"a":null}]'),
    (Packet("event", "/chat", "ask", [], 3, "data"), '5:3+:/chat:{"name":"ask"}',
     '42/chat,3["ask"]'),
    (Packet("ack", "/chat", None, ["y"], 5), '6::/chat:5+["y"]', '43/chat,5["y"]'),
    (Packet("ack", "/chat", None, [], 6), "6::/chat:6", "43/chat,6[]"),
    (Packet("message", "/chat", data="hi"), "3::/chat:hi", '42/chat,["message","hi"]'),
    (Packet("json", "/chat", data=[1]), "4::/chat:[1]", '42/chat,["message",[1]]'),
    (Packet("disconnect", "/chat"), "0::/chat", "41/chat,"),
    ({"type": "event", "name": "news", "args": [2], "endpoint": "/chat"},
     '5::/chat:{"name":"news","args":[2]}', '42/chat,["news",2]'),
    ({"type": "event", "name": "auto", "endpoint": "/chat", "id": 4},
     '5:4:/chat:{"name":"auto"}', '42/chat,["auto"]'),
]


@pytest.mark.parametrize(("packet", "old_wire", "new_wire"), SENT)
async def test_a_sent_packet_reaches_each_encoder(
    manager: SocketManager, packet: Packet | dict[str, Any], old_wire: str, new_wire: str,
) -> None:
    old, new = Client(manager, "/chat"), Modern(manager, "/chat")
    old.socket.send_packet(packet)
    new.socket.send_packet(packet)
    assert old.take() == [old_wire]
    assert new.take() == [new_wire]


@pytest.mark.parametrize(
    ("send", "error"),
    [
        (lambda s: s.send_packet({"type": "bogus"}), "unknown packet type"),
        (lambda s: s.send_packet(Packet("event", "/chat", "e", [float("nan")])), "JSON|NaN|nan"),
    ],
)
async def test_a_packet_that_cannot_be_sent_raises(
    manager: SocketManager, send: Callable[[Socket], None], error: str,
) -> None:
    old, new = Client(manager, "/chat"), Modern(manager, "/chat")
    for socket in (old.socket, new.socket):
        with pytest.raises(ValueError, match=error):
            send(socket)
    assert old.take() == []
    assert new.take() == []


async def test_a_modern_socket_refuses_what_v5_cannot_carry(manager: SocketManager) -> None:
    new = Modern(manager, "/chat")
    assert isinstance(new.socket, ModernSocket)
    with pytest.raises(ValueError, match="cannot send a 'heartbeat' packet"):
        new.socket.send_packet(Packet("heartbeat", "/chat"))


async def test_a_0_9_packet_with_an_id_without_plus_is_acked_at_once(
    manager: SocketManager,
) -> None:
    old = Client(manager, "/chat")
    old.send('5:8:/chat:{"name":"echo","args":[1]}')
    old.send("3:9:/chat:hello")
    old.send('6:10:/chat:3+["x"]')  # an ack with an id of its own: node acks that id too
    assert old.take() == ["6::/chat:8", "6::/chat:9", "6::/chat:10"]
