"""0.9 sockets on a real ``SocketManager`` in memory, on the test's event loop: a transport
connection that records the encoded packets written to the client (:class:`PacketSink`), and a
:class:`Client` that feeds encoded packets in with ``socket.receive_packet``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tornio.legacy.socket import LegacySocket
from tornio.manager import SocketManager
from tornio.protocol.legacy import decode_packet

__all__ = ["Client", "PacketSink", "error_names", "events"]


class PacketSink:
    """A transport connection (websocket-like unless ``polling``) recording what it gets."""

    def __init__(self, polling: bool = False) -> None:
        self.transport = "xhr-polling" if polling else "websocket"
        self.polling = polling
        self.packets: list[str] = []
        self.closed = False
        self._changed = asyncio.Event()

    def write(self, packets: list[str]) -> None:
        self.packets.extend(packets)
        self._changed.set()

    def close(self) -> None:
        self.closed = True
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        async def until() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)


class Client:
    """One socket on a manager, attached to a fake persistent sink."""

    def __init__(self, manager: SocketManager, *endpoints: str) -> None:
        self.manager = manager
        self.socket: LegacySocket = manager.create_socket()
        self.sink = PacketSink()
        self.socket.attach(self.sink, None)
        assert self.take() == ["1::"]
        for endpoint in endpoints:
            self.send(f"1::{endpoint}")
            assert self.take()[0] == f"1::{endpoint}"

    @property
    def sid(self) -> str:
        return self.socket.sessid

    def send(self, wire: str) -> None:
        self.socket.receive_packet(wire)

    def take(self) -> list[str]:
        """The packets written since the last take."""
        packets, self.sink.packets = self.sink.packets, []
        return packets

    def events(self) -> list[tuple[str, str, list[Any]]]:
        """(endpoint, name, args) of the events written since the last take."""
        return events(self.take())

    def ns(self, endpoint: str) -> Any:
        return self.socket[endpoint]


def events(packets: list[str]) -> list[tuple[str, str, list[Any]]]:
    decoded = [decode_packet(p) for p in packets]
    return [(p["endpoint"], p["name"], p["args"]) for p in decoded if p["type"] == "event"]


def error_names(packets: list[str]) -> list[tuple[str, str]]:
    """(endpoint, error name) of gevent-socketio's ``error`` events among ``packets``."""
    return [(ep, args[0]) for ep, name, args in events(packets) if name == "error"]
