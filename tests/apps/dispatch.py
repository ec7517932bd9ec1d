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
"""

from __future__ import annotations

import asyncio
from typing import Any

from tornio import BaseNamespace, event

__all__ = ["CatchAll", "Names", "Personal", "namespaces"]


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
