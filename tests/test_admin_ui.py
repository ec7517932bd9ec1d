"""The real Socket.IO Admin UI (``@socket.io/admin-ui`` from npm, its built page served by
tornio itself) in headless Chromium, against ``tornio serve --workers 2 --admin``.

A socket.io-client 0.9.16 page and a socket.io-client 4.x client (Node) join ``/chat``, one
on each worker. The UI's login form is filled in; the UI then lists both workers (their
``hostname#pid``) and both sockets, with their transports. An emit issued on the UI's own
connection reaches only the socket it names (the npm build of the UI, 0.5.1, advertises
``EMIT`` but has no form for it, so the test sends the UI protocol's ``emit`` command on the
UI's websocket, captured as the page opened it); the "disconnect this socket" button of the
socket's page disconnects the 0.9 client, and only it. A wrong password gets the UI's
"invalid credentials".
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.support.node_client import NodeClient
from tests.support.serve_cluster import ClusterProcess, worker_of

PASSWORD = "ui-s3cret"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()

#: Keeps every websocket the page opens (and what it sent) in ``window.__sockets``.
TRACK_WEBSOCKETS = """
window.__sockets = [];
const Native = window.WebSocket;
class Tracked extends Native {
  constructor(...args) { super(...args); this.__sent = []; window.__sockets.push(this); }
  send(data) { this.__sent.push(data); return super.send(data); }
}
window.WebSocket = Tracked;
"""
STORE = "document.querySelector('[data-app]').__vue__.$root.$store"


@pytest.fixture
def cluster(tmp_path: Path, js_dir: Path) -> Iterator[ClusterProcess]:
    process = ClusterProcess("tests.apps.operated:router", tmp_path, workers=2, args=[
        "--admin", f"admin:{HASH}", "--admin-ui-package", str(js_dir / "@socket.io" / "admin-ui"),
    ])
    try:
        yield process.start()
    finally:
        process.kill()


def ui_page(context: BrowserContext, cluster: ClusterProcess) -> Page:
    """The UI's page, from the cluster (nothing from elsewhere: its fonts are refused)."""

    def local_only(route: Route) -> None:
        if route.request.url.startswith(cluster.url):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", local_only)
    context.add_init_script(TRACK_WEBSOCKETS)
    page = context.new_page()
    page.goto(cluster.url + "/admin/")
    return page


def log_in(page: Page, cluster: ClusterProcess, password: str) -> None:
    page.get_by_label("Server URL").fill(cluster.url)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Connect").click()


@contextlib.contextmanager
def other_worker_client(
    cluster: ClusterProcess, worker: int
) -> Iterator[tuple[NodeClient, str]]:
    """A socket.io-client 4.x on ``/chat`` on the worker that is not ``worker``, and its id (a
    new connection goes to the least loaded worker: the first try lands there but for a race
    with the load reports)."""
    for _ in range(5):
        client = NodeClient(cluster.url, "interactive",
                            {"nsp": "/chat", "transports": ["websocket"], "total": 120_000})
        with client:
            sid = str(client.step("connect")["id"])
            if worker_of(sid) != worker:
                yield client, sid
                return
    raise AssertionError(f"every client landed on worker {worker}")


def sockets_in(page: Page, nsp: str) -> dict[str, dict[str, object]]:
    found = page.evaluate(
        f"(nsp) => ({STORE}.state.main.namespaces.find(n => n.name === nsp) || "
        "{sockets: []}).sockets.map(s => ({id: s.id, transport: s.transport, "
        "connected: s.connected}))", nsp)
    return {s["id"]: s for s in found}


def test_admin_ui_sees_and_drives_the_cluster(
    cluster: ClusterProcess, browser_context: Callable[..., BrowserContext], js_dir: Path
) -> None:
    # The 0.9.16 page.
    old = browser_context().new_page()
    old.goto(cluster.url + "/legacy.html")
    old.evaluate("connectChat('lobby')")
    old.wait_for_function("events.some(e => e[0] === 'joined')")
    old_sid = str(old.evaluate("socket.socket.sessionid"))

    with other_worker_client(cluster, worker_of(old_sid)) as (modern, modern_sid):
        assert modern.emit("join", "lobby") == [True]

        ui = ui_page(browser_context(), cluster)
        log_in(ui, cluster, PASSWORD)
        expect(ui.get_by_role("button", name="Connect")).to_be_hidden()

        # Both workers, by hostname#pid.
        hostname = socket.gethostname()
        expected = {f"{hostname}#{pid}" for pid in cluster.worker_pids().values()}
        ui.wait_for_function(f"{STORE}.state.servers.servers.length === 2")
        assert set(ui.evaluate(f"{STORE}.state.servers.servers.map(s => s.serverId)")) \
            == expected
        ui.evaluate("location.hash = '#/servers/'")
        for server_id in expected:
            expect(ui.get_by_text(server_id)).to_be_visible()

        # Both sockets, with their transports (0.9's own name for the 0.9 page's).
        ui.wait_for_function(
            f"([a, b]) => {{ const n = {STORE}.state.main.namespaces.find(n => n.name === "
            "'/chat'); return n && [a, b].every(id => n.sockets.some(s => s.id === id)); }",
            arg=[old_sid, modern_sid])
        chat = sockets_in(ui, "/chat")
        assert chat[old_sid]["transport"] == "websocket"
        assert chat[modern_sid]["transport"] == "websocket"
        ui.evaluate("location.hash = '#/sockets/'")

        # An emit to the 4.x client, on the UI's connection, once it is on websocket.
        ui.wait_for_function("window.__sockets.some(ws => ws.readyState === 1 && "
                             "ws.__sent.includes('5'))")
        command = json.dumps(["emit", "/chat", modern_sid, "announce", "from the UI"])
        ui.evaluate("(frame) => window.__sockets.find(ws => ws.__sent.includes('5'))"
                    ".send(frame)", f"42/admin,{command}")
        assert modern.step("event", event="announce")["args"] == ["from the UI"]
        assert modern.emit("whoami")[0][1] == modern_sid  # the emit came before this
        assert not old.evaluate("events.some(e => e[0] === 'announce')")

        # Disconnect the 0.9 client with the button on its socket's page.
        ui.evaluate(f"location.hash = '#/n/%2Fchat/sockets/{old_sid}'")
        button = ui.locator("button:has(i.mdi-logout)").nth(1)
        expect(button).to_be_enabled()
        button.click()
        old.wait_for_function("events.some(e => e[0] === 'disconnect')")
        ui.wait_for_function(
            f"(id) => !{STORE}.state.main.namespaces.find(n => n.name === '/chat')"
            ".sockets.some(s => s.id === id)", arg=old_sid)
        assert modern.emit("whoami")[0][1] == modern_sid  # the 4.x client is still there
        assert modern_sid in sockets_in(ui, "/chat")


def test_admin_ui_refuses_a_wrong_password(
    cluster: ClusterProcess, browser_context: Callable[..., BrowserContext]
) -> None:
    ui = ui_page(browser_context(), cluster)
    log_in(ui, cluster, "not the password")
    expect(ui.get_by_text("Invalid credentials")).to_be_visible()
    assert not ui.evaluate(f"{STORE}.state.connection.connected")
    assert os.path.exists(cluster.log_path)
