"""People on the chat (examples/chat, examples/django_chat, or tests.apps.workers_chat which
serve the same page): socket.io-client 0.9.16 in a Chromium page, socket.io-client 4.x under
Node.

:class:`ChatPage` and :class:`NodeChatter` record everything their connection was answered,
so that a test can tell that no request of theirs was ever told its session is unknown,
whichever worker it reached.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import BrowserContext, Page, Request, WebSocket, expect

from tests.support.node_client import NodeClient

__all__ = ["ChatPage", "ChatView", "NodeChatter"]

UNKNOWN_SESSION = "7:::1+0"


class ChatView:
    """The chat page (examples/chat's, also served by examples/django_chat and the test apps)
    in a page of its own: what a person does there and what it shows. ``connected``: wait
    for the page's socket to connect (a page that logs in first does not have one yet)."""

    def __init__(self, context: BrowserContext, url: str, *, connected: bool = True) -> None:
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.watch()
        self.page.goto(url)
        if connected:
            self.expect_connected()

    def watch(self) -> None:
        """Called before the page loads: a subclass records what it wants to."""

    def expect_connected(self) -> None:
        expect(self.page.locator("#status")).to_have_attribute("data-state", "connected")

    @property
    def sid(self) -> str:
        return str(self.page.evaluate("chat.socket.socket.sessionid"))

    @property
    def transport(self) -> str:
        return str(self.page.evaluate("chat.socket.socket.transport.name"))

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


class ChatPage(ChatView):
    """The chat page in a browser context (pages of one context share its connections), that
    records every answer its connection got; a nickname it picks must be accepted."""

    def watch(self) -> None:
        #: Every Socket.IO request that finished, and every websocket frame received.
        self.requests: list[Request] = []
        self.frames: list[str] = []
        self.page.on("requestfinished", self._finished)
        self.page.on("websocket", self._websocket)

    def _finished(self, request: Request) -> None:
        if "/socket.io/" in request.url:
            self.requests.append(request)

    def _websocket(self, socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: self.frames.append(str(payload)))

    def pick_nickname(self, nickname: str) -> None:
        super().pick_nickname(nickname)
        expect(self.page.locator("#message-form")).to_be_visible()

    def expect_message(self, sender: str, text: str) -> None:
        line = self.page.locator("#messages .message").filter(has_text=text)
        expect(line).to_have_count(1)
        expect(line.locator(".from")).to_have_text(sender)

    def system_lines(self) -> list[str]:
        return [str(text) for text in self.page.locator("#messages .system").all_text_contents()]

    def answers(self) -> list[tuple[int, str]]:
        """(status, body) of every finished Socket.IO request, and (101, frame) of every
        websocket frame received."""
        found: list[tuple[int, str]] = []
        for request in self.requests:
            response = request.response()
            if response is not None:
                try:
                    body = response.text()
                except Exception:  # the page navigated away: no body any more
                    body = ""
                found.append((response.status, body))
        found += [(101, frame) for frame in self.frames]
        return found

    def unknown_session_answers(self) -> list[tuple[int, str]]:
        """Answers that told the page its session is unknown, or failed."""
        return [
            (status, body)
            for status, body in self.answers()
            if status not in (101, 200) or UNKNOWN_SESSION in body
        ]


class NodeChatter:
    """socket.io-client 4.x under Node on ``/chat`` (tests/js/modern_client.mjs, interactive).

    ``transports``: None for the client's default (polling, then the upgrade to websocket).
    """

    def __init__(
        self,
        url: str,
        transports: list[str] | None = None,
        *,
        reconnection: bool = False,
        total: float = 90.0,
    ) -> None:
        options: dict[str, Any] = {
            "nsp": "/chat",
            "reconnection": reconnection,
            "timeout": 10_000,
            "total": int(total * 1000),
        }
        if transports is not None:
            options["transports"] = transports
        self.client = NodeClient(url, "interactive", options, timeout=15)
        try:
            connect = self.client.step("connect")
        except BaseException:
            self.kill()
            raise
        self.sid = str(connect["id"])
        self.transport = str(connect["transport"])

    def call(self, event: str, *args: Any) -> list[Any]:
        """Emit with an ack; the ack's arguments."""
        return self.client.emit(event, *args)

    def event(self, event: str, *args: Any, timeout: float | None = None) -> dict[str, Any]:
        """Wait for ``event`` with exactly ``args`` (events before it are skipped)."""
        return self.client.step("event", timeout, event=event, args=list(args))

    def step(self, name: str, timeout: float | None = None, **match: Any) -> dict[str, Any]:
        return self.client.step(name, timeout, **match)

    def lines(self, step: str) -> list[dict[str, Any]]:
        return [line for line in self.client.lines if line.get("step") == step]

    def quit(self) -> None:
        self.client.quit()

    def kill(self) -> None:
        """End the Node process (if still running) and close its pipes."""
        self.client.__exit__(None, None, None)

    def __enter__(self) -> NodeChatter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
