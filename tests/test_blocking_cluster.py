"""Blocking ORM handlers under ``tornio serve --workers 2``: ``tests/apps/blocking_orm.py``, a
``tornio.namespace.BaseNamespace`` whose plain handlers query Django's ORM (the chat example's
project, on SQLite in a temporary directory) and one of which blocks until the test releases
it. A second 0.9 client on the same worker process is answered, from the database, while the
first one's handler still blocks; then the first one's ack comes, with what it wrote. A
spawned gevent-style loop that blocks in ``time.sleep`` leaves the worker answering too. A
``DjangoNamespace`` with ``blocking = True`` queries in a plain handler too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.legacy_client import LegacyClient
from tests.support.serve_cluster import ROOT, ClusterProcess, worker_of
from tornio.protocol import legacy

pytestmark = pytest.mark.timeout(120)

EXAMPLE = ROOT / "examples" / "django_chat"
ACK_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[ClusterProcess, Path]]:
    with tempfile.TemporaryDirectory(prefix="tornio-blocking-") as path:
        work = Path(path)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), str(EXAMPLE), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "DJANGO_SETTINGS_MODULE": "chatproject.settings",
            "DJANGO_CHAT_DB": str(work / "db.sqlite3"),
            "TORNIO_TEST_RELEASE": str(work / "release"),
        }
        migrated = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=120,
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        process = ClusterProcess("tests.apps.blocking_orm:namespaces", work, workers=2, env=env)
        with process.running(timeout=30):
            yield process, work


class OrmClient:
    """A 0.9 websocket client in a namespace that asks with ack ids and waits for the acks."""

    def __init__(self, client: LegacyClient, nsp: str) -> None:
        self.client = client
        self.nsp = nsp
        self.ids = itertools.count(1)
        self.acks: dict[int, list[Any]] = {}

    @classmethod
    async def connect(cls, base: str, nsp: str = "/orm") -> OrmClient:
        client = await LegacyClient(base, "websocket").connect()
        await client.send(f"1::{nsp}")
        assert await client.recv() == f"1::{nsp}"
        return cls(client, nsp)

    @property
    def worker(self) -> int:
        return worker_of(self.client.sid)

    async def send(self, event: str, *args: Any) -> int:
        ack_id = next(self.ids)
        await self.client.emit(self.nsp, event, *args, msg_id=ack_id)
        return ack_id

    def _take(self, raw: str) -> None:
        packet = legacy.decode_packet(raw)
        assert packet["type"] == "ack", packet  # the handlers answer, nothing else
        self.acks[int(packet["ackId"])] = list(packet.get("args", []))

    async def ack(self, ack_id: int) -> list[Any]:
        while ack_id not in self.acks:
            self._take(await self.client.recv(ACK_TIMEOUT))
        return self.acks.pop(ack_id)

    def acks_so_far(self) -> list[int]:
        """The acks received by now, without waiting."""
        while not self.client.received.empty():
            raw = self.client.received.get_nowait()
            if raw not in ("2::", "8::"):
                self._take(raw)
        return sorted(self.acks)

    async def ask(self, event: str, *args: Any) -> list[Any]:
        return await self.ack(await self.send(event, *args))


@contextlib.asynccontextmanager
async def two_on_one_worker(process: ClusterProcess) -> AsyncIterator[tuple[OrmClient, OrmClient]]:
    """A and B, clients whose sessions are on one worker process (new sessions go to the
    least-loaded one, so a few are opened); a failure inside is told with the serve log's
    tail. Every client opened is closed afterwards."""
    a = await OrmClient.connect(process.url)
    opened = [a]
    try:
        for _ in range(12):
            b = await OrmClient.connect(process.url)
            opened.append(b)
            if b.worker == a.worker:
                break
        else:
            raise AssertionError("no session landed on the first one's worker")
        yield a, b
    except (AssertionError, TimeoutError) as exc:
        raise AssertionError(f"{exc!r}\n{process.tail(30)}") from exc
    finally:
        await asyncio.gather(*(client.client.close() for client in opened))


async def test_an_orm_handler_blocks_and_the_worker_still_answers(
    cluster: tuple[ClusterProcess, Path],
) -> None:
    process, work = cluster
    async with two_on_one_worker(process) as (a, b):
        slow = await a.send("slow", "a-room")
        room_id, count, thread, pid = await b.ask("add", "b-room")
        assert (count, thread.startswith("tornio-handler-")) == (1, True)
        assert room_id > 0
        assert a.acks_so_far() == []  # B's ORM handler answered while A's still blocks
        (work / "release").touch()
        assert await a.ack(slow) == [True, True, pid]  # released, its row read back; same pid


async def test_a_blocking_spawned_loop_leaves_the_worker_answering(
    cluster: tuple[ClusterProcess, Path],
) -> None:
    process, work = cluster
    async with two_on_one_worker(process) as (a, b):
        await a.client.emit("/orm", "ticker")
        _nsp, name, args = await a.client.recv_event(ACK_TIMEOUT)
        assert name == "tick" and args[0].startswith("tornio-spawn-"), (name, args)
        # A's spawned loop now blocks in time.sleep on its thread; B is answered meanwhile,
        # from the database, on the same worker process.
        room_id, count, thread, _pid = await b.ask("add", "spawn-room")
        assert (room_id > 0, count, thread.startswith("tornio-handler-")) == (True, 1, True)
        assert a.client.received.empty()  # the loop has not said done: it still blocks
        (work / "release-ticks").touch()
        _nsp, name, args = await a.client.recv_event(ACK_TIMEOUT)
        assert (name, args[0], args[1].startswith("tornio-spawn-")) == ("done", True, True)


async def test_a_blocking_django_namespace_queries_in_a_plain_handler(
    cluster: tuple[ClusterProcess, Path],
) -> None:
    process, _work = cluster
    client = await OrmClient.connect(process.url, "/django")
    try:
        count, authenticated, thread = await client.ask("rooms")
    finally:
        await client.client.close()
    assert isinstance(count, int)
    assert (authenticated, thread.startswith("tornio-handler-")) == (False, True)
