"""One connection's burst cannot hold the worker (tornio/core/fairness.py): a real server, a
flooder that writes thousands of events in one go over a raw websocket, and a victim on the
same server whose one event must be answered while the flood is still being handled.

Ordering, not timing: the victim's handler returns how many flood events the server had
handled when it ran, and that must be fewer than the flood. The server shares the test's
loop, so the victim can only be heard when the server lets the loop turn in the middle of
the flood. The listening socket gets a large receive buffer, so the whole flood is in the
kernel when the server first reads it: handled without slices, one read is the whole flood.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from tests.support.engine_client import EnginePolling
from tests.support.flood_client import Peer
from tests.support.inloop import InLoopServer
from tests.support.legacy_client import LegacyClient, fetch
from tests.support.raw_websocket import client_frame
from tests.support.stream_clients import FlashSocketClient
from tornio import BaseNamespace, metrics
from tornio.core.counters import COUNTERS
from tornio.core.fairness import MAX_PENDING_HANDLERS
from tornio.protocol import legacy
from tornio.protocol import websocket as ws

FLOOD = 8000  # ~20 bytes a frame: one read's worth (under 256 KiB)


@dataclass
class State:
    """What the server saw (on the test's loop)."""

    seen: list[int] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    #: Shut: the flood's async handlers wait on it.
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    running: int = 0
    #: Set once every event of the flood reached its handler.
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def saw(self, n: int) -> None:
        self.seen.append(n)
        self.started.set()
        if len(self.seen) == FLOOD:
            self.done.set()


def flood_namespace(state: State) -> type[BaseNamespace]:
    class Flood(BaseNamespace):
        def on_flood(self, n: int) -> None:
            state.saw(n)

        async def on_slow(self, n: int) -> None:
            state.saw(n)
            state.running += 1
            await state.gate.wait()
            state.running -= 1

        def on_count(self) -> int:
            return len(state.seen)

    return Flood


@pytest.fixture
async def server_state(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[InLoopServer, State]]:
    state = State()
    settings = dict(getattr(request, "param", {}))
    monkeypatch.setenv("TORNIO_TEST_HTTP", settings.pop("http", "tornado"))
    server = await InLoopServer.start({"/f": flood_namespace(state)}, **settings)
    # Room for the whole flood in the kernel before the server reads any of it.
    server.sockets[0].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    try:
        yield server, state
    finally:
        state.gate.set()
        await server.stop()


@pytest.mark.parametrize("kind", ["modern", "legacy"])
async def test_a_victim_is_answered_in_the_middle_of_a_flood(
    server_state: tuple[InLoopServer, State], kind: str
) -> None:
    server, state = server_state
    victim = await Peer.join(kind, server.base, server.port)
    flooder = await Peer.join(kind, server.base, server.port)
    flooder.flood("flood", FLOOD)
    await asyncio.wait_for(state.started.wait(), 10)  # the server is in the flood
    count = await victim.ask_count()
    assert 0 < count < FLOOD
    # The flood is all handled, in order.
    assert await flooder.ask_count() == FLOOD
    assert state.seen == list(range(FLOOD))
    assert await victim.ask_count() == FLOOD
    flooder.client.close()
    victim.client.close()


@pytest.mark.parametrize("kind", ["modern", "legacy"])
async def test_a_socket_whose_handlers_are_behind_is_not_read(
    server_state: tuple[InLoopServer, State], kind: str
) -> None:
    """Async handlers that do not finish: the flooder's input stops at
    MAX_PENDING_HANDLERS of them, and goes on, in order, once they finish."""
    server, state = server_state
    victim = await Peer.join(kind, server.base, server.port)
    flooder = await Peer.join(kind, server.base, server.port)
    flooder.flood("slow", FLOOD)
    await asyncio.wait_for(state.started.wait(), 10)
    assert await victim.ask_count() <= MAX_PENDING_HANDLERS
    for _ in range(10):  # turns of the loop: the flooder stays held
        await asyncio.sleep(0)
    assert state.running == MAX_PENDING_HANDLERS
    state.gate.set()
    await asyncio.wait_for(state.done.wait(), 10)
    assert state.seen == list(range(FLOOD))
    flooder.client.close()
    victim.client.close()


@pytest.mark.parametrize("kind", ["modern", "legacy"])
@pytest.mark.parametrize(
    "server_state", [{"max_event_rate": 50.0, "max_event_burst": 100}], indirect=True
)
async def test_a_socket_over_max_event_rate_is_disconnected(
    server_state: tuple[InLoopServer, State], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, state = server_state
    victim = await Peer.join(kind, server.base, server.port)
    flooder = await Peer.join(kind, server.base, server.port)
    before = COUNTERS.rate_limits.get(kind, 0)
    with caplog.at_level(logging.WARNING, logger="tornio.fairness"):
        flooder.flood("flood", FLOOD)
        # The server's defined answer: the socket's disconnect, then the end.
        goodbye = "41/f," if kind == "modern" else "0::"
        while (text := await flooder.client.recv_text()) != goodbye:
            assert text.startswith(("2", "42", "5:")), text  # pings, nothing else
        opcode, payload = await flooder.client.recv_frame()
        assert (opcode, ws.parse_close(payload)[0]) == (ws.CLOSE, 1000)
        flooder.client.send(client_frame(ws.CLOSE, payload))  # the closing handshake
        await flooder.client.expect_eof()
    assert COUNTERS.rate_limits[kind] == before + 1
    exposition = metrics.render([(None, metrics.snapshot(server.manager))]).decode()
    assert f'tornio_rate_limited_sockets_total{{protocol="{kind}"}} {before + 1}.0' in exposition
    assert any("disconnecting it" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    # It got through its burst (and what came back meanwhile), in order, and no further.
    assert 100 <= len(state.seen) < FLOOD
    assert state.seen == list(range(len(state.seen)))
    assert await victim.ask_count() == len(state.seen)
    victim.client.close()


@pytest.mark.parametrize(
    "server_state", [{"http": "tornado"}, {"http": "fast"}], indirect=True, ids=["tornado", "fast"]
)
async def test_a_polling_post_of_many_packets_is_handled_in_slices(
    server_state: tuple[InLoopServer, State],
) -> None:
    """An Engine.IO POST carrying the flood: the victim is answered in the middle of it, and
    the POST once all of it is handled."""
    server, state = server_state
    victim = await Peer.join("modern", server.base, server.port)
    flooder = await EnginePolling.open(server.base)
    await flooder.join("/f")
    payload = "\x1e".join(f"42/f,{json.dumps(['flood', n])}" for n in range(FLOOD))
    posted = asyncio.ensure_future(flooder.post(payload))
    await asyncio.wait_for(state.started.wait(), 10)
    assert 0 < await victim.ask_count() < FLOOD
    response = await posted
    assert (response.code, response.body) == (200, b"ok")
    assert state.done.is_set()  # answered once every packet was handled
    assert state.seen == list(range(FLOOD))
    victim.client.close()


@pytest.mark.parametrize(
    "server_state", [{"http": "tornado"}, {"http": "fast"}], indirect=True, ids=["tornado", "fast"]
)
async def test_a_legacy_polling_post_of_many_packets_is_handled_in_slices(
    server_state: tuple[InLoopServer, State],
) -> None:
    server, state = server_state
    victim = await Peer.join("legacy", server.base, server.port)
    flooder = await LegacyClient(server.base, "xhr-polling").connect()
    await flooder.send("1::/f")
    assert await flooder.recv() == "1::/f"
    packets = [f"5::/f:{json.dumps({'name': 'flood', 'args': [n]})}" for n in range(FLOOD)]
    posted = asyncio.ensure_future(flooder.send(*packets))  # it checks the answer, 1
    await asyncio.wait_for(state.started.wait(), 10)
    assert 0 < await victim.ask_count() < FLOOD
    await posted
    assert state.done.is_set()
    assert state.seen == list(range(FLOOD))
    await flooder.close()
    victim.client.close()


async def test_a_legacy_websocket_payload_of_many_packets_is_handled_in_slices(
    server_state: tuple[InLoopServer, State],
) -> None:
    """A 0.9 framed payload of the whole flood in one websocket message: sliced too, and
    the frames after it wait for it."""
    server, state = server_state
    victim = await Peer.join("legacy", server.base, server.port)
    flooder = await Peer.join("legacy", server.base, server.port)
    packets = [f"5::/f:{json.dumps({'name': 'flood', 'args': [n]})}" for n in range(FLOOD)]
    flooder.client.send_text(legacy.encode_payload(packets))
    await asyncio.wait_for(state.started.wait(), 10)
    assert 0 < await victim.ask_count() < FLOOD
    assert await flooder.ask_count() == FLOOD  # sent after the payload, handled after it
    assert state.seen == list(range(FLOOD))
    flooder.client.close()
    victim.client.close()


async def test_an_engine_post_overlapping_a_sliced_one_closes_the_session(
    server_state: tuple[InLoopServer, State],
) -> None:
    """As the reference server: a POST while the last one is still being handled is a
    client error (400, code 3), and the session ends. (The first one's handlers wait on
    the gate, so it is still being handled whatever the machine's speed.)"""
    server, state = server_state
    flooder = await EnginePolling.open(server.base)
    await flooder.join("/f")
    payload = "\x1e".join(f"42/f,{json.dumps(['slow', n])}" for n in range(FLOOD))
    posted = asyncio.ensure_future(flooder.post(payload))
    await asyncio.wait_for(state.started.wait(), 10)
    second = await flooder.post('42/f,["slow",-1]')
    assert second.code == 400
    assert json.loads(second.body)["code"] == 3
    assert (await posted).code == 200
    assert -1 not in state.seen and len(state.seen) < FLOOD  # it ended there
    assert flooder.sid not in server.manager.engines


async def test_a_legacy_post_overlapping_a_sliced_one_is_refused(
    server_state: tuple[InLoopServer, State],
) -> None:
    server, state = server_state
    flooder = await LegacyClient(server.base, "xhr-polling").connect()
    await flooder.send("1::/f")
    assert await flooder.recv() == "1::/f"
    packets = [f"5::/f:{json.dumps({'name': 'slow', 'args': [n]})}" for n in range(FLOOD)]
    posted = asyncio.ensure_future(flooder.send(*packets))
    await asyncio.wait_for(state.started.wait(), 10)
    second = await fetch(flooder.url + "?t=1", method="POST",
                         body='5::/f:{"name":"slow","args":[-1]}')
    assert (second.code, second.body) == (400, b"a POST overlaps the last one")
    state.gate.set()
    await posted
    await asyncio.wait_for(state.done.wait(), 10)
    assert state.seen == list(range(FLOOD))  # the first went on; the second was refused
    await flooder.close()


async def test_a_flashsocket_flood_is_handled_in_slices(
    server_state: tuple[InLoopServer, State],
) -> None:
    """hixie-76 (flashsocket) reads 64 KiB at a time, and Tornado's stream hands over what
    it has without the loop turning: the victim must still come before the first of those
    reads (some 1,800 packets) is done."""
    server, state = server_state
    victim = await Peer.join("legacy", server.base, server.port)
    flooder = FlashSocketClient(server.base)
    await flooder.connect()
    await flooder.send("1::/f")
    assert await flooder.recv() == "1::/f"
    packets = [f"5::/f:{json.dumps({'name': 'flood', 'args': [n]})}" for n in range(FLOOD)]
    sent = asyncio.ensure_future(flooder.send(*packets))
    await asyncio.wait_for(state.started.wait(), 10)
    assert 0 < await victim.ask_count() < FLOOD // 8
    await sent
    await asyncio.wait_for(state.done.wait(), 10)
    assert state.seen == list(range(FLOOD))
    await flooder.close()
    victim.client.close()
