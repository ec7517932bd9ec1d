"""The several-broker half of :class:`~tornio.bus.zmq.ZmqBus`: what a node does with the
copies its brokers deliver, and how it notices that a broker, or every broker, is gone (see
"Several brokers" in :mod:`tornio.bus.zmq`, and :mod:`tornio.bus.sequence` for the rules).
It uses only the ZmqBus attributes declared at the top of :class:`BrokerPaths`."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import zmq

from tornio.bus import messages
from tornio.bus.sequence import PathWatch, Sequencer, read_stamp

__all__ = ["BrokerPaths"]

log = logging.getLogger("tornio.bus.zmq")


class BrokerPaths:
    """Mixed into :class:`~tornio.bus.zmq.ZmqBus`."""

    heartbeat_interval: float
    node_timeout: float
    pub_addresses: list[str]
    pub_address: str
    stats: Any
    _closed: bool
    _stream: bytes
    _own: bytes | None
    _sequencer: Sequencer[list[bytes]] | None
    _watch: PathWatch
    _expiry: asyncio.TimerHandle | None
    _nodes: dict[str, float]
    _judged: float

    if TYPE_CHECKING:  # what ZmqBus provides

        @property
        def node_id(self) -> str: ...

        def _handle(self, frames: list[bytes], path: int = 0) -> None: ...

    def _heartbeats(self, socket: zmq.Socket[Any]) -> None:
        """ZeroMQ's own heartbeats: a broker that stopped answering (its host is gone, the
        process is stopped) is disconnected after ``node_timeout``, its queue dropped."""
        socket.setsockopt(zmq.HEARTBEAT_IVL, max(1, int(self.heartbeat_interval * 1000)))
        socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, max(1, int(self.node_timeout * 1000)))

    def _excuse_stall(self) -> None:
        """When this node's own event loop stood still (a blocking handler, an overloaded
        machine) for more than a heartbeat interval beyond the last judgement, that time does
        not count as the others' silence: whatever they and the brokers sent meanwhile waits
        unread in the sockets. Judged at once, every peer would be forgotten (a request in
        flight to one answered None) and a gap begun (messages published in it lost); the
        peers and paths are given the stall back instead, and a node that really went away
        is still forgotten ``node_timeout`` after the loop runs again."""
        now = time.monotonic()
        last, self._judged = self._judged, now
        stall = now - last - self.heartbeat_interval
        if not last or stall <= self.heartbeat_interval:
            return
        for uid in self._nodes:
            self._nodes[uid] += stall
        self._watch.excuse(stall)
        log.info("bus node %s: its event loop stood still for %.1f s, not counted as the "
                 "others' silence", self.node_id, stall)

    def _check_paths(self) -> None:
        """A gap begins (no broker carried our heartbeats for ``node_timeout``); with several
        brokers, a primary that stopped carrying them while another does is given up."""
        now = time.monotonic()
        if self._watch.check(now):
            self.stats.gaps += 1
            log.warning(
                "bus node %s cut off: no broker has carried its messages for %.1f s (%s); "
                "messages published meanwhile are lost", self.node_id,
                now - (self._watch.gap_since or now), self.pub_address,
            )
        sequencer = self._sequencer
        if sequencer is None:
            return
        live = self._watch.live(now)
        if live and sequencer.primary not in live:
            log.warning("bus broker %s carries nothing: failing over to %s",
                        self.pub_addresses[sequencer.primary], self.pub_addresses[live[0]])
            self._deliver_frames(sequencer.switch(live[0], now))
        sequencer.prune(now)
        self.stats.failovers = sequencer.stats.failovers
        self.stats.duplicates = sequencer.stats.duplicates

    def _on_frames(self, path: int, frames: list[bytes]) -> None:
        """One message read from a broker: our own (the path works), a copy, or new.

        Our own messages come back from the broker on every topic we subscribe to; those on
        a room's or a namespace's topic (our socket operations: most of what we publish) are
        dropped unread, the others (heartbeats, probes, NODE_DOWN) read by :meth:`_handle`.
        Ours are told without decoding: by the stamp's stream (several brokers) or by how
        the payload starts (:func:`~tornio.bus.messages.own_prefix`; one broker, no stamp).
        """
        count = len(frames)
        if count == 3 and len(frames[2]) == messages.STAMP_SIZE:
            if frames[2].endswith(self._stream):
                self._on_own(path, frames)
                return
            sequencer = self._sequencer
            if sequencer is not None:  # several brokers (with one, no copies to drop)
                stream, seq = read_stamp(frames[2])
                now = time.monotonic()
                self._deliver_frames(sequencer.receive(path, stream, seq, frames,
                                                       len(frames[1]), now))
                if sequencer.held and self._expiry is None:
                    deadline = sequencer.next_deadline()
                    if deadline is not None:
                        self._expiry = asyncio.get_running_loop().call_later(
                            max(0.0, deadline - now), self._expire)
                return
        elif count == 2 and self._own is not None and frames[1].startswith(self._own, 1):
            self._on_own(path, frames)
            return
        self._handle(frames, path)

    def _on_own(self, path: int, frames: list[bytes]) -> None:
        """Our own message, back through the broker of ``path``."""
        if frames[0].startswith(messages.SOCKET_TOPICS):
            self.stats.received += 1  # counted as read, as before it was decoded to drop it
            return
        gap = self._watch.echo(path, time.monotonic())
        if gap is not None:
            log.warning("bus node %s reconnected through %s after %.1f s cut off",
                        self.node_id, self.pub_addresses[path], gap)
        self._handle(frames, path)

    def _deliver_frames(self, ready: list[list[bytes]]) -> None:
        for frames in ready:
            self._handle(frames, -1)

    def _expire(self) -> None:
        """Copies held too long: the primary broker is behind or gone (see
        :mod:`tornio.bus.sequence`)."""
        self._expiry = None
        sequencer = self._sequencer
        if sequencer is None or self._closed:
            return
        now = time.monotonic()
        before = sequencer.primary
        self._deliver_frames(sequencer.expire(now))
        if sequencer.primary != before:
            log.warning("bus broker %s fell behind or went away: failing over to %s",
                        self.pub_addresses[before], self.pub_addresses[sequencer.primary])
        self.stats.failovers = sequencer.stats.failovers
        deadline = sequencer.next_deadline()
        if deadline is not None:
            self._expiry = asyncio.get_running_loop().call_later(
                max(0.0, deadline - now), self._expire)
