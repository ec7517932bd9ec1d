"""Request heads through ``tornio serve --workers 2`` (a subprocess, raw sockets): the
supervisor closes a connection that does not send its request line within
``--header-timeout``, quietly (no traceback, whether the client trickles, goes silent or
leaves while its connection is peeked at); a worker closes one whose head does not end in
time, and answers 431 to a head over ``max_header_size`` (``--http fast`` and ``--http
tornado``); normal requests go on."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.raw_http import (
    EIO_OPEN,
    HEADER_TIMEOUT,
    HUGE_HOST,
    MANY_HEADERS,
    TOO_LARGE,
    Raw,
    everything_until_closed,
    get,
    open_session,
    send_in_pieces,
    trickle_until_closed,
)
from tests.support.serve_cluster import ClusterProcess
from tests.support.waiting import wait_for
from workers import supervisor as supervisor_module
from workers.supervisor import Supervisor, SupervisorOptions

NO_TRACEBACK = ("Traceback", "Exception in callback", "Invalid file descriptor")


@pytest.fixture(scope="module", params=["fast", "tornado"])
def cluster(request: pytest.FixtureRequest) -> Iterator[ClusterProcess]:
    with tempfile.TemporaryDirectory(prefix="tornio-heads-test-") as workdir:
        cluster = ClusterProcess(
            "tests.apps.echo:namespaces", Path(workdir), workers=2,
            args=["--header-timeout", str(HEADER_TIMEOUT), "--http", request.param],
        )
        try:
            yield cluster.start()
        finally:
            cluster.kill()
        log = cluster.log_text()
    assert not [line for line in log.splitlines() if any(s in line for s in NO_TRACEBACK)], log


async def test_slow_request_lines_are_closed_quietly_by_the_supervisor(
    cluster: ClusterProcess,
) -> None:
    slowloris = [await Raw.open(cluster.port) for _ in range(20)]
    silent = await Raw.open(cluster.port)
    leaving = await Raw.open(cluster.port)
    leaving.send(b"GET /socket.io/?EIO=4")  # part of a request line, then gone
    leaving.close()
    closes = await asyncio.gather(*(trickle_until_closed(raw, HUGE_HOST) for raw in slowloris),
                                  everything_until_closed(silent))
    assert closes == [b""] * 21  # every one closed, none answered
    closed = time.time()
    stats = await asyncio.to_thread(wait_for, lambda: cluster.reported_since(closed), 10)
    assert stats is not None and stats["peeking"] == 0 and stats["timed_out"] >= 21
    raw = await Raw.open(cluster.port)
    assert await open_session(raw)


async def test_a_slow_head_after_its_request_line_is_closed_by_the_worker(
    cluster: ClusterProcess,
) -> None:
    raw = await Raw.open(cluster.port)
    line, _, headers = get(EIO_OPEN, "X-Slow: yes").partition(b"\r\n")
    raw.send(line + b"\r\n")  # the supervisor hands it over; the rest comes slowly
    assert await trickle_until_closed(raw, headers) == b""


@pytest.mark.parametrize("head", [HUGE_HOST, MANY_HEADERS], ids=["huge-host", "many-headers"])
async def test_a_large_head_is_refused(cluster: ClusterProcess, head: bytes) -> None:
    whole, pieces = await Raw.open(cluster.port), await Raw.open(cluster.port)
    whole.send(head)
    await send_in_pieces(pieces, head)
    answers = [await everything_until_closed(whole), await everything_until_closed(pieces)]
    # --http tornado too (tornio.transports.heads: Tornado alone would close unanswered)
    assert all(answer.startswith(TOO_LARGE) for answer in answers), answers
    raw = await Raw.open(cluster.port)
    assert await open_session(raw)


async def test_past_max_peeking_the_oldest_waiting_connection_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervisor_module, "MAX_PEEKING", 2)
    sup = Supervisor(SupervisorOptions(target="tests.apps.echo:namespaces", workers=1))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        clients = [await Raw.open(listener.getsockname()[1]) for _ in range(3)]
        sup._accept(listener)
        assert len(sup._peeking) == 2
        assert await everything_until_closed(clients[0]) == b""  # the oldest: closed
        for peeking in list(sup._peeking.values()):
            sup._drop(peeking)
        assert [await everything_until_closed(raw) for raw in clients[1:]] == [b"", b""]
