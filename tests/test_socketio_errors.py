"""What the Socket.IO decoder and encoder (``tornio.protocol.socketio``) say of bad input,
exactly: every refusal's message and the namespace it names (the error goes there), excerpts
cut at their bound, the placeholders of binary packets, the protocol-4 differences; and what
they write and read through an application's JSON (``json=``: a default function or a
module), binary attachments included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.json_modules import BROKEN_MODULE, TAG_DEFAULT, TAG_MODULE, Tag
from tornio.exceptions import InvalidPacket
from tornio.protocol import socketio as sio
from tornio.protocol.socketio import Decoder, Packet, PacketType

PH = '{"_placeholder":true,"num":0}'

# (id, frames, protocol, exact message, namespace)
BAD: list[tuple[str, tuple[Any, ...], int, str, str]] = [
    ("empty", ("",), 5, "empty packet", ""),
    ("type", ("9",), 5, "unknown packet type in '9'", ""),
    ("type cut at 40", ("x" * 41,), 5, f"unknown packet type in {'x' * 40!r}...", ""),
    ("type at 40", ("x" * 40,), 5, f"unknown packet type in {'x' * 40!r}", ""),
    ("attachments", ("5x",), 5, "illegal attachments in '5x'", ""),
    ("too many attachments", ('511-["a"]',), 5, "too many attachments in '511-[\"a\"]'", ""),
    ("attachment digits", ("500000000001-[]",), 5, "too many attachments in '500000000001-[]'",
     ""),
    ("event without data", ("2/chat,",), 5, "event data must be a non-empty array", "/chat"),
    ("event empty", ("2/chat,[]",), 5, "event data must be a non-empty array", "/chat"),
    ("event object", ('2/chat,{"a":1}',), 5, "event data must be a non-empty array", "/chat"),
    ("reserved", ('2["connect"]',), 5, "reserved event name 'connect'", "/"),
    ("reserved disconnecting", ('2["disconnecting"]',), 5,
     "reserved event name 'disconnecting'", "/"),
    ("name", ("2[null]",), 5, "event name must be a string or a number", "/"),
    ("name bool", ("2[true]",), 5, "event name must be a string or a number", "/"),
    ("payload", ("3[",), 5, "invalid payload in '3['", "/"),
    ("payload range", ("2[1e999]",), 5, "invalid payload in '2[1e999]'", "/"),
    ("payload nan", ('2["e",NaN]',), 5, "invalid payload in '2[\"e\",NaN]'", "/"),
    ("ack data", ("3/a,{}",), 5, "ack data must be an array", "/a"),
    ("ack id", ('2/a,' + "1" * 21 + '["e"]',), 5,
     f"ack id too long in {'2/a,' + '1' * 21 + '[' + chr(34) + 'e' + chr(34) + ']'!r}", "/a"),
    ("disconnect", ("1/a,{}",), 5, "disconnect takes no data", "/a"),
    ("connect_error", ("4/a,5",), 5, "connect_error data must be a string or an object", "/a"),
    ("connect", ('0/a,"x"',), 5, "connect data must be an object", "/a"),
    ("connect v4", ("0/a,{}",), 4, "connect takes no data", "/a"),
    ("placeholder num", ('51-/a,["e",{"_placeholder":true,"num":1}]', b"x"), 5,
     "illegal attachments: invalid placeholder \"{'_placeholder': True, 'num': 1}\"", "/a"),
    ("placeholder negative", ('51-/a,["e",{"_placeholder":true,"num":-1}]', b"x"), 5,
     "illegal attachments: invalid placeholder \"{'_placeholder': True, 'num': -1}\"", "/a"),
    ("placeholder keys", ('51-/a,["e",{"_placeholder":true,"num":0,"x":1}]', b"x"), 5,
     "illegal attachments: invalid placeholder \"{'_placeholder': True, 'num': 0, 'x': 1}\"",
     "/a"),
    ("placeholder flag", ('51-["e",{"_placeholder":1,"num":0}]', b"x"), 5,
     "illegal attachments: invalid placeholder \"{'_placeholder': 1, 'num': 0}\"", "/"),
    ("placeholder str", ('61-/a,1[{"_placeholder":true,"num":"0"}]', b"x"), 5,
     "illegal attachments: invalid placeholder \"{'_placeholder': True, 'num': '0'}\"", "/a"),
    ("placeholder in a dict", ('51-["e",{"k":{"_placeholder":true,"num":3}}]', b"x"), 5,
     "illegal attachments: invalid placeholder \"{'_placeholder': True, 'num': 3}\"", "/"),
    ("placeholder cut at 40", ('51-["e",{"_placeholder":true,"num":0,"long":"' + "z" * 40 + '"}]',
                               b"x"), 5,
     "illegal attachments: invalid placeholder "
     + repr(repr({"_placeholder": True, "num": 0, "long": "z" * 40})[:40]) + "...", "/"),
    ("text while waiting", ('51-["e"]', '2["x"]'), 5,
     "text packet while waiting for binary attachments", ""),
    ("binary alone", (b"x",), 5, "binary data without a packet waiting for attachments", ""),
    ("placeholder without attachments", ('50-/a,["e",' + PH + "]",), 5,
     "illegal attachments: invalid placeholder \"{'_placeholder': True, 'num': 0}\"", "/a"),
]


@pytest.mark.parametrize(("frames", "protocol", "message", "nsp"), [c[1:] for c in BAD],
                         ids=[c[0] for c in BAD])
def test_a_bad_packet(frames: tuple[Any, ...], protocol: int, message: str, nsp: str) -> None:
    decoder = Decoder(protocol=protocol)
    with pytest.raises(InvalidPacket) as raised:
        for frame in frames:
            decoder.add(frame)
    assert str(raised.value) == message
    assert raised.value.endpoint == nsp
    assert not decoder.waiting  # an error forgets the pending packet


@pytest.mark.parametrize(
    ("frames", "packet"),
    [
        (("2[5.5]",), Packet(PacketType.EVENT, "/", [5.5])),
        (("0/a,",), Packet(PacketType.CONNECT, "/a", None)),
        (('0{"x":1}',), Packet(PacketType.CONNECT, "/", {"x": 1})),
        ((f'52-/a,7["e",{PH},{{"k":[{PH.replace("0", "1")}]}}]', b"a", b"b"),
         Packet(PacketType.BINARY_EVENT, "/a", ["e", b"a", {"k": [b"b"]}], 7, 2)),
        ((f"51-{PH}", b"a"), None),  # a placeholder alone is not an array: refused below
        # an attachment count of 10 digits and an ack id of 20: at their bounds, read
        ((f'50000000001-["e",{PH}]', b"a"), Packet(PacketType.BINARY_EVENT, "/", ["e", b"a"],
                                                    None, 1)),
        (("2" + "9" * 20 + '["e"]',), Packet(PacketType.EVENT, "/", ["e"], int("9" * 20))),
        # the string "_placeholder" is no placeholder
        (('50-["_placeholder"]',), Packet(PacketType.BINARY_EVENT, "/", ["_placeholder"])),
    ],
)
def test_packets(frames: tuple[Any, ...], packet: Packet | None) -> None:
    decoder = Decoder()
    if packet is None:
        with pytest.raises(InvalidPacket, match=r"^event data must be a non-empty array$"):
            for frame in frames:
                decoder.add(frame)
        return
    got = None
    for frame in frames:
        got = decoder.add(frame)
    assert got == packet


def test_protocol_4() -> None:
    assert Decoder(protocol=4).add("0/a,") == Packet(PacketType.CONNECT, "/a", None)
    assert Decoder(protocol=4).add('4/a,"x"') == Packet(PacketType.CONNECT_ERROR, "/a", "x")
    assert Decoder().protocol == 5 and Decoder().max_attachments == 10
    assert Decoder(max_attachments=2).add('52-["e"]') is None
    with pytest.raises(InvalidPacket, match=r"^too many attachments in "):
        Decoder(max_attachments=2).add('53-["e"]')


ENCODE: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("protocol", lambda: Decoder(protocol=3), ValueError, "unsupported Socket.IO protocol 3"),
    ("nsp", lambda: sio.connect_packet("chat"), ValueError,
     "namespace 'chat' must start with '/' and hold no ','"),
    ("nsp comma", lambda: sio.connect_packet("/a,b"), ValueError,
     "namespace '/a,b' must start with '/' and hold no ','"),
    ("id type", lambda: sio.encode(Packet(PacketType.EVENT, "/", ["e"], "1")),  # type: ignore[arg-type]
     ValueError, "ack id must be an int, not str"),
    ("id negative", lambda: sio.encode(Packet(PacketType.EVENT, "/", ["e"], -1)), ValueError,
     "ack id must not be negative: -1"),
    ("json", lambda: sio.encode(Packet(PacketType.EVENT, "/", ["e", object()])), TypeError,
     "Object of type object is not JSON serializable"),
    ("binary json", lambda: sio.encode(Packet(PacketType.EVENT, "/", ["e", b"\x01", object()])),
     TypeError, "Object of type object is not JSON serializable"),
    ("message type", lambda: Decoder().add(5), TypeError,  # type: ignore[arg-type]
     "a message must be str or bytes, not int"),
    ("binary default", lambda: sio.encode(Packet(PacketType.EVENT, "/", ["e", b"\x01", 1j]),
                                          TAG_DEFAULT),
     TypeError, "complex is not JSON"),
]


@pytest.mark.parametrize(("call", "kind", "message"), [c[1:] for c in ENCODE],
                         ids=[c[0] for c in ENCODE])
def test_a_refused_encoding(call: Callable[[], Any], kind: type[Exception], message: str) -> None:
    with pytest.raises(kind) as raised:
        call()
    assert str(raised.value) == message


def test_what_the_json_decoder_refused_rides_along() -> None:
    """The JSON decoder's own reason is the context of the codec's refusal."""
    for text, reason in [("2[1e999]", "number out of range: 1e999"),
                         ('2["e",NaN]', "NaN is not valid JSON")]:
        with pytest.raises(InvalidPacket) as raised:
            Decoder().add(text)
        assert str(raised.value.__context__) == reason


class Id(int):
    """An int subclass that is not a bool: a valid ack id."""


#: (id, call, exact frames): the application's JSON on every path of the encoder. The
#: default function keeps the codec's dialect (``é`` as it is); the module writes
#: ``json.dumps``'s ASCII escapes.
JSON_ENCODE: list[tuple[str, Callable[[], Any], list[Any]]] = [
    ("default", lambda: sio.encode(Packet(PacketType.EVENT, "/", ["e", Tag("x"), "é"]),
                                   TAG_DEFAULT),
     ['2["e",{"$tag":"x"},"é"]']),
    ("module", lambda: sio.encode(Packet(PacketType.EVENT, "/", ["e", Tag("x"), "é"]),
                                  TAG_MODULE),
     ['2["e",{"$tag":"x"},"\\u00e9"]']),
    ("connect", lambda: sio.encode(Packet(PacketType.CONNECT, "/a", {"t": Tag("x")}), TAG_MODULE),
     ['0/a,{"t":{"$tag":"x"}}']),
    ("binary default", lambda: sio.encode(
        Packet(PacketType.EVENT, "/a", ["e", Tag("x"), b"\x01"], 3), TAG_DEFAULT),
     ['51-/a,3["e",{"$tag":"x"},{"_placeholder":true,"num":0}]', b"\x01"]),
    ("binary module", lambda: sio.encode(
        Packet(PacketType.ACK, "/", [{"k": (b"a", Tag("y"))}, bytearray(b"b"), "é"], 4),
        TAG_MODULE),
     ['62-4[{"k":[{"_placeholder":true,"num":0},{"$tag":"y"}]},'
      '{"_placeholder":true,"num":1},"\\u00e9"]', b"a", b"b"]),
    ("event default", lambda: sio.encode_event("/", ("e", Tag("x"), "é"), 2, TAG_DEFAULT),
     ['22["e",{"$tag":"x"},"é"]']),
    ("event module", lambda: sio.encode_event("/a", ["e", Tag("x")], None, TAG_MODULE),
     ['2/a,["e",{"$tag":"x"}]']),
    ("event binary module", lambda: sio.encode_event("/a", ["e", Tag("x"), b"z"], 1, TAG_MODULE),
     ['51-/a,1["e",{"$tag":"x"},{"_placeholder":true,"num":0}]', b"z"]),
    ("event binary default", lambda: sio.encode_event("/", ["e", b"z", Tag("x")], None,
                                                      TAG_DEFAULT),
     ['51-["e",{"_placeholder":true,"num":0},{"$tag":"x"}]', b"z"]),
    # without an application's JSON: a lone surrogate escaped in a binary packet too
    ("binary surrogate", lambda: sio.encode(Packet(PacketType.EVENT, "/", ["\ud800", b"z"])),
     ['51-["\\ud800",{"_placeholder":true,"num":0}]', b"z"]),
    ("int subclass id", lambda: sio.encode(Packet(PacketType.ACK, "/", [], Id(7))), ["37[]"]),
]


@pytest.mark.parametrize(("call", "frames"), [c[1:] for c in JSON_ENCODE],
                         ids=[c[0] for c in JSON_ENCODE])
def test_an_encoding(call: Callable[[], Any], frames: list[Any]) -> None:
    assert call() == frames


def test_a_json_module_reads_the_payloads() -> None:
    text = '2/a,["e",{"$tag":"x"}]'
    assert Decoder(json=TAG_MODULE).add(text) == Packet(PacketType.EVENT, "/a", ["e", Tag("x")])
    # a default function writes only: the built-in JSON reads
    assert Decoder(json=TAG_DEFAULT).add(text) == Packet(PacketType.EVENT, "/a",
                                                         ["e", {"$tag": "x"}])
    with pytest.raises(InvalidPacket) as raised:
        Decoder(json=BROKEN_MODULE).add(text)
    assert str(raised.value) == "invalid payload in '2/a,[\"e\",{\"$tag\":\"x\"}]'"
    assert raised.value.endpoint == "/a"
