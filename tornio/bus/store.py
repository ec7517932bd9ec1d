"""Where connection state recovery's memory lives, and how a node reaches it.

* :class:`RecoveryStore`: a bus node holding a :class:`~tornio.bus.recovery.RecoveryLog`. It
  logs every emit of the cluster that carries an offset, keeps the recoverable sessions the
  workers report (RECOVERY_SESSION), answers RECOVERY_RESTORE, and counts a node's sessions
  as lost when the node leaves the table (killed, restarted) or when whoever runs the store
  says so (:meth:`RecoveryStore.node_lost`: ``tornio serve``'s supervisor knows at once).
  ``tornio serve`` runs one per host in a process of its own (``workers/store.py``), so the
  sessions of a worker outlive it.
* :class:`BusRecovery`: a worker's way to it (messages to the store named in the pid).
* :class:`LocalRecovery`: the same in one process (a :class:`~tornio.router.Router` without
  ``tornio serve``): recovery after a dropped transport, not after the process's death.
* :class:`NodeRecovery`: what a node (its socket manager) does for recovery, whichever the
  memory: the offsets of its emits, which of them it records itself, and the sessions it
  saves once a pass of the loop is over.

A private session id (``pid``) names the store that keeps the session, ``<store>~<random>``,
so a reconnect that reaches another host still finds it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from tornio.bus.base import Message
from tornio.bus.messages import MessageType
from tornio.bus.recovery import Offsets, RecoveryLog, stamp_emit

__all__ = [
    "BusRecovery",
    "LocalRecovery",
    "NodeRecovery",
    "Recovery",
    "RecoveryStore",
    "store_id",
]

log = logging.getLogger("tornio.bus.store")

#: How often a store forgets what has expired, in seconds.
PRUNE_INTERVAL = 1.0


def store_id(host_tag: str) -> str:
    """The node id of a host's recovery store."""
    return f"store-{host_tag}"


def new_pid(store: str) -> str:
    return f"{store}~{secrets.token_urlsafe(12)}"


def store_of(pid: str) -> str | None:
    store, sep, _ = pid.rpartition("~")
    return store if sep and store else None


class Recovery(Protocol):
    """What a socket manager needs of the recovery memory."""

    #: Whether the memory hears the emits the bus carries by itself (a store does): then a
    #: node records only what it does not publish.
    hears_the_bus: bool

    def new_pid(self) -> str: ...

    def seen(self, pid: str, sid: str, endpoint: str, rooms: Iterable[str],
             data: Mapping[str, Any]) -> None: ...

    def lost(self, pid: str, data: Mapping[str, Any]) -> None: ...

    def closed(self, pid: str) -> None: ...

    def record(self, offset: str, endpoint: str, data: Mapping[str, Any]) -> None:
        """An emit this node sent that the bus will not carry to the store."""
        ...

    async def restore(self, pid: str, offset: str) -> dict[str, Any] | None: ...


class LocalRecovery:
    """The recovery memory in this process."""

    hears_the_bus = False

    def __init__(self, max_disconnection_duration: float, node_id: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = RecoveryLog(max_disconnection_duration)
        self.node_id = node_id
        self.clock = clock

    def new_pid(self) -> str:
        return new_pid("local")

    def seen(self, pid: str, sid: str, endpoint: str, rooms: Iterable[str],
             data: Mapping[str, Any]) -> None:
        self.log.session_seen(pid, sid, endpoint, self.node_id, rooms, data)

    def lost(self, pid: str, data: Mapping[str, Any]) -> None:
        self.log.session_lost(pid, self.clock(), data)

    def closed(self, pid: str) -> None:
        self.log.session_closed(pid)

    def record(self, offset: str, endpoint: str, data: Mapping[str, Any]) -> None:
        self.log.record_emit(offset, endpoint, data, self.clock())

    async def restore(self, pid: str, offset: str) -> dict[str, Any] | None:
        return self.log.restore(pid, offset, self.clock())


class BusRecovery:
    """A node's way to the recovery stores of the cluster (this host's for new sessions)."""

    hears_the_bus = True

    def __init__(self, bus: Any, store: str, timeout: float = 2.0) -> None:
        self.bus = bus
        self.store = store
        self.timeout = timeout

    def new_pid(self) -> str:
        return new_pid(self.store)

    def _tell(self, pid: str, data: dict[str, Any]) -> None:
        store = store_of(pid)
        if store is None:
            return
        try:
            self.bus.send_node(store, MessageType.RECOVERY_SESSION, {"pid": pid, **data})
        except Exception as exc:  # a session that cannot be saved is simply not recovered
            log.warning("cannot tell the recovery store about %s: %s", pid, exc)

    def seen(self, pid: str, sid: str, endpoint: str, rooms: Iterable[str],
             data: Mapping[str, Any]) -> None:
        self._tell(pid, {"op": "seen", "sid": sid, "nsp": endpoint, "rooms": list(rooms),
                         "data": dict(data)})

    def lost(self, pid: str, data: Mapping[str, Any]) -> None:
        self._tell(pid, {"op": "lost", "data": dict(data)})

    def closed(self, pid: str) -> None:
        self._tell(pid, {"op": "closed"})

    def record(self, offset: str, endpoint: str, data: Mapping[str, Any]) -> None:
        try:
            self.bus.send_node(self.store, MessageType.EMIT, {**data, "offset": offset}, endpoint)
        except Exception as exc:
            log.warning("cannot log an emit for recovery: %s", exc)

    async def restore(self, pid: str, offset: str) -> dict[str, Any] | None:
        store = store_of(pid)
        if store is None:
            return None
        answer = await self.bus.request_node(
            store, MessageType.RECOVERY_RESTORE, {"pid": pid, "offset": offset},
            timeout=self.timeout,
        )
        if not isinstance(answer, dict) or not answer.get("found"):
            return None
        return answer


class RecoveryStore:
    """A bus node keeping the recovery memory of the nodes that report to it.

    Args:
        bus: a :class:`~tornio.bus.zmq.ZmqBus` made with ``all_rooms=True`` (every emit) and
            this store's id as its node id.
        max_disconnection_duration: seconds a lost session stays recoverable.
    """

    def __init__(self, bus: Any, max_disconnection_duration: float = 120.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bus = bus
        self.node_id: str = bus.node_id
        self.clock = clock
        self.log = RecoveryLog(max_disconnection_duration)
        self._pruner: asyncio.Task[None] | None = None
        bus.set_node_handler(MessageType.RECOVERY_RESTORE, self._answer)
        bus.on_node_lost.append(self.node_lost)
        bus.attach(self)

    async def run(self) -> None:
        """Prune what has expired, until cancelled."""
        while True:
            await asyncio.sleep(PRUNE_INTERVAL)
            self.log.prune(self.clock())

    def node_lost(self, node: str) -> None:
        count = self.log.node_lost(node, self.clock())
        if count:
            log.info("node %s is gone: %d recoverable session(s) lost", node, count)

    def deliver(self, message: Message) -> None:
        kind, data = message["type"], message["data"]
        if kind == MessageType.EMIT:
            offset = data.get("offset")
            if isinstance(offset, str):
                self.log.record_emit(offset, message["nsp"], data, self.clock())
        elif kind == MessageType.RECOVERY_SESSION:
            pid, op = data["pid"], data["op"]
            if op == "seen":
                rooms, values = data.get("rooms"), data.get("data")
                if isinstance(data.get("sid"), str) and isinstance(data.get("nsp"), str):
                    self.log.session_seen(
                        pid, data["sid"], data["nsp"], message["uid"],
                        rooms if isinstance(rooms, list) else [],
                        values if isinstance(values, dict) else {},
                    )
            elif op == "lost":
                values = data.get("data")
                self.log.session_lost(pid, self.clock(),
                                      values if isinstance(values, dict) else None)
            else:
                self.log.session_closed(pid)

    def _answer(self, kind: MessageType, endpoint: str, data: dict[str, Any]) -> dict[str, Any]:
        pid, offset = data.get("pid"), data.get("offset")
        restored = None
        if isinstance(pid, str) and isinstance(offset, str):
            restored = self.log.restore(pid, offset, self.clock())
        return {"found": restored is not None, **(restored or {})}


class RecoverableSocket(Protocol):
    """What :class:`NodeRecovery` needs of a socket: its recoverable namespaces (endpoint →
    pid) and a way to save one."""

    @property
    def pids(self) -> Mapping[str, str]: ...

    def save_recoverable(self, endpoint: str) -> None: ...


class NodeRecovery:
    """A node's side of connection state recovery (see the module docstring); its socket
    manager holds one while recovery is on. ``memory`` is where sessions and emits are kept:
    a :class:`LocalRecovery`, or a :class:`BusRecovery` under ``tornio serve``."""

    def __init__(self, memory: Recovery) -> None:
        self.memory = memory
        self.offsets = Offsets(secrets.token_urlsafe(6) + ".")
        self._unsaved: dict[tuple[int, str], tuple[RecoverableSocket, str]] = {}

    def stamp(self, data: dict[str, Any]) -> str:
        """Give an emit its offset (see :func:`~tornio.bus.recovery.stamp_emit`)."""
        offset = self.offsets.next()
        stamp_emit(data, offset)
        return offset

    def emitted(self, offset: str, endpoint: str, data: Mapping[str, Any],
                published: bool) -> None:
        """This node sent a stamped emit: the memory logs it unless the bus carries it to a
        store that does (``published``, and the memory hears the bus)."""
        if not (published and self.memory.hears_the_bus):
            self.memory.record(offset, endpoint, data)

    def heard(self, endpoint: str, data: Mapping[str, Any]) -> None:
        """An emit from another node: logged here unless the memory heard it too."""
        offset = data.get("offset")
        if not self.memory.hears_the_bus and isinstance(offset, str):
            self.memory.record(offset, endpoint, data)

    def own_emit(self, endpoint: str, sid: str, event: str, args: list[Any]) -> str:
        """A socket's own emit (``self.emit`` in a namespace): its offset, once the memory
        has it."""
        offset = self.offsets.next()
        self.memory.record(offset, endpoint, {"event": event, "args": args, "rooms": [sid],
                                              "to": None, "skip": []})
        return offset

    def save_soon(self, endpoint: str, socket: RecoverableSocket) -> None:
        """A recoverable connection's rooms or data changed: the memory learns them once
        this pass of the loop is over (a handler often changes several)."""
        if endpoint not in socket.pids:
            return
        if not self._unsaved:
            asyncio.get_running_loop().call_soon(self._save_all)
        self._unsaved[(id(socket), endpoint)] = (socket, endpoint)

    def _save_all(self) -> None:
        unsaved, self._unsaved = self._unsaved, {}
        for socket, endpoint in unsaved.values():
            socket.save_recoverable(endpoint)
