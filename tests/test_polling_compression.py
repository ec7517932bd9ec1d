"""gzip of polling answers (``http_compression``, on by default as node's engine.io
``httpCompression``, threshold 1 KB): an answer of at least the threshold goes gzipped to a
client that accepts gzip, with ``Content-Encoding`` and ``Vary``, and decodes to the same
packets; a short one, or a client that does not accept gzip, gets it plain. Modern polling
(Engine.IO v4, and v3's JSONP) and the 0.9 xhr-polling and jsonp-polling alike; and
python-socketio's client (aiohttp, which asks for gzip) over polling reads it right.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import socketio  # type: ignore[import-untyped]
from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse

from tests.apps.transport_probe import big_text, namespaces
from tests.support.inloop import InLoopServer
from tornio import Router
from tornio.protocol import legacy
from tornio.transports.compression import HttpCompression, accepts_gzip

GZIP = {"Accept-Encoding": "gzip, deflate"}


async def request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> HTTPResponse:
    """One request as given: no Accept-Encoding unless in ``headers``, the body as it came."""
    client = AsyncHTTPClient(force_instance=True)
    try:
        return await client.fetch(
            HTTPRequest(url, method=method, body=body, headers=headers, request_timeout=10,
                        decompress_response=False),
            raise_error=False,
        )  # fmt: skip
    finally:
        client.close()


def body_of(response: HTTPResponse) -> bytes:
    """The decoded body (checks that a gzipped one says so)."""
    if response.headers.get("Content-Encoding") == "gzip":
        return gzip.decompress(response.body)
    assert "Content-Encoding" not in response.headers, response.headers
    return response.body


@pytest.fixture
async def start() -> AsyncIterator[Callable[..., Any]]:
    servers: list[InLoopServer] = []

    async def make(**settings: Any) -> InLoopServer:
        server = await InLoopServer.start(namespaces, **settings)
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


class EnginePoller:
    """An Engine.IO v4 polling session joined to /big, made by hand."""

    def __init__(self, base: str, sid: str) -> None:
        self.url = f"{base}/socket.io/?EIO=4&transport=polling&sid={sid}"

    @classmethod
    async def open(cls, base: str) -> EnginePoller:
        opened = await request(f"{base}/socket.io/?EIO=4&transport=polling")
        poller = cls(base, json.loads(body_of(opened)[1:])["sid"])
        assert (await request(poller.url, "POST", b"40/big,")).code == 200
        assert body_of(await request(poller.url)).startswith(b"40/big,{")
        return poller

    async def big(self, size: int, headers: dict[str, str] | None = None) -> HTTPResponse:
        """Ask for a ``big`` event of ``size`` characters; the GET that brings it."""
        posted = await request(self.url, "POST", f'42/big,["big",{size}]'.encode())
        assert posted.code == 200
        return await request(self.url, headers=headers)


def big_packet(size: int) -> bytes:
    data = json.dumps(["big", big_text(size)], ensure_ascii=False, separators=(",", ":"))
    return ("42/big," + data).encode()


async def test_a_large_modern_answer_is_gzipped_for_a_client_that_takes_it(start: Any) -> None:
    server = await start()
    poller = await EnginePoller.open(server.base)
    zipped = await poller.big(20_000, GZIP)
    assert zipped.code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert zipped.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert int(zipped.headers["Content-Length"]) == len(zipped.body) < 2_000
    assert gzip.decompress(zipped.body) == big_packet(20_000)
    # The same without Accept-Encoding: plain (and Vary says why it could differ).
    plain = await poller.big(20_000)
    assert "Content-Encoding" not in plain.headers and plain.headers["Vary"] == "Accept-Encoding"
    assert plain.body == big_packet(20_000)
    # gzip refused by name: plain.
    refused = await poller.big(20_000, {"Accept-Encoding": "gzip;q=0, br"})
    assert "Content-Encoding" not in refused.headers and refused.body == big_packet(20_000)


async def test_a_short_answer_is_not_compressed(start: Any) -> None:
    server = await start()
    poller = await EnginePoller.open(server.base)
    short = await poller.big(100, GZIP)
    assert "Content-Encoding" not in short.headers and "Vary" not in short.headers
    assert short.body == big_packet(100)
    # The shortest body of at least the threshold (1024 bytes), and the one before it.
    size = next(n for n in range(2000) if len(big_packet(n)) >= 1024)
    assert len(big_packet(size - 1)) < 1024 <= len(big_packet(size)) < 1030
    at = await poller.big(size, GZIP)
    assert at.headers.get("Content-Encoding") == "gzip"
    below = await poller.big(size - 1, GZIP)
    assert "Content-Encoding" not in below.headers


async def test_the_setting_turns_it_off_or_sets_the_threshold(start: Any) -> None:
    off = await start(http_compression=False)
    poller = await EnginePoller.open(off.base)
    plain = await poller.big(20_000, GZIP)
    assert "Content-Encoding" not in plain.headers and "Vary" not in plain.headers
    low = await start(http_compression={"threshold": 10, "level": 1})
    poller = await EnginePoller.open(low.base)
    zipped = await poller.big(20, GZIP)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == big_packet(20)
    for bad in ({"threshold": -1}, {"level": 11}, {"min": 3}, "gzip"):
        with pytest.raises(ValueError, match="http_compression"):
            Router(namespaces, http_compression=bad)


async def test_an_eio3_jsonp_answer_is_gzipped_too(start: Any) -> None:
    server = await start()
    base = f"{server.base}/socket.io/?EIO=3&transport=polling"
    opened = await request(base + "&j=0")
    found = re.search(r'\\"sid\\":\\"([^"\\]+)\\"', body_of(opened).decode())
    assert found, opened.body
    url = f"{base}&sid={found.group(1)}"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for packet in ("40/big,", f'42/big,["big",{5000}]'):
        data = f"{len(packet)}:{packet}"
        posted = await request(url + "&j=0", "POST", ("d=" + data).encode(), form)
        assert posted.code == 200, posted.body
    answers = b""
    for _ in range(3):
        answer = await request(url + "&j=0", headers=GZIP)
        answers += body_of(answer)
        if answer.headers.get("Content-Encoding") == "gzip":
            assert answer.headers["Content-Type"].startswith("text/javascript")
            break
    else:
        raise AssertionError(f"no gzipped answer: {answers[:200]!r}")
    # The script carries the packets' text as UTF-8 (ensure_ascii=False), not \u escapes.
    assert "tornio says héllo".encode() in answers and b"\\u00e9" not in answers


@pytest.mark.parametrize("transport", ["xhr-polling", "jsonp-polling"])
async def test_a_large_legacy_polling_answer_is_gzipped(start: Any, transport: str) -> None:
    server = await start()
    handshake = await request(f"{server.base}/socket.io/1/?t=1")
    sid = body_of(handshake).decode().split(":")[0]
    url = f"{server.base}/socket.io/1/{transport}/{sid}"
    query = "?t=1&i=0" if transport == "jsonp-polling" else "?t=1"

    def unwrap(body: bytes) -> list[str]:
        text = body.decode()
        if transport == "jsonp-polling":
            text = json.loads(text[len("io.j[0](") : -2])
        return legacy.decode_payload(text)

    assert unwrap(body_of(await request(url + query))) == ["1::"]

    async def post(packet: str) -> None:
        if transport == "jsonp-polling":
            data = ("d=" + json.dumps(packet)).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            data, headers = packet.encode(), {}
        assert (await request(url + query, "POST", data, headers)).code == 200

    await post("1::/big")
    assert unwrap(body_of(await request(url + query, headers=GZIP))) == ["1::/big"]
    await post(legacy.encode_event("/big", "big", [5000]))
    zipped = await request(url + query, headers=GZIP)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    (packet,) = unwrap(gzip.decompress(zipped.body))
    assert legacy.decode_packet(packet)["args"] == [big_text(5000)]
    await post("0::")


async def test_python_socketio_over_polling_reads_gzipped_answers(start: Any) -> None:
    server = await start()
    encodings: list[str] = []

    async def on_end(session: Any, context: Any, params: aiohttp.TraceRequestEndParams) -> None:
        if params.method == "GET":
            encodings.append(params.response.headers.get("Content-Encoding", ""))

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    session = aiohttp.ClientSession(trace_configs=[trace])
    client = socketio.AsyncClient(reconnection=False, http_session=session)
    got: list[str] = []
    done = asyncio.Event()

    def on_big(text: str) -> None:
        got.append(text)
        done.set()

    client.on("big", on_big, namespace="/big")
    try:
        await client.connect(server.base, namespaces=["/big"], transports=["polling"])
        await client.emit("big", 30_000, namespace="/big")
        await asyncio.wait_for(done.wait(), 10)
        assert got == [big_text(30_000)]
        assert "gzip" in encodings, encodings
        assert "" in encodings  # the short answers (the open packet, ...) went plain
    finally:
        await client.disconnect()
        await session.close()


def test_accept_encoding_is_read_as_rfc_9110_says() -> None:
    for header, taken in [
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("*;q=0.1, gzip;q=0", False),
        ("gzip;q=0", False),
        ("GZIP; Q=0.001", True),
        ("br, deflate", False),
        ("gzip;q=nonsense", False),
        ("", False),
    ]:
        assert accepts_gzip(header) is taken, header
    assert HttpCompression.from_setting(True) == HttpCompression()
    assert HttpCompression.from_setting(False) is None
