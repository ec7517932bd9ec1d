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
* :class:`SocketRecovery`: what a socket does for recovery (a modern socket holds one while
  recovery is on, as ``socket.recovering``): its namespace connections' private ids, what it
  saves of them, what it gets back on a CONNECT that asks, what it keeps when one ends for
  a reason the client did not choose (:data:`RECOVERABLE_REASONS`).

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

from tornio.bus import ids
from tornio.bus.base import Message
from tornio.bus.messages import MessageType, portable_session
from tornio.bus.recovery import Offsets, RecoveryLog, stamp_emit

__all__ = [
    "RECOVERABLE_REASONS",
    "BusRecovery",
    "LocalRecovery",
    "NodeRecovery",
    "RecoveringSocket",
    "Recovery",
    "RecoveryStore",
    "SocketRecovery",
    "store_id",
]

log = logging.getLogger("tornio.bus.store")

#: node's disconnect reasons after which a connection may be recovered.
RECOVERABLE_REASONS = frozenset(
    {"transport error", "transport close", "forced close", "ping timeout",
     "server shutting down", "forced server close"}
)

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


class RecoveryRooms(Protocol):
    """The room index, as a :class:`SocketRecovery` sees it."""

    def join(self, endpoint: str, room: str, member: Any) -> Any: ...


class RecoveringSocket(Protocol):
    """What a :class:`SocketRecovery` needs of its socket."""

    #: The socket's id (what its portable session names).
    sessid: str
    #: The application's dict, kept with each recoverable connection.
    session: dict[str, Any]
    #: Endpoint → the id of the client's connection there.
    sids: dict[str, str]
    @property
    def rooms(self) -> Mapping[str, set[str]]:
        """Endpoint → the rooms it joined there."""

    @property
    def closed(self) -> bool: ...

    @property
    def served_namespaces(self) -> Mapping[Any, Any]: ...


class SocketRecovery:
    """A socket's side of connection state recovery (see the module docstring): its socket
    holds one while recovery is on. ``node`` is its node's :class:`NodeRecovery` (whose
    ``memory`` it asks at each use: ``tornio serve`` moves it to the recovery store),
    ``node_id`` its node's tag, ``rooms`` the room index the recovered rooms are joined
    in."""

    __slots__ = ("node", "node_id", "pids", "recovered", "restoring", "rooms", "socket")

    def __init__(self, socket: RecoveringSocket, node: NodeRecovery, node_id: str,
                 rooms: RecoveryRooms) -> None:
        self.socket = socket
        self.node = node
        self.node_id = node_id
        self.rooms = rooms
        #: Endpoint → the private id of the recoverable connection there.
        self.pids: dict[str, str] = {}
        #: The endpoints whose connection was recovered.
        self.recovered: set[str] = set()
        #: The endpoints whose CONNECT waits for the memory's answer.
        self.restoring: set[str] = set()

    def accepted(self, endpoint: str) -> str:
        """The connection on ``endpoint`` was accepted: its private id (a new one, unless it
        was recovered), once the memory has what it has now."""
        pid = self.pids.get(endpoint)
        if pid is None:
            pid = self.pids[endpoint] = self.node.memory.new_pid()
        self.save_recoverable(endpoint)
        return pid

    def own_emit(self, endpoint: str, sid: str, event: str, args: list[Any]) -> str:
        """The socket's own emit (``self.emit`` in a namespace): its offset (see
        :meth:`NodeRecovery.own_emit`)."""
        return self.node.own_emit(endpoint, sid, event, args)

    def session_changed(self) -> None:
        """The socket's ``session`` changed: every recoverable connection is saved soon."""
        for endpoint in self.pids:
            self.node.save_soon(endpoint, self)

    def save_recoverable(self, endpoint: str) -> None:
        """Tell the memory what a recoverable connection has now (its rooms, its data)."""
        pid = self.pids.get(endpoint)
        if pid is not None and not self.socket.closed:
            self._save(self.node.memory, endpoint, pid)

    def _save(self, memory: Recovery, endpoint: str, pid: str) -> dict[str, Any]:
        socket = self.socket
        data = portable_session(socket.session, socket.sessid)
        sid = socket.sids.get(endpoint)
        if sid is not None:
            rooms = [room for room in socket.rooms.get(endpoint, ()) if room != sid]
            memory.seen(pid, sid, endpoint, rooms, data)
        return data

    def ending(self, endpoint: str, reason: str) -> None:
        """The connection on ``endpoint`` ends for ``reason`` (node's disconnect reason),
        before its hooks run: kept recoverable if the client did not choose it, else
        forgotten."""
        pid = self.pids.pop(endpoint, None)
        if pid is None:
            return
        memory = self.node.memory
        if reason in RECOVERABLE_REASONS:
            memory.lost(pid, self._save(memory, endpoint, pid))
        else:
            memory.closed(pid)

    async def restore(self, endpoint: str, pid: str, offset: str) -> list[list[Any]] | None:
        """A CONNECT on ``endpoint`` asks to recover ``pid`` from ``offset`` (the caller has
        put ``endpoint`` in :attr:`restoring`). If the memory has it, the connection is back
        (its id, private id, data and rooms); returns the events it missed, to send before
        the CONNECT reply, as node does. None: nothing to recover (connect afresh)."""
        memory = self.node.memory
        try:
            restored = await memory.restore(pid, offset)
        except Exception as exc:  # the store is away: connect afresh
            log.warning("cannot recover %s: %s", pid, exc)
            restored = None
        self.restoring.discard(endpoint)
        socket = self.socket
        if restored is not None and (socket.closed or endpoint not in socket.served_namespaces):
            # Gone again (or nothing to recover into): keep it recoverable.
            memory.seen(pid, restored["sid"], endpoint, restored["rooms"], restored["data"])
            memory.lost(pid, restored["data"])
            return None
        if restored is None or socket.closed:
            return None
        sid = restored["sid"]
        socket.sids[endpoint] = sid
        self.pids[endpoint] = pid
        self.recovered.add(endpoint)
        data = restored.get("data")
        if isinstance(data, dict):
            socket.session.update(data)
        rooms = self.rooms
        for room in restored.get("rooms") or ():
            if isinstance(room, str):
                rooms.join(endpoint, room, socket)
        if ids.owner_of(sid) != self.node_id:
            # Its id names another node: join the room it names, so emits to it come here.
            rooms.join(endpoint, sid, socket)
        return [list(missed) for missed in restored.get("missed") or ()]
