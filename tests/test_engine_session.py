"""The Engine.IO session state machine on a fake clock, with fake sinks (no network)."""

from __future__ import annotations

import pytest

from tests.support.session_sinks import Driven
from tests.support.session_sinks import EngineSink as Sink
from tornio.exceptions import EngineError
from tornio.modern.session import (
    LATE_PING_ALLOWANCE,
    EngineSession,
    EngineSettings,
)
from tornio.protocol.engineio import Packet, PacketType

SETTINGS = EngineSettings(
    ping_interval=3.0, ping_timeout=2.0, upgrade_timeout=7.0, connect_timeout=11.0
)


class Harness:
    def __init__(self, version: int = 4, transport: str = "polling") -> None:
        self.reasons: list[str] = []
        self.session = Driven(
            EngineSession("sid", version, SETTINGS, 0.0, transport), self.reasons.append
        )

    def poll(self, now: float) -> Sink:
        sink = Sink()
        self.session.attach_poll(sink, now)
        return sink


def msg(data: str) -> Packet:
    return Packet(PacketType.MESSAGE, data)


def test_a_poll_is_held_until_a_frame_is_sent() -> None:
    h = Harness()
    sink = h.poll(0.0)
    assert sink.frames == []
    h.session.send("4hello")
    assert sink.frames == ["4hello"]


def test_frames_sent_between_polls_arrive_together() -> None:
    h = Harness()
    h.session.send("4a")
    h.session.send_many(["4b", b"\x01"])
    assert h.poll(0.0).frames == ["4a", "4b", b"\x01"]


def test_v4_server_pings_and_closes_without_pong() -> None:
    h = Harness()
    assert h.session.next_deadline() == 3.0
    h.session.handle_timer(3.0)
    assert h.poll(3.0).frames == ["2"]
    assert h.session.next_deadline() == 5.0  # the pong is due ping_timeout after the ping
    h.session.handle_timer(5.0)
    assert h.reasons == ["ping timeout"]


def test_the_pong_deadline_counts_from_when_the_ping_was_due() -> None:
    """The timers may send a heartbeat a few milliseconds late (``heartbeat_due``); the ping
    timeout is still counted from the due time, so a session without pongs ends exactly
    ping_interval + ping_timeout after the last sign of life (the official suite checks it).
    A ping that goes out much later still leaves the client nearly the whole timeout."""
    h = Harness()
    assert h.session.heartbeat_due == h.session.next_deadline() == 3.0
    h.session.handle_timer(3.015)
    assert h.session.heartbeat_due is None
    assert h.session.next_deadline() == 5.0
    late = Harness()
    late.session.handle_timer(4.0)  # the loop was blocked for a second
    assert late.session.next_deadline() == pytest.approx(4.0 - LATE_PING_ALLOWANCE + 2.0)


def test_v4_next_ping_is_due_ping_interval_after_the_pong() -> None:
    h = Harness()
    h.session.handle_timer(3.0)
    assert h.poll(3.5).frames == ["2"]
    h.session.receive([Packet(PacketType.PONG)], 4.0)
    assert h.session.next_deadline() == 7.0
    h.session.handle_timer(7.0)
    assert h.poll(7.0).frames == ["2"]
    assert h.reasons == []


def test_v4_client_ping_is_the_wrong_direction() -> None:
    h = Harness()
    h.session.receive([Packet(PacketType.PING)], 1.0)
    assert h.reasons == ["invalid heartbeat direction"]


def test_v3_client_pings_and_server_pongs() -> None:
    h = Harness(version=3)
    assert h.session.next_deadline() == 5.0  # ping_interval + ping_timeout without a ping
    h.session.receive([Packet(PacketType.PING, "probe")], 4.0)
    assert h.poll(4.0).frames == ["3probe"]
    assert h.session.next_deadline() == 9.0
    h.session.handle_timer(9.0)
    assert h.reasons == ["ping timeout"]


def test_messages_go_up_and_control_packets_do_not() -> None:
    h = Harness()
    up = h.session.receive(
        [msg("a"), Packet(PacketType.NOOP), Packet(PacketType.MESSAGE, b"\x00")], 1.0
    )
    assert up == ["a", b"\x00"]


def test_a_second_held_poll_closes_the_session_and_answers_the_first_with_close() -> None:
    h = Harness()
    first = h.poll(0.0)
    with pytest.raises(EngineError) as err:
        h.poll(0.5)
    assert err.value.code == 3
    assert first.frames == ["1"]
    assert h.reasons == ["overlap from client"]
    with pytest.raises(EngineError):
        h.poll(1.0)


def test_an_aborted_poll_closes_the_session() -> None:
    h = Harness()
    sink = h.poll(0.0)
    h.session.detach(sink, 0.5)
    assert h.reasons == ["transport close"]


def test_client_close_answers_the_held_poll_with_noop() -> None:
    h = Harness()
    sink = h.poll(0.0)
    h.session.receive([Packet(PacketType.CLOSE)], 0.5)
    assert sink.frames == ["6"]
    assert h.reasons == ["transport close"]


def test_server_close_answers_the_held_poll_with_close() -> None:
    h = Harness()
    sink = h.poll(0.0)
    h.session.close("forced server close", notify_client=True)
    assert sink.frames == ["1"]


def test_the_upgrade_dance() -> None:
    h = Harness()
    held = h.poll(0.0)
    ws = Sink("websocket")
    h.session.begin_upgrade(ws, 0.1)
    assert h.session.upgrading
    h.session.receive([Packet(PacketType.PING, "probe")], 0.2, source=ws)
    assert ws.frames == ["3probe"]
    assert held.frames == ["6"]  # the held GET is released
    assert h.poll(0.3).frames == ["6"]  # and a new GET gets a noop at once
    h.session.send("4queued")
    h.session.receive([Packet(PacketType.UPGRADE)], 0.4, source=ws)
    assert h.session.transport == "websocket"
    assert ws.frames == ["3probe", "4queued"]
    h.session.send("4live")
    assert ws.frames[-1] == "4live"
    with pytest.raises(EngineError) as err:
        h.poll(0.5)
    assert err.value.code == 3
    with pytest.raises(EngineError):
        h.session.begin_upgrade(Sink("websocket"), 0.6)


def test_anything_but_the_probe_ends_the_upgrade_attempt() -> None:
    h = Harness()
    ws = Sink("websocket")
    h.session.begin_upgrade(ws, 0.0)
    h.session.receive([msg("early")], 0.1, source=ws)
    assert ws.closed and not h.session.upgrading
    assert h.reasons == []
    assert h.session.transport == "polling"


def test_an_upgrade_that_takes_too_long_is_dropped() -> None:
    h = Harness()
    ws = Sink("websocket")
    h.session.begin_upgrade(ws, 1.0)
    h.session.handle_timer(2.0)  # the first ping comes due at 3.0; nothing yet
    assert h.session.upgrading
    h.session.receive([Packet(PacketType.PONG)], 1.5)
    h.session.handle_timer(8.0)
    assert ws.closed and not h.session.upgrading


def test_no_namespace_joined_within_connect_timeout_closes() -> None:
    h = Harness()
    for t in (3.0, 6.0, 9.0):
        h.session.handle_timer(t)
        h.session.receive([Packet(PacketType.PONG)], t)
    h.session.handle_timer(11.0)
    assert h.reasons == ["connect timeout"]
    h2 = Harness()
    h2.session.namespace_connected()
    for t in (3.0, 6.0, 9.0, 12.0):
        h2.session.handle_timer(t)
        h2.session.receive([Packet(PacketType.PONG)], t)
    assert h2.reasons == []


def test_a_websocket_session_writes_at_once_and_closes_when_it_closes() -> None:
    h = Harness(transport="websocket")
    ws = Sink("websocket")
    h.session.attach_websocket(ws, 0.0)
    h.session.send("4x")
    assert ws.frames == ["4x"]
    h.session.detach(ws, 1.0)
    assert h.reasons == ["transport close"]


def test_close_is_reported_once_and_silences_the_session() -> None:
    h = Harness()
    h.session.close("a")
    h.session.close("b")
    h.session.send("4x")
    h.session.handle_timer(100.0)
    assert h.reasons == ["a"]
    assert h.session.next_deadline() is None
