"""Session ids name their owner: host tag + worker index, 20 URL-safe characters."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tornio.bus import ids


@given(st.integers(0, ids.MAX_WORKERS - 1))
def test_a_sid_names_its_host_and_worker(worker: int) -> None:
    host = ids.new_host_tag()
    tag = ids.node_tag(host, worker)
    sid = ids.make_sid(tag)
    assert re.fullmatch(r"[A-Za-z0-9_-]{20}", sid)
    assert ids.owner_of(sid) == tag
    assert tag.startswith(host)
    assert ids.worker_index(tag) == worker


def test_sids_are_random() -> None:
    tag = ids.node_tag("abcd", 3)
    sids = {ids.make_sid(tag) for _ in range(1000)}
    assert len(sids) == 1000


@pytest.mark.parametrize(
    "sid", ["", "short", "x" * 21, "abcdef/ghijklmnopqrs", "abcdef ghijklmnopqrs"]
)
def test_strangers_have_no_owner(sid: str) -> None:
    assert ids.owner_of(sid) is None


@pytest.mark.parametrize(
    ("host", "worker"), [("abc", 0), ("ab/d", 0), ("abcd", -1), ("abcd", ids.MAX_WORKERS)]
)
def test_bad_tags_are_refused(host: str, worker: int) -> None:
    with pytest.raises(ValueError):
        ids.node_tag(host, worker)
