"""``tests/js/lifecycle_client.mjs`` (socket.io-client 4.x under Node) driven from an async
test whose server runs on the test's own loop: :class:`NodeClient` blocks, so every wait runs
in a thread and the loop keeps serving the client meanwhile.

    async with LifecycleDriver(server.base, {"transports": ["websocket"]}) as node:
        sid = await node.open("a", "/life")
        await node.emit("a", "echo", 1)            # the ack's arguments
        await node.step("disconnect", sock="a")    # a line the client printed
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from tests.support.node_client import JS_DIR, NodeClient, node_modules_ready

__all__ = ["LifecycleDriver"]

DRIVER = JS_DIR / "lifecycle_client.mjs"


class LifecycleDriver:
    """One run of the driver (see the module docstring)."""

    def __init__(self, base: str, options: dict[str, Any] | None = None) -> None:
        missing = node_modules_ready()
        assert missing is None, missing
        self.client = NodeClient(base, "commands", options, timeout=10, driver=DRIVER)
        self._refs = 0

    async def step(self, name: str, **match: Any) -> dict[str, Any]:
        """The next line ``{"step": name, **match}`` (see :meth:`NodeClient.step`)."""
        return await asyncio.to_thread(self.client.step, name, **match)

    def send(self, cmd: str, **fields: Any) -> None:
        self.client.send({"cmd": cmd, **fields})

    async def open(self, sock: str, nsp: str, manager: str = "m") -> str:
        """Connect ``nsp`` as socket ``sock`` on Manager ``manager``; returns its id."""
        self.send("open", sock=sock, nsp=nsp, manager=manager)
        return str((await self.step("connected", sock=sock))["id"])

    async def refused(
        self, sock: str, nsp: str, manager: str = "m", **fields: Any
    ) -> dict[str, Any]:
        """Connect ``nsp`` expecting a ``connect_error``; returns its ``message`` and
        ``data`` (an AssertionError if it connects)."""
        self.send("open", sock=sock, nsp=nsp, manager=manager, refusable=True, **fields)
        line = await self.step("refused", sock=sock)
        return {"message": line["message"], "data": line["data"]}

    async def emit(self, sock: str, event: str, *args: Any) -> list[Any]:
        """Emit with an ack; returns the ack's arguments."""
        self._refs += 1
        ref = f"{event}-{self._refs}"
        self.send("emit", sock=sock, event=event, args=list(args), ack=True, ref=ref)
        return list((await self.step("ack", ref=ref))["args"])

    async def emit_waiting(self, sock: str, event: str, *args: Any, wait: int) -> list[Any] | None:
        """Emit asking for an ack, waiting ``wait`` ms for it: its arguments, or None if
        none came in that time."""
        self._refs += 1
        ref = f"{event}-{self._refs}"
        self.send("emit", sock=sock, event=event, args=list(args), ack=True, ref=ref,
                  timeout=wait)
        line = await self.step("answer", ref=ref)
        return list(line["args"]) if line["acked"] else None

    async def engine(self, action: str, manager: str = "m", **fields: Any) -> None:
        self.send("engine", action=action, manager=manager, **fields)
        await self.step("engine_done", manager=manager, action=action)

    async def quit(self) -> None:
        self.send("quit")
        await asyncio.to_thread(self.client.wait)

    async def __aenter__(self) -> LifecycleDriver:
        await self.step("ready")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.client.__exit__(exc_type, exc, tb)
