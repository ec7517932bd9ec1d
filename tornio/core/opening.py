"""A socket opened by a view of the application (``socketio_manage``), and gevent-socketio's
virtual-socket attributes.

gevent-socketio routes every ``/socket.io/...`` request into the WSGI application; on a
socket's first transport connection the application runs with ``environ['socketio']`` the
socket, and its view calls ``socketio_manage(request.environ, namespaces, request)``, which
gives the socket its namespaces and ``self.request``. tornio does the same, without a greenlet
per socket:

* The embedding layer gives the socket manager an *opener* (its ``opener`` attribute): an
  ``async`` function that runs the WSGI application, in a thread, with the request that
  opened the socket and ``environ['socketio']`` the socket
  (:class:`tornio.transports.wsgiview.WsgiOpener`). ``Router(wsgi_app=app)`` without
  namespaces has one, and so has ``SocketIOServer(listener, wsgi_app)`` without namespaces.
* A socket's *opening* is a 0.9 client's first transport connection, or a modern client's
  Engine.IO open. There :meth:`VirtualSocket.begin_opening` starts the opener. Until it
  returns, what the client sends is held, in order (at most :data:`MAX_HELD_INPUT`
  messages: one more disconnects the socket, with a WARNING), and the global namespace is
  not joined.
* :func:`socketio_manage`, called by the view in the WSGI thread, records the namespaces,
  the request and the environ on the socket. These are plain attribute writes; the event
  loop reads them only once the application has returned.
* When the application returns, the recorded namespaces serve the socket (over the
  application's own, :attr:`VirtualSocket.namespaces`), the global namespace is joined
  and the held input is handled. A view that did not call ``socketio_manage``, or that
  raised, leaves the socket without namespaces: it is disconnected, with a WARNING.
* ``socketio_manage`` returns at once (gevent-socketio's blocked until the socket ended),
  so the view goes on and returns its response, which is read and dropped.

Under ``tornio serve --workers N`` every worker runs the WSGI application for the sockets it
owns, so nothing of it crosses processes (namespace instances never do).

The socket holds its opening, a :class:`SocketOpening` (``socket.opening``), which sees the
socket only as :class:`Openable`. :class:`VirtualSocket`, the socket's base class, holds what
gevent-socketio's ``virtsocket.Socket`` had that
tornio's socket lacked: ``state``, ``hits``, ``server``, ``spawn``, ``environ``, the
``_set_*`` methods, the ``STATE_*`` names.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import types
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol

from tornio.core import threads
from tornio.core.dispatch import check_namespace_keys
from tornio.protocol import legacy
from tornio.protocol.endpoints import to_endpoint
from tornio.protocol.jsoncodec import JsonCodec, codec_for

__all__ = [
    "MAX_HELD_INPUT", "Openable", "Opener", "SocketOpening", "VirtualSocket", "socketio_manage",
]

log = logging.getLogger("tornio.core.opening")

#: Messages a client may send while its socket's view runs; one more disconnects it.
MAX_HELD_INPUT = 256

#: Runs the application's view for a socket being opened (a
#: :class:`~tornio.core.socket.Socket`, which imports this module); returns how the
#: application answered (its HTTP status line), for the log.
Opener = Callable[[Any], Awaitable["str | None"]]


def socketio_manage(
    environ: Mapping[str, Any],
    namespaces: Mapping[Any, Any],
    request: Any = None,
    error_handler: Callable[..., Any] | None = None,
    json_loads: Callable[[str], Any] | None = None,
    json_dumps: Callable[[Any], str] | None = None,
) -> None:
    """gevent-socketio's ``socketio_manage``, from a view of a WSGI application: the socket
    being opened (``environ['socketio']``) is served by ``namespaces`` (endpoint →
    namespace class, ``''`` the global one), and its namespaces' ``self.request`` is
    ``request`` (when given) and their ``self.environ`` is ``environ``.

    ``error_handler(socket, error_name, error_message, endpoint, msg_id, quiet)`` replaces
    how errors are reported to the client; ``json_loads``/``json_dumps`` replace the
    socket's JSON (0.9 clients). It returns at once (see the module docstring).

    A Django request's lazy ``user`` and ``session`` are loaded here, in the view's thread,
    so that a handler on the event loop reads them without touching the database.

    Raises:
        RuntimeError: ``environ`` has no ``'socketio'``: the view was not run for a socket.
        TypeError, ValueError: ``namespaces`` holds a key no client could use.
    """
    socket = environ.get("socketio")
    if socket is None:
        raise RuntimeError(
            "socketio_manage() needs environ['socketio']: call it from the view tornio runs "
            "when a socket opens (Router(wsgi_app=app) or SocketIOServer(listener, app), "
            "both without namespaces)"
        )
    socket._set_environ(environ)
    socket._set_namespaces(namespaces)
    if request is not None:
        _load_lazy_attributes(request)
        socket._set_request(request)
    if error_handler is not None:
        socket._set_error_handler(error_handler)
    if json_loads is not None:
        socket._set_json_loads(json_loads)
    if json_dumps is not None:
        socket._set_json_dumps(json_dumps)


def _load_lazy_attributes(request: Any) -> None:
    """Evaluate a Django request's ``user`` and ``session`` now (they load from the
    database on first use, which Django refuses on an event loop)."""
    for name in ("user", "session"):
        try:
            value = getattr(request, name, None)
            if value is None:
                continue
            if name == "user":
                getattr(value, "pk", None)  # sets a SimpleLazyObject up
            else:
                "" in value  # noqa: B015 - loads a SessionStore
        except Exception:  # not Django's, or not loadable: the namespace will see
            log.debug("could not load request.%s in the view", name, exc_info=True)


def _error_reporter(socket: Any, handler: Callable[..., Any]) -> Callable[..., Any]:
    def error(
        error_name: str,
        error_message: str,
        endpoint: str = "",
        msg_id: int | None = None,
        quiet: bool = False,
    ) -> Any:
        return handler(socket, error_name, error_message, endpoint, msg_id, quiet)

    return error


class Openable(Protocol):
    """What a :class:`SocketOpening` needs of the socket being opened."""

    sessid: str

    @property
    def closed(self) -> bool: ...

    def disconnect(self, silent: bool = False) -> None: ...


class SocketOpening:
    """A socket's opening by a view (see the module docstring): the view's run, what the
    client sent meanwhile, and the namespaces the view gave. Its socket holds it, as
    ``opening``."""

    __slots__ = ("given_namespaces", "held", "own_namespaces", "socket")

    def __init__(self, socket: Openable) -> None:
        self.socket = socket
        #: While the view runs: what the client sent meanwhile; None: not opening.
        self.held: list[Any] | None = None
        #: The namespaces ``socketio_manage()`` gave, as given; None: it was not called.
        self.given_namespaces: Mapping[Any, Any] | None = None
        #: The same (with ``'/'`` read as ``''``) over the application's own.
        self.own_namespaces: Mapping[Any, Any] | None = None

    def begin(
        self,
        opener: Opener,
        run_in_background: Callable[[Coroutine[Any, Any, Any]], Any],
        then: Callable[[], None] | None,
        replay: Callable[[list[Any]], None],
    ) -> None:
        """The socket opens: run ``opener`` (in the background) and hold the input until it
        returns; then call ``then`` (join the global namespace) and ``replay`` what was
        held."""
        self.held = []
        run_in_background(self._open(opener, then, replay))

    def hold(self, items: Sequence[Any]) -> bool:
        """Hold ``items`` (messages from the client) if the socket's view still runs; True
        when they were taken (held, or refused with the socket: too many)."""
        held = self.held
        if held is None:
            return False
        if len(held) + len(items) > MAX_HELD_INPUT:
            log.warning(
                "socket %s sent more than %d messages while its view ran: disconnecting it",
                self.socket.sessid, MAX_HELD_INPUT,
            )
            self.held = None
            self.socket.disconnect()
            return True
        held.extend(items)
        return True

    async def _open(
        self,
        opener: Opener,
        then: Callable[[], None] | None,
        replay: Callable[[list[Any]], None],
    ) -> None:
        socket = self.socket
        failure: str | None = None
        try:
            status = await opener(socket)
        except Exception:
            log.exception("the view opening socket %s failed", socket.sessid)
            failure = "its view failed"
        else:
            if self.own_namespaces is None:
                failure = (
                    f"its view answered {status or 'nothing'} without calling "
                    f"socketio_manage()"
                )
        if socket.closed:
            self.held = None
            return
        if failure is not None:
            log.warning("socket %s has no namespaces, disconnecting it: %s",
                        socket.sessid, failure)
            self.held = None
            socket.disconnect()
            return
        if then is not None:
            then()
        held, self.held = self.held, None
        if held and not socket.closed:
            replay(held)


class VirtualSocket(abc.ABC):
    """gevent-socketio's virtual socket: the attributes and methods its applications use
    (see the module docstring), the base of :class:`~tornio.core.socket.Socket`. It holds
    the socket's :class:`SocketOpening` (``opening``)."""

    STATE_CONNECTING = "CONNECTING"
    STATE_CONNECTED = "CONNECTED"
    STATE_DISCONNECTING = "DISCONNECTING"
    STATE_DISCONNECTED = "DISCONNECTED"
    #: gevent-socketio's name for the global namespace's endpoint.
    GLOBAL_NS = ""
    #: The socket's liveness state machine (its protocol's socket sets it).
    engine: Any = None
    #: Transport requests of this socket (gevent-socketio's ``hits``).
    hits = 0
    _state: str | None = None
    _jobs: list[asyncio.Task[Any]] | None = None

    def __init__(self, manager: Any, sid: str) -> None:
        #: The socket's :class:`~tornio.core.socket.SocketHost`.
        self.manager = manager
        #: The session id (0.9 clients: also their id in every namespace).
        self.sessid = sid
        #: The application's JSON (``json_default``, ``json`` settings); None: the built-in.
        self.json_codec: JsonCodec | None = codec_for(manager.settings.json,
                                                      manager.settings.json_default)
        #: The application's dict, shared by the socket's namespaces.
        self.session: dict[str, Any] = {}
        #: The Tornado request of the first transport connection.
        self.request: Any = None
        #: Endpoint → the client's namespace instance there.
        self.active_ns: dict[str, Any] = {}
        #: Its opening by a view of the application.
        self.opening = SocketOpening(self)
        self._environ: dict[str, Any] | None = None

    @abc.abstractmethod
    def disconnect(self, silent: bool = False) -> None:
        """End the whole socket from the server side; unless ``silent`` the client is told
        (and does not reconnect)."""

    @abc.abstractmethod
    def _replay_input(self, items: list[Any]) -> None:
        """Handle input held while the socket was opening (the protocol's own way)."""

    # -- gevent-socketio's virtual socket ----------------------------------------------------

    @property
    def closed(self) -> bool:
        return bool(self.engine.closed)

    @property
    def connected(self) -> bool:
        return not self.engine.closed

    def __getitem__(self, endpoint: str) -> Any:
        return self.active_ns[endpoint]

    def __contains__(self, endpoint: object) -> bool:
        return endpoint in self.active_ns

    @property
    def state(self) -> str:
        """gevent-socketio's ``'NEW'`` (no transport yet, or its view still runs),
        ``'CONNECTED'``, ``'DISCONNECTED'`` (closed)."""
        if self.closed:
            return self.STATE_DISCONNECTED
        if self._state is not None:
            return self._state
        if (self.opening.held is not None
                or getattr(self.engine.state, "value", None) == "new"):
            return "NEW"
        return self.STATE_CONNECTED

    @state.setter
    def state(self, value: str) -> None:
        self._state = value

    def incr_hits(self) -> None:
        self.hits += 1

    @property
    def server(self) -> Any:
        """The process's socket manager: its ``sockets`` (session id → socket) are
        gevent-socketio's ``server.sockets``, of this process."""
        return self.manager

    @property
    def namespaces(self) -> Mapping[Any, Any]:
        """Endpoint → namespace class serving this socket: what its view gave
        ``socketio_manage``, else the application's."""
        given = self.opening.given_namespaces
        return given if given is not None else self.manager.namespaces

    @property
    def served_namespaces(self) -> Mapping[Any, Any]:
        """What the dispatch reads: the view's namespaces (the global one under ``''``) over
        the application's own (``Router(admin=...)``'s ``/admin``), else the application's."""
        own = self.opening.own_namespaces
        return own if own is not None else self.manager.namespaces

    @property
    def environ(self) -> dict[str, Any] | None:
        """The WSGI environ the namespaces get (``environ['socketio']`` is this socket)."""
        return self._environ

    @environ.setter
    def environ(self, environ: dict[str, Any] | None) -> None:
        self._environ = environ

    def _set_namespaces(self, namespaces: Mapping[Any, Any]) -> None:
        """Serve this socket with ``namespaces`` (called by :func:`socketio_manage`).

        Raises:
            TypeError, ValueError: a key no client could use, a value that is no class.
        """
        check_namespace_keys(namespaces, self.manager.settings.max_namespace_name)
        for key, value in namespaces.items():
            if not isinstance(value, type):
                raise TypeError(f"namespace {key!r} is served by {value!r}: give a class")
        own = dict(self.manager.namespaces)  # the application's own (the Admin UI's)...
        own.update(
            (to_endpoint(key) if isinstance(key, str) else key, value)
            for key, value in namespaces.items()
        )
        self.opening.own_namespaces = own  # ... under the view's
        self.opening.given_namespaces = namespaces

    def _set_request(self, request: Any) -> None:
        """The namespaces' ``self.request`` from now on (called by :func:`socketio_manage`)."""
        self.request = request

    def _set_environ(self, environ: Any) -> None:
        """The namespaces' ``self.environ`` from now on (called by :func:`socketio_manage`)."""
        self._environ = environ

    def _set_error_handler(self, error_handler: Callable[..., Any]) -> None:
        """Report errors with ``error_handler(socket, error_name, error_message, endpoint,
        msg_id, quiet)`` instead of the ``error`` event."""
        self.__dict__["error"] = _error_reporter(self, error_handler)  # over the method

    def _set_json_loads(self, json_loads: Callable[[str], Any]) -> None:
        """Read what a 0.9 client sends with ``json_loads``."""
        self._use_json(loads=json_loads)

    def _set_json_dumps(self, json_dumps: Callable[[Any], str]) -> None:
        """Write what a 0.9 client is sent with ``json_dumps``."""
        self._use_json(dumps=json_dumps)

    def _use_json(
        self,
        dumps: Callable[[Any], str] | None = None,
        loads: Callable[[str], Any] | None = None,
    ) -> None:
        codec = self.json_codec
        if dumps is None:
            dumps = codec.dumps_legacy if codec is not None else legacy.dumps
        if loads is None:
            loads = codec.loads if codec is not None and codec.loads is not None else (
                legacy.loads
            )
        write = dumps

        def module_dumps(value: Any, **options: Any) -> str:
            return write(value)

        self.json_codec = JsonCodec(module=types.SimpleNamespace(dumps=module_dumps, loads=loads))

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        """Run ``fn(*args, **kwargs)`` (a plain or a coroutine function) as a task of the
        socket: cancelled when it closes. What it raises is logged. Called from a blocking
        handler's thread, it is done on the event loop (:func:`tornio.core.threads.on_loop`)."""
        if threads.in_use and threads.here.job is not None:
            return threads.on_loop(self.spawn, fn, *args, **kwargs)

        task = asyncio.get_running_loop().create_task(
            threads.run_job(fn, args, kwargs, f"socket {self.sessid}", log))
        if self._jobs is None:
            self._jobs = []
        self._jobs.append(task)
        task.add_done_callback(self._job_done)
        return task

    @property
    def jobs(self) -> list[asyncio.Task[Any]]:
        """The tasks :meth:`spawn` runs for this socket."""
        if self._jobs is None:
            self._jobs = []
        return self._jobs

    def _job_done(self, task: asyncio.Task[Any]) -> None:
        if self._jobs is not None:
            with contextlib.suppress(ValueError):
                self._jobs.remove(task)

    def kill_jobs(self) -> None:
        """Cancel what :meth:`spawn` runs (the socket closed)."""
        jobs, self._jobs = self._jobs, None
        for job in jobs or ():
            job.cancel()

    def kill(self, detach: bool = False) -> None:
        """End the socket (gevent-socketio's ``kill``; ``detach`` changes nothing: a closed
        socket leaves the manager by itself)."""
        self.disconnect()

    # -- opening by a view -------------------------------------------------------------------

    def begin_opening(self, then: Callable[[], None] | None = None) -> bool:
        """The socket opens: run the manager's opener (if it has one) and hold the input
        until it returns, then call ``then`` (join the global namespace). False: there is no
        opener (the caller goes on at once)."""
        opener: Opener | None = getattr(self.manager, "opener", None)
        if opener is None:
            return False
        self.opening.begin(opener, self.manager.run_in_background, then, self._replay_input)
        return True
