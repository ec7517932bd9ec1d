"""The Admin UI's settings (``Router(admin={...})``, ``tornio serve --admin``), checked once.

A config is a dict (``True`` is ``{}``):

- ``auth``: ``{"username": "admin", "password": "<bcrypt hash>"}`` (the UI's basic
  authentication; the hash as ``bcrypt.hashpw(b"secret", bcrypt.gensalt())`` or ``htpasswd
  -bnBC 10`` writes it), or ``False`` for none, which must be said explicitly, as in node;
- ``readonly``: the UI may look but not act (no emit, join, leave or disconnect);
- ``mode``: ``"development"`` (default: every socket, room and event is reported) or
  ``"production"`` (server stats only);
- ``namespace``: default ``/admin``; ``server_id``: how this process is named in the UI
  (default ``hostname#pid``); ``stats_interval``: seconds between ``server_stats`` (2);
  ``session_duration``: how long the UI's session id stays valid (seconds, default a day);
- ``ui_path``: the URL path the UI's own page is served at (default ``/admin/``; None: not
  served), from ``ui_package``, the ``@socket.io/admin-ui`` npm package's directory
  (default ``node_modules/@socket.io/admin-ui`` under the current directory).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["AdminOptions", "parse_credentials"]

BCRYPT_HASH = re.compile(r"^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$")
DEFAULT_PACKAGE = os.path.join("node_modules", "@socket.io", "admin-ui")


@dataclass(frozen=True)
class AdminOptions:
    username: str | None
    password_hash: str | None
    readonly: bool = False
    mode: str = "development"
    namespace: str = "/admin"
    server_id: str | None = None
    stats_interval: float = 2.0
    session_duration: float = 86400.0
    ui_path: str | None = "/admin/"
    ui_package: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.password_hash is not None

    @property
    def development(self) -> bool:
        return self.mode == "development"

    def ui_directory(self) -> str | None:
        """The UI's built files (``ui/dist`` of the npm package), or None if not there."""
        package = self.ui_package or DEFAULT_PACKAGE
        directory = os.path.join(os.path.abspath(package), "ui", "dist")
        return directory if os.path.isfile(os.path.join(directory, "index.html")) else None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | bool) -> AdminOptions:
        """Check a config (see the module docstring).

        Raises:
            ValueError, TypeError: what is wrong with it.
        """
        if config is True:
            config = {}
        if not isinstance(config, Mapping):
            raise TypeError("admin= is a dict of Admin UI settings")
        known = {"auth", "readonly", "mode", "namespace", "server_id", "stats_interval",
                 "session_duration", "ui_path", "ui_package"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise TypeError(f"unknown admin settings: {', '.join(unknown)}")
        if "auth" not in config:
            raise ValueError("admin: give auth={'username': ..., 'password': <bcrypt hash>} "
                             "or auth=False (no authentication) explicitly")
        auth = config["auth"]
        username = password = None
        if auth is not False:
            if not isinstance(auth, Mapping) or not isinstance(auth.get("username"), str) \
                    or not isinstance(auth.get("password"), str):
                raise TypeError("admin auth is {'username': str, 'password': bcrypt hash}")
            username, password = auth["username"], auth["password"]
            if not BCRYPT_HASH.match(password):
                raise ValueError("admin auth: the password must be a bcrypt hash ($2b$...)")
            try:
                import bcrypt  # noqa: F401
            except ImportError as exc:
                raise ValueError("admin auth needs bcrypt: pip install 'tornio[admin]'") from exc
        mode = config.get("mode", "development")
        if mode not in ("development", "production"):
            raise ValueError("admin mode is 'development' or 'production'")
        namespace = config.get("namespace", "/admin")
        if not isinstance(namespace, str) or not namespace.startswith("/") or namespace == "/":
            raise ValueError("admin namespace is a path such as '/admin'")
        interval = config.get("stats_interval", 2.0)
        duration = config.get("session_duration", 86400.0)
        for name, value in (("stats_interval", interval), ("session_duration", duration)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"admin {name} is a positive number of seconds")
        ui_path = config.get("ui_path", "/admin/")
        if ui_path is not None:
            if not isinstance(ui_path, str) or not ui_path.startswith("/"):
                raise ValueError("admin ui_path is a URL path such as '/admin/'")
            ui_path = ui_path.rstrip("/") + "/"
        ui_package = config.get("ui_package")
        if ui_package is not None and not isinstance(ui_package, str):
            raise TypeError("admin ui_package is a directory")
        server_id = config.get("server_id")
        if server_id is not None and not isinstance(server_id, str):
            raise TypeError("admin server_id is a string")
        return cls(
            username=username, password_hash=password, readonly=bool(config.get("readonly")),
            mode=mode, namespace=namespace, server_id=server_id,
            stats_interval=float(interval), session_duration=float(duration), ui_path=ui_path,
            ui_package=ui_package,
        )


def parse_credentials(value: str) -> dict[str, str]:
    """``USER:BCRYPT_HASH`` (the ``--admin`` flag) as an ``auth`` setting.

    Raises:
        ValueError: no colon, or no user.
    """
    username, sep, password = value.partition(":")
    if not sep or not username:
        raise ValueError("--admin takes USER:BCRYPT_HASH")
    return {"username": username, "password": password}
