"""The Flash policy server: its answer, its defences (garbage, silence, floods), its process
(1,000 concurrent requests, 10,000 bad connections, SIGKILL), and who starts it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.flash_policy import ANY, ask, ask_sync
from tests.support.legacy_client import fetch
from tests.support.ports import free_port
from tests.support.waiting import wait_for
from tornio import SocketIOServer
from tornio.policy import (
    EXIT_PORT_UNAVAILABLE,
    REQUEST,
    PolicyServer,
    PolicySupervisor,
    policy_xml,
)
from tornio.transports.heads import HeadLimitHTTPServer

pytestmark = pytest.mark.timeout(60)


# -- the answer ---------------------------------------------------------------------------------


def test_policy_xml_from_origins() -> None:
    assert policy_xml("*:*") + b"\0" == ANY
    xml = policy_xml(["a.example:80", "*:8080", 'b"x.example:*', "c.example", "http://d.example:1"])
    assert xml.endswith(
        b'<allow-access-from domain="a.example" to-ports="80"/>'
        b'<allow-access-from domain="*" to-ports="8080"/>'
        b'<allow-access-from domain="b&quot;x.example" to-ports="*"/>'
        b'<allow-access-from domain="c.example" to-ports="*"/>'
        b'<allow-access-from domain="d.example" to-ports="1"/></cross-domain-policy>'
    )


def test_the_same_origin_default_lets_flash_connect() -> None:
    """No origins (the same-origin default) is no list of domains: Flash may open its socket
    (which carries no browser cookies), and the flashsocket handshake checks its Origin."""
    assert policy_xml(()) + b"\0" == ANY
    assert policy_xml(["null", "https://a.example"]).endswith(
        b'<cross-domain-policy><allow-access-from domain="a.example" to-ports="*"/>'
        b"</cross-domain-policy>"
    )


@pytest.fixture
async def policy() -> Any:
    server = PolicyServer("*:*", read_timeout=0.2, max_connections=20)
    port = await server.start("127.0.0.1", 0)
    yield server, port
    await server.close()


async def test_answers_the_request_then_closes(policy: Any) -> None:
    server, port = policy
    assert await ask(port) == ANY
    assert await ask(port, REQUEST + b"more bytes are never read") == ANY
    # Split over several segments, and without the NUL but then end of input.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for piece in (b"<policy-", b"file-request/", b">\0"):
        writer.write(piece)
        await writer.drain()
    assert await reader.read() == ANY
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(REQUEST[:-1])
    writer.write_eof()
    assert await reader.read() == ANY
    writer.close()
    assert server.answered == 4


async def test_garbage_and_silence_are_closed_without_a_reply(policy: Any) -> None:
    _server, port = policy
    started = time.monotonic()
    for garbage in (b"GET / HTTP/1.1\r\n\r\n", b"<policy-file-request/>x", b"\0", b"<p\xff"):
        assert await ask(port, garbage) == b""
    assert time.monotonic() - started < 0.2  # at once, not after the read timeout
    assert await ask(port, b"<policy-fi") == b""  # a partial request, then silence
    assert await ask(port, b"") == b""


async def test_a_flood_of_silent_clients_cannot_starve_a_real_one(policy: Any) -> None:
    server, port = policy
    silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(30)]
    assert await ask(port, timeout=1) == ANY  # the oldest silent ones were dropped
    assert len(server._open) <= server.max_connections
    for _reader, writer in silent:
        writer.close()


# -- the process --------------------------------------------------------------------------------


@pytest.fixture
def supervisor() -> Iterator[PolicySupervisor]:
    policy = PolicySupervisor(port=0, host="127.0.0.1", read_timeout=0.3, max_connections=20000)
    policy.start()
    assert policy.wait_ready(10)
    yield policy
    policy.stop()


async def test_1000_concurrent_requests() -> None:
    policy = PolicySupervisor(port=0, host="127.0.0.1")  # the default 5 s read timeout
    policy.start()
    loop = asyncio.get_running_loop()
    try:
        assert await loop.run_in_executor(None, policy.wait_ready)
        answers = await asyncio.gather(*(ask(policy.port, timeout=20) for _ in range(1000)))
        assert answers == [ANY] * 1000
    finally:
        await loop.run_in_executor(None, policy.stop)


async def test_still_answers_at_once_after_10000_bad_connections(
    supervisor: PolicySupervisor,
) -> None:
    pid = supervisor.pid
    loop = asyncio.get_running_loop()
    limit = asyncio.Semaphore(1000)

    async def bad(i: int) -> None:
        async with limit:
            with socket.socket() as conn:
                conn.setblocking(False)
                began = time.monotonic()  # the server's read timeout starts after this
                await loop.sock_connect(conn, ("127.0.0.1", supervisor.port))
                kind = i % 4
                if kind == 0:  # garbage: closed at once
                    await loop.sock_sendall(conn, b"GET / HTTP/1.0\r\n\r\n")
                elif kind == 1:
                    await loop.sock_sendall(conn, os.urandom(64))
                if kind != 3:  # 2: silence until the read timeout; 3: leave at once
                    # Closed with no reply: a FIN once the server read what was sent. A
                    # reset is the answer only to bytes that came after the server's read
                    # timeout had closed the connection (under load, this client's write
                    # can come that late); never sooner, and never with a reply.
                    try:
                        reply = await asyncio.wait_for(loop.sock_recv(conn, 100), 10)
                    except ConnectionResetError:
                        assert kind != 2, "a silent connection was reset"
                        assert time.monotonic() - began >= supervisor.read_timeout
                        reply = b""
                    assert reply == b""

    await asyncio.gather(*(bad(i) for i in range(10_000)))
    started = time.monotonic()
    assert await ask(supervisor.port) == ANY
    assert time.monotonic() - started < 0.5
    assert supervisor.pid == pid and supervisor.restarts == 0


def test_back_within_2_seconds_after_sigkill(supervisor: PolicySupervisor) -> None:
    old = supervisor.pid
    assert old is not None and ask_sync(supervisor.port) == ANY
    os.kill(old, signal.SIGKILL)

    def answers() -> bool:
        try:
            return ask_sync(supervisor.port, timeout=0.5) == ANY
        except OSError:
            return False

    wait_for(answers, 2.0, message="the policy server back within 2 s", interval=0.02)
    assert supervisor.pid not in (None, old)
    assert supervisor.restarts == 1


def test_a_taken_port_is_logged_and_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        policy = PolicySupervisor(port=port, host="127.0.0.1")
        with caplog.at_level(logging.WARNING, "tornio.policy"):
            policy.start()
            assert not policy.wait_ready(10)
            policy.stop()  # the watcher has logged, and ended
        assert policy.unavailable and policy.restarts == 0
        assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
            (
                "WARNING",
                f"Flash policy port {port} in use: flashsocket clients (Flash) cannot "
                "connect, the other transports are served; policy_port to change",
            )
        ]
        run = subprocess.run(
            [sys.executable, "-m", "tornio.policy", "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            timeout=20,
        )
        assert run.returncode == EXIT_PORT_UNAVAILABLE
        assert b"cannot listen" in run.stderr


def test_a_supervised_process_leaves_sigint_to_its_supervisor(
    supervisor: PolicySupervisor,
) -> None:
    """Ctrl-C reaches the whole process group: the supervisor stops the policy process
    itself, so the process must not end (and be restarted, with a warning) on its own."""
    pid = supervisor.pid
    assert pid is not None and ask_sync(supervisor.port) == ANY
    assert _ignored_signals(pid) & (1 << (signal.SIGINT - 1)), "SIGINT is not ignored"
    os.kill(pid, signal.SIGINT)
    assert ask_sync(supervisor.port) == ANY
    assert supervisor.pid == pid and supervisor.restarts == 0


def _ignored_signals(pid: int) -> int:
    """The process's ignored signals (bit N-1 for signal N), from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigIgn:"):
                return int(line.split()[1], 16)
    raise AssertionError("no SigIgn in /proc/PID/status")


def test_stop_ends_it_and_a_dead_parent_takes_it_along(supervisor: PolicySupervisor) -> None:
    process = supervisor.process
    supervisor.stop()
    assert process is not None and process.returncode == 0
    with pytest.raises(OSError):
        ask_sync(supervisor.port, timeout=0.5)
    port = free_port()
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from tornio.policy import PolicySupervisor\n"
            f"p = PolicySupervisor(port={port}, host='127.0.0.1').start()\n"
            "assert p.wait_ready(10)\n"
            "print(p.pid, flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert ask_sync(port) == ANY
    parent.kill()
    parent.wait()
    parent.stdout.close()
    wait_for(
        lambda: not (os.path.exists(f"/proc/{child}") and _alive(child)),
        5,
        message="the policy process to end with its parent",
        interval=0.02,
    )


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


# -- who starts it ------------------------------------------------------------------------------


async def test_socketio_server_runs_it_when_flashsocket_is_served() -> None:
    port = free_port()
    server = SocketIOServer(("127.0.0.1", 0), None, policy_port=port, policy_server=True)
    server.start()
    try:
        assert server.policy is not None
        ready = await asyncio.get_running_loop().run_in_executor(None, server.policy.wait_ready)
        assert ready
        assert await ask(port) == ANY
    finally:
        await server.stop()
    assert server.policy is None
    with pytest.raises(OSError):
        await ask(port)
    no_flash = SocketIOServer(
        ("127.0.0.1", 0), None, policy_port=port, transports=["websocket", "xhr-polling"]
    )
    no_flash.start()
    assert no_flash.policy is None
    await no_flash.stop()


def test_tornio_serve_runs_it_with_the_applications_origins(tmp_path: Any) -> None:
    http_port, policy_port = free_port(), free_port()
    (tmp_path / "app.py").write_text(
        "from tornio import Router\nrouter = Router({}, origins=['a.example:80', '*:8443'])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    cmd = [sys.executable, "-m", "workers", "serve", "app:router", "--workers", "1"]
    serve = subprocess.Popen(
        [*cmd, "--port", str(http_port), "--policy-port", str(policy_port)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
    )
    try:

        def policy_answer() -> bytes | None:
            assert serve.poll() is None
            try:
                return ask_sync(policy_port)
            except OSError:
                return None

        answer = wait_for(policy_answer, 20, message="the policy port", interval=0.05)
        assert answer == policy_xml(["a.example:80", "*:8443"]) + b"\0"
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=20)
    assert serve.returncode == 0, err
    with pytest.raises(OSError):
        ask_sync(policy_port, timeout=0.5)


def test_tornio_serve_carries_on_without_a_policy_port(tmp_path: Any) -> None:
    http_port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cmd = [sys.executable, "-m", "workers", "serve", "tests.apps.echo:router"]
        log = tmp_path / "serve.log"
        serve = subprocess.Popen(
            [*cmd, "--workers", "1", "--port", str(http_port), "--policy-port", str(port)],
            env={**os.environ, "PYTHONPATH": os.getcwd()},
            stderr=log.open("wb"),
        )
        try:

            def handshake() -> bytes | None:
                assert serve.poll() is None
                try:
                    return asyncio.run(fetch(f"http://127.0.0.1:{http_port}/socket.io/1/")).body
                except OSError:
                    return None

            body = wait_for(handshake, 20, message="tornio serve's handshake", interval=0.05)
            assert body.count(b":") == 3

            # The policy process starts beside the workers: wait until it has reported.
            def reported() -> bool:
                assert serve.poll() is None
                return b"Flash policy port" in log.read_bytes()

            wait_for(reported, 20, message="the policy port's report", interval=0.05)
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.communicate(timeout=20)
    assert serve.returncode == 0


async def test_the_http_port_answers_a_policy_request_too() -> None:
    origins = ["a.example:80"]
    server = SocketIOServer(("127.0.0.1", 0), None, policy_server=False, origins=origins)
    server.start()
    try:
        assert await ask(server.port) == policy_xml(origins) + b"\0"
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(REQUEST[:5])
        await writer.drain()
        with pytest.raises(asyncio.TimeoutError):  # the start of a request: it waits
            await asyncio.wait_for(reader.read(1), 0.05)
        writer.write(REQUEST[5:])
        assert await reader.read() == policy_xml(origins) + b"\0"
        writer.close()
        # HTTP on the same port is untouched, with or without a pause before the request.
        response = await fetch(f"http://127.0.0.1:{server.port}/socket.io/1/")
        assert response.code == 200  # no Origin (not a browser): the handshake answers
        assert server.http_server is not None
        server.http_server.sniff_timeout = 0.05  # type: ignore[attr-defined]
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with pytest.raises(asyncio.TimeoutError):  # silent past the sniff: handed to HTTP
            await asyncio.wait_for(reader.read(1), 0.1)
        writer.write(b"GET /socket.io HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        await server.stop()
    plain = SocketIOServer(("127.0.0.1", 0), None, policy_server=False, transports=["websocket"])
    plain.start()
    try:
        # No inline policy answer without flashsocket (a head over the limit still gets 431).
        assert type(plain.http_server) is HeadLimitHTTPServer
    finally:
        await plain.stop()
