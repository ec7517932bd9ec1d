"""``Emitter``: emit to a tornio cluster from any Python process (a Django view, a job).

::

    from tornio import Emitter

    with Emitter("tcp://broker-host:5560", curve="/etc/tornio/keys") as emitter:
        emitter.of("/chat").to("lobby").emit("news", {"title": "hello"})   # a room
        emitter.of("/chat").emit("news", "to everyone")                     # a namespace
        emitter.of("/chat").to_sid(sid).emit("ping")                         # one socket
        emitter.of("/chat").to("lobby").except_("muted").emit("news", 1)    # minus a room
        emitter.of("/chat").to("lobby").sockets_join("announcements")
        emitter.of("/chat").to_sid(sid).disconnect_sockets()
        emitter.server_side_emit("reload", "config")                       # to every node

It publishes the messages nodes publish to each other (:mod:`tornio.bus.messages`: EMIT,
SOCKETS_JOIN, SOCKETS_LEAVE, DISCONNECT_SOCKETS, SERVER_SIDE_EMIT) with ``uid`` ``"emitter"``
(:data:`~tornio.bus.messages.EMITTER_UID`), on a plain blocking pyzmq PUB socket connected to
the broker: no event loop, no thread. It is not a node: it never sends heartbeats, never
appears in a node table, and cluster queries never wait for it. Acknowledgements are not
supported (nobody would be listening for them).

**Rooms and sids.** ``to(room)`` (alias ``in_``) always names a room: a tornio session id is
20 characters of ``[A-Za-z0-9_-]``, and so is a room called ``"user-notifications-1"``, so
guessing would misdeliver. One socket is ``to_sid(sid)``: the message goes only to the node
that owns the sid (a sid names its owner, :mod:`tornio.bus.ids`). A sid is the socket's id in
the namespace (``self.sid``; a modern client's ``socket.id``). Every socket is also in a room
named after its id, as in Socket.IO, so ``to(sid)`` reaches it too (through its owner's
subscription to the rooms named by its ids), and ``except_(name)`` leaves out both the
members of room ``name`` and the socket whose sid is ``name``.

**Readiness (slow joiners).** A PUB socket drops what no subscriber has asked for yet, and
it learns the subscriptions only after connecting (which starts when the emitter is
created): a message published the instant the emitter is created would vanish. So the
first publish waits (up to ``ready_timeout``) for
:meth:`Emitter.wait_ready`, which publishes a probe on a topic of the emitter's own and
waits for it to come back through the broker on the emitter's SUB socket. When it does, the
broker's XSUB socket has sent this PUB socket every subscription it knew before the probe's
(it replays them all to a new publisher, in order, before anything later), so every node
whose bus was ready receives what follows. A room whose first member joins at that very
moment may still miss a message sent within the same round trip, as between nodes.

**Delivery.** ``emit`` blocks only while the queue to the broker is full (at most
``send_timeout``, then :class:`EmitterError`). :meth:`Emitter.flush` proves that the broker
has passed on everything sent so far (the same probe, once more); :meth:`Emitter.close`
gives queued messages ``linger`` seconds to leave. Messages are checked and encoded before
they leave: a value msgpack cannot carry, a message larger than ``max_payload`` or a room
whose topic is longer than :data:`~tornio.bus.messages.MAX_TOPIC` raises
:class:`~tornio.bus.messages.BusMessageError`.

**Several brokers** (``Emitter("tcp://a:5560,tcp://b:5560")``, as ``tornio serve --bus``
takes them): the emitter publishes each message, stamped (:mod:`tornio.bus.sequence`; with
one broker, unstamped), to every broker, through one PUB socket per broker with no queue for
a broker that is not connected; nodes keep one copy. It is ready once one broker passes its
probe on, and a publish fails only if no broker's queue takes the message.

One Emitter may be shared by threads (its socket calls are serialized by a lock). After a
``fork`` the child makes new sockets on first use (ZeroMQ contexts do not survive one).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import zmq

from tornio.bus import ids, messages
from tornio.bus.addresses import broker_addresses
from tornio.bus.messages import EMITTER_UID, BusMessageError, MessageType
from tornio.bus.recovery import Offsets, stamp_emit
from tornio.bus.security import CurveClient, is_local_address, load_client
from tornio.bus.sequence import new_stream, stamp
from tornio.exceptions import TornioError
from tornio.protocol.endpoints import to_endpoint

__all__ = ["BroadcastOperator", "Emitter", "EmitterError"]

log = logging.getLogger("tornio.bus.emitter")

#: Events a Socket.IO client reserves for itself: emitting them would confuse it.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
_PROBE_FIRST, _PROBE_MAX = 0.01, 0.5


def _split(value: str | Sequence[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()]


class EmitterError(TornioError):
    """The emitter is closed, or the bus did not take a message in time."""


def _names(values: tuple[str | Iterable[str], ...]) -> tuple[str, ...]:
    names: list[str] = []
    for value in values:
        items = [value] if isinstance(value, str) else list(value)
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"a room or sid is a string, not {type(item).__name__}")
            names.append(item)
    return tuple(names)


@dataclass(frozen=True)
class BroadcastOperator:
    """A selection of sockets in one namespace; every method that narrows it returns a new
    operator, so one can be kept and reused."""

    emitter: Emitter
    namespace: str = ""
    rooms: tuple[str, ...] = ()
    excepts: tuple[str, ...] = ()
    sids: tuple[str, ...] = ()

    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        """Only the sockets in these rooms (added to those named before: their union)."""
        return replace(self, rooms=self.rooms + _names(rooms))

    in_ = to

    def to_sid(self, *sids: str | Iterable[str]) -> BroadcastOperator:
        """Only these sockets, by session id (rooms named with ``to`` are then ignored)."""
        return replace(self, sids=self.sids + _names(sids))

    def except_(self, *names: str | Iterable[str]) -> BroadcastOperator:
        """Leave out the members of these rooms and the sockets with these sids."""
        return replace(self, excepts=self.excepts + _names(names))

    def emit(self, event: str, *args: Any) -> None:
        """Send an event to the selected sockets, on every node.

        Raises:
            ValueError: a reserved event name (``connect``, ``disconnect``...).
            BusMessageError: an argument msgpack cannot carry, or a message too large.
            TimeoutError: the bus was not ready within the emitter's ``ready_timeout``.
            EmitterError: the emitter is closed, or the broker did not take the message.
        """
        if not isinstance(event, str):
            raise TypeError("an event name is a string")
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        extra: dict[str, Any] = {"event": event, "args": list(args)}
        if self.emitter.recovery:
            extra["offset"] = self.emitter.next_offset()
        self._publish(MessageType.EMIT, extra)

    def sockets_join(self, *rooms: str | Iterable[str]) -> None:
        """Make the selected sockets join these rooms."""
        self._publish(MessageType.SOCKETS_JOIN, {"join": list(_names(rooms))})

    def sockets_leave(self, *rooms: str | Iterable[str]) -> None:
        """Make the selected sockets leave these rooms."""
        self._publish(MessageType.SOCKETS_LEAVE, {"leave": list(_names(rooms))})

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the selected sockets from this namespace; ``close=True`` ends each
        one's whole client connection."""
        self._publish(MessageType.DISCONNECT_SOCKETS, {"close": True} if close else {})

    def _publish(self, kind: MessageType, extra: dict[str, Any]) -> None:
        base: dict[str, Any] = {
            **extra,
            "rooms": list(dict.fromkeys(self.rooms)),
            "skip": list(dict.fromkeys(self.excepts)),
        }
        if self.excepts:
            base["except"] = list(dict.fromkeys(self.excepts))
        if not self.sids:
            data = {**base, "to": None}
            self.emitter._publish(
                messages.make_message(kind, self.namespace, data, uid=EMITTER_UID)
            )
            return
        for sid in dict.fromkeys(self.sids):
            if kind is MessageType.EMIT and self.emitter.recovery:
                # As the nodes do with recovery on (stamp_emit): the sid's room, which its
                # recovery store hears too, and a node holding it under an id another made.
                data = {**base, "to": sid}
                stamp_emit(data, base["offset"])
                self.emitter._publish(
                    messages.make_message(kind, self.namespace, data, uid=EMITTER_UID)
                )
                continue
            data = {**base, "rooms": [], "to": sid}
            message = messages.make_message(kind, self.namespace, data, uid=EMITTER_UID)
            owner = ids.owner_of(sid)
            if owner is not None:
                message["dst"] = owner  # only the owner's direct topic
            self.emitter._publish(message)


class Emitter:
    """Publishes to a tornio cluster's bus from a process that serves no clients.

    Args:
        bus_address: the broker's address, as ``tornio serve --bus`` takes it
            (``tcp://HOST:PORT``: publishers at PORT, subscribers at PORT+1), or its
            publisher address when ``sub_address`` is given; several brokers' (a list, or
            separated by commas).
        sub_address: the broker's subscriber address, when it is not PORT+1 (several: in
            the order of ``bus_address``).
        curve: CURVE keys (:class:`~tornio.bus.security.CurveClient`), or a key directory
            (its ``emitter.key_secret`` and ``broker.key`` are used); None: no security.
        ready_timeout: how long the first publish waits for :meth:`wait_ready`; 0 sends at
            once (and messages sent before the connection is up are lost).
        send_timeout: how long a publish may block while the queue to the broker is full.
        linger: how long :meth:`close` lets queued messages leave.
        hwm: the PUB socket's high-water mark, in messages: the queue to the broker holds at
            most ``hwm`` × (``max_payload`` + the topic) bytes (~1 GiB with the defaults if
            every message were the largest allowed; a full queue blocks ``emit``).
        max_payload: the largest message payload, in bytes. No topic (a room's) longer than
            :data:`~tornio.bus.messages.MAX_TOPIC` bytes is ever sent: such an emit raises
            :class:`~tornio.bus.messages.BusMessageError`.
        recovery: the cluster runs with ``connection_state_recovery``: each event carries
            an offset, and the recovery stores log it, so that a client that was away gets
            it when it comes back.

    The operator methods (``of``, ``to``, ``in_``, ``to_sid``, ``except_``, ``emit``,
    ``sockets_join``, ``sockets_leave``, ``disconnect_sockets``) work on the global
    namespace ``''`` (``'/'``); ``of(namespace)`` picks another.
    """

    def __init__(
        self,
        bus_address: str | Sequence[str],
        *,
        sub_address: str | Sequence[str] | None = None,
        curve: CurveClient | str | os.PathLike[str] | None = None,
        ready_timeout: float = 5.0,
        send_timeout: float = 5.0,
        linger: float = 1.0,
        hwm: int = 1_000,
        max_payload: int = messages.MAX_PAYLOAD,
        recovery: bool = False,
    ) -> None:
        given = _split(bus_address)
        if sub_address is None:
            pairs = [broker_addresses(address) for address in given]
            self.pub_addresses = [pub for pub, _ in pairs]
            self.sub_addresses = [sub for _, sub in pairs]
        else:
            self.pub_addresses, self.sub_addresses = given, _split(sub_address)
        if not given or len(self.pub_addresses) != len(self.sub_addresses):
            raise ValueError("an emitter needs one sub address per broker address")
        self.pub_address = ",".join(self.pub_addresses)
        self.sub_address = ",".join(self.sub_addresses)
        if curve is not None and not isinstance(curve, CurveClient):
            curve = load_client(curve, "emitter")
        self.curve: CurveClient | None = curve
        self.ready_timeout = ready_timeout
        self.send_timeout = send_timeout
        self.linger = linger
        self.hwm = hwm
        self.max_payload = max_payload
        self.recovery = recovery
        self._offsets = Offsets(f"{EMITTER_UID}.{secrets.token_urlsafe(6)}.")
        #: Messages handed to the PUB socket.
        self.published = 0
        if curve is None and not all(map(is_local_address, self.pub_addresses)):
            log.warning(
                "emitter on %s without CURVE: the bus can be read and written by anyone "
                "who reaches it",
                self.pub_address,
            )
        self._lock = threading.RLock()
        self._probe_node = f"{EMITTER_UID}-{secrets.token_hex(8)}"
        self._probe_count = 0
        self._pid = -1
        self._context: zmq.Context[Any] | None = None
        self._pubs: list[zmq.Socket[bytes]] = []
        self._sub: zmq.Socket[bytes] | None = None
        self._stream = new_stream()
        self._seq = 0
        self._ready = False
        self._closed = False
        self._start()  # connect now: the connection is made while the caller does other work

    def next_offset(self) -> str:
        """A fresh event offset (connection state recovery), unique in the cluster."""
        return self._offsets.next()

    # -- operators ---------------------------------------------------------------------------

    def of(self, namespace: str) -> BroadcastOperator:
        """The sockets of a namespace (``'/chat'``; ``''`` or ``'/'`` for the global one)."""
        return BroadcastOperator(self, to_endpoint(namespace))

    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        return self.of("").to(*rooms)

    in_ = to

    def to_sid(self, *sids: str | Iterable[str]) -> BroadcastOperator:
        return self.of("").to_sid(*sids)

    def except_(self, *names: str | Iterable[str]) -> BroadcastOperator:
        return self.of("").except_(*names)

    def emit(self, event: str, *args: Any) -> None:
        self.of("").emit(event, *args)

    def sockets_join(self, *rooms: str | Iterable[str]) -> None:
        self.of("").sockets_join(*rooms)

    def sockets_leave(self, *rooms: str | Iterable[str]) -> None:
        self.of("").sockets_leave(*rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        self.of("").disconnect_sockets(close)

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the server-side handlers (``on_server_side``) of every node; no
        answers (nobody would be listening for them)."""
        if not isinstance(event, str):
            raise TypeError("an event name is a string")
        self._publish(messages.make_message(
            MessageType.SERVER_SIDE_EMIT, "", {"event": event, "args": list(args)},
            uid=EMITTER_UID,
        ))

    # -- the sockets -------------------------------------------------------------------------

    @property
    def is_ready(self) -> bool:
        return self._ready and not self._closed and self._pid == os.getpid()

    def _start(self) -> None:
        if self._closed:
            raise EmitterError("the emitter is closed")
        if self._pid == os.getpid():
            return
        # First use, or first use after a fork: sockets of the parent are left alone, and
        # the child's messages are a stream of their own.
        self._pubs, self._sub, self._context = [], None, None
        self._ready = False
        self._stream, self._seq = new_stream(), 0
        several = len(self.pub_addresses) > 1
        context: zmq.Context[Any] = zmq.Context()
        try:
            sub = context.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            if self.curve is not None:
                self.curve.apply(sub)
            sub.setsockopt(zmq.SUBSCRIBE, messages.direct_topic(self._probe_node))
            for address in self.sub_addresses:
                sub.connect(address)
            pubs = []
            for address in self.pub_addresses:
                pub = context.socket(zmq.PUB)
                pubs.append(pub)
                pub.setsockopt(zmq.LINGER, 0)
                pub.setsockopt(zmq.SNDHWM, self.hwm)
                pub.setsockopt(zmq.XPUB_NODROP, 1)  # a full queue blocks (up to SNDTIMEO)
                pub.setsockopt(zmq.SNDTIMEO, max(0, int(self.send_timeout * 1000)))
                if several:  # no queue for a broker that is down: the others carry it
                    pub.setsockopt(zmq.IMMEDIATE, 1)
                    pub.setsockopt(zmq.HEARTBEAT_IVL, 1000)
                    pub.setsockopt(zmq.HEARTBEAT_TIMEOUT, 5000)
                if self.curve is not None:
                    self.curve.apply(pub)
                pub.connect(address)
        except BaseException:
            context.destroy(linger=0)
            raise
        self._context, self._pubs, self._sub = context, pubs, sub
        self._pid = os.getpid()

    def _probe(self) -> tuple[str, list[bytes]]:
        self._probe_count += 1
        nonce = f"{self._probe_count}"
        message = messages.make_message(
            MessageType.PROBE, "", {"nonce": nonce}, uid=EMITTER_UID, dst=self._probe_node
        )
        return nonce, messages.encode(message)

    def _echo(self, timeout: float, what: str) -> None:
        """Publish a probe (again and again, backing off) until it comes back through the
        broker, or raise TimeoutError."""
        assert self._pubs and self._sub is not None
        deadline = time.monotonic() + timeout
        nonce, frames = self._probe()
        delay = _PROBE_FIRST
        while True:
            for pub in self._pubs:
                with contextlib.suppress(zmq.Again):  # a full queue: it is sent again later
                    pub.send_multipart(frames, flags=zmq.NOBLOCK)
            remaining = deadline - time.monotonic()
            wait = min(delay, max(remaining, 0.0))
            end = time.monotonic() + wait
            while True:
                left = max(end - time.monotonic(), 0.0)
                if not self._sub.poll(int(left * 1000) + (1 if left > 0 else 0)):
                    break
                if self._received(nonce):
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{what}: no answer from the broker at {self.pub_address} and "
                    f"{self.sub_address} within {timeout} s"
                    + (" (is this emitter's CURVE key authorized?)" if self.curve else "")
                )
            delay = min(delay * 2, _PROBE_MAX)

    def _received(self, nonce: str) -> bool:
        """Read one message from the SUB socket: is it our probe ``nonce`` (or a later one)?"""
        assert self._sub is not None
        try:
            frames = self._sub.recv_multipart(flags=zmq.NOBLOCK)
        except zmq.Again:
            return False
        try:
            message = messages.decode(frames)
        except BusMessageError as exc:
            log.warning("emitter dropped a malformed message: %s", exc)
            return False
        if message["type"] is not MessageType.PROBE or message["uid"] != EMITTER_UID:
            return False
        try:
            return int(message["data"]["nonce"]) >= int(nonce)
        except ValueError:
            return False

    def wait_ready(self, timeout: float = 5.0) -> None:
        """Return once the broker is proven to pass this emitter's messages on to every node
        whose bus is ready (see the module docstring). Called by the first publish.

        Raises:
            TimeoutError: no proof within ``timeout`` seconds: the broker is unreachable, or
                refuses this emitter's CURVE key (a later call may succeed).
            EmitterError: the emitter is closed.
        """
        with self._lock:
            self._start()
            if self._ready:
                return
            self._echo(timeout, "emitter not ready")
            self._ready = True
            log.debug("emitter ready on %s", self.pub_address)

    def flush(self, timeout: float = 5.0) -> None:
        """Return once the broker has passed on every message this emitter sent before.

        Raises:
            TimeoutError: not within ``timeout`` seconds.
            EmitterError: the emitter is closed.
        """
        with self._lock:
            self._start()
            self._echo(timeout, "emitter flush")
            self._ready = True

    def _publish(self, message: dict[str, Any]) -> None:
        frames = messages.encode(message, max_payload=self.max_payload)
        messages.check_topic(frames[0])  # the last guard before libzmq (see MAX_TOPIC)
        with self._lock:
            self._start()
            if not self._ready and self.ready_timeout > 0:
                self.wait_ready(self.ready_timeout)
            assert self._pubs
            self._seq += 1
            # One broker: nothing to tell apart, no stamp (as ZmqBus).
            stamped = frames if len(self._pubs) == 1 else [*frames, stamp(self._stream, self._seq)]
            if len(self._pubs) == 1:
                try:
                    self._pubs[0].send_multipart(stamped)
                except zmq.Again:
                    raise EmitterError(
                        f"the bus did not take a message within {self.send_timeout} s "
                        f"({self.hwm} messages queued for the broker)"
                    ) from None
            else:
                self._send_to_all(stamped)
            self.published += 1

    def _send_to_all(self, frames: list[bytes]) -> None:
        """Every broker's queue that has room takes the message; if none has, wait (up to
        ``send_timeout``) for one."""
        waiting = []
        for pub in self._pubs:
            try:
                pub.send_multipart(frames, flags=zmq.NOBLOCK)
            except zmq.Again:
                waiting.append(pub)
        if len(waiting) < len(self._pubs):
            return
        poller = zmq.Poller()
        for pub in waiting:
            poller.register(pub, zmq.POLLOUT)
        for pub, _ in poller.poll(int(self.send_timeout * 1000)):
            with contextlib.suppress(zmq.Again):
                pub.send_multipart(frames, flags=zmq.NOBLOCK)
                return
        raise EmitterError(
            f"no broker took a message within {self.send_timeout} s ({self.hwm} messages "
            f"queued for each)"
        )

    def close(self, linger: float | None = None) -> None:
        """Close the sockets, giving queued messages ``linger`` seconds (by default the
        emitter's) to leave. Idempotent; a closed emitter cannot publish."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._context is None or self._pid != os.getpid():
                return
            wait = self.linger if linger is None else linger
            assert self._sub is not None
            self._sub.close(linger=0)
            for pub in self._pubs:
                pub.close(linger=max(0, int(wait * 1000)))
            self._context.term()
            self._context = self._sub = None
            self._pubs = []

    def __enter__(self) -> Emitter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "ready" if self.is_ready else "not ready"
        return f"<Emitter {self.pub_address} {state}>"
