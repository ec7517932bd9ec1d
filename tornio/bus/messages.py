"""The bus wire schema: what one bus message is, and its ZeroMQ frames. Sans-I/O.

A message is a plain dict (:data:`tornio.bus.base.Message`) modelled on the reference server's
ClusterAdapter (``reference/modern.md`` §4.3), carried as msgpack (never pickle) in two
ZeroMQ frames, ``[topic, payload]``, or three, ``[topic, payload, stamp]``: the stamp
(:data:`STAMP_SIZE` bytes, the publisher's stream and sequence number) lets a receiver of
several brokers drop the copies (:mod:`tornio.bus.sequence`); every node and emitter of
several brokers sends one (with one broker, two frames), and :func:`decode` checks only its
length:

========  ==========================================================================
key       value
========  ==========================================================================
``v``     int, the schema version, :data:`VERSION` (1); any other is refused
``uid``   str, the publishing node's id (``"emitter"`` for an external emitter)
``type``  int, a :class:`MessageType`
``nsp``   str, the namespace (``""`` for the global one and for control messages)
``data``  map with string keys: what the type needs (below)
``rid``   int ≥ 0, the request id: present on requests and responses (a SERVER_SIDE_EMIT
          without one asks for no answer), absent otherwise
``dst``   str, the node a message is addressed to: required on responses, node requests
          (HTTP_REQUEST), HTTP_ABORT and probes; allowed on socket operations (an emit to
          a sid owned by that node) and on heartbeats (the answer to a NODE_UP); absent
          otherwise (cluster requests such as FETCH_SESSIONS go to every node)
========  ==========================================================================

The topic frame is derived from the payload (and checked against it on decode), so that SUB
sockets filter by prefix. Every name in a topic is UTF-8 with NUL escaped (``\\x01`` →
``\\x01\\x02``, ``\\x00`` → ``\\x01\\x01``) and ends with a NUL, so no name's topic is a
prefix of another's (room ``a`` never matches room ``ab``) and no namespace/room pair can
collide with another:

=====================================  ========================================================
topic                                  carries
=====================================  ========================================================
``r\\0`` nsp ``\\0`` room ``\\0``     a socket operation naming exactly one room (and no sid);
                                       a node also subscribes to ``r\\0`` nsp ``\\0`` node,
                                       the prefix of every room named by one of its socket
                                       ids (:func:`sid_rooms_prefix`)
``n\\0`` nsp ``\\0``                   other socket operations: the whole namespace, a sid, or
                                       two or more rooms (receivers union the rooms' members)
``d\\0`` node ``\\0``                  anything with ``dst``: responses, node requests, aborts,
                                       probes, direct heartbeats, emits to a sid whose owner
                                       is known
``c\\0``                               control: heartbeats, NODE_UP/NODE_DOWN, cluster requests
=====================================  ========================================================

``data`` by type: socket operations (EMIT, SOCKETS_JOIN, SOCKETS_LEAVE, DISCONNECT_SOCKETS)
select sockets with ``rooms`` (list of str, empty for the whole namespace), ``to`` (a sid or
None: it wins over ``rooms``), ``skip`` (list of sids) and ``except`` (list of rooms whose
members are left out, optional); an EMIT must have ``event`` (str), ``args`` (list),
``rooms`` and ``skip``; a SOCKETS_JOIN has ``join`` and a SOCKETS_LEAVE ``leave`` (lists
of rooms), a DISCONNECT_SOCKETS may have ``close`` (bool: end the whole client connection).
A SERVER_SIDE_EMIT has ``event`` (str) and ``args`` (list); a BROADCAST_WITH_ACKS selects
sockets as an EMIT does and has ``event``, ``args`` and ``timeout`` (seconds, a number ≥ 0).
A PROBE has ``nonce`` (str), an HTTP_ABORT ``id`` (str), a RECOVERY_SESSION ``op``
(``seen``, ``lost``, ``closed``) and ``pid`` (str), with ``sid``, ``rooms`` and ``data``
when seen (:mod:`tornio.bus.store`). An EMIT may carry the ``offset`` its recipients got
(connection state recovery). Other control messages, requests and responses may carry any
map (an HTTP_REQUEST and its response carry :data:`tornio.transports.forwarding.Wire` maps). Extra
keys in ``data`` are kept (forward
compatible); extra keys in the envelope are refused.

Limits: a payload of at most ``max_payload`` bytes (:data:`MAX_PAYLOAD`, 1 MiB, by default),
a topic of at most :data:`MAX_TOPIC` bytes (whatever ``max_payload`` says: libzmq walks a
topic's bytes recursively when it unsubscribes, and a topic of ~100,000 bytes overflows the
stack of its I/O thread, in every node and in the broker), values nested at most
:data:`MAX_DEPTH` deep, map keys that are strings, no msgpack
extension types. Strings may hold lone surrogates (``"\\ud800"``: JSON, and so every
Socket.IO client, can send them, though UTF-8 cannot carry them): they are packed as
``surrogatepass`` UTF-8 and read back unchanged, so a node receives the very string the
publisher had. :func:`encode` turns sets and tuples into lists; any other value that is not
None, bool, int, float, str, bytes, list or dict is refused. Every failure raises
:class:`BusMessageError`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack  # type: ignore[import-untyped]

from tornio.bus.base import Message
from tornio.exceptions import TornioError

__all__ = [
    "CLUSTER_REQUESTS",
    "CONTROL_TOPIC",
    "DIRECT_TYPES",
    "EMITTER_UID",
    "MAX_DEPTH",
    "MAX_PAYLOAD",
    "MAX_TOPIC",
    "NODE_REQUESTS",
    "ONE_WAY_REQUESTS",
    "REQUEST_TYPES",
    "RESPONSE_TYPES",
    "SOCKET_OPERATIONS",
    "SOCKET_TOPICS",
    "STAMP_SIZE",
    "VERSION",
    "BusMessageError",
    "MessageType",
    "check_topic",
    "decode",
    "direct_topic",
    "encode",
    "make_message",
    "namespace_topic",
    "own_prefix",
    "portable",
    "portable_session",
    "room_topic",
    "room_topic_prefix",
    "sid_rooms_prefix",
    "topic_for",
    "validate",
]

log = logging.getLogger("tornio.bus.messages")

#: The schema version every message carries in ``v``.
VERSION = 1
#: The default limit on a payload frame, in bytes.
MAX_PAYLOAD = 1 << 20
#: The hard limit on a topic frame, in bytes (every subscription and every message): a
#: defense of libzmq, whose unsubscribe recurses once per byte of a topic (~64 bytes of
#: stack each: a topic of 100,000 bytes crashes a process with 8 MB thread stacks; 4096
#: bytes need 256 KB). Settings' name limits keep topics under it
#: (``2 * (max_namespace_name + max_room_name) + 4`` bytes at most).
MAX_TOPIC = 4096
#: How deep lists and maps may nest inside ``data`` (msgpack's own packer stops at 511).
MAX_DEPTH = 256
#: The ``uid`` of an external emitter: never a node, never in a node table.
EMITTER_UID = "emitter"
#: The longest node id accepted in ``uid`` and ``dst``.
MAX_NODE_ID = 128
#: The length of a stamp frame (:mod:`tornio.bus.sequence`: 8 bytes of sequence number, 8
#: of stream id).
STAMP_SIZE = 16


class BusMessageError(TornioError, ValueError):
    """A bus message could not be encoded, or frames could not be decoded into one."""


class MessageType(enum.IntEnum):
    """What a message asks. The numbers follow the reference ClusterAdapter where the meaning
    is the same (INITIAL_HEARTBEAT 1 is NODE_UP here, BROADCAST 3 is EMIT, FETCH_SOCKETS 7 is
    FETCH_SESSIONS, ADAPTER_CLOSE 13 is NODE_DOWN)."""

    NODE_UP = 1  #: a node has joined (its subscriptions are in place); peers answer HEARTBEAT
    HEARTBEAT = 2  #: a node is alive (every ``heartbeat_interval``)
    EMIT = 3  #: send an event to the selected sockets
    SOCKETS_JOIN = 4  #: make the selected sockets join ``data["join"]`` rooms
    SOCKETS_LEAVE = 5  #: make the selected sockets leave ``data["leave"]`` rooms
    DISCONNECT_SOCKETS = 6  #: disconnect the selected sockets
    FETCH_SESSIONS = 7  #: request: the session data of sockets (answered by every node)
    FETCH_SESSIONS_RESPONSE = 8  #: one node's answer to FETCH_SESSIONS
    SERVER_SIDE_EMIT = 9  #: an event for the other nodes' server-side handlers (rid: answer it)
    SERVER_SIDE_EMIT_RESPONSE = 10  #: one node's handler's answer
    NODE_DOWN = 13  #: a node is leaving cleanly
    #: request to one node: run a forwarded HTTP request (tornio.transports.forwarding)
    HTTP_REQUEST = 20
    HTTP_RESPONSE = 21  #: the owner's answer to HTTP_REQUEST
    #: request: an emit whose recipients all answer (ack), gathered per node (node's
    #: BROADCAST with a requestId, whose answers come per client instead)
    BROADCAST_WITH_ACKS = 14
    BROADCAST_ACKS = 15  #: one node's recipients' acks, and how many did not answer
    HTTP_ABORT = 22  #: to one node: the client of a forwarded request left (``data["id"]``)
    RECOVERY_SESSION = 30  #: to a recovery store: a recoverable session was seen, lost, closed
    RECOVERY_RESTORE = 31  #: request to a recovery store: restore a lost session
    RECOVERY_RESTORED = 32  #: the store's answer to RECOVERY_RESTORE
    PROBE = 100  #: a node's message to itself, proving its subscriptions (``ready()``)


#: Types that select sockets: delivered to a node's ``deliver()``.
SOCKET_OPERATIONS = frozenset(
    {
        MessageType.EMIT,
        MessageType.SOCKETS_JOIN,
        MessageType.SOCKETS_LEAVE,
        MessageType.DISCONNECT_SOCKETS,
    }
)
#: Request type → the type of its answers.
REQUEST_TYPES: Mapping[MessageType, MessageType] = {
    MessageType.FETCH_SESSIONS: MessageType.FETCH_SESSIONS_RESPONSE,
    MessageType.SERVER_SIDE_EMIT: MessageType.SERVER_SIDE_EMIT_RESPONSE,
    MessageType.BROADCAST_WITH_ACKS: MessageType.BROADCAST_ACKS,
    MessageType.HTTP_REQUEST: MessageType.HTTP_RESPONSE,
    MessageType.RECOVERY_RESTORE: MessageType.RECOVERY_RESTORED,
}
#: Requests to every node (on the control topic, never with ``dst``).
CLUSTER_REQUESTS = frozenset(
    {MessageType.FETCH_SESSIONS, MessageType.SERVER_SIDE_EMIT, MessageType.BROADCAST_WITH_ACKS}
)
#: Requests that may also go without ``rid``, asking for no answer.
ONE_WAY_REQUESTS = frozenset({MessageType.SERVER_SIDE_EMIT})
#: Requests to one node (always with ``dst``).
NODE_REQUESTS = frozenset({MessageType.HTTP_REQUEST, MessageType.RECOVERY_RESTORE})
#: Response types.
RESPONSE_TYPES = frozenset(REQUEST_TYPES.values())
#: Types that are always addressed to one node.
DIRECT_TYPES = NODE_REQUESTS | RESPONSE_TYPES | {
    MessageType.PROBE,
    MessageType.HTTP_ABORT,
    MessageType.RECOVERY_SESSION,
}
#: Types that may be addressed to one node or not.
_MAYBE_DIRECT = SOCKET_OPERATIONS | {MessageType.HEARTBEAT}

CONTROL_TOPIC = b"c\x00"
_ROOM, _NAMESPACE, _DIRECT = b"r\x00", b"n\x00", b"d\x00"
#: The prefixes of the topics of socket operations to rooms and namespaces (not the control
#: and direct topics).
SOCKET_TOPICS = (_ROOM, _NAMESPACE)

_ENVELOPE_KEYS = frozenset({"v", "uid", "type", "nsp", "data", "rid", "dst"})
_MAX_RID = 2**63 - 1


# -- topics ------------------------------------------------------------------------------------


def check_topic(topic: bytes) -> bytes:
    """``topic``, if libzmq may be handed it (see :data:`MAX_TOPIC`).

    Raises:
        BusMessageError: a topic longer than :data:`MAX_TOPIC` bytes.
    """
    if len(topic) > MAX_TOPIC:
        raise BusMessageError(
            f"a bus topic of {len(topic)} bytes exceeds the hard limit of {MAX_TOPIC} "
            "(a room or namespace name too long)"
        )
    return topic


def _name(name: str) -> bytes:
    """A name as a topic component: UTF-8, NUL escaped, NUL-terminated."""
    # surrogatepass: a lone surrogate (JSON allows "\\ud800") names a topic, as it is
    # carried in a payload (see the module docstring).
    raw = name.encode("utf-8", "surrogatepass")
    if b"\x00" in raw or b"\x01" in raw:
        raw = raw.replace(b"\x01", b"\x01\x02").replace(b"\x00", b"\x01\x01")
    return raw + b"\x00"


def room_topic(nsp: str, room: str) -> bytes:
    """The topic of socket operations on one room of a namespace.

    Raises:
        BusMessageError: the topic would be longer than :data:`MAX_TOPIC`.
    """
    return check_topic(_ROOM + _name(nsp) + _name(room))


def room_topic_prefix() -> bytes:
    """The prefix of every room's topic."""
    return _ROOM


def namespace_topic(nsp: str | None = None) -> bytes:
    """The topic of namespace-wide socket operations; with no namespace, the prefix that
    matches every namespace's."""
    return _NAMESPACE if nsp is None else check_topic(_NAMESPACE + _name(nsp))


def sid_rooms_prefix(nsp: str, node_id: str) -> bytes:
    """The prefix of the topics of every room of a namespace named by a socket id that
    ``node_id`` made (a socket id starts with its owner's tag, :mod:`tornio.bus.ids`): the
    owner subscribes to it, so that a room emit to a socket's own room reaches it."""
    return check_topic(_ROOM + _name(nsp) + _name(node_id)[:-1])


def direct_topic(node_id: str) -> bytes:
    """The topic of messages addressed to one node."""
    return _DIRECT + _name(node_id)


def topic_for(message: Message) -> bytes:
    """The topic a (valid) message is published on; see the module docstring."""
    dst = message.get("dst")
    if dst is not None:
        return direct_topic(dst)
    kind = message["type"]
    if kind in SOCKET_OPERATIONS:
        data = message["data"]
        rooms: list[str] = data.get("rooms") or []
        if data.get("to") is None and len(rooms) == 1:
            return room_topic(message["nsp"], rooms[0])
        return namespace_topic(message["nsp"])
    return CONTROL_TOPIC


# -- values ------------------------------------------------------------------------------------

_SCALARS = (str, bytes, int, float, bool, type(None))


def _normalized(value: Any, depth: int = 0) -> Any:
    """A msgpack-safe copy of ``value``: sets and tuples become lists; anything msgpack
    would not give back unchanged is refused."""
    if isinstance(value, _SCALARS):
        if type(value) is int and not -(2**63) <= value < 2**64:
            raise BusMessageError(f"integer out of msgpack range: {value}")
        return value
    if depth >= MAX_DEPTH:
        raise BusMessageError(f"values nested more than {MAX_DEPTH} deep")
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise BusMessageError(f"map key {key!r} is not a string")
            out[key] = _normalized(item, depth + 1)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_normalized(item, depth + 1) for item in value]
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise BusMessageError(f"{type(value).__name__} is not a msgpack value")


def portable(value: Any) -> Any:
    """A copy of ``value`` as it reads after crossing the bus (sets and tuples become lists).

    Raises:
        BusMessageError: a value msgpack cannot carry unchanged.
    """
    return _normalized(value)


def portable_session(session: Mapping[Any, Any], whose: str) -> dict[str, Any]:
    """A copy of a socket's ``session`` dict as it reads after crossing the bus, the one way
    a session is made portable (``fetch_sessions``, ``fetch_sockets``, the Admin UI, what
    connection state recovery keeps): a set becomes a sorted list (sorted by ``str``), a
    tuple a list; an entry the bus cannot carry (a non-string key, a value msgpack would not
    give back unchanged) is left out, and logged with ``whose`` (the socket's sid).
    """
    data: dict[str, Any] = {}
    for key, value in session.items():
        if isinstance(value, (set, frozenset)):
            value = sorted(value, key=str)
        try:
            if not isinstance(key, str):
                raise BusMessageError(f"key {key!r} is not a string")
            data[key] = _normalized(value)
        except BusMessageError as exc:
            log.warning("session[%r] of %s cannot cross the bus, left out: %s", key, whose, exc)
    return data


def _check_decoded(value: Any, depth: int = 0) -> None:
    """Refuse what msgpack decodes but the schema does not allow (timestamps, non-string
    map keys, nesting past MAX_DEPTH)."""
    if isinstance(value, _SCALARS):
        return
    if depth >= MAX_DEPTH:
        raise BusMessageError(f"values nested more than {MAX_DEPTH} deep")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise BusMessageError(f"map key {key!r} is not a string")
            _check_decoded(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_decoded(item, depth + 1)
    else:
        raise BusMessageError(f"{type(value).__name__} is not allowed in a bus message")


def _refuse_ext(code: int, data: bytes) -> Any:
    raise BusMessageError(f"msgpack extension type {code} is not allowed")


# -- the envelope ------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return type(value) is int or isinstance(value, enum.IntEnum)


def _node_id(value: Any, key: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NODE_ID:
        raise BusMessageError(f"{key} must be a string of 1 to {MAX_NODE_ID} characters")
    return value


def _str_list(data: Mapping[str, Any], key: str, required: bool) -> None:
    if key not in data:
        if required:
            raise BusMessageError(f"data.{key} is missing")
        return
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BusMessageError(f"data.{key} must be a list of strings")


def validate(message: Message) -> Message:
    """Check a message against the schema; return it with ``type`` as a :class:`MessageType`.

    Raises:
        BusMessageError: what is wrong with it.
    """
    if not isinstance(message, dict):
        raise BusMessageError(f"a message is a map, not {type(message).__name__}")
    for key in ("v", "uid", "type", "nsp", "data"):
        if key not in message:
            raise BusMessageError(f"{key!r} is missing")
    extra = message.keys() - _ENVELOPE_KEYS
    if extra:
        raise BusMessageError(f"unknown keys {sorted(map(str, extra))}")
    version = message["v"]
    if not _is_int(version) or version != VERSION:
        raise BusMessageError(f"unknown message version {version!r}")
    _node_id(message["uid"], "uid")
    kind = message["type"]
    if not _is_int(kind):
        raise BusMessageError(f"type must be an integer, not {kind!r}")
    try:
        kind = MessageType(kind)
    except ValueError:
        raise BusMessageError(f"unknown message type {kind!r}") from None
    if not isinstance(message["nsp"], str):
        raise BusMessageError("nsp must be a string")
    data = message["data"]
    if not isinstance(data, dict):
        raise BusMessageError("data must be a map")

    is_request, is_response = kind in REQUEST_TYPES, kind in RESPONSE_TYPES
    if (is_request or is_response) and not ("rid" not in message and kind in ONE_WAY_REQUESTS):
        rid: Any = message.get("rid")
        if not _is_int(rid) or not 0 <= rid <= _MAX_RID:
            raise BusMessageError(f"{kind.name} needs rid, a non-negative integer")
    elif "rid" in message:
        raise BusMessageError(f"{kind.name} has no rid")

    if "dst" in message:
        if kind not in DIRECT_TYPES and kind not in _MAYBE_DIRECT:
            raise BusMessageError(f"{kind.name} is never addressed to one node")
        _node_id(message["dst"], "dst")
    elif kind in DIRECT_TYPES:
        raise BusMessageError(f"{kind.name} needs dst")

    if kind in SOCKET_OPERATIONS or kind is MessageType.BROADCAST_WITH_ACKS:
        is_emit = kind in (MessageType.EMIT, MessageType.BROADCAST_WITH_ACKS)
        _str_list(data, "rooms", required=is_emit)
        _str_list(data, "skip", required=is_emit)
        _str_list(data, "except", required=False)
        if data.get("to") is not None and not isinstance(data["to"], str):
            raise BusMessageError("data.to must be a sid (a string) or None")
        if is_emit:
            if not isinstance(data.get("event"), str):
                raise BusMessageError("data.event must be a string")
            if not isinstance(data.get("args"), list):
                raise BusMessageError("data.args must be a list")
        if kind is MessageType.BROADCAST_WITH_ACKS:
            timeout = data.get("timeout")
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
                0 <= timeout < float("inf")
            ):
                raise BusMessageError("data.timeout must be a number of seconds >= 0")
        if "close" in data and not isinstance(data["close"], bool):
            raise BusMessageError("data.close must be a bool")
    elif kind is MessageType.SERVER_SIDE_EMIT:
        if not isinstance(data.get("event"), str):
            raise BusMessageError("data.event must be a string")
        if not isinstance(data.get("args"), list):
            raise BusMessageError("data.args must be a list")
    elif kind is MessageType.PROBE and not isinstance(data.get("nonce"), str):
        raise BusMessageError("data.nonce must be a string")
    elif kind is MessageType.HTTP_ABORT and not isinstance(data.get("id"), str):
        raise BusMessageError("data.id must be a string")
    elif kind is MessageType.RECOVERY_SESSION:
        if data.get("op") not in ("seen", "lost", "closed"):
            raise BusMessageError("data.op must be 'seen', 'lost' or 'closed'")
        if not isinstance(data.get("pid"), str):
            raise BusMessageError("data.pid must be a string")

    if message["type"] is not kind:
        message = {**message, "type": kind}
    return message


def make_message(
    kind: MessageType,
    nsp: str,
    data: Mapping[str, Any],
    *,
    uid: str,
    rid: int | None = None,
    dst: str | None = None,
) -> Message:
    """Build a message dict (unchecked: :func:`encode` checks it)."""
    message: Message = {"v": VERSION, "uid": uid, "type": kind, "nsp": nsp, "data": data}
    if rid is not None:
        message["rid"] = rid
    if dst is not None:
        message["dst"] = dst
    return message


def encode(message: Message, *, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """The frames ``[topic, payload]`` of a message.

    Raises:
        BusMessageError: the message breaks the schema, holds a value msgpack cannot carry
            unchanged, or its payload is larger than ``max_payload``.
    """
    if not isinstance(message, dict):
        raise BusMessageError(f"a message is a map, not {type(message).__name__}")
    if "data" in message:
        message = {**message, "data": _normalized(message["data"])}
    message = validate(message)
    wire = {key: message[key] for key in ("v", "uid", "type", "nsp", "data")}
    wire["type"] = int(message["type"])
    for key in ("rid", "dst"):
        if key in message:
            wire[key] = int(message[key]) if key == "rid" else message[key]
    try:
        payload: bytes = msgpack.packb(wire, use_bin_type=True, unicode_errors="surrogatepass")
    except (TypeError, ValueError, OverflowError) as exc:
        raise BusMessageError(f"cannot encode: {exc}") from exc
    topic = topic_for(message)
    if len(payload) > max_payload or len(topic) > max_payload:
        size = max(len(topic), len(payload))
        raise BusMessageError(f"frame of {size} bytes exceeds {max_payload}")
    return [topic, payload]


def own_prefix(uid: str) -> bytes:
    """What every payload :func:`encode` makes for a message of ``uid`` holds after its first
    byte (the map's header: at most 7 keys, one byte): ``v`` and ``uid`` come first, in that
    order. A node tells its own messages from the payload's bytes with it, without decoding
    them (``payload.startswith(prefix, 1)``)."""
    return b"".join(
        msgpack.packb(value, use_bin_type=True, unicode_errors="surrogatepass")
        for value in ("v", VERSION, "uid", uid)
    )


def decode(frames: Sequence[bytes], *, max_payload: int = MAX_PAYLOAD) -> Message:
    """The message in frames received from a SUB socket.

    Raises:
        BusMessageError: not two frames (or three, the last a stamp), a payload over
            ``max_payload`` bytes, bytes that are not one msgpack map, a map that breaks the
            schema, or a topic that is not the one the payload belongs on.
    """
    if not isinstance(frames, (list, tuple)) or len(frames) not in (2, 3):
        count = len(frames) if isinstance(frames, (list, tuple)) else "?"
        raise BusMessageError(f"a message is 2 or 3 frames, not {count}")
    if len(frames) == 3 and not (isinstance(frames[2], bytes)
                                 and len(frames[2]) == STAMP_SIZE):
        raise BusMessageError(f"a stamp frame is {STAMP_SIZE} bytes")
    topic, payload = frames[0], frames[1]
    if not isinstance(topic, bytes) or not isinstance(payload, bytes):
        raise BusMessageError("frames must be bytes")
    check_topic(topic)
    if len(payload) > max_payload or len(topic) > max_payload:
        size = max(len(topic), len(payload))
        raise BusMessageError(f"frame of {size} bytes exceeds {max_payload}")
    try:
        message = msgpack.unpackb(
            payload, raw=False, use_list=True, strict_map_key=True, ext_hook=_refuse_ext,
            unicode_errors="surrogatepass",
        )
    except BusMessageError:
        raise
    except Exception as exc:  # msgpack raises a zoo: ExtraData, StackError, ValueError, ...
        raise BusMessageError(f"not a msgpack value: {type(exc).__name__}: {exc}") from exc
    if not isinstance(message, dict):
        raise BusMessageError(f"a message is a map, not {type(message).__name__}")
    _check_decoded(message.get("data"))
    message = validate(message)
    expected = topic_for(message)
    if topic != expected:
        raise BusMessageError(f"topic {topic!r} does not match the message ({expected!r})")
    return message
