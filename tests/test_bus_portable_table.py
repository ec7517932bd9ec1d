"""Exact answers of two helpers of the bus schema (``tornio/bus/messages.py``):
``own_prefix`` (the bytes by which a node knows its own payloads without decoding them) and
``portable_session`` (a session dict as it reads after crossing the bus). No sockets."""

from __future__ import annotations

import logging

import msgpack  # type: ignore[import-untyped]
import pytest

from tornio.bus.messages import (
    VERSION,
    MessageType,
    encode,
    make_message,
    own_prefix,
    portable_session,
)

# -- own_prefix ---------------------------------------------------------------------------

OWN_PREFIXES = [
    ("a", b"\xa1v\x01\xa3uid\xa1a"),
    ("ab", b"\xa1v\x01\xa3uid\xa2ab"),
    ("n\u00e9", b"\xa1v\x01\xa3uid\xa3n\xc3\xa9"),
    ("\ud800x", b"\xa1v\x01\xa3uid\xa4\xed\xa0\x80x"),  # a lone surrogate, as encode packs it
]


@pytest.mark.parametrize(("uid", "prefix"), OWN_PREFIXES)
def test_own_prefix_is_the_version_and_uid_fields_packed(uid: str, prefix: bytes) -> None:
    assert VERSION == 1
    assert own_prefix(uid) == prefix


@pytest.mark.parametrize(("uid", "prefix"), OWN_PREFIXES)
def test_a_payload_of_that_uid_holds_its_prefix_after_the_map_header(
    uid: str, prefix: bytes
) -> None:
    _, payload = encode(make_message(MessageType.HEARTBEAT, "", {}, uid=uid))
    assert payload[0] & 0xF0 == 0x80  # a fixmap header: one byte
    assert payload[1 : 1 + len(prefix)] == prefix


# -- portable_session ---------------------------------------------------------------------


def test_a_plain_session_crosses_unchanged() -> None:
    session = {"name": "ann", "n": 3, "x": 1.5, "ok": True, "none": None, "raw": b"\x00"}
    assert portable_session(session, "sid1") == session


def test_sets_become_lists_sorted_by_their_text_and_tuples_lists() -> None:
    session = {"s": {3, 1, 2}, "f": frozenset({"b", "a"}), "mixed": {10, 9}, "t": (1, (2, 3))}
    assert portable_session(session, "sid1") == {
        "s": [1, 2, 3],
        "f": ["a", "b"],
        "mixed": [10, 9],  # by str: "10" < "9"
        "t": [1, [2, 3]],
    }


def test_the_copy_is_what_msgpack_gives_back() -> None:
    session = {"nested": {"a": [1, {"b": (2,)}]}, "s": {"x"}}
    portable = portable_session(session, "sid1")
    assert msgpack.unpackb(msgpack.packb(portable, use_bin_type=True), raw=False) == portable


def test_what_cannot_cross_is_left_out_and_logged_with_its_owner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = {1: "int key", "obj": object(), "big": 2**64, "kept": "yes"}
    with caplog.at_level(logging.WARNING, logger="tornio.bus.messages"):
        assert portable_session(session, "sid-7") == {"kept": "yes"}
    messages = [r.getMessage() for r in caplog.records if r.name == "tornio.bus.messages"]
    assert messages[0] == (
        "session[1] of sid-7 cannot cross the bus, left out: key 1 is not a string"
    )
    assert messages[1].startswith("session['obj'] of sid-7 cannot cross the bus, left out: ")
    assert messages[2] == (
        "session['big'] of sid-7 cannot cross the bus, left out: "
        "integer out of msgpack range: 18446744073709551616"
    )
    assert len(messages) == 3
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_an_empty_session_is_an_empty_dict() -> None:
    assert portable_session({}, "sid1") == {}
