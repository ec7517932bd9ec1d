"""Tests for tornio.legacy.session.LegacySession: node 0.9's liveness model on a fake clock.

Time is a plain float passed as ``now``; sinks are in-memory recorders. The settings use small,
distinct numbers so that every deadline names the timeout it comes from.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from tests.support.session_sinks import Closes, Driven, FakeSink
from tornio.legacy.session import LegacySession, SessionState
from tornio.settings import Settings

POLLING_DURATION = 5.0
HEARTBEAT_INTERVAL = 3.0
HEARTBEAT_TIMEOUT = 7.0
CLOSE_TIMEOUT = 11.0
HANDSHAKE_TIMEOUT = 13.0

SETTINGS = Settings(
    polling_duration=POLLING_DURATION,
    heartbeat_interval=HEARTBEAT_INTERVAL,
    heartbeat_timeout=HEARTBEAT_TIMEOUT,
    close_timeout=CLOSE_TIMEOUT,
    handshake_timeout=HANDSHAKE_TIMEOUT,
)

T0 = 1000.0
CONTROL = ("1::", "2::", "8::")


def new_session(now: float = T0) -> tuple[Driven, Closes]:
    closes = Closes()
    return Driven(LegacySession("sid", SETTINGS, now), closes), closes


def polling(log: list[str] | None = None) -> FakeSink:
    return FakeSink("xhr-polling", log=log)


def websocket(log: list[str] | None = None) -> FakeSink:
    return FakeSink("websocket", log=log)


def opened_polling(now: float = T0) -> tuple[LegacySession, Closes]:
    """A session whose first GET got ``1::`` (so the poll is answered, no sink attached)."""
    session, closes = new_session(now)
    first = polling()
    assert session.attach(first, now) is True
    assert first.writes == [["1::"]]
    return session, closes


# --- the first connection -----------------------------------------------------------------


@pytest.mark.parametrize("transport", ["xhr-polling", "jsonp-polling", "websocket", "htmlfile"])
def test_first_attach_delivers_connect_first(transport: str) -> None:
    session, closes = new_session()
    session.send("5:::{}", T0)  # queued before any transport: must come after 1::
    sink = FakeSink(transport)
    assert session.attach(sink, T0 + 1) is True
    assert sink.writes == [["1::", "5:::{}"]]
    assert session.state is SessionState.OPEN
    assert session.outbox == []
    assert closes.reasons == []


def test_only_the_first_attach_reports_first() -> None:
    session, _ = opened_polling()
    again = polling()
    assert session.attach(again, T0 + 1) is False
    assert again.writes == []  # held: nothing to say


# --- polling ------------------------------------------------------------------------------


def test_held_poll_is_answered_with_noop_at_polling_duration() -> None:
    session, closes = opened_polling()
    held = polling()
    session.attach(held, T0 + 1)
    assert session.sink is held
    assert session.next_deadline() == T0 + 1 + POLLING_DURATION
    session.handle_timer(T0 + 1 + POLLING_DURATION - 0.01)
    assert held.writes == []
    session.handle_timer(T0 + 1 + POLLING_DURATION)
    assert held.writes == [["8::"]]
    assert session.sink is None
    assert session.next_deadline() == T0 + 1 + POLLING_DURATION + CLOSE_TIMEOUT
    assert closes.reasons == []


def test_send_answers_a_held_poll_at_once() -> None:
    session, _ = opened_polling()
    held = polling()
    session.attach(held, T0 + 1)
    session.send("3:::hello", T0 + 2)
    assert held.writes == [["3:::hello"]]
    assert session.sink is None
    assert session.next_deadline() == T0 + 2 + CLOSE_TIMEOUT
    session.handle_timer(T0 + 1 + POLLING_DURATION)  # the old poll deadline: nothing left
    assert held.writes == [["3:::hello"]]


def test_packets_without_a_sink_are_buffered_and_flushed_in_order() -> None:
    session, _ = opened_polling()
    for i in range(4):
        session.send(f"3:::m{i}", T0 + 1 + i)
    assert session.outbox == ["3:::m0", "3:::m1", "3:::m2", "3:::m3"]
    nxt = polling()
    session.attach(nxt, T0 + 6)
    assert nxt.writes == [["3:::m0", "3:::m1", "3:::m2", "3:::m3"]]
    assert session.outbox == []
    later = polling()
    session.attach(later, T0 + 7)
    assert later.writes == []  # held again


def test_buffered_packets_flush_to_a_persistent_sink_too() -> None:
    session, _ = opened_polling()
    session.received(T0 + 0.5)  # confirmed: a transport switch does not repeat 1::
    session.send("3:::a", T0 + 1)
    session.send("3:::b", T0 + 1)
    ws = websocket()
    session.attach(ws, T0 + 2)
    assert ws.writes == [["3:::a", "3:::b"]]
    session.send("3:::c", T0 + 3)
    assert ws.writes == [["3:::a", "3:::b"], ["3:::c"]]


def test_close_timeout_after_an_answered_poll_ends_the_session() -> None:
    session, closes = opened_polling()
    assert session.next_deadline() == T0 + CLOSE_TIMEOUT
    session.handle_timer(T0 + CLOSE_TIMEOUT - 0.01)
    assert closes.reasons == []
    session.handle_timer(T0 + CLOSE_TIMEOUT)
    assert closes.reasons == ["close timeout"]
    assert session.state is SessionState.CLOSED
    assert session.close_reason == "close timeout"
    session.handle_timer(T0 + 10 * CLOSE_TIMEOUT)
    assert closes.reasons == ["close timeout"]


def test_a_new_poll_before_the_close_timeout_keeps_the_session() -> None:
    session, closes = opened_polling()
    held = polling()
    session.attach(held, T0 + CLOSE_TIMEOUT - 1)
    session.handle_timer(T0 + CLOSE_TIMEOUT)  # the old close deadline: cleared by attach
    assert closes.reasons == []
    assert held.writes == []
    assert session.next_deadline() == T0 + CLOSE_TIMEOUT - 1 + POLLING_DURATION


def test_a_poll_the_client_abandons_starts_the_close_timeout() -> None:
    session, closes = opened_polling()
    held = polling()
    session.attach(held, T0 + 1)
    session.detach(held, T0 + 2)
    assert session.sink is None
    assert session.next_deadline() == T0 + 2 + CLOSE_TIMEOUT
    session.send("3:::kept", T0 + 3)
    assert held.writes == []
    assert session.outbox == ["3:::kept"]
    session.handle_timer(T0 + 2 + CLOSE_TIMEOUT)
    assert closes.reasons == ["close timeout"]


def test_a_second_polling_attach_answers_the_held_poll_with_noop() -> None:
    session, _ = opened_polling()
    first = polling()
    session.attach(first, T0 + 1)
    second = polling()
    session.attach(second, T0 + 2)
    assert first.writes == [["8::"]]
    assert second.writes == []
    assert session.sink is second
    assert session.next_deadline() == T0 + 2 + POLLING_DURATION
    session.send("3:::x", T0 + 3)
    assert second.writes == [["3:::x"]]
    assert first.writes == [["8::"]]


def test_detaching_an_old_sink_is_ignored() -> None:
    session, closes = opened_polling()
    first = polling()
    session.attach(first, T0 + 1)
    second = polling()
    session.attach(second, T0 + 2)
    session.detach(first, T0 + 3)
    assert session.sink is second
    assert closes.reasons == []


# --- persistent transports ----------------------------------------------------------------


def test_persistent_sink_gets_heartbeats_and_times_out_without_client_data() -> None:
    session, closes = new_session()
    ws = websocket()
    session.attach(ws, T0)
    assert ws.writes == [["1::"]]
    assert session.next_deadline() == T0 + HEARTBEAT_INTERVAL
    session.handle_timer(T0 + HEARTBEAT_INTERVAL)
    assert ws.packets == ["1::", "2::"]
    assert session.next_deadline() == T0 + 2 * HEARTBEAT_INTERVAL
    session.handle_timer(T0 + 2 * HEARTBEAT_INTERVAL)
    assert ws.packets == ["1::", "2::", "2::"]
    # next heartbeat would be at 9, but the heartbeat timeout (7) comes first
    assert session.next_deadline() == T0 + HEARTBEAT_TIMEOUT
    session.handle_timer(T0 + HEARTBEAT_TIMEOUT - 0.01)
    assert closes.reasons == []
    session.handle_timer(T0 + HEARTBEAT_TIMEOUT)
    assert closes.reasons == ["heartbeat timeout"]
    assert ws.closes == 1
    assert ws.packets == ["1::", "2::", "2::"]
    assert session.next_deadline() is None


def test_received_keeps_a_persistent_sink_alive() -> None:
    session, closes = new_session()
    ws = websocket()
    session.attach(ws, T0)
    now = T0
    for _ in range(10):  # 30 s, far beyond the 7 s heartbeat timeout
        now += HEARTBEAT_INTERVAL
        session.handle_timer(now)
        session.received(now + 0.5)
    assert closes.reasons == []
    assert ws.packets == ["1::"] + ["2::"] * 10
    assert session.next_deadline() == now + HEARTBEAT_INTERVAL
    session.handle_timer(now + 0.5 + HEARTBEAT_TIMEOUT)
    assert closes.reasons == ["heartbeat timeout"]


def test_persistent_sink_detach_ends_the_session_at_once() -> None:
    session, closes = new_session()
    ws = websocket()
    session.attach(ws, T0)
    session.send("3:::x", T0 + 1)
    session.detach(ws, T0 + 2)
    assert closes.reasons == ["transport closed"]
    assert session.state is SessionState.CLOSED
    assert session.next_deadline() is None
    assert ws.packets == ["1::", "3:::x"]


def test_polling_does_not_get_heartbeats() -> None:
    session, _ = opened_polling()
    held = polling()
    session.attach(held, T0 + 1)
    session.handle_timer(T0 + 1 + HEARTBEAT_INTERVAL)
    assert held.writes == []


def test_polling_after_a_persistent_sink_leaves_no_stale_heartbeat_deadline() -> None:
    # A client whose websocket opened but never delivered 1:: falls back to polling.
    session, closes = new_session()
    ws = websocket()
    session.attach(ws, T0)
    poll = polling()
    session.attach(poll, T0 + 1)
    assert ws.closes == 1
    assert poll.writes == [["1::"]]  # the client never confirmed: connect again
    # Only the close timeout is pending now; no heartbeat deadline from the websocket.
    assert session.next_deadline() == T0 + 1 + CLOSE_TIMEOUT
    session.handle_timer(T0 + HEARTBEAT_INTERVAL)
    deadline = session.next_deadline()
    assert deadline is not None and deadline > T0 + HEARTBEAT_INTERVAL
    held = polling()
    session.attach(held, T0 + 2)
    assert session.next_deadline() == T0 + 2 + POLLING_DURATION
    session.handle_timer(T0 + 2 + POLLING_DURATION)
    assert held.writes == [["8::"]]
    assert closes.reasons == []


# --- handshake, reconnect -----------------------------------------------------------------


def test_a_never_attached_session_expires_after_the_handshake_timeout() -> None:
    session, closes = new_session()
    assert session.state is SessionState.NEW
    assert session.next_deadline() == T0 + HANDSHAKE_TIMEOUT
    session.handle_timer(T0 + HANDSHAKE_TIMEOUT - 0.01)
    assert closes.reasons == []
    session.handle_timer(T0 + HANDSHAKE_TIMEOUT)
    assert closes.reasons == ["handshake timeout"]
    assert session.next_deadline() is None


def test_attach_cancels_the_handshake_timeout() -> None:
    session, closes = new_session()
    ws = websocket()
    session.attach(ws, T0 + 1)
    session.received(T0 + HANDSHAKE_TIMEOUT - 1)
    session.handle_timer(T0 + HANDSHAKE_TIMEOUT)
    assert "handshake timeout" not in closes.reasons


def test_a_client_retrying_another_transport_before_confirming_gets_connect_again() -> None:
    session, _ = new_session()
    ws = websocket()
    session.attach(ws, T0)
    assert ws.packets == ["1::"]
    poll = polling()
    assert session.attach(poll, T0 + 1) is False
    assert poll.writes == [["1::"]]
    # the same transport again: no second 1::
    held = polling()
    session.attach(held, T0 + 2)
    assert held.writes == []


def test_no_connect_again_once_the_client_confirmed() -> None:
    session, _ = new_session()
    first = polling()
    session.attach(first, T0)
    session.received(T0 + 1)
    ws = websocket()
    session.attach(ws, T0 + 2)
    assert ws.writes == []


# --- next_deadline ------------------------------------------------------------------------


def test_next_deadline_is_the_earliest_pending_deadline() -> None:
    session, _ = new_session()
    assert session.next_deadline() == T0 + HANDSHAKE_TIMEOUT
    first = polling()
    session.attach(first, T0 + 1)  # answered with 1::
    assert session.next_deadline() == T0 + 1 + CLOSE_TIMEOUT
    held = polling()
    session.attach(held, T0 + 2)
    assert session.next_deadline() == T0 + 2 + POLLING_DURATION
    ws = websocket()
    session.attach(ws, T0 + 3)
    assert held.writes == [["8::"]]
    assert session.next_deadline() == T0 + 3 + HEARTBEAT_INTERVAL
    session.handle_timer(T0 + 3 + HEARTBEAT_INTERVAL)
    session.handle_timer(T0 + 3 + 2 * HEARTBEAT_INTERVAL)
    assert session.next_deadline() == T0 + 3 + HEARTBEAT_TIMEOUT
    session.received(T0 + 9)
    assert session.next_deadline() == T0 + 3 + 3 * HEARTBEAT_INTERVAL
    session.close("test")
    assert session.next_deadline() is None


# --- close --------------------------------------------------------------------------------


def test_close_flushes_the_outbox_to_the_sink_and_calls_on_close_once() -> None:
    session, closes = new_session()
    ws = websocket()
    session.attach(ws, T0)
    session.outbox.append("0::")  # what a server-side disconnect queues
    session.close("server disconnect")
    assert ws.packets == ["1::", "0::"]
    assert ws.closes == 1
    assert closes.reasons == ["server disconnect"]
    session.close("again")
    session.handle_timer(T0 + 1000)
    session.detach(ws, T0 + 1000)
    assert closes.reasons == ["server disconnect"]
    assert session.close_reason == "server disconnect"


def test_close_answers_a_held_poll_with_the_outbox() -> None:
    session, closes = opened_polling()
    held = polling()
    session.attach(held, T0 + 1)
    session.outbox.append("0::")
    session.close("server disconnect")
    assert held.writes == [["0::"]]
    assert closes.reasons == ["server disconnect"]


def test_close_ends_a_held_poll_even_with_nothing_to_say() -> None:
    session, closes = opened_polling()
    held = polling()
    session.attach(held, T0 + 1)
    session.close("client disconnect")
    assert held.dead, "the held GET was neither answered nor closed"
    assert closes.reasons == ["client disconnect"]


def test_send_after_close_is_a_no_op() -> None:
    session, closes = new_session()
    ws = websocket()
    session.attach(ws, T0)
    session.close("bye")
    session.send("3:::late", T0 + 1)
    assert ws.packets == ["1::"]
    assert session.outbox == []
    assert closes.reasons == ["bye"]


def test_attach_to_a_closed_session_raises() -> None:
    session, _ = new_session()
    session.close("bye")
    with pytest.raises(RuntimeError):
        session.attach(polling(), T0)


# --- properties ---------------------------------------------------------------------------


class SessionMachine(RuleBasedStateMachine):
    """Random attach/detach/send/received/timer sequences with a clock that only moves on."""

    sinks = Bundle("sinks")

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.closes = Closes()
        self.session = Driven(LegacySession("sid", SETTINGS, self.now), self.closes)
        self.log: list[str] = []  # every packet written to any sink, in order
        self.sent: list[str] = []  # data packets sent while the session was open
        self.counter = 0

    @property
    def closed(self) -> bool:
        return self.session.state is SessionState.CLOSED

    @rule(dt=st.floats(min_value=0, max_value=3 * HANDSHAKE_TIMEOUT))
    def tick(self, dt: float) -> None:
        self.now += dt
        self.session.handle_timer(self.now)
        deadline = self.session.next_deadline()
        assert deadline is None or deadline > self.now, "a deadline stayed in the past"

    @rule()
    def jump_to_deadline(self) -> None:
        deadline = self.session.next_deadline()
        if deadline is not None:
            self.now = max(self.now, deadline)
        self.session.handle_timer(self.now)
        after = self.session.next_deadline()
        assert after is None or after > self.now, "a deadline stayed in the past"

    @precondition(lambda self: not self.closed)
    @rule(
        target=sinks,
        transport=st.sampled_from(["xhr-polling", "jsonp-polling", "websocket", "htmlfile"]),
    )
    def attach(self, transport: str) -> FakeSink:
        sink = FakeSink(transport, log=self.log)
        self.session.attach(sink, self.now)
        return sink

    @rule(sink=sinks)
    def detach(self, sink: FakeSink) -> None:
        self.session.detach(sink, self.now)
        sink.dead = True  # the client is gone: nothing may be written to it any more

    @rule()
    def send(self) -> None:
        self.counter += 1
        packet = f"3:::m{self.counter}"
        if not self.closed:
            self.sent.append(packet)
        self.session.send(packet, self.now)

    @rule()
    def received(self) -> None:
        self.session.received(self.now)

    @rule()
    def close(self) -> None:
        self.session.close("test")

    @invariant()
    def on_close_at_most_once(self) -> None:
        assert len(self.closes.reasons) <= 1
        assert (len(self.closes.reasons) == 1) == self.closed

    @invariant()
    def deadlines_iff_open(self) -> None:
        assert (self.session.next_deadline() is None) == self.closed

    @invariant()
    def connect_comes_first(self) -> None:
        if self.log:
            assert self.log[0] == "1::"

    @invariant()
    def every_packet_delivered_once_in_order(self) -> None:
        delivered = [p for p in self.log if p not in CONTROL]
        if self.closed:
            assert delivered == self.sent[: len(delivered)]
        else:
            assert delivered + self.session.outbox == self.sent


TestSessionMachine = SessionMachine.TestCase
TestSessionMachine.settings = settings(
    max_examples=120,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_fake_sink_catches_writes_after_an_answer() -> None:
    # The property test relies on this: a polling sink accepts exactly one write.
    sink = polling()
    sink.write(["8::"])
    with pytest.raises(AssertionError):
        sink.write(["3:::late"])
