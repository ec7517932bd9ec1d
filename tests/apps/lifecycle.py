"""The namespaces of the disconnect and ack tests (``tests/test_disconnect_*.py``,
``tests/test_acks_*.py``), recording every end of a namespace connection in a :class:`Record`.

* ``/life`` has the hooks in today's form: ``recv_disconnecting(reason)`` and
  ``recv_disconnect(reason)``;
* ``/old`` has gevent-socketio's ``recv_disconnect(self)`` (no reason), which calls
  ``super().recv_disconnect()`` and ``self.disconnect(silent=True)`` as old code does.

Both join room ``lobby`` when they connect; ``join`` joins another; ``leave_me`` disconnects
the namespace from the server (``self.disconnect()``), ``end_socket`` the whole socket
(``self.socket.disconnect()``); ``echo`` acks its arguments; ``ask_back`` awaits
``call("question")`` and acks with the answer.

:func:`start_waiting` gives a namespace a job, a ``call`` and an error-first callback the
client never answers; :func:`assert_ended` checks that a namespace ended once, for a reason,
and freed all three.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tornio import BaseNamespace, RoomsMixin
from tornio.exceptions import Disconnected
from tornio.manager import SocketManager

__all__ = [
    "Ending",
    "LifeNamespace",
    "OldStyleNamespace",
    "Record",
    "Waiting",
    "assert_alive",
    "assert_ended",
    "forever",
    "namespaces",
    "start_waiting",
]


@dataclass(frozen=True)
class Ending:
    """One call of a disconnect hook."""

    hook: str  # "disconnecting" or "disconnect"
    nsp: str
    sid: str
    reason: str | None  # None: the old recv_disconnect(self), which gets none
    rooms: tuple[str, ...]  # what self.rooms said then
    jobs: int  # the namespace's jobs still running then


class Record:
    """What the server saw (on the server's loop)."""

    def __init__(self) -> None:
        self.endings: list[Ending] = []
        #: (nsp, sid) → the namespace instance, from recv_connect on.
        self.instances: dict[tuple[str, str], BaseNamespace] = {}
        #: ``ask_back`` handlers cancelled while awaiting their call.
        self.cancelled_calls = 0
        self._changed = asyncio.Event()

    def connected(self, namespace: BaseNamespace) -> None:
        self.instances[(namespace.ns_name, namespace.sid)] = namespace
        self._changed.set()

    def ended(self, hook: str, namespace: Any, reason: str | None) -> None:
        self.endings.append(
            Ending(hook, namespace.ns_name, namespace.sid, reason,
                   tuple(sorted(namespace.rooms)), sum(not j.done() for j in namespace.jobs))
        )
        self._changed.set()

    def of(self, nsp: str, sid: str) -> list[Ending]:
        return [e for e in self.endings if (e.nsp, e.sid) == (nsp, sid)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async def until() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)


async def forever() -> None:
    """A job that only ends when it is cancelled."""
    await asyncio.Event().wait()


class RecordingNamespace(BaseNamespace, RoomsMixin):
    record: Record

    def recv_connect(self) -> None:
        self.join("lobby")
        self.record.connected(self)

    def on_join(self, room: str) -> list[str]:
        self.join(room)
        return sorted(self.rooms)

    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args

    async def on_ask_back(self) -> Any:
        """Asks the client ``question`` and acks with its answer."""
        try:
            return await self.call("question", timeout=None)
        except asyncio.CancelledError:
            self.record.cancelled_calls += 1
            self.record._changed.set()
            raise

    def on_leave_me(self) -> None:
        self.disconnect()

    def on_end_socket(self) -> None:
        self.socket.disconnect()

    def recv_disconnecting(self, reason: str) -> None:
        self.record.ended("disconnecting", self, reason)


class LifeNamespace(RecordingNamespace):
    def recv_disconnect(self, reason: str) -> None:
        self.record.ended("disconnect", self, reason)


class OldStyleNamespace(RecordingNamespace):
    def recv_disconnect(self) -> None:  # gevent-socketio's form
        self.record.ended("disconnect", self, None)
        BaseNamespace.recv_disconnect(self)
        self.disconnect(silent=True)


def namespaces(record: Record) -> dict[str, type[BaseNamespace]]:
    """``/life`` and ``/old``, both recording into ``record``."""
    return {
        "/life": type("Life", (LifeNamespace,), {"record": record}),
        "/old": type("Old", (OldStyleNamespace,), {"record": record}),
    }


# -- what the tests check -------------------------------------------------------------------


@dataclass
class Waiting:
    """What a namespace has going when it ends: a job, a ``call`` and an error-first
    callback, neither answered by the client."""

    namespace: BaseNamespace
    job: asyncio.Task[Any]
    call: asyncio.Task[Any]
    callback_got: list[tuple[Any, ...]] = field(default_factory=list)


def _ends_disconnected(call: asyncio.Task[Any]) -> None:
    """A call left waiting ends with Disconnected when its namespace does (assert_ended
    checks the reason where a test looks): retrieved here, so that asyncio does not report
    it as never retrieved; any other exception is an error, logged as one."""
    if call.cancelled():
        return
    error = call.exception()
    if error is not None and not isinstance(error, Disconnected):
        raise AssertionError(f"the waiting call failed with {error!r}")


def start_waiting(namespace: BaseNamespace) -> Waiting:
    """Spawn a job, start a ``call("hold", "call")`` and emit ``hold("callback")`` with an
    error-first callback; the client is to hold both acks."""
    call = asyncio.ensure_future(namespace.call("hold", "call", timeout=None))
    call.add_done_callback(_ends_disconnected)
    waiting = Waiting(namespace, namespace.spawn(forever), call)
    namespace.emit("hold", "callback", callback=lambda *a: waiting.callback_got.append(a),
                   timeout=30)
    return waiting


async def assert_ended(
    record: Record, manager: SocketManager, nsp: str, sid: str, waiting: Waiting, reason: str
) -> None:
    """``nsp`` ended once, for ``reason``, and everything it had going is freed."""
    await record.wait_for(lambda: len(record.of(nsp, sid)) >= 2)
    disconnecting, disconnect = record.of(nsp, sid)
    assert (disconnecting.hook, disconnecting.reason) == ("disconnecting", reason)
    # /old's recv_disconnect(self) is called without the reason; /life's with it.
    assert (disconnect.hook, disconnect.reason) == (
        "disconnect", reason if nsp == "/life" else None
    )
    assert disconnecting.rooms == ("lobby",)  # before the rooms are left
    assert disconnect.rooms == ()  # after
    assert disconnect.jobs == 1  # cancelled after recv_disconnect returns
    await asyncio.wait([waiting.job], timeout=2)
    assert waiting.job.cancelled()
    with pytest.raises(Disconnected) as raised:
        await asyncio.wait_for(waiting.call, 2)
    assert raised.value.reason == reason
    [(error,)] = waiting.callback_got
    assert isinstance(error, Disconnected) and error.reason == reason
    socket = waiting.namespace.socket
    assert [p for p in socket.ack_callbacks.values() if p.endpoint == nsp] == []
    assert sid not in manager.rooms.members(nsp)
    assert manager.rooms.room(nsp, "lobby").get(sid) is None


def assert_alive(record: Record, nsp: str, sid: str, waiting: Waiting) -> None:
    assert record.of(nsp, sid) == []
    assert not waiting.job.done() and not waiting.call.done()
    assert waiting.callback_got == []
