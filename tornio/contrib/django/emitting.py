"""Emitting from Django code (a view, a management command, a task) through the bus.

    from tornio.contrib.django import get_emitter

    def announce(request, room):
        get_emitter().of('/chat').to(room).emit('announcement', 'Closing in 5 minutes')

The bus address is the environment variable ``TORNIO_BUS``, which ``tornio serve`` (and so
``runserver_socketio``) gives each worker: a view served by ``runserver_socketio --workers N``
reaches the sockets of every worker. Elsewhere (a job, a shell) it is the Django setting
``TORNIO_BUS``: the address of the ``tornio broker`` the servers joined with ``--bus``.

One :class:`tornio.Emitter` is kept per process, created on first use (``runserver_socketio``
creates it when a worker starts, so that it is connected before the first view uses it).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

__all__ = ["BUS_ENV", "bus_address", "get_emitter"]

log = logging.getLogger("tornio.contrib.django")

BUS_ENV = "TORNIO_BUS"

_lock = threading.Lock()
_emitters: dict[str, Any] = {}


def bus_address() -> str | None:
    """The bus the Emitter publishes to: ``$TORNIO_BUS`` (in a worker, its own bus), else
    ``settings.TORNIO_BUS``."""
    from django.conf import settings

    return os.environ.get(BUS_ENV) or getattr(settings, "TORNIO_BUS", None) or None


def get_emitter() -> Any:
    """This process's :class:`tornio.Emitter` for :func:`bus_address`.

    Raises:
        django.core.exceptions.ImproperlyConfigured: no bus address is known.
    """
    address = bus_address()
    if address is None:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "tornio: no bus to emit on. Run the project with `manage.py runserver_socketio` "
            "(or `tornio serve`), or set TORNIO_BUS to a `tornio broker` address."
        )
    with _lock:
        emitter = _emitters.get(address)
        if emitter is None:
            from tornio.bus.emitter import Emitter

            emitter = _emitters[address] = Emitter(address)
        return emitter


def warm_up() -> None:
    """Create the Emitter now if a bus is known, so it is connected before it is needed."""
    try:
        if bus_address() is not None:
            get_emitter()
    except Exception:
        log.exception("tornio: could not create the Emitter")
