"""PendingAck (tornio.core.acks): what one registered ack keeps, each field as given, and the
time it was asked at (for the ack latency histogram)."""

from __future__ import annotations

import asyncio
import time

from tornio.core.acks import PendingAck


async def test_a_pending_ack_keeps_what_it_was_given() -> None:
    def answered(*args: object) -> None: ...

    def failed(error: Exception) -> None: ...

    timer = asyncio.get_running_loop().call_later(60, answered)
    before = time.monotonic()
    pending = PendingAck("/chat", answered, failed, timer)
    after = time.monotonic()
    timer.cancel()
    assert pending.endpoint == "/chat"
    assert pending.on_answer is answered
    assert pending.on_error is failed
    assert pending.timer is timer
    assert isinstance(pending.sent, float) and before <= pending.sent <= after


def test_without_error_callback_or_timer() -> None:
    pending = PendingAck("", print, None, None)
    assert (pending.endpoint, pending.on_answer, pending.on_error, pending.timer) == (
        "", print, None, None,
    )
