"""Tests for the namespace API: BaseNamespace, Socket, SocketManager, the mixins and rooms.

Everything runs in memory on the test's event loop: a real ``SocketManager`` and real
``Socket`` objects, a fake transport sink that records the encoded packets written to the
client, and encoded packet strings fed in with ``socket.receive_packet``
(``tests/support/memory_client.py``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest

import tornio.legacy.socket
from tests.support.memory_client import Client, PacketSink, error_names, events
from tornio.bus import InProcessBus
from tornio.core.mixins import BroadcastMixin, RoomsMixin
from tornio.core.namespace import BaseNamespace
from tornio.exceptions import ConnectionRefused
from tornio.legacy.socket import LegacySocket
from tornio.manager import SocketManager
from tornio.settings import Settings

# --- namespaces ---------------------------------------------------------------------------


class GlobalNamespace(BaseNamespace):
    def initialize(self) -> None:
        self.calls: list[str] = []

    def recv_connect(self) -> None:
        self.calls.append("connect")

    def recv_message(self, data: Any) -> Any:
        self.emit("got", data)
        return data

    def recv_disconnect(self) -> None:
        self.calls.append("disconnect")
        super().recv_disconnect()

    def on_quit(self) -> None:
        self.disconnect()


class ChatNamespace(BaseNamespace, RoomsMixin, BroadcastMixin):
    def initialize(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.job_started = asyncio.Event()
        self.job_cancelled = asyncio.Event()
        self.ended = asyncio.Event()

    def recv_connect(self) -> None:
        self.calls.append(("connect", None))
        self.emit("welcome", self.ns_name)

    def recv_disconnect(self) -> None:
        self.calls.append(("disconnect", self.socket.engine.close_reason))
        self.ended.set()
        super().recv_disconnect()

    def recv_error(self, packet: dict[str, Any]) -> None:
        self.calls.append(("error", packet))

    def on_user_message(self, text: str, n: int) -> None:
        self.calls.append(("user message", (text, n)))

    def on_raw(self, packet: dict[str, Any]) -> None:
        self.calls.append(("raw", packet))

    def on_none(self) -> None:
        return None

    def on_pair(self) -> tuple[str, int]:
        return ("a", 2)

    def on_list(self) -> list[int]:
        return [1, 2]

    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args

    async def on_double(self, x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    def on_boom(self) -> None:
        raise RuntimeError("boom in a handler")

    async def on_async_boom(self) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("boom in an async handler")

    def on_unencodable(self) -> object:
        return object()

    @staticmethod
    def on_static(x: Any) -> Any:
        return x

    def on_ask(self) -> None:
        self.emit("question", 1, callback=lambda *a: self.calls.append(("answer", a)))

    def on_tell(self) -> None:
        self.send("hello", callback=lambda *a: self.calls.append(("told", a)))

    def on_tell_json(self) -> None:
        self.send({"k": 1}, json=True)

    def on_start(self) -> None:
        async def job() -> None:
            self.job_started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.job_cancelled.set()
                raise

        self.spawn(job)

    def on_peek(self) -> tuple[bool, bool, bool]:
        return ("/chat" in self.socket, "/nope" in self.socket, self.socket["/chat"] is self)

    def on_nick(self, nick: str) -> None:
        self.session["nick"] = nick

    def on_join(self, room: str) -> bool:
        self.join(room)
        return True

    def on_leave(self, room: str) -> None:
        self.leave(room)

    def on_say(self, room: str, msg: str) -> None:
        self.emit_to_room(room, "said", msg)

    def on_shout(self, msg: str) -> None:
        self.broadcast_event("shout", msg)

    def on_shout_others(self, msg: str) -> None:
        self.broadcast_event_not_me("shout", msg)

    def on_bye(self) -> None:
        self.disconnect()


class OtherNamespace(BaseNamespace, BroadcastMixin):
    def on_whoami(self) -> Any:
        return self.session.get("nick")


class AclNamespace(BaseNamespace):
    def get_initial_acl(self) -> list[str]:
        return ["recv_connect", "on_public", "on_unlock", "on_lock", "on_lift"]

    def on_public(self) -> str:
        return "public"

    def on_secret(self) -> str:
        return "secret"

    def on_unlock(self) -> None:
        self.add_acl_method("on_secret")

    def on_lock(self) -> None:
        self.del_acl_method("on_secret")

    def on_lift(self) -> None:
        self.lift_acl_restrictions()


class GuardedNamespace(BaseNamespace):
    def initialize(self) -> None:
        self.caught: list[str] = []

    def exception_handler_decorator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                self.caught.append(f"{fn.__name__}: {exc}")
                return "handled"

        return wrapper

    def on_boom(self) -> None:
        raise ValueError("bad input")

    def on_ok(self, x: Any) -> Any:
        return x

    def on_spawn_boom(self) -> None:
        self.task = self.spawn(self.failing_job)

    def failing_job(self) -> None:
        raise KeyError("job")


class SlowByeNamespace(BaseNamespace):
    def initialize(self) -> None:
        self.steps: list[str] = []
        self.done = asyncio.Event()

    async def recv_disconnect(self) -> None:
        self.steps.append("start")
        super().recv_disconnect()  # leaves the namespace, cancelling its jobs
        for _ in range(3):
            await asyncio.sleep(0)
        self.steps.append("end")
        self.done.set()


class InitBase(BaseNamespace):
    def initialize(self) -> None:
        self.session.setdefault("init", []).append("InitBase")


class InitMiddle(InitBase):
    def initialize(self) -> None:  # overrides without super(), gevent-socketio style
        self.session.setdefault("init", []).append("InitMiddle")


class InitLeaf(InitMiddle):
    pass


class InitMixin:
    session: dict[str, Any]

    def initialize(self) -> None:
        self.session.setdefault("init", []).append("InitMixin")


class InitWithMixin(InitBase, InitMixin):
    pass


NAMESPACES: dict[str, type[BaseNamespace]] = {
    "": GlobalNamespace,
    "/chat": ChatNamespace,
    "/other": OtherNamespace,
    "/acl": AclNamespace,
    "/guarded": GuardedNamespace,
    "/slow": SlowByeNamespace,
    "/leaf": InitLeaf,
    "/mixed": InitWithMixin,
}

MakeManager = Callable[..., SocketManager]


@pytest.fixture
async def make_manager() -> AsyncIterator[MakeManager]:
    """``make_manager(namespaces=NAMESPACES, settings=None, bus=None)``; every manager made
    is shut down (and its background tasks awaited) after the test."""
    managers: list[SocketManager] = []

    def make(
        namespaces: Mapping[str, type[BaseNamespace]] = NAMESPACES,
        settings: Settings | None = None,
        bus: InProcessBus | None = None,
    ) -> SocketManager:
        manager = SocketManager(namespaces, settings or Settings(), bus)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        manager.close_all()
    for manager in managers:
        await asyncio.gather(*manager._background, return_exceptions=True)
        assert manager.sockets == {}
        assert manager.timers.armed == {}


@pytest.fixture
async def manager(make_manager: MakeManager) -> SocketManager:
    return make_manager()


# --- dispatch -----------------------------------------------------------------------------


async def test_event_names_with_spaces_dispatch_to_underscored_methods(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/chat")
    client.send('5::/chat:{"name":"user message","args":["hi",3]}')
    assert ("user message", ("hi", 3)) in client.ns("/chat").calls
    assert client.take() == []  # no ack asked for, none sent


async def test_a_handler_whose_only_parameter_is_packet_gets_the_raw_packet(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/chat")
    client.send('5:7+:/chat:{"name":"raw","args":[1,2]}')
    [(kind, packet)] = [c for c in client.ns("/chat").calls if c[0] == "raw"]
    assert kind == "raw"
    assert packet["name"] == "raw"
    assert packet["args"] == [1, 2]
    assert packet["endpoint"] == "/chat"
    assert packet["id"] == 7
    assert client.take() == ["6::/chat:7+[null]"]


async def test_recv_connect_runs_after_the_connect_echo(manager: SocketManager) -> None:
    client = Client(manager)
    client.send("1::/chat")
    assert client.take() == ["1::/chat", '5::/chat:{"name":"welcome","args":["/chat"]}']
    assert client.ns("/chat").calls == [("connect", None)]


async def test_the_global_namespace_connects_with_the_transport(manager: SocketManager) -> None:
    client = Client(manager)
    assert client.ns("").calls == ["connect"]
    client.send("1::")  # the client never sends it; if it does, nothing happens
    assert client.ns("").calls == ["connect"]
    assert client.take() == []


# --- initialize ---------------------------------------------------------------------------


async def test_initialize_runs_once_per_class_through_an_overriding_subclass_chain(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/leaf")
    client.send('5::/leaf:{"name":"nothing"}')
    client.send("1::/leaf")
    assert client.socket.session["init"] == ["InitMiddle", "InitBase"]


async def test_initialize_of_a_mixin_runs_once(manager: SocketManager) -> None:
    client = Client(manager, "/mixed")
    assert client.socket.session["init"] == ["InitBase", "InitMixin"]


# --- messages and acks --------------------------------------------------------------------


async def test_recv_message_and_recv_json_return_their_data_as_the_ack(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/chat")
    client.send("3:1+:/chat:hi there")
    client.send('4:2+:/chat:{"a":[1,null]}')
    assert client.take() == ['6::/chat:1+["hi there"]', '6::/chat:2+[{"a":[1,null]}]']


async def test_automatic_ack_is_sent_before_dispatch(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    client.send("3:1::hi")
    assert client.take() == ["6:::1", '5:::{"name":"got","args":["hi"]}']
    client.send('5:4:/chat:{"name":"none"}')
    assert client.take() == ["6::/chat:4"]


@pytest.mark.parametrize(
    ("event", "ack"),
    [
        ("none", "6::/chat:9+[null]"),
        ("pair", '6::/chat:9+["a",2]'),
        ("list", "6::/chat:9+[[1,2]]"),
        ("echo", "6::/chat:9"),  # an empty tuple: no arguments, written as node does
    ],
)
async def test_a_handler_return_value_becomes_the_data_ack(
    manager: SocketManager, event: str, ack: str
) -> None:
    client = Client(manager, "/chat")
    client.send(f'5:9+:/chat:{{"name":"{event}"}}')
    assert client.take() == [ack]


async def test_a_tuple_return_value_gives_several_ack_arguments(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    client.send('5:3+:/chat:{"name":"echo","args":["x",{"y":1},null]}')
    assert client.take() == ['6::/chat:3+["x",{"y":1},null]']


async def test_an_async_handler_return_value_becomes_the_ack(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    client.send('5:5+:/chat:{"name":"double","args":[21]}')
    assert client.take() == []  # not yet: the handler is still running
    await client.sink.wait_for(lambda: bool(client.sink.packets))
    assert client.take() == ["6::/chat:5+[42]"]


async def test_emit_with_a_callback_asks_the_client_for_an_ack(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    client.send('5::/chat:{"name":"ask"}')
    assert client.take() == ['5:1+:/chat:{"name":"question","args":[1]}']
    client.send('6::/chat:1+["x"]')
    assert ("answer", ("x",)) in client.ns("/chat").calls
    assert client.socket.ack_callbacks == {}
    client.send('6::/chat:1+["again"]')  # unknown by now: ignored
    assert ("answer", ("again",)) not in client.ns("/chat").calls


async def test_send_with_a_callback_uses_the_automatic_ack(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    client.send('5::/chat:{"name":"ask"}')
    client.send('5::/chat:{"name":"tell"}')  # ack ids are counted per socket
    assert client.take() == [
        '5:1+:/chat:{"name":"question","args":[1]}',
        "3:2:/chat:hello",
    ]
    client.send("6::/chat:2")
    assert ("told", ()) in client.ns("/chat").calls
    client.send('5::/chat:{"name":"tell_json"}')
    assert client.take() == ['4::/chat:{"k":1}']


async def test_emit_refuses_keyword_arguments_other_than_callback(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/chat")
    with pytest.raises(ValueError, match="positional"):
        client.ns("/chat").emit("x", room="r")
    assert client.take() == []


async def test_an_error_packet_reaches_recv_error(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    client.send("7::/chat:2+0")
    [(_, packet)] = [c for c in client.ns("/chat").calls if c[0] == "error"]
    assert (packet["reason"], packet["advice"]) == ("unauthorized", "reconnect")
    assert client.take() == []


# --- ACLs ---------------------------------------------------------------------------------


async def test_acl_restricts_and_can_be_changed(manager: SocketManager) -> None:
    client = Client(manager, "/acl")
    acl = client.ns("/acl")
    assert acl.allowed_methods == {"recv_connect", "on_public", "on_unlock", "on_lock", "on_lift"}

    client.send('5:1+:/acl:{"name":"public"}')
    assert client.take() == ['6::/acl:1+["public"]']

    client.send('5::/acl:{"name":"secret"}')
    assert events(client.take()) == [
        ("/acl", "error", ["method_access_denied", 'You do not have access to method "on_secret"'])
    ]

    client.send('5::/acl:{"name":"unlock"}')
    client.send('5:2+:/acl:{"name":"secret"}')
    assert client.take() == ['6::/acl:2+["secret"]']

    client.send('5::/acl:{"name":"lock"}')
    client.send('5::/acl:{"name":"secret"}')
    assert error_names(client.take()) == [("/acl", "method_access_denied")]

    client.send('5::/acl:{"name":"lift"}')
    assert acl.allowed_methods is None
    client.send('5:3+:/acl:{"name":"secret"}')
    assert client.take() == ['6::/acl:3+["secret"]']


async def test_acl_methods_on_an_unrestricted_namespace(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    chat = client.ns("/chat")
    assert chat.allowed_methods is None
    assert chat.is_method_allowed("on_anything")
    with pytest.raises(ValueError, match="none were defined"):
        chat.del_acl_method("on_peek")
    chat.add_acl_method("on_peek")  # the first one turns the ACL on
    assert chat.allowed_methods == {"on_peek"}
    client.send('5::/chat:{"name":"nick","args":["x"]}')
    assert error_names(client.take()) == [("/chat", "method_access_denied")]
    chat.reset_acl()
    assert chat.allowed_methods is None


async def test_a_connect_denied_by_the_acl_reports_an_error(make_manager: MakeManager) -> None:
    class Closed(BaseNamespace):
        def get_initial_acl(self) -> list[str]:
            return []

    client = Client(make_manager({"/closed": Closed}))
    client.send("1::/closed")
    packets = client.take()
    assert packets[0] == "1::/closed"
    assert error_names(packets[1:]) == [("/closed", "method_access_denied")]


# --- errors -------------------------------------------------------------------------------


def assert_still_works(client: Client) -> None:
    client.send('5:99+:/chat:{"name":"echo","args":["alive"]}')
    assert client.take() == ['6::/chat:99+["alive"]']
    assert client.socket.connected


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ('5::/chat:{"name":"$foo"}', ("/chat", "unallowed_event_name")),
        ('5::/chat:{"name":"foo?bar"}', ("/chat", "unallowed_event_name")),
        ('5::/chat:{"name":"nothing here"}', ("/chat", "no_such_method")),
        ("1::/nope", ("/nope", "no_such_namespace")),
        ('5::/nope:{"name":"x"}', ("/nope", "no_such_namespace")),
        ('5::/chat:{"name":"static","args":[1]}', ("/chat", "invalid_method_args")),
        ("garbage", ("", "invalid_packet")),
        ("9::/chat", ("/chat", "invalid_packet")),
        ("5::/chat:{not json", ("/chat", "invalid_packet")),
        ('5::/chat:{"args":[]}', ("/chat", "invalid_packet")),
        ("4::/chat:[1,", ("/chat", "invalid_packet")),
        ("5::/other:{bad", ("", "invalid_packet")),  # /other is not connected
    ],
)
async def test_errors_are_reported_as_error_events_and_the_socket_lives_on(
    manager: SocketManager, wire: str, expected: tuple[str, str]
) -> None:
    client = Client(manager, "/chat")
    client.send(wire)
    packets = client.take()
    assert error_names(packets) == [expected]
    assert len(packets) == 1
    assert_still_works(client)


async def test_error_event_wire_format(manager: SocketManager) -> None:
    client = Client(manager)
    client.send("1::/nope")
    assert client.take() == [
        '5::/nope:{"name":"error","args":["no_such_namespace",'
        '"The endpoint you tried to connect to doesn\'t exist: /nope"]}'
    ]
    assert "/nope" not in client.socket


async def test_a_bad_payload_is_an_invalid_packet_error(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    client.socket.receive_payload("\ufffd5\ufffd0::")
    assert error_names(client.take()) == [("", "invalid_packet")]
    client.socket.receive_payload("\ufffd16\ufffd3:1+:/chat:hello\ufffd3\ufffd2::")
    assert client.take() == ['6::/chat:1+["hello"]']
    assert_still_works(client)


@pytest.mark.server_errors(("tornio.socket", "handler for event packet on '/chat' failed"))
async def test_a_raising_handler_is_logged_and_the_socket_lives_on(
    manager: SocketManager, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(manager, "/chat")
    with caplog.at_level(logging.ERROR, logger="tornio"):
        client.send('5::/chat:{"name":"boom"}')
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is not None
    assert "boom in a handler" in str(record.exc_info[1])
    assert client.take() == []
    assert_still_works(client)


@pytest.mark.server_errors(("tornio.socket", "handler for event packet on '/chat' failed"))
async def test_a_raising_async_handler_is_logged_and_the_socket_lives_on(
    manager: SocketManager, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(manager, "/chat")
    with caplog.at_level(logging.ERROR, logger="tornio"):
        client.send('5:1+:/chat:{"name":"async boom"}')
        await asyncio.wait_for(_until(lambda: bool(caplog.records)), 2)
    assert "boom in an async handler" in caplog.text
    assert client.take() == []  # no ack from a handler that failed
    assert_still_works(client)


@pytest.mark.server_errors(("tornio.socket", "is not JSON"))
async def test_an_unencodable_return_value_is_logged_and_the_socket_lives_on(
    manager: SocketManager, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(manager, "/chat")
    with caplog.at_level(logging.ERROR, logger="tornio"):
        client.send('5:1+:/chat:{"name":"unencodable"}')
    assert any(r.levelno >= logging.ERROR for r in caplog.records)
    assert client.take() == []
    assert_still_works(client)


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0)


# --- exception_handler_decorator and spawn -------------------------------------------------


async def test_exception_handler_decorator_wraps_handlers(manager: SocketManager) -> None:
    client = Client(manager, "/guarded")
    client.send('5:1+:/guarded:{"name":"boom"}')
    guarded = client.ns("/guarded")
    assert guarded.caught == ["on_boom: bad input"]
    assert client.take() == ['6::/guarded:1+["handled"]']
    client.send('5:2+:/guarded:{"name":"ok","args":[5]}')
    assert client.take() == ["6::/guarded:2+[5]"]
    # The second time too: an event's handler is called straight only in a class that
    # calls its handlers as BaseNamespace does, and this one decorates them.
    client.send('5:3+:/guarded:{"name":"boom"}')
    assert guarded.caught == ["on_boom: bad input", "on_boom: bad input"]
    assert client.take() == ['6::/guarded:3+["handled"]']


class CountingNamespace(BaseNamespace):
    """Overrides the methods between an event and its handler, as gevent-socketio code may."""

    def initialize(self) -> None:
        self.through: list[str] = []

    def call_method_with_acl(self, method_name: str, packet: Any, *args: Any) -> Any:
        self.through.append("acl " + method_name)
        return super().call_method_with_acl(method_name, packet, *args)

    def call_method(self, method_name: str, packet: Any, *args: Any) -> Any:
        self.through.append("call " + method_name)
        return super().call_method(method_name, packet, *args)

    def on_ping(self, n: int) -> int:
        return n


async def test_overridden_call_methods_see_every_event(make_manager: MakeManager) -> None:
    client = Client(make_manager({"": GlobalNamespace, "/counting": CountingNamespace}),
                    "/counting")
    for n in (1, 2, 3):
        client.send(f'5:{n}+:/counting:{{"name":"ping","args":[{n}]}}')
        assert client.take() == [f"6::/counting:{n}+[{n}]"]
    through = client.ns("/counting").through
    connect = ["acl recv_connect", "call recv_connect"]
    assert through == [*connect, *["acl on_ping", "call on_ping"] * 3]


async def test_exception_handler_decorator_wraps_spawned_jobs(manager: SocketManager) -> None:
    client = Client(manager, "/guarded")
    client.send('5::/guarded:{"name":"spawn boom"}')
    guarded = client.ns("/guarded")
    assert await asyncio.wait_for(guarded.task, 2) == "handled"
    assert guarded.caught == ["failing_job: 'job'"]
    assert guarded.jobs == []


async def test_spawned_jobs_are_cancelled_when_the_namespace_disconnects(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/chat")
    client.send('5::/chat:{"name":"start"}')
    chat = client.ns("/chat")
    await asyncio.wait_for(chat.job_started.wait(), 2)
    assert len(chat.jobs) == 1
    client.send("0::/chat")
    await asyncio.wait_for(chat.job_cancelled.wait(), 2)
    assert "/chat" not in client.socket
    assert client.socket.connected  # only the namespace went


async def test_spawned_jobs_are_cancelled_when_the_socket_ends(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    client.send('5::/chat:{"name":"start"}')
    chat = client.ns("/chat")
    await asyncio.wait_for(chat.job_started.wait(), 2)
    client.socket.disconnect()
    await asyncio.wait_for(chat.job_cancelled.wait(), 2)


# --- disconnect ---------------------------------------------------------------------------


async def test_recv_disconnect_runs_once_per_active_namespace_when_the_socket_ends(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/chat", "/slow", "/other")
    glob, chat, slow = client.ns(""), client.ns("/chat"), client.ns("/slow")
    client.send("0::")  # the client leaves
    assert glob.calls == ["connect", "disconnect"]
    assert [c for c in chat.calls if c[0] == "disconnect"] == [("disconnect", "client disconnect")]
    await asyncio.wait_for(slow.done.wait(), 2)
    assert slow.steps == ["start", "end"]
    assert not client.socket.connected
    assert client.socket.active_ns == {}
    assert manager.get(client.sid) is None


async def test_an_async_recv_disconnect_runs_to_its_end_on_a_namespace_disconnect(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/slow")
    slow = client.ns("/slow")
    client.send("0::/slow")
    await asyncio.wait_for(slow.done.wait(), 2)
    assert slow.steps == ["start", "end"]
    assert "/slow" not in client.socket


async def test_a_namespace_disconnect_tells_the_client_and_leaves_the_namespace(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/chat", "/other")
    chat = client.ns("/chat")
    client.send('5::/chat:{"name":"bye"}')
    assert client.take() == ["0::/chat"]
    assert "/chat" not in client.socket
    assert "/other" in client.socket
    assert client.sid not in manager.rooms.members("/chat")
    assert client.socket.connected
    # A server-side disconnect ends the namespace as any other: recv_disconnect, once.
    assert [c for c in chat.calls if c[0] == "disconnect"] == [("disconnect", None)]
    client.send("1::/chat")  # the client may come back: a new instance
    assert client.ns("/chat") is not chat
    assert client.take()[0] == "1::/chat"


async def test_disconnect_on_the_global_namespace_ends_the_socket(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/chat")
    chat = client.ns("/chat")
    client.send('5:::{"name":"quit"}')
    assert client.take() == ["0::"]
    assert client.sink.closed
    assert not client.socket.connected
    assert manager.get(client.sid) is None
    assert ("disconnect", "server disconnect") in chat.calls


async def test_a_persistent_transport_closing_ends_the_socket(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    chat = client.ns("/chat")
    client.socket.detach(client.sink)
    assert chat.calls[-1] == ("disconnect", "transport closed")
    assert manager.get(client.sid) is None
    assert client.sid not in manager.rooms.members("")


async def test_a_client_disconnect_packet_for_an_unknown_namespace_is_ignored(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/chat")
    client.send("0::/other")
    assert client.take() == []
    assert "/other" not in client.socket
    assert_still_works(client)


async def test_packets_after_the_socket_ended_are_ignored(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    client.socket.disconnect(silent=True)
    client.send("1::/chat")
    client.send('5::/chat:{"name":"join","args":["late"]}')
    assert client.socket.active_ns == {}
    assert manager.rooms.members("/chat") == {}
    assert manager.rooms.room("/chat", "late") == {}
    assert client.take() == []


# --- the socket, the session --------------------------------------------------------------


async def test_socket_getitem_and_contains(manager: SocketManager) -> None:
    client = Client(manager, "/chat")
    client.send('5:1+:/chat:{"name":"peek"}')
    assert client.take() == ["6::/chat:1+[true,false,true]"]
    assert isinstance(client.socket["/chat"], ChatNamespace)
    with pytest.raises(KeyError):
        client.socket["/other"]


async def test_the_session_dict_is_shared_by_a_sockets_namespaces(
    manager: SocketManager,
) -> None:
    client = Client(manager, "/chat", "/other")
    other = Client(manager, "/other")
    client.send('5::/chat:{"name":"nick","args":["bob"]}')
    client.send('5:1+:/other:{"name":"whoami"}')
    other.send('5:1+:/other:{"name":"whoami"}')
    assert client.take() == ['6::/other:1+["bob"]']
    assert other.take() == ["6::/other:1+[null]"]
    assert client.ns("/chat").session is client.ns("/other").session is client.socket.session


# --- rooms and broadcasts -----------------------------------------------------------------


async def test_emit_to_room_reaches_the_room_but_not_the_sender(manager: SocketManager) -> None:
    a, b, c = Client(manager, "/chat"), Client(manager, "/chat"), Client(manager, "/chat")
    a.send('5:1+:/chat:{"name":"join","args":["r"]}')
    b.send('5::/chat:{"name":"join","args":["r"]}')
    assert a.take() == ["6::/chat:1+[true]"]
    assert a.ns("/chat").rooms == {"r"}
    assert "/chat_r" in a.socket.session["rooms"]
    a.send('5::/chat:{"name":"say","args":["r","hi"]}')
    assert a.take() == []
    assert b.take() == ['5::/chat:{"name":"said","args":["hi"]}']
    assert c.take() == []

    b.send('5::/chat:{"name":"leave","args":["r"]}')
    a.send('5::/chat:{"name":"say","args":["r","anyone?"]}')
    assert a.take() == b.take() == c.take() == []
    assert b.ns("/chat").rooms == set()


async def test_broadcast_event_reaches_only_sockets_that_connected_the_namespace(
    manager: SocketManager,
) -> None:
    a, b = Client(manager, "/chat"), Client(manager, "/chat")
    c = Client(manager, "/other")
    a.send('5::/chat:{"name":"shout","args":["all"]}')
    expected = ['5::/chat:{"name":"shout","args":["all"]}']
    assert a.take() == expected
    assert b.take() == expected
    assert c.take() == []

    a.send('5::/chat:{"name":"shout others","args":["not me"]}')
    assert a.take() == []
    assert b.take() == ['5::/chat:{"name":"shout","args":["not me"]}']
    assert c.take() == []


async def test_manager_emit_from_outside_any_handler(manager: SocketManager) -> None:
    a, b = Client(manager, "/chat"), Client(manager, "/chat")
    c = Client(manager, "/other")
    a.send('5::/chat:{"name":"join","args":["r"]}')
    news = '5::/chat:{"name":"news","args":[1]}'

    manager.emit("news", 1, namespace="/chat")
    assert (a.take(), b.take(), c.take()) == ([news], [news], [])
    manager.emit("news", 1, namespace="/chat", room="r")
    assert (a.take(), b.take(), c.take()) == ([news], [], [])
    manager.emit("news", 1, namespace="/chat", room=["r", "empty"])
    assert (a.take(), b.take(), c.take()) == ([news], [], [])
    manager.emit("news", 1, namespace="/chat", to=b.sid)
    assert (a.take(), b.take(), c.take()) == ([], [news], [])
    manager.emit("news", 1, namespace="/chat", to=c.sid)  # c never connected /chat
    assert (a.take(), b.take(), c.take()) == ([], [], [])
    manager.emit("news", 1, namespace="/chat", skip_sid=a.sid)
    assert (a.take(), b.take(), c.take()) == ([], [news], [])
    manager.emit("news", 1, namespace="/chat", skip_sid=[a.sid, b.sid])
    assert (a.take(), b.take(), c.take()) == ([], [], [])
    manager.emit("hello", namespace="/")  # the global namespace: every attached socket
    hello = '5:::{"name":"hello"}'
    assert (a.take(), b.take(), c.take()) == ([hello], [hello], [hello])


async def test_a_broadcast_is_encoded_once(
    manager: SocketManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = [Client(manager, "/chat") for _ in range(3)]
    calls: list[tuple[Any, ...]] = []
    encode_event = tornio.legacy.socket.legacy.encode_event

    def counting(*args: Any, **kwargs: Any) -> str:
        calls.append(args)
        return encode_event(*args, **kwargs)

    monkeypatch.setattr(tornio.legacy.socket.legacy, "encode_event", counting)
    clients[0].send('5::/chat:{"name":"shout","args":["once"]}')
    assert len(calls) == 1
    received = [client.take() for client in clients]
    assert received == [['5::/chat:{"name":"shout","args":["once"]}']] * 3
    assert received[0][0] is received[1][0] is received[2][0]  # the same string


async def test_rooms_span_managers_on_one_bus(make_manager: MakeManager) -> None:
    bus = InProcessBus()
    one, two = make_manager(bus=bus), make_manager(bus=bus)
    a, b = Client(one, "/chat"), Client(two, "/chat")
    c = Client(two, "/chat")
    a.send('5::/chat:{"name":"join","args":["r"]}')
    b.send('5::/chat:{"name":"join","args":["r"]}')
    said = '5::/chat:{"name":"said","args":["hi"]}'

    a.send('5::/chat:{"name":"say","args":["r","hi"]}')
    assert (a.take(), b.take(), c.take()) == ([], [said], [])
    b.send('5::/chat:{"name":"say","args":["r","hi"]}')
    assert (a.take(), b.take(), c.take()) == ([said], [], [])

    c.send('5::/chat:{"name":"shout","args":["x"]}')
    shout = '5::/chat:{"name":"shout","args":["x"]}'
    assert (a.take(), b.take(), c.take()) == ([shout], [shout], [shout])

    one.emit("direct", namespace="/chat", to=c.sid)
    assert (a.take(), b.take(), c.take()) == ([], [], ['5::/chat:{"name":"direct"}'])


async def test_a_sockets_rooms_and_memberships_are_gone_after_it_ends(
    manager: SocketManager,
) -> None:
    a, b = Client(manager, "/chat", "/other"), Client(manager, "/chat")
    a.send('5::/chat:{"name":"join","args":["r"]}')
    a.send('5::/chat:{"name":"join","args":["s"]}')
    b.send('5::/chat:{"name":"join","args":["r"]}')
    a.socket.disconnect()
    assert a.socket.rooms == {}
    for namespace in ("", "/chat", "/other"):
        assert a.sid not in manager.rooms.members(namespace)
    assert manager.rooms.room("/chat", "s") == {}
    assert list(manager.rooms.room("/chat", "r")) == [b.sid]
    assert manager.rooms.rooms_of("/chat") == ["r"]
    assert manager.get(a.sid) is None
    assert a.sid not in manager.timers.armed
    a.take()
    manager.emit("news", namespace="/chat", room="r")
    assert a.take() == []
    assert b.take() == ['5::/chat:{"name":"news"}']


async def test_leaving_a_namespace_leaves_its_rooms(manager: SocketManager) -> None:
    a = Client(manager, "/chat", "/other")
    a.send('5::/chat:{"name":"join","args":["r"]}')
    a.send("0::/chat")
    assert manager.rooms.room("/chat", "r") == {}
    assert a.sid not in manager.rooms.members("/chat")
    assert a.sid in manager.rooms.members("/other")
    assert a.sid in manager.rooms.members("")


# --- the manager's timers -----------------------------------------------------------------


async def test_real_timers_send_heartbeats_then_end_a_silent_socket(
    make_manager: MakeManager,
) -> None:
    manager = make_manager(settings=Settings(heartbeat_interval=0.02, heartbeat_timeout=0.15))
    client = Client(manager, "/chat")
    chat = client.ns("/chat")
    await client.sink.wait_for(lambda: "2::" in client.sink.packets)
    client.send("2::")  # the client answers: alive
    await client.sink.wait_for(lambda: client.sink.closed)
    assert client.sink.packets.count("2::") >= 2
    assert manager.get(client.sid) is None
    assert client.socket.engine.close_reason == "heartbeat timeout"
    assert ("disconnect", "heartbeat timeout") in chat.calls


async def test_real_timers_answer_a_held_poll_then_end_the_session(
    make_manager: MakeManager,
) -> None:
    manager = make_manager(settings=Settings(polling_duration=0.02, close_timeout=0.05))
    socket = manager.create_socket()
    first = PacketSink(polling=True)
    socket.attach(first, None)  # type: ignore[arg-type]
    assert first.packets == ["1::"]
    socket.receive_packet("1::/chat")
    chat = socket["/chat"]
    assert isinstance(chat, ChatNamespace)
    held = PacketSink(polling=True)
    socket.attach(held, None)  # type: ignore[arg-type]
    assert held.packets == ["1::/chat", '5::/chat:{"name":"welcome","args":["/chat"]}']
    held = PacketSink(polling=True)
    socket.attach(held, None)  # type: ignore[arg-type]
    await held.wait_for(lambda: held.packets == ["8::"])
    await asyncio.wait_for(chat.ended.wait(), 2)
    assert chat.calls[-1] == ("disconnect", "close timeout")
    assert manager.get(socket.sessid) is None


async def test_a_socket_never_attached_is_forgotten(
    make_manager: MakeManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = make_manager(settings=Settings(handshake_timeout=0.02))
    socket = manager.create_socket()
    assert manager.get(socket.sessid) is socket
    forgotten = asyncio.get_running_loop().create_future()
    forget = manager.forget

    def spy(s: LegacySocket) -> None:
        forget(s)
        forgotten.set_result(s.engine.close_reason)

    monkeypatch.setattr(manager, "forget", spy)
    assert await asyncio.wait_for(forgotten, 2) == "handshake timeout"
    assert manager.get(socket.sessid) is None


# --- refusing a connection ------------------------------------------------------------------


class RefusingNamespace(BaseNamespace):
    def recv_connect(self) -> Any:
        self.emit("sent before the decision")  # held until the connection is confirmed
        token = self.session.get("token")
        if token == "raise":
            raise ConnectionRefused("no entry", {"reason": "test"})
        return token == "ok"


class AsyncRefusingNamespace(BaseNamespace):
    async def recv_connect(self) -> bool:
        await asyncio.sleep(0)
        self.emit("hello")
        return bool(self.session.get("allowed"))


@pytest.mark.parametrize("token", [None, "raise"])
async def test_recv_connect_refuses_with_an_unauthorized_error_packet(
    make_manager: MakeManager, token: str | None
) -> None:
    manager = make_manager({"/door": RefusingNamespace})
    client = Client(manager)
    client.socket.session["token"] = token
    client.send("1::/door")
    assert client.take() == ["7::/door:2"]  # the 0.9 client's connect_failed, nothing else
    assert "/door" not in client.socket
    assert client.sid not in manager.rooms.members("/door")
    assert not client.socket.closed


async def test_recv_connect_accepting_sends_the_echo_then_what_it_emitted(
    make_manager: MakeManager,
) -> None:
    manager = make_manager({"/door": RefusingNamespace})
    client = Client(manager)
    client.socket.session["token"] = "ok"
    client.send("1::/door")
    assert client.take() == [
        "1::/door",
        '5::/door:{"name":"sent before the decision"}',
    ]
    assert client.sid in manager.rooms.members("/door")


@pytest.mark.parametrize(("allowed", "expected"), [(True, "1::/door"), (False, "7::/door:2")])
async def test_an_async_recv_connect_decides_later(
    make_manager: MakeManager, allowed: bool, expected: str
) -> None:
    manager = make_manager({"/door": AsyncRefusingNamespace})
    client = Client(manager)
    client.socket.session["allowed"] = allowed
    client.send("1::/door")
    await client.sink.wait_for(lambda: bool(client.sink.packets))
    packets = client.take()
    assert packets[0] == expected
    assert packets[1:] == (['5::/door:{"name":"hello"}'] if allowed else [])


async def test_refusing_the_global_namespace_ends_the_socket(make_manager: MakeManager) -> None:
    class Closed(BaseNamespace):
        def recv_connect(self) -> bool:
            return False

    manager = make_manager({"": Closed})
    socket = manager.create_socket()
    sink = PacketSink()
    socket.attach(sink, None)  # type: ignore[arg-type]
    assert sink.packets == ["1::", "7:::2", "0::"]
    assert socket.closed and sink.closed


async def test_modern_separators_in_event_names_map_to_underscores(
    make_manager: MakeManager,
) -> None:
    class Separators(BaseNamespace):
        def on_chat_message(self, text: str) -> str:
            return "chat:" + text

        def on_user_joined(self) -> str:
            return "joined"

    client = Client(make_manager({"/s": Separators}), "/s")
    client.send('5:1+:/s:{"name":"chat:message","args":["x"]}')
    client.send('5:2+:/s:{"name":"user-joined"}')
    client.send('5:3+:/s:{"name":"user.joined"}')
    assert client.take() == ['6::/s:1+["chat:x"]', '6::/s:2+["joined"]', '6::/s:3+["joined"]']
