"""Connection state recovery's memory: sessions that may come back, and the events they may
have missed. Sans-I/O: every method that depends on time takes ``now``.

Socket.IO ≥ 4.6 (node's ``connectionStateRecovery``): a modern client whose connection broke
reconnects with the private id (``pid``) of its lost session and the offset of the last event
it received; within ``max_disconnection_duration`` it gets the same socket id, its rooms, its
data, and every event it missed. Node keeps this in the worker's memory, so it is gone when
the worker is; tornio keeps it in a :class:`RecoveryLog` that lives outside the workers (the
recovery store process of ``tornio serve``, :mod:`tornio.bus.store`), fed over the bus:

* every emit of the cluster, with its offset (:meth:`RecoveryLog.record_emit`): the store
  subscribes to all of them while recovery is on;
* each recoverable namespace connection: when it connects and whenever its rooms change
  (:meth:`RecoveryLog.session_seen`), when it is lost (:meth:`RecoveryLog.session_lost`:
  an unexpected disconnect) or ends for good (:meth:`RecoveryLog.session_closed`); a node
  that leaves the node table (a killed worker) loses all its sessions at once
  (:meth:`RecoveryLog.node_lost`).

:meth:`RecoveryLog.restore` answers a reconnect: the session, once, and the events after the
offset that would have reached it (its namespace, its rooms or its own id, minus ``skip`` and
``except``).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LoggedEmit", "Offsets", "RecoveryLog", "SavedSession", "stamp_emit"]


class Offsets:
    """Event offsets unique in the cluster: ``<prefix><counter in hex>``, the prefix naming
    who hands them out (a node, an emitter). Safe from any thread (the counter's ``next``
    is atomic)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self._counter):x}"


def stamp_emit(data: dict[str, Any], offset: str) -> None:
    """Make an emit's data recoverable, in place: it carries ``offset``, and ``to`` a sid
    becomes that sid's room (a recovered socket may live on a node its id does not name:
    the room's topic reaches it there, and the recovery store)."""
    if data.get("to") is not None:
        data["rooms"] = [data["to"]]
        data["to"] = None
    data["offset"] = offset


@dataclass
class SavedSession:
    """A namespace connection that may be recovered."""

    pid: str
    sid: str
    nsp: str
    owner: str  # the node serving it while it was connected
    rooms: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    #: When the connection was lost; None while it is connected.
    lost_at: float | None = None


@dataclass(frozen=True)
class LoggedEmit:
    offset: str
    at: float
    nsp: str
    event: str
    args: list[Any]
    rooms: tuple[str, ...]
    to: str | None
    skip: frozenset[str]
    excluded: tuple[str, ...]

    def reaches(self, session: SavedSession) -> bool:
        if self.nsp != session.nsp or session.sid in self.skip:
            return False
        rooms = {*session.rooms, session.sid}
        if self.to is not None:
            if self.to not in rooms:
                return False
        elif self.rooms and rooms.isdisjoint(self.rooms):
            return False
        return not (self.excluded and not rooms.isdisjoint(self.excluded))


class RecoveryLog:
    """Recoverable sessions and the emits they may miss (see the module docstring).

    Args:
        max_disconnection_duration: seconds a lost session stays recoverable (node: 120).
        max_emits: the most emits kept; older ones go first (a client whose offset is gone
            is not recovered: it connects afresh, as with node when the offset is unknown).
    """

    def __init__(self, max_disconnection_duration: float = 120.0, max_emits: int = 100_000):
        self.max_disconnection_duration = max_disconnection_duration
        self.max_emits = max_emits
        self._sessions: dict[str, SavedSession] = {}
        self._emits: deque[tuple[int, LoggedEmit]] = deque()
        self._seq_of: dict[str, int] = {}  # offset -> sequence number, for emits still kept
        self._next_seq = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def lost_since(self, pid: str) -> float | None:
        """When the session was lost; None if it is connected or unknown."""
        session = self._sessions.get(pid)
        return None if session is None else session.lost_at

    @property
    def emits_kept(self) -> int:
        return len(self._emits)

    # -- feeding it ---------------------------------------------------------------------------

    def record_emit(self, offset: str, endpoint: str, data: Mapping[str, Any], now: float) -> None:
        """An emit seen on the bus (an EMIT message's ``data``) with the offset its
        recipients got."""
        if offset in self._seq_of:
            return
        rooms = data.get("rooms") or ()
        entry = LoggedEmit(
            offset=offset,
            at=now,
            nsp=endpoint,
            event=data["event"],
            args=list(data.get("args") or ()),
            rooms=tuple(rooms),
            to=data.get("to"),
            skip=frozenset(data.get("skip") or ()),
            excluded=tuple(data.get("except") or ()),
        )
        self._emits.append((self._next_seq, entry))
        self._seq_of[offset] = self._next_seq
        self._next_seq += 1
        while len(self._emits) > self.max_emits:
            self._drop_oldest()

    def session_seen(
        self,
        pid: str,
        sid: str,
        endpoint: str,
        owner: str,
        rooms: Iterable[str],
        data: Mapping[str, Any],
    ) -> None:
        """A recoverable connection connected, or its rooms or data changed."""
        self._sessions[pid] = SavedSession(pid, sid, endpoint, owner, list(rooms), dict(data))

    def session_lost(self, pid: str, now: float, data: Mapping[str, Any] | None = None) -> None:
        """The connection broke without the client meaning it: it may come back."""
        session = self._sessions.get(pid)
        if session is not None and session.lost_at is None:
            session.lost_at = now
            if data is not None:
                session.data = dict(data)

    def session_closed(self, pid: str) -> None:
        """The connection ended for good (the client or the server meant it)."""
        self._sessions.pop(pid, None)

    def node_lost(self, node: str, now: float) -> int:
        """A node left without a word (its process died): every connection it served is
        lost now. Returns how many."""
        count = 0
        for session in self._sessions.values():
            if session.owner == node and session.lost_at is None:
                session.lost_at = now
                count += 1
        return count

    # -- reading it ---------------------------------------------------------------------------

    def restore(self, pid: str, offset: str, now: float) -> dict[str, Any] | None:
        """The lost session ``pid`` and what it missed after ``offset``, or None when it
        cannot be recovered (unknown, still connected elsewhere, too old, or its offset is
        no longer kept). A session is restored once."""
        self.prune(now)
        session = self._sessions.get(pid)
        if session is None or session.lost_at is None:
            return None
        seq = self._seq_of.get(offset)
        if seq is None:
            return None
        del self._sessions[pid]
        missed = [
            [entry.event, *entry.args, entry.offset]
            for number, entry in self._emits
            if number > seq and entry.reaches(session)
        ]
        return {"sid": session.sid, "rooms": session.rooms, "data": session.data,
                "missed": missed}

    def prune(self, now: float) -> None:
        """Forget sessions lost too long ago, and emits no lost session can still need."""
        horizon = now - self.max_disconnection_duration
        for pid in [p for p, s in self._sessions.items()
                    if s.lost_at is not None and s.lost_at < horizon]:
            del self._sessions[pid]
        while self._emits and self._emits[0][1].at < horizon:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        _, entry = self._emits.popleft()
        self._seq_of.pop(entry.offset, None)
