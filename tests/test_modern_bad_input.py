"""Bad input from modern (Engine.IO v4 / Socket.IO v5) clients, request by request: each gets
the reference server's answer (``reference/modern.md`` §1.9, §2.2–§2.3), and a bystander
session on the same server carries on (an exchange after the bad input proves it).

The reference answers, in short: a refused request is HTTP 400 (403 for code 4) with
``{"code": n, "message": …}``; a packet the Engine.IO or Socket.IO decoder refuses, an event
for a namespace not joined, and a second CONNECT close the whole session (a held GET is
answered ``1``, a websocket is closed, the sid is unknown afterwards); a POST body over
``maxPayload`` is answered 413 and a websocket message over it closes that websocket (1009).

Two differences, both deliberate: a refused POST body is answered 400 where the reference
destroys the request (the official suite accepts either), and a POST over ``maxPayload`` also
closes its session at once, where the reference leaves that to the client, which gives up on
a failed POST anyway.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest
from tornado.httpclient import HTTPClientError, HTTPResponse
from tornado.websocket import WebSocketError, websocket_connect

from tests.apps.probe import Record, namespaces
from tests.support.engine_client import EnginePolling, EngineWebSocket, error_of
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import fetch
from tests.support.waiting import eventually

MAX_PAYLOAD = 10_000

ERRORS = {
    0: "Transport unknown",
    1: "Session ID unknown",
    2: "Bad handshake method",
    3: "Bad request",
    5: "Unsupported protocol version",
}


class Env:
    """The server, what it recorded, and two bystander sessions joined to /test, one on
    websocket and one on polling."""

    def __init__(
        self, server: InLoopServer, record: Record, ws: EngineWebSocket, poll: EnginePolling
    ) -> None:
        self.server = server
        self.record = record
        self.bystander = ws
        self.polling_bystander = poll

    @property
    def base(self) -> str:
        return self.server.base

    async def bystander_carries_on(self) -> None:
        """The bystanders' sessions are still there and still answer."""
        engines = self.server.manager.engines
        assert self.bystander.sid in engines and self.polling_bystander.sid in engines
        assert await self.bystander.exchange("/test", "undisturbed")
        assert await self.polling_bystander.exchange("/test", "undisturbed")

    async def forgotten(self, engine_sid: str) -> None:
        """The session is gone: the server forgot it, and its sid is unknown to a GET."""
        assert engine_sid not in self.server.manager.engines
        response = await fetch(f"{self.base}/socket.io/?EIO=4&transport=polling&sid={engine_sid}")
        assert error_of(response) == (400, {"code": 1, "message": ERRORS[1]})


async def start(**settings: Any) -> tuple[InLoopServer, Record]:
    record = Record()
    server = await InLoopServer.start(namespaces(record), max_buffer_size=MAX_PAYLOAD, **settings)
    return server, record


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    """The server and its bystanders; whatever a test did, they carry on at its end too."""
    server, record = await start()
    ws = await EngineWebSocket.open(server.base)
    try:
        await ws.join("/test")
        poll = await EnginePolling.open(server.base)
        await poll.join("/test")
        environment = Env(server, record, ws, poll)
        yield environment
        await environment.bystander_carries_on()
    finally:
        ws.close()
        await server.stop()


def url(env: Env, query: str) -> str:
    return f"{env.base}/socket.io/?{query}"


async def ws_refused(env: Env, query: str) -> tuple[int, dict[str, Any]]:
    """A websocket upgrade the server must refuse: (status, JSON body)."""
    with pytest.raises((HTTPClientError, WebSocketError)) as raised:
        await websocket_connect(url(env, query).replace("http://", "ws://", 1))
    error = raised.value
    response = getattr(error, "response", None)
    assert response is not None, f"no HTTP answer to the upgrade: {error!r}"
    return error_of(response)


# -- refused requests (modern.md §1.9) ------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "EIO=4",
        "EIO=4&transport=",
        "EIO=4&transport=flashsocket",
        "EIO=4&transport=webtransport",
        "EIO=4&transport=Polling",
    ],
)
async def test_unknown_transport(env: Env, query: str) -> None:
    response = await fetch(url(env, query))
    assert error_of(response) == (400, {"code": 0, "message": ERRORS[0]})
    assert await ws_refused(env, query) == (400, {"code": 0, "message": ERRORS[0]})
    assert env.server.manager.engines.keys() == {env.bystander.sid, env.polling_bystander.sid}
    await env.bystander_carries_on()


async def test_websocket_transport_without_an_upgrade(env: Env) -> None:
    response = await fetch(url(env, "EIO=4&transport=websocket"))
    assert error_of(response) == (400, {"code": 3, "message": ERRORS[3]})
    await env.bystander_carries_on()


async def test_unknown_sid(env: Env) -> None:
    for method, body in (("GET", None), ("POST", b"4hello")):
        response = await fetch(url(env, "EIO=4&transport=polling&sid=nope"), method, body)
        assert error_of(response) == (400, {"code": 1, "message": ERRORS[1]}), method
    assert await ws_refused(env, "EIO=4&transport=websocket&sid=nope") == (
        400,
        {"code": 1, "message": ERRORS[1]},
    )
    # A websocket session's sid on the polling transport: known, but the wrong transport.
    response = await fetch(url(env, f"EIO=4&transport=polling&sid={env.bystander.sid}"))
    assert error_of(response) == (400, {"code": 3, "message": ERRORS[3]})
    await env.bystander_carries_on()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_bad_handshake_method(env: Env, method: str) -> None:
    response = await fetch(url(env, "EIO=4&transport=polling"), method, b"")
    assert error_of(response) == (400, {"code": 2, "message": ERRORS[2]})
    assert env.server.manager.engines.keys() == {env.bystander.sid, env.polling_bystander.sid}
    await env.bystander_carries_on()


@pytest.mark.parametrize("eio", ["5", "2", "abc", "", None])
async def test_wrong_eio_version(env: Env, eio: str | None) -> None:
    query = "transport=polling" if eio is None else f"EIO={eio}&transport=polling"
    response = await fetch(url(env, query))
    assert error_of(response) == (400, {"code": 5, "message": ERRORS[5]})
    ws_query = query.replace("polling", "websocket")
    assert await ws_refused(env, ws_query) == (400, {"code": 5, "message": ERRORS[5]})
    await env.bystander_carries_on()


async def test_eio3_is_refused_when_not_allowed() -> None:
    server, _ = await start(allow_eio3=False)
    try:
        response = await fetch(f"{server.base}/socket.io/?EIO=3&transport=polling")
        assert error_of(response) == (400, {"code": 5, "message": ERRORS[5]})
        with pytest.raises(HTTPClientError) as raised:
            await websocket_connect(
                server.base.replace("http", "ws", 1) + "/socket.io/?EIO=3&transport=websocket"
            )
        assert raised.value.response is not None
        assert error_of(raised.value.response) == (400, {"code": 5, "message": ERRORS[5]})
        # EIO=4 is served by that same server.
        poll = await EnginePolling.open(server.base)
        await poll.join("/test")
        assert await poll.exchange()
    finally:
        await server.stop()


# -- invalid packets on polling ---------------------------------------------------------------


async def joined_poll(env: Env) -> EnginePolling:
    poll = await EnginePolling.open(env.base)
    await poll.join("/test")
    return poll


async def held_get(env: Env, poll: EnginePolling) -> asyncio.Future[HTTPResponse]:
    """A GET that the server holds (it has nothing to send yet)."""
    get = asyncio.ensure_future(poll.get())
    engine = env.server.manager.engines[poll.sid].engine

    def held() -> bool:
        assert not get.done(), get.result().body
        return engine.sink is not None

    await eventually(held, message="the GET held", interval=0.002)
    return get


@pytest.mark.parametrize(
    "body",
    [
        "abc",  # unknown Engine.IO packet type
        "9",
        "",
        "4hello\x1e8oops",  # the second record is bad
        "b!!not base64!!",
    ],
)
async def test_invalid_engine_io_payload_on_polling(env: Env, body: str) -> None:
    poll = await joined_poll(env)
    held = env.server.manager.engines[poll.sid]
    get = await held_get(env, poll)
    response = await poll.post(body)
    assert response.code == 400
    assert (await get).body == b"1"  # the held GET learns the session is closed
    assert held.engine.closed and held.engine.close_reason == "parse error"
    await env.forgotten(poll.sid)
    await env.bystander_carries_on()


async def test_binary_post_body_on_engine_io_4(env: Env) -> None:
    poll = await joined_poll(env)
    response = await poll.post(b"4hello", content_type="application/octet-stream")
    assert response.code == 400
    await env.forgotten(poll.sid)
    await env.bystander_carries_on()


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        ("4abc", "parse error"),  # unknown Socket.IO packet type
        ('42/test,{"not":"an array"}', "parse error"),  # invalid payload shape
        ('42/test,["echo", "unterminated', "parse error"),  # bad JSON
        ('42/test,abc["echo",1]', "parse error"),  # bad ack id
        ('42/test,["connect"]', "parse error"),  # a reserved event name
        ('42/other,["echo",1]', "invalid state"),  # a namespace not joined
        ('42["echo",1]', "invalid state"),  # nor is "/"
        ("40/test,", "invalid state"),  # already joined
        ('44/test,{"message":"from a client"}', "invalid state"),  # CONNECT_ERROR from a client
        # a placeholder beyond the one attachment announced
        ('451-/test,["binary",{"_placeholder":true,"num":1}]\x1ebAQID', "parse error"),
        ('4511-/test,["binary"]', "parse error"),  # more than max_attachments (10)
        # text while an attachment is awaited
        (
            '452-/test,["binary",{"_placeholder":true,"num":0}]\x1ebAQID\x1e42/test,[1]',
            "parse error",
        ),
    ],
)
async def test_invalid_socket_io_packet_on_polling(env: Env, packet: str, reason: str) -> None:
    poll = await joined_poll(env)
    socket = env.server.manager.engines[poll.sid]
    get = await held_get(env, poll)
    response = await poll.post(packet)
    # The Engine.IO payload was fine: the POST is answered; the Socket.IO layer closes the
    # session, which the held GET is told.
    assert (response.code, response.body) == (200, b"ok")
    assert (await get).body == b"1"
    assert socket.engine.close_reason == reason
    await env.forgotten(poll.sid)
    await env.bystander_carries_on()


async def test_more_attachments_than_announced_on_polling(env: Env) -> None:
    poll = await joined_poll(env)
    get = await held_get(env, poll)
    # One attachment announced, two sent: the packet completes with the first (its handler
    # runs and emits binary_back), the second belongs to no packet and closes the session.
    packet = '451-/test,["binary",{"_placeholder":true,"num":0}]\x1ebAQID\x1ebBAUG'
    response = await poll.post(packet)
    assert (response.code, response.body) == (200, b"ok")
    assert (await get).body.startswith(b'453-/test,["binary_back",')
    assert env.record.received_binary == [b"\x01\x02\x03"]
    await env.forgotten(poll.sid)
    await env.bystander_carries_on()


# -- invalid packets on websocket --------------------------------------------------------------


async def joined_ws(env: Env) -> EngineWebSocket:
    ws = await EngineWebSocket.open(env.base)
    await ws.join("/test")
    return ws


PARSE, STATE = "parse error", "invalid state"


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        (["abc"], PARSE),  # unknown Engine.IO packet type
        (["9"], PARSE),
        ([""], PARSE),
        (["2"], "invalid heartbeat direction"),  # a v4 client does not ping
        (["4abc"], PARSE),  # unknown Socket.IO packet type
        (['42/test,{"not":"an array"}'], PARSE),  # invalid payload shape
        (['42/test,["echo", "unterminated'], PARSE),  # bad JSON
        (['42/test,abc["echo",1]'], PARSE),  # bad ack id
        (['42/test,["disconnect"]'], PARSE),  # a reserved event name
        (['42/other,["echo",1]'], STATE),  # a namespace not joined
        (["40/test,"], STATE),  # already joined
        (['44/test,{"message":"from a client"}'], STATE),  # CONNECT_ERROR from a client
        ([b"\x01\x02"], PARSE),  # binary with no packet waiting for attachments
        # More attachments than announced: the packet completes with the first, the second
        # belongs to no packet.
        (['451-/test,["binary",{"_placeholder":true,"num":0}]', b"\x01", b"\x02"], PARSE),
        (['451-/test,["binary",{"_placeholder":true,"num":1}]', b"\x01"], PARSE),  # num 1 of 1
        (['4511-/test,["binary"]'], PARSE),  # more than max_attachments (10)
        (['452-/test,["binary",{"_placeholder":true,"num":0}]', b"\x01", "42/test,[1]"], PARSE),
    ],
    ids=lambda value: repr(value[0])[:40] if isinstance(value, list) else "",
)
async def test_invalid_packet_on_websocket_closes_it(
    env: Env, frames: list[str | bytes], reason: str
) -> None:
    ws = await joined_ws(env)
    socket = env.server.manager.engines[ws.sid]
    for frame in frames:
        await ws.send(frame)
    assert await ws.closed()
    assert socket.engine.close_reason == reason
    await env.forgotten(ws.sid)
    await env.bystander_carries_on()


def msgpack_packet(**fields: Any) -> bytes:
    packed: bytes = msgpack.packb(fields, use_bin_type=True)
    return packed


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([b"\xc1"], PARSE),  # not msgpack
        ([msgpack_packet(type=9, nsp="/test")], PARSE),  # no such packet type
        ([msgpack_packet(type=0, nsp="/test", data="not a map")], PARSE),
        (
            [msgpack_packet(type=0, nsp="/test"), msgpack_packet(type=2, nsp="/test", data={})],
            PARSE,
        ),  # an event that is not an array
        (
            [msgpack_packet(type=0, nsp="/test"), msgpack_packet(type=2, nsp="/other", data=["x"])],
            STATE,
        ),  # a namespace not joined
        ([msgpack_packet(type=0, nsp="/test"), '42/test,["echo"]'], PARSE),  # text after msgpack
    ],
    ids=["garbage", "type", "connect-data", "event-data", "not-joined", "text"],
)
async def test_invalid_msgpack_packet_on_websocket_closes_it(
    env: Env, frames: list[str | bytes], reason: str
) -> None:
    ws = await EngineWebSocket.open(env.base)
    socket = env.server.manager.engines[ws.sid]
    for frame in frames:
        await ws.send(frame)
    assert await ws.closed()
    assert socket.engine.close_reason == reason
    await env.forgotten(ws.sid)
    await env.bystander_carries_on()


async def test_an_ack_with_an_unknown_id_is_ignored(env: Env) -> None:
    ws = await joined_ws(env)
    await ws.send('43/test,999["nobody asked"]')
    assert await ws.exchange("/test", "the same session")
    await env.bystander_carries_on()


async def test_binary_attachments_up_to_the_limit_are_fine(env: Env) -> None:
    ws = await joined_ws(env)
    placeholders = [{"_placeholder": True, "num": i} for i in range(10)]
    wire = json.dumps(placeholders, separators=(",", ":"))[1:-1]
    await ws.send(f'4510-/test,7["echo",{wire}]')
    for i in range(10):
        await ws.send(bytes([i]))
    assert await ws.recv() == f"4610-/test,7[{wire}]"
    assert [await ws.recv() for _ in range(10)] == [bytes([i]) for i in range(10)]
    await env.bystander_carries_on()


# -- maxPayload -------------------------------------------------------------------------------


def event_of_size(size: int, ack_id: int = 7) -> str:
    """``42/test,<id>["echo","xxx…"]``, exactly ``size`` bytes long."""
    empty = f'42/test,{ack_id}["echo",""]'
    return f'42/test,{ack_id}["echo","{"x" * (size - len(empty))}"]'


async def test_polling_post_at_and_over_max_payload(env: Env) -> None:
    poll = await joined_poll(env)
    body = event_of_size(MAX_PAYLOAD)
    response = await poll.post(body)
    assert (response.code, response.body) == (200, b"ok")  # exactly the limit: fine
    assert (await poll.get_text()).startswith('43/test,7["xxx')

    response = await poll.post(event_of_size(MAX_PAYLOAD + 1))
    assert response.code == 413
    await env.forgotten(poll.sid)
    await env.bystander_carries_on()


async def test_websocket_message_at_and_over_max_payload(env: Env) -> None:
    ws = await joined_ws(env)
    await ws.send(event_of_size(MAX_PAYLOAD))
    answer = await ws.recv()
    assert isinstance(answer, str) and answer.startswith('43/test,7["xxx')

    await ws.send(event_of_size(MAX_PAYLOAD + 1))
    assert await ws.closed()
    assert ws.close_code == 1009  # message too big
    await env.forgotten(ws.sid)
    await env.bystander_carries_on()
