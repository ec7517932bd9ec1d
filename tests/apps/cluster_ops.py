"""What ``tests/test_cluster_ops.py`` serves with ``tornio serve --workers 2``
(``tornio serve tests.apps.cluster_ops:router``): namespace ``/ops``, whose events run the
manager's cluster operations from a handler and answer with what came of them, ``/aux``, a
second namespace to ride on the same connection, and server-side event handlers.

Selections arrive as a dict of keyword arguments (``room``, ``to``, ``except_rooms``,
``local``; ``namespace`` for ``emit``), as the manager's methods take them.
"""

from __future__ import annotations

from typing import Any

from tornio import BaseNamespace, CallTimeout, RemoteSocket, RoomsMixin, Router

#: One-way server-side events this worker heard.
NOTES: list[list[Any]] = []


def describe(socket: RemoteSocket) -> dict[str, Any]:
    return {
        "id": socket.id,
        "rooms": sorted(socket.rooms),
        "handshake": socket.handshake,
        "data": socket.data,
    }


class OpsNamespace(BaseNamespace, RoomsMixin):
    @property
    def manager(self) -> Any:
        return self.socket.manager

    def on_whoami(self) -> dict[str, Any]:
        return {"sid": self.sid, "node": self.manager.node_id, "rooms": sorted(self.rooms)}

    def on_join(self, room: str) -> bool:
        self.join(room)
        return True

    def on_set(self, key: str, value: Any) -> bool:
        self.session[key] = value
        return True

    def on_emit(self, event: str, args: list[Any], selection: dict[str, Any]) -> bool:
        self.manager.emit(event, *args, **{"namespace": self.ns_name, **selection})
        return True

    async def on_fetch(self, selection: dict[str, Any]) -> list[dict[str, Any]]:
        found = await self.manager.fetch_sockets(self.ns_name, **selection)
        return sorted((describe(s) for s in found), key=lambda s: s["id"])

    async def on_remote(self, sid: str, op: str, *args: Any) -> Any:
        """Find socket ``sid`` with fetch_sockets, wherever it is, and run ``op`` on it."""
        found = await self.manager.fetch_sockets(self.ns_name, to=sid)
        if len(found) != 1:
            return {"found": len(found)}
        remote = found[0]
        if op == "call":
            try:
                return {"answer": await remote.call(*args, timeout=2)}
            except CallTimeout as exc:
                return {"timeout": str(exc)}
        getattr(remote, op)(*args)
        return {"done": op}

    def on_sockets_join(self, rooms: list[str], selection: dict[str, Any]) -> bool:
        self.manager.sockets_join(rooms, namespace=self.ns_name, **selection)
        return True

    def on_sockets_leave(self, rooms: list[str], selection: dict[str, Any]) -> bool:
        self.manager.sockets_leave(rooms, namespace=self.ns_name, **selection)
        return True

    def on_disconnect_sockets(self, close: bool, selection: dict[str, Any]) -> bool:
        self.manager.disconnect_sockets(close, namespace=self.ns_name, **selection)
        return True

    async def on_call(
        self, event: str, args: list[Any], selection: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        try:
            responses = await self.manager.call(
                event, *args, namespace=self.ns_name, timeout=timeout, **selection
            )
        except CallTimeout as exc:
            return {"timeout": True, "responses": exc.responses, "missing": exc.missing}
        return {"responses": responses}

    def on_server_side_emit(self, event: str, args: list[Any]) -> bool:
        self.manager.server_side_emit(event, *args)
        return True

    async def on_server_side_call(
        self, event: str, args: list[Any], timeout: float
    ) -> dict[str, Any]:
        try:
            return {"answers": await self.manager.server_side_call(event, *args, timeout=timeout)}
        except CallTimeout as exc:
            return {"timeout": True, "answers": exc.responses, "missing": exc.missing}


class AuxNamespace(BaseNamespace):
    def on_whoami(self) -> dict[str, Any]:
        return {"sid": self.sid, "node": self.socket.manager.node_id}


router = Router({"/ops": OpsNamespace, "/aux": AuxNamespace})


@router.on_server_side("where")
def where() -> str:
    return str(router.manager.node_id)


@router.on_server_side("note")
def note(*args: Any) -> None:
    NOTES.append(list(args))


@router.on_server_side("notes")
async def notes() -> list[list[Any]]:
    return list(NOTES)
