"""A socket is composed of collaborators with narrow interfaces, not of mixins reading its
attributes (issue 25).

* No class of the socket side (``tornio/core``, the two sockets, the manager, the recovery
  memory) reads an attribute of ``self`` that neither it nor one of its own bases defines: a
  mixin that leans on its host's attributes (declared for the type checker only, under
  ``if TYPE_CHECKING``, or as a bare annotation) is what this catches. The checker is tested
  on a made-up mixin, so it is known to fail when it must.
* ``Socket``'s one base is gevent-socketio's virtual socket; its input, its opening by a view
  and its connection state recovery are objects it holds (``inbox``, ``opening``,
  ``recovering``), each tested here through its interface, with the small stand-in of the
  socket that interface names (:class:`~tornio.core.fairness.Throttled`,
  :class:`~tornio.core.opening.Openable`, :class:`~tornio.bus.store.RecoveringSocket`).
"""

from __future__ import annotations

import abc
import ast
import asyncio
import importlib
import inspect
import logging
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tornio.bus.store import LocalRecovery, NodeRecovery, SocketRecovery
from tornio.core.fairness import MAX_PENDING_HANDLERS, RESUME_PENDING, SLICE, InputBacklog
from tornio.core.opening import MAX_HELD_INPUT, SocketOpening, VirtualSocket
from tornio.core.ratelimit import TokenBucket
from tornio.core.rooms import RoomIndex
from tornio.core.socket import Socket
from tornio.legacy.socket import LegacySocket
from tornio.modern.driving import EngineDriving
from tornio.modern.endpoint import EngineConnection
from tornio.modern.socket import ModernSocket

ROOT = Path(__file__).resolve().parent.parent

#: The modules of the socket side whose classes are checked.
MODULES = (
    "tornio.core.acks", "tornio.core.counters", "tornio.core.dispatch", "tornio.core.fairness",
    "tornio.core.mixins", "tornio.core.namespace", "tornio.core.opening", "tornio.protocol.packets",
    "tornio.core.ratelimit", "tornio.core.rooms", "tornio.core.socket", "tornio.core.threads",
    "tornio.core.timers", "tornio.core.watched", "tornio.legacy.socket", "tornio.modern.socket",
    "tornio.modern.endpoint", "tornio.modern.driving", "tornio.bus.store", "tornio.manager",
    "tornio.cluster", "tornio.virtsocket", "tornio.namespace",
)

GEVENT_MIXIN = (
    "gevent-socketio's public mixin: applications mix it into their namespaces, whose "
    "socket, session and ns_name it reads, as gevent-socketio's did"
)

#: ``"module.Class.attribute"`` -> why that read of an attribute the class does not define
#: stays.
ALLOWED = {
    "tornio.core.mixins.RoomsMixin.ns_name": GEVENT_MIXIN,
    "tornio.core.mixins.RoomsMixin.session": GEVENT_MIXIN,
    "tornio.core.mixins.RoomsMixin.socket": GEVENT_MIXIN,
    "tornio.core.mixins.BroadcastMixin.ns_name": GEVENT_MIXIN,
    "tornio.core.mixins.BroadcastMixin.socket": GEVENT_MIXIN,
    "tornio.core.namespace.BaseNamespace.exception_handler_decorator": (
        "gevent-socketio's optional hook an application's namespace class defines; read "
        "only when the class has one (has_decorator)"
    ),
}

#: What every instance has, whatever ``dir()`` of its class says.
INSTANCE = frozenset({"__dict__", "__class__"})


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")


def own_names(cls: type) -> tuple[set[str], set[str]]:
    """What a class's own body defines (methods, class attributes with a value, ``self.x =``
    in a method; not what ``if TYPE_CHECKING`` or a bare annotation declares), and which
    attributes of ``self`` its methods read."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    node = tree.body[0]
    assert isinstance(node, ast.ClassDef)
    defined: set[str] = set()
    read: set[str] = set()

    def walk(body: list[ast.stmt]) -> None:
        for statement in body:
            if _is_type_checking(statement):
                continue
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                defined.add(statement.name)
                for sub in ast.walk(statement):
                    if (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name)
                            and sub.value.id == "self"):
                        (defined if isinstance(sub.ctx, ast.Store) else read).add(sub.attr)
            elif isinstance(statement, ast.Assign):
                for target in statement.targets:
                    defined.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif (isinstance(statement, ast.AnnAssign) and statement.value is not None
                    and isinstance(statement.target, ast.Name)):
                defined.add(statement.target.id)
            elif isinstance(statement, ast.ClassDef):
                defined.add(statement.name)
            elif isinstance(statement, ast.If):
                walk(statement.body)
                walk(statement.orelse)

    walk(node.body)
    return defined, read


def reads_not_defined(cls: type, ours: Callable[[type], bool]) -> set[str]:
    """The attributes of ``self`` that ``cls``'s own methods read and that neither it nor a
    class of its MRO defines (a class ``ours`` says is not ours counts by its ``dir()``)."""
    defined = set(INSTANCE)
    for klass in cls.__mro__:
        defined |= own_names(klass)[0] if ours(klass) else set(dir(klass))
    return own_names(cls)[1] - defined


def classes_of(module_name: str) -> Iterator[type]:
    module = importlib.import_module(module_name)
    for value in vars(module).values():
        if (inspect.isclass(value) and value.__module__ == module_name
                and not getattr(value, "_is_protocol", False)):
            yield value


def _tornio(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "tornio"


def test_no_class_of_the_socket_side_reads_attributes_it_does_not_define() -> None:
    reaches = {
        f"{cls.__module__}.{cls.__qualname__}.{name}"
        for module in MODULES
        for cls in classes_of(module)
        for name in reads_not_defined(cls, _tornio)
    }
    assert sorted(reaches - set(ALLOWED)) == []
    assert sorted(set(ALLOWED) - reaches) == []  # the list only shrinks: no stale entry


MIXIN_SOURCE = '''
from typing import TYPE_CHECKING


class Backlog:
    """Leans on its host: ``closed`` and ``sessid`` are the socket's."""

    sessid: str  # a bare annotation defines nothing

    if TYPE_CHECKING:
        @property
        def closed(self) -> bool: ...

    def in_slices(self) -> bool:
        return not self.closed and bool(self.sessid)


class Host(Backlog):
    closed = False

    def __init__(self) -> None:
        self.sessid = "s"
'''


def test_the_checker_catches_a_mixin_reading_its_hosts_attributes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "made_up_mixin.py").write_text(MIXIN_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("made_up_mixin")
    try:
        def ours(cls: type) -> bool:
            return cls.__module__ == "made_up_mixin"

        assert reads_not_defined(module.Backlog, ours) == {"closed", "sessid"}
        assert reads_not_defined(module.Host, ours) == set()
    finally:
        sys.modules.pop("made_up_mixin", None)


def test_the_sockets_bases_are_what_the_design_says() -> None:
    assert Socket.__bases__ == (VirtualSocket,)
    assert VirtualSocket.__bases__ == (abc.ABC,)
    assert LegacySocket.__bases__ == (Socket,)
    # The holders of an Engine.IO session share how it is driven (an abstract base that
    # defines what it reads: the test above holds it to that).
    assert ModernSocket.__bases__ == (EngineDriving, Socket)
    assert EngineConnection.__bases__ == (EngineDriving,)
    assert EngineDriving.__bases__ == (object,)


# -- the input backlog -----------------------------------------------------------------------


class Connection:
    """The :class:`~tornio.core.fairness.Throttled` side of an input backlog."""

    protocol = "modern"

    def __init__(self) -> None:
        self.sessid = "conn-1"
        self.closed = False
        self.disconnects = 0

    def disconnect(self, silent: bool = False) -> None:
        self.disconnects += 1
        self.closed = True


class Gate:
    """A transport that can stop reading (an :class:`~tornio.core.fairness.InputGate`)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def hold_input(self) -> None:
        self.calls.append("hold")

    def release_input(self) -> None:
        self.calls.append("release")


async def test_the_inbox_holds_the_input_while_the_handlers_are_behind() -> None:
    loop = asyncio.get_running_loop()
    inbox = InputBacklog(Connection())
    gate = Gate()
    inbox.set_input_gate(gate)
    handlers = [loop.create_future() for _ in range(MAX_PENDING_HANDLERS)]
    for handler in handlers[:-1]:
        inbox.handler_started(handler)
    assert (inbox.behind, gate.calls) == (False, [])
    inbox.handler_started(handlers[-1])
    assert (inbox.behind, inbox.handlers_pending, gate.calls) == (
        True, MAX_PENDING_HANDLERS, ["hold"])

    later = Gate()  # a new transport while held: the old one lets go, the new one holds
    inbox.set_input_gate(later)
    assert (gate.calls, later.calls) == (["hold", "release"], ["hold"])
    waiter = asyncio.ensure_future(inbox.caught_up())
    for handler in handlers[: MAX_PENDING_HANDLERS - RESUME_PENDING - 1]:
        handler.set_result(None)
    await asyncio.sleep(0)
    assert inbox.behind and not waiter.done()
    handlers[MAX_PENDING_HANDLERS - RESUME_PENDING - 1].set_result(None)
    await asyncio.sleep(0)
    assert (inbox.behind, inbox.handlers_pending, later.calls) == (
        False, RESUME_PENDING, ["hold", "release"])
    await asyncio.wait_for(waiter, 1)
    inbox.drop_input_gate(gate)  # not its gate any more: nothing
    assert inbox.input_gate is later
    inbox.drop_input_gate(later)
    assert inbox.input_gate is None


async def test_the_inbox_hands_items_over_in_slices_until_the_connection_closes() -> None:
    connection = Connection()
    inbox = InputBacklog(connection)
    slices: list[Sequence[int]] = []
    await inbox.in_slices(list(range(2 * SLICE + 1)), slices.append)
    assert [len(part) for part in slices] == [SLICE, SLICE, 1]
    assert [item for part in slices for item in part] == list(range(2 * SLICE + 1))
    assert not inbox.slicing

    def close_after_first(part: Sequence[int]) -> None:
        slices.append(part)
        connection.closed = True

    slices.clear()
    running = asyncio.ensure_future(inbox.in_slices(list(range(3 * SLICE)), close_after_first))
    await asyncio.sleep(0)
    assert inbox.slicing  # between slices: another POST meanwhile overlaps it
    await running
    assert [len(part) for part in slices] == [SLICE] and not inbox.slicing


def test_the_inbox_disconnects_a_connection_over_its_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection = Connection()
    inbox = InputBacklog(connection, TokenBucket(10, 2, 0.0))
    assert inbox.bucket is not None and inbox.bucket.take(0.0) and inbox.bucket.take(0.0)
    assert not inbox.bucket.take(0.0)
    with caplog.at_level(logging.WARNING, "tornio.fairness"):
        inbox.over_rate()
    assert connection.disconnects == 1
    assert "socket conn-1 sent more than 10 events a second (bursts of 2)" in caplog.text


# -- the opening by a view -------------------------------------------------------------------


class Opened(Connection):
    """The :class:`~tornio.core.opening.Openable` side of an opening."""


def opening_run(
    opening: SocketOpening, view: Callable[[Any], Awaitable[str | None]]
) -> tuple[list[str], asyncio.Future[None]]:
    """Begin ``opening`` with ``view``; what happens after (``then``, ``replay``) is logged."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    events: list[str] = []

    async def background(coro: Awaitable[None]) -> None:
        await coro
        done.set_result(None)

    opening.begin(
        view,
        lambda coro: asyncio.ensure_future(background(coro)),
        lambda: events.append("joined"),
        lambda items: events.append(f"replayed {items}"),
    )
    return events, done


async def test_the_opening_holds_the_input_until_the_view_gave_namespaces() -> None:
    socket = Opened()
    opening = SocketOpening(socket)
    assert not opening.hold(["early"])  # not opening: the caller handles it
    gate = asyncio.Event()

    async def view(opened: Any) -> str:
        assert opened is socket
        await gate.wait()
        opening.own_namespaces = {"": object}  # what socketio_manage() does
        return "200 OK"

    events, done = opening_run(opening, view)
    assert opening.hold(["a", "b"]) and opening.hold(["c"])
    assert opening.held == ["a", "b", "c"] and events == []
    gate.set()
    await asyncio.wait_for(done, 1)
    assert events == ["joined", "replayed ['a', 'b', 'c']"] and opening.held is None
    assert not opening.hold(["late"]) and socket.disconnects == 0


async def test_the_opening_disconnects_a_socket_its_view_gave_no_namespaces(
    caplog: pytest.LogCaptureFixture,
) -> None:
    socket = Opened()
    opening = SocketOpening(socket)

    async def view(opened: Any) -> str:
        return "302 Found"

    with caplog.at_level(logging.WARNING, "tornio.core.opening"):
        events, done = opening_run(opening, view)
        opening.hold(["a"])
        await asyncio.wait_for(done, 1)
    assert (events, opening.held, socket.disconnects) == ([], None, 1)
    assert "answered 302 Found without calling socketio_manage()" in caplog.text


@pytest.mark.server_errors(("tornio.core.opening", "the view opening socket conn-1 failed"))
async def test_the_opening_disconnects_a_socket_whose_view_failed() -> None:
    socket = Opened()
    opening = SocketOpening(socket)

    async def view(opened: Any) -> str:
        raise RuntimeError("broken view")

    events, done = opening_run(opening, view)
    await asyncio.wait_for(done, 1)
    assert (events, opening.held, socket.disconnects) == ([], None, 1)


async def test_the_opening_refuses_more_held_input_than_its_bound() -> None:
    socket = Opened()
    opening = SocketOpening(socket)
    never = asyncio.Event()

    async def view(opened: Any) -> str:
        await never.wait()
        return "200 OK"

    _, done = opening_run(opening, view)
    assert opening.hold(["x"] * MAX_HELD_INPUT) and socket.disconnects == 0
    assert opening.hold(["one more"])  # taken: refused, with the socket
    assert opening.held is None and socket.disconnects == 1
    never.set()
    await asyncio.wait_for(done, 1)  # the socket is closed: nothing joined, nothing replayed


# -- connection state recovery ---------------------------------------------------------------


class Recoverable:
    """The :class:`~tornio.bus.store.RecoveringSocket` side of a socket's recovery."""

    def __init__(self, sessid: str, served: Mapping[str, Any]) -> None:
        self.sessid = sessid
        self.session: dict[str, Any] = {}
        self.sids: dict[str, str] = {}
        self.rooms: dict[str, set[str]] = {}
        self.closed = False
        self.served_namespaces = served


NODE_ID = "n0de"


def recovery_of(socket: Recoverable, node: NodeRecovery,
                rooms: RoomIndex[Any]) -> SocketRecovery:
    return SocketRecovery(socket, node, NODE_ID, rooms)


async def test_a_connection_lost_by_the_transport_comes_back_with_what_it_missed() -> None:
    memory = LocalRecovery(120.0, NODE_ID, clock=lambda: 0.0)
    node = NodeRecovery(memory)
    rooms: RoomIndex[Any] = RoomIndex()
    first = Recoverable("first", {"/chat": object})
    recovering = recovery_of(first, node, rooms)
    first.sids["/chat"] = "sid-chat"
    rooms.add_member("/chat", first)
    rooms.join("/chat", "lobby", first)
    pid = recovering.accepted("/chat")
    assert recovering.accepted("/chat") == pid  # one private id per connection
    first.session["name"] = "ada"
    data: dict[str, Any] = {"event": "before", "args": [], "rooms": [], "to": None}
    offset = node.stamp(data)
    node.emitted(offset, "/chat", data, published=False)
    recovering.ending("/chat", "transport close")  # not the client's choice: kept
    assert recovering.pids == {}
    data = {"event": "news", "args": [1], "rooms": ["lobby"], "to": None}
    missed = node.stamp(data)
    node.emitted(missed, "/chat", data, published=False)

    again = Recoverable("again", {"/chat": object})
    back = recovery_of(again, node, rooms)
    back.restoring.add("/chat")
    assert await back.restore("/chat", pid, offset) == [["news", 1, missed]]
    assert (back.restoring, back.pids, back.recovered) == (set(), {"/chat": pid}, {"/chat"})
    assert again.sids == {"/chat": "sid-chat"} and again.session == {"name": "ada"}
    assert "lobby" in again.rooms["/chat"]
    assert "sid-chat" in again.rooms["/chat"]  # its id names another node: that room too
    assert await back.restore("/chat", pid, offset) is None  # restored once


def accepted_then_missed() -> tuple[NodeRecovery, RoomIndex[Any], SocketRecovery, str, str]:
    """A socket's /chat connection accepted (its pid), then an emit it missed (its offset)."""
    node = NodeRecovery(LocalRecovery(120.0, NODE_ID, clock=lambda: 0.0))
    rooms: RoomIndex[Any] = RoomIndex()
    socket = Recoverable("s", {"/chat": object})
    recovering = recovery_of(socket, node, rooms)
    socket.sids["/chat"] = "sid-1"
    pid = recovering.accepted("/chat")
    offset = node.stamp({"event": "e", "args": [], "rooms": [], "to": None})
    node.emitted(offset, "/chat", {"event": "e", "args": [], "rooms": []}, published=False)
    return node, rooms, recovering, pid, offset


async def test_a_connection_the_client_ended_is_not_recoverable() -> None:
    node, rooms, recovering, pid, offset = accepted_then_missed()
    recovering.ending("/chat", "client namespace disconnect")
    recovering.ending("/chat", "transport close")  # ended once: nothing more
    other = recovery_of(Recoverable("t", {"/chat": object}), node, rooms)
    assert await other.restore("/chat", pid, offset) is None
    assert other.recovered == set()


async def test_a_recovery_into_a_namespace_not_served_keeps_it_recoverable() -> None:
    node, rooms, recovering, pid, offset = accepted_then_missed()
    recovering.ending("/chat", "ping timeout")
    elsewhere = recovery_of(Recoverable("t", {}), node, rooms)  # /chat is not served here
    assert await elsewhere.restore("/chat", pid, offset) is None
    assert elsewhere.recovered == set()
    served = Recoverable("u", {"/chat": object})
    assert await recovery_of(served, node, rooms).restore("/chat", pid, offset) == []
    assert served.sids == {"/chat": "sid-1"}


class Recording(LocalRecovery):
    """The recovery memory of one process, which also lists what it was told to save."""

    def __init__(self) -> None:
        super().__init__(120.0, NODE_ID, clock=lambda: 0.0)
        self.saved: list[tuple[str, list[str], dict[str, Any]]] = []

    def seen(self, pid: str, sid: str, endpoint: str, rooms: Iterable[str],
             data: Mapping[str, Any]) -> None:
        self.saved.append((sid, sorted(rooms), dict(data)))
        super().seen(pid, sid, endpoint, rooms, data)


async def test_a_recoverable_connection_is_saved_once_a_pass_of_the_loop_is_over() -> None:
    memory = Recording()
    node = NodeRecovery(memory)
    rooms: RoomIndex[Any] = RoomIndex()
    socket = Recoverable("s", {"/chat": object})
    recovering = recovery_of(socket, node, rooms)
    socket.sids["/chat"] = "sid-1"
    rooms.add_member("/chat", socket)
    recovering.accepted("/chat")
    assert memory.saved == [("sid-1", [], {})]  # its own id's room is not listed
    rooms.join("/chat", "lobby", socket)
    socket.session["score"] = 3
    recovering.session_changed()
    recovering.session_changed()
    assert len(memory.saved) == 1
    await asyncio.sleep(0)  # the end of this pass of the loop: saved once, as it is now
    assert memory.saved[1:] == [("sid-1", ["lobby"], {"score": 3})]
    socket.closed = True  # a closed socket saves nothing more
    recovering.save_recoverable("/chat")
    recovering.save_recoverable("/other")  # not recoverable there: nothing
    assert len(memory.saved) == 2


# -- how a session is driven -------------------------------------------------------------------

#: The transports: they talk to the socket (or the plain endpoint's connection), never to
#: its engine (docs/topics/architecture.md, "How a session is driven").
TRANSPORT_FILES = sorted(
    [ROOT / "tornio" / "modern" / "transports.py",
     *(ROOT / "tornio" / "transports").glob("*.py"),
     *(ROOT / "tornio" / "legacy" / "transports").glob("*.py")]
)


def engine_calls(source: str) -> list[str]:
    """The calls of a method of some ``….engine`` and of ``drive`` in ``source``, and its
    imports of ``drive``: what a transport that drives a session itself would hold."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute)
                    and func.value.attr == "engine"):
                found.append(f"line {node.lineno}: engine.{func.attr}()")
            elif isinstance(func, ast.Name) and func.id == "drive":
                found.append(f"line {node.lineno}: drive()")
        elif (isinstance(node, ast.ImportFrom) and node.module == "tornio.protocol.drive"
              and any(alias.name == "drive" for alias in node.names)):
            found.append(f"line {node.lineno}: imports drive")
    return found


def test_transports_talk_to_the_socket_not_to_its_engine() -> None:
    assert len(TRANSPORT_FILES) > 10
    found = {
        str(path.relative_to(ROOT)): calls
        for path in TRANSPORT_FILES
        if (calls := engine_calls(path.read_text()))
    }
    assert found == {}


def test_the_engine_call_finder_finds_what_it_must() -> None:
    source = textwrap.dedent('''
        from tornio.protocol.drive import Driven, drive

        def on_message(socket, frame, now):
            outs = socket.engine.receive([frame], now)
            drive(socket, outs)
            return socket.engine.sid, socket.receive([frame], now)
    ''')
    assert engine_calls(source) == [
        "line 2: imports drive", "line 5: engine.receive()", "line 6: drive()"]
