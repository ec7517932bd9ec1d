"""The edges of the origin decision (``tornio.transports.origins``) as tables: ports and
lengths at their bounds, the reasons given, the policy's own entries and their errors, the
refusal log's window; and ``check_request``, ``own_host`` and the peer they trust, on real
Tornado ``HTTPServerRequest`` objects (and a real loopback socket for the peer)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from tornio.transports import origins
from tornio.transports.origins import (
    MAX_ORIGIN_LENGTH,
    OriginPolicy,
    RefusalLog,
    check_request,
    decide,
    own_host,
    parse_origin,
    parse_policy,
    request_decision,
)


@pytest.mark.parametrize(
    ("text", "site"),
    [
        ("http://a.example:", ("http", "a.example", 80)),  # an empty port: the default
        ("https://[::1]:", ("https", "[::1]", 443)),
        ("ws://a.example", ("ws", "a.example", 80)),
        ("wss://a.example", ("wss", "a.example", 443)),
        ("http://a.example:65535", ("http", "a.example", 65535)),
        ("http://a.example:65536", None),
        ("http://a.example:1", ("http", "a.example", 1)),
        ("http://[::1]x", None),
        ("http://[::1]:80:80", None),
        ("http://a.example:80:80", None),
        ("http://[::1", None),
        ("http://a.example/", None),  # not a URL: no path
        ("http://" + "a" * (MAX_ORIGIN_LENGTH - 7), ("http", "a" * (MAX_ORIGIN_LENGTH - 7), 80)),
        ("http://" + "a" * (MAX_ORIGIN_LENGTH - 6), None),
    ],
)
def test_parse_origin(text: str, site: Any) -> None:
    assert parse_origin(text) == site  # url=False is the default


@pytest.mark.parametrize(
    ("text", "site"),
    [
        ("http://a.example/x/y/z", ("http", "a.example", 80)),
        ("http://a.example?x=http://b.example/", ("http", "a.example", 80)),
        ("http://a.example/?r=https://b.example", ("http", "a.example", 80)),
        ("http://a.example#f/g", ("http", "a.example", 80)),
        ("http://XYZ.example/p", ("http", "xyz.example", 80)),
        ("https://a.example:8443/p?q", ("https", "a.example", 8443)),
        ("a.example/p", None),
        ("http://" + "a" * (MAX_ORIGIN_LENGTH - 7) + "/" + "p" * 1000,
         ("http", "a" * (MAX_ORIGIN_LENGTH - 7), 80)),  # the bound is on scheme and authority
    ],
)
def test_parse_origin_of_a_url(text: str, site: Any) -> None:
    assert parse_origin(text, url=True) == site


# (origins, Origin, Host, Referer, require) -> (allowed, headers, reason)
CRED = "cred"
REASONS: list[tuple[Any, ...]] = [
    ([], None, "a.example", None, False, True, (), "no origin"),
    ([], None, "a.example", None, True, False, (), "no Origin or Referer on a JSONP request"),
    (["*"], "http://e.example", "a.example", None, False, True, "*", "any origin"),
    (["*"], None, "a.example", "http://e.example/p", False, True, (), "any origin"),
    (["null"], "null", "a.example", None, False, True, CRED, "listed"),
    ([], "null", "a.example", None, False, False, (), "the null origin"),
    ([], None, "a.example", "null", False, False, (), "malformed origin"),  # a Referer 'null'
    ([], "http://a b", "a.example", None, False, False, (), "malformed origin"),
    ([], "http://a.example", "a.example", None, False, True, (), "same origin"),
    (["http://e.example"], "http://e.example", "a.example", None, False, True, CRED, "listed"),
    (["e.example:80"], None, "a.example", "http://e.example/", False, True, (), "listed"),
    (["*:80"], "http://e.example", "a.example", None, False, True, "*", "listed"),
    (["e.example:*"], "http://f.example", "a.example", None, False, False, (), "cross origin"),
    (["*:81"], "http://e.example", "a.example", None, False, False, (), "cross origin"),
    ([], "http://e.example", "a.example", None, False, False, (), "cross origin"),
    # no Host: no own origin, whatever the Origin (not the one of a host named "None")
    ([], "http://none", None, None, False, False, (), "cross origin"),
    ([], "http://none", "", None, False, False, (), "cross origin"),
]


@pytest.mark.parametrize(
    ("spec", "origin", "host", "referer", "require", "allowed", "headers", "reason"), REASONS
)
def test_the_reason_of_each_decision(
    spec: Any, origin: str | None, host: str | None, referer: str | None, require: bool,
    allowed: bool, headers: Any, reason: str,
) -> None:
    decision = decide(
        parse_policy(spec), origin=origin, scheme="http", host=host, referer=referer,
        require=require,
    )
    if headers == CRED:
        headers = (("Access-Control-Allow-Origin", origin), (
            "Access-Control-Allow-Credentials", "true"), ("Vary", "Origin"))
    elif headers == "*":
        headers = (("Access-Control-Allow-Origin", "*"),)
    assert decision == (allowed, headers, reason)


def test_decide_does_not_require_an_origin_by_default() -> None:
    decision = decide(parse_policy([]), origin=None, scheme="http", host="a.example")
    assert decision == (True, (), "no origin")


@pytest.mark.parametrize(
    ("spec", "policy"),
    [
        ((), OriginPolicy()),
        (("*",), OriginPolicy(any=True)),
        ("*:* null", OriginPolicy(any=True, null=True)),
        (["https://A.example/"], OriginPolicy(entries=(
            origins._Entry("https", "a.example", 443, "https://A.example/"),))),
        (("http://a.example:8080",), OriginPolicy(entries=(
            origins._Entry("http", "a.example", 8080, "http://a.example:8080"),))),
        (["app://x"], OriginPolicy(entries=(origins._Entry("app", "x", None, "app://x"),))),
        (["http://aX"], OriginPolicy(entries=(origins._Entry("http", "ax", 80, "http://aX"),))),
        (["A.example:80", "*:443", "b.example:*", "[::1]:*"], OriginPolicy(entries=(
            origins._Entry(None, "a.example", 80, "A.example:80"),
            origins._Entry(None, "*", 443, "*:443"),
            origins._Entry(None, "b.example", None, "b.example:*"),
            origins._Entry(None, "[::1]", None, "[::1]:*"),
        ))),
    ],
)
def test_parse_policy(spec: Any, policy: OriginPolicy) -> None:
    assert parse_policy(spec) == policy


NEITHER = ("is neither a full origin (scheme://host[:port], no path) nor a node 0.9 pattern "
           "('host:port', 'host:*', '*:port')")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("https://a.example/x", f"origins: 'https://a.example/x' {NEITHER}"),
        ("a.example", f"origins: 'a.example' {NEITHER}"),
        ("a.example:x", f"origins: 'a.example:x' {NEITHER}"),
        ("a.example:0", "origins: 'a.example:0' has a bad port (1-65535 or '*')"),
        # longer than an Origin header may be: the policy's own check
        ("https://" + "a" * MAX_ORIGIN_LENGTH, f"origins: {'https://' + 'a' * MAX_ORIGIN_LENGTH!r} "
                                               "is not an origin (scheme://host[:port], no path)"),
    ],
)
def test_a_bad_policy_entry(entry: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_policy([entry])
    assert str(raised.value) == message


def test_node_patterns_at_their_bounds() -> None:
    policy = parse_policy(["a.example:65535", "b.example:1"])
    assert [e.port for e in policy.entries] == [65535, 1]
    assert decide(policy, origin="http://a.example:65535", scheme="http", host="x").allowed
    assert not decide(policy, origin="http://a.example", scheme="http", host="x").allowed


# -- the refusal log ------------------------------------------------------------------------


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_the_refusal_log_window_starts_at_its_first_line(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = RefusalLog(limit=1, window=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, "tornio.transports.origins"):
        for t, text in ((0.0, "a"), (5.0, "b"), (9.9, "c"), (10.0, "d"), (19.9, "e")):
            now[0] = t
            log(text)
    assert messages(caplog) == ["a", "2 more origin refusals were not logged", "d"]


def test_the_refusal_log_defaults_to_20_lines_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    log = RefusalLog(clock=lambda: now[0])
    with caplog.at_level(logging.INFO, "tornio.transports.origins"):
        for i in range(25):
            log("refused %d", i)
        now[0] = 1059.9
        log("late")
        now[0] = 1060.0
        log("next")
    assert messages(caplog) == [f"refused {i}" for i in range(20)] + [
        "6 more origin refusals were not logged", "next"]


# -- check_request on real requests ---------------------------------------------------------


def request(
    headers: dict[str, str], *, peer: str = "127.0.0.1", protocol: str = "http",
    connection: Any = None, method: str = "GET", uri: str = "/socket.io/1/?t=1",
) -> HTTPServerRequest:
    if connection is None:
        context = SimpleNamespace(remote_ip=peer, protocol=protocol, tornio_peer=(peer, protocol))
        connection = SimpleNamespace(context=context)
    return HTTPServerRequest(start_line=RequestStartLine(method, uri, "HTTP/1.0"),
                             headers=HTTPHeaders(headers), connection=connection)


def settings(origins_: Any = (), trusted: Any = ()) -> Any:
    return SimpleNamespace(origins=origins_, trusted_proxies=trusted)


@pytest.fixture
def refusals(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    """A fresh refusal log (the module's own one counts every refusal of the test session)."""
    monkeypatch.setattr(origins, "refusals", RefusalLog())
    with caplog.at_level(logging.INFO, "tornio.transports.origins"):
        yield caplog


def test_a_request_without_origin_is_not_looked_at(refusals: Any) -> None:
    decision = check_request(request({"Host": "a.example"}), settings(["bad entry"]))
    assert decision is origins._NO_ORIGIN
    assert refusals.records == []


def test_request_decision_looks_at_the_origin_alone_by_default(refusals: Any) -> None:
    """The fast path's steady polls ask ``request_decision`` with its defaults: only the
    ``Origin`` counts (not a Referer, not an upgrade's Sec-WebSocket-Origin, none needed), and
    nothing is logged (the general exchange decides again, and logs a refusal)."""
    foreign = "http://e.example"
    for headers in ({"Referer": foreign + "/page"}, {"Sec-WebSocket-Origin": foreign}, {}):
        decision, origin, host = request_decision(
            request({"Host": "a.example", **headers}), settings())
        assert (decision, origin, host) == (origins._NO_ORIGIN, None, None), headers
    decision, origin, host = request_decision(
        request({"Host": "a.example", "Origin": foreign}), settings())
    assert decision == (False, (), "cross origin")
    assert (origin, host) == (foreign, "a.example")
    assert request_decision(request({"Host": "a.example", "Origin": "http://a.example"}),
                            settings())[0] == (True, (), "same origin")
    assert refusals.records == []


def test_a_refusal_is_logged_with_what_it_was(refusals: Any) -> None:
    req = request({"Host": "a.example:8080", "Origin": "http://e.example"}, peer="192.0.2.1")
    assert check_request(req, settings()) == (False, (), "cross origin")
    req = request({"Host": "a.example", "Referer": "http://e.example/page"}, protocol="https",
                  method="POST", uri="/socket.io/1/jsonp-polling/x?i=0")
    assert check_request(req, settings(), referer=True, require=True) == (
        False, (), "cross origin")
    long_origin = "http://" + "e" * 1000
    req = request({"Host": "a.example", "Origin": long_origin})
    assert not check_request(req, settings()).allowed
    req = request({"Host": "a.example"})
    assert check_request(req, settings(), referer=True, require=True) == (
        False, (), "no Origin or Referer on a JSONP request")
    assert messages(refusals) == [
        "refused GET /socket.io/1/ from 192.0.2.1: cross origin 'http://e.example' "
        "(own origin http://a.example:8080)",
        "refused POST /socket.io/1/jsonp-polling/x from 127.0.0.1: cross origin "
        "'http://e.example/page' (own origin https://a.example)",
        f"refused GET /socket.io/1/ from 127.0.0.1: malformed origin "
        f"{long_origin[:MAX_ORIGIN_LENGTH]!r} (own origin http://a.example)",
        "refused GET /socket.io/1/ from 127.0.0.1: no Origin or Referer on a JSONP request "
        "None (own origin http://a.example)",
    ]
    assert all(r.levelno == logging.INFO for r in refusals.records)


@pytest.mark.parametrize(
    ("headers", "kwargs", "allowed"),
    [
        ({"Origin": "http://a.example"}, {}, True),
        ({"Origin": "http://e.example"}, {}, False),
        ({"Sec-WebSocket-Origin": "http://e.example"}, {"websocket": True}, False),
        ({"Sec-WebSocket-Origin": "http://e.example"}, {}, True),  # only on an upgrade
        ({"Sec-WebSocket-Origin": "http://a.example"}, {"websocket": True}, True),
        ({"Origin": "http://a.example", "Sec-WebSocket-Origin": "http://e.example"},
         {"websocket": True}, True),
        ({"Referer": "http://e.example/"}, {}, True),  # looked at only where asked
        ({"Referer": "http://e.example/"}, {"referer": True}, False),
        ({"Referer": "http://a.example/"}, {"referer": True, "require": True}, True),
        ({}, {"referer": True}, True),  # JSONP's requirement only where asked
    ],
)
def test_what_check_request_looks_at(
    refusals: Any, headers: dict[str, str], kwargs: dict[str, bool], allowed: bool
) -> None:
    decision = check_request(request({"Host": "a.example", **headers}), settings(), **kwargs)
    assert decision.allowed is allowed
    assert len(refusals.records) == (0 if allowed else 1)


@pytest.mark.server_errors(
    ("tornio.transports.origins", "the origins setting is invalid: only the same origin"),
)
def test_an_invalid_origins_setting_falls_back_to_the_same_origin(refusals: Any) -> None:
    same = request({"Host": "a.example", "Origin": "http://a.example"})
    assert check_request(same, settings(["not an entry"])) == (True, (), "same origin")
    other = request({"Host": "a.example", "Origin": "http://e.example"})
    assert not check_request(other, settings(["e.example:"])).allowed
    errors = [r for r in refusals.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "the origins setting is invalid: only the same origin is allowed"] * 2
    assert all(r.exc_info is not None for r in errors)


def test_a_trusted_proxy_names_the_own_host(refusals: Any) -> None:
    req = request({"Host": "a.example", "X-Forwarded-Host": "b.example",
                   "Origin": "http://b.example"})
    assert check_request(req, settings(trusted=("127.0.0.1",))) == (True, (), "same origin")
    assert check_request(req, settings()) == (False, (), "cross origin")


def test_listed_origins_get_their_cors_headers(refusals: Any) -> None:
    req = request({"Host": "a.example", "Origin": "https://app.example"})
    decision = check_request(req, settings(("https://app.example",)))
    assert decision == (True, (("Access-Control-Allow-Origin", "https://app.example"),
                               ("Access-Control-Allow-Credentials", "true"),
                               ("Vary", "Origin")), "listed")


# -- the request's own host, and the peer that may name it ----------------------------------


@pytest.mark.parametrize(
    ("peer", "trusted", "headers", "host"),
    [
        ("127.0.0.1", (), {"Host": "a.example", "X-Forwarded-Host": "b.example"}, "a.example"),
        ("127.0.0.1", ("127.0.0.1",), {"Host": "a.example", "X-Forwarded-Host": "b.example"},
         "b.example"),
        ("127.0.0.1", ("127.0.0.1",), {"Host": "a", "X-Forwarded-Host": "b, c.example:8443 "},
         "c.example:8443"),
        ("127.0.0.1", ("127.0.0.1",), {"Host": "a.example", "X-Forwarded-Host": "b, "},
         "a.example"),
        ("127.0.0.1", ("127.0.0.1",), {"Host": "a.example", "X-Forwarded-Host": ""}, "a.example"),
        ("127.0.0.1", ("127.0.0.1",), {"Host": "a.example"}, "a.example"),
        ("192.0.2.1", ("127.0.0.1",), {"Host": "a.example", "X-Forwarded-Host": "b.example"},
         "a.example"),
        ("192.0.2.1", ("*",), {"Host": "a.example", "X-Forwarded-Host": "b.example"},
         "b.example"),
        ("127.0.0.1", ("127.0.0.1",), {"X-Forwarded-Host": "b.example"}, "b.example"),
        ("127.0.0.1", (), {}, None),
    ],
)
def test_own_host(peer: str, trusted: Any, headers: dict[str, str], host: str | None) -> None:
    assert own_host(request(headers, peer=peer), trusted) == host


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A real loopback connection: (the server's end, the client's end)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with server, client:
        yield server, client


def test_the_peer_of_each_kind_of_connection(tcp_pair: tuple[socket.socket, socket.socket]
                                             ) -> None:
    """Behind ForwardedHeaders (the peer it kept), on the fast path (``address``), plain
    Tornado (the stream's socket, whatever ``remote_ip`` says), or only ``remote_ip``."""
    server, _client = tcp_pair
    headers = {"Host": "a.example", "X-Forwarded-Host": "b.example"}
    trusted = ("127.0.0.1",)
    kept = SimpleNamespace(context=SimpleNamespace(
        remote_ip="192.0.2.9", protocol="http", tornio_peer=("127.0.0.1", "http")))
    fast = SimpleNamespace(address=("127.0.0.1", 5555),
                           context=SimpleNamespace(remote_ip="192.0.2.9", protocol="http"))
    plain = SimpleNamespace(stream=SimpleNamespace(socket=server),
                            context=SimpleNamespace(remote_ip="192.0.2.9", protocol="http"))
    only_ip = SimpleNamespace(context=SimpleNamespace(remote_ip="127.0.0.1", protocol="http"))
    for connection in (kept, fast, plain, only_ip):
        assert own_host(request(headers, connection=connection), trusted) == "b.example"
    # the same, seen from an untrusted address: Host
    untrusted = SimpleNamespace(
        context=SimpleNamespace(remote_ip="127.0.0.1", protocol="http", tornio_peer=(
            "192.0.2.1", "http")))
    empty_address = SimpleNamespace(address=(), context=SimpleNamespace(remote_ip="192.0.2.1",
                                                                        protocol="http"))
    for connection in (untrusted, empty_address):
        assert own_host(request(headers, connection=connection), trusted) == "a.example"


def test_a_closed_socket_has_no_peer() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    client.close()
    server.close()
    closed = SimpleNamespace(stream=SimpleNamespace(socket=server),
                             context=SimpleNamespace(remote_ip="127.0.0.1", protocol="http"))
    headers = {"Host": "a.example", "X-Forwarded-Host": "b.example"}
    assert own_host(request(headers, connection=closed), ("127.0.0.1",)) == "a.example"
    no_context = SimpleNamespace(address=("127.0.0.1", 1))  # a connection with no context
    assert own_host(request(headers, connection=no_context), ("127.0.0.1",)) == "b.example"
    no_ip = SimpleNamespace(context=SimpleNamespace(remote_ip=None, protocol="http"))
    assert own_host(request(headers, connection=no_ip), ("127.0.0.1",)) == "a.example"
    assert own_host(request(headers, connection=no_ip), ("*",)) == "b.example"
