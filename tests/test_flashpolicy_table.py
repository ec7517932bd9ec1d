"""The Flash policy exchange (tornio.protocol.flashpolicy), sans-I/O: the policy for each form
of origin, exactly, and how a connection's first bytes are classified."""

from __future__ import annotations

import pytest

from tornio.protocol.flashpolicy import (
    COMPLETE,
    GARBAGE,
    PARTIAL,
    REQUEST,
    classify,
    policy_answer,
    policy_xml,
)

HEAD = (
    b'<?xml version="1.0"?><!DOCTYPE cross-domain-policy SYSTEM '
    b'"http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd"><cross-domain-policy>'
)
TAIL = b"</cross-domain-policy>"
EVERYONE = HEAD + b'<allow-access-from domain="*" to-ports="*"/>' + TAIL


def allow(domain: str, ports: str) -> bytes:
    return f'<allow-access-from domain="{domain}" to-ports="{ports}"/>'.encode()


# (origins, the allow entries of the policy)
CASES = [
    ("*:*", [allow("*", "*")]),
    ("a.example:843 b.example:*", [allow("a.example", "843"), allow("b.example", "*")]),
    (["a.example"], [allow("a.example", "*")]),
    ([":843"], [allow("*", "843")]),  # no host: every domain
    (["a.example:"], [allow("a.example", "*")]),  # no port: every port
    (["[::1]:843"], [allow("[::1]", "843")]),  # the port is after the last colon
    (["http://a.example:80"], [allow("a.example", "80")]),
    # Only the first scheme separator is the scheme's.
    (["http://a.example://b.example:1"], [allow("a.example://b.example", "1")]),
    (["null", "a<b.example:1"], [allow("a&lt;b.example", "1")]),
    ([], [allow("*", "*")]),
    ("", [allow("*", "*")]),
    (["null"], []),
]


@pytest.mark.parametrize(("origins", "entries"), CASES)
def test_policy_xml(origins: str | list[str], entries: list[bytes]) -> None:
    assert policy_xml(origins) == HEAD + b"".join(entries) + TAIL
    assert policy_answer(origins) == HEAD + b"".join(entries) + TAIL + b"\0"


def test_the_defaults_allow_everyone() -> None:
    assert policy_xml() == EVERYONE
    assert policy_answer() == EVERYONE + b"\0"


@pytest.mark.parametrize(
    ("received", "kind"),
    [
        (REQUEST, COMPLETE),
        (REQUEST + b"GET / HTTP/1.1", COMPLETE),
        (b"", PARTIAL),
        (b"<policy-file", PARTIAL),
        (REQUEST[:-1], PARTIAL),
        (b"<policy-file-request/>", PARTIAL),
        (b"<policy-file-request/>x", GARBAGE),
        (b"GET / HTTP/1.1\r\n", GARBAGE),
        (b"\0", GARBAGE),
    ],
)
def test_classify(received: bytes, kind: str) -> None:
    assert classify(received) == kind
    assert (COMPLETE, PARTIAL, GARBAGE) == ("complete", "partial", "garbage")
