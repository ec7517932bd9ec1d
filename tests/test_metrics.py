"""``tornio serve --workers 2 --metrics-port``: the supervisor's ``/metrics`` (every worker's,
scraped with ``prometheus_client``'s parser), ``/health`` and ``/ready``.

Modern clients here are raw websockets (``tests/support/raw_websocket.py``) that count every
frame and byte they write and read, so the transport counters must match them exactly; a 0.9
client counts its packets. They connect, join a room, chat, answer a question the server
asks (an ack the server waits for) and leave; then the sockets, namespaces, handshakes,
messages, bytes, ack latencies and disconnect reasons the workers report, summed, must be
what the test did. Readiness follows a worker's death and restart.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from tests.support.legacy_client import LegacyClient
from tests.support.ports import free_port
from tests.support.raw_websocket import RawWebSocket, client_frame
from tests.support.serve_cluster import ClusterProcess, worker_of
from tests.support.waiting import eventually
from tornio.protocol import websocket as ws

TIMEOUT = 15


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ClusterProcess]:
    port = free_port()
    process = ClusterProcess("tests.apps.operated:router", tmp_path, workers=2,
                             args=["--metrics-port", str(port)])
    process.metrics_url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        yield process.start()
    finally:
        process.kill()


async def get(url: str) -> tuple[int, str]:
    try:
        response = await AsyncHTTPClient().fetch(url, request_timeout=5)
    except HTTPClientError as exc:
        assert exc.response is not None, exc
        return exc.code, exc.response.body.decode()
    return response.code, response.body.decode()


class Scrape:
    """One ``/metrics`` answer, parsed: sums of samples by name and labels."""

    def __init__(self, text: str) -> None:
        self.samples = [sample for family in text_string_to_metric_families(text)
                        for sample in family.samples]

    def sum(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.samples if s.name == name
                   and all(s.labels.get(k) == v for k, v in labels.items()))

    def workers(self, name: str) -> set[str]:
        return {s.labels["worker"] for s in self.samples if s.name == name}


async def scrape(cluster: ClusterProcess) -> Scrape:
    code, text = await get(cluster.metrics_url + "/metrics")  # type: ignore[attr-defined]
    assert code == 200, text
    return Scrape(text)


async def until(cluster: ClusterProcess, check: Callable[[Scrape], Any],
                timeout: float = TIMEOUT) -> Scrape:
    """The first scrape for which ``check`` holds (workers report once a second); the last
    one's failure otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = await scrape(cluster)
        try:
            if check(result) is not False:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        else:
            assert time.monotonic() < deadline, "the metrics never matched"
        await asyncio.sleep(0.2)


class Client:
    """A raw Engine.IO websocket that counts what it writes and reads."""

    def __init__(self, raw: RawWebSocket) -> None:
        self.raw = raw
        self.sent = self.sent_bytes = self.received = self.received_bytes = 0
        self.sid = ""

    @classmethod
    async def open(cls, port: int) -> Client:
        raw = await RawWebSocket.connect(port)
        assert raw.status == 101
        client = cls(raw)
        assert (await client.recv()).startswith("0{")
        client.send("40/chat,")
        connected = await client.recv()
        assert connected.startswith("40/chat,{"), connected
        client.sid = connected.split('"sid":"')[1].split('"')[0]
        return client

    def send(self, text: str) -> None:
        frame = client_frame(ws.TEXT, text.encode())
        self.raw.send(frame)
        self.sent += 1
        self.sent_bytes += len(frame)

    async def recv(self) -> str:
        while True:
            opcode, payload = await self.raw.recv_frame()
            assert opcode == ws.TEXT, (opcode, payload)
            self.received += 1
            self.received_bytes += (2 if len(payload) < 126 else 4) + len(payload)
            text = payload.decode()
            if text != "2":
                return text
            self.send("3")  # a ping (the test outlasted the ping interval): answered


async def test_metrics_follow_what_clients_do(cluster: ClusterProcess) -> None:
    before = await until(cluster, lambda s: s.workers("tornio_handshakes_total") == {"0", "1"})
    assert before.sum("tornio_handshakes_total") == 0
    assert before.sum("tornio_worker_up") == 2

    a, b, c = [await Client.open(cluster.port) for _ in range(3)]
    assert {worker_of(x.sid) for x in (a, b, c)} == {0, 1}  # both workers have some
    for x in (a, b, c):
        x.send('42/chat,1["join","lobby"]')
        assert await x.recv() == "43/chat,1[true]"
    for n in range(3):
        a.send(f'42/chat,{n + 2}["say","lobby","hello {n}"]')
    for n in range(3):
        assert await a.recv() == f"43/chat,{n + 2}[true]"
    for x in (b, c):
        assert [await x.recv() for _ in range(3)] == [
            f'42/chat,["said","hello {n}"]' for n in range(3)]
    b.send('42/chat,9["ask","six times seven?"]')
    question = await b.recv()
    ack_id = question.removeprefix("42/chat,").partition("[")[0]
    assert question == f'42/chat,{ack_id}["question","six times seven?"]'
    b.send(f"43/chat,{ack_id}[42]")
    assert await b.recv() == "43/chat,9[42]"

    old = await LegacyClient(cluster.url, "websocket").connect()
    await old.send("1::/chat")
    assert await old.recv() == "1::/chat"
    await old.emit("/chat", "join", "lobby", msg_id=1)
    assert await old.recv() == "6::/chat:1+[true]"
    legacy_in, legacy_out = 2, 3  # 1::/chat and the join; 1::, 1::/chat and the ack

    modern = (a, b, c)

    def live(s: Scrape) -> None:
        assert s.sum("tornio_handshakes_total", protocol="modern") == 3
        assert s.sum("tornio_handshakes_total", protocol="legacy") == 1
        assert s.sum("tornio_sockets") == 4
        assert s.sum("tornio_sockets", protocol="modern", transport="websocket") == 3
        assert s.sum("tornio_sockets", protocol="legacy", transport="websocket") == 1
        assert s.sum("tornio_namespace_sockets", namespace="/chat") == 4
        assert s.sum("tornio_rooms", namespace="/chat") == 2  # lobby, on each worker
        assert s.sum("tornio_messages_received_total", protocol="modern") == sum(
            x.sent for x in modern)
        assert s.sum("tornio_received_bytes_total", protocol="modern") == sum(
            x.sent_bytes for x in modern)
        assert s.sum("tornio_messages_sent_total", protocol="modern") == sum(
            x.received for x in modern)
        assert s.sum("tornio_sent_bytes_total", protocol="modern") == sum(
            x.received_bytes for x in modern)
        assert s.sum("tornio_messages_received_total", protocol="legacy") == legacy_in
        assert s.sum("tornio_messages_sent_total", protocol="legacy") == legacy_out
        assert s.sum("tornio_received_bytes_total", protocol="legacy") > 0
        assert s.sum("tornio_ack_latency_seconds_count") == 1  # b answered the question
        assert 0 < s.sum("tornio_ack_latency_seconds_sum") < TIMEOUT
        assert s.sum("tornio_disconnects_total") == 0

    await until(cluster, live)

    for x in modern:
        x.send("41/chat,")
        x.raw.close()
    await old.close()

    def left(s: Scrape) -> None:
        assert s.sum("tornio_sockets") == 0
        assert s.sum("tornio_namespace_sockets", namespace="/chat") == 0
        assert s.sum("tornio_rooms") == 0
        assert s.sum("tornio_messages_received_total", protocol="modern") == sum(
            x.sent for x in modern)
        assert s.sum("tornio_disconnects_total") == 4
        assert s.sum("tornio_disconnects_total", reason="transport close") == 4
        assert s.sum("tornio_handshakes_total") == 4

    after = await until(cluster, left)
    assert after.sum("tornio_bus_ready") == 2
    assert after.sum("tornio_bus_published_messages_total") > 0
    assert after.sum("tornio_worker_restarts_total") == 0


async def test_health_and_readiness_follow_the_workers(cluster: ClusterProcess) -> None:
    url = cluster.metrics_url  # type: ignore[attr-defined]
    assert await get(url + "/health") == (200, "ok\n")
    assert (await wait_code(get, url + "/ready", 200))[0] == 200
    assert (await get(url + "/nowhere"))[0] == 404

    os.kill(cluster.worker_pids()[1], signal.SIGKILL)
    _, body = await wait_code(get, url + "/ready", 503)
    assert '"1": {"alive": false' in body
    await wait_code(get, url + "/ready", 200)  # restarted, reported, on the bus
    scraped = await until(cluster, lambda s: s.sum("tornio_worker_restarts_total",
                                                   worker="1") == 1)
    assert scraped.sum("tornio_worker_up") == 2
    assert await get(url + "/health") == (200, "ok\n")


async def wait_code(fetch: Callable[[str], Awaitable[tuple[int, str]]], url: str,
                    code: int) -> tuple[int, str]:
    async def answered() -> tuple[int, str] | None:
        answer = await fetch(url)
        return answer if answer[0] == code else None

    answer = await eventually(answered, TIMEOUT, message=f"{url} to answer {code}", interval=0.05)
    assert answer is not None
    return answer
