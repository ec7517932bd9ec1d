"""The chat example (examples/chat) as a user runs it: ``tornio serve chat:router`` in a
subprocess, people in headless Chromium."""

from __future__ import annotations

import importlib.util
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import tornado.web
from playwright.sync_api import BrowserContext, expect

from tests.support import LiveServer
from tests.support.chat_example import EXAMPLE, ROOT, VENDOR, ChatProcess
from tests.support.chat_users import ChatView


@pytest.fixture
def chat_example(tmp_path: Path) -> Iterator[ChatProcess]:
    missing = [str(path.relative_to(ROOT)) for path in VENDOR.values() if not path.is_file()]
    if missing:
        pytest.fail(
            f"the chat example's npm packages are not installed ({', '.join(missing)} missing): "
            "run scripts/setup (it runs npm install in examples/chat)"
        )
    chat = ChatProcess(tmp_path / "tornio-serve.log")
    try:
        yield chat.start()
    finally:
        chat.stop()


def test_two_users_talk_in_a_room_and_see_each_other_come_and_go(
    chat_example: ChatProcess, browser_context: Callable[..., BrowserContext]
) -> None:
    room = chat_example.url + "/?room=kitchen"
    alice = ChatView(browser_context(), room)
    bob = ChatView(browser_context(), room)
    assert alice.transport == bob.transport == "websocket"  # the client's first choice
    expect(alice.page.locator("#room-name")).to_have_text("kitchen")

    alice.pick_nickname("alice")
    expect(alice.page.locator("#message-form")).to_be_visible()
    alice.expect_nicknames("alice")
    alice.expect_line(".announcement", "alice connected")

    bob.pick_nickname("alice")  # taken
    expect(bob.page.locator("#nickname-error")).to_be_visible()
    expect(bob.page.locator("#message-form")).to_be_hidden()
    bob.pick_nickname("bob")
    expect(bob.page.locator("#nickname-form")).to_be_hidden()
    for user in (alice, bob):
        user.expect_nicknames("alice", "bob")
        user.expect_line(".announcement", "bob connected")

    alice.say("hi bob <b>not bold</b>")
    bob.expect_line(".message", "hi bob <b>not bold</b>")
    bob.say("hello alice")
    alice.expect_line(".message", "hello alice")
    conversation = [("alice", "hi bob <b>not bold</b>"), ("bob", "hello alice")]
    assert alice.messages() == bob.messages() == conversation

    bob.page.close()  # bob leaves
    alice.expect_line(".announcement", "bob disconnected")
    alice.expect_nicknames("alice")
    assert alice.errors == [] and bob.errors == []


def test_polling_users_in_separate_rooms_reconnect_after_a_server_restart(
    chat_example: ChatProcess, browser_context: Callable[..., BrowserContext]
) -> None:
    alice = ChatView(browser_context(), chat_example.url + "/?room=den&transport=xhr-polling")
    bob = ChatView(browser_context(), chat_example.url + "/?room=den&transport=jsonp-polling")
    carol = ChatView(browser_context(), chat_example.url + "/?room=attic")
    assert (alice.transport, bob.transport, carol.transport) == (
        "xhr-polling", "jsonp-polling", "websocket",
    )
    for user, nickname in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        user.pick_nickname(nickname)
    for user in (alice, bob, carol):
        user.expect_nicknames("alice", "bob", "carol")  # the whole namespace

    alice.say("in the den")
    bob.expect_line(".message", "in the den")
    carol.say("in the attic")  # nobody else is in the attic
    bob.say("still here")
    alice.expect_line(".message", "still here")
    assert alice.messages() == [("alice", "in the den"), ("bob", "still here")]
    assert carol.messages() == [("carol", "in the attic")]

    # Ctrl-C and start it again: every page says so, reconnects by itself, joins its room
    # again and takes its nickname back.
    chat_example.stop()
    chat_example.start()
    for user in (alice, bob, carol):
        user.expect_line(".system", "Reconnected to the server")
        expect(user.page.locator("#status")).to_have_attribute("data-state", "connected")
        lost = user.page.locator("#messages .system")
        expect(lost.filter(has_text="Disconnected from the server")).to_have_count(1)
        expect(lost.filter(has_text="Attempting to re-connect").first).to_be_attached()
    for user in (alice, bob, carol):
        user.expect_nicknames("alice", "bob", "carol")
    assert (alice.transport, bob.transport) == ("xhr-polling", "jsonp-polling")

    bob.say("after the restart")
    alice.expect_line(".message", "after the restart")
    assert carol.messages() == [("carol", "in the attic")]
    assert alice.errors == bob.errors == carol.errors == []


# -- the example's module, imported directly -------------------------------------------------


def load_chat_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tornio_example_chat", EXAMPLE / "chat.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.server_errors(
    ("tornio.examples.chat", "socket.io.js is missing: run scripts/chat"),
    ("tornado.access", "^500 GET /vendor/socket.io.js"),
)
def test_missing_browser_libraries_get_a_message_that_says_how_to_install_them(
    tmp_path: Path, live_server: Callable[..., LiveServer]
) -> None:
    chat = load_chat_module()
    missing = tmp_path / "node_modules" / "socket.io-client" / "dist" / "socket.io.js"
    server = live_server(lambda: tornado.web.Application(
        [(r"/vendor/socket\.io\.js", chat.VendorFileHandler, {"file": missing})]
    ))
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(server.url + "/vendor/socket.io.js", timeout=5)
    assert raised.value.code == 500
    body = raised.value.read().decode()
    assert "scripts/chat" in body and "npm install --ignore-scripts" in body


def test_the_page_and_its_files_are_served(live_server: Callable[..., LiveServer]) -> None:
    chat = load_chat_module()
    server = live_server(chat.router.application)
    for path, kind in [("/?room=x", "text/html"), ("/static/chat.js", "javascript"),
                       ("/static/chat.css", "text/css"), ("/vendor/socket.io.js", "javascript"),
                       ("/vendor/jquery.js", "javascript")]:
        with urllib.request.urlopen(server.url + path, timeout=5) as response:
            assert response.status == 200, path
            assert kind in response.headers["Content-Type"], path
    with urllib.request.urlopen(server.url + "/vendor/socket.io.js", timeout=5) as response:
        assert b'io.version = \'0.9.16\'' in response.read()
