"""The typed packet (:class:`tornio.protocol.packets.Packet`) against gevent-socketio's packet
dicts: 0.9's decoder's (both ways: the dict a handler asks for is the decoder's own, and one
made afresh has the same keys), an application's, and the dicts that are no packet. Every
field is compared, so a field either side drops fails a row. What the sockets make of both
generations' wire: ``tests/test_packet_path.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tornio.protocol import legacy
from tornio.protocol.jsoncodec import codec_for
from tornio.protocol.packets import Packet

# --- the packet against 0.9's decoder -------------------------------------------------------

DECODED: list[tuple[str, Packet]] = [
    ('5:7+:/chat:{"name":"echo","args":[1,"a",{"b":null}]}',
     Packet("event", "/chat", "echo", [1, "a", {"b": None}], 7, "data")),
    ('5:8:/chat:{"name":"echo"}', Packet("event", "/chat", "echo", [], 8, True)),
    ('5:::{"name":"hi","args":[1]}', Packet("event", "", "hi", [1])),
    ('6::/chat:3+["x",2]', Packet("ack", "/chat", None, ["x", 2], 3)),
    ("6:::4", Packet("ack", "", None, [], 4)),
    ("3:5:/chat:hello", Packet("message", "/chat", None, [], 5, True, "hello")),
    ('4::/chat:{"a":[1]}', Packet("json", "/chat", data={"a": [1]})),
    ("1::/chat?x=1", Packet("connect", "/chat", qs="?x=1")),
    ("0::/chat", Packet("disconnect", "/chat")),
    ("7::/chat:2+0", Packet("error", "/chat", reason="unauthorized", advice="reconnect")),
    ("2::", Packet("heartbeat")),
    ("8::", Packet("noop")),
]


@pytest.mark.parametrize(("wire", "expected"), DECODED)
def test_a_decoded_dict_and_its_packet_say_the_same(wire: str, expected: Packet) -> None:
    decoded = dict(legacy.decode_packet(wire))
    packet = Packet.from_dict(decoded)
    assert packet == expected
    assert packet.as_dict() is decoded  # a handler that asks gets the decoder's own dict
    assert expected.as_dict() == decoded  # and one made afresh has the same keys and values
    assert legacy.encode_packet(expected.as_dict()) == legacy.encode_packet(decoded)


def test_every_field_counts_in_equality() -> None:
    base = Packet("event", "/a", "e", [1], 2, "data", "d", "r", "v", "q")
    changed = [
        Packet("json", "/a", "e", [1], 2, "data", "d", "r", "v", "q"),
        Packet("event", "/b", "e", [1], 2, "data", "d", "r", "v", "q"),
        Packet("event", "/a", "f", [1], 2, "data", "d", "r", "v", "q"),
        Packet("event", "/a", "e", [2], 2, "data", "d", "r", "v", "q"),
        Packet("event", "/a", "e", [1], 3, "data", "d", "r", "v", "q"),
        Packet("event", "/a", "e", [1], 2, True, "d", "r", "v", "q"),
        Packet("event", "/a", "e", [1], 2, "data", "x", "r", "v", "q"),
        Packet("event", "/a", "e", [1], 2, "data", "d", "x", "v", "q"),
        Packet("event", "/a", "e", [1], 2, "data", "d", "r", "x", "q"),
        Packet("event", "/a", "e", [1], 2, "data", "d", "r", "v", "x"),
    ]
    assert base == Packet("event", "/a", "e", [1], 2, "data", "d", "r", "v", "q")
    assert [other == base for other in changed] == [False] * len(changed)
    assert base != {"type": "event"}
    assert repr(base) == ("Packet('event', endpoint='/a', name='e', args=[1], id=2, ack='data', "
                          "data='d', reason='r', advice='v', qs='q')")
    assert repr(Packet("ack", "", None, [], 0)) == "Packet('ack', endpoint='', id=0)"


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        # an application's dict: an id without 'ack' stays without it
        ({"type": "event", "name": "e", "args": (1, 2), "endpoint": "/a", "id": 3},
         Packet("event", "/a", "e", [1, 2], 3)),
        ({"type": "event", "name": "e"}, Packet("event", "", "e", [])),
        ({"type": "message", "data": "hi", "endpoint": None}, Packet("message", data="hi")),
        ({"type": "ack", "ackId": 9, "id": 1, "endpoint": "/a"},
         Packet("ack", "/a", None, [], 9)),
        ({"type": "error", "reason": "unauthorized", "endpoint": "/a"},
         Packet("error", "/a", reason="unauthorized")),
        # a name on a packet that is no event is kept (and never checked nor dispatched)
        ({"type": "message", "endpoint": "/", "name": "abcd", "args": (3,)},
         Packet("message", "/", "abcd", [3])),
    ],
)
def test_a_dict_an_application_wrote(packet: dict[str, Any], expected: Packet) -> None:
    assert Packet.from_dict(packet) == expected


@pytest.mark.parametrize("kind", ["event", "ack", "json"])
def test_a_dicts_args_list_is_the_packets_own(kind: str) -> None:
    """A handler that changes the dict's args changes what the packet carries (gevent-socketio
    handlers may), and a tuple becomes a list."""
    args = [1]
    assert Packet.from_dict({"type": kind, "name": "e", "args": args}).args is args
    assert Packet.from_dict({"type": kind, "name": "e", "args": (1,)}).args == [1]
    assert type(Packet.from_dict({"type": kind, "name": "e", "args": (1,)}).args) is list


def test_only_a_connect_carries_a_query_string() -> None:
    assert Packet("connect", "/a", qs="?x=1").as_dict() == {
        "type": "connect", "endpoint": "/a", "qs": "?x=1"}
    assert Packet("disconnect", "/a", qs="?x=1").as_dict() == {
        "type": "disconnect", "endpoint": "/a"}


@pytest.mark.parametrize(
    ("packet", "error"),
    [
        ({"type": "bogus", "endpoint": ""}, "^unknown packet type 'bogus'$"),
        ({"endpoint": ""}, "^unknown packet type None$"),
        ({"type": "event", "endpoint": "", "args": []}, "^event packet without a name$"),
    ],
)
def test_a_dict_that_is_no_packet_is_refused(packet: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Packet.from_dict(packet)


def test_the_shortcuts() -> None:
    assert Packet.event("/a", "e", [1]) == Packet("event", "/a", "e", [1])
    assert Packet.event("/a", "e", [1], 4) == Packet("event", "/a", "e", [1], 4, "data")
    assert Packet.answer("/a", 4, [2]) == Packet("ack", "/a", None, [2], 4)
    assert Packet.event("/a", "e", [], 4).wants_answer
    assert not Packet("event", "/a", "e", [], 4, True).wants_answer
    assert not Packet("event", "/a", "e", [], None, "data").wants_answer
    made = Packet("error", "/a", data={"message": "no"})
    assert made.as_dict() == {"type": "error", "endpoint": "/a", "reason": "", "advice": "",
                              "data": {"message": "no"}}
    assert made.as_dict() is made.as_dict()


@pytest.mark.parametrize(
    ("endpoint", "ack_id", "args", "wire"),
    [
        ("/chat", 3, ["x", 2], '6::/chat:3+["x",2]'),
        ("", 4, [], "6:::4"),
        ("", 5, ({"a": None},), '6:::5+[{"a":null}]'),
        ("/a", 6, range(1, 2), "6::/a:6+[1]"),
        ("/a", 7, [None], "6::/a:7+[null]"),
    ],
)
def test_the_ack_fast_path_writes_what_encode_packet_does(
    endpoint: str, ack_id: int, args: Any, wire: str
) -> None:
    assert legacy.encode_ack(endpoint, ack_id, args) == wire
    assert legacy.encode_packet({"type": "ack", "endpoint": endpoint, "ackId": ack_id,
                                 "args": args}) == wire


def test_the_ack_fast_path_writes_with_the_application_json() -> None:
    codec = codec_for(None, lambda value: f"<{value.__class__.__name__}>")
    args = [Opaque()]
    assert legacy.encode_ack("/a", 2, args, codec) == '6::/a:2+["<Opaque>"]'
    assert legacy.encode_ack("/a", 2, args, codec) == legacy.encode_packet(
        {"type": "ack", "endpoint": "/a", "ackId": 2, "args": args}, codec)


class Opaque:
    """A value only the application's ``json_default`` can write."""


def test_the_ack_fast_path_refuses_what_encode_packet_refuses() -> None:
    with pytest.raises(ValueError, match="contains ':'"):
        legacy.encode_ack("/a:b", 1, [])
    with pytest.raises(ValueError):
        legacy.encode_ack("/a", 1, [float("inf")])
    with pytest.raises(TypeError):
        legacy.encode_ack("/a", 1, [object()])
