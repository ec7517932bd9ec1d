"""PendingAck (tornio.core.acks): what one registered ack keeps, each field as given, and the
time it was asked at (for the ack latency histogram)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from tornio.core.acks import PendingAck, run_ack_error


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


# -- run_ack_error: an ack's error callback told that no ack will come ----------------------


def test_run_ack_error_calls_the_callback_with_the_error_and_runs_nothing_else() -> None:
    seen: list[Exception] = []
    background: list[object] = []
    error = TimeoutError("no ack")
    run_ack_error(seen.append, error, background.append, "sid1")
    assert seen == [error] and background == []


@pytest.mark.server_errors(("tornio.core.acks", r"^ack callback of sid1 failed on "))
def test_a_failing_error_callback_is_logged_with_its_socket_and_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def fails(error: Exception) -> None:
        raise ValueError("broken")

    background: list[object] = []
    with caplog.at_level(logging.ERROR, logger="tornio.core.acks"):
        run_ack_error(fails, TimeoutError("t"), background.append, "sid1")
    records = [r for r in caplog.records if r.name == "tornio.core.acks"]
    assert [r.getMessage() for r in records] == ["ack callback of sid1 failed on TimeoutError('t')"]
    assert records[0].levelno == logging.ERROR and records[0].exc_info is not None
    assert background == []


async def test_an_async_error_callback_runs_in_the_background() -> None:
    seen: list[Exception] = []

    async def later(error: Exception) -> None:
        seen.append(error)

    tasks: list[asyncio.Task[object]] = []
    error = TimeoutError("late")
    run_ack_error(later, error, lambda coro: tasks.append(asyncio.ensure_future(coro)), "sid1")
    assert len(tasks) == 1 and seen == []
    await tasks[0]
    assert seen == [error]


@pytest.mark.server_errors(("tornio.core.acks", r"^ack callback of sid2 failed on "))
async def test_an_async_error_callback_that_fails_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails(error: Exception) -> None:
        raise ValueError("broken later")

    tasks: list[asyncio.Task[object]] = []
    with caplog.at_level(logging.ERROR, logger="tornio.core.acks"):
        run_ack_error(
            fails, KeyError("k"), lambda c: tasks.append(asyncio.ensure_future(c)), "sid2"
        )
        await tasks[0]
    records = [r for r in caplog.records if r.name == "tornio.core.acks"]
    assert [r.getMessage() for r in records] == ["ack callback of sid2 failed on KeyError('k')"]
    assert records[0].levelno == logging.ERROR and records[0].exc_info is not None
