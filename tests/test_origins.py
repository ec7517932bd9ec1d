"""The origin decision as a table (:func:`tornio.transports.origins.decide`): both
generations' request shapes, default ports, IPv6, 'null', malformed values, Referer."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tornio.settings import Settings
from tornio.transports.origins import (
    RefusalLog,
    decide,
    parse_origin,
    parse_policy,
)

CRED = "cred"  # Access-Control-Allow-Origin: <the origin>, with credentials
STAR = "*"  # Access-Control-Allow-Origin: *, no credentials
NONE = ""  # no CORS headers
REFUSED = None

SAME: tuple[str, ...] = ()

# (origins setting, Origin, scheme, Host, Referer, require) -> answer
TABLE: list[tuple[Any, ...]] = [
    # the default: same origin only; no Origin is a non-browser client
    (SAME, None, "http", "127.0.0.1:8080", None, False, NONE),
    (SAME, "http://127.0.0.1:8080", "http", "127.0.0.1:8080", None, False, NONE),
    (SAME, "http://evil.example", "http", "127.0.0.1:8080", None, False, REFUSED),
    (SAME, "http://127.0.0.1:8081", "http", "127.0.0.1:8080", None, False, REFUSED),
    (SAME, "https://127.0.0.1:8080", "http", "127.0.0.1:8080", None, False, REFUSED),
    # default ports, case-insensitive host and scheme
    (SAME, "http://App.Example", "http", "app.example:80", None, False, NONE),
    (SAME, "http://app.example:80", "http", "APP.EXAMPLE", None, False, NONE),
    (SAME, "https://app.example", "https", "app.example:443", None, False, NONE),
    (SAME, "HTTPS://app.example:443", "https", "app.example", None, False, NONE),
    (SAME, "https://app.example", "http", "app.example", None, False, REFUSED),
    (SAME, "http://app.example", "http", "app.example:8080", None, False, REFUSED),
    # IPv6 hosts
    (SAME, "http://[::1]:8080", "http", "[::1]:8080", None, False, NONE),
    (SAME, "http://[::1]", "http", "[::1]:80", None, False, NONE),
    (SAME, "http://[::1]:8080", "http", "[::2]:8080", None, False, REFUSED),
    (["[::1]:8080"], "http://[::1]:8080", "http", "x", None, False, CRED),
    # 'null' (sandboxed frames, file:) and malformed origins
    (SAME, "null", "http", "app.example", None, False, REFUSED),
    (["null"], "null", "http", "app.example", None, False, CRED),
    (SAME, "app.example", "http", "app.example", None, False, REFUSED),
    (SAME, "http://app.example/", "http", "app.example", None, False, REFUSED),
    (SAME, "http://user@app.example", "http", "app.example", None, False, REFUSED),
    (SAME, "http://app.example:99999", "http", "app.example:99999", None, False, REFUSED),
    (SAME, "http://app.example:x", "http", "app.example", None, False, REFUSED),
    (SAME, "http://app.example\r\nX: y", "http", "app.example", None, False, REFUSED),
    (SAME, "http://[::1", "http", "[::1", None, False, REFUSED),
    (SAME, "http://" + "a" * 600, "http", "a" * 600, None, False, REFUSED),
    (SAME, "", "http", "app.example", None, False, REFUSED),
    # a request with no (or a bad) Host has no own origin
    (SAME, "http://app.example", "http", None, None, False, REFUSED),
    (SAME, "http://app.example", "http", "app.example/x", None, False, REFUSED),
    # Referer where 0.9 used it (handshake, JSONP): its scheme and authority
    (SAME, None, "http", "app.example", "http://app.example/chat.html?x=1", False, NONE),
    (SAME, None, "http", "app.example", "http://evil.example/app.example", False, REFUSED),
    (SAME, None, "http", "app.example", "not a url", False, REFUSED),
    (SAME, "http://app.example", "http", "app.example", "http://evil.example/", False, NONE),
    (["http://a.example"], None, "http", "x", "http://a.example/p", False, NONE),
    # JSONP must show one of them, unless any origin is allowed
    (SAME, None, "http", "app.example", None, True, REFUSED),
    (SAME, None, "http", "app.example", "http://app.example/", True, NONE),
    (["*"], None, "http", "app.example", None, True, NONE),
    # listed full origins: credentialed; scheme and port count
    (["https://app.example"], "https://app.example", "http", "x", None, False, CRED),
    (["https://app.example"], "https://app.example:443", "http", "x", None, False, CRED),
    (["https://app.example"], "http://app.example", "http", "x", None, False, REFUSED),
    (["http://localhost:3000"], "http://localhost:3000", "http", "x", None, False, CRED),
    (["http://localhost:3000"], "http://localhost:3001", "http", "x", None, False, REFUSED),
    (["http://localhost:3000"], "http://evil.example", "http", "x", None, False, REFUSED),
    # node 0.9 patterns: host and port, any scheme
    (["a.example:80"], "http://a.example", "http", "x", None, False, CRED),
    (["a.example:80"], "ws://a.example", "http", "x", None, False, CRED),
    (["a.example:443"], "https://a.example", "http", "x", None, False, CRED),
    # an https (or wss) origin without a port is port 443, never 80
    (["a.example:80"], "https://a.example", "http", "x", None, False, REFUSED),
    (["a.example:443"], "wss://a.example", "http", "x", None, False, CRED),
    (["a.example:80"], "wss://a.example", "http", "x", None, False, REFUSED),
    (SAME, "https://a.example", "https", "a.example:80", None, False, REFUSED),
    (["a.example:80"], "http://a.example:81", "http", "x", None, False, REFUSED),
    (["a.example:*"], "https://A.example:9", "http", "x", None, False, CRED),
    (["*:8443"], "https://any.example:8443", "http", "x", None, False, STAR),
    (["*:8443"], "https://any.example", "http", "x", None, False, REFUSED),
    # wildcards: any origin, no credentials
    (["*"], "http://evil.example", "http", "x", None, False, STAR),
    (["*:*"], "http://evil.example", "http", "x", None, False, STAR),
    (["*"], "null", "http", "x", None, False, STAR),
    (["*"], "garbage\x00", "http", "x", None, False, STAR),
    (["*"], None, "http", "x", None, False, NONE),
    # the own origin needs no CORS headers even when it is listed too
    (["http://app.example"], "http://app.example", "http", "app.example", None, False, NONE),
]


@pytest.mark.parametrize(
    ("origins", "origin", "scheme", "host", "referer", "require", "answer"), TABLE
)
def test_decide(
    origins: Any,
    origin: str | None,
    scheme: str,
    host: str | None,
    referer: str | None,
    require: bool,
    answer: str | None,
) -> None:
    decision = decide(
        parse_policy(origins),
        origin=origin,
        scheme=scheme,
        host=host,
        referer=referer,
        require=require,
    )
    headers = dict(decision.headers)
    if answer is REFUSED:
        assert not decision.allowed and headers == {}, decision
        return
    assert decision.allowed, decision
    if answer == CRED:
        assert headers == {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }
    elif answer == STAR:
        assert headers == {"Access-Control-Allow-Origin": "*"}
    else:
        assert headers == {}


@pytest.mark.parametrize(
    ("text", "url", "site"),
    [
        ("http://a.example", False, ("http", "a.example", 80)),
        ("https://a.example", False, ("https", "a.example", 443)),
        ("HTTP://A.EXAMPLE:8080", False, ("http", "a.example", 8080)),
        ("http://[::1]:1", False, ("http", "[::1]", 1)),
        ("app://local", False, ("app", "local", None)),
        ("http://a.example/x", False, None),
        ("http://a.example/x?y#z", True, ("http", "a.example", 80)),
        ("http://a.example:0", False, None),
        ("//a.example", False, None),
    ],
)
def test_parse_origin(text: str, url: bool, site: Any) -> None:
    assert parse_origin(text, url=url) == site


@pytest.mark.parametrize(
    "bad", ["app.example", "https://a.example/path", "a.example:http", "a b:80", ":80", "x:0"]
)
def test_a_bad_origins_entry_is_refused_at_construction(bad: str) -> None:
    with pytest.raises(ValueError, match="origins"):
        Settings(origins=[bad])


@pytest.mark.parametrize(
    "good",
    ["*", "*:*", "null", "https://a.example", "https://a.example/", "http://[::1]:8080",
     "a.example:80", "A.example:*", "*:8443", "[::1]:*", "app://local"],
)  # fmt: skip
def test_what_the_setting_takes_the_policy_understands(good: str) -> None:
    assert Settings(origins=[good]).origins == (good,)
    assert parse_policy([good]) != parse_policy([])


def test_settings_default_is_the_same_origin_and_strings_split_on_commas() -> None:
    assert Settings().origins == ()
    assert parse_policy(Settings().origins) == parse_policy([])
    assert Settings(origins="https://a.example, b.example:*").origins == (
        "https://a.example",
        "b.example:*",
    )


def test_refusals_are_logged_at_most_limit_per_window(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = RefusalLog(limit=2, window=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, "tornio.transports.origins"):
        for _ in range(5):
            log("refused %r", "http://evil.example")
        now[0] = 10.0
        log("refused %r", "http://other.example")
    assert [r.getMessage() for r in caplog.records] == [
        "refused 'http://evil.example'",
        "refused 'http://evil.example'",
        "3 more origin refusals were not logged",
        "refused 'http://other.example'",
    ]
