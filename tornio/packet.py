"""gevent-socketio's ``socketio.packet``: Socket.IO 0.9 packets as dicts, and back.

``encode(packet)`` and ``decode(text)`` are tornio's 0.9 codec
(:mod:`tornio.protocol.legacy`) under gevent-socketio's names and signatures: packet dicts
keyed ``type``, ``endpoint``, ``id``, ``ack``, ``data``, ``name``, ``args``, ``ackId``,
``reason``, ``advice``, ``qs``. Their JSON is gevent-socketio's default (compact, a
``Decimal`` written as a float) unless ``json_dumps``/``json_loads`` is given.

The wire format is node's 0.9 server's, which the 0.9 client was written against, where
gevent-socketio's differed: an error packet is ``7::<endpoint>:<reason>+<advice>`` (not
``7:::<reason>+<advice><endpoint>``). A packet that does not decode raises
:class:`~tornio.exceptions.InvalidPacket`, with the endpoint when it could be read.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any

from tornio.exceptions import InvalidPacket
from tornio.protocol import legacy
from tornio.protocol.jsoncodec import JsonCodec, decimal_default

__all__ = [
    "ADVICES_VALUES",
    "ERROR_ADVICES",
    "ERROR_REASONS",
    "MSG_TYPES",
    "MSG_VALUES",
    "REASONS_VALUES",
    "decode",
    "default_json_dumps",
    "default_json_loads",
    "encode",
    "socketio_packet_attributes",
]

#: Packet type name → its number on the wire.
MSG_TYPES: dict[str, int] = {name: index for index, name in enumerate(legacy.PACKET_TYPES)}
MSG_VALUES: dict[int, str] = dict(enumerate(legacy.PACKET_TYPES))
ERROR_REASONS: dict[str, int] = {name: index for index, name in enumerate(legacy.ERROR_REASONS)}
REASONS_VALUES: dict[int, str] = dict(enumerate(legacy.ERROR_REASONS))
ERROR_ADVICES: dict[str, int] = {name: index for index, name in enumerate(legacy.ERROR_ADVICES)}
ADVICES_VALUES: dict[int, str] = dict(enumerate(legacy.ERROR_ADVICES))
socketio_packet_attributes = ["type", "name", "data", "endpoint", "args", "ackId", "reason",
                              "advice", "qs", "id"]

_DEFAULT = JsonCodec(default=decimal_default)


def default_json_dumps(data: Any) -> str:
    """gevent-socketio's default JSON writer: compact, ASCII, a ``Decimal`` as a float."""
    return _DEFAULT.dumps_legacy(data)


def default_json_loads(data: str) -> Any:
    """gevent-socketio's default JSON reader (as strict as ``JSON.parse``)."""
    return legacy.loads(data)


def _codec(
    dumps: Callable[[Any], str] | None, loads: Callable[[str], Any] | None
) -> JsonCodec:
    if dumps is None and loads is None:
        return _DEFAULT
    write = dumps or default_json_dumps

    def module_dumps(value: Any, **options: Any) -> str:
        return write(value)

    return JsonCodec(module=types.SimpleNamespace(dumps=module_dumps,
                                                  loads=loads or default_json_loads))


def encode(data: Mapping[str, Any], json_dumps: Callable[[Any], str] | None = None) -> str:
    """A packet dict as its 0.9 wire text.

    Raises:
        ValueError, TypeError: see :func:`tornio.protocol.legacy.encode_packet`.
    """
    return legacy.encode_packet(data, _codec(json_dumps, None))


_TYPE_DIGITS = frozenset(str(number) for number in MSG_VALUES)


def decode(rawstr: str, json_loads: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """A 0.9 packet's wire text as a packet dict.

    Raises:
        tornio.exceptions.InvalidPacket: it is not a packet; for a type number that is not
            one, with gevent-socketio's message, ``Unknown message type: 99``.
    """
    digits = rawstr.partition(":")[0]
    if digits.isascii() and digits.isdigit() and digits not in _TYPE_DIGITS:
        raise InvalidPacket(f"Unknown message type: {digits[:20]}")
    return dict(legacy.decode_packet(rawstr, None if json_loads is None else
                                     _codec(None, json_loads)))
