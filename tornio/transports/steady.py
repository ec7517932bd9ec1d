"""Steady-state exchanges on the fast HTTP path: the polls of a session that is open and
served here (a GET held until the session writes, a POST of packets answered at once), run
without the ``RequestHandler`` emulation of :class:`~tornio.transports.fastexchange.FastExchange`.

A :class:`SteadyExchange` builds no ``HTTPServerRequest``, no header dict and no future: it
reads the parsed head from its connection, is the held poll's sink itself (the session's write
answers the request), and writes an answer's head from constant parts. The route gives it only
requests that the handler's ``prepare`` has nothing to say about (``tornio.fastpath``; a request
with an ``Origin`` that is not the server's own is handed on at once, before its body is
read: :meth:`SteadyExchange.own_origin`), and it
handles only what it knows to answer exactly as the handler would; anything else (an unknown
or closed session, a query it does not know, a body too large, a refusal…) is handed, before
anything happened, to the general exchange of the same route (:meth:`SteadyExchange.fallback`),
which then serves the request from the start: same answers, byte for byte, same checks.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, ClassVar

from tornio.transports.compression import compressed_answer, threshold
from tornio.transports.fastexchange import SERVER, FastExchange, Route, access_log, log
from tornio.transports.fastrequest import date_header
from tornio.transports.origins import request_decision

if TYPE_CHECKING:
    from tornio.transports.fasthttp import FastConnection
    from tornio.transports.fastrequest import FastRequest

__all__ = ["SteadyExchange"]

#: An answer's head up to the ``Date`` value, by status and ``Content-Type``.
_HEADS: dict[tuple[int, str], str] = {}
_REASONS = {200: "OK", 400: "Bad Request"}
#: Until when the ``Date`` text is good, and the text.
_date: list[Any] = [0.0, ""]


class SteadyExchange(FastExchange, abc.ABC):
    """One steady-state request of a known session. Subclasses set :attr:`general`, the
    exchange that serves the route otherwise, and implement :meth:`run` (the request read
    whole); they call :meth:`fallback` for any request they do not handle, before doing
    anything, and answer with :meth:`reply`."""

    steady = True
    _stream_request_body = True
    #: The exchange that serves what this one does not.
    general: ClassVar[type[FastExchange]]
    _fast: FastConnection
    #: An ``http_compression`` setting and its threshold (the last one asked for).
    _threshold: ClassVar[tuple[Any, int | None]] = (object(), None)

    def __init__(self, connection: FastConnection, route: Route) -> None:
        self._fast = connection
        self.path_args = route.path_args
        self._route = route
        self.host = route.kwargs["manager"]
        self.finished = False
        self._chunks: list[bytes] = []
        self._size = 0
        self._request: FastRequest | None = None

    @property
    def request(self) -> FastRequest:
        """The ``HTTPServerRequest``, built when something asks for it (a log line, the
        general exchange)."""
        if self._request is None:
            self._request = self._fast.new_request()
        return self._request

    @request.setter
    def request(self, request: FastRequest) -> None:
        self._request = request

    @abc.abstractmethod
    def data_received(self, chunk: bytes) -> None:
        """A part of the body: kept, unless the body is now larger than the handler takes
        (then it is the general exchange's, which refuses it). Subclasses say how large."""

    @abc.abstractmethod
    def run(self) -> None:
        """The request is read whole: serve it (or :meth:`fallback`)."""

    def own_origin(self) -> bool:
        """Whether the request's ``Origin`` asks nothing of the handler: the origin decision
        allows it without CORS headers (the server's own origin, what a browser's same-origin
        POST names). Any other, refused or allowed with headers, is the general exchange's,
        whose ``prepare`` decides (and logs a refusal) as for every request."""
        decision = request_decision(self.request, self.host.settings)[0]
        return decision.allowed and not decision.headers

    def fallback(self, serve: bool = True) -> FastExchange:
        """Hand the request to the general exchange, as if it had had it from the start: it
        prepares, gets the body read so far, and (``serve``) runs if the request is read
        whole. Returns that exchange (which may have answered already)."""
        connection = self._fast
        general = self.general(connection, self._route)
        connection.exchange = general
        self.finished = True  # (this one is done: nothing reaches it any more)
        try:
            general.prepare()  # type: ignore[attr-defined]
        except Exception as exc:
            general.uncaught(exc)
        for chunk in self._chunks:
            if general.finished:
                break
            general.data_received(chunk)  # type: ignore[attr-defined]
        self._chunks = []
        if serve and connection.complete and connection.waiting:  # (from run: read whole)
            connection.waiting = False
            connection.message_done(general)
        return general

    def reply(self, body: bytes, content_type: str, extra: str = "", status: int = 200) -> None:
        """Answer as ``FastExchange.finish`` would after the handler set ``Content-Type`` and
        then the ``extra`` header lines: ``Server``, ``Content-Type``, ``Date``, the extra
        ones, ``Content-Length``."""
        self.answer(body, content_type, f"{extra}Content-Length: {len(body)}\r\n", status)

    def answer(self, body: bytes, content_type: str, rest: str, status: int = 200) -> None:
        """:meth:`reply` with the header lines after ``Date`` given whole (``Content-Length``
        included)."""
        if self.finished:
            raise RuntimeError("finish() called twice")
        self.finished = True
        try:
            start = _HEADS[status, content_type]
        except KeyError:
            start = _HEADS[status, content_type] = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nServer: {SERVER}\r\n"
                f"Content-Type: {content_type}\r\nDate: ")
        now = time.time()
        if not _date[0] - 1.0 <= now < _date[0]:  # (fastrequest.date_header, inline)
            _date[:] = [float(int(now) + 1), date_header()]
        self._fast.answer(f"{start}{_date[1]}\r\n{rest}", body)
        if status >= 400 or access_log.isEnabledFor(logging.INFO):
            self._log(status)

    def compressed(self, data: bytes, setting: Any) -> tuple[bytes, str]:
        """``compress_answer`` (under the ``http_compression`` ``setting``) for :meth:`reply`:
        the body, and the header lines it adds."""
        known = SteadyExchange._threshold
        if known[0] is not setting:  # (one router in a process, usually: one setting)
            known = SteadyExchange._threshold = (setting, threshold(setting))
        if known[1] is None or len(data) < known[1]:
            return data, ""
        accept = self._fast.raw.get("accept-encoding", b"").decode("latin-1")
        return compressed_answer(data, setting, accept)

    def slices(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` (which answers the request) as the connection runs a handler's
        coroutine."""
        self._fast.step(self, work)

    def uncaught(self, exc: BaseException) -> None:
        """An exception out of this exchange: what the general one answers for it."""
        if self.finished:
            log.error("Uncaught exception %s %s", self._fast.method, self._fast.uri,
                      exc_info=(type(exc), exc, exc.__traceback__))
            return
        self.fallback(serve=False)
        general = self._fast.exchange
        if general is not None:
            general.uncaught(exc)

    def on_connection_close(self) -> None:
        """The client left before the answer (a held poll's subclass lets its session know)."""

    def finish(self, chunk: str | bytes | None = None) -> Any:
        raise RuntimeError("a steady-state exchange answers with reply()")

