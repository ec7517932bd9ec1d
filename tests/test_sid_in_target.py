"""Which session a request target names (:func:`tornio.bus.ids.sid_in_target`): what routes a
connection to its owner's worker, so a near miss must name nobody rather than a wrong sid.
A sid is 20 characters of ``[A-Za-z0-9_-]``; one more such character means it is not one."""

from __future__ import annotations

import pytest

from tornio.bus import ids

SID = ids.node_tag("Host", 1) + "abcdefghij_-12"
OTHER = ids.node_tag("Host", 2) + "ABCDEFGHIJ-_34"
assert ids.owner_of(SID) and ids.owner_of(OTHER)

# (request target, the sid it names or None)
TABLE: list[tuple[str, str | None]] = [
    # Engine.IO: sid= in the query, after ? or &, up to &, # or white space or the end
    (f"/socket.io/?EIO=4&transport=polling&sid={SID}", SID),
    (f"/socket.io/?sid={SID}&EIO=4", SID),
    (f"/socket.io/?EIO=4&sid={SID}#frag", SID),
    (f"/socket.io/?EIO=4&sid={SID} HTTP/1.1", SID),
    (f"/socket.io/?EIO=4&sid={SID}\t", SID),
    # ... and not when the value goes on: a 21st id character, or any other character
    (f"/socket.io/?EIO=4&sid={SID}x", None),
    (f"/socket.io/?EIO=4&sid={SID}-&t=1", None),
    (f"/socket.io/?EIO=4&sid={SID}_", None),
    (f"/socket.io/?EIO=4&sid={SID}.", None),
    (f"/socket.io/?EIO=4&sid={SID}%20", None),
    (f"/socket.io/?EIO=4&sid={SID[:19]}", None),
    # another parameter whose name ends in sid, or sid= where no parameter starts
    (f"/socket.io/?EIO=4&xsid={SID}", None),
    (f"/socket.io/?EIO=4&x=sid={SID}", None),
    (f"/socket.io/sid={SID}", None),
    (f"sid={SID}", None),
    # a bad sid= first does not hide a good one after it
    (f"/socket.io/?sid={SID}x&sid={OTHER}", OTHER),
    (f"/socket.io/?xsid={SID}&sid={OTHER}", OTHER),
    # 0.9: /1/<transport>/<sid>, up to /, ?, #, white space or the end
    (f"/socket.io/1/xhr-polling/{SID}", SID),
    (f"/socket.io/1/xhr-polling/{SID}?t=1", SID),
    (f"/socket.io/1/websocket/{SID}/", SID),
    (f"/socket.io/1/jsonp-polling/{SID}#x", SID),
    (f"/socket.io/1/flashsocket/{SID} HTTP/1.1", SID),
    (f"/socket.io/1//{SID}", SID),
    (f"/socket.io/1/xhr-polling/{SID}x", None),
    (f"/socket.io/1/xhr-polling/{SID}x?t=1", None),
    (f"/socket.io/1/xhr-polling/{SID}-/", None),
    (f"/socket.io/1/xhr-polling/{SID}.js", None),
    (f"/socket.io/1/xhr-polling/x{SID}", None),
    (f"/socket.io/1/{SID}", None),  # no transport segment: the handshake's own URL
    (f"/socket.io/1/a/b/{SID}", None),
    (f"/socket.io/1/xhr-polling/{SID}x/1/xhr-polling/{OTHER}", OTHER),
    # nothing
    ("/socket.io/1/?t=1", None),
    ("/socket.io/?EIO=4&transport=polling", None),
    ("", None),
]


@pytest.mark.parametrize(("target", "expected"), TABLE, ids=[t[0][:60] for t in TABLE])
def test_sid_in_target(target: str, expected: str | None) -> None:
    assert ids.sid_in_target(target) == expected
