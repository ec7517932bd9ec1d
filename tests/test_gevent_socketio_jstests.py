"""gevent-socketio 0.3.6's QUnit suite (``tests/jstests`` of its sdist: a WSGI application
whose view calls ``socketio_manage(environ, {'/test': TestNamespace})``, a page with the 0.9.16
client, ``tests/suite.js``) in headless Chromium against tornio.

The application is ported by ``tests/support/gsio_port.py`` (imports renamed, Python 3 fixes:
its ``print`` statement, its WSGI bodies as bytes) and served by
``tests/support/gsio_jstests_main.py`` in a subprocess: the module is imported, so its first
line, ``from gevent import monkey; monkey.patch_all()``, runs before tornio is imported, as
when the app runs; then its ``SocketIOServer(...)`` call is made with its own arguments but a
free loopback port (and the policy server's port). The page runs the suite for every
transport Chromium can use (all of them together, then websocket, xhr-polling and
jsonp-polling alone): 12 tests, each must pass.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support import gsio_port, wait_for
from tests.support.flash_policy import ask_sync
from tests.support.serve_cluster import ROOT, alive, children_of, free_port

pytestmark = pytest.mark.timeout(150)

HOST = "127.0.0.1"
RUNNER = ROOT / "tests" / "support" / "gsio_jstests_main.py"
ALL = "websocket,flashsocket,htmlfile,xhr-polling,jsonp-polling"  # the 0.9.16 client's list
GROUPS = [ALL, "websocket", "xhr-polling", "jsonp-polling"]  # the ones Chromium can run
NAMES = ["Connect", "Emit with ack", "Emit with ack one return value"]

#: QUnit 1.10 writes "Tests completed in ..." into #qunit-testresult when the last test ended.
DONE = """() => {
  const result = document.getElementById('qunit-testresult');
  return result !== null && result.textContent.indexOf('Tests completed') >= 0;
}"""
RESULTS = """() => Array.from(document.querySelectorAll('#qunit-tests > li')).map(li => ({
  name: li.querySelector('.test-name').textContent,
  state: li.className,
  assertions: Array.from(li.querySelectorAll('ol > li')).map(a => a.className + ': ' +
                                                             a.textContent),
}))"""


class JsTestsServer:
    """The ported jstests application, served by ``gsio_jstests_main.py``."""

    def __init__(self, directory: Path, log: Path) -> None:
        self.directory = directory
        self.log = log
        self.port = free_port()
        self.policy_port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> JsTestsServer:
        command = [sys.executable, str(RUNNER), str(self.directory), HOST, str(self.port),
                   str(self.policy_port)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            env=dict(os.environ), cwd=self.directory)
        wait_for(self._accepts, 30, message=f"the jstests app on port {self.port}")
        return self

    def _accepts(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the jstests app exited ({self.process.returncode}):\n"
                                 f"{self.output()}")
        try:
            socket.create_connection((HOST, self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Ctrl-C, as in a terminal (serve_forever stops the policy process); then whatever
        is left of it and its children is killed by pid."""
        process, self.process = self.process, None
        if process is None:
            return
        children = children_of(process.pid)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def _policy(port: int) -> bytes:
    try:
        return ask_sync(port)
    except OSError:
        return b""  # not listening yet


@pytest.fixture
def jstests_server(tmp_path: Path) -> Iterator[JsTestsServer]:
    ported = gsio_port.port(gsio_port.sdist(), tmp_path / "ported")
    server = JsTestsServer(ported.jstests, tmp_path / "jstests.log")
    try:
        yield server.start()
    finally:
        server.stop()


def test_gevent_socketio_qunit_suite_passes_in_chromium(
    jstests_server: JsTestsServer, browser_context: Callable[..., BrowserContext]
) -> None:
    page = browser_context().new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.goto(jstests_server.url + "/")
    try:
        page.wait_for_function(DONE, timeout=60_000)  # about 2 s when it passes
        finished = True
    except PlaywrightTimeout:
        finished = False  # an asyncTest whose socket never connects waits forever
    results: list[dict[str, Any]] = page.evaluate(RESULTS)
    states = "\n".join(f"{r['state']}: {r['name']}" for r in results)
    assert finished, f"the QUnit suite did not finish:\n{states}\n{jstests_server.output()}"

    expected = [f"socketio - {group}: {name}" for group in GROUPS for name in NAMES]
    assert [r["name"] for r in results] == expected
    failed = [r for r in results if r["state"] != "pass"]
    assert failed == [], f"{states}\n{jstests_server.output()}"
    # Each transport group really ran on its transport ("Connected with transport: X").
    for group, result in zip(GROUPS, results[::3], strict=True):
        transport = "websocket" if group == ALL else group
        assert any(f"Connected with transport: {transport}" in a for a in result["assertions"])
    assert page_errors == []

    # policy_server=True: the Flash policy server answers on the port it was given.
    answer = wait_for(lambda: _policy(jstests_server.policy_port), 10,
                      message="the Flash policy server")
    assert answer.startswith(b"<?xml") and answer.endswith(b"</cross-domain-policy>\0")

    output = jstests_server.output()
    assert "gevent patched: socket, select, threading, time" in output, output  # its first line ran
    # (The page has no icon: Chromium's GET /favicon.ico gets the app's 404, a WARNING of
    # tornado.access.)
    problems = [line for line in output.splitlines()
                if line.startswith(("Traceback", "ERROR", "CRITICAL", "WARNING tornio"))]
    assert problems == [], output
