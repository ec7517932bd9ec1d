"""A gevent-socketio application served as it was written (issue 23): a plain WSGI
application (Flask-like) whose view calls ``socketio_manage(environ, namespaces, request)``
when a socket opens, under ``SocketIOServer(listener, app)``; the namespaces differ per view.

Clients: tests/support/legacy_client.py (the 0.9 protocol, xhr-polling and websocket) and
socket.io-client 4.x under Node. Also here: what happens around the view (the input held
while it runs, its bound; a view that does not call ``socketio_manage`` or fails), gevent's
JSON (``Decimal``), the virtual socket's attributes, the ``self``-parameter rule, and
``SocketIOServer``'s gevent-socketio keywords.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tornio.server
from tests.apps.gevent_wsgi import JOBS, App, Global, Probe
from tests.support.flash_policy import ANY, ask
from tests.support.legacy_client import LegacyClient, fetch, handshake
from tests.support.node_client import NodeClient, node_modules_ready
from tests.support.ports import free_port
from tests.support.serve_cluster import ClusterProcess, worker_of
from tornio import SocketIOServer, socketio_manage
from tornio.core.opening import MAX_HELD_INPUT
from tornio.protocol import legacy
from tornio.virtsocket import Socket


@pytest.fixture
async def served() -> AsyncIterator[tuple[SocketIOServer, App, str]]:
    app = App()
    server = SocketIOServer(("127.0.0.1", 0), app, policy_server=False)
    server.start()
    try:
        yield server, app, f"http://127.0.0.1:{server.port}"
    finally:
        app.gate.set()
        await server.stop()


async def ack_of(client: LegacyClient, endpoint: str, name: str, *args: Any) -> list[Any]:
    """Emit asking for an ack; the ack's arguments."""
    await client.emit(endpoint, name, *args, msg_id=1)
    while True:
        packet = legacy.decode_packet(await client.recv())
        if packet["type"] == "ack" and packet["ackId"] == 1:
            return list(packet.get("args", []))
        if packet["type"] == "event" and packet["name"] == "error":
            raise AssertionError(f"error event {packet['args']}")


async def join_chat(client: LegacyClient) -> None:
    await client.send("1::/chat")
    assert await client.recv() == "1::/chat"


# -- socketio_manage from a view ---------------------------------------------------------------


@pytest.mark.parametrize("transport", ["xhr-polling", "websocket"])
async def test_each_view_gives_its_sockets_namespaces_and_request(
    served: tuple[SocketIOServer, App, str], transport: str
) -> None:
    _server, app, base = served
    a = await LegacyClient(base, transport, query={"view": "a"}).connect()
    b = await LegacyClient(base, transport, query={"view": "b"}).connect()
    try:
        await join_chat(a)
        await join_chat(b)
        assert await ack_of(a, "/chat", "whoami") == [{
            "view": "a",
            "path": f"/socket.io/1/{transport}/{a.sid}",
            "request_is_the_views": True,
            "environ_is_the_views": True,
        }]
        assert await ack_of(b, "/chat", "whoami") == [{"view": "b"}]
        assert await ack_of(a, "", "hello") == ["global a"]
        await b.emit("", "hello")  # view b has no global namespace
        assert legacy.decode_packet(await b.recv())["args"][0] == "no_such_namespace"
    finally:
        await a.close()
        await b.close()
    # Once per socket, whatever the number of polls; in the WSGI threads, off the loop.
    assert sorted(view for view, _ in app.calls) == ["a", "b"]
    assert threading.get_ident() not in app.threads


async def test_a_4x_client_is_opened_by_the_view(
    served: tuple[SocketIOServer, App, str],
) -> None:
    missing = node_modules_ready()
    if missing:
        pytest.fail(missing)
    _server, app, base = served
    options = {"nsp": "/chat", "query": {"view": "b"}}
    client = await asyncio.to_thread(NodeClient, base, "interactive", options)
    try:
        await asyncio.to_thread(client.step, "connect")
        assert await asyncio.to_thread(client.emit, "whoami") == [{"view": "b"}]
        await asyncio.to_thread(client.quit)
    finally:
        client.kill()
    assert app.calls == [("b", "/socket.io/")]  # the Engine.IO handshake's request


async def test_each_worker_of_tornio_serve_runs_the_view_for_its_sockets(
    tmp_path: Path,
) -> None:
    missing = node_modules_ready()
    if missing:
        pytest.fail(missing)
    cluster = ClusterProcess("tests.apps.gevent_wsgi:router", tmp_path, workers=2)
    await asyncio.to_thread(cluster.start)
    clients: list[LegacyClient] = []
    try:
        workers = set()
        for index in range(8):  # new sessions go to the least-loaded worker
            view = "ab"[index % 2]
            client = await LegacyClient(cluster.url, query={"view": view}).connect()
            clients.append(client)
            await join_chat(client)
            [who] = await ack_of(client, "/chat", "whoami")
            assert who["view"] == view
            workers.add(worker_of(client.sid))
            if workers == {0, 1} and index:
                break
        assert workers == {0, 1}
        options = {"nsp": "/chat", "query": {"view": "b"}}
        node = await asyncio.to_thread(NodeClient, cluster.url, "interactive", options)
        try:
            await asyncio.to_thread(node.step, "connect")
            assert await asyncio.to_thread(node.emit, "whoami") == [{"view": "b"}]
            await asyncio.to_thread(node.quit)
        finally:
            node.kill()
    finally:
        await asyncio.gather(*(client.close() for client in clients))
        await asyncio.to_thread(cluster.kill)


async def test_what_the_client_sends_while_the_view_runs_waits_for_it(
    served: tuple[SocketIOServer, App, str],
) -> None:
    server, app, base = served
    app.gate.clear()
    client = await LegacyClient(base, "websocket", query={"view": "wait"}).connect()
    try:
        await client.send("1::/chat", '5:1+:/chat:{"name":"price"}')
        socket = server.router.manager.sockets[client.sid]

        async def held() -> None:  # no event says they arrived
            while len(socket.opening.held or ()) < 2:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(held(), 5)
        assert socket.state == "NEW"
        app.gate.set()
        assert await client.recv() == "1::/chat"
        ack = legacy.decode_packet(await client.recv())
        assert (ack["type"], ack["ackId"], ack.get("args")) == ("ack", 1, [1.5])
        assert socket.state == "CONNECTED"
    finally:
        await client.close()


async def test_too_much_input_while_the_view_runs_ends_the_socket(
    served: tuple[SocketIOServer, App, str], caplog: pytest.LogCaptureFixture
) -> None:
    _server, app, base = served
    app.gate.clear()
    client = await LegacyClient(base, "websocket", query={"view": "wait"}).connect()
    try:
        await client.send(*["3:::x"] * (MAX_HELD_INPUT + 1))
        assert await client.recv() == "0::"
        assert f"more than {MAX_HELD_INPUT} messages while its view ran" in caplog.text
    finally:
        app.gate.set()
        await client.close()


@pytest.mark.parametrize(("view", "logged"), [
    ("nothing", "answered 404 Not Found without calling socketio_manage()"),
    pytest.param("boom", "its view failed", marks=pytest.mark.server_errors(
        ("tornio.core.opening", r"the view opening socket \S+ failed"))),
])
async def test_a_view_that_gives_no_namespaces_ends_the_socket(
    served: tuple[SocketIOServer, App, str], caplog: pytest.LogCaptureFixture, view: str,
    logged: str,
) -> None:
    _server, _app, base = served
    client = await LegacyClient(base, "websocket", query={"view": view}).connect()
    try:
        assert await client.recv() == "0::"
        assert logged in caplog.text
    finally:
        await client.close()
    assert (await fetch(base + "/elsewhere")).body == b"a page"  # the worker goes on


# -- values and attributes -------------------------------------------------------------------


async def test_a_decimal_is_written_as_gevent_socketio_wrote_it(
    served: tuple[SocketIOServer, App, str],
) -> None:
    _server, _app, base = served
    a = await LegacyClient(base, "websocket").connect()
    b = await LegacyClient(base, "websocket").connect()
    try:
        await join_chat(a)
        await join_chat(b)
        assert await ack_of(a, "/chat", "price") == [1.5]
        assert await ack_of(a, "/chat", "shout") == [True]
        assert await b.recv_event() == ("/chat", "price", [2.25])  # a broadcast too
    finally:
        await a.close()
        await b.close()


async def test_a_socket_has_gevent_socketios_attributes(
    served: tuple[SocketIOServer, App, str],
) -> None:
    server, _app, base = served
    JOBS.clear()
    client = await LegacyClient(base, "xhr-polling").connect()
    try:
        await join_chat(client)
        [seen] = await ack_of(client, "/chat", "attributes")
        assert seen["hits"] >= 1
        assert {**seen, "hits": 1} == {
            "state": "CONNECTED", "hits": 1, "server_has_me": True, "namespaces": ["", "/chat"],
            "environ": True, "in_chat": True,
        }
        assert await ack_of(client, "/chat", "spawn") == [True]
        socket = server.router.manager.sockets[client.sid]
        socket.disconnect()
        assert socket.state == "DISCONNECTED"
        [job] = JOBS
        with pytest.raises(asyncio.CancelledError):  # the socket's job ends with it
            await asyncio.wait_for(job, 5)
        assert job.cancelled()
    finally:
        await client.close()


def test_a_virtual_socket_is_made_as_gevent_socketio_made_one() -> None:
    class StandIn:
        """gevent-socketio's tests pass a mock server."""

    server = StandIn()
    socket = Socket(server, {})
    assert socket.server is server and not socket.connected and socket.state == "NEW"
    namespaces = {"/": Global}
    socket._set_namespaces(namespaces)
    socket._set_request({"test": "a"})
    socket._set_environ({"x": 1})
    assert socket.namespaces == namespaces and socket.served_namespaces == {"": Global}
    assert socket.request == {"test": "a"} and socket.environ == {"x": 1}
    socket.state = socket.STATE_CONNECTED
    socket.incr_hits()
    assert socket.connected and socket.hits == 1
    with pytest.raises(ValueError, match="does not start with '/'"):
        socket._set_namespaces({"chat": Global})
    reported: list[tuple[Any, ...]] = []
    socket._set_error_handler(lambda *args: reported.append(args))
    socket.error("no_such_method", "not found", endpoint="/chat", msg_id=3)
    assert reported == [(socket, "no_such_method", "not found", "/chat", 3, False)]
    socket._set_json_dumps(lambda value: '"written"')
    socket._set_json_loads(lambda text: "read")
    assert legacy.encode_packet({"type": "json", "data": 1}, socket.json_codec) == '4:::"written"'
    assert legacy.decode_packet("4:::1", socket.json_codec)["data"] == "read"
    with pytest.raises(RuntimeError, match=r"needs environ\['socketio'\]"):
        socketio_manage({}, {"": Global})


async def test_a_handler_whose_first_parameter_is_not_self_is_refused(
    served: tuple[SocketIOServer, App, str],
) -> None:
    _server, _app, base = served
    a = await LegacyClient(base, "websocket").connect()
    b = await LegacyClient(base, "websocket", query={"view": "b"}).connect()
    try:
        await join_chat(a)
        await join_chat(b)
        await a.emit("/chat", "no_self", 3, msg_id=1)
        assert await a.recv_event() == ("/chat", "error", [
            "invalid_method_args",
            "The server-side method is invalid, as it doesn't have 'self' as its first argument",
        ])
        assert await ack_of(b, "/chat", "no_self", 3) == [3]  # tornio.BaseNamespace takes it
    finally:
        await a.close()
        await b.close()


# -- SocketIOServer's gevent-socketio keywords -------------------------------------------------


async def test_gevent_socketio_server_keywords_are_accepted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tornio.server, "_warned", set())
    caplog.set_level(logging.WARNING, "tornio.server")
    policy_port = free_port()
    access = tmp_path / "access.log"
    server = SocketIOServer(
        ("127.0.0.1", 0), None, namespaces={"/chat": Probe}, namespace="sio",
        policy_server=True, policy_listener=("127.0.0.1", policy_port),
        heartbeat_interval=7, heartbeat_timeout=30, close_timeout=40, log_file=str(access),
        handler_class=object, ws_handler_class=object, spawn="default", backlog=16,
    )
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        _sid, heartbeat, close, _ = await handshake(base, "sio")
        assert (heartbeat, close) == ("30", "40")
        assert server.router.settings.heartbeat_interval == 7
        client = await LegacyClient(base, "websocket", resource="sio").connect()
        try:
            await join_chat(client)  # namespaces given: no view, gevent-socketio's JSON still
            assert await ack_of(client, "/chat", "price") == [1.5]
        finally:
            await client.close()
        assert server.policy is not None
        assert await asyncio.to_thread(server.policy.wait_ready)
        assert await ask(policy_port) == ANY
    finally:
        await server.stop()
    assert "GET /sio/1/" in access.read_text()
    warned = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(warned) == 3 and all("gevent-socketio" in w for w in warned)
    assert "deprecated name of resource" in caplog.text
    SocketIOServer(("127.0.0.1", 0), None, handler_class=object)
    assert [r.args for r in caplog.records if "(handler_class=" in r.getMessage()] == [
        ("handler_class", "tornio's handlers are Tornado's")
    ]
    with pytest.raises(ValueError, match="TLS needs a certfile"):
        SocketIOServer(("127.0.0.1", 0), None, keyfile="key.pem")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert SocketIOServer(("127.0.0.1", 0), None, ssl_context=context).ssl_context is context
    with pytest.raises(TypeError, match="unknown tornio settings: polcy_listener"):
        SocketIOServer(("127.0.0.1", 0), None, polcy_listener=("", 1))


def test_the_packet_module_speaks_gevent_socketios_dicts() -> None:
    from tornio import packet

    assert packet.encode({"type": "json", "id": 1, "ack": "data", "endpoint": "",
                          "data": {"a": Decimal("0.5")}}) == '4:1+::{"a":0.5}'
    assert packet.encode({"type": "ack", "ackId": 12, "endpoint": "/chat",
                          "args": ["woot", "wa"]}) == '6::/chat:12+["woot","wa"]'
    assert packet.decode('5:1+::{"name":"tobi"}') == {
        "type": "event", "id": 1, "ack": "data", "endpoint": "", "name": "tobi", "args": [],
    }
    assert packet.encode({"type": "json", "endpoint": "", "data": 2},
                         json_dumps=lambda value: '"custom"') == '4:::"custom"'
    assert packet.decode("4:::[1]", json_loads=lambda text: "read") == {
        "type": "json", "endpoint": "", "data": "read",
    }
    assert packet.MSG_TYPES["event"] == 5 and packet.REASONS_VALUES[2] == "unauthorized"


def test_serve_builds_the_server_gevent_socketio_built(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[SocketIOServer] = []
    monkeypatch.setattr(SocketIOServer, "serve_forever", lambda self: built.append(self))
    tornio.server.serve(App(), host="127.0.0.1", port="0", transports="websocket, xhr-polling",
                        policy_server="true", policy_listener_port="10999", _quiet=True)
    [server] = built
    settings = server.router.settings
    assert server.listener == ("127.0.0.1", 0) and server.policy_server
    assert tuple(settings.transports) == ("websocket", "xhr-polling")
    assert (server.policy_host, settings.policy_port) == ("127.0.0.1", 10999)
    assert server.router.wsgi_manage  # an application, no namespaces: its view gives them
    assert tornio.server.serve_paste(App(), {}, port=0, _quiet=True) == 0
