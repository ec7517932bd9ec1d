"""A callback waiting for a client's acknowledgement (what :meth:`Socket.register_ack
<tornio.core.socket.Socket.register_ack>` keeps per ack id), and how its error callback
runs."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["PendingAck", "run_ack_error"]

log = logging.getLogger("tornio.core.acks")


class PendingAck:
    """A callback waiting for the client's ack of one packet (see
    :meth:`tornio.core.socket.Socket.register_ack`)."""

    __slots__ = ("endpoint", "on_answer", "on_error", "sent", "timer")

    def __init__(
        self,
        endpoint: str,
        on_answer: Callable[..., Any],
        on_error: Callable[[Exception], Any] | None,
        timer: asyncio.TimerHandle | None,
    ) -> None:
        self.endpoint = endpoint
        self.on_answer = on_answer
        self.on_error = on_error
        self.timer = timer
        self.sent = time.monotonic()  # for the ack latency histogram


def run_ack_error(
    on_error: Callable[[Exception], Any],
    error: Exception,
    run_in_background: Callable[[Coroutine[Any, Any, Any]], None],
    sessid: str,
) -> None:
    """Tell an ack's ``on_error`` (of socket ``sessid``) that no ack will come: ``error``
    (a timeout, ``Disconnected``). A failure is logged; an ``async`` one runs in the
    background."""
    try:
        result = on_error(error)
    except Exception:
        log.exception("ack callback of %s failed on %r", sessid, error)
        return
    if inspect.isawaitable(result):
        run_in_background(_await_ack_error(result, error, sessid))


async def _await_ack_error(awaitable: Any, error: Exception, sessid: str) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("ack callback of %s failed on %r", sessid, error)
