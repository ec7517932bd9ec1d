"""tornio inside other applications: Router URLs in a Tornado app, SocketIOServer in front of
a Tornado or WSGI application, and the ``tornio serve`` command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from tests.apps.echo import EchoNamespace
from tests.support.legacy_client import LegacyClient, fetch, handshake
from tests.support.ports import free_port, wait_for_port
from tests.support.waiting import eventually
from tornio import Router, SocketIOServer

ROOT = Path(__file__).resolve().parent.parent


class Hello(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write("hello from the app")


async def test_router_urls_drop_into_an_existing_application() -> None:
    router = Router({"/echo": EchoNamespace}, resource="io")
    app = tornado.web.Application([*router.urls, (r"/hello", Hello)])
    server = HTTPServer(app)
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    try:
        assert (await fetch(base + "/hello")).body == b"hello from the app"
        client = await LegacyClient(base, "websocket", resource="io").connect()
        await client.send("1::/echo", '5:1+:/echo:{"name":"echo","args":[1,2]}')
        assert await client.recv() == "1::/echo"
        assert await client.recv() == "6::/echo:1+[1,2]"
        await client.close()
        router.emit("news", "x", namespace="/echo")  # public API outside any handler
    finally:
        server.stop()
        router.manager.close_all()
        await server.close_all_connections()


@pytest.fixture
async def seed_server() -> Any:
    started: list[SocketIOServer] = []

    async def start(app: Any, **kwargs: Any) -> SocketIOServer:
        server = SocketIOServer(
            ("127.0.0.1", 0),
            app,
            namespaces={"/echo": EchoNamespace},
            policy_server=False,
            **kwargs,
        )
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


async def test_socketio_server_in_front_of_a_tornado_application(seed_server: Any) -> None:
    server = await seed_server(tornado.web.Application([(r"/hello", Hello)]))
    base = f"http://127.0.0.1:{server.port}"
    assert (await fetch(base + "/hello")).body == b"hello from the app"
    assert (await fetch(base + "/elsewhere")).code == 404
    assert len(await handshake(base)) == 4


async def test_socketio_server_runs_a_wsgi_app_off_the_event_loop(seed_server: Any) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []
    release = threading.Event()

    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.append(threading.get_ident())
        release.wait(5)  # a slow Django view: the event loop must not wait for it
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"wsgi {environ['PATH_INFO']}".encode()]

    server = await seed_server(wsgi_app, transports=["xhr-polling"])
    base = f"http://127.0.0.1:{server.port}"
    slow = asyncio.ensure_future(fetch(base + "/django/page"))
    await eventually(lambda: seen, message="the WSGI view called")
    _sid, _, _, transports = await handshake(base)  # answered while the view still blocks
    assert transports == "xhr-polling"
    assert not slow.done()
    release.set()
    assert (await slow).body == b"wsgi /django/page"
    assert seen[0] != loop_thread


async def test_socketio_server_stop_ends_the_wsgi_threads_and_start_renews_them() -> None:
    pool: list[threading.Thread] = []  # this server's threads (other tests' may be alive)

    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        pool.append(threading.current_thread())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [threading.current_thread().name.encode()]

    server = SocketIOServer(("127.0.0.1", 0), wsgi_app, policy_server=False)
    server.start()
    try:
        first = (await fetch(f"http://127.0.0.1:{server.port}/page")).body.decode()
        assert first.startswith("tornio-wsgi")
        assert pool
        await server.stop()
        for thread in list(pool):  # each ends once the shut pool wakes it
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 5)
            assert not thread.is_alive(), thread.name
        server.start()  # a stopped server may start again, with a new pool
        again = (await fetch(f"http://127.0.0.1:{server.port}/page")).body.decode()
        assert again.startswith("tornio-wsgi")
    finally:
        await server.stop()


async def test_socketio_server_rejects_what_it_cannot_serve() -> None:
    with pytest.raises(TypeError):
        SocketIOServer(("127.0.0.1", 0), 42)
    with pytest.raises(ValueError, match="unknown transports"):
        SocketIOServer(("127.0.0.1", 0), None, transports=["carrier-pigeon"])
    with pytest.raises(TypeError, match="unknown tornio settings: hearbeat_interval"):
        SocketIOServer(("127.0.0.1", 0), None, hearbeat_interval=3)


# -- processes --------------------------------------------------------------------------------


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        # the whole group: a supervisor's broker would otherwise outlive it, holding the
        # pipes, and communicate() would wait for it forever
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


@pytest.mark.parametrize("target", ["tests.apps.echo:namespaces", "tests.apps.echo:router"])
def test_tornio_serve_runs_a_namespaces_dict_or_a_router(spawn: Any, target: str) -> None:
    port = free_port()
    process = spawn(sys.executable, "-m", "workers", "serve", target, "--port", str(port))
    wait_for_port(port, process)

    async def talk() -> None:
        base = f"http://127.0.0.1:{port}"
        client = await LegacyClient(base, "xhr-polling").connect()
        await client.send("1::/echo", '5:1+:/echo:{"name":"echo","args":["hi"]}')
        assert await client.recv() == "1::/echo"
        assert await client.recv() == '6::/echo:1+["hi"]'
        await client.close()

    asyncio.run(talk())
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nocolon", b"expected MODULE:OBJECT"),
        ("tests.apps.nosuchmodule:x", b"cannot import"),
        ("tests.apps.echo:missing", b"has no 'missing'"),
        ("tests.apps.echo:not_servable", b"not a Router or namespaces dict"),
    ],
)
def test_tornio_serve_explains_a_bad_target(spawn: Any, target: str, message: bytes) -> None:
    process = spawn(sys.executable, "-m", "workers", "serve", target, "--port", "0")
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert message in err


def test_tornio_serve_reports_a_taken_port(spawn: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = spawn(
            sys.executable, "-m", "workers", "serve", "tests.apps.echo:router", "--port", str(port)
        )
        _out, err = process.communicate(timeout=20)
    assert process.returncode == 1
    assert b"cannot listen" in err


def test_seed_style_serve_forever_stops_on_ctrl_c(spawn: Any) -> None:
    port = free_port()
    code = (
        "from tornio import SocketIOServer\n"
        "from tests.apps.echo import namespaces\n"
        f"SocketIOServer(('127.0.0.1', {port}), None, namespaces=namespaces,"
        " policy_server=False).serve_forever()\n"
    )
    process = spawn(sys.executable, "-c", code)
    wait_for_port(port, process)
    body = asyncio.run(fetch(f"http://127.0.0.1:{port}/socket.io/1/")).body
    assert body.count(b":") == 3
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0
