"""Flooding a server over raw websockets: :class:`Peer` joins ``/f`` as a Socket.IO v5 or
0.9 client, writes thousands of event frames at once, and asks for acks (the flood
namespaces: ``tests/test_fairness.py``, ``tests/apps/flood.py``)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.legacy_client import handshake
from tests.support.raw_websocket import RawWebSocket, client_frame
from tornio.protocol import websocket as ws

__all__ = ["Peer"]


class Peer:
    """A raw websocket client of either generation in the namespace ``/f``: it floods
    (``flood``: thousands of event frames in one write) and asks for acks (``ask``)."""

    def __init__(self, kind: str, client: RawWebSocket, sid: str) -> None:
        self.kind = kind
        self.client = client
        #: The session id (Engine.IO's, or the 0.9 handshake's): it names its worker.
        self.sid = sid

    @classmethod
    async def join(cls, kind: str, base: str, port: int) -> Peer:
        """A ``modern`` (Engine.IO v4) or ``legacy`` (0.9) client of the server at ``base``
        (``http://127.0.0.1:<port>``), in ``/f``."""
        if kind == "modern":
            client = await RawWebSocket.connect(port)
            opened = await client.recv_text()
            assert opened.startswith("0{"), opened
            sid = json.loads(opened[1:])["sid"]
            client.send_text("40/f,")
            assert (await client.recv_text()).startswith("40/f,{")
        else:
            sid = (await handshake(base))[0]
            client = await RawWebSocket.connect(port, path=f"/socket.io/1/websocket/{sid}")
            assert await client.recv_text() == "1::"
            client.send_text("1::/f")
            assert await client.recv_text() == "1::/f"
        return cls(kind, client, sid)

    def event(self, name: str, *args: Any, ack: int | None = None) -> bytes:
        if self.kind == "modern":
            text = f"42/f,{'' if ack is None else ack}{json.dumps([name, *args])}"
        else:
            text = (f"5:{'' if ack is None else f'{ack}+'}:/f:"
                    + json.dumps({"name": name, "args": list(args)}))
        return client_frame(ws.TEXT, text.encode(), mask=b"\x01\x02\x03\x04")

    async def ask(self, name: str, *args: Any) -> Any:
        """Emit ``name`` asking for an ack; its first argument (other messages skipped)."""
        self.client.send(self.event(name, *args, ack=7))
        prefix = "43/f,7" if self.kind == "modern" else "6::/f:7+"
        while True:
            text = await self.client.recv_text()
            if text.startswith(prefix):
                return json.loads(text[len(prefix) :])[0]

    async def ask_count(self) -> int:
        """How many flood events the server's handlers saw (the ``count`` event's ack)."""
        return int(await self.ask("count"))

    def flood(self, name: str, count: int, start: int = 0) -> None:
        """Events ``name`` with the arguments ``start`` to ``start + count - 1``, in one write."""
        self.client.send(b"".join(self.event(name, n) for n in range(start, start + count)))
