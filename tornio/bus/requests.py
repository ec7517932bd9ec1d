"""Requests and answers between bus nodes: the half of :class:`~tornio.bus.zmq.ZmqBus` that
asks every node (``request``, ``ask``) or one (``request_node``), and answers what others ask.
It uses only the ZmqBus attributes declared at the top of :class:`BusRequests`."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tornio.bus import messages
from tornio.bus.arrivals import Arrivals
from tornio.bus.base import Answers, Message
from tornio.bus.messages import REQUEST_TYPES, BusMessageError, MessageType
from tornio.exceptions import LocalError

__all__ = ["BusRequests", "PendingRequest", "RequestHandler"]

log = logging.getLogger("tornio.bus.zmq")

#: ``fn(type, nsp, data) -> answer data`` (a map; None for no answer), or a coroutine giving it.
RequestHandler = Callable[
    [MessageType, str, dict[str, Any]],
    "dict[str, Any] | Awaitable[dict[str, Any] | None] | None",
]


@dataclass
class PendingRequest:
    """One request this node sent, until its answers are in: the nodes it waits for and
    what they answered."""

    expected: set[str]
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def check(self) -> None:
        if self.expected <= self.answers.keys():
            self.done.set()



class BusRequests:
    """Mixed into :class:`~tornio.bus.zmq.ZmqBus`."""

    max_payload: int
    node_timeout: float
    arrivals: Arrivals
    stats: Any
    _closed: bool
    _flowing: bool
    _next_rid: int
    _requests: dict[int, PendingRequest]
    _handler: RequestHandler | None
    _node_handlers: dict[MessageType, RequestHandler]
    _abort: Callable[[str], None] | None

    if TYPE_CHECKING:  # what ZmqBus provides

        @property
        def node_id(self) -> str: ...

        @property
        def nodes(self) -> dict[str, float]: ...

        @property
        def is_ready(self) -> bool: ...

        def _start(self) -> None: ...

        def _send(self, frames: list[bytes]) -> None: ...

        def publish(self, message: Message) -> None: ...

        def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...

        def _log_limited(self, key: str, fmt: str, *args: Any) -> None: ...

    # -- requests --------------------------------------------------------------------------

    def set_request_handler(self, handler: RequestHandler | None) -> None:
        """How this node answers cluster requests (FETCH_SESSIONS): ``handler(type, nsp,
        data)`` returns the answer's data (a map), or a coroutine that does. None means no
        answer; an exception or something other than a map means no answer and a log line."""
        self._handler = handler

    def set_node_handler(self, kind: MessageType, handler: RequestHandler) -> None:
        """How this node answers one type of request addressed to it (RECOVERY_RESTORE):
        as :meth:`set_request_handler`'s handlers."""
        self._node_handlers[MessageType(kind)] = handler

    def set_http_handler(
        self,
        execute: Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]],
        abort: Callable[[str], None],
    ) -> None:
        """How this node answers forwarded HTTP requests (:mod:`tornio.transports.forwarding`):
        ``await execute(request)`` gives the response (None: no answer), ``abort(id)`` is
        called when the forwarding end's client left."""

        async def run(kind: MessageType, nsp: str, data: dict[str, Any]) -> Any:
            return await execute(data)

        self._node_handlers[MessageType.HTTP_REQUEST] = run
        self._abort = abort

    async def request(
        self,
        kind: MessageType,
        nsp: str,
        data: dict[str, Any],
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """The answers of :meth:`ask`."""
        return (await self.ask(kind, nsp, data, timeout)).answers

    async def ask(
        self,
        kind: MessageType,
        nsp: str,
        data: dict[str, Any],
        timeout: float = 5.0,
        *,
        include_self: bool = True,
        sender: str | None = None,
    ) -> Answers:
        """Ask every live node (this one too, answering locally, unless ``include_self`` is
        False) and gather their answers' data: one per node in the table when the request
        leaves, or those that arrived when ``timeout`` passes (the rest are logged and listed
        in ``missing``, never raised). A node that leaves or times out meanwhile is no longer
        waited for. This node's answer, if any, comes first. (``sender`` is for the
        in-process bus: here the asker is always this bus's node.)

        Raises:
            LocalError: ``kind`` is not a request type, or the bus is closed.
            BusMessageError: ``data`` cannot be encoded.
        """
        kind = MessageType(kind)
        if kind not in messages.CLUSTER_REQUESTS:
            raise LocalError(f"{kind.name} is not a request to every node")
        if self._closed:
            raise LocalError("the bus is closed")
        self._start()
        rid = self._next_rid
        self._next_rid += 1
        pending = PendingRequest(expected=set(self.nodes))
        pending.check()
        message = messages.make_message(kind, nsp, data, uid=self.node_id, rid=rid)
        frames = messages.encode(message, max_payload=self.max_payload)
        self._requests[rid] = pending
        local: asyncio.Future[dict[str, Any] | None] | None = None
        try:
            self._send(frames)
            remote = asyncio.ensure_future(pending.done.wait())
            waiting: set[asyncio.Future[Any]] = {remote}
            if include_self:
                local = asyncio.ensure_future(self._call_handler(kind, nsp, data))
                waiting.add(local)
            await asyncio.wait(waiting, timeout=timeout)
            for future in waiting:
                future.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
        finally:
            del self._requests[rid]
        missing = sorted(pending.expected - pending.answers.keys())
        if missing:
            log.warning("bus request %s %d: no answer from %s within %s s",
                        kind.name, rid, ", ".join(missing), timeout)
        answers = list(pending.answers.values())
        if local is not None:
            own = local.result() if local.done() and not local.cancelled() else None
            if own is not None:
                answers.insert(0, own)
            else:
                missing.insert(0, self.node_id)
                log.warning("bus request %s %d: this node did not answer itself", kind.name, rid)
        return Answers(answers, missing)

    async def request_node(
        self,
        node: str,
        kind: MessageType,
        data: dict[str, Any],
        timeout: float,
        nsp: str = "",
    ) -> dict[str, Any] | None:
        """Ask one node (an HTTP_REQUEST): its answer's data, or None if none came within
        ``timeout`` or the node left meanwhile. A node not in the node table is waited for
        (:mod:`tornio.bus.arrivals`), for at most ``node_timeout`` (within ``timeout``),
        unless it left it. Cancelling the call forgets the request (send the node an
        HTTP_ABORT to tell it).

        Raises:
            LocalError: ``kind`` is not a request to one node, or the bus is closed.
            BusMessageError: ``data`` cannot be encoded (e.g. it exceeds ``max_payload``).
        """
        kind = MessageType(kind)
        if kind not in messages.NODE_REQUESTS:
            raise LocalError(f"{kind.name} is not a request to one node")
        if self._closed:
            raise LocalError("the bus is closed")
        if node == self.node_id:
            try:
                return await asyncio.wait_for(self._call_handler(kind, nsp, data), timeout)
            except asyncio.TimeoutError:
                return None
        if self._flowing and node not in self.nodes:
            # Never heard of: a node that has just started may hand out session ids before
            # its announcements reach this node; wait for it, up to node_timeout. One that
            # left (or every node, when this one is cut off from every broker) would not
            # answer: not waited for.
            loop = asyncio.get_running_loop()
            started = loop.time()
            if not await self.arrivals.wait(node, min(timeout, self.node_timeout)):
                return None
            waited = loop.time() - started
            log.info("bus request %s waited %.3f s for %s to announce itself",
                     kind.name, waited, node)
            timeout -= waited
        self._start()
        rid = self._next_rid
        self._next_rid += 1
        message = messages.make_message(kind, nsp, data, uid=self.node_id, rid=rid, dst=node)
        frames = messages.encode(message, max_payload=self.max_payload)
        pending = PendingRequest(expected={node})
        self._requests[rid] = pending
        try:
            self._send(frames)
            try:
                await asyncio.wait_for(pending.done.wait(), timeout)
            except asyncio.TimeoutError:
                log.warning("bus request %s %d: no answer from %s within %s s",
                            kind.name, rid, node, timeout)
        finally:
            del self._requests[rid]
        return pending.answers.get(node)

    def send_node(self, node: str, kind: MessageType, data: dict[str, Any], nsp: str = "") -> None:
        """Publish a one-way message to one node (an HTTP_ABORT, an EMIT to a sid it owns).

        Raises:
            BusMessageError: the type is never addressed to one node, or ``data`` is bad.
        """
        if node == self.node_id and kind is MessageType.HTTP_ABORT:
            self._on_abort(data["id"])
            return
        self.publish(messages.make_message(kind, nsp, data, uid=self.node_id, dst=node))

    def _on_abort(self, request_id: str) -> None:
        if self._abort is None:
            return
        try:
            self._abort(request_id)
        except Exception:
            self.stats.deliver_errors += 1
            log.exception("bus abort handler failed on %s", request_id)

    async def _call_handler(
        self, kind: MessageType, nsp: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        handler = self._node_handlers.get(kind, self._handler)
        if handler is None:
            self._log_limited("handler", "bus node %s has no request handler: %s unanswered",
                              self.node_id, kind.name)
            return None
        try:
            result = handler(kind, nsp, data)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            self.stats.deliver_errors += 1
            log.exception("bus request handler failed on %s", kind.name)
            return None
        if result is None:
            return None
        if not isinstance(result, dict):
            self.stats.deliver_errors += 1
            log.error("bus request handler answered %s with %s, not a map",
                      kind.name, type(result).__name__)
            return None
        return result

    def _answer(self, message: Message) -> None:
        self._spawn(self._answer_task(message))

    async def _answer_task(self, message: Message) -> None:
        kind: MessageType = message["type"]
        answer = await self._call_handler(kind, message["nsp"], message["data"])
        if answer is None or self._closed:
            return
        response = messages.make_message(
            REQUEST_TYPES[kind],
            message["nsp"],
            answer,
            uid=self.node_id,
            rid=message["rid"],
            dst=message["uid"],
        )
        try:
            frames = messages.encode(response, max_payload=self.max_payload)
        except BusMessageError as exc:
            self.stats.deliver_errors += 1
            log.error("cannot answer bus request %s: %s", kind.name, exc)
            return
        self._send(frames)

    def _on_response(self, message: Message) -> None:
        pending = self._requests.get(message["rid"])
        if pending is None:
            log.debug("late answer %d from %s", message["rid"], message["uid"])
            return
        pending.answers[message["uid"]] = message["data"]
        pending.check()
