"""An asyncio event loop on a thread of its own, for sync tests (the Playwright ones) that
also drive asyncio clients.

    with LoopThread() as loop:
        client = loop.run(SwarmClient(...).connect("/chat"))    # wait for a coroutine
        loop.spawn(stream())                                     # run one in the background
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="LoopThread", daemon=True
        )
        self._thread.start()
        self._background: list[concurrent.futures.Future[Any]] = []

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the loop and wait (at most ``timeout``) for its result."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            name = getattr(coro, "__qualname__", repr(coro))
            raise AssertionError(f"{name} took longer than {timeout} s") from None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Start ``coro`` on the loop; it is cancelled at :meth:`close` if still running."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self._background.append(future)
        return future

    def close(self, timeout: float = 10) -> None:
        for future in self._background:
            future.cancel()

        async def settle() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_running():
            with_timeout = asyncio.run_coroutine_threadsafe(settle(), self.loop)
            with contextlib.suppress(concurrent.futures.TimeoutError):
                with_timeout.result(timeout)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()

    def __enter__(self) -> LoopThread:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
