"""Acks the server asks a modern client for, with timeouts, and ``await call(...)``, against
socket.io-client 4.8 under Node (``tests/js/lifecycle_client.mjs``: it answers some events
at once and holds the others' acks until told to answer).

After every case the socket's pending-ack table is empty and the entry's timer cancelled; a
callback that stayed referenced would keep the weak reference alive and fail the test.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.apps.lifecycle import Record, namespaces
from tests.support.inloop import InLoopServer
from tests.support.lifecycle_driver import LifecycleDriver
from tornio import BaseNamespace
from tornio.exceptions import Disconnected

pytestmark = pytest.mark.timeout(60)

ANSWERS = {"answered": ["yes", 2], "one": [1], "many": [1, "b", None], "none": []}


class Connected:
    def __init__(self, record: Record, node: LifecycleDriver, ns: BaseNamespace) -> None:
        self.record, self.node, self.ns = record, node, ns
        self.socket = ns.socket

    async def ended(self) -> None:
        """The client left /life and the server has seen it."""
        await self.record.wait_for(lambda: len(self.record.of("/life", self.ns.sid)) == 2)

    async def held(self, event: str) -> None:
        """The client got ``event`` and holds its ack."""
        await self.node.step("event", sock="life", event=event, held=True)

    async def answer_late(self, event: str, *args: Any) -> None:
        """The client answers a held ack now; an echo round trip after it proves the server
        has read the answer."""
        self.node.send("answer", sock="life", event=event, args=list(args))
        await self.node.step("answered", sock="life", event=event)
        assert await self.node.emit("life", "echo", "sync") == ["sync"]


@pytest.fixture
async def life() -> AsyncIterator[Connected]:
    record = Record()
    server = await InLoopServer.start(namespaces(record))
    try:
        async with LifecycleDriver(
            server.base, {"transports": ["websocket"], "answers": ANSWERS}
        ) as node:
            sid = await node.open("life", "/life")
            await record.wait_for(lambda: ("/life", sid) in record.instances)
            yield Connected(record, node, record.instances[("/life", sid)])
    finally:
        await server.stop()


def recorder() -> tuple[list[tuple[Any, ...]], asyncio.Event, Any]:
    """A callback that records its arguments, and sets an event."""
    got: list[tuple[Any, ...]] = []
    called = asyncio.Event()

    def callback(*args: Any) -> None:
        got.append(args)
        called.set()

    return got, called, callback


def assert_freed(ref: weakref.ref[Any]) -> None:
    gc.collect()
    assert ref() is None, "the socket still holds the callback"


# -- emit(..., callback=, timeout=) ---------------------------------------------------------


async def test_an_answer_in_time_reaches_the_callback_error_first(life: Connected) -> None:
    got, called, callback = recorder()
    ref = weakref.ref(callback)
    life.ns.emit("answered", 1, callback=callback, timeout=5)
    pending = life.socket.ack_callbacks[life.socket.ack_counter]
    del callback
    await asyncio.wait_for(called.wait(), 5)
    assert got == [(None, "yes", 2)]
    assert life.socket.ack_callbacks == {}
    assert pending.timer is not None and pending.timer.cancelled()
    del pending
    assert_freed(ref)


async def test_no_answer_in_time_gives_a_timeout_error_and_a_late_ack_is_ignored(
    life: Connected, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tornio.socket")
    got, called, callback = recorder()
    ref = weakref.ref(callback)
    life.ns.emit("held", callback=callback, timeout=0.1)
    del callback
    await life.held("held")
    await asyncio.wait_for(called.wait(), 5)
    [(error,)] = got
    assert isinstance(error, TimeoutError)
    assert life.socket.ack_callbacks == {}
    assert_freed(ref)
    await life.answer_late("held", "too late")
    assert len(got) == 1  # not called again
    assert any("late ack" in r.getMessage() and r.levelno == logging.DEBUG
               for r in caplog.records)


async def test_without_a_timeout_the_callback_gets_the_answer_alone(life: Connected) -> None:
    got, called, callback = recorder()
    ref = weakref.ref(callback)
    life.ns.emit("answered", callback=callback)
    del callback
    await asyncio.wait_for(called.wait(), 5)
    assert got == [("yes", 2)]
    assert life.socket.ack_callbacks == {}
    assert_freed(ref)


async def test_a_namespace_that_ended_gives_the_callback_disconnected(life: Connected) -> None:
    await life.node.open("old", "/old")  # the connection outlives /life
    life.node.send("disconnect", sock="life")
    await life.ended()
    got, called, callback = recorder()
    life.ns.emit("answered", callback=callback, timeout=5)
    assert got == []  # never from inside emit()
    await asyncio.wait_for(called.wait(), 5)
    [(error,)] = got
    assert isinstance(error, Disconnected) and error.reason == "client namespace disconnect"
    assert life.socket.ack_callbacks == {}


async def test_bad_timeouts_are_refused(life: Connected) -> None:
    with pytest.raises(ValueError, match="needs a callback"):
        life.ns.emit("answered", timeout=1)
    with pytest.raises(ValueError, match="needs a callback"):
        life.ns.send("hello", timeout=1)
    for bad in (-1, "1", True):
        with pytest.raises(ValueError, match="timeout must be"):
            life.ns.emit("answered", callback=print, timeout=bad)
        with pytest.raises(ValueError, match="timeout must be"):
            await life.ns.call("answered", timeout=bad)  # type: ignore[arg-type]
    assert life.socket.ack_callbacks == {}
    assert await life.ns.call("one") == 1  # nothing went out before


async def test_an_unencodable_emit_raises_and_leaves_no_ack(life: Connected) -> None:
    with pytest.raises(TypeError):
        life.ns.emit("answered", object(), callback=print, timeout=1)
    with pytest.raises(TypeError):
        await life.ns.call("answered", object())
    assert life.socket.ack_callbacks == {}


# -- await call(...) ------------------------------------------------------------------------


async def test_call_returns_the_answer(life: Connected) -> None:
    assert await life.ns.call("one", timeout=5) == 1
    assert await life.ns.call("many", timeout=5) == (1, "b", None)
    assert await life.ns.call("none", timeout=5) is None
    assert await life.ns.call("one", timeout=None) == 1
    assert life.socket.ack_callbacks == {}


async def test_call_times_out_and_a_late_answer_is_ignored(life: Connected) -> None:
    calling = asyncio.ensure_future(life.ns.call("held", 1, timeout=0.1))
    await life.held("held")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(calling, 5)
    assert life.socket.ack_callbacks == {}
    await life.answer_late("held", "late")
    assert life.socket.ack_callbacks == {}


async def test_call_raises_at_once_when_the_client_leaves(life: Connected) -> None:
    calling = asyncio.ensure_future(life.ns.call("held", timeout=None))
    await life.held("held")
    life.node.send("disconnect", sock="life")
    with pytest.raises(Disconnected) as raised:
        await asyncio.wait_for(calling, 5)
    assert raised.value.reason == "client namespace disconnect"
    assert isinstance(raised.value, ConnectionError)
    assert life.socket.ack_callbacks == {}
    with pytest.raises(Disconnected):  # and on a namespace that has ended, at once
        await life.ns.call("one")


async def test_a_cancelled_call_frees_its_ack(life: Connected) -> None:
    calling = asyncio.ensure_future(life.ns.call("held", timeout=30))
    await life.held("held")
    pending = life.socket.ack_callbacks[life.socket.ack_counter]
    calling.cancel()
    await asyncio.wait([calling], timeout=5)
    assert calling.cancelled()
    assert life.socket.ack_callbacks == {}
    assert pending.timer is not None and pending.timer.cancelled()

