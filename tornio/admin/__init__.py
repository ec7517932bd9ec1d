"""The Socket.IO Admin UI (``@socket.io/admin-ui``) on tornio: an opt-in namespace that speaks
the UI's protocol for the whole cluster, and the UI's own page.

    router = tornio.Router(namespaces, admin={
        "auth": {"username": "admin", "password": "$2b$10$..."},   # a bcrypt hash
        "readonly": False, "mode": "development", "ui_path": "/admin/",
    })

or ``tornio serve app:router --admin admin:'$2b$10$...'``. See :mod:`tornio.admin.options`
for every setting, :mod:`tornio.admin.namespace` for the login and the commands, and
:mod:`tornio.admin.instrument` for what each worker reports and how it crosses the bus.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import tornado.web

from tornio.admin.instrument import Instrument
from tornio.admin.namespace import AdminNamespace
from tornio.admin.options import AdminOptions, parse_credentials

if TYPE_CHECKING:
    from tornio.manager import SocketManager

__all__ = ["AdminNamespace", "AdminOptions", "Instrument", "install", "parse_credentials"]

log = logging.getLogger("tornio.admin")


def install(
    manager: SocketManager, config: Mapping[str, Any] | bool
) -> tuple[Instrument, list[Any]]:
    """Add the admin namespace to ``manager`` and instrument it; returns the instrument and
    the URL rules of the UI's page (none when it is not served or not installed).

    Raises:
        ValueError, TypeError: a bad config (see :class:`AdminOptions`), or a namespace
            the application already has.
    """
    options = AdminOptions.from_config(config)
    if options.namespace in manager.namespaces:
        raise ValueError(f"the application already has a namespace {options.namespace!r}")
    instrument = Instrument(manager, options)
    manager.namespaces[options.namespace] = type(
        "Admin", (AdminNamespace,), {"options": options, "instrument": instrument}
    )
    return instrument, ui_rules(options)


def ui_rules(options: AdminOptions) -> list[Any]:
    """The UI's page and files under ``ui_path``, from the npm package."""
    if options.ui_path is None:
        return []
    directory = options.ui_directory()
    if directory is None:
        log.warning("admin: the UI is not served at %s: no @socket.io/admin-ui package at %s "
                    "(npm install @socket.io/admin-ui, or set ui_package)", options.ui_path,
                    options.ui_package or "./node_modules/@socket.io/admin-ui")
        return []
    path = options.ui_path
    return [
        (path.rstrip("/"), tornado.web.RedirectHandler, {"url": path}),
        (path + "(.*)", tornado.web.StaticFileHandler,
         {"path": directory, "default_filename": "index.html"}),
    ]
