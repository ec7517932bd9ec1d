"""The fast HTTP path's per-request shortcuts (tornio.transports.fasthttp, fastrequest): header
names looked up once per name, the Host and peer read once, one loop callback for all the
connections with input in a pass of the loop, keep-alive and Content-Length read without
the generic helpers. Each answer is compared byte for byte with plain Tornado's, and each
request is checked to have been served on the fast path (not handed to Tornado, which would
answer alike and hide a shortcut gone wrong)."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator

import pytest

from tests.support.raw_http import FastAndTornado
from tornio.transports import fastrequest
from tornio.transports.fasthttp import FastConnection, FastHTTPServer
from tornio.transports.fastrequest import host_name

POLL = "/socket.io/?EIO=4&transport=polling"


Pair = FastAndTornado  # one Router behind the fast path and behind plain Tornado


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    servers = Pair()
    yield servers
    await servers.stop()


async def answers(port: int, data: bytes, count: int) -> bytes:
    """Up to ``count`` Content-Length framed answers to ``data``, or what comes before the
    server closes; dates and session ids blanked (they differ between any two answers)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    out = b""
    try:
        for _ in range(count):
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            except asyncio.IncompleteReadError as exc:
                out += exc.partial
                break
            out += head
            length = re.search(rb"Content-Length: (\d+)", head)
            if length is not None:
                out += await asyncio.wait_for(reader.readexactly(int(length.group(1))), 10)
        else:  # whether the server closed after the last answer, or kept the connection
            try:
                extra = await asyncio.wait_for(reader.read(1), 0.2)
                out += b"<closed>" if extra == b"" else extra
            except TimeoutError:
                out += b"<open>"
    finally:
        writer.close()
    out = re.sub(rb"Date: [^\r]+\r\n", b"", out)
    return re.sub(rb"(?<![\w-])[\w-]{20}(?![\w-])", b"SID", out)


def request(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    return ("\r\n".join([f"{method} {target} HTTP/1.1", *headers, "", ""])).encode() + body


HANDSHAKE = f"{POLL}&t=1"
# (requests sent in one write, answers expected, served on the fast path)
CASES = [
    # Header names in any case, the same name twice in one request or across requests.
    ([request("GET", HANDSHAKE, "hOsT: test", "connection: keep-alive"),
      request("GET", HANDSHAKE, "HOST: test", "CONNECTION: keep-alive")], 2, 2),
    ([request("GET", "/socket.io/1/", "Host: test", "x-a: 1", "X-A: 2", "Origin: http://test")],
     1, 1),
    # Connection: close in any case closes; keep-alive (any case) keeps it open.
    ([request("GET", HANDSHAKE, "Host: test", "Connection: Close")], 1, 1),
    ([request("GET", HANDSHAKE, "Host: test", "Connection: CLOSE"),
      request("GET", HANDSHAKE, "Host: test")], 1, 1),  # the second is not served
    ([request("GET", HANDSHAKE, "Host: test", "Connection: Keep-Alive"),
      request("GET", HANDSHAKE, "Host: test", "Connection: keep-alive, close")], 2, 2),
    # Values with trailing blanks (llhttp strips the leading ones only).
    ([request("GET", HANDSHAKE, "Host: test \t", "Connection: close  ")], 1, 1),
    ([request("GET", "/socket.io/1/", "Host: test", "Origin: http://test\t ")], 1, 1),
    # The Host's name and port (same-origin checks read them), per request of a connection.
    ([request("GET", HANDSHAKE, "Host: Example.COM:8080", "Origin: http://example.com:8080"),
      request("GET", HANDSHAKE, "Host: other:81", "Origin: http://OTHER:81"),
      request("GET", HANDSHAKE, "Host: [::1]:81", "Origin: http://[::1]:81"),
      request("GET", HANDSHAKE, "Host: h:", "Origin: http://h")], 4, 4),
    ([request("GET", HANDSHAKE, "Host:")], 1, 1),
    # Bodies: Content-Length in any case, chunked, and a length larger than the body sent.
    ([request("POST", "/socket.io/1/", "Host: test", "content-LENGTH: 2", body=b"ab")], 1, 1),
    ([request("POST", "/socket.io/1/", "Host: test", "transfer-ENCODING: chunked",
              body=b"2\r\nab\r\n0\r\n\r\n")], 1, 1),
    ([request("POST", "/socket.io/1/", "Host: test", "Content-Length: 007", body=b"abcdefg")],
     1, 1),
    # Not ours: Content-Length that is not digits, and HTTP/1.0, go to Tornado.
    ([request("POST", "/socket.io/1/", "Host: test", "Content-Length: -1")], 1, 0),
    ([b"GET /socket.io/1/ HTTP/1.0\r\nHost: test\r\n\r\n"], 1, 0),
    # An unknown route, between two of ours on one connection.
    ([request("GET", "/socket.io/1/", "Host: test"), request("GET", "/nope", "Host: test"),
      request("GET", "/socket.io/1/", "Host: test")], 3, 1),
]


@pytest.mark.parametrize(("requests", "count", "served"), CASES)
@pytest.mark.asyncio
async def test_answers_are_tornados_byte_for_byte_and_served_on_the_fast_path(
    pair: Pair, requests: list[bytes], count: int, served: int
) -> None:
    data = b"".join(requests)
    fast = await answers(pair.port, data, count)
    assert fast == await answers(pair.tornado_port, data, count)
    assert fast.count(b"HTTP/1.1 ") == count
    assert pair.fast.served == served


@pytest.mark.parametrize("split", [1, 17, 40, 41, 60])
@pytest.mark.asyncio
async def test_a_request_split_across_reads_is_answered_as_a_whole(pair: Pair, split: int) -> None:
    data = request("POST", "/socket.io/1/", "Host: test", "Content-Length: 2", body=b"ab")
    reader, writer = await asyncio.open_connection("127.0.0.1", pair.port)
    writer.write(data[:split])
    await writer.drain()
    await asyncio.sleep(0.01)  # a separate read, most likely; the answer is the same anyway
    writer.write(data[split:])
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and pair.fast.served == 1


def test_host_names_are_tornados() -> None:
    for host, name in [("Example.COM:8080", "example.com"), ("h:", "h:"), (":80", ":80"),
                       ("[::1]:81", "[::1]"), ("a:b", "a:b"), ("x", "x"), ("H:٣", "h:٣")]:
        assert host_name(host) == name
        assert host_name(host) == name  # remembered


class Wire:
    """The peer of one server connection: a real socket pair, the server's end served by
    the fast path on this loop."""

    @classmethod
    async def open(cls, server: FastHTTPServer) -> tuple[Wire, FastConnection]:
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        made: list[FastConnection] = []

        def protocol() -> FastConnection:
            made.append(server.protocol(("127.0.0.1", 1)))
            return made[0]

        await asyncio.get_running_loop().connect_accepted_socket(protocol, theirs)
        wire = cls()
        wire.sock = ours
        return wire, made[0]

    sock: socket.socket

    async def answer(self) -> bytes:
        """One whole answer (its head, and as many body bytes as it says), or what came
        before the server closed."""
        loop = asyncio.get_running_loop()
        data = b""
        while True:
            head, blank, body = data.partition(b"\r\n\r\n")
            if blank:
                length = re.search(rb"Content-Length: (\d+)", head)
                if length is None or len(body) >= int(length.group(1)):
                    return data
            chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), 10)
            if not chunk:
                return data
            data += chunk


@pytest.mark.asyncio
async def test_connections_with_input_in_one_pass_are_served_by_one_callback_in_order(
    pair: Pair,
) -> None:
    wires = [await Wire.open(pair.fast) for _ in range(3)]
    scheduled: list[object] = []
    for _, connection in wires:
        call_soon = connection.call_soon

        def counting(callback: object, *args: object, _call: object = call_soon) -> object:
            scheduled.append(callback)
            return _call(callback, *args)  # type: ignore[operator]

        connection.call_soon = counting  # type: ignore[assignment]
    # Input for the three in one callback (as one pass of the loop delivers it).
    for _, connection in wires:
        connection.data_received(request("GET", "/socket.io/1/", "Host: test"))
    assert pair.fast.pending == [connection for _, connection in wires]
    answers_ = [await wire.answer() for wire, _ in wires]
    assert all(a.startswith(b"HTTP/1.1 200 OK\r\n") for a in answers_)
    assert scheduled == [pair.fast.run_pending] and pair.fast.pending == []
    assert pair.fast.served == 3
    for wire, _ in wires:
        wire.sock.close()


@pytest.mark.asyncio
async def test_a_connection_served_at_its_eof_is_not_served_again(pair: Pair) -> None:
    (wire, connection), (other, second) = [await Wire.open(pair.fast) for _ in range(2)]
    connection.data_received(request("GET", "/socket.io/1/", "Host: test"))
    second.data_received(request("GET", "/socket.io/1/", "Host: test"))
    connection.eof_received()  # served now, before the pass's callback
    assert pair.fast.served == 1 and not connection.scheduled
    served: list[None] = []
    process = connection.process
    connection.process = lambda: served.append(process())  # type: ignore[method-assign]
    assert (await other.answer()).startswith(b"HTTP/1.1 200 OK\r\n")
    assert served == [] and pair.fast.served == 2
    wire.sock.close()
    other.sock.close()


@pytest.mark.server_errors(("tornio.transports.fasthttp", "the fast HTTP path failed"))
@pytest.mark.asyncio
async def test_one_connection_failing_does_not_cost_the_others_their_turn(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    (wire, broken), (other, fine) = [await Wire.open(pair.fast) for _ in range(2)]

    def fail() -> None:
        raise RuntimeError("planted")

    broken.process = fail  # type: ignore[method-assign]
    broken.data_received(request("GET", "/socket.io/1/", "Host: test"))
    fine.data_received(request("GET", "/socket.io/1/", "Host: test"))
    with caplog.at_level(logging.ERROR, "tornio.transports.fasthttp"):
        assert (await other.answer()).startswith(b"HTTP/1.1 200 OK\r\n")
        assert await wire.answer() == b""  # closed
    assert "the fast HTTP path failed" in caplog.text
    other.sock.close()
    wire.sock.close()


async def session(wire: Wire, connection: FastConnection) -> str:
    """An Engine.IO session opened and its namespace joined, over ``connection``."""
    connection.data_received(request("GET", POLL, "Host: test"))
    sid = re.search(rb'"sid":"([^"]+)"', await wire.answer())
    assert sid is not None
    connection.data_received(request("POST", f"{POLL}&sid={sid.group(1).decode()}",
                                      "Host: test", "Content-Length: 2", body=b"40"))
    assert (await wire.answer()).endswith(b"\r\n\r\nok")
    connection.data_received(request("GET", f"{POLL}&sid={sid.group(1).decode()}",
                                     "Host: test"))
    assert b"\r\n\r\n40{" in await wire.answer()
    return sid.group(1).decode()


@pytest.mark.parametrize("post_first", [True, False])
@pytest.mark.asyncio
async def test_a_post_and_a_poll_in_one_pass_are_served_in_arrival_order(
    pair: Pair, post_first: bool
) -> None:
    (polls, poll), (posts, post) = [await Wire.open(pair.fast) for _ in range(2)]
    sid = await session(polls, poll)
    body = b'42["echo","hi"]'
    emit = request("POST", f"{POLL}&sid={sid}", "Host: test",
                   f"Content-Length: {len(body)}", body=body)
    held = request("GET", f"{POLL}&sid={sid}", "Host: test")
    if post_first:  # the event is queued, then the poll takes it at once
        post.data_received(emit)
        poll.data_received(held)
        assert pair.fast.pending == [post, poll]
    else:  # the poll is held, then the event releases it
        poll.data_received(held)
        post.data_received(emit)
        assert pair.fast.pending == [poll, post]
    answer = await posts.answer()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\nok")
    answer = await polls.answer()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"\r\n\r\n" + body)
    polls.sock.close()
    posts.sock.close()


async def test_header_names_and_hosts_a_client_invents_do_not_grow_the_caches(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caches of header names and Host values are filled by what clients send: past
    their bound, new values are worked out each time and not kept, and answers stay right."""
    monkeypatch.setattr(fastrequest, "MAX_HEADER_KEYS", len(fastrequest.HEADER_KEYS) + 3)
    monkeypatch.setattr(fastrequest, "MAX_HOST_NAMES", len(fastrequest._HOST_NAMES) + 3)
    batch = [request("GET", "/socket.io/1/", f"Host: h{n}.example",
                     f"X-Invented-{n}: v", f"Origin: http://h{n}.example")
             for n in range(20)]
    got = await answers(pair.port, b"".join(batch), 20)
    assert got.count(b"HTTP/1.1 200 OK") == 20, got[:300]
    assert len(fastrequest.HEADER_KEYS) <= fastrequest.MAX_HEADER_KEYS
    assert len(fastrequest._HOST_NAMES) <= fastrequest.MAX_HOST_NAMES
    assert fastrequest.header_keys(b"X-Invented-19") == ("X-Invented-19", "x-invented-19")
    assert fastrequest.host_name("H19.Example:80") == "h19.example"
