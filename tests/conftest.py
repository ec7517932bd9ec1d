"""Shared fixtures: headless Chromium (Playwright, Debian's /usr/bin/chromium), fresh browser
contexts, the npm-installed client libraries, and live servers that are always stopped.

Playwright's sync API keeps its own asyncio loop marked as *running* in the main thread between
calls, which would break every later ``asyncio.run()`` and pytest-asyncio test in the session.
So the mark is only kept while a test that uses ``chromium`` runs (``_playwright_thread_state``)
and cleared otherwise. Tests that use the browser must be sync tests.

Every test fails on a server error that was only logged (``no_server_errors``): a record at
ERROR or above that the test does not declare with ``@pytest.mark.server_errors``
(``tests/support/server_errors.py`` says how).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, expect, sync_playwright
from tornado.httputil import HTTPServerConnectionDelegate

from tests.support import LiveServer
from tests.support.multihost import (  # noqa: F401  (fixtures: CURVE keys, clients)
    curve_keys,
    node_clients,
    people,
)
from tests.support.server_errors import ErrorRecords, Expected, describe, sort_out
from tests.support.sio_clients import sio_clients  # noqa: F401  (a fixture)
from tests.support.zmq_nodes import broker, nodes  # noqa: F401  (fixtures: a broker, ZmqBus nodes)

# A page waits for a server that shares two cores with the browser and the test: assertions
# get 15 s rather than Playwright's 5 (they still return as soon as they hold).
expect.set_options(timeout=15_000)

TESTS_DIR = Path(__file__).resolve().parent
NODE_MODULES = TESTS_DIR / "js" / "node_modules"
CHROMIUM = os.environ.get("TORNIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    # Debian's launcher adds this itself only when /dev/shm is small, and its check is broken
    # on some machines; Docker's 64 MB /dev/shm crashes tabs without it.
    "--disable-dev-shm-usage",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "server_errors((logger, pattern), ...): the ERROR records this test provokes on purpose "
        "(tests/support/server_errors.py)",
    )


def _expected_errors(item: pytest.Item) -> list[Expected]:
    expected = []
    for mark in item.iter_markers("server_errors"):
        for entry in mark.args:
            logger, pattern = entry
            expected.append(Expected(logger, pattern))
    return expected


@pytest.fixture(autouse=True)
def no_server_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test on any record at ERROR or above logged while it ran (its fixtures'
    set-up and teardown included) that it did not declare, and on a declared error that
    never came."""
    handler = ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    unexpected, missing = sort_out(handler.taken(), _expected_errors(request.node))
    problems = [f"logged on {r.name}: {describe(r)}" for r in unexpected]
    problems += [f"declared but never logged: {e.logger} {e.pattern!r}" for e in missing]
    if problems:
        pytest.fail("server errors:\n" + "\n".join(problems), pytrace=False)


_playwright_loops: list[asyncio.AbstractEventLoop] = []


def _enter_playwright() -> None:
    """Mark Playwright's loop as running again, as its sync API expects."""
    if _playwright_loops:
        asyncio.events._set_running_loop(_playwright_loops[0])


def _leave_playwright() -> None:
    """Unmark it, so asyncio.run() and pytest-asyncio work in this thread."""
    if _playwright_loops:
        asyncio.events._set_running_loop(None)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    pw = sync_playwright().start()
    loop = asyncio.events._get_running_loop()
    if loop is not None:
        _playwright_loops.append(loop)
    _leave_playwright()
    try:
        yield pw
    finally:
        _enter_playwright()
        pw.stop()
        asyncio.events._set_running_loop(None)
        _playwright_loops.clear()


@pytest.fixture(scope="session")
def chromium(playwright_instance: Playwright) -> Iterator[Browser]:
    """One headless Chromium for the whole session (sync API: use it from sync tests only)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup (it apt-installs chromium)")
    _enter_playwright()
    try:
        browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    finally:
        _leave_playwright()
    try:
        yield browser
    finally:
        _enter_playwright()
        try:
            browser.close()
        finally:
            _leave_playwright()


@pytest.fixture(autouse=True)
def _playwright_thread_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """While a test that uses ``chromium`` runs (set up after it, torn down before it), the
    thread belongs to Playwright; otherwise asyncio is free to run loops here."""
    if "chromium" not in request.fixturenames:
        yield
        return
    _enter_playwright()
    try:
        yield
    finally:
        _leave_playwright()


@pytest.fixture
def browser_context(chromium: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """A factory: ``browser_context(**new_context_kwargs)`` returns a fresh, isolated context
    (own cookies and cache). Every context it made is closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**kwargs: Any) -> BrowserContext:
        context = chromium.new_context(**kwargs)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def js_dir() -> Path:
    """tests/js/node_modules: socket.io-client-legacy (0.9.16), socket.io-client (4.x), jquery,
    ws. Fails (never skips) when it has not been installed."""
    if not (NODE_MODULES / "socket.io-client-legacy" / "dist" / "socket.io.js").is_file():
        pytest.fail(
            f"{NODE_MODULES} is missing or incomplete: run scripts/setup "
            "(it runs npm install in tests/js)"
        )
    return NODE_MODULES


@pytest.fixture
def live_server() -> Iterator[Callable[..., LiveServer]]:
    """A factory: ``live_server(app_factory, **LiveServer_kwargs)`` returns a started
    LiveServer. Every server it made is stopped after the test."""
    servers: list[LiveServer] = []

    def make(app_factory: Callable[[], HTTPServerConnectionDelegate], **kwargs: Any) -> LiveServer:
        server = LiveServer(app_factory, **kwargs)
        servers.append(server)
        return server.start()

    yield make
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory for a ``tornio serve``'s stats file, sockets and log. Not pytest's
    tmp_path: other pytest sessions on the machine prune old tmp_path trees, maybe while this
    one runs (and a unix socket's path must stay short)."""
    with tempfile.TemporaryDirectory(prefix="tornio-test-") as path:
        yield Path(path)
