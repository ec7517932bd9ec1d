"""The namespace registry: gevent-socketio's ``sdjango.namespace`` and ``autodiscover()``.

    # chat/sockets.py
    from tornio.contrib.django import DjangoNamespace, namespace

    @namespace('/chat')
    class ChatNamespace(DjangoNamespace):
        ...

``autodiscover()`` imports the ``sockets`` module of every installed app, which registers its
namespaces here; :func:`tornio.contrib.django.get_router` serves what is registered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tornio.core.namespace import BaseNamespace

__all__ = ["SOCKETIO_NS", "autodiscover", "namespace", "namespaces"]

log = logging.getLogger("tornio.contrib.django")

#: Endpoint → namespace class, filled by :func:`namespace`.
namespaces: dict[str, type[BaseNamespace]] = {}
#: gevent-socketio's name for the same dict.
SOCKETIO_NS = namespaces

N = TypeVar("N", bound="type[BaseNamespace]")


def namespace(name: str = "") -> Callable[[N], N]:
    """A class decorator: serve the class as the namespace ``name`` (``'/chat'``; ``''``, the
    default as in gevent-socketio's ``sdjango``, is the global namespace). The class is
    returned unchanged."""

    def register(cls: N) -> N:
        previous = namespaces.get(name)
        if previous is not None and previous.__qualname__ != cls.__qualname__:
            log.warning(
                "namespace %r: %s replaces %s", name, cls.__qualname__, previous.__qualname__
            )
        namespaces[name] = cls
        return cls

    return register


def autodiscover() -> dict[str, type[BaseNamespace]]:
    """Import ``<app>.sockets`` for every app in ``INSTALLED_APPS`` that has one (as the admin
    finds ``admin`` modules), and return the registry. Django must be set up."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("sockets")
    return namespaces
