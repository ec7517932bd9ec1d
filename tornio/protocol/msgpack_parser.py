"""The socket.io-msgpack-parser wire format, sans-I/O.

Clients built with ``socket.io-msgpack-parser`` send each Socket.IO packet as one msgpack map
``{type, nsp, data?, id?}`` in one Engine.IO binary message. There are no BINARY_* packets:
binary values are msgpack values. Encoders are notepack.io, whose extensions a decoder must
read (a generic msgpack library cannot tell them apart, since it hands ext values over without
their format byte, so :func:`decode` is a small msgpack reader of its own):

=======================  ==================  ==============================================
notepack writes          for JavaScript's    :func:`decode` gives
=======================  ==================  ==============================================
``bin`` (c4/c5/c6)       ``Buffer``          ``bytes``
ext 8/16/32, type 0      ``ArrayBuffer``     ``bytes``
ext 8/16/32, type 1      ``BigInt``          ``int``
fixext 1, type 0         ``undefined``       absent: the key is dropped from maps, ``None``
                                             in arrays (as ``JSON.stringify`` does)
fixext 8, type 0         ``Date``            ``int``: milliseconds since the Unix epoch
                                             (the Date's ``getTime()``), so that the value
                                             stays JSON-serialisable for other clients
=======================  ==================  ==============================================

Any other extension, a map key that is not a string, a NaN or infinite float, trailing bytes,
nesting deeper than 256 levels or a truncated value raise
:class:`~tornio.exceptions.InvalidPacket`, as do packets failing the checks of the default
parser (:mod:`tornio.protocol.socketio`): ``type`` an integer 0–4, ``nsp`` a string, ``id``
absent or a non-negative integer, ``data`` shaped for the type. Keys other than these four
(socket.io-client adds ``options``) are ignored. A ``nil`` CONNECT ``data`` counts as absent.

:func:`encode` writes ``bytes`` (and ``bytearray``/``memoryview``) as msgpack ``bin``, which
notepack reads as a ``Buffer``/``ArrayBuffer``.

No I/O, no clock, no Tornado.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any

import msgpack  # type: ignore[import-untyped]

from tornio.exceptions import InvalidPacket
from tornio.protocol.jsoncodec import JsonCodec
from tornio.protocol.socketio import Packet, PacketType, check_data

__all__ = ["decode", "encode"]

_pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack


def encode(packet: Packet, json: JsonCodec | None = None) -> bytes:
    """Encode ``packet`` as one msgpack map ``{type, nsp[, data][, id]}``.

    BINARY_EVENT and BINARY_ACK are written as EVENT and ACK (binary values need no
    attachments here); ``data`` and ``id`` are left out when ``None``. ``json``: the
    application's JSON (:mod:`tornio.protocol.jsoncodec`) converts what msgpack has no
    type for.

    Raises:
        TypeError: data msgpack cannot represent.
        ValueError: data nested too deeply or circular, or an integer out of msgpack's range.
    """
    ptype = packet.type
    if ptype == PacketType.BINARY_EVENT:
        ptype = PacketType.EVENT
    elif ptype == PacketType.BINARY_ACK:
        ptype = PacketType.ACK
    obj: dict[str, Any] = {"type": int(ptype), "nsp": packet.nsp}
    if packet.data is not None:
        obj["data"] = packet.data
    if packet.id is not None:
        obj["id"] = packet.id
    try:
        return _pack(obj) if json is None else json.pack(obj)
    except OverflowError as exc:
        raise ValueError(str(exc)) from None


# --- decoding ----------------------------------------------------------------------------------


class _Undefined:
    """JavaScript's ``undefined`` while a map or array is being read."""

    __slots__ = ()


_UNDEFINED = _Undefined()
_MAX_DEPTH = 256
_fullmatch_bigint = re.compile(r"-?[0-9]{1,1000}").fullmatch

_U8 = struct.Struct(">B").unpack_from
_U16 = struct.Struct(">H").unpack_from
_U32 = struct.Struct(">I").unpack_from
_U64 = struct.Struct(">Q").unpack_from
_I8 = struct.Struct(">b").unpack_from
_I16 = struct.Struct(">h").unpack_from
_I32 = struct.Struct(">i").unpack_from
_I64 = struct.Struct(">q").unpack_from
_F32 = struct.Struct(">f").unpack_from
_F64 = struct.Struct(">d").unpack_from
_DATE = struct.Struct(">iI").unpack_from


class _Error(InvalidPacket):
    """Raised inside the reader; turned into InvalidPacket by decode()."""


def _take(buf: bytes, pos: int, length: int) -> tuple[bytes, int]:
    end = pos + length
    if end > len(buf):
        raise _Error(f"truncated: {length} bytes needed at byte {pos}")
    return buf[pos:end], end


def _str(buf: bytes, pos: int, length: int) -> tuple[str, int]:
    raw, end = _take(buf, pos, length)
    try:
        return raw.decode("utf-8"), end
    except UnicodeDecodeError:
        raise _Error(f"string at byte {pos} is not UTF-8") from None


def _float(value: float, pos: int) -> float:
    if math.isfinite(value):
        return value
    raise _Error(f"non-finite float at byte {pos}")


def _array(buf: bytes, pos: int, length: int, depth: int) -> tuple[list[Any], int]:
    if depth >= _MAX_DEPTH:
        raise _Error("nested too deeply")
    if length > len(buf) - pos:  # every element takes at least one byte
        raise _Error(f"truncated array at byte {pos}")
    items: list[Any] = []
    append = items.append
    for _ in range(length):
        value, pos = _read(buf, pos, depth + 1)
        append(None if value is _UNDEFINED else value)
    return items, pos


def _map(buf: bytes, pos: int, length: int, depth: int) -> tuple[dict[str, Any], int]:
    if depth >= _MAX_DEPTH:
        raise _Error("nested too deeply")
    if 2 * length > len(buf) - pos:
        raise _Error(f"truncated map at byte {pos}")
    obj: dict[str, Any] = {}
    for _ in range(length):
        key_pos = pos
        key, pos = _read(buf, pos, depth + 1)
        if type(key) is not str:
            raise _Error(f"map key at byte {key_pos} is not a string")
        value, pos = _read(buf, pos, depth + 1)
        if value is _UNDEFINED:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj, pos


def _ext(buf: bytes, pos: int, length: int, ext_type: int) -> tuple[Any, int]:
    """An ext 8/16/32 value of ``length`` bytes at ``pos``."""
    data, end = _take(buf, pos, length)
    if ext_type == 0:  # ArrayBuffer
        return data, end
    if ext_type == 1:  # BigInt, as its decimal string
        text = data.decode("ascii", "replace")
        if _fullmatch_bigint(text) is None:
            raise _Error(f"invalid BigInt at byte {pos}")
        return int(text), end
    raise _Error(f"unsupported ext type {ext_type} at byte {pos}")


def _read(buf: bytes, pos: int, depth: int) -> tuple[Any, int]:
    """Read the value starting at ``pos``; return it and the position after it."""
    try:
        b = buf[pos]
    except IndexError:
        raise _Error(f"truncated at byte {pos}") from None
    pos += 1
    if b < 0x80:  # positive fixint
        return b, pos
    if b >= 0xE0:  # negative fixint
        return b - 0x100, pos
    if b < 0x90:
        return _map(buf, pos, b & 0x0F, depth)
    if b < 0xA0:
        return _array(buf, pos, b & 0x0F, depth)
    if b < 0xC0:
        return _str(buf, pos, b & 0x1F)
    if b == 0xC0:
        return None, pos
    if b == 0xC2:
        return False, pos
    if b == 0xC3:
        return True, pos
    if b == 0xC4:
        return _take(buf, pos + 1, _U8(buf, pos)[0])
    if b == 0xC5:
        return _take(buf, pos + 2, _U16(buf, pos)[0])
    if b == 0xC6:
        return _take(buf, pos + 4, _U32(buf, pos)[0])
    if b == 0xC7:
        return _ext(buf, pos + 2, _U8(buf, pos)[0], _I8(buf, pos + 1)[0])
    if b == 0xC8:
        return _ext(buf, pos + 3, _U16(buf, pos)[0], _I8(buf, pos + 2)[0])
    if b == 0xC9:
        return _ext(buf, pos + 5, _U32(buf, pos)[0], _I8(buf, pos + 4)[0])
    if b == 0xCA:
        return _float(_F32(buf, pos)[0], pos), pos + 4
    if b == 0xCB:
        return _float(_F64(buf, pos)[0], pos), pos + 8
    if b == 0xCC:
        return _U8(buf, pos)[0], pos + 1
    if b == 0xCD:
        return _U16(buf, pos)[0], pos + 2
    if b == 0xCE:
        return _U32(buf, pos)[0], pos + 4
    if b == 0xCF:
        return _U64(buf, pos)[0], pos + 8
    if b == 0xD0:
        return _I8(buf, pos)[0], pos + 1
    if b == 0xD1:
        return _I16(buf, pos)[0], pos + 2
    if b == 0xD2:
        return _I32(buf, pos)[0], pos + 4
    if b == 0xD3:
        return _I64(buf, pos)[0], pos + 8
    if b == 0xD4:  # fixext 1: type 0 is undefined
        if _I8(buf, pos)[0] == 0:
            _take(buf, pos + 1, 1)
            return _UNDEFINED, pos + 2
    elif b == 0xD7:  # fixext 8: type 0 is a Date, ms since the epoch as int32 hi, uint32 lo
        if _I8(buf, pos)[0] == 0:
            hi, lo = _DATE(buf, pos + 1)
            return hi * 0x100000000 + lo, pos + 9
    elif b == 0xD9:
        return _str(buf, pos + 1, _U8(buf, pos)[0])
    elif b == 0xDA:
        return _str(buf, pos + 2, _U16(buf, pos)[0])
    elif b == 0xDB:
        return _str(buf, pos + 4, _U32(buf, pos)[0])
    elif b == 0xDC:
        return _array(buf, pos + 2, _U16(buf, pos)[0], depth)
    elif b == 0xDD:
        return _array(buf, pos + 4, _U32(buf, pos)[0], depth)
    elif b == 0xDE:
        return _map(buf, pos + 2, _U16(buf, pos)[0], depth)
    elif b == 0xDF:
        return _map(buf, pos + 4, _U32(buf, pos)[0], depth)
    raise _Error(f"unsupported msgpack format 0x{b:02x} at byte {pos - 1}")


_PACKET_TYPES: dict[int, PacketType] = {t.value: t for t in PacketType if t.value <= 4}


def decode(raw: bytes | bytearray | memoryview) -> Packet:
    """Decode one msgpack-parser message into a packet.

    Raises:
        InvalidPacket: the bytes are not one msgpack map, use an unsupported format or
            extension, or do not make a valid packet (see the module docstring).
    """
    buf = raw if type(raw) is bytes else bytes(raw)
    try:
        obj, end = _read(buf, 0, 0)
    except _Error as exc:
        raise InvalidPacket(f"invalid msgpack: {exc}") from None
    except struct.error:
        raise InvalidPacket("invalid msgpack: truncated") from None
    except RecursionError:
        raise InvalidPacket("invalid msgpack: nested too deeply") from None
    if end != len(buf):
        raise InvalidPacket(f"invalid msgpack: {len(buf) - end} trailing bytes")
    if type(obj) is not dict:
        raise InvalidPacket("a msgpack packet must be a map")
    ptype = obj.get("type")
    packet_type = _PACKET_TYPES.get(ptype) if type(ptype) is int else None
    if packet_type is None:
        raise InvalidPacket(f"invalid packet type {ptype!r}")
    nsp = obj.get("nsp")
    if type(nsp) is not str:
        raise InvalidPacket(f"invalid namespace {nsp!r}")
    msg_id = obj.get("id")
    if msg_id is not None and (type(msg_id) is not int or msg_id < 0):
        raise InvalidPacket(f"invalid ack id {msg_id!r}", nsp)
    if "id" in obj and msg_id is None:
        raise InvalidPacket("invalid ack id None", nsp)
    present = "data" in obj
    data = obj.get("data")
    if packet_type == PacketType.CONNECT and data is None:
        present = False
    check_data(packet_type, data, present, 5, nsp)
    return Packet(packet_type, nsp, data, msg_id)
