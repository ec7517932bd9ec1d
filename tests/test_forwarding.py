"""Requests that reach a process that does not own their session are answered by the owner."""

from __future__ import annotations

from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.forwarding_nodes import DirectForwarder, Echo, Node
from tests.support.legacy_client import LegacyClient, fetch, handshake
from tests.support.waiting import eventually
from tornio import Router
from tornio.bus import InProcessBus
from tornio.transports import forwarding


async def test_a_polling_session_works_through_a_process_that_does_not_own_it() -> None:
    bus, forwarder = InProcessBus(), DirectForwarder()
    a, b = Node(bus, forwarder), Node(bus, forwarder)
    try:
        sid = (await handshake(b.base))[0]
        assert sid in b.manager.sockets
        client = LegacyClient(a.base, "xhr-polling")  # every request goes to a, not b
        client.sid = sid
        await client.open()
        assert await client.recv() == "1::"
        await client.send("1::/echo", '5:1+:/echo:{"name":"echo","args":["via a"]}')
        assert await client.recv() == "1::/echo"
        assert await client.recv() == '6::/echo:1+["via a"]'
        assert a.delegate.forwarded >= 3
        assert b.delegate.forwarded == 0
        assert sid not in a.manager.sockets
        await client.close()
    finally:
        await a.stop()
        await b.stop()


async def test_a_modern_session_polls_through_another_process() -> None:
    bus, forwarder = InProcessBus(), DirectForwarder()
    a, b = Node(bus, forwarder), Node(bus, forwarder)
    try:
        opened = await fetch(f"{b.base}/socket.io/?EIO=4&transport=polling")
        sid = opened.body.decode().split('"sid":"')[1].split('"')[0]
        url = f"{a.base}/socket.io/?EIO=4&transport=polling&sid={sid}"
        post = await fetch(url, method="POST", body=b'40/echo,\x1e42/echo,1["echo",{"x":1}]')
        assert (post.code, post.body) == (200, b"ok")
        answer = (await fetch(url)).body.decode()
        assert answer.startswith("40/echo,{")
        assert answer.endswith('\x1e43/echo,1[{"x":1}]')
        assert a.delegate.forwarded == 2
    finally:
        await a.stop()
        await b.stop()


async def test_an_unreachable_owner_gets_503_and_a_local_stranger_is_unknown() -> None:
    bus, forwarder = InProcessBus(), DirectForwarder()
    a = Node(bus, forwarder)
    try:
        stranger = "zzzz00" + "x" * 14  # names a node nobody knows
        response = await fetch(f"{a.base}/socket.io/1/xhr-polling/{stranger}?t=1")
        assert response.code == 503
        ours = a.manager.node_id + "y" * 14  # names this node, but no such session
        response = await fetch(f"{a.base}/socket.io/1/xhr-polling/{ours}?t=1")
        assert response.body == b"7:::1+0"
    finally:
        await a.stop()


async def test_a_client_leaving_a_forwarded_long_poll_reaches_the_owner() -> None:
    bus, forwarder = InProcessBus(), DirectForwarder()
    a, b = Node(bus, forwarder), Node(bus, forwarder)
    try:
        opened = await fetch(f"{b.base}/socket.io/?EIO=4&transport=polling")
        sid = opened.body.decode().split('"sid":"')[1].split('"')[0]
        socket = b.manager.get_engine(sid)
        assert socket is not None
        with pytest.raises(HTTPClientError):  # the client gives up on its long poll
            await fetch(f"{a.base}/socket.io/?EIO=4&transport=polling&sid={sid}", timeout=0.3)
        # An aborted GET ends an Engine.IO session, as if it were local.
        await eventually(lambda: socket.closed, message="the session ended by the abort")
        assert forwarder.aborted
    finally:
        await a.stop()
        await b.stop()


async def test_a_websocket_for_another_process_is_refused_not_forwarded() -> None:
    """A websocket cannot travel as data: refused with 400 where it arrived (the client
    keeps polling), and the owner never sees it."""
    bus, forwarder = InProcessBus(), DirectForwarder()
    a, b = Node(bus, forwarder), Node(bus, forwarder)
    try:
        opened = await fetch(f"{b.base}/socket.io/?EIO=4&transport=polling")
        sid = opened.body.decode().split('"sid":"')[1].split('"')[0]
        upgrade = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        }
        url = f"{a.base}/socket.io/?EIO=4&transport=websocket&sid={sid}"
        response = await fetch(url, headers=upgrade)
        assert (response.code, response.body) == (400, forwarding.UPGRADE_REFUSED)
        assert a.delegate.forwarded == 0
        polled = await fetch(
            f"{a.base}/socket.io/?EIO=4&transport=polling&sid={sid}&t=1",
            method="POST",
            body=b"40/echo,",
        )
        assert (polled.code, polled.body) == (200, b"ok")  # the session goes on
    finally:
        await a.stop()
        await b.stop()


@pytest.mark.parametrize(
    "request_",
    [
        {},
        ["not", "a", "map"],
        {"method": 7},
        {
            "id": "r",
            "method": "GET",
            "target": "/",
            "version": "HTTP/1.1",
            "headers": [["a"]],
            "body": b"",
            "remote_ip": "",
            "protocol": "http",
        },
        {
            "id": "r",
            "method": "GET",
            "target": "/",
            "version": "HTTP/1.1",
            "headers": [],
            "body": "not bytes",
            "remote_ip": "",
            "protocol": "http",
        },
    ],
)
async def test_a_malformed_forwarded_request_is_dropped_with_a_log_line(
    request_: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = Router({"/echo": Echo}).application()
    assert await forwarding.execute(app, request_) is None
    assert "dropped a malformed forwarded request" in caplog.text
