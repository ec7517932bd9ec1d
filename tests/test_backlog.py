"""The bound on what a session holds for its client (tornio/protocol/backlog.py), in both
generations' sessions, on a fake clock with in-memory sinks: the queue's running byte count,
the exact bound (at it the session lives, one byte past it closes), the count starting over
when a poll takes the queue, what a transport reports of its own write buffer, the log line
and the record the metric is counted from."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.session_sinks import Closes, Driven, EngineSink, FakeSink
from tornio import metrics
from tornio.core.counters import Counters
from tornio.legacy.session import LegacySession
from tornio.modern.session import EngineSession, EngineSettings
from tornio.protocol.backlog import WRITE_BUFFER_FULL, Overflow, encoded_size
from tornio.settings import Settings

BOUND = 1000
T0 = 1000.0


def legacy_session() -> tuple[Driven, Closes]:
    """A 0.9 session whose first poll got ``1::``: nothing attached, packets queue."""
    closes = Closes()
    session = Driven(LegacySession("legacy-sid", Settings(max_write_buffer=BOUND), T0), closes)
    session.attach(FakeSink("xhr-polling"), T0)
    return session, closes


def engine_session() -> tuple[Driven, list[str]]:
    """An Engine.IO polling session between two polls."""
    reasons: list[str] = []
    settings = EngineSettings(max_write_buffer=BOUND)
    return Driven(EngineSession("engine-sid", 4, settings, 0.0), reasons.append), reasons


def test_encoded_size_counts_utf8_bytes() -> None:
    assert encoded_size("42[\"a\"]") == 7
    assert encoded_size("é€😀") == 2 + 3 + 4
    assert encoded_size(b"\x00\xff") == 2
    assert encoded_size("\ud800") == 3  # a lone surrogate (from a client) is counted, not fatal


def test_settings_carry_the_bound_to_the_engine_session() -> None:
    settings = EngineSettings.from_settings(Settings(max_write_buffer=12345))
    assert settings.max_write_buffer == 12345


def test_a_legacy_queue_at_the_bound_lives_and_one_byte_more_closes_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session, closes = legacy_session()
    session.send("x" * 600, T0)
    session.send("é" * 200, T0)  # 400 bytes in 200 characters: 1000 in all, at the bound
    assert (session.closed, session.queued) == (False, BOUND)
    with caplog.at_level(logging.WARNING, "tornio.protocol.backlog"):
        session.send("y", T0)
    assert session.closed and closes.reasons == [WRITE_BUFFER_FULL]
    assert session.overflow == Overflow("xhr-polling", BOUND + 1)
    assert (session.outbox, session.queued) == ([], 0)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "legacy-sid (xhr-polling)" in record.getMessage()
    assert "1001 bytes" in record.getMessage()


def test_an_engine_queue_at_the_bound_lives_and_one_byte_more_closes_it() -> None:
    session, reasons = engine_session()
    session.send("4" + "x" * 499)
    head = '451-["bin",{"_placeholder":true,"num":0}]'
    session.send_many([head + " " * (100 - len(head)), b"\x00" * 400])  # 100 + 400 bytes
    assert (session.closed, session.queued) == (False, BOUND)
    session.send(b"\x01")
    assert session.closed and reasons == [WRITE_BUFFER_FULL]
    assert session.overflow == Overflow("polling", BOUND + 1)


def test_a_client_that_keeps_polling_never_reaches_the_bound() -> None:
    legacy, legacy_closes = legacy_session()
    engine, reasons = engine_session()
    for _ in range(10):  # ten times the bound in all, never more than 600 bytes queued
        legacy.send("x" * 300, T0)
        legacy.send("x" * 300, T0)
        engine.send("x" * 300)
        engine.send_many(["x" * 150, b"x" * 150])
        answered = FakeSink("xhr-polling")
        legacy.attach(answered, T0)
        assert answered.packets == ["x" * 300] * 2
        poll = EngineSink()
        engine.attach_poll(poll, 0.0)
        assert poll.frames == ["x" * 300, "x" * 150, b"x" * 150]
        assert legacy.queued == engine.queued == 0
    assert not legacy.closed and not engine.closed
    assert legacy_closes.reasons == reasons == []


def test_a_transport_reports_its_write_buffer_past_the_bound() -> None:
    """A persistent transport counts its own unsent bytes and reports them once past the
    bound: the session closes (and closes the sink), once, whatever comes after."""
    session, closes = legacy_session()
    stream = FakeSink("htmlfile")
    session.attach(stream, T0)
    session.overflowed("htmlfile", BOUND + 50)
    session.overflowed("htmlfile", BOUND + 99)  # a late second report changes nothing
    session.send("more", T0)
    assert closes.reasons == [WRITE_BUFFER_FULL]
    assert session.overflow == Overflow("htmlfile", BOUND + 50)
    assert stream.closes == 1

    engine, reasons = engine_session()
    websocket = EngineSink("websocket")
    engine.attach_websocket(websocket, 0.0)
    engine.send("4" + "x" * 5000)  # written at once: a websocket's bytes are its own
    assert not engine.closed and engine.queued == 0
    engine.overflowed("websocket", BOUND + 1)
    assert reasons == [WRITE_BUFFER_FULL] and websocket.closed
    assert engine.overflow == Overflow("websocket", BOUND + 1)


def test_an_upgrade_probe_does_not_lift_the_bound() -> None:
    """While a websocket probes, polls are answered with noops and packets queue: the bound
    still applies."""
    session, reasons = engine_session()
    session.begin_upgrade(EngineSink("websocket"), 0.0)
    session.send("4" + "x" * BOUND)
    assert reasons == [WRITE_BUFFER_FULL]


def test_the_overflow_is_counted_by_protocol_and_transport() -> None:
    counters = Counters()
    counters.disconnected("legacy", "transport error", Overflow("htmlfile", 70_000))
    counters.disconnected("legacy", "transport error", Overflow("htmlfile", 65_000))
    counters.disconnected("modern", "transport error", Overflow("polling", 65_000))
    counters.disconnected("modern", "transport close")
    snap = counters.snapshot()
    assert snap["overflows"] == [["legacy", "htmlfile", 2], ["modern", "polling", 1]]
    text = metrics.render([(None, snap)]).decode()
    [family] = [f for f in text_string_to_metric_families(text)
                if f.name == "tornio_write_buffer_overflows"]
    assert {(s.labels["protocol"], s.labels["transport"], s.value) for s in family.samples
            if s.name.endswith("_total")} == {("legacy", "htmlfile", 2), ("modern", "polling", 1)}
