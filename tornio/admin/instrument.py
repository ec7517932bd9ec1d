"""``Instrument``: what one process tells the Admin UI, and how it reaches every UI of the
cluster.

Every process (worker) runs one. Each ``stats_interval`` it sends ``server_stats`` (its own:
``serverId`` is ``hostname#pid``, its sessions, namespaces and the traffic since the last
one, from :mod:`tornio.core.counters`). In development mode it also watches its manager
(as its ``monitor`` and its room index's ``observer``) and reports ``socket_connected``,
``socket_updated`` (a transport changed), ``socket_disconnected``, ``room_joined``,
``room_left``, ``event_received`` and ``event_sent``.

What one process reports goes to the UIs connected to it (the members of its admin namespace:
sent as they are, once encoded per kind of client) and, through the bus, to every other
process (a server-side event, ``tornio.admin:events``, batched once per pass of the event
loop), which hands it to its own. Verbose reports are made only while some UI watches: a
process with a UI connected tells the others every ``stats_interval`` (and at once when one
logs in) with ``tornio.admin:watch``, and they keep reporting for ``3 ×`` that after the last.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket as _socket
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tornio.bus.messages import portable_session
from tornio.cluster import handshake_of
from tornio.core.counters import COUNTERS
from tornio.exceptions import CallTimeout
from tornio.metrics import transport_of
from tornio.protocol.endpoints import to_nsp

if TYPE_CHECKING:
    from tornio.admin.options import AdminOptions
    from tornio.core.socket import Socket
    from tornio.manager import SocketManager
    from tornio.protocol.packets import Packet

__all__ = ["Instrument", "now_iso", "to_nsp"]

log = logging.getLogger("tornio.admin")

EVENTS = "tornio.admin:events"
WATCH = "tornio.admin:watch"
SOCKETS = "tornio.admin:sockets"


def now_iso() -> str:
    """The time as JavaScript's ``new Date().toJSON()`` writes it."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def static_names(namespaces: Iterable[Any]) -> list[str]:
    """The namespaces named outright (a dynamic namespace's regex or function is not a name:
    its namespaces show up once they have sockets)."""
    return [name for name in namespaces if isinstance(name, str)]


class Instrument:
    """One process's reports to the Admin UI (see the module docstring)."""

    def __init__(self, manager: SocketManager, options: AdminOptions) -> None:
        self.manager = manager
        self.options = options
        self.endpoint = options.namespace
        hostname = _socket.gethostname()
        self.base = {
            "serverId": options.server_id or f"{hostname}#{os.getpid()}",
            "hostname": hostname,
            "pid": os.getpid(),
        }
        self.started = time.time()
        self._watched_until = 0.0
        self._queue: list[list[Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._last = self._totals()
        self._transports: dict[tuple[str, str], str] = {}
        manager.on_server_side(EVENTS, self._from_other_node)
        manager.on_server_side(WATCH, self._watched)
        manager.on_server_side(SOCKETS, self.local_sockets)
        if options.development:
            manager.monitor = self
            manager.rooms.observer = self.observe

    # -- who watches ---------------------------------------------------------------------------

    def admins(self) -> Mapping[str, Socket]:
        """The UIs connected to this process."""
        return self.manager.rooms.members(self.endpoint)

    def watching(self) -> bool:
        return bool(self.admins()) or time.monotonic() < self._watched_until

    def _watched(self) -> None:
        self._watched_until = time.monotonic() + 3 * self.options.stats_interval
        self.start()

    def admin_joined(self) -> None:
        """A UI logged in here: every process starts reporting now."""
        self.start()
        self.manager.server_side_emit(WATCH)

    # -- reporting ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run the ``server_stats`` loop (once; from the event loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._stats_loop())

    def stop(self) -> None:
        """Stop the ``server_stats`` loop (a server that stops serving)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _stats_loop(self) -> None:
        while True:
            try:
                if self.admins():
                    self.manager.server_side_emit(WATCH)
                if self.watching():
                    self.report_stats()
            except Exception:
                log.exception("admin: server_stats failed")
            await asyncio.sleep(self.options.stats_interval)

    def report(self, event: str, *args: Any) -> None:
        """Send ``event`` to every UI of the cluster (in this pass of the loop)."""
        if not self._queue:
            asyncio.get_running_loop().call_soon(self._flush)
        self._queue.append([event, list(args)])

    def _flush(self) -> None:
        queue, self._queue = self._queue, []
        self.deliver(queue)
        try:
            self.manager.server_side_emit(EVENTS, queue)
        except Exception as exc:  # a value the bus cannot carry: the local UIs had it
            log.warning("admin: could not send %d reports to the other nodes: %s",
                        len(queue), exc)

    def _from_other_node(self, queue: Any) -> None:
        if isinstance(queue, list):
            self.deliver([item for item in queue if isinstance(item, list) and len(item) == 2
                          and isinstance(item[0], str) and isinstance(item[1], list)])

    def deliver(self, queue: Sequence[Sequence[Any]]) -> None:
        """Reports to the UIs connected here, each encoded once per kind of client."""
        admins = list(self.admins().values())
        if not admins:
            return
        for event, args in queue:
            wires: dict[str, Any] = {}
            for admin in admins:
                wire = wires.get(admin.flavour)
                if wire is None:
                    try:
                        wire = wires[admin.flavour] = type(admin).encode_event(
                            self.endpoint, event, args)
                    except (TypeError, ValueError) as exc:
                        log.warning("admin: cannot encode %r: %s", event, exc)
                        break
                admin.send_raw(wire)

    # -- server_stats --------------------------------------------------------------------------

    @staticmethod
    def _totals() -> dict[str, Any]:
        traffic = COUNTERS.traffic.values()
        return {
            "rawConnection": sum(t.handshakes for t in traffic),
            "packetsIn": sum(t.messages_in for t in traffic),
            "packetsOut": sum(t.messages_out for t in traffic),
            "bytesIn": sum(t.bytes_in for t in traffic),
            "bytesOut": sum(t.bytes_out for t in traffic),
            "rawDisconnection": {reason: count for (_, reason), count
                                 in COUNTERS.disconnects.items()},
        }

    def _aggregated(self) -> list[dict[str, Any]]:
        """What happened since the last report, as the UI's ``aggregatedEvents``."""
        totals, last = self._totals(), self._last
        self._last = totals
        stamp = int(time.time()) * 1000
        events = []
        for kind, value in totals.items():
            if kind == "rawDisconnection":
                for reason, count in value.items():
                    delta = count - last[kind].get(reason, 0)
                    if delta > 0:
                        events.append({"timestamp": stamp, "type": kind, "subType": reason,
                                       "count": delta})
            elif value > last[kind]:
                events.append({"timestamp": stamp, "type": kind, "count": value - last[kind]})
        return events

    def report_stats(self) -> None:
        manager = self.manager
        sockets = list(manager.sockets.values())
        counts = manager.rooms.counts()
        names = sorted({*static_names(manager.namespaces), *counts})
        self.report("server_stats", {
            **self.base,
            "uptime": time.time() - self.started,
            "clientsCount": len(sockets),
            "pollingClientsCount": sum(1 for s in sockets if "polling" in transport_of(s)),
            "aggregatedEvents": self._aggregated(),
            "namespaces": [{"name": to_nsp(name), "socketsCount": counts.get(name, (0, 0))[0]}
                           for name in names],
        })
        if self.options.development:
            self._report_transports(sockets)

    def _report_transports(self, sockets: list[Socket]) -> None:
        """``socket_updated`` for the sockets whose transport changed (an upgrade)."""
        seen: dict[tuple[str, str], str] = {}
        for socket in sockets:
            transport = transport_of(socket)
            for endpoint, sid in socket.sids.items():
                key = (endpoint, sid)
                seen[key] = transport
                before = self._transports.get(key)
                if before is not None and before != transport and transport != "none":
                    self.report("socket_updated", {"id": sid, "nsp": to_nsp(endpoint),
                                                   "transport": transport})
        self._transports = seen

    # -- the sockets -------------------------------------------------------------------------

    def serialize(self, socket: Socket, endpoint: str) -> dict[str, Any]:
        """A socket as the UI shows it."""
        sid = socket.sids.get(endpoint, socket.sessid)
        handshake = handshake_of(socket, endpoint)
        headers = handshake["headers"]
        handshake.pop("auth", None)  # never shown, as in node (a password may be in it)
        handshake["address"] = (headers.get("cf-connecting-ip") or headers.get("x-forwarded-for")
                                or handshake["address"])
        engine_sid = getattr(socket.engine, "sid", socket.sessid)
        return {
            "id": sid,
            "clientId": str(engine_sid)[:12],
            "transport": transport_of(socket),
            "nsp": to_nsp(endpoint),
            "data": portable_session(socket.session, sid),
            "handshake": portable_session(handshake, sid),
            "rooms": [sid, *sorted(socket.rooms.get(endpoint, ()))],
        }

    def local_sockets(self) -> list[dict[str, Any]]:
        """Every socket of every namespace here, serialized."""
        found = []
        for endpoint in {*static_names(self.manager.namespaces), *self.manager.rooms.counts()}:
            for socket in list(self.manager.rooms.members(endpoint).values()):
                found.append(self.serialize(socket, endpoint))
        return found

    async def all_sockets(self, timeout: float = 2.0) -> list[dict[str, Any]]:
        """Every socket of the cluster (what the other nodes answer within ``timeout``)."""
        found = self.local_sockets()
        try:
            answers = await self.manager.server_side_call(SOCKETS, timeout=timeout)
        except CallTimeout as exc:
            log.warning("admin: %s", exc)
            answers = exc.responses
        for answer in answers:
            if isinstance(answer, list):
                found.extend(s for s in answer if isinstance(s, dict))
        return found

    # -- the manager's monitor (development mode) ------------------------------------------

    def received(self, socket: Socket, packet: Packet) -> None:
        endpoint = packet.endpoint
        if endpoint == self.endpoint or not self.watching():
            return
        kind = packet.kind
        if kind == "event":
            args = [packet.name, *packet.args]
        elif kind in ("message", "json"):
            args = ["message", packet.data]
        else:
            return
        self.report("event_received", to_nsp(endpoint), socket.sids.get(endpoint, socket.sessid),
                    args, now_iso())

    def sent(self, socket: Socket, packet: Packet) -> None:
        endpoint = packet.endpoint
        if packet.kind != "event" or endpoint == self.endpoint or not self.watching():
            return
        self.report("event_sent", to_nsp(endpoint), socket.sids.get(endpoint, socket.sessid),
                    [packet.name, *packet.args], now_iso())

    def emitted(self, endpoint: str, data: Mapping[str, Any], sockets: Sequence[Any]) -> None:
        if endpoint == self.endpoint or not sockets or not self.watching():
            return
        args, moment = [data["event"], *data["args"]], now_iso()
        for socket in sockets:
            self.report("event_sent", to_nsp(endpoint),
                        socket.sids.get(endpoint, socket.sessid), args, moment)

    def observe(self, kind: str, endpoint: str, name: str, socket: Any) -> None:
        """The room index's observer: connections and rooms."""
        if not self.watching():
            if kind == "connect" and endpoint == self.endpoint:
                self.start()
            return
        nsp = to_nsp(endpoint)
        if kind == "connect":
            serialized = self.serialize(socket, endpoint)
            self._transports[(endpoint, name)] = serialized["transport"]
            self.report("socket_connected", serialized, now_iso())
        elif kind == "disconnect":
            self.report("socket_disconnected", nsp, name, socket.ended_reason(endpoint),
                        now_iso())
        elif kind in ("join", "leave"):
            sid = socket.sids.get(endpoint, socket.sessid)
            self.report("room_joined" if kind == "join" else "room_left", nsp, name, sid,
                        now_iso())
