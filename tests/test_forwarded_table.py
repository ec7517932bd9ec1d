"""Which client a request comes from behind proxies (``tornio.transports.forwarded``), as
tables of exact answers: addresses as headers and peers write them, the trusted set, the
scheme, the log line for a bad address; then ``ForwardedHeaders`` in front of a real Tornado
``HTTPServer`` on loopback, request by request on one kept-alive connection."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPHeaders, HTTPServerConnectionDelegate
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from tests.support.pinned_http import PinnedConnection
from tornio.transports.forwarded import (
    Client,
    ForwardedHeaders,
    TrustedProxies,
    resolve,
    resolve_headers,
)

TRUSTED = TrustedProxies("127.0.0.1, 10.0.0.0/8, ::1")


@pytest.mark.parametrize(
    ("written", "client"),
    [
        ("198.51.100.1", "198.51.100.1"),
        (" 198.51.100.1 ", "198.51.100.1"),
        ("198.51.100.1:4711", "198.51.100.1"),
        ("2001:db8::7", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
        ("[2001:db8::7]:4711", "2001:db8::7"),
        ("[2001:db8::7]:4711]", "2001:db8::7"),  # all after the first ']' is the port part
        ("2001:DB8:0::7", "2001:db8::7"),
        ("::ffff:198.51.100.1", "198.51.100.1"),  # IPv4-mapped: the IPv4 address
        ("[::ffff:198.51.100.1]:80", "198.51.100.1"),
        ("198.51.100.1:4711:1", None),
        ("[2001:db8::7", "2001:db8::7"),  # no ']': all of it is the address
        ("2001:db8::7]", None),
        ("unknown", None),
        ("", None),
        ("_hidden", None),
        ("198.51.100.300", None),
    ],
)
def test_a_forwarded_address(written: str, client: str | None) -> None:
    """As X-Forwarded-For and X-Real-Ip write it: an address, or the peer stays the client."""
    for header in ("forwarded_for", "real_ip"):
        got = resolve("127.0.0.1", TRUSTED, **{header: written})
        assert got == Client(client or "127.0.0.1"), header


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("127.0.0.1", True),
        ("127.0.0.1:5000", True),
        ("10.255.0.1", True),
        ("[::1]:5000", True),
        ("::ffff:10.0.0.1", True),
        ("11.0.0.1", False),
        ("::2", False),
        ("localhost", False),
        ("", False),
        (None, False),
        (167772161, False),  # 10.0.0.1 as an int: only strings are peers
    ],
)
def test_who_is_trusted(peer: Any, trusted: bool) -> None:
    assert (peer in TRUSTED) is trusted
    assert peer in TrustedProxies("*")


@pytest.mark.parametrize(
    ("spec", "truth", "text"),
    [
        ((), False, "TrustedProxies([])"),
        ("", False, "TrustedProxies([])"),
        ("*", True, "TrustedProxies(['*'])"),
        ("10.0.0.0/8", True, "TrustedProxies(['10.0.0.0/8'])"),
        ("10.0.0.1/8, ::1", True, "TrustedProxies(['10.0.0.0/8', '::1/128'])"),
        ("*, 10.0.0.0/8", True, "TrustedProxies(['*'])"),
    ],
)
def test_the_trusted_set(spec: Any, truth: bool, text: str) -> None:
    trusted = TrustedProxies(spec)
    assert bool(trusted) is truth
    assert repr(trusted) == text


@pytest.mark.parametrize(
    ("proto", "scheme"),
    [
        ("https", "https"),
        ("HTTPS", "https"),
        (" http ", "http"),
        ("wss", "https"),
        ("ws", "http"),
        ("http, https", "https"),  # the last proxy's word
        ("https,http", "http"),
        ("https, gopher", None),
        ("", None),
    ],
)
def test_the_forwarded_scheme(proto: str, scheme: str | None) -> None:
    assert resolve("127.0.0.1", TRUSTED, forwarded_proto=proto) == Client("127.0.0.1", scheme)
    # the scheme stands when the address does not
    assert resolve("127.0.0.1", TRUSTED, forwarded_for="nope", forwarded_proto=proto) == Client(
        "127.0.0.1", scheme
    )


def test_a_bad_forwarded_address_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, "tornio.transports.forwarded"):
        resolve("127.0.0.1", TRUSTED, forwarded_for=" , ,")  # no address at all: no line
        resolve("127.0.0.1", TRUSTED)
        resolve("127.0.0.1", TRUSTED, forwarded_for="unknown")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.DEBUG,
         "a forwarded client address that is not one: 'unknown' (from 127.0.0.1)"),
    ]


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        ("127.0.0.1", {"X-Forwarded-For": "198.51.100.1"}, Client("198.51.100.1")),
        ("127.0.0.1", {"x-forwarded-for": "198.51.100.1"}, Client("198.51.100.1")),
        ("127.0.0.1", {"X-Real-Ip": "198.51.100.2"}, Client("198.51.100.2")),
        ("127.0.0.1", {"X-Forwarded-For": "198.51.100.1", "X-Real-Ip": "198.51.100.2"},
         Client("198.51.100.1")),
        ("127.0.0.1", {"X-Forwarded-Proto": "https"}, Client("127.0.0.1", "https")),
        ("127.0.0.1", {"X-Scheme": "https"}, Client("127.0.0.1", "https")),
        ("127.0.0.1", {"X-Forwarded-Proto": "http", "X-Scheme": "https"},
         Client("127.0.0.1", "http")),
        ("192.0.2.1", {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"},
         Client("192.0.2.1")),
    ],
)
def test_resolve_headers(peer: str, headers: dict[str, str], client: Client) -> None:
    assert resolve_headers(peer, HTTPHeaders(headers), TRUSTED) == client


# -- ForwardedHeaders in front of a real HTTPServer -------------------------------------------


class Where(RequestHandler):
    def get(self) -> None:
        self.write(f"{self.request.remote_ip} {self.request.protocol}")

    def post(self) -> None:
        self.write(self.request.body)


class Recording(HTTPServerConnectionDelegate):
    """The application, and what reached its ``on_close``."""

    def __init__(self) -> None:
        self.app = Application([("/", Where)])
        self.closed: list[object] = []

    def start_request(self, server_conn: object, request_conn: Any) -> Any:
        return self.app.start_request(server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self.closed.append(server_conn)


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    servers: list[HTTPServer] = []

    async def start(trusted: Any) -> PinnedConnection:
        server = HTTPServer(ForwardedHeaders(Recording(), trusted))
        sockets = bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        servers.append(server)
        return await PinnedConnection.open("127.0.0.1", sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.stop()
        await server.close_all_connections()


FORGED = {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"}


async def test_requests_from_a_trusted_proxy_take_its_word_each_time(serve: Any) -> None:
    conn = await serve("127.0.0.1")
    try:
        assert (await conn.request("GET", "/", headers=FORGED)).text == "198.51.100.1 https"
        # the next request on the connection is resolved from the peer again, not from the last
        assert (await conn.request("GET", "/")).text == "127.0.0.1 http"
        assert (await conn.request("GET", "/", headers={"X-Real-Ip": "198.51.100.2"})).text == (
            "198.51.100.2 http"
        )
        assert (await conn.request("POST", "/", body=b"body", headers=FORGED)).body == b"body"
    finally:
        conn.close()


@pytest.mark.parametrize("trusted", [(), "10.0.0.0/8", TrustedProxies("192.0.2.0/24")])
async def test_requests_from_an_untrusted_peer_are_its_own(serve: Any, trusted: Any) -> None:
    conn = await serve(trusted)
    try:
        assert (await conn.request("GET", "/", headers=FORGED)).text == "127.0.0.1 http"
        assert (await conn.request("POST", "/", body=b"body", headers=FORGED)).body == b"body"
    finally:
        conn.close()


def test_on_close_is_passed_on() -> None:
    """(Tornado's HTTPServer keeps connection closes to itself; a wrapper that passes them on,
    as tornio.transports.forwarding's does, reaches the application through this one.)"""
    app = Recording()
    marker = object()
    ForwardedHeaders(app, "*").on_close(marker)
    assert app.closed == [marker]
