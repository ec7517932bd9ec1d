"""Both generations in one room of the chat example (``tornio serve chat:router``): a person on
the page with socket.io-client 0.9.16 in headless Chromium, and socket.io-client 4.x under Node
speaking the page's events (``join``, ``nickname`` with its ack, ``user message``; receiving
``msg_to_room``, ``announcement``, ``nicknames``). Each sees the other's messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from tests.support.chat_example import ROOT, VENDOR, ChatProcess
from tests.support.chat_users import ChatView
from tests.support.node_client import NodeClient, node_modules_ready


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[ChatProcess]:
    missing = [str(path.relative_to(ROOT)) for path in VENDOR.values() if not path.is_file()]
    missing_node = node_modules_ready()
    if missing or missing_node:
        pytest.fail(f"not installed: {missing} {missing_node or ''}: run scripts/setup")
    process = ChatProcess(tmp_path / "tornio-serve.log")
    try:
        yield process.start()
    finally:
        process.stop()


def events(client: NodeClient, name: str) -> list[list[object]]:
    """The arguments of every ``name`` event the Node client printed so far."""
    return [
        line["args"]
        for line in client.lines
        if line.get("step") == "event" and line.get("event") == name
    ]


def test_a_0_9_browser_and_a_4_x_node_client_talk_in_one_room(
    chat: ChatProcess, browser_context: Callable[..., BrowserContext]
) -> None:
    alice = ChatView(browser_context(), chat.url + "/?room=kitchen")
    alice.pick_nickname("alice")
    alice.expect_nicknames("alice")

    with NodeClient(chat.url, "interactive", {"nsp": "/chat"}, timeout=10) as nora:
        nora.step("connect")
        assert nora.emit("join", "kitchen") == [True]
        # The handler's return value is the ack, for the 4.x client as for the page: the
        # nickname list spans both generations (alice's is taken).
        assert nora.emit("nickname", "alice") == [False]
        assert nora.emit("nickname", "nora") == [True]
        nora.step("event", event="announcement", args=["nora connected"])
        nora.step("event", event="nicknames", args=[["alice", "nora"]])
        alice.expect_nicknames("alice", "nora")
        alice.expect_line(".announcement", "nora connected")

        # 0.9 → 4.x
        alice.say("hello from 0.9")
        nora.step("event", event="msg_to_room", args=["alice", "hello from 0.9"])

        # 4.x → 0.9
        assert nora.emit("user message", "hello from 4.x") == [True]
        alice.expect_line(".message", "hello from 4.x")
        assert alice.messages() == [("alice", "hello from 0.9"), ("nora", "hello from 4.x")]
        # Nora heard alice's message once, and not her own.
        assert events(nora, "msg_to_room") == [["alice", "hello from 0.9"]]

        nora.quit()

    # The page sees the 4.x client leave.
    alice.expect_line(".announcement", "nora disconnected")
    alice.expect_nicknames("alice")
    assert alice.errors == []
