"""The namespaces the real-client tests talk to (``tests/test_clients_*.py``): ``/test`` and
``/other``, recording what the server saw in a :class:`Record`.

* ``recv_connect`` refuses auth token ``"bad"`` with ``ConnectionRefused`` (message and data)
  and token ``"none"`` by returning False;
* ``echo`` acks its arguments; ``whoami`` acks who the server thinks the client is;
* ``ask`` emits ``question`` asking the client for an ack, whose arguments are recorded and
  sent back as ``answered``;
* ``binary`` records its argument, emits ``binary_back`` with binary in it, and acks with
  binary;
* ``join`` joins a room (acks the rooms); ``shout`` emits ``shouted`` to a room (not the
  sender).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tornio import BaseNamespace, RoomsMixin
from tornio.exceptions import ConnectionRefused

__all__ = ["ProbeNamespace", "Record", "namespaces"]


@dataclass
class Record:
    """What the server saw (written on the server's loop only)."""

    connected: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    answers: list[tuple[Any, ...]] = field(default_factory=list)
    received_binary: list[Any] = field(default_factory=list)
    disconnected: list[tuple[str, str]] = field(default_factory=list)


class ProbeNamespace(BaseNamespace, RoomsMixin):
    record: Record

    def recv_connect(self) -> Any:
        token = self.auth.get("token")
        if token == "bad":
            raise ConnectionRefused("not authorized", {"reason": "bad token", "code": 401})
        if token == "none":
            return False
        self.record.connected.append((self.ns_name, self.sid, dict(self.auth)))
        return None

    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args

    def on_whoami(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "nsp": self.ns_name,
            "auth": self.auth,
            "protocol": self.socket.protocol,
            "engine_sid": getattr(self.socket.engine, "sid", None),
        }

    def on_ask(self, question: str) -> str:
        def answered(*args: Any) -> None:
            self.record.answers.append(args)
            self.emit("answered", *args)

        self.emit("question", question, callback=answered)
        return "asked"

    def on_binary(self, data: Any) -> dict[str, Any]:
        self.record.received_binary.append(data)
        self.emit("binary_back", {"got": data, "extra": [b"\x00\xff"]}, b"top-level")
        return {"echo": data, "made": bytes(range(5))}

    def on_join(self, room: str) -> list[str]:
        self.join(room)
        return sorted(self.rooms)

    def on_shout(self, room: str, text: str) -> bool:
        self.emit_to_room(room, "shouted", self.sid, text)
        return True

    def recv_disconnect(self) -> None:
        self.record.disconnected.append((self.ns_name, self.sid))
        self.disconnect(silent=True)


def namespaces(record: Record) -> dict[str, type[BaseNamespace]]:
    """``/test`` and ``/other``, both recording into ``record``."""
    return {
        "/test": type("TestNamespace", (ProbeNamespace,), {"record": record}),
        "/other": type("OtherNamespace", (ProbeNamespace,), {"record": record}),
    }
