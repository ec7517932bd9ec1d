"""The supervisor's hand-off of a connection that arrives before any worker process is up:
it is held, then passed on (with the fd) once a worker's channel exists, not reset."""

from __future__ import annotations

import asyncio
import socket

import pytest

from workers import supervisor as supervisor_module
from workers.supervisor import Supervisor, SupervisorOptions


async def test_a_connection_before_any_worker_is_held_then_handed_over() -> None:
    sup = Supervisor(SupervisorOptions(target="tests.apps.echo:namespaces", workers=1))
    client, server_side = socket.socketpair()
    sup._hand(server_side, ("127.0.0.1", 5), None)
    assert sup.handed == 0 and len(sup._parked) == 1  # no worker yet: held, not closed
    worker_end, supervisor_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sup.workers[0].channel = supervisor_end
    sup._unpark()
    assert sup.handed == 1 and sup._parked == []
    peer, fds, _, _ = socket.recv_fds(worker_end, 64, 1)
    assert peer == b"127.0.0.1:5" and len(fds) == 1
    with socket.socket(fileno=fds[0]) as passed:
        client.sendall(b"hello")
        assert passed.recv(5) == b"hello"  # the very connection the client opened
    for s in (client, worker_end, supervisor_end):
        s.close()


async def test_a_held_connection_is_closed_if_no_worker_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervisor_module, "FIRST_BYTES_TIMEOUT", 0.05)
    sup = Supervisor(SupervisorOptions(target="tests.apps.echo:namespaces", workers=1))
    client, server_side = socket.socketpair()
    sup._hand(server_side, ("127.0.0.1", 5), None)
    loop = asyncio.get_running_loop()
    closed = loop.create_future()
    loop.add_reader(client, lambda: closed.done() or closed.set_result(client.recv(1)))
    assert await asyncio.wait_for(closed, 2.0) == b""  # EOF: closed, not left hanging
    loop.remove_reader(client)
    client.close()
