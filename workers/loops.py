"""Which asyncio event loop ``tornio serve`` runs its processes on: ``--loop``.

* ``asyncio``: the standard library's loop.
* ``uvloop``: `uvloop <https://github.com/MagicStack/uvloop>`_ (libuv; ``pip install
  'tornio[speed]'``), faster at what tornio spends its time on: socket reads and writes,
  timers, ``add_reader`` for the bus. Tornado runs on it unchanged (it is an asyncio loop).
* ``auto`` (the default): uvloop when it is installed, else asyncio.

An application module that starts with gevent's ``monkey.patch_all()`` (as gevent-socketio
applications did) runs on asyncio's loop, which works over gevent's patched ``selectors``,
sockets and threads; uvloop does not run on gevent's patched threads, so ``auto`` takes
asyncio then, and ``--loop uvloop`` is refused at start with one line saying why.

The supervisor resolves the choice once and passes the result to every process it runs, so
all of them run the same loop, and a ``--loop uvloop`` without uvloop installed is refused
before anything starts.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from tornio.exceptions import TornioError

__all__ = ["LOOPS", "LoopError", "gevent_patched", "resolve", "run"]

#: What ``--loop`` accepts.
LOOPS = ("auto", "asyncio", "uvloop")

T = TypeVar("T")


class LoopError(TornioError):
    """The loop asked for cannot run here."""


def uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def gevent_patched() -> bool:
    """Whether gevent's ``monkey.patch_all()`` (its threading part) ran in this process: the
    application's module called it when it was imported."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


def resolve(name: str) -> str:
    """``asyncio`` or ``uvloop`` for a ``--loop`` value (after the application was imported:
    see :func:`gevent_patched`).

    Raises:
        LoopError: an unknown name, or ``uvloop`` when it is not installed or gevent patched
            the process.
    """
    if name not in LOOPS:
        raise LoopError(f"unknown event loop {name!r} (choose from {', '.join(LOOPS)})")
    if name == "auto":
        return "uvloop" if uvloop_installed() and not gevent_patched() else "asyncio"
    if name == "uvloop" and not uvloop_installed():
        raise LoopError("--loop uvloop: uvloop is not installed (pip install 'tornio[speed]')")
    if name == "uvloop" and gevent_patched():
        raise LoopError(
            "--loop uvloop: the application called gevent's monkey.patch_all(), and uvloop "
            "cannot run on gevent's threads: use --loop asyncio (or auto)"
        )
    return name


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A function making a new loop of the resolved kind ``name``."""
    if resolve(name) == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(coro: Coroutine[Any, Any, T], name: str = "asyncio") -> T:
    """``asyncio.run(coro)`` on the loop ``name`` (see the module docstring)."""
    factory = loop_factory(name)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coro)
    loop = factory()  # Python 3.10: no Runner
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
