"""Socket.IO v5 (and v4) packet codec for the default parser, sans-I/O.

A packet is written ``<type>[<attachments>-][<nsp>,][<ack id>][<JSON>]`` (the Engine.IO layer
adds its ``4`` message prefix); the namespace is written only when it is not ``/``. Binary
values (``bytes``) anywhere in an EVENT or ACK are replaced depth-first by
``{"_placeholder":true,"num":<i>}``, the packet becomes a BINARY_EVENT or BINARY_ACK, and the
values follow the text packet as attachments, one Engine.IO binary message each.

* :func:`encode` and :func:`encode_event` (the hot path) give the text packet then the
  attachments; :func:`connect_packet` and :func:`connect_error_packet` build the server's
  CONNECT answers.
* :class:`Decoder` takes Engine.IO messages one by one and gives back packets, holding
  BINARY_* packets until their attachments have arrived.
* :func:`to_typed` and :func:`from_typed` translate between a Socket.IO packet and the typed
  packet the namespaces dispatch and send (:mod:`tornio.protocol.packets`).

JSON is written as ``JSON.stringify`` writes it: compact, not ASCII-escaped, keys in insertion
order, lone surrogates escaped. Floats keep Python's spelling (``1.0``, ``1e-07``), which
``JSON.parse`` reads as the same numbers. The decoder follows the reference
``socket.io-parser`` 4.x but is stricter; everything it refuses raises
:class:`~tornio.exceptions.InvalidPacket`.

Protocol v4 (socket.io-client 2.x over Engine.IO v3) differs only for the peer's packets: its
CONNECT carries no JSON (the query string rides in the namespace, ``/admin?token=1``, and is
left there for the caller to split), and its ERROR (CONNECT_ERROR) answer is a plain string.

No I/O, no clock, no Tornado.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from tornio.exceptions import InvalidPacket
from tornio.protocol import jsoncodec, packets
from tornio.protocol.endpoints import to_nsp
from tornio.protocol.jsoncodec import JsonCodec

__all__ = [
    "RESERVED_EVENTS",
    "Decoder",
    "Packet",
    "PacketType",
    "check_data",
    "connect_error_packet",
    "connect_packet",
    "encode",
    "encode_event",
    "from_typed",
    "to_typed",
]


class PacketType(IntEnum):
    """Socket.IO packet types; the value is the wire digit. ``CONNECT_ERROR`` is v4's ERROR."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


@dataclass(slots=True)
class Packet:
    """One Socket.IO packet.

    ``data`` is the decoded JSON payload (``None`` when absent), with binary values as
    ``bytes``. ``attachments`` is set by the decoder for BINARY_* packets; the encoder counts
    attachments itself and ignores it.
    """

    type: PacketType
    nsp: str = "/"
    data: Any = None
    id: int | None = None
    attachments: int = 0


RESERVED_EVENTS = frozenset(
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]
)
"""Event names a peer may not send (they mean something to the Socket.IO libraries)."""

_CONNECT = PacketType.CONNECT
_DISCONNECT = PacketType.DISCONNECT
_EVENT = PacketType.EVENT
_ACK = PacketType.ACK
_BINARY_EVENT = PacketType.BINARY_EVENT
_BINARY_ACK = PacketType.BINARY_ACK
# Tuples, not sets: `in` checks identity first, and IntEnum hashing is slow.
_BINARY_TYPES = (_BINARY_EVENT, _BINARY_ACK)
_EVENT_TYPES = (_EVENT, _BINARY_EVENT)
_ACK_TYPES = (_ACK, _BINARY_ACK)
_DATA_TYPES = (_EVENT, _ACK, _BINARY_EVENT, _BINARY_ACK)
_TYPE_BY_CHAR: dict[str, PacketType] = {str(t.value): t for t in PacketType}
#: Each type's digit, indexed by the type (an IntEnum indexes a tuple as an int does, with no
#: call: ``ptype.value`` is a property, two Python calls).
_CHARS = tuple(str(value) for value in range(max(PacketType) + 1))
_BYTES_TYPES = (bytes, bytearray, memoryview)

# --- JSON --------------------------------------------------------------------------------------

_JSON_OPTIONS: dict[str, Any] = {
    "ensure_ascii": False,
    "separators": (",", ":"),
    "allow_nan": False,
}
# JSON.stringify escapes lone surrogates (they cannot be written in UTF-8); ensure_ascii=False
# would leave them raw. Python strings decoded from UTF-8 never hold surrogates, so any found
# in the output is lone (the JSON decoder joins escaped pairs).
_sub_surrogates = re.compile("[\ud800-\udfff]").sub


def _escape_surrogate(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def _dumps(data: Any, codec: JsonCodec | None = None) -> str:
    body = jsoncodec.dumps_modern(data) if codec is None else codec.dumps_modern(data)
    if body.isascii():
        return body
    return _sub_surrogates(_escape_surrogate, body)


def _dumps_binary(data: Any, codec: JsonCodec | None = None) -> tuple[str, list[bytes]]:
    """Serialise ``data``, replacing binary values by placeholders in depth-first order."""
    buffers: list[bytes] = []
    if codec is not None and codec.module is not None:
        body = codec.dumps_modern(_take_binary(data, buffers))
    else:
        default = None if codec is None else codec.default

        def placeholder(obj: Any) -> Any:
            if isinstance(obj, _BYTES_TYPES):
                buffers.append(bytes(obj))
                return {"_placeholder": True, "num": len(buffers) - 1}
            if default is not None:
                return default(obj)
            raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

        body = json.JSONEncoder(**_JSON_OPTIONS, default=placeholder).encode(data)
    if not body.isascii():
        body = _sub_surrogates(_escape_surrogate, body)
    return body, buffers


def _take_binary(data: Any, buffers: list[bytes]) -> Any:
    """A copy of ``data`` (lists, tuples and dicts) with its binary values replaced by
    placeholders, in the order the JSON encoder meets them; they go to ``buffers``."""
    if isinstance(data, _BYTES_TYPES):
        buffers.append(bytes(data))
        return {"_placeholder": True, "num": len(buffers) - 1}
    if isinstance(data, (list, tuple)):
        return [_take_binary(item, buffers) for item in data]
    if isinstance(data, dict):
        return {key: _take_binary(item, buffers) for key, item in data.items()}
    return data


# --- encoding ----------------------------------------------------------------------------------


def _nsp_prefix(nsp: str) -> str:
    if nsp == "/" or not nsp:
        return ""
    if nsp[0] != "/" or "," in nsp:
        raise ValueError(f"namespace {nsp!r} must start with '/' and hold no ','")
    return nsp + ","


def _id_text(msg_id: int | None) -> str:
    if msg_id is None:
        return ""
    if type(msg_id) is not int and (isinstance(msg_id, bool) or not isinstance(msg_id, int)):
        raise ValueError(f"ack id must be an int, not {type(msg_id).__name__}")
    if msg_id < 0:
        raise ValueError(f"ack id must not be negative: {msg_id}")
    return str(msg_id)


def encode(packet: Packet, json: JsonCodec | None = None) -> list[str | bytes]:
    """Encode ``packet``: the text packet, then its attachments (``bytes``), if any.

    An EVENT or ACK whose data holds ``bytes`` (or ``bytearray``/``memoryview``) anywhere in
    nested lists and dicts becomes a BINARY_EVENT or BINARY_ACK. ``packet.attachments`` is not
    read. Data shape is not checked (the application layer refuses reserved event names).

    ``json``: the application's JSON (:mod:`tornio.protocol.jsoncodec`), None for the
    built-in one.

    Raises:
        ValueError: a namespace not starting with ``/`` or holding ``,``; a negative or non-int
            ack id; data holding a NaN, an infinity or a circular reference.
        TypeError: data JSON cannot represent (binary data in a CONNECT, DISCONNECT or
            CONNECT_ERROR included).
    """
    ptype = packet.type
    data = packet.data
    msg_id = packet.id
    # The usual head (the main namespace: no prefix on the wire; no id, or a plain one)
    # without the checks' calls.
    nsp = packet.nsp
    head = _nsp_prefix(nsp) if nsp != "/" else ""
    if msg_id is not None:
        head += str(msg_id) if type(msg_id) is int and msg_id >= 0 else _id_text(msg_id)
    char = _CHARS[ptype]
    if data is None:
        if ptype in _BINARY_TYPES:
            return [f"{char}0-{head}"]
        return [f"{char}{head}"]
    if ptype in _DATA_TYPES:
        try:
            body = jsoncodec.dumps_modern(data) if json is None else json.dumps_modern(data)
        except TypeError:
            body, buffers = _dumps_binary(data, json)
            if ptype == _EVENT:
                ptype = _BINARY_EVENT
            elif ptype == _ACK:
                ptype = _BINARY_ACK
            return [f"{_CHARS[ptype]}{len(buffers)}-{head}{body}", *buffers]
        if not body.isascii():
            body = _sub_surrogates(_escape_surrogate, body)
        if ptype in _BINARY_TYPES:
            return [f"{char}0-{head}{body}"]
        return [f"{char}{head}{body}"]
    return [f"{char}{head}{_dumps(data, json)}"]


def encode_event(
    nsp: str, args: Sequence[Any], id: int | None = None, json: JsonCodec | None = None
) -> list[str | bytes]:
    """Encode an EVENT whose data is ``args`` (the event name first); the fast path for emits.

    Equivalent to ``encode(Packet(PacketType.EVENT, nsp, list(args), id), json)``.

    Raises:
        ValueError, TypeError: as :func:`encode`.
    """
    if type(args) is not list and type(args) is not tuple:
        args = list(args)
    head = _id_text(id) if nsp == "/" else _nsp_prefix(nsp) + _id_text(id)
    try:
        body = jsoncodec.dumps_modern(args) if json is None else json.dumps_modern(args)
    except TypeError:
        body, buffers = _dumps_binary(args, json)
        return [f"5{len(buffers)}-{head}{body}", *buffers]
    if not body.isascii():
        body = _sub_surrogates(_escape_surrogate, body)
    return [f"2{head}{body}"]


def connect_packet(nsp: str, sid: str | None = None, pid: str | None = None) -> str:
    """The server's CONNECT answer: ``0[<nsp>,]{"sid":<sid>[,"pid":<pid>]}``.

    Without ``sid`` it is the payload-less v4 form (``0`` or ``0/admin,``). ``pid`` is the
    private session id of connection-state recovery.
    """
    head = "0" + _nsp_prefix(nsp)
    if sid is None:
        return head
    if pid is None:
        return head + _dumps({"sid": sid})
    return head + _dumps({"sid": sid, "pid": pid})


def connect_error_packet(nsp: str, message: str, data: Any = None, *, protocol: int = 5) -> str:
    """The server's CONNECT_ERROR answer.

    v5: ``4[<nsp>,]{"message":<message>[,"data":<data>]}`` (``data`` omitted when ``None``),
    e.g. ``4/random,{"message":"Invalid namespace"}``. v4: the JSON of ``data`` if given, else
    of ``message`` (``4/admin,"Not authorized"``), as socket.io 2.x sends ``err.data ||
    err.message``.

    Raises:
        ValueError, TypeError: as :func:`encode`, for ``data``.
    """
    head = "4" + _nsp_prefix(nsp)
    if protocol < 5:
        return head + _dumps(message if data is None else data)
    if data is None:
        return head + _dumps({"message": message})
    return head + _dumps({"message": message, "data": data})


# --- the typed packet ----------------------------------------------------------------------------


def from_typed(packet: packets.Packet) -> Packet:
    """The Socket.IO packet of a typed packet a namespace sends (a 0.9-style ``message`` or
    ``json`` becomes the ``message`` event a v5 client's ``send()`` gives).

    Raises:
        ValueError: a kind v5 has no packet for (connect, heartbeat, noop: the socket sends its
            own CONNECT answers).
    """
    kind = packet.kind
    nsp = to_nsp(packet.endpoint)
    if kind == "ack":  # the usual one: a handler's answer
        return Packet(_ACK, nsp, list(packet.args), packet.id)
    if kind == "event":
        return Packet(_EVENT, nsp, [packet.name, *packet.args], packet.id if packet.ack else None)
    if kind in ("message", "json"):
        return Packet(_EVENT, nsp, ["message", packet.data], packet.id if packet.ack else None)
    if kind == "disconnect":
        return Packet(_DISCONNECT, nsp)
    if kind == "error":
        return Packet(PacketType.CONNECT_ERROR, nsp, {"message": packet.reason or ""})
    raise ValueError(f"cannot send a {kind!r} packet to a Socket.IO v5 client")


def to_typed(packet: Packet, endpoint: str) -> packets.Packet | None:
    """The typed packet of a client's EVENT, ACK (binary ones with their attachments in place)
    or DISCONNECT, ``endpoint`` being its namespace as the socket read it; None for a CONNECT
    or CONNECT_ERROR, which the socket answers itself. An event's id asks for a data ack."""
    kind = packet.type
    if kind is _EVENT or kind is _BINARY_EVENT:
        data = packet.data
        name = data[0]
        msg_id = packet.id
        return packets.Packet("event", endpoint, name if isinstance(name, str) else str(name),
                              data[1:], msg_id, None if msg_id is None else "data")
    if kind is _ACK or kind is _BINARY_ACK:
        return packets.Packet("ack", endpoint, None, list(packet.data or ()), packet.id)
    if kind is _DISCONNECT:
        return packets.Packet("disconnect", endpoint)
    return None


# --- decoding ----------------------------------------------------------------------------------

_match_attachments = re.compile(r"([0-9]+)-").match
_match_nsp = re.compile(r"/[^,]*").match
_match_id = re.compile(r"[0-9]+").match
# A JavaScript peer cannot send a longer ack id (2**53 has 16 digits); refusing longer ones
# keeps int() away from its digit limit.
_MAX_ID_DIGITS = 20
_MAX_ATTACHMENT_DIGITS = 10
#: What an ack id starts with.
_DIGITS = frozenset("0123456789")


def _excerpt(data: str, limit: int = 40) -> str:
    return repr(data) if len(data) <= limit else repr(data[:limit]) + "..."


def check_data(ptype: PacketType, data: Any, present: bool, protocol: int, nsp: str) -> None:
    """Refuse a payload whose shape does not fit ``ptype`` (socket.io-parser's isDataValid)."""
    if ptype in _EVENT_TYPES:
        if type(data) is not list or not data:
            raise InvalidPacket("event data must be a non-empty array", nsp)
        name = data[0]
        kind = type(name)
        if kind is str:
            if name in RESERVED_EVENTS:
                raise InvalidPacket(f"reserved event name {name!r}", nsp)
        elif kind is not int and kind is not float:
            raise InvalidPacket("event name must be a string or a number", nsp)
    elif ptype in _ACK_TYPES:
        if type(data) is not list:
            raise InvalidPacket("ack data must be an array", nsp)
    elif ptype == _CONNECT:
        if present and (protocol < 5 or type(data) is not dict):
            raise InvalidPacket(
                "connect data must be an object" if protocol >= 5 else "connect takes no data",
                nsp,
            )
    elif ptype == _DISCONNECT:
        if present:
            raise InvalidPacket("disconnect takes no data", nsp)
    elif not present or (type(data) is not str and type(data) is not dict):
        raise InvalidPacket("connect_error data must be a string or an object", nsp)


class Decoder:
    """Decode the Engine.IO messages of one connection into Socket.IO packets.

    ``add`` takes each message in order and returns a packet, or ``None`` while a BINARY_*
    packet waits for its attachments. Decoded BINARY_* packets keep their type and
    ``attachments`` count, with each placeholder replaced by its ``bytes``.

    ``protocol`` is the Socket.IO protocol revision: 5 (socket.io-client ≥ 3) or 4
    (socket.io-client 2.x, whose CONNECT carries no JSON). ``json``: the application's JSON
    (:mod:`tornio.protocol.jsoncodec`); a ``json`` module's ``loads`` reads the payloads.

    After an error the decoder forgets any pending packet; callers close the connection.
    """

    __slots__ = ("_buffers", "_loads", "_pending", "max_attachments", "protocol")

    def __init__(
        self, max_attachments: int = 10, protocol: int = 5, json: JsonCodec | None = None
    ) -> None:
        if protocol not in (4, 5):
            raise ValueError(f"unsupported Socket.IO protocol {protocol!r}")
        self.max_attachments = max_attachments
        self.protocol = protocol
        self._loads = (
            jsoncodec.loads_modern if json is None or json.loads is None else json.loads
        )
        self._pending: Packet | None = None
        self._buffers: list[bytes] = []

    @property
    def waiting(self) -> bool:
        """Whether a BINARY_* packet is waiting for attachments."""
        return self._pending is not None

    def reset(self) -> None:
        """Forget a packet waiting for attachments."""
        self._pending = None
        self._buffers = []

    def add(self, frame: str | bytes | bytearray | memoryview) -> Packet | None:
        """Take one Engine.IO message; return the packet it completes, if any.

        Raises:
            InvalidPacket: unknown type; malformed attachment count, or more than
                ``max_attachments``; ack id too long; a payload that is not JSON or whose shape
                does not fit the type (reserved event names included); text while attachments
                are awaited; binary data when none are; an invalid placeholder.
        """
        if type(frame) is str:
            if self._pending is not None:
                self.reset()
                raise InvalidPacket("text packet while waiting for binary attachments")
            packet = self._decode_text(frame)
            if packet.attachments:
                self._pending = packet
                return None
            if packet.type in _BINARY_TYPES:
                packet.data = _reconstruct(packet.data, (), packet.nsp)
            return packet
        if not isinstance(frame, _BYTES_TYPES):
            raise TypeError(f"a message must be str or bytes, not {type(frame).__name__}")
        pending = self._pending
        if pending is None:
            raise InvalidPacket("binary data without a packet waiting for attachments")
        buffers = self._buffers
        buffers.append(bytes(frame))
        if len(buffers) < pending.attachments:
            return None
        self.reset()
        pending.data = _reconstruct(pending.data, buffers, pending.nsp)
        return pending

    def _decode_text(self, text: str) -> Packet:
        if not text:
            raise InvalidPacket("empty packet")
        ptype = _TYPE_BY_CHAR.get(text[0])
        if ptype is None:
            raise InvalidPacket(f"unknown packet type in {_excerpt(text)}")
        pos = 1
        attachments = 0
        if ptype in _BINARY_TYPES:
            m = _match_attachments(text, 1)
            if m is None:
                raise InvalidPacket(f"illegal attachments in {_excerpt(text)}")
            digits = m.group(1)
            if len(digits) > _MAX_ATTACHMENT_DIGITS or int(digits) > self.max_attachments:
                raise InvalidPacket(f"too many attachments in {_excerpt(text)}")
            attachments = int(digits)
            pos = m.end()
        nsp = "/"
        # (each regex only where its first character is: most packets have no namespace)
        m = _match_nsp(text, pos) if text[pos : pos + 1] == "/" else None
        if m is not None:
            nsp = m.group()
            pos = m.end() + 1  # skip the ',' (or step past the end)
        msg_id = None
        m = _match_id(text, pos) if text[pos : pos + 1] in _DIGITS else None
        if m is not None:
            digits = m.group()
            if len(digits) > _MAX_ID_DIGITS:
                raise InvalidPacket(f"ack id too long in {_excerpt(text)}", nsp)
            msg_id = int(digits)
            pos = m.end()
        data = None
        present = pos < len(text)
        if present:
            try:
                data = self._loads(text[pos:])
            except (ValueError, RecursionError):
                raise InvalidPacket(f"invalid payload in {_excerpt(text)}", nsp) from None
            except Exception:  # an application's loads may raise anything
                if self._loads is jsoncodec.loads_modern:
                    raise
                raise InvalidPacket(f"invalid payload in {_excerpt(text)}", nsp) from None
        check_data(ptype, data, present, self.protocol, nsp)
        return Packet(ptype, nsp, data, msg_id, attachments)


def _bad_placeholder(value: Any, nsp: str) -> InvalidPacket:
    return InvalidPacket(f"illegal attachments: invalid placeholder {_excerpt(repr(value))}", nsp)


def _reconstruct(data: Any, buffers: Sequence[bytes], nsp: str) -> Any:
    """Replace the placeholders in ``data`` (freshly decoded JSON) by their ``buffers``.

    A dict with a ``_placeholder`` key must be exactly ``{"_placeholder": true, "num": <n>}``
    with ``n`` an integer index into ``buffers``. Iterative, so deep JSON cannot exhaust the
    stack.
    """
    count = len(buffers)

    def resolve(value: dict[str, Any]) -> bytes:
        num = value.get("num")
        if (
            len(value) != 2
            or value["_placeholder"] is not True
            or type(num) is not int
            or not 0 <= num < count
        ):
            raise _bad_placeholder(value, nsp)
        return buffers[num]

    if type(data) is dict and "_placeholder" in data:
        return resolve(data)
    stack = [data]
    while stack:
        node = stack.pop()
        if type(node) is list:
            for i, item in enumerate(node):
                if type(item) is dict:
                    if "_placeholder" in item:
                        node[i] = resolve(item)
                    else:
                        stack.append(item)
                elif type(item) is list:
                    stack.append(item)
        elif type(node) is dict:
            for key, item in node.items():
                if type(item) is dict:
                    if "_placeholder" in item:
                        node[key] = resolve(item)
                    else:
                        stack.append(item)
                elif type(item) is list:
                    stack.append(item)
    return data
