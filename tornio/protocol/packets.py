"""``Packet``: one Socket.IO packet as the application layer sees it, whichever generation
carried it.

The 0.9 codec reads and writes it (:func:`tornio.protocol.legacy.decode`,
:func:`~tornio.protocol.legacy.encode`); the v5 socket makes it from the Socket.IO packet its
codec decoded (:meth:`~tornio.modern.socket.ModernSocket.handle_sio`), whose attachments and
``CONNECT`` data are the v5 wire's own. The socket and its namespaces
dispatch it (names checked, rate counted, monitored, handed to the handler), and what a
namespace sends goes back to the socket's encoder as a :class:`Packet` too. Binary
attachments are already back in place: ``bytes`` values inside ``args``.

Only a handler that asks for it gets gevent-socketio's packet dict (:meth:`Packet.as_dict`):
a method taking ``packet``, an application's ``process_packet``/``process_event``. It is made
once per packet, and a packet made from a dict (:meth:`Packet.from_dict`, an application's
``process_packet(dict)`` or ``send_packet(dict)``) hands that same dict back.

Fields by kind (``endpoint``: ``''`` for the global namespace, v5's ``/``):

========== ==========================================================================
kind       fields
========== ==========================================================================
connect    ``qs`` (a 0.9 client's query string, if any)
disconnect (none)
event      ``name``, ``args``; ``id`` and ``ack`` when the client asks for an ack
ack        ``id`` (the ack id answered), ``args``
error      ``reason``, ``advice`` (0.9); ``data`` (v5's CONNECT_ERROR message)
message    ``data`` (a 0.9 ``send()`` string); ``id``, ``ack`` as for events
json       ``data`` (any JSON value); ``id``, ``ack`` as for events
heartbeat  (none; 0.9 only, never dispatched to a namespace)
noop       (none; 0.9 only)
========== ==========================================================================

``ack`` is ``"data"`` when the handler's return value answers (an event's callback), ``True``
for a 0.9 automatic ack (the socket answers before dispatch), None when no ack is asked (an
``id`` without ``ack``, from an application's dict, is a 0.9 automatic ack on the wire).
Sans-I/O: no socket, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["KINDS", "Packet"]

#: Every packet kind; a 0.9 ``heartbeat`` and ``noop`` never reach a namespace.
KINDS: Final = frozenset(
    {"connect", "disconnect", "event", "ack", "error", "message", "json", "heartbeat", "noop"}
)

#: The fields, in the constructor's order.
_FIELDS = ("kind", "endpoint", "name", "args", "id", "ack", "data", "reason", "advice", "qs")


class Packet:
    """One packet (see the module docstring for its fields by kind)."""

    __slots__ = ("_dict", "ack", "advice", "args", "data", "endpoint", "id", "kind", "name", "qs",
                 "reason")

    kind: str
    endpoint: str
    name: str | None
    args: list[Any]
    id: int | None
    ack: bool | str | None
    data: Any
    reason: str | None
    advice: str | None
    qs: str | None
    _dict: dict[str, Any] | None

    def __init__(
        self,
        kind: str,
        endpoint: str = "",
        name: str | None = None,
        args: list[Any] | None = None,
        id: int | None = None,
        ack: bool | str | None = None,
        data: Any = None,
        reason: str | None = None,
        advice: str | None = None,
        qs: str | None = None,
    ) -> None:
        self.kind = kind
        self.endpoint = endpoint
        self.name = name
        self.args = [] if args is None else args
        self.id = id
        self.ack = ack
        self.data = data
        self.reason = reason
        self.advice = advice
        self.qs = qs
        self._dict = None

    @classmethod
    def event(
        cls, endpoint: str, name: str, args: list[Any], id: int | None = None
    ) -> Packet:
        """An event; with ``id`` it asks for the handler's answer (a data ack)."""
        return cls("event", endpoint, name, args, id, None if id is None else "data")

    @classmethod
    def answer(cls, endpoint: str, ack_id: int, args: list[Any]) -> Packet:
        """The ack of packet ``ack_id``, carrying ``args``."""
        return cls("ack", endpoint, None, args, ack_id)

    @property
    def wants_answer(self) -> bool:
        """The client asked for the handler's return value as an ack."""
        return self.ack == "data" and self.id is not None

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{slot}={getattr(self, slot)!r}"
            for slot in _FIELDS[1:]
            if getattr(self, slot) not in (None, [])
        )
        return f"Packet({self.kind!r}, {fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Packet):
            return NotImplemented
        return all(getattr(self, slot) == getattr(other, slot) for slot in _FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dicts it replaces

    # -- gevent-socketio's packet dict ----------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """gevent-socketio's packet dict (the keys 0.9's decoder writes): made on first use,
        the same dict afterwards, so that what a handler changes in it stays."""
        made = self._dict
        if made is None:
            made = self._dict = self._make_dict()
        return made

    def _make_dict(self) -> dict[str, Any]:
        kind = self.kind
        made: dict[str, Any] = {"type": kind, "endpoint": self.endpoint}
        if kind == "ack":
            made["ackId"] = self.id
            made["args"] = self.args
            return made
        if self.id is not None:
            made["id"] = self.id
        if self.ack is not None:
            made["ack"] = self.ack
        if kind == "event":
            made["name"] = self.name
            made["args"] = self.args
        elif kind in ("message", "json"):
            made["data"] = self.data
        elif kind == "error":
            made["reason"] = self.reason or ""
            made["advice"] = self.advice or ""
            if self.data is not None:
                made["data"] = self.data
        elif kind == "connect" and self.qs is not None:
            made["qs"] = self.qs
        return made

    @classmethod
    def from_dict(cls, packet: Mapping[str, Any]) -> Packet:
        """The packet a gevent-socketio packet dict describes (an application's, or 0.9's
        decoder's); :meth:`as_dict` gives that dict back when it is a ``dict``.

        Raises:
            ValueError: no known ``type``, or an event without a ``name``.
        """
        kind = packet.get("type")
        if kind == "event":  # the usual one first, its keys read without a call each
            name = packet["name"] if "name" in packet else None  # noqa: SIM401
            if name is None:
                raise ValueError("event packet without a name")
            args = packet["args"] if "args" in packet else None  # noqa: SIM401
            made = cls(kind, ("endpoint" in packet and packet["endpoint"]) or "", name,
                       [] if args is None else args if type(args) is list else list(args),
                       packet["id"] if "id" in packet else None,  # noqa: SIM401
                       packet["ack"] if "ack" in packet else None)  # noqa: SIM401
        elif kind in KINDS:
            args = packet.get("args")
            made = cls(
                kind,
                packet.get("endpoint") or "",
                packet.get("name"),
                [] if args is None else args if type(args) is list else list(args),
                packet.get("ackId") if kind == "ack" else packet.get("id"),
                packet.get("ack"),
                packet.get("data"),
                packet.get("reason"),
                packet.get("advice"),
                packet.get("qs"),
            )
        else:
            raise ValueError(f"unknown packet type {kind!r}")
        if type(packet) is dict:
            made._dict = packet
        return made
