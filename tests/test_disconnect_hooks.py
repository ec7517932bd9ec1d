"""The disconnect hooks in memory (a real ``SocketManager``, 0.9 sockets on fake sinks, as
``tests/test_namespace.py``): every signature form gets what it can take, the ACL never
keeps a namespace from learning it ended, a failing hook does not stop the cleanup, a hook
that disconnects again changes nothing, and a stale instance cannot end its successor.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.support.memory_client import Client
from tornio import BaseNamespace, RoomsMixin
from tornio.core.socket import DISCONNECT_REASONS
from tornio.legacy.socket import LegacySocket
from tornio.manager import SocketManager
from tornio.modern.socket import ModernSocket
from tornio.settings import Settings

CALLS: list[tuple[str, str, Any]] = []


def record(name: str, nsp: str, what: Any = None) -> None:
    CALLS.append((name, nsp, what))


class WithReason(BaseNamespace):
    def recv_disconnect(self, reason: str) -> None:
        record("with_reason", self.ns_name, reason)


class Old(BaseNamespace):
    def recv_disconnect(self) -> None:
        record("old", self.ns_name)
        super().recv_disconnect()


class Star(BaseNamespace):
    def recv_disconnect(self, *args: Any) -> None:
        record("star", self.ns_name, args)


def logged(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


class DecoratedOld(BaseNamespace):
    @logged
    def recv_disconnect(self) -> None:
        record("decorated_old", self.ns_name)


class AsyncReason(BaseNamespace):
    async def recv_disconnect(self, reason: str) -> None:
        await asyncio.sleep(0)
        record("async", self.ns_name, reason)


class Restricted(BaseNamespace):
    def get_initial_acl(self) -> list[str]:
        return ["recv_connect"]

    def recv_disconnect(self, reason: str) -> None:
        record("restricted", self.ns_name, reason)


class Failing(BaseNamespace, RoomsMixin):
    def recv_connect(self) -> None:
        self.join("r")
        self.job = self.spawn(asyncio.Event().wait)

    def recv_disconnecting(self, reason: str) -> None:
        raise RuntimeError("boom in recv_disconnecting")

    def recv_disconnect(self, reason: str) -> None:
        record("failing", self.ns_name, reason)


class Again(BaseNamespace):
    def recv_disconnecting(self, reason: str) -> None:
        self.disconnect()  # not silent: it would send 0::/again if it did anything

    def recv_disconnect(self, reason: str) -> None:
        record("again", self.ns_name, reason)
        self.disconnect()


class Guarded(BaseNamespace):
    def exception_handler_decorator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any) -> Any:
            record("guarded", self.ns_name, fn.__name__)
            return fn(*args)

        return wrapper

    def recv_disconnect(self) -> None:
        pass


class Undecided(BaseNamespace):
    def initialize(self) -> None:
        self.decide: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.job = self.spawn(asyncio.Event().wait)

    async def recv_connect(self) -> bool:
        return await self.decide

    def recv_disconnect(self, reason: str) -> None:
        record("undecided", self.ns_name, reason)


NAMESPACES: dict[str, type[BaseNamespace]] = {
    "/with": WithReason,
    "/old": Old,
    "/star": Star,
    "/decorated": DecoratedOld,
    "/async": AsyncReason,
    "/restricted": Restricted,
    "/failing": Failing,
    "/again": Again,
    "/guarded": Guarded,
    "/undecided": Undecided,
}


@pytest.fixture
async def manager() -> AsyncIterator[SocketManager]:
    CALLS.clear()
    manager = SocketManager(NAMESPACES, Settings())
    yield manager
    manager.close_all()
    await asyncio.gather(*manager._background, return_exceptions=True)


async def test_each_signature_gets_what_it_takes(manager: SocketManager) -> None:
    client = Client(manager, "/with", "/old", "/star", "/decorated", "/async")
    client.send("0::")
    await asyncio.gather(*manager._background)
    assert sorted(CALLS, key=str) == sorted([
        ("with_reason", "/with", "client namespace disconnect"),
        ("old", "/old", None),
        ("star", "/star", ("client namespace disconnect",)),
        ("decorated_old", "/decorated", None),
        ("async", "/async", "client namespace disconnect"),
    ], key=str)


async def test_the_acl_does_not_keep_a_namespace_from_ending(manager: SocketManager) -> None:
    client = Client(manager, "/restricted")
    client.send("0::/restricted")
    assert CALLS == [("restricted", "/restricted", "client namespace disconnect")]
    assert "/restricted" not in client.socket
    assert client.take() == []  # no method_access_denied


@pytest.mark.server_errors(("tornio.socket", "handler for disconnect packet on '/failing' failed"))
async def test_a_failing_hook_is_logged_and_the_cleanup_goes_on(
    manager: SocketManager, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(manager, "/failing")
    failing = client.ns("/failing")
    client.socket.disconnect()
    assert CALLS == [("failing", "/failing", "server namespace disconnect")]
    assert "boom in recv_disconnecting" in caplog.text
    assert manager.rooms.room("/failing", "r") == {}
    await asyncio.wait([failing.job], timeout=2)
    assert failing.job.cancelled()


async def test_disconnecting_again_from_a_hook_changes_nothing(manager: SocketManager) -> None:
    client = Client(manager, "/again", "/with")
    client.send("0::/again")
    assert CALLS == [("again", "/again", "client namespace disconnect")]
    assert client.take() == []  # no 0::/again sent back
    assert "/with" in client.socket and client.socket.connected


async def test_exception_handler_decorator_wraps_the_hooks(manager: SocketManager) -> None:
    client = Client(manager, "/guarded")
    CALLS.clear()  # recv_connect's
    client.send("0::/guarded")
    assert CALLS == [
        ("guarded", "/guarded", "recv_disconnecting"),
        ("guarded", "/guarded", "recv_disconnect"),
    ]


async def test_a_stale_instance_cannot_end_its_successor(manager: SocketManager) -> None:
    client = Client(manager, "/with")
    stale = client.ns("/with")
    client.send("0::/with")
    client.send("1::/with")
    assert client.take() == ["1::/with"]
    fresh = client.ns("/with")
    stale.disconnect()
    assert client.socket["/with"] is fresh
    assert client.take() == []
    assert CALLS == [("with_reason", "/with", "client namespace disconnect")]


async def test_a_connection_not_accepted_yet_gets_no_hooks_but_loses_its_jobs(
    manager: SocketManager,
) -> None:
    client = Client(manager)
    client.send("1::/undecided")
    undecided = client.ns("/undecided")
    client.socket.disconnect()
    await asyncio.wait([undecided.job], timeout=2)
    assert undecided.job.cancelled()
    undecided.decide.set_result(True)  # too late: nothing is sent, nothing is called
    await asyncio.gather(*manager._background)
    assert CALLS == []



def test_every_close_reason_maps_to_one_of_nodes() -> None:
    for cls in (LegacySocket, ModernSocket):
        assert set(cls.disconnect_reasons.values()) <= DISCONNECT_REASONS, cls


async def test_an_unknown_close_reason_is_a_transport_error(manager: SocketManager) -> None:
    client = Client(manager, "/with")
    client.socket.close_session("something new")
    assert CALLS == [("with_reason", "/with", "transport error")]
