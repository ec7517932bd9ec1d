"""The target ``tornio serve`` runs a Django project with: ``tornio.contrib.django.serve:router``.

    DJANGO_SETTINGS_MODULE=mysite.settings tornio serve tornio.contrib.django.serve:router \\
        --workers 4

``manage.py runserver_socketio`` runs exactly that. Each worker process calls :func:`router`
after it started: it sets Django up there (nothing is inherited across a fork), imports every
app's ``sockets`` module and builds the Router. ``TORNIO_DJANGO_STATIC`` (``1``/``0``)
overrides whether static files are served (``runserver_socketio --nostatic/--insecure``).
"""

from __future__ import annotations

import os

from tornio.router import Router

__all__ = ["router"]

STATIC_ENV = "TORNIO_DJANGO_STATIC"


def router() -> Router:
    """Set Django up in this process and return the project's Router."""
    import django

    from tornio.contrib.django.emitting import warm_up
    from tornio.contrib.django.routing import get_router

    django.setup()
    static = os.environ.get(STATIC_ENV)
    built = get_router(static=None if static in (None, "") else static == "1")
    warm_up()
    return built
