"""The supervisor's routing decisions, from peeked request bytes."""

from __future__ import annotations

import pytest

from workers.routing import find_sid, least_loaded, request_line_complete

SID = "abcd00" + "x" * 14


@pytest.mark.parametrize(
    ("head", "sid"),
    [
        (f"GET /socket.io/?EIO=4&transport=polling&sid={SID} HTTP/1.1\r\n".encode(), SID),
        (f"POST /socket.io/?EIO=4&transport=polling&t=1&sid={SID}&x=1 HTTP/1.1\r\n".encode(), SID),
        (f"GET /socket.io/?sid={SID}&EIO=4&transport=websocket HTTP/1.1\r\n".encode(), SID),
        (f"GET /socket.io/1/xhr-polling/{SID}?t=1 HTTP/1.1\r\n".encode(), SID),
        (f"GET /socket.io/1/websocket/{SID} HTTP/1.1\r\n".encode(), SID),
        (f"GET /io/1//{SID}/?disconnect=1 HTTP/1.1\r\n".encode(), SID),
        (f"POST /socket.io/1/jsonp-polling/{SID}?t=1&i=0 HTTP/1.1".encode(), SID),
        (b"GET /socket.io/1/?t=1 HTTP/1.1\r\n", None),
        (b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n", None),
        (f"GET /socket.io/?EIO=4&sid={SID}x HTTP/1.1\r\n".encode(), None),  # 21 chars
        (b"GET /socket.io/?sid=abc HTTP/1.1\r\n", None),
        (b"GET / HTTP/1.1\r\n", None),
        (b"garbage", None),
        (b"", None),
        (b"\x00\xff\x10 \x00", None),
    ],
)
def test_find_sid(head: bytes, sid: str | None) -> None:
    assert find_sid(head) == sid


def test_a_sid_in_a_header_does_not_count() -> None:
    head = f"GET / HTTP/1.1\r\nReferer: http://x/?sid={SID}\r\n\r\n".encode()
    assert find_sid(head) is None


def test_request_line_complete() -> None:
    assert not request_line_complete(b"GET /socket.io/?EIO=4&tr")
    assert request_line_complete(b"GET / HTTP/1.1\r\n")
    assert request_line_complete(b"x" * 9000)
    assert request_line_complete(b"<policy-file-request/>\x00")


def test_least_loaded_picks_the_live_worker_with_fewest_sessions() -> None:
    assert least_loaded([5, 2, 2], [True, True, True]) == 1
    assert least_loaded([5, 2, 1], [True, True, False]) == 1
    assert least_loaded([1, 1], [False, False]) is None
