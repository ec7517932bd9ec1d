"""The namespaces of the dispatch tests (``tests/test_dispatch_*.py``): event names, handlers
registered every way, and a catch-all. Each handler acks with which handler it is.

* ``/names``: ``@event`` for names that are no identifiers (``user/login``, ``ünïcode``,
  ``1st``, ``with space``) and for four names that differ by a separator only (``a-b``,
  ``a.b``, ``a:b``, ``a b``), beside ``on_a_b`` and ``on_user_login`` (which only their
  identifiers reach); ``Names.on`` and ``@Names.on`` registrations; an ``async`` handler
  for two names;
* ``/personal``: ``/names`` plus an instance registration, made in ``recv_connect``, that
  wins over the class's for ``a-b``, and an instance catch-all;
* ``/catchall``: a class catch-all (``@event('*')``) beside ``on_known``.

:func:`middleware_namespaces` makes the namespaces of the middleware tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tornio import BaseNamespace, ConnectionRefused, EventRefused, event

__all__ = ["CatchAll", "Names", "Personal", "Trail", "middleware_namespaces", "namespaces"]


class Names(BaseNamespace):
    @event("user/login")
    def login(self, *args: Any) -> tuple[Any, ...]:
        return "login", list(args)

    @event("ünïcode")
    def unicode_name(self) -> str:
        return "unicode"

    @event("1st")
    def first(self) -> str:
        return "first"

    @event("with space")
    def with_space(self) -> str:
        return "with space"

    @event("a-b")
    def dash(self) -> str:
        return "a-b"

    @event("a.b")
    def dot(self) -> str:
        return "a.b"

    @event("a:b")
    def colon(self) -> str:
        return "a:b"

    @event("a b")
    def space(self) -> str:
        return "a b"

    def on_a_b(self) -> str:
        return "on_a_b"

    def on_user_login(self) -> str:
        return "on_user_login"

    @event("chat:message", "chat.message")
    async def chat(self, text: str) -> tuple[str, str]:
        await asyncio.sleep(0)
        return "chat", text


def class_registered(namespace: Names, value: Any) -> tuple[str, Any, str]:
    return "Names.on", value, namespace.ns_name


Names.on("class/on", class_registered)


@Names.on("class/decorated")
def class_decorated(namespace: Names, value: Any) -> tuple[str, Any]:
    return "@Names.on", value


class Personal(Names):
    def recv_connect(self) -> None:
        self.on("a-b", self.mine)
        self.on("*", self.anything)

    def mine(self) -> str:
        return "instance a-b"

    def anything(self, event: str, *args: Any) -> tuple[str, str, list[Any]]:
        return "instance catch-all", event, list(args)


class CatchAll(BaseNamespace):
    @event("*")
    def anything(self, event: str, *args: Any) -> tuple[str, str, list[Any]]:
        return "caught", event, list(args)

    def on_known(self) -> str:
        return "known"


def namespaces() -> dict[str, type[BaseNamespace]]:
    return {"/names": Names, "/personal": Personal, "/catchall": CatchAll}


# -- middlewares and hooks (tests/test_dispatch_middleware.py) -------------------------------


class Trail:
    """What the middlewares and hooks of :func:`middleware_namespaces` saw, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []
        self.refused: list[EventRefused] = []
        self._changed = asyncio.Event()

    def add(self, *entry: Any) -> None:
        self.seen.append(entry)
        self._changed.set()

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [entry for entry in self.seen if entry[0] == kind]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async def until() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)


def middleware_namespaces(trail: Trail) -> tuple[dict[str, type[BaseNamespace]], list[Any]]:
    """Fresh classes (class registrations must not outlive a test), and the server-wide
    middlewares for ``Router(middlewares=)``.

    * every namespace: ``server_mw`` refuses auth ``{"token": "bad"}`` with a message and
      data, and records itself;
    * ``/guarded``: ``Base.use`` (sync, records) then ``Guarded.use`` (async: refuses
      ``{"token": "late"}``, returns False for ``{"token": "false"}``, raises a bug for
      ``{"token": "bug"}``, else stores the user in the session);
    * ``/filtered``: a class packet middleware (async: refuses ``forbidden``, returns False
      for ``falsy``, uppercases the first argument of ``shout``) and one per instance
      (refuses ``mine-only``), ``recv_any`` and ``recv_any_outgoing`` recording, and
      ``recv_refused`` answering with an ``refused`` event.
    """

    def server_mw(namespace: BaseNamespace) -> None:
        trail.add("mw", "server", namespace.ns_name)
        if namespace.auth.get("token") == "bad":
            raise ConnectionRefused("not authorized", {"code": 401})

    class Base(BaseNamespace):
        def recv_connect(self) -> None:
            trail.add("recv_connect", self.ns_name, self.session.get("user"))

        def on_whoami(self) -> Any:
            return self.session.get("user")

    @Base.use
    def base_mw(namespace: BaseNamespace) -> None:
        trail.add("mw", "base", namespace.ns_name)

    class Guarded(Base):
        pass

    async def guarded_mw(namespace: BaseNamespace) -> Any:
        await asyncio.sleep(0)
        token = namespace.auth.get("token")
        trail.add("mw", "guarded", namespace.ns_name)
        if token == "late":
            raise ConnectionRefused("refused late", {"why": "async"})
        if token == "false":
            return False
        if token == "bug":
            raise RuntimeError("a bug in a middleware")
        namespace.session["user"] = token
        return None

    Guarded.use(guarded_mw)

    class Filtered(Base):
        def recv_connect(self) -> None:
            self.use_packets(self.mine_only)

        def mine_only(self, namespace: BaseNamespace, event: str, args: list[Any]) -> None:
            trail.add("packet", "instance", event)
            if event == "mine-only":
                raise EventRefused("not for you", {"event": event})

        def recv_any(self, event: str, *args: Any) -> None:
            trail.add("any", event, list(args))

        def recv_any_outgoing(self, event: str, *args: Any) -> None:
            trail.add("outgoing", event, list(args))

        def recv_refused(self, error: EventRefused) -> None:
            trail.refused.append(error)
            trail.add("refused", error.event, error.event_args)
            self.emit("refused", error.event, error.message, error.data)

        def on_echo(self, *args: Any) -> tuple[Any, ...]:
            trail.add("handler", "echo")
            return args

        def on_forbidden(self) -> str:
            trail.add("handler", "forbidden")
            return "should not run"

        def on_falsy(self) -> str:
            trail.add("handler", "falsy")
            return "should not run"

        @event("mine-only")
        def mine(self) -> str:
            trail.add("handler", "mine-only")
            return "should not run"

        def on_shout(self, text: str) -> str:
            return text

        def on_talk(self) -> None:
            self.emit("told", 1)
            self.send("plain")

        async def on_ask(self) -> Any:
            return await self.call("question", timeout=5)

        def on_everyone(self, text: str) -> None:
            self.socket.manager.emit("news", text, namespace=self.ns_name)

    async def class_packets(namespace: BaseNamespace, event: str, args: list[Any]) -> Any:
        await asyncio.sleep(0)
        trail.add("packet", "class", event)
        if event == "forbidden":
            raise EventRefused("forbidden event", {"code": 403})
        if event == "falsy":
            return False
        if event == "shout":
            args[0] = str(args[0]).upper()
        return None

    Filtered.use_packets(class_packets)
    return {"/guarded": Guarded, "/filtered": Filtered, "/plain": Base}, [server_mw]
