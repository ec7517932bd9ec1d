"""Session ids and the request targets that carry them (``tornio.bus.ids``), as tables of
exact answers: which targets name a session (Engine.IO ``sid=``, the 0.9 path), where a value
ends, which tags and worker numbers are refused."""

from __future__ import annotations

import pytest

from tornio.bus import ids

TAG = ids.node_tag("Ab9_", 70)  # worker 70: 'B' (1) then 'G' (6)
SID = TAG + "x" * 14
OTHER = TAG + "y" * 14

# (target, the sid it carries or None)
TARGETS: list[tuple[str, str | None]] = [
    # Engine.IO: sid= after ? or &, ended by &, #, white space or the end
    (f"/socket.io/?EIO=4&transport=polling&sid={SID}", SID),
    (f"/socket.io/?sid={SID}&EIO=4", SID),
    (f"?sid={SID}", SID),
    (f"/socket.io/?EIO=4&sid={SID}#frag", SID),
    (f"/socket.io/?EIO=4&sid={SID} HTTP/1.1", SID),
    (f"/socket.io/?EIO=4&sid={SID}\tx", SID),
    # not ended where a sid must end: one character more, or another separator
    (f"/socket.io/?EIO=4&sid={SID}x", None),
    (f"/socket.io/?EIO=4&sid={SID}-&x=1", None),
    (f"/socket.io/?EIO=4&sid={SID};", None),
    (f"/socket.io/?EIO=4&sid={SID}/", None),
    # sid= that is not a parameter of its own, or too short
    (f"/socket.io/?EIO=4&xsid={SID}", None),
    (f"/socket.io/sid={SID}", None),
    (f"sid={SID}", None),
    ("/socket.io/?EIO=4&sid=" + SID[:19], None),
    ("/socket.io/?EIO=4&sid=" + SID[:19] + "!", None),
    # the first sid= that is one wins; a bad one before it is skipped
    (f"/socket.io/?sid=short&sid={SID}", SID),
    (f"/socket.io/?sid={SID}x&sid={OTHER}", OTHER),
    (f"/socket.io/?sid={SID}&sid={OTHER}", SID),
    (f"/socket.io/?sid=short&sid={SID}&sid=short", SID),
    (f"sid=x&sid={SID}", SID),  # a target that starts with sid= (no '?') has it later
    # 0.9: /1/<transport>/<sid>, ended by /, ?, #, white space or the end
    (f"/socket.io/1/xhr-polling/{SID}", SID),
    (f"/socket.io/1/xhr-polling/{SID}?t=123", SID),
    (f"/socket.io/1/websocket/{SID}/", SID),
    (f"/socket.io/1/htmlfile/{SID}#x", SID),
    (f"/socket.io/1/jsonp-polling/{SID} HTTP/1.1", SID),
    (f"/1//{SID}", SID),
    (f"/socket.io/1/xhr-polling/{SID}x", None),
    (f"/socket.io/1/xhr-polling/{SID}&x", None),
    (f"/socket.io/1/xhr-polling/{SID[:19]}", None),
    ("/socket.io/1/", None),
    (f"/socket.io/1/{SID}", None),  # no transport segment
    (f"/socket.io/2/xhr-polling/{SID}", None),
    (f"/socket.io/1/xhr polling/{SID}", None),
    (f"/socket.io/1/a?b/{SID}", None),
    # a later /1/ is looked at when the first is not one
    (f"/1/1/xhr-polling/{SID}", SID),
    (f"/x/1/y/1/xhr-polling/{SID}", SID),
    (f"/socket.io/1/xhr-polling/{SID}/1/x", SID),  # the first /1/ that is one wins
    (f"/a/1/b/1/xhr-polling/{SID}/1/x", SID),
    # Engine.IO's sid= is looked for first
    (f"/socket.io/1/xhr-polling/{OTHER}?sid={SID}", SID),
    (f"/socket.io/1/xhr-polling/{OTHER}?sid=nope", OTHER),
    ("", None),
    ("/", None),
]


@pytest.mark.parametrize(("target", "sid"), TARGETS)
def test_sid_in_target(target: str, sid: str | None) -> None:
    assert ids.sid_in_target(target) == sid


@pytest.mark.parametrize(
    ("sid", "owner"),
    [
        (SID, TAG),
        ("A" * 20, "A" * 6),
        ("-_" * 10, "-_-_-_"),
        (SID[:19], None),
        (SID + "x", None),
        (SID + "\n", None),
        (SID[:19] + "!", None),
        (SID[:19] + ".", None),
        ("", None),
    ],
)
def test_owner_of(sid: str, owner: str | None) -> None:
    assert ids.owner_of(sid) == owner


@pytest.mark.parametrize(
    ("host", "worker", "tag"),
    [
        ("abcd", 0, "abcdAA"),
        ("abcd", 1, "abcdAB"),
        ("abcd", 63, "abcdA_"),
        ("abcd", 64, "abcdBA"),
        ("-_09", 64 * 64 - 1, "-_09__"),
    ],
)
def test_node_tag_and_worker_index(host: str, worker: int, tag: str) -> None:
    assert ids.node_tag(host, worker) == tag
    assert ids.worker_index(tag) == worker


@pytest.mark.parametrize(
    ("host", "worker", "message"),
    [
        ("abc", 0, "a host tag is 4 characters"),
        ("abcde", 0, "a host tag is 4 characters"),
        ("ab!d", 0, "a host tag is 4 characters"),
        ("abcd", -1, r"worker index must be in \[0, 4096\)"),
        ("abcd", 4096, r"worker index must be in \[0, 4096\)"),
    ],
)
def test_node_tag_refuses(host: str, worker: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ids.node_tag(host, worker)


def test_a_host_tag_is_four_characters_of_the_alphabet() -> None:
    tags = {ids.new_host_tag() for _ in range(200)}
    assert all(len(tag) == ids.HOST_TAG_LENGTH == 4 for tag in tags)
    assert set("".join(tags)) <= set(ids.ALPHABET)
    assert len(tags) > 150  # 16.7 million tags: 200 draws almost never repeat


def test_a_sid_is_its_tag_and_14_random_url_safe_characters() -> None:
    sids = [ids.make_sid(TAG) for _ in range(200)]
    assert all(len(sid) == ids.SID_LENGTH == 20 and sid[:6] == TAG for sid in sids)
    assert set("".join(sid[6:] for sid in sids)) <= set(ids.ALPHABET)
    assert all(ids.owner_of(sid) == TAG for sid in sids)
    assert len(set(sids)) == 200
