"""Socket.IO 0.9 (protocol revision 1) wire codec, sans-I/O.

This module owns three things and nothing else:

* the packet codec, ``type ':' [id ['+']] ':' [endpoint] [':' data]`` for the nine packet types
  (:func:`encode`, :func:`decode`; their dict forms :func:`encode_packet`,
  :func:`decode_packet`; and the hot paths :func:`encode_event`, :func:`encode_ack`);
* the multi-packet framing ``\\ufffd<len>\\ufffd<packet>...`` used by polling transports
  (:func:`encode_payload`, :func:`decode_payload`), where ``len`` counts UTF-16 code units
  like JavaScript's ``String.length`` (:func:`utf16_len`);
* the JSON dialect spoken on the wire (:func:`dumps`, :func:`loads`).

It follows node socket.io 0.9's ``lib/parser.js``, except that the decoder is strict: input it
cannot make sense of raises :class:`~tornio.exceptions.InvalidPacket` or
:class:`~tornio.exceptions.InvalidPayload` instead of yielding a half-filled packet.

Packets are read into and written from the typed :class:`~tornio.protocol.packets.Packet`
that both generations' namespaces dispatch (:func:`decode`, :func:`encode`); gevent-socketio's
packet dicts, which applications may hand in or ask for, have :func:`decode_packet` and
:func:`encode_packet`. No I/O, no clock, no Tornado.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

from tornio.exceptions import InvalidPacket, InvalidPayload
from tornio.protocol import jsoncodec
from tornio.protocol.jsoncodec import JsonCodec
from tornio.protocol.packets import Packet

__all__ = [
    "ERROR_ADVICES",
    "ERROR_REASONS",
    "PACKET_TYPES",
    "PacketDict",
    "decode",
    "decode_packet",
    "decode_payload",
    "dumps",
    "encode",
    "encode_ack",
    "encode_event",
    "encode_packet",
    "encode_payload",
    "loads",
    "utf16_len",
]

PACKET_TYPES: tuple[str, ...] = (
    "disconnect",
    "connect",
    "heartbeat",
    "message",
    "json",
    "event",
    "ack",
    "error",
    "noop",
)
"""Packet type names, indexed by their wire digit."""

ERROR_REASONS: tuple[str, ...] = (
    "transport not supported",
    "client not handshaken",
    "unauthorized",
)
"""Error reasons, indexed by their wire number."""

ERROR_ADVICES: tuple[str, ...] = ("reconnect",)
"""Error advices, indexed by their wire number."""


class PacketDict(TypedDict, total=False):
    """A decoded packet as gevent-socketio's packet dict.

    ``type`` and ``endpoint`` are always present in decoded packets. ``id`` and ``ack`` come
    together: ``ack`` is ``True`` for an automatic ack and ``'data'`` when user code answers.
    """

    type: str
    endpoint: str
    id: int
    ack: bool | str
    data: Any
    name: str
    args: list[Any]
    ackId: int
    reason: str
    advice: str
    qs: str


# --- JSON --------------------------------------------------------------------------------------

# jsoncodec's built-in dialect for 0.9: ASCII keeps U+2028/U+2029 and lone surrogates escaped
# and utf16_len() on its fast path; NaN and Infinity are refused both ways, as JSON.parse does.


def dumps(obj: Any) -> str:
    """Serialise ``obj`` as compact, ASCII-only JSON, like ``JSON.stringify``.

    Raises:
        TypeError: ``obj`` holds something JSON cannot represent.
        ValueError: ``obj`` holds a NaN or an infinite float, or a circular reference.
    """
    return jsoncodec.dumps_legacy(obj)


def loads(s: str) -> Any:
    """Parse one JSON document, as strictly as ``JSON.parse``.

    Raises:
        ValueError: ``s`` is not valid JSON (this includes ``NaN``/``Infinity`` and documents
            nested too deeply to parse).
    """
    try:
        return jsoncodec.loads_legacy(s)
    except RecursionError:
        raise ValueError("JSON document is nested too deeply") from None


# --- packets -----------------------------------------------------------------------------------

_TYPE_BY_DIGIT: dict[str, str] = {str(i): name for i, name in enumerate(PACKET_TYPES)}
_DIGIT_BY_TYPE: dict[str, str] = {name: str(i) for i, name in enumerate(PACKET_TYPES)}
_REASON_BY_INDEX: dict[str, str] = {str(i): name for i, name in enumerate(ERROR_REASONS)}
_INDEX_BY_REASON: dict[str, str] = {name: str(i) for i, name in enumerate(ERROR_REASONS)}
_ADVICE_BY_INDEX: dict[str, str] = {str(i): name for i, name in enumerate(ERROR_ADVICES)}
_INDEX_BY_ADVICE: dict[str, str] = {name: str(i) for i, name in enumerate(ERROR_ADVICES)}

# node's /([^:]+):([0-9]+)?(\+)?:([^:]+)?:?([\s\S]*)?/, anchored at the start; the data group
# is greedy, so it always runs to the end. The type is checked against the table afterwards, so
# that the endpoint of a packet with an unknown type can still be reported.
_match_packet = re.compile(r"([^:]+):([0-9]+)?(\+)?:([^:]+)?:?([\s\S]*)").match
_match_ack = re.compile(r"([0-9]+)(\+)?([\s\S]*)").match
# gevent-socketio writes errors as '7:::' reason ['+' advice] endpoint.
_fullmatch_gsio_error = re.compile(r"([0-9]*)(?:\+([0-9]*))?(/[^:]*)").fullmatch

# Longer ids cannot come from a JavaScript peer (2**53 has 16 digits), and refusing them keeps
# int() away from its 4300-digit limit.
_MAX_ID_DIGITS = 20


def _excerpt(data: str, limit: int = 40) -> str:
    return repr(data) if len(data) <= limit else repr(data[:limit]) + "..."


def _check_endpoint(endpoint: str) -> None:
    if ":" in endpoint:
        raise ValueError(f"endpoint {endpoint!r} contains ':'")


def _application_loads(codec: JsonCodec | None) -> Callable[[str], Any]:
    """The decoder of an application's JSON module (anything it raises is a ValueError),
    or the built-in one."""
    if codec is None or codec.loads is None:
        return jsoncodec.loads_legacy
    loads = codec.loads

    def checked(text: str) -> Any:
        try:
            return loads(text)
        except (ValueError, RecursionError):
            raise
        except Exception as exc:
            raise ValueError(str(exc)) from exc

    return checked


def encode_packet(packet: Mapping[str, Any], json: JsonCodec | None = None) -> str:
    """Encode a packet dict as node's ``encodePacket`` does.

    ``id`` without ``ack`` means an automatic ack; ``ack='data'`` adds the ``+`` (only when
    there is an id). Error ``reason`` and ``advice`` are given by name. Missing optional keys
    are treated as empty (a json packet without ``data`` carries ``null``). ``json``: the
    application's JSON (:mod:`tornio.protocol.jsoncodec`) writes the values.

    Raises:
        ValueError: unknown type, reason or advice name; an event without a name, an ack without
            an ``ackId``; an endpoint containing ``':'``; data JSON cannot represent.
        TypeError: message data that is not a ``str``; data JSON cannot represent.
    """
    dumps = jsoncodec.dumps_legacy if json is None else json.dumps_legacy
    ptype = packet.get("type")
    digit = _DIGIT_BY_TYPE.get(ptype) if isinstance(ptype, str) else None
    if digit is None:
        raise ValueError(f"unknown packet type {ptype!r}")
    endpoint = packet.get("endpoint") or ""
    _check_endpoint(endpoint)
    msg_id = packet.get("id")
    if msg_id is None:
        head = f"{digit}::{endpoint}"
    elif packet.get("ack") == "data":
        head = f"{digit}:{msg_id}+:{endpoint}"
    else:
        head = f"{digit}:{msg_id}:{endpoint}"

    if digit == "5":  # event
        name = packet.get("name")
        if name is None:
            raise ValueError("event packet without a name")
        args = packet.get("args")
        name_json = jsoncodec.dumps_legacy(name)
        if args:
            return f'{head}:{{"name":{name_json},"args":{dumps(_as_array(args))}}}'
        return f'{head}:{{"name":{name_json}}}'
    if digit == "3":  # message
        data = packet.get("data")
        if data is None or data == "":
            return head
        if not isinstance(data, str):
            raise TypeError(f"message data must be a str, not {type(data).__name__}")
        return f"{head}:{data}"
    if digit == "6":  # ack
        ack_id = packet.get("ackId")
        if ack_id is None:
            raise ValueError("ack packet without an ackId")
        args = packet.get("args")
        if args:
            return f"{head}:{ack_id}+{dumps(_as_array(args))}"
        return f"{head}:{ack_id}"
    if digit == "4":  # json
        return f"{head}:{dumps(packet.get('data'))}"
    if digit == "1":  # connect
        qs = packet.get("qs")
        return f"{head}:{qs}" if qs else head
    if digit == "7":  # error
        reason = packet.get("reason") or ""
        advice = packet.get("advice") or ""
        if not reason and not advice:
            return head
        try:
            reason_index = _INDEX_BY_REASON[reason] if reason else ""
            advice_index = _INDEX_BY_ADVICE[advice] if advice else ""
        except KeyError as exc:
            raise ValueError(f"unknown error reason or advice {exc.args[0]!r}") from None
        if advice_index:
            return f"{head}:{reason_index}+{advice_index}"
        return f"{head}:{reason_index}"
    return head  # disconnect, heartbeat, noop: no data


def encode(packet: Packet, json: JsonCodec | None = None) -> str:
    """Encode a typed packet: events and acks on the fast paths (:func:`encode_event`,
    :func:`encode_ack`), any other packet as its dict (:func:`encode_packet`), which also
    keeps an id an ack of an application's dict carries of its own.

    Raises:
        ValueError, TypeError: as :func:`encode_packet`.
    """
    kind = packet.kind
    if kind == "event" and (packet.id is None or packet.ack == "data"):
        return encode_event(packet.endpoint, packet.name or "", packet.args, packet.id, json)
    if kind == "ack" and packet.id is not None and packet.ack is None:  # no id of its own
        return encode_ack(packet.endpoint, packet.id, packet.args, json)
    return encode_packet(packet.as_dict(), json)


def _as_array(args: Any) -> Any:
    # JSONEncoder serialises lists and tuples as arrays; anything else iterable becomes a list.
    if type(args) is list or type(args) is tuple:
        return args
    return list(args)


def encode_event(
    endpoint: str,
    name: str,
    args: Sequence[Any],
    msg_id: int | None = None,
    json: JsonCodec | None = None,
) -> str:
    """Encode an event packet; the fast path for emits.

    Equivalent to ``encode_packet({'type': 'event', 'endpoint': endpoint, 'name': name,
    'args': args, 'id': msg_id, 'ack': 'data'}, json)``: an id always asks for a data ack,
    because the peer answers an event by calling the callback with arguments.

    Raises:
        ValueError: the endpoint contains ``':'``; args hold a NaN or infinite float.
        TypeError: args hold something JSON cannot represent.
    """
    if ":" in endpoint:
        raise ValueError(f"endpoint {endpoint!r} contains ':'")
    head = "5::" if msg_id is None else f"5:{msg_id}+:"
    if args:
        if type(args) is not list and type(args) is not tuple:
            args = list(args)
        body = jsoncodec.dumps_legacy(args) if json is None else json.dumps_legacy(args)
        return f'{head}{endpoint}:{{"name":{jsoncodec.dumps_legacy(name)},"args":{body}}}'
    return f'{head}{endpoint}:{{"name":{jsoncodec.dumps_legacy(name)}}}'


def encode_ack(
    endpoint: str, ack_id: int, args: Sequence[Any], json: JsonCodec | None = None
) -> str:
    """Encode the ack of packet ``ack_id``; the fast path for a handler's answer.

    Equivalent to ``encode_packet({'type': 'ack', 'endpoint': endpoint, 'ackId': ack_id,
    'args': args}, json)``.

    Raises:
        ValueError: the endpoint contains ``':'``; args hold a NaN or infinite float.
        TypeError: args hold something JSON cannot represent.
    """
    if ":" in endpoint:
        raise ValueError(f"endpoint {endpoint!r} contains ':'")
    if args:
        if type(args) is not list and type(args) is not tuple:
            args = list(args)
        body = jsoncodec.dumps_legacy(args) if json is None else json.dumps_legacy(args)
        return f"6::{endpoint}:{ack_id}+{body}"
    return f"6::{endpoint}:{ack_id}"


def decode_packet(data: str, json: JsonCodec | None = None) -> PacketDict:
    """Decode one packet as node's ``decodePacket`` does, but strictly (an application's
    ``json`` module reads the values), into gevent-socketio's packet dict: :func:`decode`'s
    packet as :meth:`~tornio.protocol.packets.Packet.as_dict` gives it.

    The result always has ``type`` and ``endpoint``; ``id`` and ``ack`` when the packet carries
    an id; then ``data`` (message, json), ``name`` and ``args`` (event), ``ackId`` and ``args``
    (ack), ``reason`` and ``advice`` (error) or ``qs`` (connect).

    Raises:
        InvalidPacket: as :func:`decode`.
    """
    return decode(data, json).as_dict()  # type: ignore[return-value]  # the keys above


def decode(data: str, json: JsonCodec | None = None) -> Packet:
    """Decode one packet as node's ``decodePacket`` does, but strictly (an application's
    ``json`` module reads the values), into the typed packet the namespaces dispatch.

    Tolerated beyond node: the SPEC's connect form ``1::/ns?a=b`` (endpoint ``/ns``, qs
    ``?a=b``) and gevent-socketio's error form ``7:::2+0/ns``.

    Raises:
        InvalidPacket: the packet is malformed, has an unknown type, or its data does not fit
            its type. ``endpoint`` is set when it could be read.
    """
    loads = jsoncodec.loads_legacy if json is None else _application_loads(json)
    m = _match_packet(data)
    if m is None:
        raise InvalidPacket(f"malformed packet {_excerpt(data)}")
    digit, msg_id, plus, endpoint, body = m.groups()
    if endpoint is None:
        endpoint = ""
    kind = _TYPE_BY_DIGIT.get(digit)
    if kind is None:
        raise InvalidPacket(f"unknown packet type {_excerpt(digit)}", endpoint)

    if digit == "1" and "?" in endpoint:  # SPEC form '1::/ns?a=b'
        endpoint, sep, query = endpoint.partition("?")
        if not body:
            body = sep + query
    elif digit == "7" and not endpoint and "/" in body:
        gsio = _fullmatch_gsio_error(body)
        if gsio is not None:
            reason_index, advice_index, endpoint = gsio.groups()
            body = f"{reason_index}+{advice_index}" if advice_index is not None else reason_index

    packet_id: int | None = None
    ack: bool | str | None = None
    if msg_id is not None:
        if len(msg_id) > _MAX_ID_DIGITS:
            raise InvalidPacket(f"packet id too long in {_excerpt(data)}", endpoint)
        packet_id = int(msg_id)
        ack = "data" if plus else True

    if digit == "5":  # event
        try:
            obj = loads(body)
        except (ValueError, RecursionError):
            raise InvalidPacket(f"event data is not JSON: {_excerpt(body)}", endpoint) from None
        if type(obj) is not dict:
            raise InvalidPacket(f"event data is not a JSON object: {_excerpt(body)}", endpoint)
        name = obj.get("name")
        if type(name) is not str:
            raise InvalidPacket(f"event without a string name: {_excerpt(body)}", endpoint)
        args = obj["args"] if "args" in obj else []  # noqa: SIM401  (no call: the hot path)
        if type(args) is not list:
            raise InvalidPacket(f"event args are not a list: {_excerpt(body)}", endpoint)
        return Packet("event", endpoint, name, args, packet_id, ack)
    if digit == "3":  # message
        return Packet("message", endpoint, None, None, packet_id, ack, body)
    if digit == "6":  # ack
        return _decode_ack(body, endpoint, packet_id, ack, loads)
    if digit == "4":  # json
        try:
            value = loads(body)
        except (ValueError, RecursionError):
            raise InvalidPacket(f"json data is not JSON: {_excerpt(body)}", endpoint) from None
        return Packet("json", endpoint, None, None, packet_id, ack, value)
    if digit == "1":  # connect
        return Packet("connect", endpoint, None, None, packet_id, ack, qs=body)
    if digit == "7":  # error
        pieces = body.split("+", 2)  # node: data.split('+'), pieces [0] and [1]
        return Packet(
            "error", endpoint, None, None, packet_id, ack,
            reason=_REASON_BY_INDEX.get(pieces[0], ""),
            advice=_ADVICE_BY_INDEX.get(pieces[1], "") if len(pieces) > 1 else "",
        )
    # disconnect, heartbeat, noop: data, if any, is ignored
    return Packet(kind, endpoint, None, None, packet_id, ack)


def _decode_ack(
    body: str, endpoint: str, packet_id: int | None, ack: bool | str | None,
    loads: Callable[[str], Any],
) -> Packet:
    """An ack packet: ``<ackId>['+' <JSON array>]``. The typed packet's ``id`` is the id it
    answers; an ack that carries an id of its own (no client sends one) keeps it in its dict."""
    am = _match_ack(body)
    if am is None:
        raise InvalidPacket(f"ack without an ack id: {_excerpt(body)}", endpoint)
    ack_id, _, rest = am.groups()
    if len(ack_id) > _MAX_ID_DIGITS:
        raise InvalidPacket(f"ack id too long: {_excerpt(body)}", endpoint)
    args: Any = []
    if rest:
        try:
            args = loads(rest)
        except (ValueError, RecursionError):
            raise InvalidPacket(f"ack args are not JSON: {_excerpt(body)}", endpoint) from None
        if type(args) is not list:
            raise InvalidPacket(f"ack args are not a list: {_excerpt(body)}", endpoint)
    if packet_id is None:
        return Packet("ack", endpoint, None, args, int(ack_id))
    return Packet.from_dict({"type": "ack", "endpoint": endpoint, "id": packet_id, "ack": ack,
                             "ackId": int(ack_id), "args": args})


# --- payload framing ---------------------------------------------------------------------------

_FRAME = "\ufffd"
# At most 16 digits (_MAX_LENGTH_DIGITS) in a length: longer ones exceed any payload, and
# refusing them keeps int() away from its digit limit. In UTF-16-LE, U+FFFD is b'\xfd\xff'
# and an ASCII digit is the digit followed by b'\x00'; matches start at even offsets only.
_MAX_LENGTH_DIGITS = 16
_match_frame = re.compile("\ufffd([0-9]{0,16})\ufffd").match
_match_frame_utf16 = re.compile(b"\xfd\xff((?:[0-9]\x00){0,16})\xfd\xff").match


def utf16_len(s: str) -> int:
    """Return the length of ``s`` in UTF-16 code units, i.e. JavaScript's ``s.length``."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le", "surrogatepass")) >> 1


def encode_payload(packets: Sequence[str]) -> str:
    """Frame encoded packets for a polling transport.

    One packet is returned bare, as node does; several become ``\\ufffd<len>\\ufffd<packet>``
    each, ``len`` counted in UTF-16 code units. No packets give ``''``.
    """
    if len(packets) == 1:
        return packets[0]
    return "".join([f"\ufffd{len(p) if p.isascii() else utf16_len(p)}\ufffd{p}" for p in packets])


def decode_payload(data: str) -> list[str]:
    """Split a polling payload into encoded packets.

    Data that does not start with ``\\ufffd`` is one bare packet. Otherwise it must be a
    sequence of ``\\ufffd<len>\\ufffd`` frames, each followed by exactly ``len`` UTF-16 code
    units, up to the end.

    Lengths count UTF-16 code units, so when ``data`` holds an astral character the frames are
    cut in UTF-16 and decoded back; surrogate code points in ``data`` (which text decoded from
    UTF-8 cannot hold) may then come back with an adjacent high/low pair joined into one
    character.

    Raises:
        InvalidPayload: a frame is malformed (missing closing marker, empty or non-decimal
            length), a length runs past the end, or there is garbage after a frame.
    """
    if not data.startswith(_FRAME):
        return [data]
    buf = data.encode("utf-16-le", "surrogatepass")
    if len(buf) == len(data) << 1:
        return _split_bmp(data)  # no astral characters: a str index is a UTF-16 index
    return _split_utf16(buf)


def _split_bmp(data: str) -> list[str]:
    packets: list[str] = []
    append = packets.append
    pos = 0
    end = len(data)
    while pos < end:
        m = _match_frame(data, pos)
        if m is None:
            raise _frame_error(data[pos : pos + _MAX_LENGTH_DIGITS + 2], pos)
        digits = m.group(1)
        if not digits:
            raise InvalidPayload(f"empty frame length at unit {pos}")
        start = m.end()
        stop = start + int(digits)
        if stop > end:
            raise InvalidPayload(f"frame length {digits} at unit {pos} runs past the end")
        append(data[start:stop])
        pos = stop
    return packets


def _split_utf16(buf: bytes) -> list[str]:
    packets: list[str] = []
    append = packets.append
    pos = 0
    end = len(buf)
    while pos < end:
        m = _match_frame_utf16(buf, pos)
        if m is None:
            window = buf[pos : pos + 2 * (_MAX_LENGTH_DIGITS + 2)]
            raise _frame_error(window.decode("utf-16-le", "surrogatepass"), pos >> 1)
        digits = m.group(1)[::2]
        if not digits:
            raise InvalidPayload(f"empty frame length at unit {pos >> 1}")
        start = m.end()
        stop = start + (int(digits) << 1)
        if stop > end:
            raise InvalidPayload(
                f"frame length {digits.decode()} at unit {pos >> 1} runs past the end"
            )
        append(buf[start:stop].decode("utf-16-le", "surrogatepass"))
        pos = stop
    return packets


def _frame_error(window: str, unit: int) -> InvalidPayload:
    """Explain why no frame header starts ``window`` (found at UTF-16 unit ``unit``)."""
    if not window.startswith(_FRAME):
        return InvalidPayload(f"expected '\\ufffd' at unit {unit}, got {_excerpt(window, 8)}")
    digits = 0
    for char in window[1:]:
        if not ("0" <= char <= "9"):
            break
        digits += 1
    if digits > _MAX_LENGTH_DIGITS:
        return InvalidPayload(f"frame length at unit {unit} is too long")
    if 1 + digits == len(window):
        return InvalidPayload(f"frame length at unit {unit} is not closed by '\\ufffd'")
    return InvalidPayload(f"frame length at unit {unit} is not a decimal number")
