r"""``ZmqBus``: one node's side of the ZeroMQ bus (PUB and SUB sockets to each broker).

Each node (worker process) owns one :class:`ZmqBus`. Its PUB socket connects to the broker's
XSUB (the *pub address*), its SUB socket to the broker's XPUB (the *sub address*); see
:mod:`tornio.bus.broker`. Messages and topics are :mod:`tornio.bus.messages`.

**Several brokers.** Given several brokers (``ZmqBus("tcp://a:5560,tcp://b:5560", ...)``
addresses, or lists), the node has one PUB and one SUB socket per broker (a *path*): each
message is stamped once (:mod:`tornio.bus.sequence`) and sent to every broker, and what the
SUB sockets read goes through a :class:`~tornio.bus.sequence.Sequencer`, which delivers one
copy of each message in its publisher's order and fails over from a broker that is gone.
Each PUB socket has its own queue (a dead broker's never blocks the others) and is
``ZMQ_IMMEDIATE`` (no queue for a broker that is not connected: the others carry the
messages, and a broker that comes back gets no stale backlog); ZeroMQ heartbeats
(``heartbeat_interval``, ``node_timeout``) drop a connection to a broker that stopped
answering. ZeroMQ resends a SUB socket's subscriptions when it reconnects, so a broker that
comes back learns every topic again by itself, and nobody restarts. A path is *live* while
the node's own heartbeats come back on it (:class:`~tornio.bus.sequence.PathWatch`, and
``live_paths``); when no path has been live for ``node_timeout`` the node is cut off (a
*gap*): it logs it, counts it (``stats.gaps``), ``is_ready`` is False (``/ready`` says
503), messages it publishes meanwhile are lost (counted in ``stats.published_in_gap``),
and the other nodes leave its node table as they leave everybody's. When a path carries its
heartbeat again it logs how long the gap lasted. With one broker nothing of this runs but
the gap's detection: messages leave as the two frames of :meth:`ZmqBus.encode`, unstamped
(there are no copies to tell apart), and that broker's PUB socket queues, up to ``hwm``, for
its restart, as before.

**Subscriptions.** On start the SUB socket subscribes to the control topic, to the namespace
topics (every namespace, or those given) and to the node's own direct topic; ``subscribe`` /
``unsubscribe`` add and remove room topics (the manager calls them on a room's first local
join and last local leave); ``subscribe_sid_rooms`` adds, once per namespace, the prefix of
every room named by one of this node's socket ids (each socket is in such a room). ZeroMQ
has no "not my own messages" filter, so a node receives what it publishes on topics it
subscribes to. It drops those on room and namespace topics unread, told by the stamp's
stream (several brokers) or by the payload's first bytes (one broker:
:func:`~tornio.bus.messages.own_prefix`); its own control messages (heartbeats, probes,
NODE_DOWN) are read, and show which brokers carry its messages.

**Multi-room emits.** An emit naming exactly one room (and no sid) is published once on that
room's topic: only nodes with members receive it. An emit naming two or more rooms is
published once on the namespace topic, and each node unions the rooms' local members (the
manager does); so a message is published once per emit, and each socket gets it exactly
once, with no "except rooms already delivered" bookkeeping, which a join racing between
copies would break. The cost: nodes without members in any of those rooms receive and drop
it. The classic Redis adapter makes the same choice.

**Publishing and back-pressure.** :meth:`ZmqBus.publish` is synchronous and never blocks. It
encodes (a bad message raises :class:`~tornio.bus.messages.BusMessageError` to the caller),
then sends at once with ``NOBLOCK`` on a PUB socket set to ``XPUB_NODROP``: when the queue
towards the broker holds ``hwm`` messages (the broker is slow or stalled) the send fails, and
the message is dropped, counted in ``stats.dropped_hwm`` and logged (at most once a second).
Order per publisher is kept: messages leave in ``publish`` order, or not at all. Messages
published before the bus is ready wait in a queue of at most ``max_pending`` messages and
``max_pending_bytes`` bytes (the overflow is dropped and counted the same way) and leave, in
order, the moment it is. :meth:`ZmqBus.encode` and :meth:`ZmqBus.send_encoded` split
``publish`` in two, so that a caller learns that a message cannot go before it acts on it
locally (the manager refuses an emit too large for the bus before any local member has it).
Messages published while the broker is down may be lost without a count: ZeroMQ queues some
for the reconnection (up to ``hwm``; past it they are counted as above) and drops others
silently.

**Bounds.** No topic longer than :data:`~tornio.bus.messages.MAX_TOPIC` bytes ever reaches
libzmq (subscriptions and messages alike: :class:`~tornio.bus.messages.BusMessageError`), no
payload longer than ``max_payload``. ZeroMQ counts its queues in messages, so each is
bounded by ``hwm`` × the largest message (``max_payload`` plus the topic): with the defaults
(1,000 messages, 1 MiB) a node's PUB queue and its SUB queue hold at most ~1 GiB each in the
worst case (every message the largest allowed), ~0.2 MB with 200-byte emits; the Python
queue of messages waiting for readiness holds at most ``max_pending_bytes`` (16 MiB).

**Readiness (slow joiners).** ``connect()`` returning proves nothing: a subscription takes a
round trip to reach the broker and then every publisher, and a PUB socket drops what nobody
has subscribed to yet. :meth:`ZmqBus.ready` therefore publishes a PROBE on the node's own
direct topic (every 10 ms, backing off to 0.5 s) until one comes back through the broker.
When it does, the broker has the node's subscriptions (all sent on one pipe, before the
direct one) and the node's PUB socket has the broker's subscriptions; the pending queue
leaves, then NODE_UP, and heartbeats start. Other publishers receive the broker's forwarded
subscription in the same instant as this node's PUB did, but nothing proves they have
processed it: a message they publish within that round trip may still miss this node.

**Node table.** A node enters the ``nodes`` table (node id → last seen, ``time.monotonic()``)
with its NODE_UP or a HEARTBEAT, and every message from it refreshes its entry (a message
from an unknown uid does not add one: cluster requests wait only for nodes that announced
themselves; a NODE_UP from a known node means it restarted, and requests waiting for its
answer stop waiting); HEARTBEAT goes out every ``heartbeat_interval``; a node unheard of for
``node_timeout`` vanishes, as does one that announces NODE_DOWN. A node answers NODE_UP with
a HEARTBEAT addressed to the newcomer, so that both know each other at once. A node's NODE_UP
and HEARTBEATs carry what it ``announce``\ s (a worker: the HTTP address where its host
takes connections, for websocket relays), kept in :meth:`ZmqBus.node_info`.

**Requests.** :meth:`ZmqBus.ask` (and :meth:`ZmqBus.request`, its answers only) publishes
a cluster request (FETCH_SESSIONS, SERVER_SIDE_EMIT, BROADCAST_WITH_ACKS) on the control topic
and gathers one answer per node in the table when it was sent (the requester answers itself,
locally, through the same handler, unless told not to), or what arrived within ``timeout``:
it never raises on a timeout, and logs and lists the nodes that did not answer. Nodes answer
through :meth:`ZmqBus.set_request_handler`; a SERVER_SIDE_EMIT without ``rid`` asks for no
answer and goes to the node's ``deliver``. :meth:`ZmqBus.request_node` asks one node on its direct
topic (HTTP_REQUEST: a request forwarded to its session's owner,
:mod:`tornio.transports.forwarding`; an owner not yet heard of is waited for, up to
``node_timeout``: :mod:`tornio.bus.arrivals`) and gives its answer or None;
:meth:`ZmqBus.send_node` sends one node a one-way message
(HTTP_ABORT); :meth:`ZmqBus.set_http_handler` says how this node answers both.

**Malformed input.** A message that fails :func:`~tornio.bus.messages.decode` is dropped,
counted in ``stats.dropped_malformed`` and logged (at most once a second); an exception from
the node's ``deliver`` is logged and counted in ``stats.deliver_errors``; the receive loop
carries on either way.

Everything runs on the event loop of the thread that starts the bus: call its methods from
there. The ZeroMQ context is created when the bus starts (so after any fork), every socket
is closed with linger 0, and a context the bus created is terminated by :meth:`close`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import zmq
import zmq.asyncio

from tornio.bus import messages
from tornio.bus.arrivals import Arrivals
from tornio.bus.base import BusNode, Message
from tornio.bus.messages import (
    EMITTER_UID,
    REQUEST_TYPES,
    RESPONSE_TYPES,
    BusMessageError,
    MessageType,
)
from tornio.bus.paths import BrokerPaths
from tornio.bus.requests import BusRequests, PendingRequest, RequestHandler
from tornio.bus.security import CurveClient
from tornio.bus.sequence import PathWatch, Sequencer, new_stream, stamp
from tornio.exceptions import LocalError

__all__ = ["DEFAULT_HWM", "BusStats", "RequestHandler", "ZmqBus"]

log = logging.getLogger("tornio.bus.zmq")

#: A node's PUB and SUB high-water marks, in messages (see "Bounds" in the module docstring).
DEFAULT_HWM = 1_000
_PROBE_FIRST, _PROBE_MAX = 0.01, 0.5
_LOG_EVERY = 1.0
#: Messages read from a SUB socket at once, before the loop's other tasks run.
_SLICE = 64
#: Send flags as plain ints (pyzmq's flag enums cost a few calls per use).
_NOBLOCK, _MORE = int(zmq.NOBLOCK), int(zmq.NOBLOCK | zmq.SNDMORE)


@dataclass
class BusStats:
    """Counters of one bus (they only grow)."""

    published: int = 0  #: messages handed to the PUB socket
    received: int = 0  #: well-formed messages read from the SUB socket (own echoes included)
    dropped_malformed: int = 0  #: frames that did not decode
    dropped_hwm: int = 0  #: messages dropped at the high-water mark or pending-queue limit
    deliver_errors: int = 0  #: exceptions from the node's ``deliver`` or the request handler
    duplicates: int = 0  #: copies of a message dropped (several brokers)
    failovers: int = 0  #: times another broker's path became the primary (several brokers)
    gaps: int = 0  #: times no broker carried this node's messages for ``node_timeout``
    published_in_gap: int = 0  #: messages published during a gap (lost)
    dropped_path: int = 0  #: copies one broker's queue refused while another took them

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _addresses(value: str | Sequence[str]) -> list[str]:
    """Broker addresses: a list, or one string separated by commas."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()]


class ZmqBus(BusRequests, BrokerPaths):
    """One node's connection to the bus (see the module docstring).

    Args:
        pub_address: the broker's XSUB endpoint, where this node's PUB socket connects;
            several brokers' (a list, or separated by commas).
        sub_address: the broker's XPUB endpoint, where this node's SUB socket connects;
            several brokers' (in the same order as ``pub_address``).
        node_id: this node's id (``uid``); by default the attached node's ``node_id``, or a
            random one if the bus starts before a node is attached.
        heartbeat_interval: seconds between heartbeats.
        node_timeout: seconds after which a silent node leaves the node table.
        max_payload: the largest payload frame sent or accepted, in bytes.
        hwm: the PUB and SUB sockets' high-water marks, in messages (see "Bounds").
        max_pending: how many messages may wait for the bus to be ready.
        max_pending_bytes: how many bytes (frames) may wait for the bus to be ready.
        namespaces: the namespaces whose namespace-wide messages this node wants (None: all).
        all_rooms: receive every room's messages too (a recovery store logs every emit).
        context: a ``zmq.asyncio.Context`` to share; by default the bus creates its own when
            it starts, and terminates it on close.
        curve: this node's CURVE keys and the broker's public key
            (:mod:`tornio.bus.security`); None: no security (one host). Several brokers
            share one key pair (each runs with the same ``broker.key_secret``).
        max_hold: seconds a message another broker delivered first may wait for the
            primary broker's copy before the node fails over (several brokers; default:
            ``node_timeout / 4``, at most 0.5).
    """

    def __init__(
        self,
        pub_address: str | Sequence[str],
        sub_address: str | Sequence[str],
        node_id: str | None = None,
        *,
        heartbeat_interval: float = 2.0,
        node_timeout: float = 5.0,
        max_payload: int = messages.MAX_PAYLOAD,
        hwm: int = DEFAULT_HWM,
        max_pending: int = 10_000,
        max_pending_bytes: int = 16 << 20,
        namespaces: Iterable[str] | None = None,
        all_rooms: bool = False,
        context: zmq.asyncio.Context | None = None,
        curve: CurveClient | None = None,
        announce: Mapping[str, Any] | None = None,
        max_hold: float | None = None,
    ) -> None:
        if node_id is not None:
            self._check_node_id(node_id)
        self.pub_addresses = _addresses(pub_address)
        self.sub_addresses = _addresses(sub_address)
        if len(self.pub_addresses) != len(self.sub_addresses) or not self.pub_addresses:
            raise LocalError("a bus needs as many pub addresses as sub addresses (one each)")
        self.pub_address = ",".join(self.pub_addresses)
        self.sub_address = ",".join(self.sub_addresses)
        paths = len(self.pub_addresses)
        if max_hold is None:
            max_hold = min(0.5, node_timeout / 4)
        #: Merges the brokers' copies (None with one broker: there are none).
        self._sequencer: Sequencer[list[bytes]] | None = (
            Sequencer(paths, max_hold=max_hold, stream_idle=max(60.0, 4 * node_timeout))
            if paths > 1 else None
        )
        self._watch = PathWatch(paths, node_timeout)
        self._stream = new_stream()
        #: How this node's own payloads start (after one byte): see _on_frames.
        self._own: bytes | None = None
        self._seq = 0
        self._expiry: asyncio.TimerHandle | None = None
        self.heartbeat_interval = heartbeat_interval
        self.node_timeout = node_timeout
        self.max_payload = max_payload
        self.hwm = hwm
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self._pending_bytes = 0
        self.curve = curve
        self.stats = BusStats()
        #: Seconds the last heartbeat took to come back through the broker (None before the
        #: first): the bus's lag, event loop delays included.
        self.round_trip: float | None = None
        self._heartbeat_sent = 0.0
        self._judged = 0.0  # when the others' silence was last judged (see _excuse_stall)
        self._node_id = node_id
        self._namespaces = None if namespaces is None else list(namespaces)
        self._all_rooms = all_rooms
        #: Called with a node's id when it leaves the table (left, timed out, restarted).
        self.on_node_lost: list[Callable[[str], None]] = []
        self._context = context
        self._own_context = context is None
        self._node: BusNode | None = None
        self._pub: zmq.Socket[bytes] | None = None  # the first broker's (tests look at it)
        self._sub: zmq.asyncio.Socket | None = None
        self._pubs: list[zmq.Socket[bytes]] = []
        self._subs: list[zmq.asyncio.Socket] = []
        self._rooms: set[bytes] = set()
        self._pending: deque[list[bytes]] = deque()
        self._nonce = secrets.token_hex(8)
        self._ready = asyncio.Event()
        self._flowing = False
        self._started = False
        self._closed = False
        self._leaving: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._nodes: dict[str, float] = {}
        #: Requests waiting for a node not yet heard of; the nodes that left.
        self.arrivals = Arrivals()
        #: What this node tells the others in its NODE_UP and HEARTBEATs.
        self.announce: dict[str, Any] = dict(announce or {})
        self._info: dict[str, dict[str, Any]] = {}
        self._requests: dict[int, PendingRequest] = {}
        self._next_rid = 0
        self._handler: RequestHandler | None = None
        self._node_handlers: dict[MessageType, RequestHandler] = {}
        self._abort: Callable[[str], None] | None = None
        self._logged_at: dict[str, float] = {}

    # -- identity and state ------------------------------------------------------------------

    @staticmethod
    def _check_node_id(node_id: str) -> None:
        if not isinstance(node_id, str) or not 0 < len(node_id) <= messages.MAX_NODE_ID:
            raise LocalError(f"a node id is 1 to {messages.MAX_NODE_ID} characters")
        if node_id == EMITTER_UID:
            raise LocalError(f"{EMITTER_UID!r} is reserved for external emitters")

    @property
    def node_id(self) -> str:
        """This node's id (fixed the first time it is needed)."""
        if self._node_id is None:
            self._node_id = secrets.token_hex(8)
        return self._node_id

    @property
    def nodes(self) -> dict[str, float]:
        """The other live nodes: node id → when last heard of (``time.monotonic()``)."""
        self._prune()
        return dict(self._nodes)

    @property
    def is_ready(self) -> bool:
        """Ready (see :meth:`ready`), not closed, and not cut off from every broker."""
        return self._flowing and not self._closed and self._watch.gap_since is None

    @property
    def paths(self) -> int:
        """How many brokers this node uses."""
        return len(self.pub_addresses)

    def live_paths(self) -> list[int]:
        """The brokers (indexes in ``pub_addresses``) on which this node's own heartbeats
        came back within ``node_timeout``."""
        return self._watch.live(time.monotonic())

    # -- the Bus protocol ----------------------------------------------------------------------

    def attach(self, node: BusNode) -> None:
        """Carry this node's messages; start the bus if an event loop is running (otherwise
        :meth:`ready` starts it).

        Raises:
            LocalError: another node is attached, or ``node.node_id`` is not this bus's id.
        """
        if self._node is not None and self._node is not node:
            raise LocalError("a ZmqBus carries one node")
        if self._node_id is None:
            self._check_node_id(node.node_id)
            self._node_id = node.node_id
        elif node.node_id != self._node_id:
            raise LocalError(f"node id {node.node_id!r} is not this bus's {self._node_id!r}")
        self._node = node
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._start()

    def detach(self, node: BusNode) -> None:
        """Stop delivering to the node (the sockets stay open until :meth:`close`)."""
        if self._node is node:
            self._node = None

    def publish(self, message: Message) -> None:
        """Send a message to the other nodes: synchronous, never blocks (see the module
        docstring for what happens at the high-water mark). ``v`` and ``uid`` are filled in
        if missing.

        Raises:
            BusMessageError: the message breaks the schema, is too large, or has another
                node's ``uid``.
        """
        frames = self.encode(message)
        if self._closed:
            log.debug("bus closed: not publishing %r", message.get("type"))
            return
        self._send(frames)

    def encode(self, message: Message) -> list[bytes]:
        """The frames :meth:`publish` would send (``v`` and ``uid`` filled in if missing).

        Raises:
            BusMessageError: see :meth:`publish`.
        """
        message = {"v": messages.VERSION, "uid": self.node_id, **message}
        if message["uid"] != self.node_id:
            raise BusMessageError(f"uid {message['uid']!r} is not this node's")
        return messages.encode(message, max_payload=self.max_payload)

    def send_encoded(self, frames: list[bytes]) -> None:
        """Send what :meth:`encode` gave, as :meth:`publish` does.

        Raises:
            BusMessageError: not two frames of bytes (what :meth:`encode` gives).
        """
        if len(frames) != 2 or type(frames[0]) is not bytes or type(frames[1]) is not bytes:
            raise BusMessageError("send_encoded takes the two frames encode() gives")
        if self._closed:
            log.debug("bus closed: not publishing a message")
            return
        self._send(frames)

    def subscribe(self, node: BusNode, namespace: str, room: str) -> None:
        """Receive the room's messages (idempotent).

        Raises:
            BusMessageError: the room's topic is longer than
                :data:`~tornio.bus.messages.MAX_TOPIC` bytes.
        """
        topic = messages.room_topic(namespace, room)
        if topic not in self._rooms:
            self._rooms.add(topic)
            for sub in self._subs:
                sub.subscribe(topic)

    def subscribe_sid_rooms(self, namespace: str) -> None:
        """Receive the messages of every room of ``namespace`` named by a socket id of this
        node (each socket is in the room named by its id): one prefix subscription, not one
        per socket (idempotent)."""
        topic = messages.sid_rooms_prefix(namespace, self.node_id)
        if topic not in self._rooms:
            self._rooms.add(topic)
            for sub in self._subs:
                sub.subscribe(topic)

    def unsubscribe(self, node: BusNode, namespace: str, room: str) -> None:
        """Stop receiving the room's messages (idempotent).

        Raises:
            BusMessageError: the room's topic is longer than
                :data:`~tornio.bus.messages.MAX_TOPIC` bytes (it was never subscribed).
        """
        topic = messages.room_topic(namespace, room)
        if topic in self._rooms:
            self._rooms.discard(topic)
            for sub in self._subs:
                sub.unsubscribe(topic)

    # -- starting and stopping ---------------------------------------------------------------

    def _start(self) -> None:
        if self._closed:
            raise LocalError("the bus is closed")
        if self._started:
            return
        self._started = True
        if self._context is None:
            self._context = zmq.asyncio.Context()
        context = self._context
        prefixes = (
            [messages.namespace_topic()]
            if self._namespaces is None
            else [messages.namespace_topic(nsp) for nsp in self._namespaces]
        )
        if self._all_rooms:
            prefixes.append(messages.room_topic_prefix())
        # The direct topic goes last: the probe that comes back on it proves the rest.
        topics = [messages.CONTROL_TOPIC, *prefixes, *self._rooms,
                  messages.direct_topic(self.node_id)]
        self._own = messages.own_prefix(self.node_id)
        several = self.paths > 1
        try:
            for pub_address, sub_address in zip(self.pub_addresses, self.sub_addresses,
                                                strict=True):
                sub = context.socket(zmq.SUB)
                self._subs.append(sub)
                sub.setsockopt(zmq.LINGER, 0)
                sub.setsockopt(zmq.RCVHWM, self.hwm)
                if several:
                    self._heartbeats(sub)
                if self.curve is not None:
                    self.curve.apply(sub)
                for topic in topics:
                    sub.subscribe(topic)
                sub.connect(sub_address)
                # A plain socket: it is only ever sent to, with NOBLOCK, from the loop's thread.
                pub: zmq.Socket[bytes] = zmq.Socket(context, zmq.PUB)
                self._pubs.append(pub)
                pub.setsockopt(zmq.LINGER, 0)
                pub.setsockopt(zmq.SNDHWM, self.hwm)
                pub.setsockopt(zmq.XPUB_NODROP, 1)  # at the HWM, send raises Again: counted
                if several:  # no queue for a broker that is down: the others carry it
                    pub.setsockopt(zmq.IMMEDIATE, 1)
                    self._heartbeats(pub)
                if self.curve is not None:
                    self.curve.apply(pub)
                pub.connect(pub_address)
        except BaseException:
            self._close_sockets()
            self._started = False
            raise
        self._pub, self._sub = self._pubs[0], self._subs[0]
        for path, sub in enumerate(self._subs):
            self._spawn(self._receive_loop(sub, path))
        self._spawn(self._probe_loop())

    async def ready(self, timeout: float = 5.0) -> None:
        """Return once this node's subscriptions are proven to be in place (see the module
        docstring); start the bus if needed.

        Raises:
            TimeoutError: no probe came back within ``timeout`` seconds (the bus keeps
                trying: a later ``ready()`` may succeed).
            LocalError: the bus is closed.
        """
        self._start()
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"bus not ready after {timeout} s: is a broker at {self.pub_address} and "
                f"{self.sub_address}?"
            ) from None
        if self._closed:
            raise LocalError("the bus is closed")

    async def close(self, *, announce: bool = True, timeout: float = 1.0) -> None:
        """Leave the bus: publish NODE_DOWN and wait (up to ``timeout``) until it has come
        back through the broker, so the other nodes have it; then stop every task and close
        the sockets with linger 0. ``announce=False`` leaves silently, as a crash would.
        Pending requests return what they have. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if announce and self._flowing and self._pubs:
            self._leaving = asyncio.Event()
            down = messages.make_message(MessageType.NODE_DOWN, "", {}, uid=self.node_id)
            if self._send_now(messages.encode(down)):
                try:
                    await asyncio.wait_for(self._leaving.wait(), timeout)
                except asyncio.TimeoutError:
                    log.warning("NODE_DOWN not confirmed by the broker within %s s", timeout)
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for request in self._requests.values():
            request.done.set()
        self.arrivals.close()
        self._pending.clear()
        self._pending_bytes = 0
        self._ready.set()  # wake ready() waiters: they raise LocalError
        self._close_sockets()

    def _close_sockets(self) -> None:
        for socket in [*self._pubs, *self._subs]:
            socket.close(linger=0)
        self._pubs.clear()
        self._subs.clear()
        self._pub = self._sub = None
        if self._own_context and self._context is not None:
            self._context.term()
            self._context = None

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _probe_loop(self) -> None:
        probe = messages.encode(
            messages.make_message(
                MessageType.PROBE,
                "",
                {"nonce": self._nonce},
                uid=self.node_id,
                dst=self.node_id,
            )
        )
        delay = _PROBE_FIRST
        while not self._ready.is_set():
            self._send_now(probe, count_drop=False)
            try:
                await asyncio.wait_for(self._ready.wait(), delay)
            except asyncio.TimeoutError:
                delay = min(delay * 2, _PROBE_MAX)

    def _on_probe(self, path: int) -> None:
        if self._flowing:
            return
        if self._sequencer is not None:  # the first broker proven: the primary
            self._deliver_frames(self._sequencer.switch(path, time.monotonic(), failover=False))
        pending, self._pending = self._pending, deque()
        self._pending_bytes = 0
        for frames in pending:
            self._send_now(frames)
        self._flowing = True
        self._ready.set()
        log.info("bus node %s ready (%s, %s)", self.node_id, self.pub_address, self.sub_address)
        self._publish_control(MessageType.NODE_UP)
        self._spawn(self._heartbeat_loop())

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            self._heartbeat_sent = time.monotonic()
            self._publish_control(MessageType.HEARTBEAT)
            self._prune()
            self._check_paths()

    def _publish_control(self, kind: MessageType, dst: str | None = None) -> None:
        data = self.announce if kind in (MessageType.NODE_UP, MessageType.HEARTBEAT) else {}
        self._send(messages.encode(messages.make_message(kind, "", data, uid=self.node_id,
                                                         dst=dst)))

    def node_info(self, uid: str) -> dict[str, Any] | None:
        """What a live node announced (None: not in the table, or it announced nothing)."""
        return self._info.get(uid) if uid in self._nodes else None

    # -- sending ---------------------------------------------------------------------------

    def _send(self, frames: list[bytes]) -> None:
        if self._closed:
            return
        if self._flowing:
            self._send_now(frames)
            return
        size = sum(map(len, frames))
        if (len(self._pending) < self.max_pending
                and self._pending_bytes + size <= self.max_pending_bytes):
            self._pending.append(frames)
            self._pending_bytes += size
        else:
            self.stats.dropped_hwm += 1
            self._log_limited(
                "pending",
                "bus not ready and %d messages (%d bytes) waiting: dropped one (%d dropped "
                "so far)",
                len(self._pending),
                self._pending_bytes,
                self.stats.dropped_hwm,
            )

    def _send_now(self, frames: list[bytes], count_drop: bool = True) -> bool:
        """Hand the message to every broker's PUB socket (stamped when there are several):
        True if one took it."""
        pubs = self._pubs
        if not pubs:
            return False
        topic, payload = frames[0], frames[1]
        if len(topic) > messages.MAX_TOPIC:  # the last guard before libzmq, whoever encoded
            messages.check_topic(topic)
        if self._sequencer is None:  # one broker: no copies to tell apart, no stamp
            parts = frames
        else:
            self._seq += 1
            parts = [topic, payload, stamp(self._stream, self._seq)]
        last = len(parts) - 1
        taken = 0
        for pub in pubs:
            try:
                # What send_multipart does, without its per-frame checks (bytes, checked
                # above) and flag arithmetic: ZeroMQ refuses (Again) only a first frame.
                for part in parts[:last]:
                    pub.send(part, _MORE)
                pub.send(parts[last], _NOBLOCK)
            except zmq.Again:
                continue
            except zmq.ZMQError as exc:
                log.error("bus publish failed: %s", exc)
                continue
            taken += 1
        if not taken:
            if count_drop:
                self.stats.dropped_hwm += 1
                self._log_limited(
                    "hwm",
                    "bus high-water mark (%d) reached: dropped a message (%d dropped so far)",
                    self.hwm,
                    self.stats.dropped_hwm,
                )
            return False
        if taken < len(pubs) and count_drop:
            self.stats.dropped_path += len(pubs) - taken
        if self._watch.gap_since is not None:
            self.stats.published_in_gap += 1
        self.stats.published += 1
        return True

    def _log_limited(self, key: str, fmt: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._logged_at.get(key, -_LOG_EVERY) >= _LOG_EVERY:
            self._logged_at[key] = now
            log.warning(fmt, *args)

    # -- receiving -------------------------------------------------------------------------

    async def _receive_loop(self, sub: zmq.asyncio.Socket, path: int) -> None:
        """Await a message, then read what else is queued without awaiting (each await costs
        a future and several socket-option reads), :data:`_SLICE` at most, then let the
        other tasks run before reading on."""
        queued: zmq.Socket[bytes] = zmq.Socket.shadow(sub.underlying)
        on_frames = self._on_frames
        while True:
            try:
                frames = await sub.recv_multipart()
                on_frames(path, frames)
                for _ in range(_SLICE - 1):
                    try:
                        frames = queued.recv_multipart(_NOBLOCK)
                    except zmq.Again:
                        break
                    on_frames(path, frames)
                else:
                    await asyncio.sleep(0)
            except zmq.ZMQError as exc:
                if not self._closed:
                    log.error("bus receive loop stopped: %s", exc)
                return

    def _handle(self, frames: list[bytes], path: int = 0) -> None:
        try:
            message = messages.decode(frames, max_payload=self.max_payload)
        except BusMessageError as exc:
            self.stats.dropped_malformed += 1
            self._log_limited("malformed", "dropped a malformed bus message (%d so far): %s",
                              self.stats.dropped_malformed, exc)
            return
        self.stats.received += 1
        uid, kind = message["uid"], message["type"]
        if uid == self.node_id:  # our own, back through the broker
            if kind is MessageType.PROBE and message["data"]["nonce"] == self._nonce:
                self._on_probe(path)
            elif kind is MessageType.NODE_DOWN and self._leaving is not None:
                self._leaving.set()
            elif kind is MessageType.HEARTBEAT and "dst" not in message and self._heartbeat_sent:
                self.round_trip = time.monotonic() - self._heartbeat_sent
            return
        if uid != EMITTER_UID:
            if kind in (MessageType.NODE_UP, MessageType.HEARTBEAT) and message["data"]:
                self._info[uid] = message["data"]
            if kind is MessageType.NODE_DOWN:
                if self._nodes.pop(uid, None) is not None:
                    log.info("bus node %s left", uid)
                self._forget_node(uid)
                return
            if uid in self._nodes:
                self._nodes[uid] = time.monotonic()
                if kind is MessageType.NODE_UP:
                    # A known node announces itself again: it was restarted (a worker keeps
                    # its id), and what was asked of the one that died will never be answered.
                    log.info("bus node %s restarted", uid)
                    self._forget_node(uid)
            elif kind in (MessageType.NODE_UP, MessageType.HEARTBEAT):
                # Only a node's own announcements enter it in the table: a stray message
                # with an unknown uid must not make cluster requests wait for an answer.
                log.info("bus node %s joined", uid)
                self._nodes[uid] = time.monotonic()
                self.arrivals.joined(uid)
        if kind is MessageType.NODE_UP:
            self._publish_control(MessageType.HEARTBEAT, dst=uid)
        elif kind in REQUEST_TYPES:
            if "rid" in message:
                self._answer(message)
            else:  # a one-way SERVER_SIDE_EMIT
                self._deliver(message)
        elif kind in RESPONSE_TYPES:
            self._on_response(message)
        elif kind in messages.SOCKET_OPERATIONS or kind is MessageType.RECOVERY_SESSION:
            self._deliver(message)
        elif kind is MessageType.HTTP_ABORT:
            self._on_abort(message["data"]["id"])

    def _deliver(self, message: Message) -> None:
        node = self._node
        if node is None:
            return
        try:
            node.deliver(message)
        except Exception:
            self.stats.deliver_errors += 1
            log.exception(
                "bus node %s failed to deliver a %s message", self.node_id, message["type"].name
            )

    def _prune(self) -> None:
        self._excuse_stall()
        deadline = time.monotonic() - self.node_timeout
        for uid, seen in list(self._nodes.items()):
            if seen < deadline:
                del self._nodes[uid]
                log.warning("bus node %s timed out (silent for %.1f s)", uid, self.node_timeout)
                self._forget_node(uid)

    def _forget_node(self, uid: str) -> None:
        if uid not in self._nodes:
            self._info.pop(uid, None)
            self.arrivals.left(uid)
        for request in self._requests.values():
            request.expected.discard(uid)
            request.check()
        for callback in self.on_node_lost:
            try:
                callback(uid)
            except Exception:
                log.exception("node-lost callback failed for %s", uid)
