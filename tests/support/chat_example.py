"""The chat example (examples/chat) as a user runs it: ``tornio serve chat:router`` in a
subprocess (:class:`ChatProcess`), and a person on its page in a browser (:class:`User`)."""

from __future__ import annotations

import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.ports import free_port
from tests.support.serve_cluster import tornio_command
from tests.support.waiting import wait_for

__all__ = ["EXAMPLE", "ROOT", "VENDOR", "ChatProcess", "User"]

ROOT = Path(__file__).resolve().parents[2]
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
