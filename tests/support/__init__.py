"""Test infrastructure: a live Tornado server in a thread, and polling helpers."""

from tests.support.live import LiveServer
from tests.support.waiting import wait_for

__all__ = ["LiveServer", "wait_for"]
