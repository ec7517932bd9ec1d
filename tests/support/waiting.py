"""Polling for state that no event announces (e.g. a counter in the server thread).

:func:`wait_for` blocks the calling thread (for sync tests, and servers in another thread);
:func:`eventually` is the same for async tests: the event loop goes on while it waits, so a
server on the test's own loop can make the condition come true.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually", "wait_for"]

T = TypeVar("T")


def _timed_out(predicate: object, timeout: float, message: str | None, value: object) -> str:
    what = message or getattr(predicate, "__qualname__", None) or repr(predicate)
    return f"timed out after {timeout} s waiting for {what} (last value: {value!r})"


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 5.0,
    *,
    message: str | None = None,
    interval: float = 0.01,
) -> T:
    """Call ``predicate()`` every ``interval`` seconds (10 ms) until it returns something truthy,
    and return that value. Raise AssertionError after ``timeout`` seconds.

    Exceptions raised by the predicate propagate at once. Prefer awaiting a real event (a
    future, a client callback) where one exists; this is for the places where none does::

        wait_for(lambda: server.call(lambda: len(app.sessions)) == 0, 2, message="sessions gone")
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(_timed_out(predicate, timeout, message, value))
        time.sleep(interval)


async def eventually(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 5.0,
    *,
    message: str | None = None,
    interval: float = 0.01,
) -> T:
    """:func:`wait_for` for async tests: call ``predicate()`` (awaiting what it returns when
    that is awaitable) every ``interval`` seconds until the value is truthy, and return it;
    AssertionError after ``timeout`` seconds. The loop runs meanwhile::

        await eventually(lambda: socket.engine.sink is None, message="the poll given up")
        stats = await eventually(lambda: fetch_stats(port), 10, message="the stats")
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(_timed_out(predicate, timeout, message, value))
        await asyncio.sleep(interval)
