"""permessage-deflate (RFC 7692) on modern websockets (``per_message_deflate``).

* The negotiation, offer by offer, and the codec (a round trip, the size limit, bad data),
  and the frame decoder's RSV1 rules, without I/O.
* socket.io-client 4.8 under Node (its ``ws`` offers the extension by default): negotiated
  when the setting is on, not when it is off (the default), and large messages round-trip
  both ways either way (the client compresses its large emits too, so the server inflates).
* On the wire, with a raw client: a large message arrives compressed (RSV1) and inflates to
  the packet; a short one does not; a broadcast is compressed once for all its recipients.
* Bad input: a compressed frame where nothing was negotiated closes with 1002; data that is
  not deflate closes with 1007 (logged); a message that inflates past ``max_buffer_size``
  closes with 1009; a bystander session on the same server carries on each time.
"""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.apps.transport_probe import big_text, namespaces
from tests.support.inloop import InLoopServer
from tests.support.loop_thread import LoopThread
from tests.support.node_client import JS_DIR, NodeClient, node_modules_ready
from tests.support.raw_websocket import RawWebSocket, client_frame
from tornio import Router, SocketIOServer
from tornio.exceptions import DeflateError, WebSocketError
from tornio.protocol import permessage_deflate as pmd
from tornio.protocol import websocket as ws
from tornio.protocol.permessage_deflate import DeflateOptions, negotiate

DRIVER = JS_DIR / "transport_client.mjs"
OFFER = "permessage-deflate; client_max_window_bits"  # what ws and Chromium offer


# -- negotiation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offer", "options", "answer"),
    [
        (OFFER, {}, "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate", {}, "permessage-deflate; server_no_context_takeover"),
        (
            "x-webkit-deflate-frame, PerMessage-Deflate",
            {},
            "permessage-deflate; server_no_context_takeover",
        ),
        # The client asks for a smaller server window, or for no context takeover of its own.
        (
            "permessage-deflate; server_max_window_bits=10",
            {},
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
        ),
        (
            'permessage-deflate; server_max_window_bits="12"; client_no_context_takeover',
            {"server_no_context_takeover": False},
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=12",
        ),
        # Context takeover on the server (node's default), a smaller client window asked.
        (OFFER, {"server_no_context_takeover": False}, "permessage-deflate"),
        (
            "permessage-deflate; client_max_window_bits=12",
            {"client_max_window_bits": 10, "client_no_context_takeover": True},
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "client_max_window_bits=10",
        ),
        # The first acceptable offer wins: 8 bits (zlib cannot) and a bad one are declined.
        (
            "permessage-deflate; server_max_window_bits=8, permessage-deflate",
            {},
            "permessage-deflate; server_no_context_takeover",
        ),
        ("permessage-deflate; server_max_window_bits", {}, None),
        ("permessage-deflate; server_max_window_bits=16", {}, None),
        ("permessage-deflate; client_max_window_bits=7", {}, None),
        ("permessage-deflate; server_no_context_takeover=1", {}, None),
        ("permessage-deflate; mystery", {}, None),
        ("permessage-deflate; client_no_context_takeover; client_no_context_takeover", {}, None),
        ("x-webkit-deflate-frame", {}, None),
        ("", {}, None),
    ],
)
def test_negotiation(offer: str, options: dict[str, Any], answer: str | None) -> None:
    agreement = negotiate(offer, DeflateOptions(**options))
    assert (agreement.header if agreement else None) == answer


def test_the_setting_is_checked() -> None:
    assert DeflateOptions.from_setting(False) is None
    assert DeflateOptions.from_setting(True) == DeflateOptions()
    assert DeflateOptions.from_setting({"threshold": 0}) == DeflateOptions(threshold=0)
    for bad in (
        {"treshold": 10},
        {"server_max_window_bits": 8},
        {"level": 10},
        {"threshold": "1k"},
        "yes",
    ):
        with pytest.raises(ValueError, match="per_message_deflate"):
            Router(namespaces, per_message_deflate=bad)


def agreed(header: str = OFFER, **options: Any) -> tuple[pmd.Agreement, DeflateOptions]:
    chosen = DeflateOptions(**options)
    agreement = negotiate(header, chosen)
    assert agreement is not None
    return agreement, chosen


def inflate_frame(frame: bytes) -> tuple[int, bytes]:
    """(first byte, inflated payload) of one compressed server frame."""
    length, head = frame[1], 2
    if length == 126:
        length, head = struct.unpack("!H", frame[2:4])[0], 4
    elif length == 127:
        length, head = struct.unpack("!Q", frame[2:10])[0], 10
    payload = frame[head : head + length]
    return frame[0], zlib.decompressobj(-15).decompress(payload + pmd.TAIL)


@pytest.mark.parametrize("takeover", [False, True])
def test_deflater_and_inflater_round_trip(takeover: bool) -> None:
    agreement, options = agreed(server_no_context_takeover=not takeover)
    deflater = pmd.Deflater(agreement, options)
    text = big_text(50_000)
    assert deflater.frame("short") is None  # under the threshold
    assert deflater.frame("é" * 400) is None  # 400 characters, 800 bytes: still under
    frame = deflater.frame(text)
    assert frame is not None and len(frame) < len(text) // 10
    first, payload = inflate_frame(frame)
    assert first == 0xC0 | ws.TEXT and payload == text.encode()
    binary = deflater.frame(bytes(5000))
    assert binary is not None and inflate_frame(binary) == (0xC0 | ws.BINARY, bytes(5000))
    # The client's side: an Inflater reads what a client's deflate (with its context) sends.
    inflater = pmd.Inflater(agreement, max_size=100_000)
    client = zlib.compressobj(6, zlib.DEFLATED, -15)
    for message in (b"first " * 300, b"second " * 300, b""):
        data = client.compress(message) + client.flush(zlib.Z_SYNC_FLUSH)
        assert inflater.inflate(data[:-4]) == message


def test_a_broadcast_is_compressed_once_per_message() -> None:
    agreement, options = agreed()
    one, two = pmd.Deflater(agreement, options), pmd.Deflater(agreement, options)
    text = big_text(20_000)
    assert one.frame(text) is two.frame(text)  # the same object: compressed once
    other = big_text(20_001)
    assert one.frame(other) is not one.frame(text)
    # With context takeover every connection compresses on its own.
    own, options = agreed(server_no_context_takeover=False)
    first, second = pmd.Deflater(own, options), pmd.Deflater(own, options)
    assert first.frame(text) is not second.frame(text)


def test_the_inflater_refuses_garbage_and_bombs() -> None:
    agreement, _ = agreed()
    with pytest.raises(DeflateError) as bad:
        pmd.Inflater(agreement, 1000).inflate(b"\xff\xfe\xfd not deflate")
    assert not bad.value.too_big
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = bomb.compress(bytes(10_000_000)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    assert len(data) < 20_000
    with pytest.raises(DeflateError) as big:
        pmd.Inflater(agreement, 1_000_000).inflate(data[:-4])
    assert big.value.too_big


def test_the_decoder_takes_rsv1_only_where_it_may() -> None:
    payload = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = payload.compress(b"hello") + payload.flush(zlib.Z_SYNC_FLUSH)
    frame = client_frame(ws.TEXT, data[:-4], rsv=0x40)
    with pytest.raises(WebSocketError) as plain:
        ws.FrameDecoder(1000).feed(frame)
    assert plain.value.code == ws.PROTOCOL_ERROR
    decoder = ws.FrameDecoder(1000, compressed=True)
    assert decoder.feed(frame) == [(ws.TEXT | ws.DEFLATED, data[:-4])]
    # Fragmented: RSV1 on the first frame only.
    head, tail = data[:3], data[3:-4]
    fragments = client_frame(ws.TEXT, head, fin=False, rsv=0x40) + client_frame(0, tail)
    assert decoder.feed(fragments) == [(ws.TEXT | ws.DEFLATED, data[:-4])]
    for bad in (
        client_frame(ws.TEXT, b"a", fin=False) + client_frame(0, b"b", rsv=0x40),
        client_frame(ws.PING, b"", rsv=0x40),
        client_frame(ws.TEXT, b"x", rsv=0x20),
    ):
        with pytest.raises(WebSocketError) as refused:
            ws.FrameDecoder(1000, compressed=True).feed(bad)
        assert refused.value.code == ws.PROTOCOL_ERROR


# -- socket.io-client 4.8 under Node --------------------------------------------------------------


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    missing = node_modules_ready()
    if missing:
        pytest.fail(missing)
    with LoopThread() as thread:
        yield thread


def serve(loop: LoopThread, **settings: Any) -> tuple[SocketIOServer, str]:
    async def start() -> SocketIOServer:
        server = SocketIOServer(
            ("127.0.0.1", 0), None, namespaces=namespaces, policy_server=False, **settings
        )
        server.start()
        return server

    server = loop.run(start())
    return server, f"http://127.0.0.1:{server.port}"


SIZES = [10, 1500, 300_000]


@pytest.mark.parametrize(
    ("setting", "extensions"),
    [
        (True, "permessage-deflate"),
        ({"threshold": 0, "server_no_context_takeover": False}, "permessage-deflate"),
        (False, ""),
    ],
)
def test_node_client_negotiates_it_when_on_and_large_messages_round_trip(
    loop: LoopThread, setting: Any, extensions: str
) -> None:
    server, url = serve(loop, per_message_deflate=setting)
    try:
        options = {"nsp": "/big", "sizes": SIZES, "total": 60_000, "timeout": 20_000}
        with NodeClient(url, "deflate", options, driver=DRIVER, timeout=60) as client:
            assert client.step("extensions")["extensions"] == extensions
            for size in SIZES:
                assert client.step("size", size=size) == {
                    "step": "size", "size": size, "echoed": size, "big": size,
                }  # fmt: skip
            client.wait()
    finally:
        loop.run(server.stop())


def test_polling_then_upgrade_negotiates_it_on_the_websocket(loop: LoopThread) -> None:
    server, url = serve(loop, per_message_deflate=True)
    try:
        options = {"nsp": "/big", "sizes": [50_000], "transports": ["polling", "websocket"]}
        with NodeClient(url, "deflate", options, driver=DRIVER, timeout=30) as client:
            line = client.step("extensions")
            client.step("size", size=50_000)
            client.wait()
        assert line["opened"] == "polling" and line["transport"] == "websocket"
        assert line["extensions"] == "permessage-deflate"
    finally:
        loop.run(server.stop())


# -- on the wire ----------------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[InLoopServer]:
    running = await InLoopServer.start(
        namespaces, per_message_deflate=True, max_buffer_size=100_000
    )
    yield running
    await running.stop()


async def read_frame(client: RawWebSocket) -> tuple[int, bytes]:
    """(first byte, payload) of the next server frame."""
    first, second = await asyncio.wait_for(client.reader.readexactly(2), 10)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await client.reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await client.reader.readexactly(8))[0]
    return first, await client.reader.readexactly(length)


async def joined(port: int, offer: str | None = OFFER) -> RawWebSocket:
    """A raw websocket session joined to /big (its open and connect packets read)."""
    headers = {"Sec-WebSocket-Extensions": offer} if offer else {}
    client = await RawWebSocket.connect(port, headers=headers)
    assert client.status == 101
    first, payload = await read_frame(client)
    assert first == 0x81 and payload.startswith(b"0{"), payload
    client.send_text("40/big,")
    first, payload = await read_frame(client)
    assert payload.startswith(b"40/big,{"), payload
    return client


async def exchange(client: RawWebSocket, text: str) -> None:
    """An echo with an ack on /big still works."""
    client.send_text(f'42/big,7["echo",{json.dumps(text)}]')
    while True:
        first, payload = await read_frame(client)
        if first & 0x40:
            payload = zlib.decompressobj(-15).decompress(payload + pmd.TAIL)
        if payload.startswith(b"43/big,7"):
            assert json.loads(payload[len(b"43/big,7") :]) == [text]
            return


async def test_large_messages_go_compressed_and_short_ones_do_not(server: InLoopServer) -> None:
    client = await joined(server.port)
    try:
        assert client.headers["sec-websocket-extensions"] == (
            "permessage-deflate; server_no_context_takeover"
        )
        client.send_text('42/big,["big",50000]')
        first, payload = await read_frame(client)
        assert first == 0xC1, hex(first)  # FIN, RSV1, text
        assert len(payload) < 5000
        packet = zlib.decompressobj(-15).decompress(payload + pmd.TAIL).decode()
        expected = json.dumps(["big", big_text(50000)], ensure_ascii=False, separators=(",", ":"))
        assert packet == "42/big," + expected
        client.send_text('42/big,["big",10]')
        first, payload = await read_frame(client)
        assert first == 0x81 and payload.decode() == '42/big,["big","tornio say"]'
        # The client compresses too: a compressed emit is inflated and acked.
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = compressor.compress(b'42/big,3["echo","squeezed"]')
        data += compressor.flush(zlib.Z_SYNC_FLUSH)
        client.send(client_frame(ws.TEXT, data[:-4], rsv=0x40))
        first, payload = await read_frame(client)
        assert (first, payload) == (0x81, b'43/big,3["squeezed"]')
    finally:
        client.close()


async def test_a_broadcast_is_compressed_once_for_every_recipient(
    server: InLoopServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    compress = pmd.Deflater.compress

    def counting(self: pmd.Deflater, payload: bytes) -> bytes:
        calls.append(len(payload))
        return compress(self, payload)

    monkeypatch.setattr(pmd.Deflater, "compress", counting)
    clients = [await joined(server.port) for _ in range(4)]
    try:
        clients[0].send_text('42/big,["broadcast_big",20000]')
        frames = [await read_frame(client) for client in clients]
        assert all(first == 0xC1 for first, _ in frames), frames
        assert len({payload for _, payload in frames}) == 1
        assert len(calls) == 1, calls
    finally:
        for client in clients:
            client.close()


async def test_a_compressed_frame_without_the_extension_closes_with_1002(
    server: InLoopServer,
) -> None:
    bystander = await joined(server.port)
    client = await joined(server.port, offer=None)
    try:
        assert "sec-websocket-extensions" not in client.headers
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = compressor.compress(b'42/big,["echo","x"]') + compressor.flush(zlib.Z_SYNC_FLUSH)
        client.send(client_frame(ws.TEXT, data[:-4], rsv=0x40))
        await client.expect_close(ws.PROTOCOL_ERROR)
        await exchange(bystander, "still here")
    finally:
        client.close()
        bystander.close()


async def test_garbage_deflate_data_closes_with_1007_and_is_logged(
    server: InLoopServer, caplog: pytest.LogCaptureFixture
) -> None:
    bystander = await joined(server.port)
    client = await joined(server.port)
    try:
        with caplog.at_level("INFO", logger="tornio.legacy.transports.websocket"):
            client.send(client_frame(ws.TEXT, b"\xff\xfe\xfd this is not deflate", rsv=0x40))
            await client.expect_close(ws.INVALID_DATA)
        assert "compressed message is refused" in caplog.text
        await exchange(bystander, "carry on")
    finally:
        client.close()
        bystander.close()


async def test_a_message_that_inflates_too_far_closes_with_1009(server: InLoopServer) -> None:
    bystander = await joined(server.port)
    client = await joined(server.port)
    try:
        bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = bomb.compress(b"4" + bytes(5_000_000)) + bomb.flush(zlib.Z_SYNC_FLUSH)
        assert len(data) < 100_000  # under max_buffer_size on the wire
        client.send(client_frame(ws.TEXT, data[:-4], rsv=0x40))
        await client.expect_close(ws.TOO_BIG)
        # Compressed text that is not UTF-8 once inflated: 1007.
        other = await joined(server.port)
        squeeze = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = squeeze.compress(b"42/big,\xff\xfe") + squeeze.flush(zlib.Z_SYNC_FLUSH)
        other.send(client_frame(ws.TEXT, data[:-4], rsv=0x40))
        await other.expect_close(ws.INVALID_DATA)
        other.close()
        await exchange(bystander, "unbothered")
    finally:
        client.close()
        bystander.close()
