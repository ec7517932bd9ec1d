"""A Django project written for gevent-socketio, imports renamed (tests/apps/gevent_django):
``sdjango.urls``' view calls ``socketio_manage(request.environ, SOCKETIO_NS, request)`` when
a socket opens, and the namespaces read ``self.request.user``, the user of the browser's
Django session (issue 23).

Served as gevent-socketio applications are (``SocketIOServer(listener, application)``) and
by ``tornio serve --workers 2``, each in a subprocess on a SQLite database of its own;
driven by the 0.9 protocol client (xhr-polling, websocket) and socket.io-client 4.x, each with
the session cookie of a user logged in through a Django view.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

from tests.support.legacy_client import LegacyClient, fetch
from tests.support.node_client import NodeClient, node_modules_ready
from tests.support.serve_cluster import ROOT, ClusterProcess
from tests.test_embedding import free_port, wait_for_port

SETTINGS = "tests.apps.gevent_django.settings"


@pytest.fixture(scope="module")
def django_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the project's processes, its database migrated."""
    db = tmp_path_factory.mktemp("gevent_django") / "db.sqlite3"
    env = {**os.environ, "GEVENT_DJANGO_DB": str(db), "DJANGO_SETTINGS_MODULE": SETTINGS}
    subprocess.run([sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"],
                   cwd=ROOT, env=env, check=True, timeout=120)
    return env


@pytest.fixture
def socketio_server(django_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``python -m tests.apps.gevent_django.serve PORT``: SocketIOServer(listener, app)."""
    port = free_port()
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.apps.gevent_django.serve", str(port)],
            cwd=ROOT, env=django_env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(10)


async def login(base: str, name: str) -> str:
    """Log ``name`` in through the project's view; the ``Cookie`` header of its browser."""
    response = await fetch(f"{base}/login/{name}/")
    assert response.code == 200, response.body
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        cookie.load(header)
    return f"sessionid={cookie['sessionid'].value}"


async def whoami_09(base: str, transport: str, cookie: str | None) -> dict[str, Any]:
    client = await LegacyClient(
        base, transport, headers={"Cookie": cookie} if cookie else None
    ).connect()
    try:
        await client.send("1::/chat", '5:1+:/chat:{"name":"whoami"}', '5:2+::{"name":"ping"}')
        assert await client.recv() == "1::/chat"
        answers = sorted([await client.recv(), await client.recv()])
        assert answers[1] == '6:::2+["pong"]'  # the global namespace, @namespace() with no name
        assert answers[0].startswith("6::/chat:1+"), answers
        [who] = json.loads(answers[0].partition("+")[2])
        assert who["path"] == f"/socket.io/1/{transport}/{client.sid}"
        return dict(who)
    finally:
        await client.close()


def whoami_4x(base: str, cookie: str) -> dict[str, Any]:
    options = {"nsp": "/chat", "extraHeaders": {"Cookie": cookie}}
    with NodeClient(base, "interactive", options) as client:
        client.step("connect")
        [who] = client.emit("whoami")
        client.quit()
    assert who["path"] == "/socket.io/"  # the Engine.IO handshake's request
    return dict(who)


async def test_a_django_view_calls_socketio_manage_under_socketio_server(
    socketio_server: str,
) -> None:
    missing = node_modules_ready()
    if missing:
        pytest.fail(missing)
    cookie = await login(socketio_server, "ann")
    for transport in ("xhr-polling", "websocket"):
        who = await whoami_09(socketio_server, transport, cookie)
        assert (who["user"], who["authenticated"]) == ("ann", True)
    anonymous = await whoami_09(socketio_server, "websocket", None)
    assert (anonymous["user"], anonymous["authenticated"]) == ("", False)
    who = await asyncio.to_thread(whoami_4x, socketio_server, cookie)
    assert (who["user"], who["authenticated"]) == ("ann", True)
    client = await LegacyClient(socketio_server, "websocket", headers={"Cookie": cookie}).connect()
    try:  # a DjangoNamespace opened by the view finds the session from its request
        await client.send("1::/django", '5:1+:/django:{"name":"whoami"}')
        assert await client.recv() == "1::/django"
        assert await client.recv() == '6::/django:1+["ann"]'
    finally:
        await client.close()


async def test_a_django_view_calls_socketio_manage_under_tornio_serve(
    django_env: dict[str, str], tmp_path: Path,
) -> None:
    missing = node_modules_ready()
    if missing:
        pytest.fail(missing)
    cluster = ClusterProcess("tests.apps.gevent_django.serve:router", tmp_path, workers=2,
                             env=django_env)
    await asyncio.to_thread(cluster.start)
    try:
        cookie = await login(cluster.url, "bob")
        seen = await asyncio.gather(
            whoami_09(cluster.url, "xhr-polling", cookie),
            whoami_09(cluster.url, "websocket", cookie),
            whoami_09(cluster.url, "xhr-polling", cookie),
            asyncio.to_thread(whoami_4x, cluster.url, cookie),
        )
        assert {(who["user"], who["authenticated"]) for who in seen} == {("bob", True)}
        assert "Traceback" not in cluster.log_text(), cluster.tail()
    finally:
        await asyncio.to_thread(cluster.kill)
