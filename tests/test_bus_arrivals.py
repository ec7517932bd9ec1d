"""A request for a node this node has not heard of yet waits for it (tornio/bus/arrivals.py).

A worker that has just started hands out session ids the moment its own bus path is proven;
the other nodes learn of it from its NODE_UP a little later (with two brokers, a node whose
primary broker is the other one holds the newcomer's messages until its path through that
broker works too). A request for such a session that lands on another host is forwarded to
a node missing from that host's node table: it used to be answered 503 at once, and the
client's session was lost (tests/test_cluster_brokers.py failed so at the cluster's start).

Here the order is forced: the request leaves before its node exists at all, and the node
is then started; the request waits for its NODE_UP and is answered. A node that left is
not waited for; one never heard of is waited for at most ``node_timeout``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.support.waiting import eventually
from tests.support.zmq_nodes import Nodes
from tornio.bus.arrivals import Arrivals
from tornio.bus.messages import MessageType
from tornio.bus.zmq import ZmqBus

pytestmark = pytest.mark.timeout(30)

REQUEST = {"id": "r1", "target": "/x", "body": b""}


def answer_http(bus: ZmqBus) -> None:
    """``bus`` answers forwarded requests with its node id."""

    async def execute(request: dict[str, Any]) -> dict[str, Any]:
        return {"status": 200, "headers": [], "body": bus.node_id.encode()}

    bus.set_http_handler(execute, lambda request_id: None)


async def test_a_request_for_a_node_not_yet_heard_of_waits_for_it(nodes: Nodes) -> None:
    # node_timeout far above the test's bounds: only b's arrival can end the wait.
    a, _ = await nodes("a", node_timeout=60.0)
    waiting = asyncio.ensure_future(
        a.request_node("b", MessageType.HTTP_REQUEST, REQUEST, timeout=20.0)
    )
    await eventually(lambda: a.arrivals.waiting("b") == 1 or waiting.done(), 2.0,
                     message="the request to wait for b")
    assert not waiting.done(), "answered before b existed"
    b, _ = await nodes("b", ready=False)
    answer_http(b)
    await b.ready(timeout=2.0)
    response = await asyncio.wait_for(waiting, 5.0)
    assert response == {"status": 200, "headers": [], "body": b"b"}
    assert a.arrivals.waiting("b") == 0


async def test_a_node_that_left_is_not_waited_for_until_it_is_back(nodes: Nodes) -> None:
    a, _ = await nodes("a", node_timeout=60.0)
    b, _ = await nodes("b")
    await eventually(lambda: "b" in a.nodes, 2.0, message="b in a's table")
    await b.close()  # NODE_DOWN: a knows it left
    await eventually(lambda: "b" not in a.nodes, 2.0, message="b gone from a's table")
    started = time.monotonic()
    assert await asyncio.wait_for(
        a.request_node("b", MessageType.HTTP_REQUEST, REQUEST, timeout=20.0), 5.0
    ) is None
    assert time.monotonic() - started < 5.0 and a.arrivals.has_left("b")

    again, _ = await nodes("b")  # a restarted worker keeps its node id
    answer_http(again)
    await eventually(lambda: "b" in a.nodes, 2.0, message="b back in a's table")
    assert not a.arrivals.has_left("b")
    response = await a.request_node("b", MessageType.HTTP_REQUEST, REQUEST, timeout=5.0)
    assert response is not None and response["body"] == b"b"


async def test_a_node_never_heard_of_is_waited_for_at_most_node_timeout(nodes: Nodes) -> None:
    a, _ = await nodes("a", node_timeout=0.3)
    started = time.monotonic()
    assert await asyncio.wait_for(
        a.request_node("zz", MessageType.HTTP_REQUEST, REQUEST, timeout=20.0), 5.0
    ) is None
    assert 0.3 <= time.monotonic() - started < 3.0
    # Within a shorter request timeout, the request's own.
    started = time.monotonic()
    assert await a.request_node("zz", MessageType.HTTP_REQUEST, REQUEST, timeout=0.05) is None
    assert time.monotonic() - started < 0.3


async def test_closing_the_bus_ends_the_waits(nodes: Nodes) -> None:
    a, _ = await nodes("a", node_timeout=60.0)
    waiting = asyncio.ensure_future(
        a.request_node("b", MessageType.HTTP_REQUEST, REQUEST, timeout=20.0)
    )
    await eventually(lambda: a.arrivals.waiting("b") == 1, 2.0, message="the wait for b")
    await a.close()
    assert await asyncio.wait_for(waiting, 2.0) is None


async def test_arrivals_remember_a_bounded_number_of_departures() -> None:
    arrivals = Arrivals(max_departed=2)
    for node in "xyz":
        arrivals.left(node)
    assert [arrivals.has_left(n) for n in "xyz"] == [False, True, True]
    assert await arrivals.wait("y", 10.0) is False  # at once: it left
    arrivals.left("y")  # left again: the most recent now
    arrivals.left("w")
    assert [arrivals.has_left(n) for n in "yzw"] == [True, False, True]
    two = [asyncio.ensure_future(arrivals.wait("v", 10.0)) for _ in range(2)]
    await eventually(lambda: arrivals.waiting("v") == 2, 1.0, message="two waiters")
    arrivals.joined("v")
    assert await asyncio.gather(*two) == [True, True] and arrivals.waiting("v") == 0
    assert await arrivals.wait("u", 0) is False


async def test_the_calls_waiting_at_once_are_bounded() -> None:
    """Session ids are the client's to choose: past ``max_waiting`` calls waiting at once, a
    call for a node never heard of fails at once (the 503 of before), and a place is free
    again when a wait ends."""
    arrivals = Arrivals(max_waiting=2)
    first = asyncio.ensure_future(arrivals.wait("made-up-1", 30.0))
    second = asyncio.ensure_future(arrivals.wait("made-up-2", 30.0))
    await eventually(lambda: arrivals.waiters == 2, 2.0, message="two calls waiting")
    assert await asyncio.wait_for(arrivals.wait("made-up-3", 30.0), 1.0) is False
    arrivals.joined("made-up-1")
    assert await first is True
    assert arrivals.waiters == 1
    third = asyncio.ensure_future(arrivals.wait("made-up-3", 30.0))
    await eventually(lambda: arrivals.waiting("made-up-3") == 1, 2.0, message="a third waits")
    arrivals.close()
    assert await second is False and await third is False
    assert arrivals.waiters == 0
