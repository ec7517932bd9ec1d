"""A callback waiting for a client's acknowledgement (what :meth:`Socket.register_ack
<tornio.core.socket.Socket.register_ack>` keeps per ack id)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

__all__ = ["PendingAck"]


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
