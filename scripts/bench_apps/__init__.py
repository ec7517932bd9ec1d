"""The servers ``scripts/bench`` measures, one module each; settings come from the environment.

``BENCH_HEARTBEAT``: seconds between heartbeats (legacy ``2::``, Engine.IO ping, websocket
ping frames), the same for every server so that idle connections really heartbeat while
measured. ``BENCH_ROOM``: the room the broadcast scenario fills.
"""

from __future__ import annotations

import os

__all__ = ["ROOM", "heartbeat"]

ROOM = os.environ.get("BENCH_ROOM", "bench")


def heartbeat() -> float:
    """Seconds between heartbeats (``BENCH_HEARTBEAT``, 5 by default)."""
    return float(os.environ.get("BENCH_HEARTBEAT", "5"))
