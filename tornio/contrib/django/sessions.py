"""``DjangoNamespace``: a namespace that knows the Django session and user of its browser.

    @namespace('/chat')
    class ChatNamespace(DjangoNamespace, RoomsMixin, BroadcastMixin):
        def on_join(self, room):
            if self.django_user.is_authenticated:
                self.session['nickname'] = self.django_user.get_username()
            ...

The socket was opened by a request that carried the browser's session cookie
(``settings.SESSION_COOKIE_NAME``). When the namespace is created, that session and its user
are loaded **off the event loop**, in asgiref's ``sync_to_async`` thread (the one Django's own
async ORM calls use), and every handler, ``recv_connect`` included, runs after that: a handler
always finds ``self.django_session`` (a ``SessionStore``, or None without a cookie) and
``self.django_user`` (a user, or ``AnonymousUser``) ready.

The socket outlives the request: a user who logs out or in elsewhere, or a view that changes
the session, is seen only after ``await self.reload_session()``. The socket keeps the session
key it was opened with (Django gives a new key at login), so after a logout the reloaded user
is anonymous. ``await self.save_session()`` writes what a handler put in
``self.django_session``.

Any other database access from a handler must also leave the event loop (Django raises
``SynchronousOnlyOperation`` otherwise)::

    rooms = await self.django_call(lambda: list(Room.objects.values_list('name', flat=True)))

or the class sets ``blocking = True``: its plain handlers then run on a thread pool, where the
ORM works as in a view (:mod:`tornio.core.threads`).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tornio.core.namespace import AnyPacket, BaseNamespace
from tornio.exceptions import ConnectionRefused

if TYPE_CHECKING:
    from tornado.httputil import HTTPServerRequest

__all__ = ["DjangoNamespace", "django_call", "load_session", "session_key"]

log = logging.getLogger("tornio.contrib.django")

T = TypeVar("T")


class _SessionRequest:
    """What ``django.contrib.auth.get_user`` needs of a request: its session."""

    def __init__(self, session: Any) -> None:
        self.session = session


def session_key(request: HTTPServerRequest | Any | None) -> str | None:
    """The Django session key in a Tornado request's cookies (or a Django request's, when a
    view's ``socketio_manage`` gave it), if any."""
    from django.conf import settings

    if request is None:
        return None
    django_cookies = getattr(request, "COOKIES", None)  # a Django request (socketio_manage's)
    if isinstance(django_cookies, dict):
        return django_cookies.get(settings.SESSION_COOKIE_NAME) or None
    morsel = request.cookies.get(settings.SESSION_COOKIE_NAME)
    return morsel.value if morsel is not None and morsel.value else None


def load_session(key: str | None) -> tuple[Any, Any]:
    """``(session, user)`` for a session key, read from the session store (blocking: call it
    from a thread). ``session`` is None without a key; ``user`` is ``AnonymousUser`` when no one
    is logged in, None when ``django.contrib.auth`` is not installed."""
    from django.apps import apps
    from django.conf import settings

    session = None
    if key is not None:
        engine = importlib.import_module(settings.SESSION_ENGINE)
        session = engine.SessionStore(key)
        session.keys()  # loads it now, in this thread, not on first use in the loop
    if session is None or not apps.is_installed("django.contrib.auth"):
        return session, _anonymous()
    from django.contrib.auth import get_user

    return session, get_user(_SessionRequest(session))


def _anonymous() -> Any:
    """``AnonymousUser()``, or None without ``django.contrib.auth``."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.auth"):
        return None
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()


async def django_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking Django call (ORM, sessions) in asgiref's ``sync_to_async`` thread,
    closing obsolete database connections around it as a request would (``CONN_MAX_AGE``
    applies)."""
    from asgiref.sync import sync_to_async
    from django.db import close_old_connections

    def call() -> T:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return await sync_to_async(call, thread_sensitive=True)()


class DjangoNamespace(BaseNamespace):
    """A namespace with the Django session and user of its browser (see the module docstring).

    Attributes:
        django_session: the ``SessionStore`` of the socket's session cookie, or None.
        django_user: the logged-in user, or ``AnonymousUser`` (None without
            ``django.contrib.auth``).
        login_required: refuse the namespace to anonymous users (class attribute).
    """

    login_required = False
    django_session: Any = None
    django_user: Any = None
    _django_loading: asyncio.Future[None] | None = None
    _django_queued = 0

    def initialize(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # built outside a server (a test): load on first reload
            return
        self._django_loading = loop.create_task(self._first_load())

    @property
    def django_session_key(self) -> str | None:
        """The session key the socket was opened with."""
        request = self.request or getattr(self.socket, "handshake_request", None)
        return session_key(request)

    async def _first_load(self) -> None:
        try:
            await self.reload_session()
        except Exception:
            log.exception("could not load the Django session of socket %s", self.socket.sessid)
            self.django_session, self.django_user = None, _anonymous()

    async def reload_session(self) -> Any:
        """Read the session and its user again (the socket outlives the request that opened
        it); returns the user."""
        key = self.django_session_key
        self.django_session, self.django_user = await django_call(load_session, key)
        return self.django_user

    async def save_session(self) -> None:
        """Save ``self.django_session`` (what the handlers changed in it)."""
        session = self.django_session
        if session is not None:
            await django_call(session.save)

    async def django_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking Django call off the event loop (see :func:`django_call`)."""
        return await django_call(fn, *args, **kwargs)

    async def django_ready(self) -> None:
        """Wait until the session and user are loaded (handlers need not: they run after)."""
        if self._django_loading is not None:
            await asyncio.shield(self._django_loading)

    def recv_connect(self) -> Any:
        if self.login_required and not getattr(self.django_user, "is_authenticated", False):
            raise ConnectionRefused("login required")
        return None

    def call_method(self, method_name: str, packet: AnyPacket, *args: Any) -> Any:
        """Every handler runs once the session is loaded: before that, as a coroutine that
        waits for it (packets keep their order)."""
        loading = self._django_loading
        if loading is None or (loading.done() and not self._django_queued):
            return super().call_method(method_name, packet, *args)
        self._django_queued += 1  # while any call waits, later ones queue behind it
        return self._call_when_loaded(loading, method_name, packet, args)

    async def _call_when_loaded(
        self,
        loading: asyncio.Future[None],
        method_name: str,
        packet: AnyPacket,
        args: tuple[Any, ...],
    ) -> Any:
        try:
            await asyncio.shield(loading)
        finally:
            self._django_queued -= 1
        result = super().call_method(method_name, packet, *args)
        if inspect.isawaitable(result):
            result = await result
        return result
