"""What a session returns: the spec tables of "the state machine returns what to send".

Both generations' sessions are driven here with no I/O at all: no driver, no socket, no
clock. Each row is a sequence of input events and, for each, the exact output the session
returns (``(sink, frames, close)`` triples, sinks named) and, at the end, the close reason it
holds for its owner (``pending_close``). The sinks are never written to: a write would be a
session calling into a transport, which it must not do (they fail the test if it does).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import pytest

from tornio.exceptions import EngineError
from tornio.legacy.session import LegacySession, SessionState
from tornio.modern.session import EngineSession, EngineSettings, EngineState
from tornio.protocol.drive import drive
from tornio.protocol.engineio import Packet, PacketType
from tornio.settings import Settings


class Untouched:
    """A sink the session may name in its output but never call."""

    def __init__(self, name: str, transport: str, polling: bool) -> None:
        self.name = name
        self.transport = transport
        self.polling = polling

    def write(self, frames: list[Any]) -> None:
        raise AssertionError(f"the session wrote {frames!r} to {self.name} itself")

    def close(self) -> None:
        raise AssertionError(f"the session closed {self.name} itself")


def stream_is_what_send_returns(session: Any, send: Callable[[Any], Any]) -> None:
    """``session.stream`` (the sink the sockets write a frame to without asking ``send``) is
    set exactly when ``send`` would return one write of that frame to a sink that does not
    poll: checked on a copy, since a send may queue (the copy's sinks are copies, told apart
    by name)."""
    outs = list(send(copy.deepcopy(session)))
    direct = (len(outs) == 1 and list(outs[0][1]) == ["4x"] and outs[0][2] is False
              and not outs[0][0].polling)
    if direct:
        assert session.stream is not None and session.stream.name == outs[0][0].name
    else:
        assert session.stream is None, session.stream.name


def named(outs: Any) -> list[tuple[str, list[Any], bool]]:
    """Outputs with their sinks named (and a tuple or list alike)."""
    assert isinstance(outs, (list, tuple)), f"a transition returned {outs!r}"
    return [(sink.name, list(frames), close) for sink, frames, close in outs]


# -- Engine.IO ------------------------------------------------------------------------------

ENGINE = EngineSettings(ping_interval=3.0, ping_timeout=2.0, upgrade_timeout=7.0,
                        connect_timeout=None, max_write_buffer=100)
GET1 = Untouched("get1", "polling", True)
GET2 = Untouched("get2", "polling", True)
WS = Untouched("ws", "websocket", False)

Step = tuple[Callable[[EngineSession], Any], Any]


class Received(NamedTuple):
    """What ``receive`` returns: the messages for the layer above, and the outputs."""

    messages: list[Any]
    outs: list[Any]


def probe(packet: Packet) -> Callable[[EngineSession], Any]:
    return lambda s: s.receive([packet], 0.2, source=WS)


ENGINE_TABLE: dict[str, tuple[str, list[Step], str | None]] = {
    "a held GET is answered by the next send": ("polling", [
        (lambda s: s.attach_poll(GET1, 0.0), []),
        (lambda s: s.send("4hi"), [("get1", ["4hi"], False)]),
        (lambda s: s.send("4later"), []),  # the GET was answered: queued
        (lambda s: s.attach_poll(GET2, 0.1), [("get2", ["4later"], False)]),
    ], None),
    "what was queued between polls goes in one answer": ("polling", [
        (lambda s: s.send("4a"), []),
        (lambda s: s.send_many(["4b", b"\x01"]), []),
        (lambda s: s.attach_poll(GET1, 0.0), [("get1", ["4a", "4b", b"\x01"], False)]),
    ], None),
    "a websocket that attaches takes the backlog in one output": ("websocket", [
        (lambda s: s.send("4a"), []),
        (lambda s: s.send_many(["4b", b"\x01"]), []),
        (lambda s: s.attach_websocket(WS, 0.0), [("ws", ["4a", "4b", b"\x01"], False)]),
        (lambda s: s.send("4c"), [("ws", ["4c"], False)]),
        (lambda s: s.send_many(["4d", b"\x02"]), [("ws", ["4d", b"\x02"], False)]),
    ], None),
    "a server close with notify answers the held GET 1": ("polling", [
        (lambda s: s.attach_poll(GET1, 0.0), []),
        (lambda s: s.close("forced server close", notify_client=True), [("get1", ["1"], False)]),
        (lambda s: s.send("4x"), []),
        (lambda s: s.close("again"), []),
    ], "forced server close"),
    "a close without notify answers the held GET 6": ("polling", [
        (lambda s: s.attach_poll(GET1, 0.0), []),
        (lambda s: s.close("server shutdown"), [("get1", ["6"], False)]),
    ], "server shutdown"),
    "a close of a websocket session closes the websocket": ("websocket", [
        (lambda s: s.attach_websocket(WS, 0.0), []),
        (lambda s: s.close("forced server close", notify_client=True), [("ws", [], True)]),
    ], "forced server close"),
    "a GET over a held one: the held one gets 1, the new one is refused": ("polling", [
        (lambda s: s.attach_poll(GET1, 0.0), []),
        (lambda s: s.attach_poll(GET2, 0.5), [("get1", ["1"], False), ("get2", [], True)]),
    ], "overlap from client"),
    "the upgrade: probe, noops for GETs, then the websocket takes the queue": ("polling", [
        (lambda s: s.attach_poll(GET1, 0.0), []),
        (lambda s: s.begin_upgrade(WS, 0.1), None),
        (probe(Packet(PacketType.PING, "probe")),
         Received([], [("ws", ["3probe"], False), ("get1", ["6"], False)])),
        (lambda s: s.attach_poll(GET2, 0.3), [("get2", ["6"], False)]),
        (lambda s: s.send("4queued"), []),
        (probe(Packet(PacketType.UPGRADE)), Received([], [("ws", ["4queued"], False)])),
        (lambda s: (s.upgrading, s.transport, s.next_deadline()), (False, "websocket", 3.0)),
        (lambda s: s.send("4live"), [("ws", ["4live"], False)]),
    ], None),
    "the upgrade with no GET held: the websocket takes the queue": ("polling", [
        (lambda s: s.begin_upgrade(WS, 0.1), None),
        (probe(Packet(PacketType.PING, "probe")), Received([], [("ws", ["3probe"], False)])),
        (lambda s: s.send("4queued"), []),
        (probe(Packet(PacketType.UPGRADE)), Received([], [("ws", ["4queued"], False)])),
    ], None),
    "an upgrade packet before the probe closes the probe": ("polling", [
        (lambda s: s.begin_upgrade(WS, 0.1), None),
        (probe(Packet(PacketType.UPGRADE)), Received([], [("ws", [], True)])),
        (lambda s: s.send("4x"), []),  # still polling: queued
    ], None),
    "a ping on the probe that is not 'probe' closes the probe": ("polling", [
        (lambda s: s.begin_upgrade(WS, 0.1), None),
        (probe(Packet(PacketType.PING, "other")), Received([], [("ws", [], True)])),
    ], None),
    "a client CLOSE by POST with no GET held: the racing GET gets 6, once": ("polling", [
        (lambda s: s.receive([Packet(PacketType.CLOSE)], 0.5), Received([], [])),
        (lambda s: s.attach_poll(GET1, 0.6), [("get1", ["6"], False)]),
    ], "transport close"),
    "anything but the probe closes the probe (and only it)": ("polling", [
        (lambda s: s.begin_upgrade(WS, 0.1), None),
        (probe(Packet(PacketType.MESSAGE, "early")), Received([], [("ws", [], True)])),
        (lambda s: s.detach(WS, 0.3), []),
        (lambda s: (s.upgrading, s.next_deadline()), (False, 3.0)),
        (lambda s: s.attach_poll(GET1, 0.4), []),  # held again, no 6
    ], None),
    "a probe that goes away is closed": ("polling", [
        (lambda s: s.begin_upgrade(WS, 0.1), None),
        (lambda s: s.detach(WS, 0.2), [("ws", [], True)]),
    ], None),
    "the ping goes to the held GET; no pong: the session ends": ("polling", [
        (lambda s: s.attach_poll(GET1, 0.0), []),
        (lambda s: s.handle_timer(3.0), [("get1", ["2"], False)]),
        (lambda s: s.handle_timer(4.0), []),  # the pong is not late yet
        (lambda s: s.handle_timer(5.0), []),
    ], "ping timeout"),
    "a client CLOSE answers the held GET 6": ("polling", [
        (lambda s: s.attach_poll(GET1, 0.0), []),
        (lambda s: s.receive([Packet(PacketType.CLOSE)], 0.5),
         Received([], [("get1", ["6"], False)])),
        (lambda s: s.owes_noop, False),  # the GET was held: nothing is owed
    ], "transport close"),
    "messages go up, nothing goes out": ("websocket", [
        (lambda s: s.attach_websocket(WS, 0.0), []),
        (lambda s: s.receive([Packet(PacketType.MESSAGE, "a"), Packet(PacketType.PONG),
                              Packet(PacketType.MESSAGE)], 0.1),
         Received(["a", ""], [])),
    ], None),
    "a session opened by a websocket": ("polling", [
        (lambda s: (s.sid, s.state, s.b64, s.owes_noop, s.close_reason),
         ("sid", EngineState.OPEN, False, False, None)),
        (lambda s: s.attach_websocket(WS, 0.0), []),
        (lambda s: s.transport, "websocket"),
    ], None),
    "a close flushes the queue into the websocket and empties it": ("websocket", [
        (lambda s: s.attach_websocket(WS, 0.0), []),
        (lambda s: s.backlog.outbox.append("4q"), None),  # (nothing queues beside one)
        (lambda s: s.close("server shutdown"), [("ws", ["4q"], True)]),
        (lambda s: (s.outbox, s.queued, s.heartbeat_due, s.next_deadline()), ([], 0, None, None)),
    ], "server shutdown"),
    "packets after a CLOSE in the same body are not read": ("polling", [
        (lambda s: s.attach_poll(GET1, 0.0), []),
        (lambda s: s.receive([Packet(PacketType.CLOSE), Packet(PacketType.MESSAGE, "late")], 0.5),
         Received([], [("get1", ["6"], False)])),
    ], "transport close"),
    "a packet the client may not send closes the session: parse error": ("polling", [
        (lambda s: s.attach_poll(GET1, 0.0), []),
        (lambda s: s.receive([Packet(PacketType.UPGRADE)], 0.5),
         Received([], [("get1", ["6"], False)])),
    ], "parse error"),
    "non-ASCII frames count their UTF-8 bytes": ("polling", [
        (lambda s: s.send("4\u00e9"), []),
        (lambda s: s.queued, 3),
    ], None),
    "attachments sent to a held GET answer it, and it is let go": ("polling", [
        (lambda s: s.attach_poll(GET1, 0.0), []),
        (lambda s: s.send_many(["451-[]", b"\x01"]), [("get1", ["451-[]", b"\x01"], False)]),
        (lambda s: s.send("4b"), []),
    ], None),
    "an aborted GET ends the session": ("polling", [
        (lambda s: s.attach_poll(GET1, 0.0), []),
        (lambda s: s.detach(GET1, 0.5), []),
    ], "transport close"),
    "a queue past the bound ends the session; a probe is closed": ("polling", [
        (lambda s: s.begin_upgrade(WS, 0.1), None),
        (lambda s: s.send("4" + "x" * 99), []),
        (lambda s: s.send("4"), [("ws", [], True)]),
    ], "write buffer full"),
    "a websocket's write buffer past the bound closes it": ("websocket", [
        (lambda s: s.attach_websocket(WS, 0.0), []),
        (lambda s: s.overflowed("websocket", 101), [("ws", [], True)]),
        (lambda s: s.overflowed("websocket", 101), []),
    ], "write buffer full"),
}


@pytest.mark.parametrize("name", list(ENGINE_TABLE))
def test_an_engine_session_returns_what_to_send(name: str) -> None:
    transport, steps, reason = ENGINE_TABLE[name]
    session = EngineSession("sid", 4, ENGINE, 0.0, transport)
    for number, (event, want) in enumerate(steps):
        got = event(session)
        if isinstance(want, Received):
            messages, outs = got
            got = Received(messages, named(outs))
        elif isinstance(want, list):
            got = named(got)
        assert got == want, f"step {number}"
        stream_is_what_send_returns(session, lambda s: s.send("4x"))
    assert session.pending_close == reason


@pytest.mark.parametrize(
    ("transport", "closed", "event", "code", "why"),
    [
        ("polling", True, lambda s: s.attach_poll(GET2, 1.0), 1, "session closed"),
        ("websocket", False, lambda s: s.attach_poll(GET2, 1.0), 3, "transport mismatch"),
        ("polling", True, lambda s: s.begin_upgrade(WS, 1.0), 1, "session closed"),
        ("websocket", False, lambda s: s.begin_upgrade(WS, 1.0), 3,
         "already upgraded or upgrading"),
    ],
)
def test_what_a_session_refuses_before_taking_it_raises_and_returns_nothing(
    transport: str, closed: bool, event: Callable[[EngineSession], Any], code: int, why: str
) -> None:
    """A request refused outright (the caller answers it with the code) changes nothing."""
    session = EngineSession("sid", 4, ENGINE, 0.0, transport)
    if closed:
        assert named(session.receive([Packet(PacketType.CLOSE)], 0.5)[1]) == []
        assert session.owes_noop is True
        assert named(session.attach_poll(GET1, 0.6)) == [("get1", ["6"], False)]  # owed once
        assert session.owes_noop is False
    with pytest.raises(EngineError) as refused:
        event(session)
    assert (refused.value.code, str(refused.value)) == (code, why)
    assert not session.upgrading and session.sink is None


def test_a_second_websocket_during_an_upgrade_is_refused() -> None:
    session = EngineSession("sid", 4, ENGINE, 0.0)
    assert session.begin_upgrade(WS, 0.1) is None
    with pytest.raises(EngineError) as refused:
        session.begin_upgrade(Untouched("ws2", "websocket", False), 0.2)
    assert (refused.value.code, str(refused.value)) == (3, "already upgraded or upgrading")
    assert session.upgrading


def test_engine_settings_come_from_tornios_settings() -> None:
    settings = Settings(ping_interval=1.5, ping_timeout=2.5, upgrade_timeout=3.5,
                        connect_timeout=4.5, max_buffer_size=5, max_write_buffer=6)
    assert EngineSettings.from_settings(settings) == EngineSettings(1.5, 2.5, 3.5, 4.5, 5, 6)
    assert EngineSettings.from_settings(settings, socketio=False) == EngineSettings(
        1.5, 2.5, 3.5, None, 5, 6)


def test_a_v3_ping_is_answered_with_a_pong_output() -> None:
    session = EngineSession("sid", 3, ENGINE, 0.0)
    assert named(session.attach_poll(GET1, 0.0)) == []
    messages, outs = session.receive([Packet(PacketType.PING, "x")], 1.0)
    assert (messages, named(outs)) == ([], [("get1", ["3x"], False)])
    assert named(session.attach_poll(GET2, 1.5)) == []
    messages, outs = session.receive([Packet(PacketType.PING)], 2.0)
    assert (messages, named(outs)) == ([], [("get2", ["3"], False)])


# -- 0.9 ---------------------------------------------------------------------------------------

LEGACY = Settings(polling_duration=5.0, heartbeat_interval=3.0, heartbeat_timeout=7.0,
                  close_timeout=11.0, handshake_timeout=13.0, max_write_buffer=100)
POLL1 = Untouched("poll1", "xhr-polling", True)
POLL2 = Untouched("poll2", "xhr-polling", True)
SOCK = Untouched("ws", "websocket", False)
HTMLFILE = Untouched("htmlfile", "htmlfile", False)

LegacyStep = tuple[Callable[[LegacySession], Any], Any]

LEGACY_TABLE: dict[str, tuple[list[LegacyStep], str | None]] = {
    "the first poll gets 1:: at once": ([
        (lambda s: (s.sid, s.state, s.close_reason, s.queue_transport),
         ("sid", SessionState.NEW, None, "none")),
        (lambda s: s.attach(POLL1, 0.0), [("poll1", ["1::"], False)]),
        (lambda s: (s.state, s.queue_transport, s.next_deadline()),
         (SessionState.OPEN, "xhr-polling", 11.0)),  # answered: close_timeout runs
    ], None),
    "1:: goes first, even with one queued behind another packet": ([
        (lambda s: s.send("5:::a", 0.0), []),
        (lambda s: s.send("1::", 0.0), []),
        (lambda s: s.attach(POLL1, 0.1), [("poll1", ["1::", "5:::a", "1::"], False)]),
    ], None),
    "a websocket that attaches takes 1:: and the backlog in one output": ([
        (lambda s: s.send("5:::a", 0.0), []),
        (lambda s: s.send("5:::b", 0.0), []),
        (lambda s: s.attach(SOCK, 0.1), [("ws", ["1::", "5:::a", "5:::b"], False)]),
        (lambda s: s.send("5:::c", 0.2), [("ws", ["5:::c"], False)]),
    ], None),
    "a held poll is answered by the next send": ([
        (lambda s: s.attach(POLL1, 0.0), [("poll1", ["1::"], False)]),
        (lambda s: s.attach(POLL2, 0.1), []),
        (lambda s: s.send("5:::x", 0.2), [("poll2", ["5:::x"], False)]),
    ], None),
    "a held poll is answered 8:: at polling_duration": ([
        (lambda s: s.attach(POLL1, 0.0), [("poll1", ["1::"], False)]),
        (lambda s: s.attach(POLL2, 1.0), []),
        (lambda s: s.handle_timer(6.0), [("poll2", ["8::"], False)]),
    ], None),
    "a persistent transport gets 2:: every heartbeat_interval": ([
        (lambda s: s.attach(HTMLFILE, 0.0), [("htmlfile", ["1::"], False)]),
        (lambda s: s.handle_timer(3.0), [("htmlfile", ["2::"], False)]),
        (lambda s: s.handle_timer(4.0), []),
    ], None),
    "a new connection replaces a held poll (8::) or a persistent one (closed)": ([
        (lambda s: s.attach(POLL1, 0.0), [("poll1", ["1::"], False)]),
        (lambda s: s.attach(POLL2, 0.1), []),
        (lambda s: s.received(0.15), None),  # the client has seen 1::
        (lambda s: s.attach(SOCK, 0.2), [("poll2", ["8::"], False)]),
        (lambda s: s.attach(HTMLFILE, 0.3), [("ws", [], True)]),
    ], None),
    "a client that never confirmed 1:: gets it again on another transport": ([
        (lambda s: s.attach(POLL1, 0.0), [("poll1", ["1::"], False)]),
        (lambda s: s.attach(SOCK, 0.2), [("ws", ["1::"], False)]),
    ], None),
    "a close flushes the queue into the persistent transport, then closes it": ([
        (lambda s: s.attach(SOCK, 0.0), [("ws", ["1::"], False)]),
        (lambda s: s.outbox.append("0::"), None),
        (lambda s: s.heartbeat_due, 3.0),
        (lambda s: s.close("server disconnect"), [("ws", ["0::"], True)]),
        (lambda s: (s.heartbeat_due, s.next_deadline(), s.outbox), (None, None, [])),
        (lambda s: s.send("5:::x", 0.1), []),
        (lambda s: s.close("again"), []),
    ], "server disconnect"),
    "a close answers a held poll 8::": ([
        (lambda s: s.attach(POLL1, 0.0), [("poll1", ["1::"], False)]),
        (lambda s: s.attach(POLL2, 0.1), []),
        (lambda s: s.close("server shutdown"), [("poll2", ["8::"], False)]),
    ], "server shutdown"),
    "a persistent transport that goes away ends the session": ([
        (lambda s: s.attach(SOCK, 0.0), [("ws", ["1::"], False)]),
        (lambda s: s.detach(SOCK, 1.0), []),
    ], "transport closed"),
    "a poll that goes away does not": ([
        (lambda s: s.attach(POLL1, 0.0), [("poll1", ["1::"], False)]),
        (lambda s: s.attach(POLL2, 0.1), []),
        (lambda s: s.detach(POLL2, 0.2), []),
    ], None),
    "silence past heartbeat_timeout closes the persistent transport": ([
        (lambda s: s.attach(SOCK, 0.0), [("ws", ["1::"], False)]),
        (lambda s: s.handle_timer(7.0), [("ws", [], True)]),
    ], "heartbeat timeout"),
    "a queue past the bound ends the session": ([
        (lambda s: s.attach(POLL1, 0.0), [("poll1", ["1::"], False)]),
        (lambda s: s.send("x" * 100, 0.1), []),
        (lambda s: s.send("x", 0.1), []),
    ], "write buffer full"),
    "a transport's write buffer past the bound closes it": ([
        (lambda s: s.attach(HTMLFILE, 0.0), [("htmlfile", ["1::"], False)]),
        (lambda s: s.overflowed("htmlfile", 101), [("htmlfile", [], True)]),
    ], "write buffer full"),
}


@pytest.mark.parametrize("name", list(LEGACY_TABLE))
def test_a_legacy_session_returns_what_to_send(name: str) -> None:
    steps, reason = LEGACY_TABLE[name]
    session = LegacySession("sid", LEGACY, 0.0)
    for number, (event, want) in enumerate(steps):
        got = event(session)
        if isinstance(want, list):
            got = named(got)
        assert got == want, f"step {number}"
        stream_is_what_send_returns(session, lambda s: s.send("4x", 9.0))
    assert session.pending_close == reason


def test_a_closed_legacy_session_takes_no_transport() -> None:
    session = LegacySession("sid", LEGACY, 0.0)
    assert named(session.close("server shutdown")) == []
    with pytest.raises(RuntimeError) as refused:
        session.attach(POLL1, 1.0)
    assert str(refused.value) == "attach to a closed session"


# -- the driver ----------------------------------------------------------------------------


class Recorder:
    """A sink that logs what is done to it into a shared log."""

    def __init__(self, name: str, log: list[str], polling: bool = False) -> None:
        self.name = name
        self.log = log
        self.transport = "polling" if polling else "websocket"
        self.polling = polling

    def write(self, frames: list[Any]) -> None:
        self.log.append(f"{self.name} <- {frames}")

    def close(self) -> None:
        self.log.append(f"{self.name} closed")


class Owner:
    def __init__(self, engine: EngineSession, log: list[str]) -> None:
        self.engine = engine
        self.log = log

    def session_closed(self, reason: str) -> None:
        self.log.append(f"owner told: {reason}")


def test_the_driver_writes_in_order_then_closes_then_tells_the_owner_once() -> None:
    log: list[str] = []
    session = EngineSession("sid", 4, ENGINE, 0.0, "websocket")
    owner = Owner(session, log)
    ws = Recorder("ws", log)
    drive(owner, session.attach_websocket(ws, 0.0))
    drive(owner, session.send("4a"))
    session.backlog.outbox.append("4queued")  # (what a close flushes)
    outs: Sequence[Any] = session.close("forced server close")
    assert log == ["ws <- ['4a']"]  # the session did nothing itself
    drive(owner, outs)
    drive(owner, session.close("again"))
    drive(owner, [])
    assert log == ["ws <- ['4a']", "ws <- ['4queued']", "ws closed",
                   "owner told: forced server close"]
    assert session.pending_close is None and session.close_reason == "forced server close"


def test_the_driver_tells_the_owner_of_an_end_with_nothing_to_write() -> None:
    log: list[str] = []
    session = EngineSession("sid", 4, ENGINE, 0.0)
    owner = Owner(session, log)
    drive(owner, session.close("ping timeout"))
    assert log == ["owner told: ping timeout"]
