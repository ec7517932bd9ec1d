"""The Admin UI's protocol on the ``/admin`` namespace, in one process, with python-socketio's
client in the UI's place: the login (bcrypt password, then the session id it hands out),
``config``, ``all_sockets`` (0.9 and modern sockets), ``server_stats``, the development-mode
reports, the commands, and every bad input: a wrong password, a forged session id, a
read-only UI's command, malformed commands, bad settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import bcrypt
import pytest
import socketio  # type: ignore[import-untyped]

from tests.support.inloop import InLoopServer
from tests.support.legacy_client import LegacyClient
from tests.support.node_client import NodeClient
from tornio import BaseNamespace, BroadcastMixin, RoomsMixin, Router
from tornio.admin import AdminOptions, parse_credentials
from tornio.admin.namespace import check_session_id, make_session_id

TIMEOUT = 5
PASSWORD = "s3cret"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
GOOD = {"username": "admin", "password": PASSWORD}


class Chat(BaseNamespace, RoomsMixin, BroadcastMixin):
    def on_join(self, room: str) -> bool:
        self.join(room)
        return True

    def on_shout(self, text: str) -> None:
        self.broadcast_event("shout", text)


def admin_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"auth": {"username": "admin", "password": HASH},
                              "stats_interval": 0.2, "ui_path": None}
    config.update(overrides)
    return config


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    servers: list[InLoopServer] = []

    async def start(**admin: Any) -> InLoopServer:
        server = await InLoopServer.start({"/chat": Chat}, admin=admin_config(**admin))
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert server.router.admin is not None
        server.router.admin.stop()
        await server.stop()


class Inbox:
    """Every event a client receives on a namespace, in order."""

    def __init__(self, client: socketio.AsyncClient, namespace: str) -> None:
        self.events: asyncio.Queue[tuple[str, list[Any]]] = asyncio.Queue()
        client.on("*", self._received, namespace=namespace)

    async def _received(self, event: str, *args: Any) -> None:
        self.events.put_nowait((event, list(args)))

    async def next(self, event: str, match: Callable[[list[Any]], bool] = lambda _: True
                   ) -> list[Any]:
        """The next ``event`` whose arguments ``match`` (others are skipped)."""
        async def find() -> list[Any]:
            while True:
                name, args = await self.events.get()
                if name == event and match(args):
                    return args
        return await asyncio.wait_for(find(), TIMEOUT)


async def connect(client: socketio.AsyncClient, base: str, namespace: str,
                  auth: Any = None) -> None:
    await asyncio.wait_for(client.connect(base, transports=["websocket"], namespaces=[namespace],
                                          auth=auth, wait_timeout=TIMEOUT), TIMEOUT)


async def admin_client(sio_clients: Callable[..., socketio.AsyncClient], base: str,
                       auth: Any = None) -> tuple[socketio.AsyncClient, Inbox]:
    client = sio_clients()
    inbox = Inbox(client, "/admin")
    await connect(client, base, "/admin", GOOD if auth is None else auth)
    return client, inbox


async def test_login_config_sockets_and_stats(
    serve: Callable[..., Any], sio_clients: Callable[..., socketio.AsyncClient]
) -> None:
    server = await serve()
    chat = sio_clients()
    await connect(chat, server.base, "/chat")
    assert await chat.call("join", "lobby", namespace="/chat", timeout=TIMEOUT) is True
    chat_sid = chat.get_sid("/chat")
    legacy = await LegacyClient(server.base, "websocket").connect()
    await legacy.send("1::/chat")
    assert await legacy.recv() == "1::/chat"

    admin, inbox = await admin_client(sio_clients, server.base)
    session = (await inbox.next("session"))[0]
    assert check_session_id(HASH, session, 60)
    config = (await inbox.next("config"))[0]
    assert config == {"supportedFeatures": [
        "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT",
        "AGGREGATED_EVENTS", "ALL_EVENTS"]}
    sockets = (await inbox.next("all_sockets"))[0]
    by_id = {(s["nsp"], s["id"]): s for s in sockets}
    modern = by_id[("/chat", chat_sid)]
    assert modern["transport"] == "websocket" and modern["rooms"] == [chat_sid, "lobby"]
    assert modern["handshake"]["address"] == "127.0.0.1" and "auth" not in modern["handshake"]
    old = by_id[("/chat", legacy.sid)]  # a 0.9 client, with its transport's 0.9 name
    assert old["transport"] == "websocket" and old["clientId"] == legacy.sid[:12]
    assert ("/", legacy.sid) in by_id  # 0.9 clients are in the global namespace too
    assert ("/admin", admin.get_sid("/admin")) in by_id

    stats = (await inbox.next("server_stats"))[0]
    assert stats["serverId"].endswith(f"#{stats['pid']}")
    assert stats["clientsCount"] == 3
    namespaces = {n["name"]: n["socketsCount"] for n in stats["namespaces"]}
    assert namespaces["/chat"] == 2 and namespaces["/admin"] == 1

    # The development-mode reports, as things happen.
    assert await chat.call("join", "vip", namespace="/chat", timeout=TIMEOUT) is True
    received = await inbox.next("event_received", lambda a: a[2] == ["join", "vip"])
    assert received[:2] == ["/chat", chat_sid]
    assert (await inbox.next("room_joined"))[:3] == ["/chat", "vip", chat_sid]
    await legacy.emit("/chat", "shout", "hello")
    sent = await inbox.next("event_sent", lambda a: a[1] == chat_sid)
    assert sent[:3] == ["/chat", chat_sid, ["shout", "hello"]]
    # python-socketio's disconnect() queues the namespace's DISCONNECT and closes the
    # websocket without waiting for the queue: the server sees either first. So the client
    # leaves the namespace on its own (its packet), and the reason is that one.
    await chat._send_packet(socketio.packet.Packet(socketio.packet.DISCONNECT, namespace="/chat"))
    gone = await inbox.next("socket_disconnected", lambda a: a[1] == chat_sid)
    assert gone[0] == "/chat" and gone[2] == "client namespace disconnect"
    await chat.disconnect()
    await legacy.close()

    # The session id logs in again without the password; a forged or stale one does not.
    again, again_inbox = await admin_client(sio_clients, server.base, {"sessionId": session})
    assert (await again_inbox.next("config"))[0]["supportedFeatures"]
    for auth in ({"sessionId": session[:-1] + ("0" if session[-1] != "0" else "1")},
                 {"sessionId": make_session_id(HASH, now=0)}, {"sessionId": 42}):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await admin_client(sio_clients, server.base, auth)
    await admin.disconnect()
    await again.disconnect()


@pytest.mark.parametrize("auth", [
    {"username": "admin", "password": "wrong"},
    {"username": "someone", "password": PASSWORD},
    {"username": "admin"},
    {"username": "admin", "password": ["not", "a", "string"]},
    {},
])
async def test_bad_credentials_are_refused(
    serve: Callable[..., Any], sio_clients: Callable[..., socketio.AsyncClient], auth: Any
) -> None:
    server = await serve()
    client = sio_clients()
    refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    client.on("connect_error", lambda data: refused.set_result(data), namespace="/admin")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(client, server.base, "/admin", auth)
    assert (await asyncio.wait_for(refused, TIMEOUT)) == {"message": "invalid credentials"}
    assert server.manager.rooms.members("/admin") == {}


async def test_commands_reach_the_right_sockets(
    serve: Callable[..., Any], sio_clients: Callable[..., socketio.AsyncClient]
) -> None:
    server = await serve()
    alice, bob = sio_clients(), sio_clients()
    alice_inbox, bob_inbox = Inbox(alice, "/chat"), Inbox(bob, "/chat")
    await connect(alice, server.base, "/chat")
    await connect(bob, server.base, "/chat")
    a, b = alice.get_sid("/chat"), bob.get_sid("/chat")
    admin, _ = await admin_client(sio_clients, server.base)

    async def command(*args: Any) -> Any:
        return await admin.call(args[0], args[1:], namespace="/admin", timeout=TIMEOUT)

    assert await command("emit", "/chat", b, "news", "for bob", 1) == {"ok": True}
    assert await bob_inbox.next("news") == ["for bob", 1]
    assert await command("join", "/chat", "vip", a) == {"ok": True}
    assert set(server.manager.rooms.room("/chat", "vip")) == {a}
    assert await command("emit", "/chat", "vip", "news", "for vip") == {"ok": True}
    assert await alice_inbox.next("news") == ["for vip"]
    assert await command("emit", "/chat", None, "news", "for all") == {"ok": True}
    assert await bob_inbox.next("news") == ["for all"]  # bob never got "for vip"
    assert await command("leave", "/chat", "vip", a) == {"ok": True}
    assert server.manager.rooms.room("/chat", "vip") == {}
    disconnected: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    alice.on("disconnect", lambda *reason: disconnected.set_result(reason), namespace="/chat")
    assert await command("_disconnect", "/chat", False, a) == {"ok": True}
    await asyncio.wait_for(disconnected, TIMEOUT)
    assert set(server.manager.rooms.members("/chat")) == {b}


@pytest.mark.parametrize(("args", "error"), [
    (["_disconnect", "/chat", "yes", None], "close (a boolean)"),
    (["_disconnect", 42, False], "the namespace is a string"),
    (["emit", "/nowhere", None, "news"], "no namespace '/nowhere'"),
    (["emit", "/chat", None, "disconnect"], "not a reserved one"),
    (["emit", "/chat", None], "not a reserved one"),
    (["emit", "/chat", {"a": 1}, "news"], "the filter is a room"),
    (["join", "/chat"], "takes a namespace, a room and a filter"),
    (["leave", "/chat", 7, None], "the room is a room"),
    (["join", "/chat", "vip", None, "extra"], "takes a namespace, a room and a filter"),
])
async def test_malformed_commands_get_an_error(
    serve: Callable[..., Any], sio_clients: Callable[..., socketio.AsyncClient],
    args: list[Any], error: str,
) -> None:
    server = await serve()
    chat = sio_clients()
    await connect(chat, server.base, "/chat")
    admin, inbox = await admin_client(sio_clients, server.base)
    answer = await admin.call(args[0], tuple(args[1:]), namespace="/admin", timeout=TIMEOUT)
    assert answer["ok"] is False and error in answer["error"]
    name, message = await inbox.next("error")
    assert name == "invalid_admin_command" and error in message
    assert len(server.manager.rooms.members("/chat")) == 1  # nothing was done
    assert server.manager.rooms.rooms_of("/chat") == []


async def test_readonly_refuses_commands(
    serve: Callable[..., Any], sio_clients: Callable[..., socketio.AsyncClient]
) -> None:
    server = await serve(readonly=True)
    chat = sio_clients()
    await connect(chat, server.base, "/chat")
    sid = chat.get_sid("/chat")
    admin, inbox = await admin_client(sio_clients, server.base)
    assert (await inbox.next("config"))[0] == {
        "supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"]}
    for command in (["join", "/chat", "vip", sid], ["_disconnect", "/chat", True, sid],
                    ["emit", "/chat", sid, "news", "x"], ["leave", "/chat", "vip", sid]):
        await admin.emit(command[0], tuple(command[1:]), namespace="/admin")
        name, message = await inbox.next("error")
        assert name == "method_access_denied", message
    assert chat.connected and server.manager.rooms.room("/chat", "vip") == {}
    assert (await inbox.next("server_stats"))[0]["clientsCount"] == 2  # it still sees


async def test_production_mode_reports_stats_only(
    serve: Callable[..., Any], sio_clients: Callable[..., socketio.AsyncClient]
) -> None:
    server = await serve(mode="production")
    _admin, inbox = await admin_client(sio_clients, server.base)
    assert (await inbox.next("config"))[0]["supportedFeatures"][-1] == "AGGREGATED_EVENTS"
    chat = sio_clients()
    await connect(chat, server.base, "/chat")
    await inbox.next("server_stats", lambda a: a[0]["clientsCount"] == 2)
    seen: list[str] = []
    while not inbox.events.empty():
        seen.append(inbox.events.get_nowait()[0])
    assert set(seen) <= {"server_stats", "session"}
    assert server.manager.monitor is None


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="auth"):
        AdminOptions.from_config({})
    with pytest.raises(ValueError, match="bcrypt hash"):
        AdminOptions.from_config({"auth": {"username": "a", "password": "plain"}})
    with pytest.raises(TypeError, match="unknown admin settings: colour"):
        AdminOptions.from_config({"auth": False, "colour": "blue"})
    with pytest.raises(ValueError, match="mode"):
        AdminOptions.from_config({"auth": False, "mode": "debug"})
    with pytest.raises(ValueError, match="namespace"):
        AdminOptions.from_config({"auth": False, "namespace": "admin"})
    with pytest.raises(ValueError, match="stats_interval"):
        AdminOptions.from_config({"auth": False, "stats_interval": 0})
    with pytest.raises(ValueError, match="already has a namespace '/admin'"):
        Router({"/admin": Chat}, admin={"auth": False})
    with pytest.raises(ValueError, match="USER:BCRYPT_HASH"):
        parse_credentials("no-colon")
    assert parse_credentials("ops:$2b$x") == {"username": "ops", "password": "$2b$x"}
    options = AdminOptions.from_config({"auth": False, "ui_path": "/ops"})
    assert not options.authenticated and options.ui_path == "/ops/"



async def test_an_upgrade_is_reported(
    serve: Callable[..., Any], sio_clients: Callable[..., socketio.AsyncClient]
) -> None:
    """socket.io-client 4.x joins on polling, then upgrades: the UI hears of it."""
    server = await serve()
    _admin, inbox = await admin_client(sio_clients, server.base)
    node = await asyncio.to_thread(NodeClient, server.base, "interactive", {"nsp": "/chat"})
    try:
        sid = (await asyncio.to_thread(node.step, "connect"))["id"]
        connected = (await inbox.next("socket_connected", lambda a: a[0]["id"] == sid))[0]
        assert connected["transport"] == "polling"
        await asyncio.to_thread(node.step, "upgrade")
        updated = (await inbox.next("socket_updated", lambda a: a[0]["id"] == sid))[0]
        assert updated == {"id": sid, "nsp": "/chat", "transport": "websocket"}
    finally:
        await asyncio.to_thread(node.__exit__, None, None, None)


@pytest.mark.parametrize(("flags", "message"), [
    (["--admin", "no-colon"], "USER:BCRYPT_HASH"),
    (["--admin", "admin:plain-password"], "bcrypt hash"),
    (["--admin", f"admin:{HASH}", "--admin-no-auth"], "choose one"),
])
def test_bad_admin_flags_stop_tornio_serve(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from workers.cli import main

    assert main(["serve", "tests.apps.operated:router", "--port", "0", *flags]) == 2
    assert message in capsys.readouterr().err
