"""How a session reports passing its bound (``tornio.protocol.backlog``): a packet with its
attachments queued at once past the bound names the queue's transport, and the WARNING says
exactly what was held, on which transport, against which bound."""

from __future__ import annotations

import logging

import pytest

from tests.support.session_sinks import Driven
from tornio.modern.session import EngineSession, EngineSettings
from tornio.protocol.backlog import WRITE_BUFFER_FULL, Overflow

BOUND = 100


def test_attachments_queued_past_the_bound_close_the_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reasons: list[str] = []
    session = Driven(EngineSession("engine-sid", 4, EngineSettings(max_write_buffer=BOUND), 0.0),
                     reasons.append)
    session.send_many(['451-["bin",{"_placeholder":true,"num":0}]', b"\x00" * 60])  # 41 + 60
    assert reasons == [WRITE_BUFFER_FULL]
    assert session.overflow == Overflow("polling", 101)
    assert [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == "tornio.protocol.backlog"] == [
        (logging.WARNING,
         "session engine-sid (polling) holds 101 bytes its client has not taken, past "
         "max_write_buffer (100): closing it"),
    ]


def test_at_the_bound_nothing_happens(caplog: pytest.LogCaptureFixture) -> None:
    reasons: list[str] = []
    session = Driven(EngineSession("engine-sid", 4, EngineSettings(max_write_buffer=BOUND), 0.0),
                     reasons.append)
    session.send_many(["4" + "x" * 39, b"\x00" * 60])
    assert (session.queued, session.closed, session.overflow, reasons) == (100, False, None, [])
    assert caplog.records == []
