"""Django: ``tornio.contrib.django`` and the Django chat example (examples/django_chat).

- The example as a user runs it: ``manage.py runserver_socketio --workers 2`` in a subprocess
  (SQLite in a temporary directory), people in headless Chromium: one logs in through Django's
  login page and is named from the Django session by the namespace, one picks a nickname, one
  uses the socket.io-client 4.x page; a Django view posts a system message through the Emitter.
- The namespace side in memory, on Django set up in this process with the example's settings
  (its database in a temporary directory): the session and user read from the cookie off the
  event loop, handlers that wait for them, ``reload_session()``, ``login_required``, the
  registry and ``autodiscover()``.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from playwright.sync_api import BrowserContext, expect
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from tests.support import wait_for
from tests.support.chat_example import ExampleProcess
from tests.support.chat_users import ChatView
from tornio.bus import ids
from tornio.legacy.socket import LegacySocket
from tornio.manager import SocketManager
from tornio.protocol import legacy
from tornio.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "django_chat"
NODE_MODULES = EXAMPLE / "node_modules"
VENDOR = [
    NODE_MODULES / "socket.io-client" / "dist" / "socket.io.js",
    NODE_MODULES / "socket.io-client-4" / "dist" / "socket.io.min.js",
    NODE_MODULES / "jquery" / "dist" / "jquery.min.js",
]
PASSWORD = "wonderland-42"



def manage(*args: str, env: dict[str, str], timeout: float = 60) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        pytest.fail(
            f"manage.py {' '.join(args)} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


class DjangoChat(ExampleProcess):
    """``manage.py runserver_socketio 127.0.0.1:PORT --workers 2`` from examples/django_chat."""

    name = "runserver_socketio"
    stop_timeout = 15.0
    own_group = True  # its own process group: teardown can end every worker

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        super().__init__(EXAMPLE, log_path, env)

    def command(self) -> list[str]:
        return [sys.executable, "manage.py", "runserver_socketio", f"127.0.0.1:{self.port}",
                "--workers", "2"]


@pytest.fixture(scope="module")
def django_chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DjangoChat]:
    missing = [str(p.relative_to(ROOT)) for p in VENDOR if not p.is_file()]
    if missing:
        pytest.fail(
            f"the Django chat example's npm packages are not installed ({', '.join(missing)} "
            "missing): run scripts/setup (it runs npm install in examples/django_chat)"
        )
    tmp = tmp_path_factory.mktemp("django_chat")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatproject.settings",
        "DJANGO_CHAT_DB": str(tmp / "db.sqlite3"),
    }
    manage("migrate", "--noinput", "-v", "0", env=env)
    manage("demo_user", "--username", "alice", "--password", PASSWORD, env=env)
    chat = DjangoChat(env, tmp / "runserver_socketio.log")
    try:
        yield chat.start(timeout=30.0)
    finally:
        chat.stop()


class User(ChatView):
    """One person in a browser of their own: the chat page, or Django's pages before it."""

    def __init__(self, context: BrowserContext, url: str) -> None:
        super().__init__(context, url, connected=False)

    def log_in(self, username: str, password: str) -> None:
        self.page.click("#login-link")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.press("#id_password", "Enter")
        expect(self.page.locator("#username")).to_have_text(username)

    def worker(self) -> int:
        """The worker process that holds this (0.9) user's socket: its sid names it."""
        tag = ids.owner_of(self.sid)
        assert tag is not None, self.sid
        return ids.worker_index(tag)


class PollingGuest:
    """A 0.9 client on xhr-polling in plain blocking HTTP, whose socket is on a chosen worker.

    urllib opens a new connection for every request; the supervisor gives each new handshake
    to the least-loaded worker, so a few handshakes reach every worker; the others are left
    to expire.
    """

    def __init__(self, url: str, worker: int, tries: int = 8) -> None:
        self.base = url + "/socket.io/1"
        self.events: list[tuple[str, list[Any]]] = []
        self.acks: dict[int, list[Any]] = {}
        for _ in range(tries):
            with urllib.request.urlopen(self.base + "/", timeout=5) as response:
                self.sid = response.read().decode().split(":")[0]
            tag = ids.owner_of(self.sid)
            if tag is not None and ids.worker_index(tag) == worker:
                break
        else:
            pytest.fail(f"{tries} handshakes and none reached worker {worker}")
        self.url = f"{self.base}/xhr-polling/{self.sid}"
        self._poll()  # "1::": connected

    def send(self, packet: str) -> None:
        request = urllib.request.Request(self.url, data=packet.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    def _poll(self) -> None:
        with urllib.request.urlopen(self.url, timeout=30) as response:
            body = response.read().decode()
        for wire in legacy.decode_payload(body) if body.startswith("\ufffd") else [body]:
            packet = legacy.decode_packet(wire)
            if packet["type"] == "event":
                self.events.append((packet["name"], list(packet.get("args", []))))
            elif packet["type"] == "ack":
                self.acks[packet["ackId"]] = list(packet.get("args", []))

    def wait_for_ack(self, ack_id: int, timeout: float = 15) -> list[Any]:
        """Poll until the server answers the request numbered ``ack_id``; return its args."""

        def answered() -> bool:
            if ack_id not in self.acks:
                self._poll()
            return ack_id in self.acks

        wait_for(answered, timeout, message=f"the ack of request {ack_id}")
        return self.acks[ack_id]

    def wait_for_event(self, name: str, *args: Any, timeout: float = 15) -> None:
        def arrived() -> bool:
            if (name, list(args)) in self.events:
                return True
            self._poll()
            return (name, list(args)) in self.events

        wait_for(arrived, timeout, message=f"{name}{args} to reach the polling guest")


def test_a_logged_in_user_and_a_guest_chat_and_a_view_posts_to_the_room(
    django_chat: DjangoChat, browser_context: Callable[..., BrowserContext]
) -> None:
    # alice logs in through Django's login page and adds a room from the rooms list.
    alice = User(browser_context(), django_chat.url + "/")
    alice.log_in("alice", PASSWORD)
    alice.page.fill("#room-name-input", "Kitchen")
    alice.page.press("#room-name-input", "Enter")
    expect(alice.page).to_have_url(re.compile(r"/rooms/kitchen/$"))
    alice.expect_connected()
    # Named by the namespace from her Django session: she never types a nickname.
    expect(alice.page.locator("#message-form")).to_be_visible()
    expect(alice.page.locator("#nickname-form")).to_be_hidden()
    alice.expect_nicknames("alice")
    alice.expect_line(".announcement", "alice connected")

    # bob, not logged in, finds the room in the list and picks a nickname; a registered
    # user's name (checked in the database, off the event loop) is not his to take.
    bob = User(browser_context(), django_chat.url + "/")
    bob.page.click("#rooms >> text=Kitchen")
    bob.expect_connected()
    expect(bob.page.locator("#nickname-form")).to_be_visible()
    bob.pick_nickname("Alice")
    expect(bob.page.locator("#nickname-error")).to_be_visible()
    bob.pick_nickname("bob")
    expect(bob.page.locator("#message-form")).to_be_visible()
    for user in (alice, bob):
        user.expect_nicknames("alice", "bob")
        user.expect_line(".announcement", "bob connected")

    alice.say("hi bob <b>not bold</b>")
    bob.expect_line(".message", "hi bob <b>not bold</b>")
    bob.say("hello alice")
    alice.expect_line(".message", "hello alice")
    conversation = [("alice", "hi bob <b>not bold</b>"), ("bob", "hello alice")]
    assert alice.messages() == bob.messages() == conversation

    # carol is on the modern page: socket.io-client 4.x, the same namespace and room.
    carol = User(browser_context(), django_chat.url + "/rooms/kitchen/modern/")
    carol.expect_connected()
    carol.pick_nickname("carol")
    for user in (alice, bob, carol):
        user.expect_nicknames("alice", "bob", "carol")
    carol.say("hi from 4.x")
    for user in (alice, bob):
        user.expect_line(".message", "hi from 4.x")

    # dave listens on xhr-polling, on the worker alice's socket is not on: the room spans
    # both worker processes whatever worker the browsers landed on.
    dave = PollingGuest(django_chat.url, worker=1 - alice.worker())
    dave.send("1::/chat")
    dave.send('5:1+:/chat:{"name":"join","args":["kitchen"]}')
    # In the room once the join is answered (not before: alice's line would race his join).
    assert dave.wait_for_ack(1) == [True, None]
    alice.say("dave, are you there?")
    dave.wait_for_event("msg_to_room", "alice", "dave, are you there?")

    # Only staff see the form that posts a system message. alice (staff) posts one: a Django
    # view emits it through the Emitter, on the bus, to the room on every worker.
    expect(bob.page.locator("#system-form")).to_have_count(0)
    alice.page.fill("#system-input", "The kitchen closes at ten")
    alice.page.press("#system-input", "Enter")
    for user in (alice, bob, carol):
        user.expect_line(".system-message", "The kitchen closes at ten")
    dave.wait_for_event("system_message", "The kitchen closes at ten")
    expect(alice.page.locator("#system-input")).to_have_value("")  # the view answered 200

    bob.page.close()
    alice.expect_line(".announcement", "bob disconnected")
    alice.expect_nicknames("alice", "carol")
    assert alice.errors == bob.errors == carol.errors == []
    log = django_chat.log()
    assert "alice joined kitchen (from the Django session)" in log
    assert "Traceback" not in log, log


# -- in memory: the namespace side, on Django set up in this process -------------------------


@pytest.fixture(scope="module")
def django_here(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Django set up in this process with the example's settings and a fresh database; a
    logged-in test client factory. The environment is restored afterwards (the settings stay:
    Django cannot be set up twice)."""
    from django.conf import settings

    saved = dict(os.environ)
    if not settings.configured:
        os.environ["DJANGO_SETTINGS_MODULE"] = "chatproject.settings"
        os.environ["DJANGO_CHAT_DB"] = str(tmp_path_factory.mktemp("django_here") / "db.sqlite3")
        sys.path.insert(0, str(EXAMPLE))
        try:
            django.setup()
        finally:
            sys.path.remove(str(EXAMPLE))
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    try:
        yield settings
    finally:
        os.environ.clear()
        os.environ.update(saved)


def logged_in_cookie(username: str) -> str:
    """The session cookie of a browser where ``username`` logged in (blocking)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username=username)
    client = Client()
    client.force_login(user)
    return str(client.cookies["sessionid"].value)


class Sink:
    """A websocket-like transport connection that records what the server writes."""

    transport = "websocket"
    polling = False

    def __init__(self) -> None:
        self.packets: list[str] = []
        self.changed = asyncio.Event()
        self.closed = False

    def write(self, packets: list[str]) -> None:
        self.packets.extend(packets)
        self.changed.set()

    def close(self) -> None:
        self.closed = True
        self.changed.set()

    async def next(self, timeout: float = 5.0) -> str:
        async def wait() -> str:
            while not self.packets:
                self.changed.clear()
                await self.changed.wait()
            return self.packets.pop(0)

        return await asyncio.wait_for(wait(), timeout)


def open_socket(manager: SocketManager, cookie: str | None) -> tuple[LegacySocket, Sink]:
    headers = HTTPHeaders({"Host": "127.0.0.1"})
    if cookie:
        headers["Cookie"] = f"sessionid={cookie}"
    start_line = RequestStartLine("GET", "/socket.io/1/websocket/x", "HTTP/1.1")
    request = HTTPServerRequest(start_line=start_line, headers=headers)
    socket = manager.create_socket(request)
    sink = Sink()
    socket.attach(sink, request)
    return socket, sink


def whoami_namespaces() -> dict[str, type]:
    from tornio.contrib.django import DjangoNamespace

    class Who(DjangoNamespace):
        def on_whoami(self) -> str:  # a plain handler: the user is there when it runs
            return str(self.django_user.get_username())

        async def on_reload(self) -> str:
            user = await self.reload_session()
            return str(user.get_username())

        async def on_remember(self, colour: str) -> None:
            self.django_session["colour"] = colour
            await self.save_session()

    class Members(Who):
        login_required = True

    return {"/who": Who, "/members": Members}


async def test_the_namespace_reads_the_user_from_the_session_and_reloads_it(
    django_here: Any,
) -> None:
    from asgiref.sync import sync_to_async
    from django.contrib.sessions.backends.db import SessionStore

    cookie = await sync_to_async(logged_in_cookie)("mallory")
    manager = SocketManager(whoami_namespaces(), Settings.from_kwargs())
    socket, sink = open_socket(manager, cookie)
    assert await sink.next() == "1::"
    # The events come right after the connect packet, before the session could be read: the
    # namespace answers the connect, then each event in order, with the user from the session.
    socket.receive_packet("1::/who")
    for msg_id in (1, 2, 3):
        socket.receive_packet(f"5:{msg_id}+:/who:" + '{"name":"whoami","args":[]}')
    assert await sink.next() == "1::/who"
    for msg_id in (1, 2, 3):
        assert await sink.next() == f'6::/who:{msg_id}+["mallory"]'
    namespace: Any = socket["/who"]
    assert namespace.django_session.session_key == cookie

    # What a handler puts in the Django session is saved, for the views to see.
    socket.receive_packet("5:6+:/who:" + '{"name":"remember","args":["teal"]}')
    assert await sink.next() == "6::/who:6+[null]"
    saved = await sync_to_async(lambda: SessionStore(cookie).get("colour"))()
    assert saved == "teal"

    # A logout elsewhere: the socket still has the user it was opened with, until reloaded.
    await sync_to_async(SessionStore(cookie).delete)()
    socket.receive_packet("5:4+:/who:" + '{"name":"whoami","args":[]}')
    assert await sink.next() == '6::/who:4+["mallory"]'
    socket.receive_packet("5:5+:/who:" + '{"name":"reload","args":[]}')
    assert await sink.next() == '6::/who:5+[""]'
    assert not namespace.django_user.is_authenticated
    manager.close_all()


async def test_login_required_refuses_anonymous_sockets(django_here: Any) -> None:
    from asgiref.sync import sync_to_async

    manager = SocketManager(whoami_namespaces(), Settings.from_kwargs())
    anonymous, sink = open_socket(manager, None)
    assert await sink.next() == "1::"
    anonymous.receive_packet("1::/members")
    assert await sink.next() == "7::/members:2"  # unauthorized: the 0.9 client's connect_failed
    assert "/members" not in anonymous.active_ns

    cookie = await sync_to_async(logged_in_cookie)("member")
    member, sink = open_socket(manager, cookie)
    assert await sink.next() == "1::"
    member.receive_packet("1::/members")
    assert await sink.next() == "1::/members"
    manager.close_all()


def test_namespace_registers_classes_and_autodiscover_finds_the_apps_sockets(
    django_here: Any,
) -> None:
    from tornio.contrib.django import SOCKETIO_NS, DjangoNamespace, autodiscover, namespace

    @namespace("/test-registry")
    class Registered(DjangoNamespace):
        pass

    assert SOCKETIO_NS["/test-registry"] is Registered
    found = autodiscover()
    assert found is SOCKETIO_NS
    assert found["/chat"].__module__ == "chat.sockets"  # examples/django_chat/chat/sockets.py
    del SOCKETIO_NS["/test-registry"]


def test_runserver_socketio_reads_addresses_as_runserver_does(django_here: Any) -> None:
    from django.core.management.base import CommandError

    from tornio.contrib.django.management.commands.runserver_socketio import Command

    assert Command.parse_addrport(None) == ("127.0.0.1", 8000)
    assert Command.parse_addrport("8080") == ("127.0.0.1", 8080)
    assert Command.parse_addrport("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert Command.parse_addrport("[::1]:9000") == ("::1", 9000)
    with pytest.raises(CommandError):
        Command.parse_addrport("nope:port")


def test_the_project_router_serves_django_pages_beside_socketio(
    django_here: Any, live_server: Callable[..., Any]
) -> None:
    """``get_router()``: Django's pages (their ``Set-Cookie`` values, which Django writes with a
    leading space, included) through the WSGI thread pool; Socket.IO before them."""
    from tornio.contrib.django import get_router

    router = get_router(static=True)
    assert "/chat" in router.manager.namespaces
    server = live_server(router.application)
    with urllib.request.urlopen(server.url + "/", timeout=5) as response:
        assert response.status == 200
        assert b'id="rooms"' in response.read()
        assert response.headers["Set-Cookie"].startswith("csrftoken=")
    with urllib.request.urlopen(server.url + "/static/js/chat.js", timeout=5) as response:
        assert b"io.connect('/chat')" in response.read()
    with urllib.request.urlopen(server.url + "/socket.io/1/", timeout=5) as response:
        assert response.read().decode().split(":")[1:3] == ["60", "60"]
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(server.url + "/rooms/no-such-room/", timeout=5)
    assert missing.value.code == 404
