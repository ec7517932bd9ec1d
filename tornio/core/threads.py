"""Blocking handlers: plain (``def``) handlers, hooks and spawned functions on threads, so that
code written for gevent (``time.sleep`` loops, ORM queries) does not stall the event loop.

* **What runs on a thread.** In a namespace class with ``blocking = True`` (the
  gevent-socketio-compatible ``tornio.namespace.BaseNamespace`` sets it; tornio's own
  ``BaseNamespace`` does not), the plain ``on_*``, ``@event`` and ``on()`` handlers, the
  ``recv_*`` hooks but ``recv_disconnecting``, the callbacks of the client's acks and the
  plain functions given to ``spawn``. ``async def`` functions, and tornio's own code (the
  default hooks), run on the loop. ``@blocking`` sends one function of any namespace to a
  thread, ``@nonblocking`` keeps one on the loop (:func:`wants_thread`).
* **Order.** A socket's handlers go through its :class:`SerialQueue`, whatever their
  namespace: one at a time, in the order the packets came, and the next one starts only once
  the previous one's result is back on the loop (so its ack goes out first). A socket's
  queue is bounded by its input backpressure: each queued handler is an ``async`` one for
  :mod:`tornio.core.fairness`, which stops reading a socket 256 behind. Spawned functions
  run beside the handlers, as gevent's greenlets did.
* **Pools.** Each manager (one per worker process) has two :class:`ThreadPool`: handlers
  (the ``handler_threads`` setting) and spawned functions (``spawn_threads``: they may loop
  for as long as the socket lives). Daemon threads, started when work needs one, ended after
  :data:`IDLE` seconds without work: a stuck function never holds the process at exit.
* **Back on the loop.** On a pool thread, tornio's API (the namespace's ``emit``, ``send``,
  ``error``, ``disconnect``, ``spawn``, ``join``, ``leave``, ``emit_to_room``, the
  broadcasts, the manager's ``emit``) runs on the event loop through :func:`on_loop` and
  returns once it ran there, with its result or its exception: ``self.join(room)`` then
  ``self.emit_to_room(room, ...)`` happen in that order, before the handler's ack.
* **Stopping.** A thread cannot be killed. When a spawned function's namespace ends, its
  next call of that API raises :class:`asyncio.CancelledError` (a ``BaseException``, as
  gevent's ``GreenletExit``), and :func:`sleep` (``time.sleep`` that wakes up for it) too.
* **Django.** With Django set up, ``django.db.close_old_connections()`` runs before and
  after each function, as around a request; a pool thread has no event loop, so the ORM
  does not raise ``SynchronousOnlyOperation``.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import inspect
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "IDLE",
    "Inline",
    "Job",
    "Pools",
    "SerialQueue",
    "ThreadPool",
    "blocking",
    "here",
    "in_use",
    "nonblocking",
    "on_loop",
    "pools_of",
    "run_spawned",
    "serial_queue",
    "sleep",
    "wants_thread",
]

log = logging.getLogger("tornio.core.threads")

F = TypeVar("F", bound=Callable[..., Any])

#: Seconds a pool thread waits for work before it ends.
IDLE = 30.0
#: How often a thread waiting for the loop checks that the loop still runs.
_WAIT_SLICE = 1.0
_MARK = "_tornio_blocking"  # on a function: True (@blocking) or False (@nonblocking)


class Job:
    """What a pool thread is running for: the loop its calls go back to and, for a spawned
    function, whether its namespace ended (``cancelled``)."""

    __slots__ = ("cancelled", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, spawned: bool = False) -> None:
        self.loop = loop
        self.cancelled: threading.Event | None = threading.Event() if spawned else None


class _Here(threading.local):
    #: The job this thread runs; None on the event loop's thread (and any other).
    job: Job | None = None


#: This thread's job (``here.job``): how the API knows it is called from a pool thread.
here = _Here()
#: Not empty once this process made a pool: until then no thread is a pool thread, and the
#: API's check (``if in_use and here.job is not None``) costs a list's truth test, not a
#: thread-local lookup.
in_use: list[Pools] = []


# -- choosing -----------------------------------------------------------------------------


def blocking(fn: F) -> F:
    """Run this handler, hook or spawned function on a thread, whatever its namespace's
    ``blocking`` says. For plain functions: an ``async def`` one always runs on the loop."""
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"@blocking is for plain functions: {fn!r} runs on the event loop")
    setattr(fn, _MARK, True)
    return fn


def nonblocking(fn: F) -> F:
    """Run this handler, hook or spawned function on the event loop even in a namespace with
    ``blocking = True``: it must not block."""
    setattr(fn, _MARK, False)
    return fn


def wants_thread(fn: Callable[..., Any], default: bool) -> bool:
    """Whether ``fn`` runs on a thread: its ``@blocking``/``@nonblocking`` mark, else
    ``default`` (its namespace's ``blocking``) for a plain function that is not tornio's
    own."""
    target: Any = fn
    while isinstance(target, functools.partial):
        target = target.func
    target = getattr(target, "__func__", target)  # a bound method: its function
    marked = getattr(target, _MARK, None)
    if marked is not None:
        return bool(marked)
    if not default or inspect.iscoroutinefunction(target):
        return False
    module = getattr(target, "__module__", None) or ""
    return not (module == "tornio" or module.startswith("tornio."))


# -- the pools ----------------------------------------------------------------------------


class ThreadPool:
    """At most ``size`` daemon threads taking work (functions that raise nothing) in FIFO
    order; a thread is started when work finds none waiting, and ends after :data:`IDLE`
    seconds without work."""

    def __init__(self, name: str, size: int) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"a thread pool's size is a whole number >= 1, not {size!r}")
        self.name = name
        self.size = size
        self._cond = threading.Condition(threading.Lock())
        self._work: collections.deque[Callable[[], None]] = collections.deque()
        self._threads = 0
        self._waiting = 0  # threads waiting for work
        self._numbers = itertools.count(1)
        self._warned = False

    @property
    def threads(self) -> int:
        """How many threads the pool has now."""
        return self._threads

    def submit(self, work: Callable[[], None]) -> bool:
        """Queue ``work``; True when it must wait for a busy thread (the pool is full)."""
        with self._cond:
            self._work.append(work)
            short = len(self._work) > self._waiting
            start = short and self._threads < self.size
            if start:
                self._threads += 1
            self._cond.notify()
            full = short and not start
            warn = full and not self._warned
            if warn:
                self._warned = True
        if start:
            try:
                threading.Thread(
                    target=self._run, name=f"{self.name}-{next(self._numbers)}", daemon=True
                ).start()
            except RuntimeError:  # the system refuses a thread: the others take the work
                log.exception("%s: could not start a thread", self.name)
                with self._cond:
                    self._threads -= 1
        if warn:
            log.warning("%s: all %d threads are busy; work waits for one", self.name, self.size)
        return full

    def _run(self) -> None:
        cond, work_queue = self._cond, self._work
        while True:
            with cond:
                while not work_queue:
                    self._warned = False
                    self._waiting += 1
                    notified = cond.wait(IDLE)
                    self._waiting -= 1
                    if not notified and not work_queue:
                        self._threads -= 1
                        return
                work = work_queue.popleft()
            try:
                work()
            except BaseException:  # work catches its own; never lose the thread to it
                log.exception("%s: work failed", self.name)


class Pools:
    """A manager's two pools (see the module docstring)."""

    def __init__(self, handler_threads: int, spawn_threads: int) -> None:
        self.handlers = ThreadPool("tornio-handler", handler_threads)
        self.spawned = ThreadPool("tornio-spawn", spawn_threads)


def pools_of(manager: Any) -> Pools:
    """The pools of a manager (created on first use, sized by its settings)."""
    found: Pools | None = getattr(manager, "thread_pools", None)
    if found is None:
        settings = manager.settings
        found = Pools(settings.handler_threads, settings.spawn_threads)
        manager.thread_pools = found
        if not in_use:
            in_use.append(found)
    return found


# -- running on a thread ------------------------------------------------------------------


def _django_db() -> Any:
    """``django.db`` when Django is imported and configured, else None (nothing imported)."""
    db = sys.modules.get("django.db")
    conf = sys.modules.get("django.conf")
    if db is None or conf is None:
        return None
    try:
        return db if conf.settings.configured else None
    except Exception:
        return None


def _close_old_connections(db: Any) -> None:
    try:
        db.close_old_connections()
    except Exception:
        log.exception("django.db.close_old_connections() failed")


def _call(job: Job, fn: Callable[..., Any], args: Any, kwargs: Any) -> tuple[Any, Any]:
    """``fn(*args, **kwargs)`` on this pool thread for ``job``: (result, None) or (None, what
    it raised)."""
    here.job = job
    db = _django_db()
    try:
        if db is not None:
            _close_old_connections(db)
        return fn(*args, **kwargs), None
    except BaseException as exc:  # handed to the loop, which decides
        return None, exc
    finally:
        if db is not None:
            _close_old_connections(db)
        here.job = None


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """On the loop: give ``future`` what a thread's function returned or raised."""
    if future.done():
        return  # cancelled: whoever waited is gone
    if error is None:
        if inspect.isawaitable(result):  # a plain function that returned a coroutine
            _chain(future, asyncio.ensure_future(result))
        else:
            future.set_result(result)
    elif isinstance(error, asyncio.CancelledError):
        future.cancel()
    elif isinstance(error, Exception):
        future.set_exception(error)
    else:  # SystemExit, KeyboardInterrupt in a thread: not the worker's to die of
        log.error("a blocking function raised %r: ignored", error)
        future.set_result(None)


def _chain(future: asyncio.Future[Any], inner: asyncio.Future[Any]) -> None:
    def copy(done: asyncio.Future[Any]) -> None:
        if future.done():
            return
        if done.cancelled():
            future.cancel()
            return
        error = done.exception()
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(done.result())

    inner.add_done_callback(copy)
    future.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)


def _deliver(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop is closed: the server is gone, and whoever waited
        log.debug("a blocking function ended after its event loop closed")


class SerialQueue:
    """One socket's blocking calls: on the handler pool one at a time, in order (see the
    module docstring). Used on the event loop's thread only."""

    __slots__ = ("busy", "job", "pending", "pool")

    def __init__(self, pool: ThreadPool, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.job = Job(loop)
        self.pending: collections.deque[
            tuple[asyncio.Future[Any], Callable[..., Any], tuple[Any, ...]]
        ] = collections.deque()
        self.busy = False

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...] = ()) -> asyncio.Future[Any]:
        """``fn(*args)`` on a thread after the socket's earlier calls: a future of its
        result. Cancelling the future before it started means it never runs."""
        future: asyncio.Future[Any] = self.job.loop.create_future()
        self.pending.append((future, fn, args))
        if not self.busy:
            self._next()
        return future

    def _next(self) -> None:
        pending = self.pending
        while pending:
            future, fn, args = pending.popleft()
            if future.done():
                continue  # cancelled while it waited: its namespace ended
            self.busy = True
            self.pool.submit(functools.partial(self._work, future, fn, args))
            return
        self.busy = False

    def _work(
        self, future: asyncio.Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]
    ) -> None:
        result, error = _call(self.job, fn, args, {})
        _deliver(self.job.loop, self._done, future, result, error)

    def _done(self, future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
        _settle(future, result, error)
        self._next()


class Inline:
    """Where no event loop runs in the calling thread: :meth:`run` calls the function at
    once and returns its result, as gevent-socketio called its handlers (a namespace driven
    by hand, ``ns.process_packet(packet)``, as in gevent-socketio's own tests and its users'
    unit tests: there is no loop to keep free)."""

    __slots__ = ()

    @staticmethod
    def run(fn: Callable[..., Any], args: tuple[Any, ...] = ()) -> Any:
        return fn(*args)


_INLINE = Inline()


def serial_queue(socket: Any) -> SerialQueue | Inline:
    """A socket's :class:`SerialQueue` (created on first use, on the running loop), or
    :class:`Inline` when no loop runs in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _INLINE
    queue: SerialQueue | None = getattr(socket, "serial_queue", None)
    if queue is None:
        queue = SerialQueue(pools_of(socket.manager).handlers, asyncio.get_running_loop())
        socket.serial_queue = queue
    return queue


def run_spawned(
    manager: Any, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> asyncio.Future[Any]:
    """``fn(*args, **kwargs)`` on the spawn pool: a future of its result. Cancelling the
    future cancels the job (see the module docstring)."""
    loop = asyncio.get_running_loop()
    job = Job(loop, spawned=True)
    cancelled = job.cancelled
    assert cancelled is not None
    future: asyncio.Future[Any] = loop.create_future()

    def work() -> None:
        if cancelled.is_set():
            return  # its namespace ended before a thread was free
        result, error = _call(job, fn, args, kwargs)
        _deliver(loop, _settle, future, result, error)

    future.add_done_callback(lambda f: cancelled.set() if f.cancelled() else None)
    pools_of(manager).spawned.submit(work)
    return future


# -- from a thread ------------------------------------------------------------------------


def on_loop(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` on the event loop of the job this pool thread runs, waiting
    for it: its result, or what it raised. Called elsewhere (on the loop), it just calls.

    Raises:
        asyncio.CancelledError: this thread runs a spawned function whose namespace ended,
            or the loop closed.
    """
    job = here.job
    if job is None:
        return fn(*args, **kwargs)
    if job.cancelled is not None and job.cancelled.is_set():
        raise asyncio.CancelledError("the namespace of this spawned function ended")
    done: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def call() -> None:
        if not done.set_running_or_notify_cancel():
            return
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            done.set_exception(exc)

    loop = job.loop
    try:
        loop.call_soon_threadsafe(call)
    except RuntimeError:
        raise asyncio.CancelledError("the event loop is closed") from None
    while not concurrent.futures.wait([done], _WAIT_SLICE).done:
        if loop.is_closed() or not loop.is_running():
            done.cancel()
            raise asyncio.CancelledError("the event loop stopped")
    return done.result()


def sleep(seconds: float) -> None:
    """``time.sleep`` for blocking code: in a spawned function, it raises
    :class:`asyncio.CancelledError` as soon as the function's namespace ends.

    Raises:
        RuntimeError: called on the event loop's thread, where it would stall every socket
            (``await asyncio.sleep()`` there).
    """
    job = here.job
    if job is None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            time.sleep(seconds)
            return
        raise RuntimeError(
            "tornio.core.threads.sleep() on the event loop would stall every socket: "
            "await asyncio.sleep() in an async handler"
        )
    if job.cancelled is None:
        time.sleep(seconds)
    elif job.cancelled.wait(seconds):
        raise asyncio.CancelledError("the namespace of this spawned function ended")


async def run_job(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                  owner: str, logger: logging.Logger) -> Any:
    """A spawned job on the event loop: ``fn(*args, **kwargs)``, awaited if it returns an
    awaitable; what it raises is logged on ``logger`` (as ``job … of <owner> failed``) and it
    returns None then. Cancellation goes through."""
    try:
        result = fn(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("job %r of %s failed", fn, owner)
        return None
