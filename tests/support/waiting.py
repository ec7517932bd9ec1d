"""Polling for state that no event announces (e.g. a counter in the server thread)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_for"]

T = TypeVar("T")


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
            what = message or getattr(predicate, "__qualname__", None) or repr(predicate)
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what} (last value: {value!r})"
            )
        time.sleep(interval)
