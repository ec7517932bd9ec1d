"""A :class:`tornio.Router` for a Django project: Socket.IO under ``/<resource>``, and every
other path served by the project's WSGI application (``settings.WSGI_APPLICATION``, as
``runserver`` uses it) on a thread pool, off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tornio.router import Router
from tornio.transports.wsgiview import finished_in_thread

if TYPE_CHECKING:
    from tornio.core.namespace import BaseNamespace

__all__ = ["get_router", "project_wsgi_app"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def project_wsgi_app(static: bool | None = None) -> WSGIApp:
    """The project's WSGI application, wrapped as ``runserver`` wraps it: with
    ``django.contrib.staticfiles``'s handler when ``static`` (by default: when ``DEBUG`` is on
    and the staticfiles app is installed)."""
    from django.apps import apps
    from django.conf import settings
    from django.core.servers.basehttp import get_internal_wsgi_application

    app: Any = get_internal_wsgi_application()
    staticfiles = apps.is_installed("django.contrib.staticfiles")
    if static is None:
        static = bool(settings.DEBUG) and staticfiles
    if static and staticfiles:
        from django.contrib.staticfiles.handlers import StaticFilesHandler

        app = StaticFilesHandler(app)
    return finished_in_thread(app)


def get_router(
    namespaces: Mapping[str, type[BaseNamespace]] | None = None,
    *,
    wsgi_app: WSGIApp | None = None,
    static: bool | None = None,
    **settings: Any,
) -> Router:
    """The Router that ``runserver_socketio`` serves. Django must be set up.

    Args:
        namespaces: endpoint → namespace class; by default :func:`autodiscover` fills the
            ``@namespace`` registry from every installed app's ``sockets`` module.
        wsgi_app: what serves every other path; by default :func:`project_wsgi_app`.
        static: serve static files (see :func:`project_wsgi_app`).
        settings: Router keyword arguments (``resource``, ``heartbeat_interval``,
            ``wsgi_threads``…), over those of the Django setting ``TORNIO`` (a dict).
    """
    from django.conf import settings as django_settings

    from tornio.contrib.django.registry import autodiscover

    if namespaces is None:
        namespaces = autodiscover()
    options = {**getattr(django_settings, "TORNIO", {}), **settings}
    if wsgi_app is None:
        wsgi_app = project_wsgi_app(static)
    return Router(dict(namespaces), wsgi_app=wsgi_app, **options)
