"""A namespace's two spellings (tornio.protocol.endpoints), exactly: the global namespace is
``''`` as an endpoint and ``'/'`` as a v5 ``nsp``; every other name is the same both ways."""

from __future__ import annotations

import pytest

from tornio.protocol.endpoints import to_endpoint, to_nsp


@pytest.mark.parametrize(
    ("name", "endpoint"),
    [
        ("/", ""),
        ("", ""),
        ("/chat", "/chat"),
        ("//", "//"),  # only the name '/' itself is the global namespace
        ("/ ", "/ "),
        (" /", " /"),
        ("chat", "chat"),  # no '/' added: that is no conversion's job
    ],
)
def test_to_endpoint(name: str, endpoint: str) -> None:
    assert to_endpoint(name) == endpoint


@pytest.mark.parametrize(
    ("endpoint", "nsp"),
    [
        ("", "/"),
        ("/", "/"),
        ("/chat", "/chat"),
        ("//", "//"),
        ("0", "0"),  # a non-empty name is kept, whatever it holds
    ],
)
def test_to_nsp(endpoint: str, nsp: str) -> None:
    assert to_nsp(endpoint) == nsp


@pytest.mark.parametrize("name", ["", "/", "/chat", "/a/b"])
def test_the_two_spellings_round_trip(name: str) -> None:
    assert to_endpoint(to_nsp(to_endpoint(name))) == to_endpoint(name)
    assert to_nsp(to_endpoint(name)) == (name or "/")
