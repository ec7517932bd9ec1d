"""Websocket upgrades that reach a process other than their session's owner are relayed to
the owner's host as a byte stream (``tornio/transports/relay.py``), for modern upgrades and 0.9
websockets alike: the owner answers the upgrade and the session runs on websocket, end to
end. A relayed request is never relayed again, and an owner that cannot be reached closes
the client's connection (it keeps polling)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable

import pytest
from tornado.httputil import HTTPHeaders, RequestStartLine
from tornado.simple_httpclient import HTTPStreamClosedError
from tornado.websocket import WebSocketClientConnection, websocket_connect

from tests.support.forwarding_nodes import DirectForwarder, Node
from tests.support.legacy_client import fetch, handshake
from tests.support.waiting import eventually
from tornio.bus import InProcessBus
from tornio.transports import forwarding, relay
from workers import loops

pytestmark = pytest.mark.timeout(30)


Pair = tuple[Node, Node, dict[str, tuple[str, int]]]


def on_both_loops(scenario: Callable[[Pair], Awaitable[None]]) -> Callable[[str], None]:
    """A test that runs ``scenario`` with two nodes (the second owns the sessions), once on
    each loop ``tornio serve --loop`` offers: their transports differ."""

    @pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
    def test(loop: str) -> None:
        async def run() -> None:
            bus, forwarder = InProcessBus(), DirectForwarder()
            addresses: dict[str, tuple[str, int]] = {}
            a, b = Node(bus, forwarder, addresses), Node(bus, forwarder, addresses)
            try:
                await asyncio.wait_for(scenario((a, b, addresses)), 20)
            finally:
                await a.stop()
                await b.stop()

        loops.run(run(), loop)

    test.__name__ = scenario.__name__
    test.__doc__ = scenario.__doc__
    return test


async def modern_session(owner: Node) -> str:
    opened = await fetch(f"{owner.base}/socket.io/?EIO=4&transport=polling")
    return str(json.loads(opened.body.decode()[1:])["sid"])


async def read(ws: WebSocketClientConnection) -> str | bytes | None:
    return await asyncio.wait_for(ws.read_message(), 10)


@on_both_loops
async def test_a_modern_upgrade_through_another_process_runs_at_its_owner(pair: Pair) -> None:
    a, b, _ = pair
    sid = await modern_session(b)
    ws = await websocket_connect(f"ws://127.0.0.1:{a.port}/socket.io/?EIO=4"
                                 f"&transport=websocket&sid={sid}")
    await ws.write_message("2probe")
    assert await read(ws) == "3probe"
    await ws.write_message("5")
    await ws.write_message("40/echo,")
    connected = await read(ws)
    assert isinstance(connected, str) and connected.startswith("40/echo,{")
    big = "x" * 300_000  # more than a socket buffer, both ways: the relay's flow control
    for number in range(3):
        await ws.write_message(f'42/echo,{number}["echo","{big}",{number}]')
    for number in range(3):
        assert await read(ws) == f'43/echo,{number}["{big}",{number}]'
    engine = b.manager.get_engine(sid)
    assert engine is not None and engine.engine.transport == "websocket"
    assert a.delegate.relayed == 1 and b.delegate.relayed == 0
    assert sid not in a.manager.engines
    ws.close()
    # The owner sees the client leave through the relay.
    await eventually(lambda: engine.closed, message="the owner's session closed")


@on_both_loops
async def test_a_legacy_websocket_through_another_process_is_relayed(pair: Pair) -> None:
    a, b, _ = pair
    sid = (await handshake(b.base))[0]
    ws = await websocket_connect(f"ws://127.0.0.1:{a.port}/socket.io/1/websocket/{sid}")
    assert await read(ws) == "1::"
    await ws.write_message("1::/echo")
    assert await read(ws) == "1::/echo"
    await ws.write_message('5:1+:/echo:{"name":"echo","args":["relayed"]}')
    assert await read(ws) == '6::/echo:1+["relayed"]'
    assert a.delegate.relayed == 1
    ws.close()


UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


@on_both_loops
async def test_a_relayed_upgrade_is_never_relayed_again(pair: Pair) -> None:
    a, b, _ = pair
    sid = await modern_session(b)
    url = f"{a.base}/socket.io/?EIO=4&transport=websocket&sid={sid}"
    response = await fetch(url, headers={**UPGRADE, relay.RELAYED_HEADER: "10.0.0.9"})
    assert (response.code, response.body) == (400, forwarding.UPGRADE_REFUSED)
    assert a.delegate.relayed == 0


@on_both_loops
async def test_an_upgrade_for_an_owner_not_yet_known_is_relayed_once_it_is(pair: Pair) -> None:
    """A host that has just started hands out sessions before every other process has its
    announcement (its address): an upgrade that reaches another process meanwhile waits for
    it (``await_node``, the bus's arrivals in a worker), and is refused if it never comes."""
    a, b, addresses = pair
    owner = b.manager.node_id
    known = addresses.pop(owner)
    asked, announced = asyncio.Event(), asyncio.Event()
    arrives = True

    async def await_node(node: str) -> bool:
        assert node == owner
        asked.set()
        await announced.wait()
        return arrives

    a.delegate.await_node = await_node
    sid = (await handshake(b.base))[0]
    url = f"ws://127.0.0.1:{a.port}/socket.io/1/websocket/{sid}"
    connecting = asyncio.ensure_future(websocket_connect(url))
    await asyncio.wait_for(asked.wait(), 10)
    addresses[owner] = known  # the owner's NODE_UP, with its address, arrives
    announced.set()
    ws = await asyncio.wait_for(connecting, 10)
    assert await read(ws) == "1::"
    assert a.delegate.relayed == 1
    ws.close()

    del addresses[owner]  # an owner that never announces itself: refused after the wait
    arrives = False
    sid = (await handshake(b.base))[0]
    response = await fetch(f"{a.base}/socket.io/1/websocket/{sid}", headers=UPGRADE)
    assert (response.code, response.body) == (400, forwarding.UPGRADE_REFUSED)
    assert a.delegate.relayed == 1


@on_both_loops
async def test_an_owner_that_cannot_be_reached_closes_the_clients_connection(pair: Pair) -> None:
    a, b, addresses = pair
    sid = await modern_session(b)
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        addresses[b.manager.node_id] = ("127.0.0.1", closed.getsockname()[1])
    with pytest.raises(HTTPStreamClosedError):  # closed before any answer to the upgrade
        await websocket_connect(f"ws://127.0.0.1:{a.port}/socket.io/?EIO=4"
                                f"&transport=websocket&sid={sid}")
    assert a.delegate.relayed == 0
    polled = await fetch(f"{a.base}/socket.io/?EIO=4&transport=polling&sid={sid}&t=1",
                         method="POST", body=b"40/echo,")
    assert (polled.code, polled.body) == (200, b"ok")  # the session polls on


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.1:8000", ("10.0.0.1", 8000)),
        ("[::1]:8000", ("::1", 8000)),
        ("host.example:1", ("host.example", 1)),
        ("10.0.0.1", None),
        (":8000", None),
        ("h:0", None),
        ("h:65536", None),
        ("h:x", None),
        (8000, None),
        (None, None),
    ],
)
def test_parse_address(value: object, expected: tuple[str, int] | None) -> None:
    assert relay.parse_address(value) == expected


def test_the_relayed_request_head_keeps_the_headers_and_says_who_the_client_is() -> None:
    headers = HTTPHeaders()
    headers.add("Host", "a:1")
    headers.add("X-Forwarded-For", "1.1.1.1")
    headers.add(relay.RELAYED_HEADER, "spoofed")
    headers.add("Sec-WebSocket-Key", "k")
    head = relay.request_head(RequestStartLine("GET", "/socket.io/?x=1", "HTTP/1.1"),
                              headers, "2.2.2.2")
    assert head == (
        b"GET /socket.io/?x=1 HTTP/1.1\r\nHost: a:1\r\nSec-Websocket-Key: k\r\n"
        b"X-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nX-Tornio-Relayed: 2.2.2.2\r\n\r\n"
    )
