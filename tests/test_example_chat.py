"""The chat example (examples/chat) as a user runs it: ``tornio serve chat:router`` in a
subprocess, people in headless Chromium."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import tornado.web
from playwright.sync_api import BrowserContext, Page, expect

from tests.support import LiveServer, wait_for
from tests.support.ports import free_port
from tests.support.serve_cluster import tornio_command

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "chat"
VENDOR = {
    "socket.io.js": EXAMPLE / "node_modules" / "socket.io-client" / "dist" / "socket.io.js",
    "jquery.js": EXAMPLE / "node_modules" / "jquery" / "dist" / "jquery.min.js",
}



class ChatProcess:
    """``tornio serve chat:router`` run from examples/chat, on a fixed free port."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> ChatProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*tornio_command(), "serve", "chat:router",
                 "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=EXAMPLE, stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, timeout, message=f"the chat example to answer on {self.url}")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"tornio serve exited with {self.process.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(self.url + "/", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):  # not up yet, or busy
            return False

    def stop(self) -> None:
        """SIGTERM (a clean shutdown, as Ctrl-C), then SIGKILL if it does not end in 10 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            pytest.fail(f"tornio serve ignored SIGTERM:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


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


class User:
    """One person in a browser of their own, on the chat page."""

    def __init__(self, context: BrowserContext, url: str) -> None:
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(url)
        expect(self.page.locator("#status")).to_have_attribute("data-state", "connected")

    def pick_nickname(self, nickname: str) -> None:
        self.page.fill("#nickname-input", nickname)
        self.page.press("#nickname-input", "Enter")

    def say(self, text: str) -> None:
        self.page.fill("#message-input", text)
        self.page.press("#message-input", "Enter")

    def expect_nicknames(self, *nicknames: str) -> None:
        expect(self.page.locator("#nicknames li")).to_have_text(list(nicknames))

    def expect_line(self, selector: str, text: str) -> None:
        """Some line of the message list matches ``selector`` and reads ``text``."""
        expect(self.page.locator(f"#messages {selector}").filter(has_text=text)).to_have_count(1)

    def messages(self) -> list[tuple[str, str]]:
        """(from, text) of every chat message on the page, the user's own included."""
        lines = self.page.eval_on_selector_all(
            "#messages .message",
            "lines => lines.map(l => [l.querySelector('.from').textContent,"
            " l.querySelector('.text').textContent])",
        )
        return [(str(sender), str(text)) for sender, text in lines]

    @property
    def transport(self) -> str:
        return str(self.page.evaluate("chat.socket.socket.transport.name"))


def test_two_users_talk_in_a_room_and_see_each_other_come_and_go(
    chat_example: ChatProcess, browser_context: Callable[..., BrowserContext]
) -> None:
    room = chat_example.url + "/?room=kitchen"
    alice = User(browser_context(), room)
    bob = User(browser_context(), room)
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
    alice = User(browser_context(), chat_example.url + "/?room=den&transport=xhr-polling")
    bob = User(browser_context(), chat_example.url + "/?room=den&transport=jsonp-polling")
    carol = User(browser_context(), chat_example.url + "/?room=attic")
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
