"""Acks the server asks a 0.9 client for, with timeouts, and ``await call(...)``, with the
protocol-level 0.9 client over a real websocket: the server's ``5:<id>+:/life:{...}`` is
answered ``6::/life:<id>+[...]`` (a data ack), ``3:<id>:/life:...`` with ``6::/life:<id>``
(the automatic ack of ``send(..., callback=)``).

After every case the socket's pending-ack table is empty.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.apps.lifecycle import Record, namespaces
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import LegacyClient
from tornio import BaseNamespace
from tornio.exceptions import Disconnected
from tornio.protocol import legacy

pytestmark = pytest.mark.timeout(30)


class Connected:
    def __init__(self, record: Record, client: LegacyClient, ns: BaseNamespace) -> None:
        self.record, self.client, self.ns = record, client, ns
        self.socket = ns.socket

    async def asked(self) -> dict[str, Any]:
        """The next packet asking for an ack (its decoded dict)."""
        while True:
            packet = legacy.decode_packet(await self.client.recv())
            if "id" in packet:
                return dict(packet)

    async def answer(self, ack_id: int, *args: Any) -> None:
        """A data ack, then an echo round trip that proves the server has read it."""
        await self.client.send(f"6::/life:{ack_id}+{json.dumps(list(args))}")
        await self.client.emit("/life", "echo", "sync", msg_id=999)
        while await self.client.recv() != '6::/life:999+["sync"]':
            pass


@pytest.fixture
async def life() -> AsyncIterator[Connected]:
    record = Record()
    server = await InLoopServer.start(namespaces(record))
    client = LegacyClient(server.base, "websocket")
    try:
        await client.connect()
        await client.send("1::/life")
        assert await client.recv() == "1::/life"
        await record.wait_for(lambda: ("/life", client.sid) in record.instances)
        yield Connected(record, client, record.instances[("/life", client.sid)])
    finally:
        await client.close()
        await server.stop()


def recorder() -> tuple[list[tuple[Any, ...]], asyncio.Event, Any]:
    got: list[tuple[Any, ...]] = []
    called = asyncio.Event()

    def callback(*args: Any) -> None:
        got.append(args)
        called.set()

    return got, called, callback


async def test_an_answer_in_time_reaches_the_callback_error_first(life: Connected) -> None:
    got, _called, callback = recorder()
    life.ns.emit("q", 1, callback=callback, timeout=5)
    asked = await life.asked()
    assert (asked["name"], asked["args"], asked["ack"]) == ("q", [1], "data")
    timer = life.socket.ack_callbacks[asked["id"]].timer
    await life.answer(asked["id"], "yes", 2)
    assert got == [(None, "yes", 2)]
    assert life.socket.ack_callbacks == {}
    assert timer is not None and timer.cancelled()


async def test_no_answer_in_time_and_a_late_ack(
    life: Connected, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tornio.socket")
    got, called, callback = recorder()
    life.ns.emit("q", callback=callback, timeout=0.1)
    asked = await life.asked()
    await asyncio.wait_for(called.wait(), 5)
    [(error,)] = got
    assert isinstance(error, TimeoutError)
    assert life.socket.ack_callbacks == {}
    await life.answer(asked["id"], "late")
    assert len(got) == 1
    assert any("late ack" in r.getMessage() for r in caplog.records)


async def test_send_with_a_timeout_uses_the_automatic_ack(life: Connected) -> None:
    got, called, callback = recorder()
    life.ns.send("hello", callback=callback, timeout=5)
    asked = await life.asked()
    assert (asked["type"], asked["data"], asked["ack"]) == ("message", "hello", True)
    await life.client.send(f"6::/life:{asked['id']}")  # what the 0.9 client answers
    await asyncio.wait_for(called.wait(), 5)
    assert got == [(None,)]
    assert life.socket.ack_callbacks == {}


async def test_without_a_timeout_the_callback_gets_the_answer_alone(life: Connected) -> None:
    got, _called, callback = recorder()
    life.ns.emit("q", callback=callback)
    asked = await life.asked()
    await life.answer(asked["id"], "yes")
    assert got == [("yes",)]
    assert life.socket.ack_callbacks == {}


@pytest.mark.parametrize(
    ("answer", "returned"), [([1], 1), ([1, "b", None], (1, "b", None)), ([], None)]
)
async def test_call_returns_the_answer(life: Connected, answer: list[Any], returned: Any) -> None:
    calling = asyncio.ensure_future(life.ns.call("q", "x", timeout=5))
    asked = await life.asked()
    assert (asked["name"], asked["args"]) == ("q", ["x"])
    await life.answer(asked["id"], *answer)
    assert await asyncio.wait_for(calling, 5) == returned
    assert life.socket.ack_callbacks == {}


async def test_call_times_out(life: Connected) -> None:
    calling = asyncio.ensure_future(life.ns.call("q", timeout=0.1))
    asked = await life.asked()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(calling, 5)
    assert life.socket.ack_callbacks == {}
    await life.answer(asked["id"], "late")  # ignored
    assert life.socket.ack_callbacks == {}


async def test_call_raises_at_once_when_the_client_leaves(life: Connected) -> None:
    calling = asyncio.ensure_future(life.ns.call("q", timeout=None))
    await life.asked()
    await life.client.send("0::/life")
    with pytest.raises(Disconnected) as raised:
        await asyncio.wait_for(calling, 5)
    assert raised.value.reason == "client namespace disconnect"
    assert life.socket.ack_callbacks == {}
    with pytest.raises(Disconnected) as again:
        await life.ns.call("q")
    assert again.value.reason == "client namespace disconnect"


async def test_a_handler_awaiting_call_is_answered_or_cancelled_with_its_namespace(
    life: Connected,
) -> None:
    await life.client.emit("/life", "ask_back", msg_id=7)
    asked = await life.asked()
    assert asked["name"] == "question"
    await life.client.send(f"6::/life:{asked['id']}+[42]")
    while (packet := await life.client.recv()) != "6::/life:7+[42]":
        assert not packet.startswith("6:"), packet
    await life.client.emit("/life", "ask_back", msg_id=8)
    await life.asked()
    await life.client.send("0::/life")  # the handler's task ends with the namespace
    await life.record.wait_for(lambda: life.record.cancelled_calls == 1)
    assert life.socket.ack_callbacks == {}
