"""One request on the fast HTTP path (:mod:`tornio.transports.fasthttp`) answered by a
Tornado ``RequestHandler``'s own code: :class:`FastExchange`, mixed in front of the handler
class, provides the part of the ``RequestHandler`` interface that needs Tornado's application
and connection, and writes the answer as Tornado writes it. No I/O of its own: the answer goes
to the connection (:class:`ExchangeConnection`).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, NamedTuple, Protocol

import tornado
from tornado.web import HTTPError

from tornio.transports.fastrequest import FastRequest, ResponseHeaders, date_header, header_name

__all__ = ["SERVER", "ExchangeConnection", "FastExchange", "Route"]

log = logging.getLogger("tornio.transports.fasthttp")
access_log = logging.getLogger("tornado.access")

SERVER = f"TornadoServer/{tornado.version}"

NO_BODY_STATUSES = frozenset((204, 304))
REPRESENTATION_HEADERS = ("Content-Encoding", "Content-Language", "Content-Type")
#: Header values ``RequestHandler._convert_header_value`` accepted (strings it returns as
#: they are), up to a bound: an Origin echoed in CORS headers is the client's choice.
_ACCEPTED_VALUES: dict[str, None] = {}
MAX_ACCEPTED_VALUES = 1024

#: The response's default headers (``RequestHandler.clear``), ``Date`` set per answer.
_DEFAULT_HEADERS = {"Server": SERVER, "Content-Type": "text/html; charset=UTF-8"}


class Route(NamedTuple):
    """What a router answers for a request it claims: the handler class (a :class:`FastExchange`
    subclass), its positional path arguments and ``initialize`` keyword arguments."""

    handler: type[FastExchange]
    path_args: list[str]
    kwargs: dict[str, Any]


class ExchangeConnection(Protocol):
    """What an exchange needs of its connection (a
    :class:`~tornio.transports.fasthttp.FastConnection`)."""

    def new_request(self) -> FastRequest:
        """The request in flight, as an ``HTTPServerRequest``."""
        ...

    def respond(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        """Write the answer of the request in flight."""
        ...


class FastExchange:
    """Mixed in front of a ``RequestHandler`` subclass: one request on the fast path.

    It replaces what needs Tornado's application and connection (construction, ``write``,
    ``finish``, errors); the handler's own methods and the rest of ``RequestHandler``
    (``set_status``, ``set_header``, ``get_query_argument``…) run as they are.
    """

    # ``_stream_request_body`` comes from the handler class (``@stream_request_body``).
    #: Whether the connection runs it with ``run()`` (a steady-state exchange), rather than
    #: with the handler method of the request's method.
    steady: ClassVar[bool] = False
    #: Answered (or abandoned): nothing more is written.
    finished: bool
    #: Whether the body is given to ``data_received`` as it arrives (the handler class is
    #: ``@stream_request_body``) rather than kept in ``request.body``.
    streams_body: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.streams_body = bool(getattr(cls, "_stream_request_body", False))
    _status_code: int
    _reason: str

    def __init__(self, connection: ExchangeConnection, route: Route) -> None:
        """The exchange for a request ``route`` claimed, its head read: the request is the
        connection's (a :class:`~tornio.transports.steady.SteadyExchange` builds one only if
        it needs it)."""
        self._fast = connection
        self.request = connection.new_request()
        self.path_args = route.path_args
        self.path_kwargs: dict[str, str] = {}
        self.finished = False
        self._auto_finish = True
        self._prepared_future = None
        self._defaults()
        self.initialize(**route.kwargs)  # type: ignore[attr-defined]

    @property
    def _finished(self) -> bool:
        """``RequestHandler``'s name for :attr:`finished` (the handlers read it)."""
        return self.finished

    @_finished.setter
    def _finished(self, value: bool) -> None:
        self.finished = value

    def _defaults(self) -> None:
        headers = self._headers = ResponseHeaders(_DEFAULT_HEADERS)
        dict.__setitem__(headers, "Date", date_header())
        self._write_buffer: list[bytes] = []
        self._status_code = 200
        self._reason = "OK"

    def clear(self) -> None:
        self._defaults()

    def set_header(self, name: str, value: Any) -> None:
        """``RequestHandler.set_header``, with the values it accepted remembered (a poll sets
        the same few values every time; the check is a regex)."""
        if type(value) is not str or value not in _ACCEPTED_VALUES:
            value = self._convert_header_value(value)  # type: ignore[attr-defined]
            if len(_ACCEPTED_VALUES) < MAX_ACCEPTED_VALUES:
                _ACCEPTED_VALUES[value] = None
        dict.__setitem__(self._headers, header_name(name), value)

    def write(self, chunk: str | bytes) -> None:
        if self.finished:
            raise RuntimeError("Cannot write() after finish()")
        self._write_buffer.append(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)

    def flush(self) -> None:
        """Nothing is sent before :meth:`finish` on this path."""

    def finish(self, chunk: str | bytes | None = None) -> Any:
        if self.finished:
            raise RuntimeError("finish() called twice")
        if chunk is not None:
            self.write(chunk)
        body = b"".join(self._write_buffer)
        self._write_buffer = []
        headers = self._headers
        status = self._status_code
        if status in NO_BODY_STATUSES or 100 <= status < 200:
            body = b""
            for name in REPRESENTATION_HEADERS:
                headers.pop(name, None)
        elif not dict.__contains__(headers, "Content-Length"):  # names are stored normalized
            dict.__setitem__(headers, "Content-Length", str(len(body)))
        self.finished = True
        self._fast.respond(status, self._reason, headers, body)
        if status >= 400 or access_log.isEnabledFor(logging.INFO):  # as Tornado's log_request
            self._log(status)
        return None

    def _log(self, status: int) -> None:
        request = self.request
        level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
        access_log.log(level, "%d %s %s (%s) %.2fms", status, request.method, request.uri,
                       request.remote_ip, 1000.0 * request.request_time())

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """Tornado's error page (``RequestHandler.write_error``), unless already answered."""
        if self.finished:
            return
        self.clear()
        reason = kwargs.get("reason")
        self.set_status(status_code, reason=reason)  # type: ignore[attr-defined]
        self.finish(
            f"<html><title>{self._status_code}: {self._reason}</title>"
            f"<body>{self._status_code}: {self._reason}</body></html>"
        )

    def uncaught(self, exc: BaseException) -> None:
        """An exception out of the handler, answered as ``RequestHandler`` answers it."""
        if isinstance(exc, HTTPError):
            if exc.log_message:
                log.warning("%d %s %s: %s", exc.status_code, self.request.method,
                            self.request.uri, exc.log_message % exc.args)
            self.send_error(exc.status_code, reason=exc.reason)
            return
        log.error("Uncaught exception %s %s", self.request.method, self.request.uri,
                  exc_info=(type(exc), exc, exc.__traceback__))
        self.send_error(500)
